"""The gateway Nameko service: the one HTTP front door (run by ``python -m ops.runner gateway``).

One catch-all HTTP entrypoint hands every request to ``gateway.app.Gateway``, which routes
it through the route table; unknown paths and methods get the API's JSON errors, not
werkzeug's HTML.
"""

from __future__ import annotations

import os
import threading

from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from werkzeug.datastructures import ImmutableDict
from werkzeug.routing import Map, PathConverter, Rule

from common.db import Database, DatabaseProvider
from common.errors import ServiceUnavailable
from common.rpc import TimedRpc
from gateway.app import Gateway
from gateway.errors import error_response
from gateway.idempotency import IdempotencyStore
from gateway.models import Base
from gateway.web import secured, static_response


class EveryPath(PathConverter):
    """Werkzeug's path converter stops at a line break (``.`` does not match it), so a path
    with ``%0A`` missed the catch-all and got werkzeug's HTML 404; this one takes every
    character, and the gateway answers such a path with the API's JSON 404 like any other."""

    regex = "[^/][\\s\\S]*?"


# nameko builds its URL map with werkzeug's defaults: the catch-all's converter joins them
Map.default_converters = ImmutableDict({**Map.default_converters, "everypath": EveryPath})

LOGIN_PATH = "/api/v1/auth/login"
LOGIN_WAIT = 30.0  # seconds a sign-in may wait for its turn before it is told to retry


class AnyMethod(HttpRequestHandler):
    """An HTTP entrypoint that matches every method: the gateway answers 405 itself.

    Sign-ins take their turn before they take a worker: each costs a password check in org
    (about 150 ms of CPU, a few at a time), and a flood of them waiting in workers would leave
    none for the other requests. At most ``BPC_GATEWAY_LOGINS`` (4) sign-ins of this process
    hold a worker; the others wait here, in the HTTP server's green thread, up to 30 seconds
    (then 503 with Retry-After) — and their clients wait with them, instead of coming back a
    thousand times a second.
    """

    def __init__(self, url, **kwargs):
        super().__init__("GET", url, **kwargs)

    def setup(self):
        super().setup()
        self.logins = threading.BoundedSemaphore(int(os.environ.get("BPC_GATEWAY_LOGINS", "4")))

    def handle_request(self, request):
        if request.method != "POST" or request.path != LOGIN_PATH:
            return super().handle_request(request)
        if not self.logins.acquire(timeout=LOGIN_WAIT):
            return secured(error_response(ServiceUnavailable(
                "登录请求过多，请稍后重试 / Too many sign-ins at this moment; retry shortly",
                {"retry_after": 1},
            )))  # fmt: skip
        try:
            return super().handle_request(request)
        finally:
            self.logins.release()

    def get_url_rule(self):
        return Rule(self.url, methods=None)

    def response_from_exception(self, exc):
        """What nameko answers when no worker could run: a container being killed (its broker
        connection lost, it stops and ``bpc run`` starts it again) is a 503 to retry, in the
        API's JSON like every other error — never nameko's plain-text 500."""
        if isinstance(exc, ContainerBeingKilled):
            exc = ServiceUnavailable("网关正在重启，请重试 / The gateway is restarting; retry")
        return secured(error_response(exc))


http_any = AnyMethod.decorator


class GatewayApp(DependencyProvider):
    """The one ``Gateway`` of this process: route table, OpenAPI text, actor cache, and the
    Idempotency-Key store over the gateway's own database."""

    def setup(self):
        self.gateway = Gateway()

    def start(self):
        # every extension is set up by now, so the database engine exists
        db = next(d for d in self.container.dependencies if isinstance(d, DatabaseProvider))
        self.gateway.store = IdempotencyStore(db.engine)

    def get_dependency(self, worker_ctx) -> Gateway:
        return self.gateway


class GatewayService:
    name = "gateway"

    db = Database(Base)
    rpc = TimedRpc()
    app = GatewayApp()

    @http_any("/<everypath:path>")
    def serve(self, request, path):
        """Anyone over HTTP; authentication and levels are checked per route by the app. The
        web workbench's built files are served as they are (gateway/web.py)."""
        return static_response(path, request.method) or self.app.handle(request, self.rpc)

    @http_any("/")
    def serve_root(self, request):
        """Anyone over HTTP: the web workbench (404 JSON when it was not built)."""
        return static_response("", request.method) or self.app.handle(request, self.rpc)
