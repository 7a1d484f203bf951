"""The gateway's HTTP layer, independent of nameko: request in, response out.

``Gateway.handle(request, rpc)`` matches the route, authenticates the caller, checks the
level, validates query and body, applies Idempotency-Key, calls the handler and maps every
error to the docs/API.md error body. ``rpc`` is anything with ``call``, ``call_each`` and
``set_actor`` (the nameko ``RpcClient`` in production, a fake in unit tests).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from marshmallow import ValidationError
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.wrappers import Request, Response

from common import clock, config, tokens
from common.actor import Actor
from common.clock import isoformat
from common.errors import Forbidden, Unauthenticated, ValidationFailed
from common.schemas import instance_of
from gateway.api import ROUTES
from gateway.api.system import system_routes
from gateway.errors import (
    IdempotencyKeyReused,
    MalformedJson,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestInProgress,
    RouteNotFound,
    error_response,
    json_response,
)
from gateway.idempotency import MAX_KEY_LENGTH
from gateway.routing import Call, Route, url_map
from gateway.web import secured

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "bpc_http_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "bpc_http_request_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

MAX_BODY = 1024 * 1024
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def request_id(user_id: str, idempotency_key: str | None) -> str:
    """The id every service records a write's answer under (common.db ``command``): a new one
    per request, or the same for every retry under one Idempotency-Key of one user."""
    if idempotency_key is None:
        return "r:" + uuid.uuid4().hex
    digest = hashlib.sha256(f"{user_id}\0{idempotency_key}".encode()).hexdigest()
    return "k:" + digest[:40]


HEALTH_TIMEOUT = 2.0


def actor_cache_ttl() -> float:
    return float(os.environ.get("BPC_ACTOR_CACHE_TTL", "2"))


def _jsonable(value):
    """Loaded schema data back to JSON types (dates → ``YYYY-MM-DD``, times → RFC 3339)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class ActorCache:
    """org's ``resolve_actor`` answers per user, kept for a short TTL."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, dict]] = {}

    def get(self, user_id: str) -> dict | None:
        entry = self._entries.get(user_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, user_id: str, resolved: dict, asked_at: float | None = None) -> None:
        """Kept ``ttl`` seconds from when org was asked (``time.monotonic()`` before the call):
        a change committed after org read the row is seen here within ``ttl`` of the commit,
        however slow the answer was — what signing out relies on (``wait_out``)."""
        if self.ttl > 0:
            if len(self._entries) > 10000:
                self._entries.clear()
            since = time.monotonic() if asked_at is None else asked_at
            self._entries[user_id] = (since + self.ttl, resolved)

    def wait_out(self) -> None:
        """Returns once every answer cached before this moment, in any gateway process with
        the same TTL, has expired (green sleep in the nameko gateway)."""
        if self.ttl > 0:
            time.sleep(self.ttl + 0.05)

    def drop_user(self, user_id: str) -> None:
        """Forget every cached answer of the user (one per session)."""
        prefix = f"{user_id}/"
        for key in [k for k in self._entries if k.startswith(prefix)]:
            self._entries.pop(key, None)


class RecentChanges:
    """What each caller changed in the last ``BPC_FRESH_WINDOW`` seconds (fact kind, record id,
    when the change was sent), passed on with their next requests (``common.actor.Freshness``):
    a service whose projection of such a record is older asks the owner first, so that a
    client's next click sees what it was just told (read-your-writes)."""

    kept = 8  # changes per caller

    def __init__(self, window: float | None = None):
        self.window = window if window is not None else fresh_window()
        self._changes: dict[str, dict[tuple[str, str], tuple[float, str]]] = {}

    def record(self, user_id: str, kind: str, record_id: str, sent: str) -> None:
        if self.window <= 0:
            return
        if len(self._changes) > 10000:
            self._changes.clear()
        mine = self._changes.setdefault(user_id, {})
        mine.pop((kind, str(record_id)), None)
        mine[(kind, str(record_id))] = (time.monotonic() + self.window, sent)
        while len(mine) > self.kept:  # a burst of changes: the next clicks concern the last ones
            del mine[next(iter(mine))]

    def of(self, user_id: str) -> list[list[str]]:
        mine = self._changes.get(user_id)
        if not mine:
            return []
        now = time.monotonic()
        for key in [k for k, (until, _) in mine.items() if until < now]:
            del mine[key]
        return [[kind, record_id, sent] for (kind, record_id), (_, sent) in mine.items()]


