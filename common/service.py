"""What every BPC service class inherits: health, entrypoint metrics, the probe consumer, and the
protocol of projections (common.projection): the facts it owns, the mirrors it keeps."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import nameko.rpc
from nameko.amqp.publish import Publisher
from nameko.rpc import rpc
from nameko.timer import timer
from sqlalchemy import select, text

from common import clock, config, metrics, projection, schemas
from common.actor import REDELIVERED_KEY, require_actor
from common.amqp import publish_transient
from common.consumer import event_consumer
from common.errors import BpcError, ServiceUnavailable, ValidationFailed
from common.metrics import EntrypointMetrics
from common.projection_check import Sampler
from common.rpc import TimedRpc

log = logging.getLogger(__name__)


class _ReplyPublisher(Publisher):
    """RPC replies go out without publisher confirms: a reply lost with the broker only makes
    the caller time out (the gateway answers 503), so a confirm round trip per reply buys
    nothing and costs about a fifth of a service's CPU per call. Events keep their confirms."""

    use_confirms = False
    delivery_mode = 1  # transient: the caller waits seconds at most, never across a restart

    def publish(self, payload, **kwargs):
        # nameko's Responder passes serializer, exchange, routing_key and correlation_id
        publish_transient(self.amqp_uri, payload, **kwargs)


nameko.rpc.Responder.publisher_cls = _ReplyPublisher

_unpack_headers = nameko.rpc.Rpc.unpack_message_headers


def _unpack_with_redelivery(self, message):
    """RPC context data, and whether the broker delivered this request before (to a worker
    that died before acknowledging it): only then, or for a client's retry under an
    Idempotency-Key, can a command find its answer already recorded (common.db ``command``)."""
    context = _unpack_headers(self, message)
    if (message.delivery_info or {}).get("redelivered"):
        context[REDELIVERED_KEY] = True
    return context


nameko.rpc.Rpc.unpack_message_headers = _unpack_with_redelivery

DATABASE_UNAVAILABLE = "数据库暂时不可用 / Database temporarily unavailable"


