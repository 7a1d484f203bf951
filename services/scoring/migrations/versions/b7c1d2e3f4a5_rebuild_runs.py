"""rebuild_runs: the scoring rebuild's claim and progress, shared by every instance

Revision ID: b7c1d2e3f4a5
Revises: aaae30b99235
Create Date: 2026-11-28 00:00:00
"""

import sqlalchemy as sa
from alembic import op

import common.db

revision = "b7c1d2e3f4a5"
down_revision = "aaae30b99235"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "rebuild_runs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("progress", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("runner", sa.String(length=120), nullable=True),
        sa.Column("started_at", common.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", common.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rebuild_runs")),
    )
    op.bulk_insert(table, [{"id": 1, "state": "idle", "entries": 0, "progress": 0, "seconds": 0}])


def downgrade() -> None:
    op.drop_table("rebuild_runs")
