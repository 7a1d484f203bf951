"""request_log: the answer of each command by request id, so a redelivery does nothing twice

Revision ID: 95af4a13d22e
Revises: b7c1d2e3f4a5
Create Date: 2026-12-07 08:00:00
"""

from alembic import op

from common.migrations import create_request_log, drop_request_log

revision = "95af4a13d22e"
down_revision = "b7c1d2e3f4a5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_log(op)


def downgrade() -> None:
    drop_request_log(op)
