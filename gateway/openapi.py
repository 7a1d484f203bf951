"""The OpenAPI 3 document, generated from the route table and its marshmallow schemas."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway import schemas as s
from gateway.routing import Route, path_pattern

ERROR_TEXT = {
    400: "请求体不是 JSON 对象 / Body is not a JSON object (malformed_json)",
    401: "未认证 / No, bad or expired token, bad credentials (unauthenticated)",
    403: "级别或归属不允许 / Level or ownership does not allow it (forbidden)",
    404: "未找到或不可见 / Not found or not visible (not_found)",
    405: "不可修改 / Cannot be changed this way",
    409: "与当前状态冲突 / Conflicts with current state",
    413: "请求体过大 / Body too large (payload_too_large)",
    414: "地址过长（超过 8 KB），由 HTTP 服务器拒绝，无正文 / Request line over 8 KB, refused by "
    "the HTTP server before the API, without a body",
    422: "校验或业务规则失败 / Validation or business rule failed (details: field → messages)",
    429: "额度已用完 / Quota exhausted (quota_exceeded)",
    503: "服务未及时应答 / A service did not answer in time (service_unavailable)",
}

COMPONENTS = [
    s.Error,
    s.Health,
    s.LoginRequest,
    s.LoginResult,
    s.User,
    s.UserPage,
    s.CreateUnitRequest,
    s.Unit,
    s.CreateUserRequest,
    s.UpdateUserRequest,
    s.AuditEntry,
    s.AuditPage,
    s.ContactRequest,
    s.RegisterCustomerRequest,
    s.Contact,
    s.Customer,
    s.CustomerPage,
    s.Owner,
    s.CheckMatch,
    s.CheckResult,
    s.ErrorDetail,
]


def _error_statuses(route: Route) -> list[int]:
    statuses = set(route.errors)
    if route.auth:
        statuses |= {401, 503}
    if route.min_level > 1:
        statuses.add(403)
    if route.request is not None:
        statuses |= {400, 413, 422}
    if route.query is not None or route.path_params:
        statuses.add(422 if route.query is not None else 404)
    if route.query is not None:  # a query string can make the request line too long
        statuses.add(414)
    if route.idempotent_post:
        statuses |= {409, 422}
    return sorted(statuses)


def _operation(route: Route) -> dict:
    success: dict = {"description": {201: "Created", 202: "Accepted"}.get(route.status, "OK")}
    if route.content_type == "application/json":
        if route.response is not None:
            success["content"] = {"application/json": {"schema": route.response}}
        else:
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
    else:  # text: one type, or several a query chooses among (the handbook's format)
        types = route.content_type.split(",")
        success["content"] = {t.strip(): {"schema": {"type": "string"}} for t in types}
    # a route that may answer 405 can never change its resource this way (docs/API.md: 405):
    # its only answers are refusals, so no success is published for it
    responses = {} if 405 in route.errors else {str(route.status): success}
    for status in _error_statuses(route):
        responses[str(status)] = {"description": ERROR_TEXT.get(status, "error")}
        if status != 414:  # (the HTTP server's refusal has no body)
            responses[str(status)]["content"] = {"application/json": {"schema": "Error"}}
    parameters: list[dict] = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "string", "pattern": path_pattern(name)},
        }
        for name in route.path_params
    ]
    if route.query is not None:
        parameters.append({"in": "query", "schema": route.query})
    if route.idempotent_post:
        parameters.append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "description": "同一用户 24 小时内重复提交返回首次结果 / "
                "The same key from the same user within 24 h returns the first answer",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    operation: dict = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.handler.__name__.strip('_')}",
        "tags": [route.tag],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if route.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.request}},
        }
    operation["security"] = [{"bearerAuth": []}] if route.auth else []
    if route.min_level > 1:
        operation["description"] = f"需要 {route.min_level} 级及以上 / Level {route.min_level}+"
    return operation


def build_spec(routes: list[Route]) -> dict:
    spec = APISpec(
        title="BPC 销售业务过程控制 API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "The gateway HTTP contract (docs/API.md), made from its schemas."},
    )
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for schema in COMPONENTS:
        # nested schemas register themselves (as their class name) on first use
        if schema.__name__ not in spec.components.schemas:
            spec.components.schema(schema.__name__, schema=schema)
    by_path: dict[str, dict] = {}
    for route in routes:
        by_path.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
