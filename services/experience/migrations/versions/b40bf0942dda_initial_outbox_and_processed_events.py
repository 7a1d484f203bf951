"""initial: outbox and processed events

Revision ID: b40bf0942dda
Revises:
Create Date: 2026-11-26 16:02:15.474061
"""

from alembic import op

from common.migrations import create_outbox, drop_outbox

revision = "b40bf0942dda"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox(op)


def downgrade() -> None:
    drop_outbox(op)
