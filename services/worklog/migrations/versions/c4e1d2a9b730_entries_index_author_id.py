"""entries: index (author_id, id) for the head of an author's chain

Recording an entry reads the newest entry of its author (the chain's head). Without this index
PostgreSQL walked the primary key backwards past every other author's newer entries.

Revision ID: c4e1d2a9b730
Revises: baa1c631a407
Create Date: 2026-11-27 06:05:00
"""

from alembic import op

revision = "c4e1d2a9b730"
down_revision = "baa1c631a407"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain CREATE INDEX (no batch mode: on SQLite a table rebuild would drop the
    # append-only triggers)
    op.create_index("ix_worklog_entries_author_id", "worklog_entries", ["author_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_worklog_entries_author_id", table_name="worklog_entries")
