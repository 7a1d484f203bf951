"""initial: outbox and processed events

Revision ID: 064fab4b4cf2
Revises:
Create Date: 2026-11-26 16:02:16.959505
"""

from alembic import op

from common.migrations import create_outbox, drop_outbox

revision = "064fab4b4cf2"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox(op)


def downgrade() -> None:
    drop_outbox(op)
