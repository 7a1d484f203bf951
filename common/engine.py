"""Engines of the services' databases — a SQLite file (WAL, foreign keys, a long busy
timeout) or PostgreSQL through psycopg2 with a bounded pool (docs/ARCHITECTURE.md) — and the
one column type both store alike, UTC times."""

from __future__ import annotations

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.types import TypeDecorator

from common import clock, config


def make_engine(url: str):
    if url.startswith(("postgresql://", "postgres://")):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; we ship psycopg2
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # A few connections kept, and up to one per worker in a burst: every process keeping one
    # per worker (22 each) exhausted a default server's 100 connections at demo scale ("too
    # many clients"). No pre-ping: it cost a round trip per checkout; after a database
    # restart the first statement on each stale connection fails (503, or a retried event)
    # and SQLAlchemy then replaces every connection of the pool.
    return create_engine(
        url,
        pool_size=config.db_pool_size(),
        max_overflow=config.db_max_overflow(),
        pool_pre_ping=False,
    )


class UtcDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return clock.as_utc(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return clock.as_utc(value)
