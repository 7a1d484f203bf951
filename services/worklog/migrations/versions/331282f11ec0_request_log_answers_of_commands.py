"""request_log: the answer of each command by request id, so a redelivery does nothing twice

Revision ID: 331282f11ec0
Revises: e090cfd5397e
Create Date: 2026-12-07 08:00:00
"""

from alembic import op

from common.migrations import create_request_log, drop_request_log

revision = "331282f11ec0"
down_revision = "e090cfd5397e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_log(op)


def downgrade() -> None:
    drop_request_log(op)
