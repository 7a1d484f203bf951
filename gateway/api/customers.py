"""Customers: registration and the near-duplicate check, care (revisit interval, important dates,
revisits), referrals, reminders, unmasking a contact, the CSV export (the customer service's)."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response

from gateway import schemas as s
from gateway.api.common import API, _page
from gateway.routing import Call, Route

CUSTOMERS = "customers"


def register_customer(call: Call):
    return call.rpc.call("customer", "register", **call.body)


def check_customer(call: Call):
    return call.rpc.call("customer", "check", **call.query)


def get_customer(call: Call):
    return call.rpc.call("customer", "get", customer_id=call.path["id"])


def set_care(call: Call):
    return call.rpc.call("customer", "set_care", customer_id=call.path["id"], **call.body)


def add_important_date(call: Call):
    return call.rpc.call("customer", "add_important_date", customer_id=call.path["id"], **call.body)


def record_revisit(call: Call):
    return call.rpc.call("customer", "record_revisit", customer_id=call.path["id"], **call.body)


def revisits(call: Call):
    return call.rpc.call("customer", "revisits", customer_id=call.path["id"])


def set_referrer(call: Call):
    return call.rpc.call("customer", "set_referrer", customer_id=call.path["id"], **call.body)


def referrals(call: Call):
    return call.rpc.call("customer", "referrals")


def reminders(call: Call):
    return call.rpc.call(
        "customer", "reminders", **{"from": call.query["from_"], "days": call.query["days"]}
    )


def send_reminders(call: Call):
    return call.rpc.call("customer", "send_reminders")


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


ROUTES: list[Route] = [
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
        changes="customer",
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
        f"{API}/customers/referrals",
        referrals,
        "客户关系图（推荐）/ The referral graph of the visible customers",
        response=s.ReferralGraph,
        tag=CUSTOMERS,
    ),
    Route(
        "GET",
        f"{API}/reminders",
        reminders,
        "提醒：生日（含农历）、周年、重要日子、约见、回访 / Reminders for a window of days",
        query=s.RemindersQuery,
        response=s.Reminders,
        tag=CUSTOMERS,
    ),
    Route(
        "PUT",
        f"{API}/customers/{{id}}/referrer",
        set_referrer,
        "设置推荐人（不可成环）/ Set who referred the customer (no cycles)",
        request=s.ReferrerRequest,
        response=s.Referrer,
        errors=(404, 422),
        tag=CUSTOMERS,
    ),
    Route(
        "POST",
        f"{API}/customers/{{id}}/important-dates",
        add_important_date,
        "重要日子 / Add an important date",
        request=s.ImportantDateRequest,
        response=s.ImportantDate,
        status=201,
        errors=(404, 422),
        tag=CUSTOMERS,
    ),
    Route(
        "PUT",
        f"{API}/customers/{{id}}/care",
        set_care,
        "维护设置：回访间隔 / Care settings: the revisit interval",
        request=s.CareRequest,
        response=s.Care,
        errors=(404, 422),
        tag=CUSTOMERS,
    ),
    Route(
        "GET",
        f"{API}/customers/{{id}}/revisits",
        revisits,
        "回访记录与待核实的拜访 / The revisits, and the visits claimed in work logs with their "
        "verification",
        response=s.Revisits,
        errors=(403, 404),
        tag=CUSTOMERS,
    ),
    Route(
        "POST",
        f"{API}/customers/{{id}}/revisits",
        record_revisit,
        "回访（可核实拜访）/ Record a revisit, optionally verifying a claimed visit",
        request=s.RevisitRequest,
        response=s.Revisit,
        status=201,
        errors=(403, 404, 409, 422),
        tag=CUSTOMERS,
    ),
    Route(
        "POST",
        f"{API}/admin/reminders/send",
        send_reminders,
        "立即发送今日提醒事件 / Publish today's due reminders now (reminder_due, once a day each)",
        min_level=9,
        errors=(403,),
        tag=CUSTOMERS,
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
