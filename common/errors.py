"""Errors are types, raised where the rule lives and mapped to HTTP once, in the gateway.

Every error a service raises on purpose derives from ``BpcError`` and carries a machine code,
a human message (Chinese first, then English) and details. They are registered with nameko's
remote-error registry, so the gateway receives the same type back from an RPC call.
"""

from __future__ import annotations

import json

from nameko.exceptions import deserialize_to_instance as _remote


class BpcError(Exception):
    status = 400
    code = "bad_request"
    default_message = "请求无效 / Bad request"

    def __init__(
        self, message: str | None = None, details: dict | str | None = None, code: str | None = None
    ):
        self.message = message or self.default_message
        # nameko stringifies numbers inside exception args, so details travel as JSON text
        self.details = json.loads(details) if isinstance(details, str) else (details or {})
        if code:
            self.code = code
        super().__init__(self.message, json.dumps(self.details, ensure_ascii=False), self.code)


@_remote
class ValidationFailed(BpcError):
    status = 422
    code = "validation_failed"
    default_message = "输入校验失败 / Validation failed"


@_remote
class BusinessRuleViolated(BpcError):
    """A 422 with its own code (not_feasible, day_limit_exceeded, ...)."""

    status = 422
    code = "rule_violated"
    default_message = "违反业务规则 / Business rule violated"


@_remote
class Unauthenticated(BpcError):
    status = 401
    code = "unauthenticated"
    default_message = "未登录或令牌无效 / Not authenticated"


@_remote
class Forbidden(BpcError):
    status = 403
    code = "forbidden"
    default_message = "无权执行此操作 / Not allowed"


@_remote
class NotFound(BpcError):
    status = 404
    code = "not_found"
    default_message = "未找到 / Not found"


@_remote
class Conflict(BpcError):
    status = 409
    code = "conflict"
    default_message = "与当前状态冲突 / Conflicts with current state"


@_remote
class DuplicateCustomer(Conflict):
    code = "duplicate_customer"
    default_message = "该客户已登记 / This customer is already registered"


@_remote
class QuotaExceeded(BpcError):
    status = 429
    code = "quota_exceeded"
    default_message = "今日额度已用完 / Daily quota exhausted"


@_remote
class TooManyAttempts(BpcError):
    """Too many failed logins: try again after ``details["retry_after"]`` seconds (the
    gateway's ``Retry-After``)."""

    status = 429
    code = "too_many_attempts"
    default_message = "登录失败次数过多，请稍后再试 / Too many failed logins; try again later"


@_remote
class Immutable(BpcError):
    status = 405
    code = "immutable"
    default_message = "不可修改 / Cannot be changed"


@_remote
class Locked(BpcError):
    """An opportunity is locked to its holder: never deleted, abandoned or handed to a peer."""

    status = 405
    code = "locked"
    default_message = (
        "商机已锁定，不能删除、放弃或转给同事 / "
        "An opportunity is locked: it cannot be deleted, abandoned or handed to a peer"
    )


@_remote
class ServiceUnavailable(BpcError):
    status = 503
    code = "service_unavailable"
    default_message = "服务暂时不可用 / Service unavailable"
