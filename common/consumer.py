"""Event consumers that lose nothing: idempotent, bounded retry, then a dead-letter queue.

``@event_consumer("org", "user_deactivated")`` consumes from a durable queue declared before
any service starts (see ``common.topology``). A handler that raises is retried after a delay
(a per-message TTL on ``<queue>.retry`` dead-letters it back to the queue), up to
``BPC_HANDLER_MAX_ATTEMPTS`` times; then it is parked in ``<queue>.dlq`` (through the
``bpc.dlx`` exchange), counted by ``bpc_events_dead_lettered_total``, and can be replayed
with ``bpc dlq replay``. A failure that is not the event's fault — the service's database
restarting or unreachable, another service unavailable — never counts towards those attempts:
the event waits out the outage (the delay doubling up to ``OUTAGE_DELAY_MAX_MS``) and is never
parked for it.

Handlers receive an ``Envelope`` and make their effect idempotent with
``uow.first_time(event)`` in the same transaction as the effect.

``@batch_event_consumer(...)`` is for the high-volume streams (every work-log entry): the
handler receives a list of the envelopes that arrived together (up to ``max_batch``, waiting at
most ``max_wait`` seconds for more) and handles them in one transaction; the messages are acked
after it returns. If a batch fails, each of its events is handled again alone, so one poison
event follows the retry and dead-letter path by itself and never drags its neighbours along.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from functools import partial

import eventlet
import kombu
from kombu.pools import producers
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from common import config, metrics
from common.events import Envelope, binding, exchange_name

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-bpc-attempts"
OUTAGES_HEADER = "x-bpc-outages"
DLX = "bpc.dlx"
OUTAGE_DELAY_MAX_MS = 30_000


def is_outage(exc: BaseException | None) -> bool:
    """A failure of what the handler depends on (database, broker, another service), not of
    the event: retried for as long as it lasts."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from common.errors import ServiceUnavailable

    outage = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout,
              ServiceUnavailable, ConnectionError, TimeoutError)  # fmt: skip
    return isinstance(exc, outage)


def queue_name(source: str, event_type: str, service: str, method: str) -> str:
    return f"evt.{source}.{event_type}--{service}.{method}"


def queue_family(
    source: str, event_type: str, service: str, method: str, routing_key: str | None = None
) -> list[kombu.Queue]:
    """The main queue (bound with ``routing_key``, by default the event type), its retry queue
    and its dead-letter queue."""
    name = queue_name(source, event_type, service, method)
    main = kombu.Queue(
        name,
        exchange=kombu.Exchange(exchange_name(source), type="topic", durable=True),
        routing_key=routing_key or event_type,
        durable=True,
    )
    retry = kombu.Queue(
        f"{name}.retry",
        exchange=kombu.Exchange("", type="direct"),
        routing_key=f"{name}.retry",
        durable=True,
        queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
    )
    dlq = kombu.Queue(
        f"{name}.dlq",
        exchange=kombu.Exchange(DLX, type="direct", durable=True),
        routing_key=name,
        durable=True,
    )
    return [main, retry, dlq]


def declare_family(channel, queues: list[kombu.Queue], event_type: str) -> None:
    """Declare a queue family; a main queue bound by a pattern loses its old binding by the
    bare event type (from before the event had routing facets), which would still deliver
    every event to it."""
    for queue in queues:
        queue(channel).declare()
    main = queues[0]
    if main.routing_key != event_type:
        main(channel).unbind_from(main.exchange, routing_key=event_type)


