"""Test doubles for the gateway's HTTP layer: a fake RPC client and a WSGI wrapper, so routing,
validation, auth and error mapping are tested with werkzeug's test client and no broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Request

from common.actor import Actor
from gateway.app import Gateway


class FakeRpc:
    """Answers ``(service, method)`` from a table of values, callables or exceptions."""

    def __init__(self, answers: dict[tuple[str, str], Any] | None = None):
        self.answers = dict(answers or {})
        self.calls: list[tuple[str, str, dict]] = []
        self.actor: Actor | None = None
        self.request_id: str | None = None
        self.request_ids: list[str | None] = []  # the request id each call carried
        self.fresh: str | None = None  # the caller's recent changes, as the gateway passes them

    def set_actor(self, actor: Actor) -> None:
        self.actor = actor

    def set_request(self, request_id: str) -> None:
        self.request_id = request_id

    def set_fresh(self, changes: str) -> None:
        self.fresh = changes

    def call(self, service: str, method: str, **kwargs):
        self.calls.append((service, method, kwargs))
        self.request_ids.append(self.request_id)
        answer = self.answers[(service, method)]
        if isinstance(answer, BaseException):
            raise answer
        return answer(**kwargs) if callable(answer) else answer

    def call_each(self, calls: dict[str, tuple], timeout: float) -> dict:
        results = {}
        for key, (service, method, *kwargs) in calls.items():
            try:
                results[key] = self.call(service, method, **(kwargs[0] if kwargs else {}))
            except Exception as exc:  # noqa: BLE001
                results[key] = exc
        return results

    def methods_called(self) -> list[str]:
        return [f"{service}.{method}" for service, method, _ in self.calls]


def wsgi(gateway: Gateway, rpc_factory: Callable[[], Any]):
    """A WSGI app running ``gateway`` with a fresh RPC client per request, as nameko does."""

    def app(environ, start_response):
        return gateway.handle(Request(environ), rpc_factory())(environ, start_response)

    return app


def client(gateway: Gateway, rpc: FakeRpc) -> Client:
    return Client(wsgi(gateway, lambda: rpc))
