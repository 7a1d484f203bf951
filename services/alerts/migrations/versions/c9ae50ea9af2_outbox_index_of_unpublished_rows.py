"""outbox: a partial index of the rows not yet published (the relay's query)

Revision ID: c9ae50ea9af2
Revises: dc8943d57757
Create Date: 2026-11-27 06:20:00
"""

from alembic import op

from common.migrations import drop_unpublished_outbox_index, index_unpublished_outbox

revision = "c9ae50ea9af2"
down_revision = "dc8943d57757"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unpublished_outbox(op)


def downgrade() -> None:
    drop_unpublished_outbox_index(op)
