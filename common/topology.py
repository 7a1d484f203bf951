"""Broker topology: declared before any service starts, by the run command and deploy jobs.

Every producer's topic exchange, every consumer's durable queue with its retry and
dead-letter queues, the dead-letter exchange and nameko's RPC exchange (a request published
before any service has declared it would be dropped, and its channel closed). Consumers are
discovered from the service classes themselves, so a new ``@event_consumer`` is declared
without a second list to edit.
"""

from __future__ import annotations

import importlib
import inspect

import kombu
from nameko.rpc import get_rpc_exchange

from common import config
from common.consumer import DLX, EventConsumer, declare_family, queue_family
from common.events import exchange_name

SERVICE_CLASSES = {name: f"services.{name}.service" for name in config.SERVICES}


def service_class(name: str):
    module = importlib.import_module(SERVICE_CLASSES[name])
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if getattr(obj, "name", None) == name and obj.__module__ == module.__name__:
            return obj
    raise LookupError(f"no service class named {name!r} in {module.__name__}")


def consumers(service: str):
    """(source, event_type, method, binding) of every event consumer of a service."""
    cls = service_class(service)
    found = []
    for method_name, method in inspect.getmembers(cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventConsumer):
                found.append(
                    (
                        entrypoint.source_service,
                        entrypoint.event_type,
                        method_name,
                        entrypoint.binding,
                    )
                )
    return found


def queue_families(services=config.SERVICES) -> list[tuple[str, list[kombu.Queue]]]:
    """(event type, [main, retry, dead-letter queue]) of every consumer."""
    return [
        (event_type, queue_family(source, event_type, service, method, binding))
        for service in services
        for source, event_type, method, binding in consumers(service)
    ]


def all_queues(services=config.SERVICES) -> list[kombu.Queue]:
    return [queue for _, family in queue_families(services) for queue in family]


def declare(services=config.SERVICES, uri: str | None = None) -> dict:
    with kombu.Connection(uri or config.amqp_uri()) as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.default_channel
        for service in config.SERVICES:
            kombu.Exchange(exchange_name(service), type="topic", durable=True)(channel).declare()
        kombu.Exchange(DLX, type="direct", durable=True)(channel).declare()
        get_rpc_exchange({})(channel).declare()
        families = queue_families(services)
        for event_type, family in families:
            declare_family(channel, family, event_type)
    return {"exchanges": len(config.SERVICES) + 2, "queues": sum(len(f) for _, f in families)}
