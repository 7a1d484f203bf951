"""Alembic migrations per service: ``services/<name>/migrations/versions``.

One shared script directory (``common/alembic``: env.py and the revision template) serves every
service; each service keeps its own revisions and its own ``alembic_version`` in its database.

Services upgrade their own database on start (under an advisory lock on PostgreSQL, so
several instances may start at once); ``bpc migrate`` and ``bpc makemigration`` do it by hand.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import text

from common.engine import UtcDateTime

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, connection=None) -> Config:
    home = ROOT / ("gateway" if service == "gateway" else f"services/{service}")
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(Path(__file__).parent / "alembic"))
    cfg.set_main_option("version_locations", str(home / "migrations" / "versions"))
    cfg.set_main_option("service", service)
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _sqlite_file_lock(engine):
    """SQLite has no advisory lock: instances starting at once take turns by a lock file."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(service: str, engine) -> None:
    with _sqlite_file_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"bpc-{service}"}
            )
        command.upgrade(alembic_config(service, conn), "head")


def target_metadata(service: str):
    import importlib

    module = "gateway.models" if service == "gateway" else f"services.{service}.models"
    return importlib.import_module(module).Base.metadata


def run_env() -> None:
    """Body of ``common/alembic/env.py``, shared by every service."""
    from common import config
    from common.engine import make_engine

    cfg = context.config
    metadata = target_metadata(cfg.get_main_option("service"))
    connection = cfg.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.db_url(cfg.get_main_option("service")))
        with engine.begin() as connection:
            _run(connection, metadata)
    else:
        _run(connection, metadata)


def _run(connection, metadata) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def make_migration(service: str, message: str) -> None:
    from common import config
    from common.engine import make_engine

    engine = make_engine(config.db_url(service))
    upgrade(service, engine)
    with engine.begin() as conn:
        command.revision(alembic_config(service, conn), message=message, autogenerate=True)


def make_append_only(op, table: str, message: str) -> None:
    """Database-level guard: the table refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL).

    For the tables whose rows are evidence (audit log, opportunity history, work log): no code
    path, ours or an operator's SQL, may rewrite them.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def drop_append_only(op, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_change()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


# --- what every service's database holds (docs/ARCHITECTURE.md "Messaging that loses nothing",
# "Exactly once"), created by each service's migrations through these helpers -----------------


def create_outbox(op) -> None:
    """``outbox`` (the events written with each change, for the relay to publish) and
    ``processed_events`` (the events each consumer has applied, so a repeat changes nothing),
    as every service's first migration makes them (common.db ``service_base``)."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(op.f("ix_outbox_published_at"), "outbox", ["published_at"], unique=False)
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("handler", sa.String(length=120), nullable=False),
        sa.Column("processed_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "handler", name=op.f("pk_processed_events")),
    )


def drop_outbox(op) -> None:
    op.drop_table("processed_events")
    op.drop_index(op.f("ix_outbox_published_at"), table_name="outbox")
    op.drop_table("outbox")


def create_people(op, prefix_index: bool = True) -> None:
    """``people``: a service's projection of org's users (common.people ``people_table``), its
    ``path`` indexed for prefix searches (``varchar_pattern_ops`` on PostgreSQL; SQLite's plain
    index serves them as it is). ``prefix_index=False``: the plain index customer's first
    migration made, which a later one of its own replaces on PostgreSQL."""
    op.create_table(
        "people",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_people")),
    )
    index_ops = {"postgresql_ops": {"path": "varchar_pattern_ops"}} if prefix_index else {}
    op.create_index(op.f("ix_people_path"), "people", ["path"], unique=False, **index_ops)


def drop_people(op) -> None:
    op.drop_index(op.f("ix_people_path"), table_name="people")
    op.drop_table("people")


UNPUBLISHED_INDEX = "ix_outbox_unpublished"


def index_unpublished_outbox(op) -> None:
    """A partial index of the outbox rows not yet published, in id order: the relay's query.

    The index on ``published_at`` also held an entry for every row version ever unpublished;
    on PostgreSQL, until a vacuum, each relay round visited all those dead row versions (a
    millisecond per round after 5,000 events, and growing). An ordered scan of this index
    marks dead entries as it passes and then skips them."""
    op.create_index(
        UNPUBLISHED_INDEX,
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )


def drop_unpublished_outbox_index(op) -> None:
    op.drop_index(UNPUBLISHED_INDEX, table_name="outbox")


def create_request_log(op) -> None:
    """``request_log``: the answers of commands by request id (common.db ``command``), so that
    a redelivered or retried request is answered again and does nothing twice."""
    op.create_table(
        "request_log",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("operation", sa.String(length=80), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "operation", name="pk_request_log"),
    )
    op.create_index("ix_request_log_at", "request_log", ["at"])


def drop_request_log(op) -> None:
    op.drop_index("ix_request_log_at", table_name="request_log")
    op.drop_table("request_log")
