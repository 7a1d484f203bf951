"""opportunities by holder and status

Revision ID: 5b1e0c7d9a42
Revises: 22e887ab2c9b
Create Date: 2026-11-27 15:35:00

Every workbench reads the caller's opportunities in hand (holder, active statuses). With the
holder index alone PostgreSQL combined it with a status index that matches every open
opportunity of the group (110,000 at demo scale). The pair serves holder-only reads as well.
"""

from alembic import op

revision = "5b1e0c7d9a42"
down_revision = "22e887ab2c9b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_opportunities_holder_id_status", "opportunities", ["holder_id", "status"])
    op.drop_index("ix_opportunities_holder_id", table_name="opportunities")


def downgrade() -> None:
    op.create_index("ix_opportunities_holder_id", "opportunities", ["holder_id"])
    op.drop_index("ix_opportunities_holder_id_status", table_name="opportunities")
