"""SQLAlchemy 2 session dependency, unit of work, and the transactional outbox.

A service declares ``db = Database(Base)``. Inside an entrypoint::

    with self.db.unit_of_work() as uow:
        uow.session.add(customer)
        uow.publish("customer_registered", {...})   # same transaction as the change

The outbox row commits with the business change or not at all; the relay (a managed green
thread of the same dependency) publishes unpublished rows with publisher confirms and marks
them. A crash between commit and publish only delays the event; a crash between publish and
mark publishes it again, and consumers drop the repeat by its ``event_id``.

Commands are answered once (docs/ARCHITECTURE.md "Exactly once"): the gateway gives every
write a request id (``bpc_request`` in the RPC's context); a command's unit of work records its
answer under that id in ``request_log``, in the same transaction as its effect
(``uow.answer(...)``), and ``command`` answers a redelivered or retried request from there
without doing anything again. An entrypoint is made a command by common.entrypoint::

    @entrypoint(schemas.RegisterIn, command=True)
    def register(self, actor, args):
        ...
        with self.db.unit_of_work() as uow:
            ...
            return uow.answer(opportunity_out(opp))
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import kombu
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from common import clock, config, metrics
from common.actor import REDELIVERED_KEY, REQUEST_KEY
from common.engine import UtcDateTime, make_engine  # noqa: F401 - imported from here too
from common.events import Envelope, exchange_name, routing_key, validate_payload
from common.migrations import upgrade

log = logging.getLogger(__name__)


def service_base() -> type[DeclarativeBase]:
    """A declarative base of one service, with the outbox, request-log and processed-event
    tables (made in the service's migrations by ``common.migrations``: ``create_outbox``,
    ``index_unpublished_outbox``, ``create_request_log``)."""

    class Base(DeclarativeBase):
        metadata = MetaData(
            naming_convention={
                "ix": "ix_%(column_0_label)s",
                "uq": "uq_%(table_name)s_%(column_0_name)s",
                "ck": "ck_%(table_name)s_%(constraint_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                "pk": "pk_%(table_name)s",
            }
        )
        type_annotation_map = {datetime: UtcDateTime}

    Table(
        "outbox",
        Base.metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("type", String(80), nullable=False),
        Column("version", Integer, nullable=False, default=1),
        Column("payload", JSON, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True, index=True),
        # the relay's query (common.migrations.index_unpublished_outbox)
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )
    Table(
        "request_log",
        Base.metadata,
        Column("request_id", String(80), primary_key=True),
        Column("operation", String(80), primary_key=True),
        Column("answer", JSON, nullable=True),
        Column("at", UtcDateTime, nullable=False, index=True),
    )
    Table(
        "processed_events",
        Base.metadata,
        Column("event_id", String(36), primary_key=True),
        Column("handler", String(120), primary_key=True),
        Column("processed_at", UtcDateTime, nullable=False),
    )
    return Base


class UnitOfWork:
    """One transaction: commits on a clean exit, rolls back on any exception."""

    def __init__(self, db: DatabaseProvider, request: Request | None = None):
        self._db = db
        self.session: Session = db.session_factory()
        self.published: list[Envelope] = []
        self._outbox_rows: list[dict] = []
        self._request = request
        self._answer_row: dict | None = None

    def answer(self, value):
        """``value`` is this command's answer: recorded with its effect under the request's id
        (a redelivery of the request gets it back and does nothing again); returned as is."""
        if self._request is not None:
            self._answer_row = {
                "request_id": self._request.request_id,
                "operation": self._request.operation,
                "answer": value,
                "at": clock.now(),
            }
        return value

    def publish(self, event_type: str, data: dict, version: int = 1) -> Envelope:
        """Write an event to the outbox, in this transaction."""
        producer = self._db.container.service_name
        validate_payload(producer, event_type, data)
        envelope = Envelope.new(producer, event_type, data, version)
        # written in one INSERT at commit: an INSERT per event here would flush the session
        # (autoflush) once per event, which dominates a sweep of a thousand confiscations
        self._outbox_rows.append(
            {
                "event_id": envelope.event_id,
                "type": event_type,
                "version": version,
                "payload": envelope.to_message(),
                "created_at": clock.now(),
            }
        )
        self.published.append(envelope)
        return envelope

    def _write_outbox(self) -> None:
        if self._answer_row is not None:
            # a second delivery of the same request running at the same moment fails here
            # (the primary key), so that only one of them commits its effect
            self.session.execute(insert(self._db.request_log), [self._answer_row])
            self._answer_row = None
            if self._request is not None:
                self._request.answered = True
        if self._outbox_rows:
            self.session.execute(insert(self._db.outbox), self._outbox_rows)
            self._outbox_rows = []

    def first_time(self, envelope: Envelope, handler: str | None = None) -> bool:
        """Record that this handler processed the event; False if it already had.

        Call it inside the unit of work that makes the handler's effect, so the record and
        the effect commit together.
        """
        handler = handler or envelope.consumer
        table = self._db.processed
        seen = self.session.execute(
            select(table.c.event_id).where(
                table.c.event_id == envelope.event_id, table.c.handler == handler
            )
        ).first()
        if seen:
            return False
        self.session.execute(
            insert(table).values(
                event_id=envelope.event_id, handler=handler, processed_at=clock.now()
            )
        )
        return True

    def commit(self) -> None:
        self._write_outbox()
        self.session.commit()

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._write_outbox()
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
        if exc_type is None and self.published:
            self._db.relay.wake()


REQUESTS_KEPT = timedelta(hours=25)  # the Idempotency-Key's 24 hours, and an hour more
_NOT_ANSWERED = object()


@dataclass
class Request:
    """The request a worker serves: the gateway's id for it and the entrypoint it calls.

    ``repeat``: whether it may have been served before — the broker redelivered it, or it is a
    client's retry under an Idempotency-Key (ids ``k:…``); only then is its answer looked for
    before the work (a first delivery of a fresh id cannot have one). Every answer is recorded
    either way: a later redelivery finds it."""

    request_id: str
    operation: str
    repeat: bool = True
    answered: bool = False


class Db:
    """What an entrypoint sees: ``unit_of_work()`` for writes, ``read()`` for queries."""

    def __init__(self, provider: DatabaseProvider, request: Request | None = None):
        self._provider = provider
        self.dialect = provider.engine.dialect.name
        self.request = request

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._provider, self.request)

    @property
    def request_id(self) -> str | None:
        return self.request.request_id if self.request else None

    def answered_before(self):
        """The answer recorded for this worker's request (``_NOT_ANSWERED`` if none)."""
        if self.request is None or not self.request.repeat:
            return _NOT_ANSWERED
        table = self._provider.request_log
        with self.read() as session:
            row = session.execute(
                select(table.c.answer).where(
                    table.c.request_id == self.request.request_id,
                    table.c.operation == self.request.operation,
                )
            ).first()
        return _NOT_ANSWERED if row is None else row.answer

    @property
    def provider(self) -> DatabaseProvider:
        """The service's database dependency (one per container) behind this view."""
        return self._provider

    @contextmanager
    def read(self):
        session = self._provider.session_factory()
        try:
            yield session
        finally:
            # close() ends the transaction and detaches the rows without expiring them, so
            # what was read stays readable after the block (rollback() would expire it)
            session.close()

    @property
    def engine(self):
        return self._provider.engine


