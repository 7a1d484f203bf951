"""Services in the test's own process: the use cases proven without the broker.

``Services.create(tmp, "postgresql", "customer", "worklog")`` runs those services' classes here,
each on its own real database (SQLite file or PostgreSQL, migrated as a starting service migrates
it). A call (``tests.support.rpc``) runs the entrypoint as a nameko worker would — the caller as
its actor, arguments and answer through the same JSON serializer, a database failure answered as
503 — and then delivers what the call wrote to the outbox to every consumer here whose binding
takes it, as the relay and the broker would, until nothing is left to deliver. A published event
(``tests.support.publish_event``) goes the same way. Timers run when their interval has passed,
at the next call. Calls to a service not run here answer 503, as a service that is down.

What only the broker can prove — delivery across a crash, redelivery, retries and dead letters,
publisher confirms, several processes — stays with the tests that start processes
(tests/integration/test_reliability.py, tests/e2e/). Rules are proven here, in milliseconds.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

from kombu.utils.json import dumps, loads
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR, DependencyProvider
from nameko.timer import Timer
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from common import clock, projection
from common.actor import CurrentActor, CurrentFreshness, Freshness
from common.consumer import BatchEventConsumer, EventConsumer
from common.db import DatabaseProvider, Db
from common.engine import make_engine
from common.errors import ServiceUnavailable
from common.events import Envelope, routing_key
from common.metrics import EntrypointMetrics
from common.migrations import upgrade
from common.rpc import TimedRpc
from common.service import database_errors_as_unavailable
from common.topology import service_class
from tests.support import create_pg_database, drop_pg_database


class _NoRelay:
    """The outbox is read by ``Services.settle`` after each call, not by a relay thread."""

    def wake(self) -> None:
        pass


class LocalDatabase:
    """What ``DatabaseProvider`` gives a ``Db``, without a container: engine, sessions, the
    outbox, processed-events and request-log tables."""

    def __init__(self, name: str, base, url: str):
        self.container = SimpleNamespace(service_name=name)
        self.engine = make_engine(url)
        upgrade(name, self.engine)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        tables = base.metadata.tables
        self.outbox = tables["outbox"]
        self.processed = tables["processed_events"]
        self.request_log = tables["request_log"]
        self.relay = _NoRelay()

    def take_outbox(self) -> list[Envelope]:
        """The events committed and not yet delivered, oldest first, marked delivered."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(self.outbox.c.id, self.outbox.c.payload)
                .where(self.outbox.c.published_at.is_(None))
                .order_by(self.outbox.c.id)
            ).all()
            if rows:
                conn.execute(
                    update(self.outbox)
                    .where(self.outbox.c.id.in_([row.id for row in rows]))
                    .values(published_at=clock.now())
                )
        return [Envelope.from_message(row.payload) for row in rows]


