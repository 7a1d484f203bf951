"""outbox: a partial index of the rows not yet published (the relay's query)

Revision ID: 664177808f6b
Revises: 32e1522e127f
Create Date: 2026-11-27 06:20:00
"""

from alembic import op

from common.migrations import drop_unpublished_outbox_index, index_unpublished_outbox

revision = "664177808f6b"
down_revision = "32e1522e127f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unpublished_outbox(op)


def downgrade() -> None:
    drop_unpublished_outbox_index(op)
