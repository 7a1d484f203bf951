"""The route table: method, path, handler, schemas, minimum level — and the handlers.

Handlers parse nothing (the table's schemas did) and decide nothing (the services do): each
makes one RPC and hands back its answer.
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response

from gateway import schemas as s
from gateway.routing import Call, Route

API = "/api/v1"


def _page(call: Call, *names: str) -> dict:
    return {name: call.query.get(name) for name in (*names, "limit", "cursor")}


# ---- identity and org -----------------------------------------------------------------


def login(call: Call):
    return call.rpc.call("org", "login", login=call.body["login"], password=call.body["password"])


def me(call: Call):
    return {k: v for k, v in call.resolved.items() if k != "path"}


def create_unit(call: Call):
    return call.rpc.call("org", "create_unit", **call.body)


def create_user(call: Call):
    return call.rpc.call("org", "create_user", **call.body)


def update_user(call: Call):
    user_id = call.path["id"]
    try:
        return call.rpc.call("org", "update_user", user_id=user_id, changes=call.body)
    finally:
        # level, unit or activity may have changed: the next request resolves the user afresh
        call.gateway.forget_actor(user_id)


def list_users(call: Call):
    return call.rpc.call("org", "list_users", **_page(call, "org_unit_id"))


def get_user(call: Call):
    return call.rpc.call("org", "get_user", user_id=call.path["id"])


def list_audit(call: Call):
    return call.rpc.call("org", "list_audit", **_page(call, "user_id", "action"))


# ---- customers ----------------------------------------------------------------------------


def register_customer(call: Call):
    return call.rpc.call("customer", "register", **call.body)


def check_customer(call: Call):
    return call.rpc.call("customer", "check", **call.query)


def get_customer(call: Call):
    return call.rpc.call("customer", "get", customer_id=call.path["id"])


def unmask_contact(call: Call):
    return call.rpc.call(
        "customer", "unmask", customer_id=call.path["id"], contact_id=call.path["contact_id"]
    )


def list_customers(call: Call):
    return call.rpc.call("customer", "list", **_page(call, "q", "owner_id", "status"))


def export_customers(call: Call) -> Response:
    answer = call.rpc.call("customer", "export")
    filename = answer.get("filename") or "customers.csv"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return Response(
        answer.get("csv") or "",
        status=200,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(filename)}"
        },
    )


# ---- the table ------------------------------------------------------------------------------

ORG = "org"
CUSTOMERS = "customers"

ROUTES: list[Route] = [
    Route(
        "POST",
        f"{API}/auth/login",
        login,
        "登录 / Log in and receive a bearer token",
        request=s.LoginRequest,
        response=s.LoginResult,
        auth=False,
        errors=(401,),
        tag=ORG,
    ),
    Route(
        "GET", f"{API}/me", me, "当前用户 / The caller", response=s.User, tag=ORG, fresh_actor=True
    ),
    Route(
        "POST",
        f"{API}/org/units",
        create_unit,
        "新建组织单元 / Create an org unit",
        request=s.CreateUnitRequest,
        response=s.Unit,
        min_level=9,
        status=201,
        errors=(403, 422),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/users",
        create_user,
        "新建用户 / Create a user",
        request=s.CreateUserRequest,
        response=s.User,
        min_level=9,
        status=201,
        errors=(403, 409, 422),
        tag=ORG,
    ),
    Route(
        "PATCH",
        f"{API}/users/{{id}}",
        update_user,
        "修改用户（停用即移交其全部归属）/ Change or deactivate a user",
        request=s.UpdateUserRequest,
        response=s.User,
        min_level=9,
        errors=(403, 404, 409, 422),
        tag=ORG,
    ),
    Route(
        "GET",
        f"{API}/users",
        list_users,
        "可见的用户 / Users visible to the caller",
        query=s.UsersQuery,
        response=s.UserPage,
        tag=ORG,
    ),
    Route(
        "GET",
        f"{API}/users/{{id}}",
        get_user,
        "用户 / One user",
        response=s.User,
        errors=(404,),
        tag=ORG,
    ),
    Route(
        "GET",
        f"{API}/audit",
        list_audit,
        "审计日志 / Audit log",
        query=s.AuditQuery,
        response=s.AuditPage,
        min_level=9,
        errors=(403,),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/customers",
        register_customer,
        "登记客户 / Register a customer",
        request=s.RegisterCustomerRequest,
        response=s.Customer,
        status=201,
        errors=(409, 422),
        tag=CUSTOMERS,
    ),
    Route(
        "GET",
        f"{API}/customers/check",
        check_customer,
        "撞单检查 / Near-duplicate check",
        query=s.CheckQuery,
        response=s.CheckResult,
        tag=CUSTOMERS,
    ),
    Route(
        "GET",
        f"{API}/customers/export",
        export_customers,
        "导出客户 CSV（审计）/ Export visible customers as CSV (audited)",
        min_level=6,
        errors=(403,),
        tag=CUSTOMERS,
        content_type="text/csv",
    ),
    Route(
        "GET",
        f"{API}/customers",
        list_customers,
        "可见的客户 / Visible customers",
        query=s.CustomersQuery,
        response=s.CustomerPage,
        tag=CUSTOMERS,
    ),
    Route(
        "GET",
        f"{API}/customers/{{id}}",
        get_customer,
        "客户（联系人已脱敏）/ A customer, contacts masked",
        response=s.Customer,
        errors=(404,),
        tag=CUSTOMERS,
    ),
    Route(
        "POST",
        f"{API}/customers/{{id}}/contacts/{{contact_id}}/unmask",
        unmask_contact,
        "查看联系人完整信息（审计、限额）/ Unmask a contact (audited, daily quota)",
        response=s.Contact,
        errors=(403, 404, 429),
        tag=CUSTOMERS,
    ),
]