def _topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more words."""

    def match(words: list[str], keys: list[str]) -> bool:
        if not words:
            return not keys
        head, rest = words[0], words[1:]
        if head == "#":
            return any(match(rest, keys[i:]) for i in range(len(keys) + 1))
        return bool(keys) and head in ("*", keys[0]) and match(rest, keys[1:])

    return match(pattern.split("."), key.split("."))


@dataclass
class _Consumer:
    method: str
    source: str
    event_type: str
    binding: str
    batch: bool


@dataclass
class _Timer:
    method: str
    interval: float
    due: float = 0.0


def _class_defined_afresh(name: str) -> type:
    """``name``'s service class defined again from its module, under the settings in the
    environment now: what a class reads from them when it is defined — a timer's interval
    (``@timer(interval=config.sweep_interval())``) — is then what a process started with those
    settings reads, even when an earlier test imported the module under others. The module
    imported before is left as it was."""
    imported = service_class(name)
    spec = importlib.util.find_spec(imported.__module__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, imported.__name__)


@dataclass
class LocalService:
    """One service class run here."""

    name: str
    cls: type
    database: LocalDatabase
    consumers: list[_Consumer] = field(default_factory=list)
    timers: list[_Timer] = field(default_factory=list)
    providers: dict[str, DependencyProvider] = field(default_factory=dict)

    @classmethod
    def start(cls, name: str, url: str, afresh: bool = False) -> LocalService:
        """``afresh``: the class defined again under the settings now (``Services.create``'s)."""
        service_cls = _class_defined_afresh(name) if afresh else service_class(name)
        providers = {
            attr: value
            for attr, value in inspect.getmembers(service_cls)
            if isinstance(value, DependencyProvider)
        }
        base = next(p.base for p in providers.values() if isinstance(p, DatabaseProvider))
        service = cls(name, service_cls, LocalDatabase(name, base, url), providers=providers)
        now = time.monotonic()
        for attr, member in inspect.getmembers(service_cls, inspect.isfunction):
            for entrypoint in getattr(member, ENTRYPOINT_EXTENSIONS_ATTR, ()):
                if isinstance(entrypoint, EventConsumer):
                    service.consumers.append(
                        _Consumer(
                            attr,
                            entrypoint.source_service,
                            entrypoint.event_type,
                            entrypoint.binding,
                            isinstance(entrypoint, BatchEventConsumer),
                        )  # fmt: skip
                    )
                elif isinstance(entrypoint, Timer):
                    service.timers.append(
                        _Timer(attr, entrypoint.interval, now + entrypoint.interval)
                    )
        if name == "org":
            from services.org.bootstrap import ensure_admin

            ensure_admin(Db(service.database))
        return service

    def worker(self, services: Services, actor=None):
        """A service instance as a nameko worker sees it: each dependency injected."""
        _forget_what_a_process_remembers()
        instance = self.cls()
        for attr, provider in self.providers.items():
            if isinstance(provider, DatabaseProvider):
                value = Db(self.database)
            elif isinstance(provider, CurrentActor):
                value = actor
            elif isinstance(provider, CurrentFreshness):
                value = Freshness()
            elif isinstance(provider, TimedRpc):
                value = _Peers(services, actor)
            elif isinstance(provider, EntrypointMetrics):
                value = None
            elif type(provider).__name__ == "AdminBootstrap":
                value = SimpleNamespace(wait=lambda timeout=30.0: None)
            else:
                raise TypeError(f"{self.name}.{attr}: no in-process stand-in for {provider!r}")
            setattr(instance, attr, value)
        return instance

    def dispose(self) -> None:
        self.database.engine.dispose()


def _forget_what_a_process_remembers() -> None:
    """A service process keeps a few things it read from its one database: the callers it
    stored (common.projection, keyed by table and caller — every service's people table is
    named alike), parsed pipelines and learned counts by pipeline id, the activity catalogue.
    Here several services on several databases share one process, so each worker starts as a
    fresh process's first does (a pipeline id of one test's database is another's elsewhere)."""
    from services.opportunity import facts as opportunity_facts
    from services.opportunity import learned
    from services.worklog import shapes as worklog_shapes

    projection._synced.clear()
    opportunity_facts._parsed.clear()
    learned._cache.clear()
    worklog_shapes.catalog_cache.update({"at": float("-inf"), "items": None})


class _Peers:
    """``TimedRpc`` here: a call to a service run here runs it (as the caller's actor); any
    other service is down (503)."""

    def __init__(self, services: Services, actor):
        self.services, self.actor = services, actor

    def set_actor(self, actor) -> None:
        self.actor = actor

    def set_fresh(self, changes: str) -> None:
        pass

    def set_request(self, request_id: str) -> None:
        pass

    def call(self, service: str, method: str, **kwargs):
        return self.services.call(service, method, self.actor, settle=False, **kwargs)

    def call_within(self, seconds: float, service: str, method: str, **kwargs):
        return self.call(service, method, **kwargs)

    def call_each(self, calls: dict[str, tuple], timeout: float) -> dict:
        results = {}
        for key, (service, method, *kwargs) in calls.items():
            try:
                results[key] = self.call(service, method, **(kwargs[0] if kwargs else {}))
            except Exception as exc:  # noqa: BLE001 - reported per call, as RpcClient does
                results[key] = exc
        return results


class Services:
    """Several services run in this process, on one backend; what ``Environment`` is to the
    tests that start processes (``in_process`` tells ``tests.support`` which one it has)."""

    in_process = True

    def __init__(self, backend: str, data_dir: Path):
        self.backend = backend
        self.data_dir = data_dir
        self.services: dict[str, LocalService] = {}
        self.pg_urls: dict[str, str] = {}
        self.delivered: list[Envelope] = []  # every event delivered, in order
        self._settling = False
        self.settings: dict[str, str] = {}  # the BPC_… settings ``create`` was given
        self.system_id = f"in-process-{uuid.uuid4().hex[:8]}"  # what a vhost names (support)

    @classmethod
    def create(cls, tmp: Path, backend: str, *names: str, **environ: str) -> Services:
        """``names`` run here on ``backend``; ``environ`` (BPC_… settings) is set while they
        run (``close`` restores what was there)."""
        services = cls(backend, tmp)
        services.settings = dict(environ)
        services._saved = {key: os.environ.get(key) for key in environ}
        os.environ.update(environ)
        try:
            for name in names:
                services.add(name)
        except BaseException:
            services.close()
            raise
        return services

    def add(self, name: str) -> LocalService:
        if self.backend == "postgresql":
            self.pg_urls[name] = create_pg_database(f"bpc_ip_{name}")
            url = self.pg_urls[name]
        else:
            url = f"sqlite:///{self.data_dir / f'{name}.db'}"
        self.services[name] = LocalService.start(name, url, afresh=bool(self.settings))
        return self.services[name]

    def close(self) -> None:
        for service in self.services.values():
            service.dispose()
        for url in self.pg_urls.values():
            drop_pg_database(url)
        for key, value in getattr(self, "_saved", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def engine(self, name: str):
        return self.services[name].database.engine

    # --- what a client does ----------------------------------------------------------------

    def call(self, service: str, method: str, actor=None, settle: bool = True, **kwargs):
        """``method`` of ``service`` as ``actor``: its answer, or the error it raises, exactly
        as an RPC caller gets them; then every event it caused is delivered."""
        local = self.services.get(service)
        if local is None:
            raise ServiceUnavailable(
                "服务暂时不可用 / Service temporarily unavailable", details={"service": service}
            )
        if settle:
            self.run_timers()
        worker = local.worker(self, actor)
        try:
            answer = getattr(worker, method)(**loads(dumps(kwargs)))
        except Exception as exc:  # noqa: BLE001 - mapped as the RPC entrypoint maps it
            mapped = database_errors_as_unavailable((type(exc), exc, exc.__traceback__))
            if mapped[1] is exc:
                raise
            raise mapped[1] from exc
        finally:
            if settle:
                self.settle()
        return loads(dumps(answer))

    def publish(self, envelope: Envelope) -> Envelope:
        """``envelope`` published by its producer: delivered here, and all that follows."""
        self.deliver(envelope)
        self.settle()
        return envelope

    # --- the relay and the broker, here ------------------------------------------------------

    def deliver(self, envelope: Envelope) -> None:
        self.delivered.append(envelope)
        key = routing_key(envelope.producer, envelope.type, envelope.data)
        for local in self.services.values():
            for consumer in local.consumers:
                if consumer.source != envelope.producer or consumer.event_type != envelope.type:
                    continue
                if not _topic_matches(consumer.binding, key):
                    continue
                handled = replace(envelope, consumer=f"{local.name}.{consumer.method}")
                handler = getattr(local.worker(self), consumer.method)
                handler([handled] if consumer.batch else handled)

    def settle(self) -> None:
        """Deliver what the services wrote to their outboxes until none is left."""
        if self._settling:
            return
        self._settling = True
        try:
            for _ in range(1000):
                moved = False
                for local in list(self.services.values()):
                    for envelope in local.database.take_outbox():
                        self.deliver(envelope)
                        moved = True
                if not moved:
                    return
            raise AssertionError("events keep causing events: a cycle between consumers?")
        finally:
            self._settling = False

    def run_timers(self) -> None:
        now = time.monotonic()
        for local in self.services.values():
            for timer in local.timers:
                if now >= timer.due:
                    timer.due = now + timer.interval
                    getattr(local.worker(self), timer.method)()
        self.settle()

    def of_type(self, producer: str, event_type: str) -> list[dict]:
        """The messages of ``producer``'s events of ``event_type`` delivered so far."""
        return [
            e.to_message()
            for e in self.delivered
            if e.producer == producer and e.type == event_type
        ]


class LocalTap:
    """``EventTap`` here: everything a producer publishes from now on."""

    def __init__(self, services: Services, producer: str):
        self.services, self.producer = services, producer
        self.start = len(services.delivered)

    def drain(self) -> list[dict]:
        return [
            e.to_message()
            for e in self.services.delivered[self.start :]
            if e.producer == self.producer
        ]

    @property
    def seen(self) -> list[dict]:
        return self.drain()

    def of_type(self, event_type: str) -> list[dict]:
        return [e for e in self.drain() if e["type"] == event_type]

    def close(self) -> None:
        pass
