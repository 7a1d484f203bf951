"""customer_owners.as_of: a late event never overwrites a later owner

Revision ID: 7d2b9c4e6a10
Revises: 1ee5853d452f
Create Date: 2026-12-07 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import common.db

revision = "7d2b9c4e6a10"
down_revision = "1ee5853d452f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_owners") as batch:
        batch.add_column(sa.Column("as_of", common.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_owners") as batch:
        batch.drop_column("as_of")