def fresh_window() -> float:
    return float(os.environ.get("BPC_FRESH_WINDOW", "30"))


class TokenCache:
    """Tokens already verified: the signature is checked once, the expiry on every use.

    ``common.tokens.verified_claims`` reads the signing key and checks an HMAC; a client sends
    the same token on every request, so its verdict is kept for a minute (never past the
    expiry). Whether its session still lives is the actor's business (``Gateway.authenticate``).
    """

    keep_for = 60.0

    def __init__(self):
        self._entries: dict[str, tuple[float, float, TokenClaims]] = {}

    def claims(self, token: str) -> TokenClaims:
        entry = self._entries.get(token)
        now = clock.now().timestamp()  # the one clock: BPC_CLOCK_OFFSET moves tokens too
        if entry is not None and now < entry[0] and now < entry[1]:
            return entry[2]
        claims = tokens.verified_claims(token)
        kept = TokenClaims(str(claims["sub"]), int(claims.get("gen") or 0), claims.get("sid"))
        if len(self._entries) > 10000:
            self._entries.clear()
        self._entries[token] = (now + self.keep_for, float(claims["exp"]), kept)
        return kept


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    generation: int  # the user's token generation when it was issued
    session_id: str | None  # its session (tokens made by tools have none)


SIGNED_OUT = "已退出登录，请重新登录 / Signed out: please sign in again"


def actor_from(resolved: dict) -> Actor:
    return Actor(
        id=str(resolved["id"]),
        level=int(resolved["level"]),
        org_unit_id=resolved.get("org_unit_id"),
        path=[str(p) for p in resolved.get("path") or []],
        name=resolved.get("name") or "",
    )


EARLIEST, LATEST = date(1901, 1, 1), date(2099, 12, 31)  # every date a client may send
NUL = "包含非法字符 (NUL) / Contains an invalid character (NUL)"
UNENCODABLE = "包含无法编码的字符 / Contains a character that cannot be encoded (UTF-8)"
OUT_OF_RANGE = "日期须在 1901-01-01 与 2099-12-31 之间 / A date between 1901-01-01 and 2099-12-31"
REVERSED = "开始日期不能晚于结束日期 / 'from' must not be after 'to'"


def _text_problem(text: str) -> str | None:
    if "\x00" in text:  # no database stores NUL in text; PostgreSQL refuses it outright
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone UTF-16 surrogate ("\ud800") from JSON
            return UNENCODABLE
    return None


