"""sessions, token generations, forced password changes and TOTP: login_sessions and users'
token_generation, must_change_password, password_changed_at, totp_secret/pending/last_step

Revision ID: 7a3c9e1f2b40
Revises: 5d1e0c7a9b21
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

from common.db import UtcDateTime

revision = "7a3c9e1f2b40"
down_revision = "5d1e0c7a9b21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False,
                      server_default=sa.false())
        )  # fmt: skip
        batch.add_column(sa.Column("password_changed_at", UtcDateTime(timezone=True)))
        batch.add_column(sa.Column("totp_secret", sa.String(64)))
        batch.add_column(sa.Column("totp_pending", sa.String(64)))
        batch.add_column(sa.Column("totp_last_step", sa.Integer()))
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("refresh_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(40), nullable=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("agent", sa.String(300), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_login_sessions_user_id_users")),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_sessions_user_id"), table_name="login_sessions")
    op.drop_table("login_sessions")
    with op.batch_alter_table("users") as batch:
        for column in ("totp_last_step", "totp_pending", "totp_secret", "password_changed_at",
                       "must_change_password", "token_generation"):  # fmt: skip
            batch.drop_column(column)
