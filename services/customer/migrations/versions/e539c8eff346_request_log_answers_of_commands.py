"""request_log: the answer of each command by request id, so a redelivery does nothing twice

Revision ID: e539c8eff346
Revises: 89800973a689
Create Date: 2026-12-07 08:00:00
"""

from alembic import op

from common.migrations import create_request_log, drop_request_log

revision = "e539c8eff346"
down_revision = "89800973a689"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_log(op)


def downgrade() -> None:
    drop_request_log(op)
