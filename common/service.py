"""What every BPC service class inherits: health, entrypoint metrics, the probe consumer."""

from __future__ import annotations

import time
from datetime import datetime

import nameko.rpc
from nameko.amqp.publish import Publisher
from nameko.rpc import rpc
from sqlalchemy import select, text

from common import clock
from common.amqp import publish_transient
from common.consumer import event_consumer
from common.errors import BpcError, ServiceUnavailable
from common.metrics import EntrypointMetrics


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


class ProbeFailed(BpcError):
    code = "probe_failed"


class ServiceBase:
    """Mixin for a Nameko service class that declares ``name`` and ``db``."""

    metrics = EntrypointMetrics()

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
