"""outbox: a partial index of the rows not yet published (the relay's query)

Revision ID: 85ee0f79d1fb
Revises: c4e1d2a9b730
Create Date: 2026-11-27 06:20:00
"""

from alembic import op

from common.migrations import drop_unpublished_outbox_index, index_unpublished_outbox

revision = "85ee0f79d1fb"
down_revision = "c4e1d2a9b730"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unpublished_outbox(op)


def downgrade() -> None:
    drop_unpublished_outbox_index(op)