def database_errors_as_unavailable(exc_info):
    """A failure of the service's database — locked, gone, restarting, or every connection of
    the pool busy — as the caller must see it: ServiceUnavailable (503, retry), never a stack
    trace. Any other outcome is passed on as it is."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if exc_info is None or not isinstance(
        exc_info[1], (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
    ):
        return exc_info
    log.warning("database unavailable: %s", exc_info[1])
    unavailable = ServiceUnavailable(DATABASE_UNAVAILABLE)
    unavailable.__cause__ = exc_info[1]
    return (ServiceUnavailable, unavailable, exc_info[2])


_handle_rpc_result = nameko.rpc.Rpc.handle_result


def _handle_result(self, message, worker_ctx, result, exc_info):
    """Every RPC of every service answers a database failure as 503 (one place, not a
    decorator on each entrypoint)."""
    return _handle_rpc_result(self, message, worker_ctx, result,
                              database_errors_as_unavailable(exc_info))  # fmt: skip


nameko.rpc.Rpc.handle_result = _handle_result


class ProbeFailed(BpcError):
    code = "probe_failed"


class ServiceBase:
    """Mixin for a Nameko service class that declares ``name`` and ``db``; ``sources`` (the
    kinds of fact it owns) and ``mirrors`` (the projections it keeps) by name."""

    metrics = EntrypointMetrics()
    peers = TimedRpc()  # the other services, asked within a time bound
    # how an RPC's arguments are loaded through its schema (common.entrypoint); a service with
    # its own way (org) names it here
    load_arguments = staticmethod(schemas.load)
    sources: dict[str, projection.Source] = {}
    mirrors: dict[str, projection.Mirror] = {}

    @rpc
    def health(self) -> dict:
        """Anyone (the gateway's /healthz). Answers only when the database answers."""
        with self.db.read() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "status": "ok", "time": clock.isoformat(clock.now())}

    @rpc
    def refresh_statistics(self) -> dict:
        """Level 9, after a bulk import (demo data, migrations): the query planner's statistics
        of this service's database now (ANALYZE), not when autovacuum reaches the new rows."""
        from common.actor import require_actor

        require_actor(getattr(self, "actor", None)).require_level(9)
        began = time.perf_counter()
        with self.db.unit_of_work() as uow:
            uow.session.execute(text("ANALYZE"))
        return {"service": self.name, "seconds": round(time.perf_counter() - began, 2)}

    @event_consumer("org", "probe")
    def on_probe(self, event) -> None:
        """Diagnostic: records a probe event once; fails while before its ``fail_until``, or
        as in a database outage while before its ``outage_until``."""
        fail_until = event.data.get("fail_until")
        if fail_until and clock.now() < datetime.fromisoformat(fail_until):
            raise ProbeFailed(f"probe {event.data.get('probe_id')} fails until {fail_until}")
        outage_until = event.data.get("outage_until")
        if outage_until and clock.now() < datetime.fromisoformat(outage_until):
            raise ServiceUnavailable(f"probe outage until {outage_until}")
        with self.db.unit_of_work() as uow:
            uow.first_time(event)

    @rpc
    def probe_seen(self, event_id: str) -> int:
        """How many times this service recorded the probe event (0 or 1: it is idempotent)."""
        with self.db.read() as session:
            table = self.db._provider.processed
            return len(
                session.execute(select(table.c.handler).where(table.c.event_id == event_id)).all()
            )

    # --- the projection protocol (common.projection, common.projection_check) -------------------

    def _source(self, kind: str) -> projection.Source:
        source = self.sources.get(kind)
        if source is None:
            raise ValidationFailed(details={"kind": [f"{self.name} owns no {kind!r} facts"]})
        return source

    def _mirror(self, name: str) -> projection.Mirror:
        mirror = self.mirrors.get(name)
        if mirror is None:
            raise ValidationFailed(details={"name": [f"{self.name} keeps no {name!r} projection"]})
        return mirror

    @rpc
    def facts(self, kind: str, ids: list) -> dict:
        """Another service whose projection lacks records (or doubts one): the current facts of
        ``ids`` (unknown ids are left out), in the shape of the events that carry them."""
        source = self._source(kind)
        with self.db.read() as session:
            found = source.load(session, [str(i) for i in ids][:1000])
        return {"items": list(found.values())}

    @rpc
    def fact_page(
        self, kind: str, fields: list, cursor: str | None = None, limit: int = 500
    ) -> dict:
        """``bpc check-projections``: a page of this service's facts in key order, as
        (key, digest of ``fields``) pairs, and the cursor of the next page (None: the end)."""
        source = self._source(kind)
        with self.db.read() as session:
            facts, following = source.page(session, cursor, max(1, min(int(limit), 5000)))
        key = projection.FACT_KEYS[kind]
        items = [[str(f[key]), projection.digest(f, fields)] for f in facts]
        return {"items": items, "next_cursor": following}

    @rpc
    def fact_digests(self, kind: str, fields: list, keys: list) -> dict:
        """``bpc check-projections``: the digests of the facts of ``keys`` that exist."""
        source = self._source(kind)
        with self.db.read() as session:
            found = source.load(session, [str(k) for k in keys][:5000])
        return {"items": {k: projection.digest(f, fields) for k, f in found.items()}}

    @rpc
    def mirror_digests(self, name: str, keys: list) -> dict:
        """Level 9 (``bpc check-projections``): the digests of a projection's rows of ``keys``."""
        require_actor(self.actor).require_level(9)
        mirror = self._mirror(name)
        with self.db.read() as session:
            return {"items": mirror.digests(session, [str(k) for k in keys][:5000])}

    @rpc
    def mirror_keys(self, name: str, cursor: str | None = None, limit: int = 500) -> dict:
        """Level 9: a page of a projection's keys in its own order, and the next cursor."""
        require_actor(self.actor).require_level(9)
        mirror = self._mirror(name)
        limit = max(1, min(int(limit), 5000))
        with self.db.read() as session:
            keys = mirror.keys_after(session, cursor, limit)
        return {"items": keys, "next_cursor": keys[-1] if len(keys) == limit else None}

    @rpc
    def mirror_repair(self, name: str, keys: list) -> dict:
        """Level 9 (``bpc check-projections --repair``): the owner's current facts of ``keys``
        written into the projection; keys the owner does not know are removed from it."""
        require_actor(self.actor).require_level(9)
        mirror = self._mirror(name)
        keys = [str(k) for k in keys][:5000]
        found = projection.Owners(self.peers).facts(mirror.owner, mirror.kind, keys)
        gone = set(keys) - {str(f[projection.FACT_KEYS[mirror.kind]]) for f in found}
        with self.db.unit_of_work() as uow:
            mirror.apply(uow.session, found, force=True)
            forgotten = mirror.forget(uow.session, gone)
        log.info("projection %s repaired: %s written, %s removed", name, len(found), forgotten)
        return {"written": len(found), "forgotten": forgotten}

    _sampler = None

    @timer(interval=config.projection_sample_interval() or 3600)
    def sample_projections(self) -> None:
        """One page of each projection against its owner: ``bpc_projection_drift``."""
        if not self.mirrors or config.projection_sample_interval() <= 0:
            return
        sampler = type(self)._sampler = type(self)._sampler or Sampler()
        for name, mirror in self.mirrors.items():
            try:
                shown = sampler.tick(
                    name,
                    lambda cursor, m=mirror: self.peers.call(
                        m.owner, "fact_page", kind=m.kind, fields=list(m.fields), cursor=cursor
                    ),
                    lambda keys, m=mirror: self._local_digests(m, keys),
                )
            except (BpcError, OSError) as exc:  # an owner down: the next tick tries again
                log.info("projection %s not sampled: %r", name, exc)
                continue
            metrics.PROJECTION_DRIFT.labels(self.name, name).set(shown)

    def _local_digests(self, mirror: projection.Mirror, keys: list[str]) -> dict[str, str]:
        with self.db.read() as session:
            return mirror.digests(session, keys)
