"""The organisation: org units, users, the audit log (org's)."""

from __future__ import annotations

from gateway import schemas as s
from gateway.api.common import API, _page
from gateway.routing import Call, Route

ORG = "org"


def create_unit(call: Call):
    return call.rpc.call("org", "create_unit", **call.body)


def list_units(call: Call):
    return call.rpc.call("org", "list_units", **_page(call))


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


ROUTES: list[Route] = [
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
        "GET",
        f"{API}/org/units",
        list_units,
        "组织单元（父单元在前）/ The org units, parents first",
        query=s.PageQuery,
        response=s.UnitPage,
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
]