class DatabaseProvider(DependencyProvider):
    """Session factory, migrations at start-up, and the outbox relay of one service."""

    def __init__(self, base: type[DeclarativeBase]):
        self.base = base

    def setup(self):
        service = self.container.service_name
        self.engine = make_engine(config.db_url(service))
        upgrade(service, self.engine)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.outbox = self.base.metadata.tables["outbox"]
        self.processed = self.base.metadata.tables["processed_events"]
        self.request_log = self.base.metadata.tables["request_log"]
        self.relay = OutboxRelay(self)

    def start(self):
        self.container.spawn_managed_thread(self.relay.run)

    def stop(self):
        self.relay.stop()

    def kill(self):
        self.relay.stop()

    def get_dependency(self, worker_ctx):
        request_id = worker_ctx.data.get(REQUEST_KEY)
        if not request_id:
            return Db(self)
        request_id = str(request_id)[:80]
        repeat = bool(worker_ctx.data.get(REDELIVERED_KEY)) or request_id.startswith("k:")
        return Db(self, Request(request_id, worker_ctx.entrypoint.method_name, repeat))


class ConfirmedPublisher:
    """One AMQP channel in confirm mode: a batch is published, then its confirms are awaited
    once (a confirm round trip per message cost the relay most of its time under load)."""

    def __init__(self, uri: str, timeout: float = 10.0):
        self.timeout = timeout
        # no confirm_publish transport option: that waits after every single message
        self.connection = kombu.Connection(uri)
        self.connection.ensure_connection(max_retries=1)
        self.channel = self.connection.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.producer = kombu.Producer(self.channel, serializer="json")
        self._next_tag = 0
        self._pending: set[int] = set()
        self._nacked = False

    def _settle(self, tag: int, multiple: bool) -> None:
        if multiple:
            self._pending = {t for t in self._pending if t > tag}
        else:
            self._pending.discard(tag)

    def _on_ack(self, tag, multiple) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag, multiple) -> None:
        self._nacked = True
        self._settle(tag, multiple)

    def publish(self, body: dict, exchange: kombu.Exchange, routing_key: str, **kwargs) -> None:
        self._next_tag += 1
        self._pending.add(self._next_tag)
        self.producer.publish(
            body, exchange=exchange, routing_key=routing_key, retry=False, **kwargs
        )

    def wait_for_confirms(self) -> None:
        """Every message published so far is confirmed by the broker, or this raises."""
        deadline = time.monotonic() + self.timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._pending)} publishes not confirmed in time")
            self.connection.drain_events(timeout=remaining)
        if self._nacked:
            self._nacked = False
            raise RuntimeError("the broker refused (nacked) a published event")

    def release(self) -> None:
        self.connection.release()


