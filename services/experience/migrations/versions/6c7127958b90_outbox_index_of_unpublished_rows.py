"""outbox: a partial index of the rows not yet published (the relay's query)

Revision ID: 6c7127958b90
Revises: b40bf0942dda
Create Date: 2026-11-27 06:20:00
"""

from alembic import op

from common.migrations import drop_unpublished_outbox_index, index_unpublished_outbox

revision = "6c7127958b90"
down_revision = "b40bf0942dda"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unpublished_outbox(op)


def downgrade() -> None:
    drop_unpublished_outbox_index(op)
