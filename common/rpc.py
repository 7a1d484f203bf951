"""RPC with a time bound (the gateway; a service asking another): nameko's reply listener and
method proxy, waited on inside ``eventlet.Timeout``. A service that does not answer in time is
``ServiceUnavailable``.

Remote errors come back as the ``common.errors`` types they were raised as (they register
with nameko's ``deserialize_to_instance``); a subclass a service declares in its own
``exceptions`` module is found by importing it, so it keeps its status and code too.
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid

import eventlet
from nameko.constants import AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER, SERIALIZER_CONFIG_KEY
from nameko.exceptions import RemoteError, registry
from nameko.extensions import DependencyProvider
from nameko.messaging import HeaderEncoder
from nameko.rpc import ReplyListener, get_rpc_exchange

from common import config
from common.actor import CONTEXT_KEY, FRESH_KEY, REQUEST_KEY, Actor
from common.amqp import publish_transient
from common.errors import BpcError, ServiceUnavailable

log = logging.getLogger(__name__)


def _unavailable(service: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"服务 {service} 暂时不可用 / Service {service} did not answer in time",
        {"service": service},
    )


def remote_exception(error: dict) -> Exception:
    """The exception a service raised, rebuilt from nameko's serialised form."""
    path = error.get("exc_path") or ""
    args = error.get("exc_args") or ()
    cls = registry.get(path)
    if cls is None and path.startswith(("services.", "common.")):
        module, _, name = path.rpartition(".")
        try:
            candidate = getattr(importlib.import_module(module), name, None)
        except Exception:  # noqa: BLE001 - an unknown module is a RemoteError like any other
            candidate = None
        if isinstance(candidate, type) and issubclass(candidate, BpcError):
            cls = candidate
    if cls is not None:
        try:
            return cls(*args)
        except Exception:
            log.exception("cannot rebuild remote error %s%r", path, args)
    if path.startswith("sqlalchemy.exc.") and error.get("exc_type") in DATABASE_DOWN:
        # a service's database refused or lost the connection (too many clients, restarting)
        # where no handler said so itself: the caller is told to retry, as for a locked one
        log.warning("database unavailable behind a service: %s", error.get("value"))
        return ServiceUnavailable("数据库暂时不可用 / Database temporarily unavailable")
    return RemoteError(exc_type=error.get("exc_type"), value=error.get("value"))


DATABASE_DOWN = {"OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError"}


class PendingCall:
    def __init__(self, service: str, method: str, correlation_id: str, reply_event):
        self.service = service
        self.method = method
        self.correlation_id = correlation_id
        self.reply_event = reply_event


class RpcClient:
    """What a gateway worker sees: ``call(service, method, **kwargs)`` and friends.

    Requests are published the way nameko's ``MethodProxy`` does (same exchange, routing key,
    reply queue and context headers, so services see an ordinary nameko RPC) but without
    publisher confirms and without the ``mandatory`` flag: the time bound already turns a
    lost request or a service with no running instance into 503, and a confirm per request
    cost about a sixth of the gateway's throughput. Requests are transient messages: one that
    outlives its time bound is useless, so RabbitMQ need not write it to disk.
    """

    def __init__(self, worker_ctx, provider: TimedRpc):
        self.worker_ctx = worker_ctx
        self.provider = provider
        self.listener = provider.reply_listener
        self.timeout = provider.timeout

    def set_actor(self, actor: Actor) -> None:
        """Every RPC this worker makes from now on carries the actor as a header."""
        self.worker_ctx.data[CONTEXT_KEY] = actor.to_header()

    def set_fresh(self, changes: str) -> None:
        """Every RPC this worker makes from now on says what the caller changed lately
        (``common.actor.Freshness``, as JSON)."""
        self.worker_ctx.data[FRESH_KEY] = changes

    def set_request(self, request_id: str) -> None:
        """Every RPC this worker makes from now on carries the request's id: a service that
        receives the same request again (redelivered, retried) answers it from its record."""
        self.worker_ctx.data[REQUEST_KEY] = request_id

    def _start(self, service: str, method: str, kwargs: dict) -> PendingCall:
        correlation_id = str(uuid.uuid4())
        reply_event = self.listener.get_reply_event(correlation_id)
        try:
            publish_transient(
                self.provider.amqp_uri,
                {"args": (), "kwargs": kwargs},
                serializer=self.provider.serializer,
                exchange=self.provider.exchange,
                declare=[self.provider.exchange],  # (once a connection: kombu remembers)
                routing_key=f"{service}.{method}",
                reply_to=self.listener.routing_key,
                correlation_id=correlation_id,
                headers=self.provider.get_message_headers(self.worker_ctx),
            )
        except Exception as exc:  # broker unreachable and the like
            self.listener._reply_events.pop(correlation_id, None)
            log.warning("rpc %s.%s not sent: %r", service, method, exc)
            raise _unavailable(service) from exc
        return PendingCall(service, method, correlation_id, reply_event)

    def _finish(self, pending: PendingCall, seconds: float):
        timer = eventlet.Timeout(max(seconds, 0.001))
        try:
            body = pending.reply_event.wait()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            self.listener._reply_events.pop(pending.correlation_id, None)
            log.warning("rpc %s.%s timed out", pending.service, pending.method)
            raise _unavailable(pending.service) from None
        finally:
            timer.cancel()
        error = body.get("error")
        if error:
            raise remote_exception(error)
        return body.get("result")

    def call(self, service: str, method: str, **kwargs):
        return self.call_within(self.timeout, service, method, **kwargs)

    def call_within(self, seconds: float, service: str, method: str, **kwargs):
        """``call`` bounded by ``seconds`` instead of the configured RPC timeout."""
        deadline = time.monotonic() + seconds
        timer = eventlet.Timeout(seconds)
        try:
            pending = self._start(service, method, kwargs)
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            raise _unavailable(service) from None
        finally:
            timer.cancel()
        return self._finish(pending, deadline - time.monotonic())

    def call_each(self, calls: dict[str, tuple], timeout: float) -> dict:
        """Several calls at once, all within ``timeout``: key → result or the exception.
        A call is ``(service, method)`` or ``(service, method, kwargs)``."""
        deadline = time.monotonic() + timeout
        pending: dict[str, PendingCall | Exception] = {}
        for key, (service, method, *kwargs) in calls.items():
            timer = eventlet.Timeout(max(deadline - time.monotonic(), 0.001))
            try:
                pending[key] = self._start(service, method, kwargs[0] if kwargs else {})
            except eventlet.Timeout as exc:
                if exc is not timer:
                    raise
                pending[key] = _unavailable(service)
            except Exception as exc:  # noqa: BLE001 - reported per call
                pending[key] = exc
            finally:
                timer.cancel()
        results: dict = {}
        for key, item in pending.items():
            if isinstance(item, Exception):
                results[key] = item
                continue
            try:
                results[key] = self._finish(item, deadline - time.monotonic())
            except Exception as exc:  # noqa: BLE001 - reported per call
                results[key] = exc
        return results


class TimedRpc(DependencyProvider, HeaderEncoder):
    """``rpc = TimedRpc()`` → ``self.rpc.call("org", "resolve_actor", user_id=...)``."""

    reply_listener = ReplyListener()

    def setup(self):
        self.timeout = config.rpc_timeout()
        self.exchange = get_rpc_exchange(self.container.config)
        self.amqp_uri = self.container.config[AMQP_URI_CONFIG_KEY]
        self.serializer = self.container.config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER)

    def get_dependency(self, worker_ctx) -> RpcClient:
        return RpcClient(worker_ctx, self)
