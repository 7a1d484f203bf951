"""initial: outbox and processed events

Revision ID: dc8943d57757
Revises:
Create Date: 2026-11-26 16:02:14.032967
"""

from alembic import op

from common.migrations import create_outbox, drop_outbox

revision = "dc8943d57757"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox(op)


def downgrade() -> None:
    drop_outbox(op)
