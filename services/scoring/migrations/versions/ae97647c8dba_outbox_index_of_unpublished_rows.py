"""outbox: a partial index of the rows not yet published (the relay's query)

Revision ID: ae97647c8dba
Revises: e4a4ec6c0c11
Create Date: 2026-11-27 06:20:00
"""

from alembic import op

from common.migrations import drop_unpublished_outbox_index, index_unpublished_outbox

revision = "ae97647c8dba"
down_revision = "e4a4ec6c0c11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unpublished_outbox(op)


def downgrade() -> None:
    drop_unpublished_outbox_index(op)
