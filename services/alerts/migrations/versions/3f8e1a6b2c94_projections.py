"""projections: who may see an opportunity, who owns a customer

Revision ID: 3f8e1a6b2c94
Revises: 58e064beb012
Create Date: 2026-12-07 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import common.db

revision = "3f8e1a6b2c94"
down_revision = "58e064beb012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("opportunity_states") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("holder_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("holder_path", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("owner_path", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("original_owner_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("customer_states") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("owner_path", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("as_of", common.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_states") as batch:
        for column in ("as_of", "owner_path", "owner_id"):
            batch.drop_column(column)
    with op.batch_alter_table("opportunity_states") as batch:
        for column in ("original_owner_id", "owner_path", "owner_id", "holder_path", "holder_id",
                       "status"):
            batch.drop_column(column)
