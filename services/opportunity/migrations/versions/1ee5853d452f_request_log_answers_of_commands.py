"""request_log: the answer of each command by request id, so a redelivery does nothing twice

Revision ID: 1ee5853d452f
Revises: 5b1e0c7d9a42
Create Date: 2026-12-07 08:00:00
"""

from alembic import op

from common.migrations import create_request_log, drop_request_log

revision = "1ee5853d452f"
down_revision = "5b1e0c7d9a42"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_log(op)


def downgrade() -> None:
    drop_request_log(op)