class OutboxRelay:
    """Publishes committed outbox rows with publisher confirms, then marks them published."""

    batch_size = 200
    observe_every = 1.0  # seconds between two readings of the backlog gauges
    prune_every = 600.0  # seconds between two purges of answers older than REQUESTS_KEPT

    def __init__(self, provider: DatabaseProvider):
        self.provider = provider
        self.service = provider.container.service_name
        self._wake = threading.Event()
        self._stopped = False
        self._publisher: ConfirmedPublisher | None = None
        self._observed_at = float("-inf")
        self._pruned_at = time.monotonic()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._reset_connection()

    def run(self) -> None:
        while not self._stopped:
            try:
                while self.relay_once():
                    pass
            except Exception:  # noqa: BLE001 - the relay must outlive broker outages
                log.exception("outbox relay of %s failed; retrying", self.service)
                self._reset_connection()
            self._wake.wait(timeout=1.0)
            self._wake.clear()

    def _producer(self) -> ConfirmedPublisher:
        if self._publisher is None:
            self._publisher = ConfirmedPublisher(config.amqp_uri())
        return self._publisher

    def _reset_connection(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.release()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self._publisher = None

    def relay_once(self) -> bool:
        """Publish one batch; True if a full batch went out (there may be more)."""
        engine = self.provider.engine
        if engine.dialect.name == "postgresql":
            return self._relay_batch(engine, postgres=True)
        # SQLite cannot lock rows: of the instances sharing one database file, one relays at a
        # time (a non-blocking file lock; the others try again on their next round)
        database = engine.url.database
        if not database or database == ":memory:":
            return self._relay_batch(engine, postgres=False)
        with open(f"{database}.relay-lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                return self._relay_batch(engine, postgres=False)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _relay_batch(self, engine, postgres: bool) -> bool:
        table = self.provider.outbox
        with engine.connect() as conn:
            query = (
                select(table.c.id, table.c.type, table.c.payload, table.c.created_at)
                .where(table.c.published_at.is_(None))
                .order_by(table.c.id)
                .limit(self.batch_size)
            )
            if postgres:
                # several instances relay at once; each row is taken by one of them
                query = query.with_for_update(skip_locked=True)
            if time.monotonic() - self._observed_at >= self.observe_every:
                self._observe_backlog(conn, table)
            if time.monotonic() - self._pruned_at >= self.prune_every:
                self._prune_answers(conn)
            rows = conn.execute(query).all()
            if not postgres:
                conn.rollback()  # do not hold a SQLite read snapshot across network I/O
            if not rows:
                if postgres:
                    conn.rollback()
                return False
            publisher = self._producer()
            exchange = kombu.Exchange(exchange_name(self.service), type="topic", durable=True)
            for row in rows:
                if os.environ.get("BPC_FAULT") == "kill_before_publish":
                    log.warning("BPC_FAULT=kill_before_publish: killing %s", self.service)
                    os.kill(os.getpid(), signal.SIGKILL)
                body = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
                publisher.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key(self.service, row.type, body["data"]),
                    delivery_mode=2,
                    message_id=body["event_id"],
                )
            # marked published only once the broker has confirmed every one of them
            publisher.wait_for_confirms()
            for row in rows:
                metrics.EVENTS_PUBLISHED.labels(self.service, row.type).inc()
            conn.execute(
                update(table)
                .where(table.c.id.in_([r.id for r in rows]))
                .values(published_at=clock.now())
            )
            conn.commit()
        return len(rows) == self.batch_size

    def _prune_answers(self, conn) -> None:
        """Answers of requests older than a day are forgotten: a redelivery comes within
        minutes, and an Idempotency-Key is honoured for 24 hours."""
        self._pruned_at = time.monotonic()
        log_table = self.provider.request_log
        conn.execute(log_table.delete().where(log_table.c.at < clock.now() - REQUESTS_KEPT))
        conn.commit()

    def _observe_backlog(self, conn, table) -> None:
        self._observed_at = time.monotonic()
        count, oldest = conn.execute(
            select(func.count(), func.min(table.c.created_at)).where(table.c.published_at.is_(None))
        ).one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (clock.now() - clock.as_utc(oldest)).total_seconds() if oldest else 0
        metrics.OUTBOX_AGE.labels(self.service).set(age)


Database = DatabaseProvider


def is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text


def command(fn):
    """An entrypoint whose effect must happen once per request: a request answered before (the
    broker redelivered it after a crash, or the client retried it under its Idempotency-Key)
    gets its recorded answer and nothing is done again. The answer is recorded by the command's
    unit of work (``uow.answer``), in the transaction of its effect."""

    @functools.wraps(fn)
    def entrypoint(self, *args, **kwargs):
        db: Db = self.db
        before = db.answered_before()
        if before is not _NOT_ANSWERED:
            log.info("request %s answered before: replayed", db.request_id)
            return before
        try:
            answer = fn(self, *args, **kwargs)
        except IntegrityError:
            # the same request delivered twice at the same moment: the other one committed
            if db.request is not None:
                db.request.repeat = True
            before = db.answered_before()
            if before is not _NOT_ANSWERED:
                return before
            raise
        if db.request is not None and not db.request.answered:
            log.error("command %s recorded no answer (uow.answer): a redelivery would do it "
                      "again", db.request.operation)  # fmt: skip
        return answer

    return entrypoint