class EventConsumer(Consumer):
    def __init__(
        self, source_service: str, event_type: str, having: tuple[str, ...] = (), **kwargs
    ):
        self.source_service = source_service
        self.event_type = event_type
        self.binding = binding(source_service, event_type, tuple(having))
        super().__init__(queue=None, **kwargs)

    def setup(self):
        service = self.container.service_name
        self.queue_name = queue_name(
            self.source_service, self.event_type, service, self.method_name
        )
        main, retry, dlq = queue_family(
            self.source_service, self.event_type, service, self.method_name, self.binding
        )
        self.queue = main
        self._retry_queue, self._dlq = retry, dlq
        # the counters exist at 0 from the start, so that an alert's increase() sees the first
        metrics.EVENTS_FAILED.labels(service, self.method_name)
        metrics.EVENTS_DEAD_LETTERED.labels(service, self.queue_name)
        self._connection = kombu.Connection(
            config.amqp_uri(), transport_options={"confirm_publish": True}
        )
        with kombu.Connection(config.amqp_uri()) as conn:
            declare_family(conn.default_channel, [main, retry, dlq], self.event_type)
        super().setup()

    def handle_message(self, body, message):
        envelope = self._envelope(body, message)
        if envelope is None:
            return
        handle_result = partial(self.handle_result, message, body)
        context = self.unpack_message_headers(message)
        context = {k: v for k, v in context.items() if not k.startswith("x-")}
        try:
            self.container.spawn_worker(
                self, (envelope,), {}, context_data=context, handle_result=handle_result
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def _envelope(self, body, message) -> Envelope | None:
        """The message's envelope; a malformed one is parked in the dead-letter queue."""
        try:
            return replace(Envelope.from_message(body), consumer=self.handler_key)
        except (KeyError, TypeError):
            log.error("malformed event on %s parked: %r", self.queue_name, body)
            self._park(body, message, "malformed envelope")
            self.queue_consumer.ack_message(message)
            return None

    @property
    def handler_key(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def handle_result(self, message, body, worker_ctx, result=None, exc_info=None):
        service = self.container.service_name
        if exc_info is None:
            metrics.EVENTS_CONSUMED.labels(service, self.method_name, "ok").inc()
            self.queue_consumer.ack_message(message)
            return result, exc_info
        metrics.EVENTS_FAILED.labels(service, self.method_name).inc()
        headers = message.headers or {}
        attempts = int(headers.get(ATTEMPTS_HEADER, 0))
        outages = int(headers.get(OUTAGES_HEADER, 0))
        if is_outage(exc_info[1]):
            outages += 1  # not the event's fault: waits out the outage, never parked for it
            delay = min(config.handler_retry_delay_ms() * 2 ** (outages - 1), OUTAGE_DELAY_MAX_MS)
        else:
            attempts += 1
            delay = config.handler_retry_delay_ms() * 2 ** (attempts - 1)
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        try:
            if attempts < config.handler_max_attempts():
                self._publish(
                    body,
                    exchange="",
                    routing_key=self._retry_queue.name,
                    headers={
                        ATTEMPTS_HEADER: attempts,
                        OUTAGES_HEADER: outages,
                        "x-bpc-error": error[:500],
                    },  # fmt: skip
                    expiration=delay / 1000.0,
                )
                log.warning(
                    "handler %s failed on event %s (attempt %s), retrying in %sms: %s",
                    self.handler_key,
                    body.get("event_id"),
                    attempts,
                    delay,
                    error,
                )
            else:
                self._park(body, message, error, attempts)
        except Exception:  # noqa: BLE001 - could not reroute: let the broker redeliver
            log.exception("could not reroute failed event; requeueing")
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def _park(self, body, message, error: str, attempts: int = 1) -> None:
        self._publish(
            body,
            exchange=DLX,
            routing_key=self.queue_name,
            headers={
                ATTEMPTS_HEADER: attempts,
                "x-bpc-error": error[:500],
                "x-bpc-queue": self.queue_name,
            },
        )
        metrics.EVENTS_DEAD_LETTERED.labels(self.container.service_name, self.queue_name).inc()
        log.error(
            "event %s parked in %s.dlq after %s attempts: %s",
            body.get("event_id") if isinstance(body, dict) else None,
            self.queue_name,
            attempts,
            error,
        )

    def _publish(self, body, **kwargs) -> None:
        with producers[self._connection].acquire(block=True, timeout=10) as producer:
            producer.publish(
                body,
                serializer="json",
                delivery_mode=2,
                retry=True,
                retry_policy={"max_retries": 3},
                **kwargs,
            )


class BatchEventConsumer(EventConsumer):
    def __init__(
        self, source_service: str, event_type: str, having: tuple[str, ...] = (),
        max_batch: int = 100, max_wait: float = 0.01, **kwargs,
    ):  # fmt: skip
        self.max_batch = max_batch
        self.max_wait = max_wait
        super().__init__(source_service, event_type, having, **kwargs)

    def setup(self):
        super().setup()
        self._buffer: list[tuple[Envelope, dict, object]] = []
        self._timer = None

    def handle_message(self, body, message):
        envelope = self._envelope(body, message)
        if envelope is None:
            return
        self._buffer.append((envelope, body, message))
        if len(self._buffer) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = eventlet.spawn_after(self.max_wait, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            self.container.spawn_worker(
                self,
                ([envelope for envelope, _, _ in batch],),
                {},
                context_data={},
                handle_result=partial(self.handle_batch_result, batch),
            )
        except ContainerBeingKilled:
            for _, _, message in batch:
                self.queue_consumer.requeue_message(message)

    def handle_batch_result(self, batch, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            metrics.EVENTS_CONSUMED.labels(self.container.service_name, self.method_name, "ok").inc(
                len(batch)
            )
            for _, _, message in batch:
                self.queue_consumer.ack_message(message)
            return result, exc_info
        if len(batch) == 1:
            ((_, body, message),) = batch
            return self.handle_result(message, body, worker_ctx, result, exc_info)
        log.warning(
            "batch of %s events failed in %s (%s); handling each alone",
            len(batch),
            self.handler_key,
            exc_info[1],
        )
        # from a fresh green thread: this worker gives its slot back before the others start
        eventlet.spawn(self._one_by_one, batch)
        return result, exc_info

    def _one_by_one(self, batch) -> None:
        for envelope, body, message in batch:
            try:
                self.container.spawn_worker(
                    self,
                    ([envelope],),
                    {},
                    context_data={},
                    handle_result=partial(self.handle_result, message, body),
                )
            except ContainerBeingKilled:
                self.queue_consumer.requeue_message(message)


event_consumer = EventConsumer.decorator
batch_event_consumer = BatchEventConsumer.decorator
