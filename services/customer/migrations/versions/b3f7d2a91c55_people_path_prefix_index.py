"""people.path indexed for prefix searches on PostgreSQL (varchar_pattern_ops), as in every
other service's people projection (common/people.py)

Revision ID: b3f7d2a91c55
Revises: e539c8eff346
Create Date: 2026-12-07 15:00:00
"""

from alembic import op

revision = "b3f7d2a91c55"
down_revision = "e539c8eff346"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: a plain index serves prefix searches already
    op.drop_index("ix_people_path", table_name="people")
    op.create_index(
        "ix_people_path", "people", ["path"], postgresql_ops={"path": "varchar_pattern_ops"}
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_people_path", table_name="people")
    op.create_index("ix_people_path", "people", ["path"])
