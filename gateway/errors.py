"""Errors → HTTP, in one place: every answer that is not a success goes through here."""

from __future__ import annotations

import json
import logging

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.wrappers import Response

from common.errors import BpcError, ServiceUnavailable

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"


class MalformedJson(BpcError):
    status = 400
    code = "malformed_json"
    default_message = "请求体不是 JSON 对象 / Request body is not a JSON object"


class PayloadTooLarge(BpcError):
    status = 413
    code = "payload_too_large"
    default_message = "请求体过大 / Request body too large"


class RouteNotFound(BpcError):
    status = 404
    code = "not_found"
    default_message = "没有这个地址 / No such path"


class MethodNotAllowed(BpcError):
    status = 405
    code = "method_not_allowed"
    default_message = "该地址不支持此方法 / Method not allowed on this path"


class RequestInProgress(BpcError):
    status = 409
    code = "request_in_progress"
    default_message = (
        "相同幂等键的请求正在处理 / A request with this Idempotency-Key is still in progress"
    )


class IdempotencyKeyReused(BpcError):
    status = 422
    code = "idempotency_key_reused"
    default_message = (
        "该幂等键已用于另一个请求 / This Idempotency-Key was used for a different request"
    )


class InternalError(BpcError):
    status = 500
    code = "internal_error"
    default_message = "内部错误 / Internal error"


def json_response(status: int, payload, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type=JSON_TYPE,
    )


def _database_down(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)


def error_body(exc: BaseException) -> tuple[int, dict]:
    """Status and ``{"error": {...}}`` for any exception; anything not a BpcError is a bug."""
    if _database_down(exc):
        # the gateway's own database (Idempotency-Key claims, sessions) restarting or gone:
        # the client is told to retry, as for a service's database
        log.warning("gateway database unavailable: %s", exc)
        exc = ServiceUnavailable("数据库暂时不可用 / Database temporarily unavailable")
    if not isinstance(exc, BpcError) or not 400 <= int(getattr(exc, "status", 0)) <= 599:
        log.error("unexpected error: %r", exc, exc_info=exc)
        exc = InternalError()
    details = exc.details if isinstance(exc.details, dict) else {"detail": exc.details}
    return int(exc.status), {
        "error": {"code": exc.code, "message": exc.message, "details": details}
    }


def error_response(exc: BaseException, headers: dict | None = None) -> Response:
    status, body = error_body(exc)
    wait = body["error"]["details"].get("retry_after")
    if status in (429, 503) and isinstance(wait, int) and wait > 0:
        headers = {**(headers or {}), "Retry-After": str(wait)}
    return json_response(status, body, headers)
