"""login_throttle: failed logins per account and per client address, and until when they wait

Revision ID: 5d1e0c7a9b21
Revises: 0b12ad581e57
Create Date: 2026-12-07 12:00:00
"""

import sqlalchemy as sa
from alembic import op

from common.db import UtcDateTime

revision = "5d1e0c7a9b21"
down_revision = "0b12ad581e57"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        op.f("ix_login_throttle_last_failure_at"), "login_throttle", ["last_failure_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttle_last_failure_at"), table_name="login_throttle")
    op.drop_table("login_throttle")