def _printable(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def input_problems(value, path: str = "") -> dict[str, list[str]]:
    """What no service can take, wherever it stands in a request's input (keys included):
    text with NUL or that cannot be encoded, a date outside 1901–2099; by field."""
    found: dict[str, list[str]] = {}
    if isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            found[path or "_schema"] = [problem]
    elif isinstance(value, date):  # (a datetime is a date)
        if not EARLIEST <= (value.date() if isinstance(value, datetime) else value) <= LATEST:
            found[path or "_schema"] = [OUT_OF_RANGE]
    elif isinstance(value, dict):
        for key, item in value.items():
            name = _printable(str(key))
            where = f"{path}.{name}" if path else name
            if isinstance(key, str) and _text_problem(key):
                found[where] = [_text_problem(key)]
            found.update(input_problems(item, where))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.update(input_problems(item, f"{path}.{i}"))
    return found


def _range_problems(loaded: dict) -> dict[str, list[str]]:
    """A range whose start is after its end (``from`` and ``to`` of a query)."""
    start, end = loaded.get("from_", loaded.get("from")), loaded.get("to")
    if isinstance(start, date) and isinstance(end, date) and type(start) is type(end):
        if start > end:
            return {"from": [REVERSED]}
    return {}


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("缺少令牌 / Missing bearer token")
    return token.strip()


class Gateway:
    def __init__(self, routes: list[Route] | None = None, cache_ttl: float | None = None):
        self.routes = list(routes if routes is not None else ROUTES) + system_routes()
        self.url_map = url_map(self.routes)
        # one adapter serves every request: matching needs only the path and the method
        self._adapter = self.url_map.bind("gateway")
        self.tokens = TokenCache()
        self.actors = ActorCache(actor_cache_ttl() if cache_ttl is None else cache_ttl)
        self.recent = RecentChanges()
        self._openapi: str | None = None
        self.store = None  # an IdempotencyStore; without one Idempotency-Key is ignored

    # ---- entry ---------------------------------------------------------------------------

    def handle(self, request: Request, rpc) -> Response:
        started = time.perf_counter()
        label = "unmatched"
        try:
            try:
                route, path_args = self._adapter.match(request.path, request.method)
            except WerkzeugNotFound:
                raise RouteNotFound() from None
            except WerkzeugMethodNotAllowed as exc:
                allowed = self._methods_matching(request.path, exc.valid_methods or [])
                if not allowed:  # e.g. an id no row can have: no method would match it
                    raise RouteNotFound() from None
                raise MethodNotAllowed(details={"allowed": allowed}) from None
            label = route.path
            response = self._serve(route, path_args, request, rpc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error body
            response = error_response(exc)
            if isinstance(exc, MethodNotAllowed):
                response.headers["Allow"] = ", ".join(exc.details.get("allowed", []))
        HTTP_REQUESTS.labels(request.method, label, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, label).observe(time.perf_counter() - started)
        return secured(response)

    def _methods_matching(self, path: str, methods) -> list[str]:
        """The methods whose route matches ``path`` with its parameters converted: werkzeug
        offers a method whose path only looks alike (``/users/2147483648``: no valid id)."""
        found = []
        for method in methods:
            try:
                self._adapter.match(path, method)
            except (WerkzeugNotFound, WerkzeugMethodNotAllowed):
                continue
            found.append(method)
        return sorted(found)

    def _serve(self, route: Route, path_args: dict, request: Request, rpc) -> Response:
        call = Call(rpc=rpc, actor=None, path=path_args, gateway=self, client=request.remote_addr,
                    agent=request.headers.get("User-Agent"))  # fmt: skip
        if route.auth:
            call.resolved, call.actor = self.authenticate(request, rpc, fresh=route.fresh_actor)
            call.session_id = call.resolved.get("_session_id")
            if call.resolved.get("must_change_password") and not route.before_password_change:
                raise Forbidden(
                    "请先修改临时密码 / Change your temporary password first",
                    code="password_change_required",
                )
            call.actor.require_level(route.min_level)
            rpc.set_actor(call.actor)
            changes = self.recent.of(call.actor.id)
            if changes:
                rpc.set_fresh(json.dumps(changes, separators=(",", ":")))
        if route.query is not None:
            call.query = self._load(route.query, request.args.to_dict(flat=True))
        if route.request is not None:
            if _all_optional(route.request) and not self._raw_body(request).strip():
                body = {}  # e.g. POST …/advance with no note: nothing to say is not malformed
            else:
                body = self._json_body(request)
            call.body = self._load(route.request, body)
        elif request.method in ("POST", "PUT", "PATCH"):
            self._no_body_expected(request)
        key = request.headers.get("Idempotency-Key")
        if route.auth and request.method in WRITES:
            rpc.set_request(request_id(call.actor.id, key))
        if key is not None and route.idempotent_post and self.store is not None:
            return self._idempotent(route, call, request, self.store, key)
        return self._respond(route, call)

    def _respond(self, route: Route, call: Call) -> Response:
        sent = clock.isoformat_exact(clock.now())
        result = route.handler(call)
        if route.changes and isinstance(result, dict) and result.get("id"):
            self.recent.record(call.actor.id, route.changes, result["id"], sent)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload = result
            return json_response(status, payload)
        return json_response(route.status, result)

    # ---- auth ----------------------------------------------------------------------------

    def authenticate(self, request: Request, rpc, fresh: bool = False) -> tuple[dict, Actor]:
        """The caller of a valid token whose session lives and whose generation is the user's
        (docs/DOMAIN.md §1 "Passwords and sessions"); org's answer is cached per user and
        session for ``BPC_ACTOR_CACHE_TTL`` seconds."""
        claims = self.tokens.claims(_bearer(request))
        key = f"{claims.user_id}/{claims.session_id or ''}"
        resolved = None if fresh else self.actors.get(key)
        if resolved is not None and resolved.get("generation", 0) != claims.generation:
            resolved = None  # a token newer than the cached answer (a changed password): ask
        if resolved is None:
            asked_at = time.monotonic()
            session = {"session_id": claims.session_id} if claims.session_id else {}
            resolved = rpc.call("org", "resolve_actor", user_id=claims.user_id, **session)
            if not resolved or resolved.get("active") is False:
                raise Unauthenticated("用户已停用 / User is inactive")
            resolved = {**resolved, "_session_id": claims.session_id}
            self.actors.put(key, resolved, asked_at)
        if resolved.get("generation", 0) != claims.generation or \
                resolved.get("session_live") is False:  # fmt: skip
            raise Unauthenticated(SIGNED_OUT, code="signed_out")
        return resolved, actor_from(resolved)

    def forget_actor(self, user_id: str) -> None:
        self.actors.drop_user(str(user_id))

    # ---- input ---------------------------------------------------------------------------

    @staticmethod
    def _load(schema_cls, data) -> dict:
        problems = input_problems(data)  # (before the schema: its messages would quote them)
        if problems:
            raise ValidationFailed(details=problems)
        schema = instance_of(schema_cls)
        try:
            loaded = schema.load(data)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            raise ValidationFailed(details=messages) from None
        problems = input_problems(loaded) or _range_problems(loaded)
        if problems:  # named as the client names them (``from``, not ``from_``)
            named = {}
            for where, messages in problems.items():
                head, dot, rest = where.partition(".")
                field = schema.fields.get(head)
                named[((field.data_key or head) if field else head) + dot + rest] = messages
            raise ValidationFailed(details=named)
        return _jsonable(loaded)

    @staticmethod
    def _raw_body(request: Request) -> bytes:
        length = request.content_length
        if length is not None and length > MAX_BODY:
            raise PayloadTooLarge(details={"max_bytes": MAX_BODY})
        raw = request.get_data(cache=True)
        if len(raw) > MAX_BODY:
            raise PayloadTooLarge(details={"max_bytes": MAX_BODY})
        return raw

    def _json_body(self, request: Request) -> dict:
        raw = self._raw_body(request)
        try:
            body = json.loads(raw.decode("utf-8"))
        except Exception:  # noqa: BLE001 - any undecodable body is the client's mistake
            raise MalformedJson() from None
        if not isinstance(body, dict):
            raise MalformedJson()
        return body

    def _no_body_expected(self, request: Request) -> None:
        raw = self._raw_body(request)
        if not raw.strip():
            return
        body = self._json_body(request)
        if body:
            raise ValidationFailed(details={k: ["未知字段 / Unknown field."] for k in body})

    # ---- Idempotency-Key -----------------------------------------------------------------

    def _idempotent(self, route: Route, call: Call, request: Request, store, key: str):
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise ValidationFailed(
                details={
                    "Idempotency-Key": [
                        f"长度须为 1–{MAX_KEY_LENGTH} / Must be 1 to {MAX_KEY_LENGTH} characters"
                    ]
                }
            )
        user_id = call.actor.id
        claim = store.claim(user_id, key, request.method, request.path)
        if claim.outcome == "replay":
            return Response(
                claim.body,
                status=claim.status,
                content_type="application/json; charset=utf-8",
                headers={"Idempotent-Replayed": "true"},
            )
        if claim.outcome == "in_progress":
            raise RequestInProgress(details={"idempotency_key": key})
        if claim.outcome == "mismatch":
            raise IdempotencyKeyReused(details={"idempotency_key": key})
        call.idempotency_key = key  # a handler may pass it on (a work-log entry records once)
        try:
            response = self._respond(route, call)
        except Exception as exc:  # noqa: BLE001 - kept (4xx) or released (5xx), then raised
            response = error_response(exc)
        if response.status_code >= 500:
            store.release(user_id, key)
        else:
            store.complete(user_id, key, response.status_code, response.get_data(as_text=True))
        return response

    # ---- system endpoints ----------------------------------------------------------------

    def health(self, rpc) -> tuple[int, dict]:
        answers = rpc.call_each(
            {name: (name, "health") for name in config.SERVICES}, HEALTH_TIMEOUT
        )
        services = {}
        for name in config.SERVICES:
            answer = answers.get(name)
            ok = isinstance(answer, dict) and answer.get("status") == "ok"
            services[name] = "ok" if ok else "down"
        healthy = all(v == "ok" for v in services.values())
        return (200 if healthy else 503), {
            "status": "ok" if healthy else "degraded",
            "services": services,
        }

    def openapi_text(self) -> str:
        if self._openapi is None:
            from gateway.openapi import build_spec

            self._openapi = json.dumps(build_spec(self.routes), ensure_ascii=False)
        return self._openapi


def _all_optional(schema_cls) -> bool:
    return not any(f.required for f in instance_of(schema_cls).fields.values())
