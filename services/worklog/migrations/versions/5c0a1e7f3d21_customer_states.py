"""customer_states: the projection of customers (an entry's customer must be one its author may work on)

Revision ID: 5c0a1e7f3d21
Revises: 331282f11ec0
Create Date: 2026-12-07 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import common.db

revision = "5c0a1e7f3d21"
down_revision = "331282f11ec0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_states",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("owner_path", sa.String(length=512), nullable=False),
        sa.Column("as_of", common.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_states")),
    )


def downgrade() -> None:
    op.drop_table("customer_states")
