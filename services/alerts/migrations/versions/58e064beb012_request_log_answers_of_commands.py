"""request_log: the answer of each command by request id, so a redelivery does nothing twice

Revision ID: 58e064beb012
Revises: 5dd1f930c3a8
Create Date: 2026-12-07 08:00:00
"""

from alembic import op

from common.migrations import create_request_log, drop_request_log

revision = "58e064beb012"
down_revision = "5dd1f930c3a8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_log(op)


def downgrade() -> None:
    drop_request_log(op)
