"""outbox: a partial index of the rows not yet published (the relay's query)

Revision ID: 22e887ab2c9b
Revises: 98c79ddab347
Create Date: 2026-11-27 06:20:00
"""

from alembic import op

from common.migrations import drop_unpublished_outbox_index, index_unpublished_outbox

revision = "22e887ab2c9b"
down_revision = "98c79ddab347"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unpublished_outbox(op)


def downgrade() -> None:
    drop_unpublished_outbox_index(op)
