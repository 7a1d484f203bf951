"""The route table: method, path, handler, schemas, minimum level — and the handlers.

Handlers parse nothing (the table's schemas did) and decide nothing (the services do): each
makes one RPC and hands back its answer.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from werkzeug.wrappers import Response

from common import clock, config
from common.errors import BpcError, Immutable, Locked, ServiceUnavailable, ValidationFailed
from gateway import schemas as s
from gateway.routing import Call, Route
from gateway.workbench import workbench

API = "/api/v1"
log = logging.getLogger(__name__)


def _page(call: Call, *names: str) -> dict:
    return {name: call.query.get(name) for name in (*names, "limit", "cursor")}


# ---- identity and org -----------------------------------------------------------------


def login(call: Call):
    """(A flood of sign-ins waits for its turn in gateway/service.py, before a worker.)"""
    return call.rpc.call(
        "org", "login", login=call.body["login"], password=call.body["password"],
        totp_code=call.body.get("totp_code"), address=call.client, agent=call.agent,
    )  # fmt: skip


def refresh(call: Call):
    return call.rpc.call("org", "refresh", refresh_token=call.body["refresh_token"])


def _signed_out(call: Call, answer: dict, user_id: str) -> dict:
    """Answered once no gateway process may still accept a token of what just ended: each
    keeps org's verdict on a session at most ``BPC_ACTOR_CACHE_TTL`` seconds."""
    call.gateway.forget_actor(user_id)
    call.gateway.actors.wait_out()
    return answer


def logout(call: Call):
    answer = call.rpc.call("org", "logout", session_id=call.session_id)
    return _signed_out(call, answer, call.actor.id)


def logout_all(call: Call):
    answer = call.rpc.call("org", "logout_all", user_id=call.actor.id)
    return _signed_out(call, answer, call.actor.id)


def logout_user(call: Call):
    answer = call.rpc.call("org", "logout_all", user_id=call.path["id"])
    return _signed_out(call, answer, call.path["id"])


def list_sessions(call: Call):
    return call.rpc.call("org", "list_sessions", session_id=call.session_id)


def change_password(call: Call):
    answer = call.rpc.call(
        "org", "change_password", old_password=call.body["old_password"],
        new_password=call.body["new_password"], address=call.client, agent=call.agent,
    )  # fmt: skip
    call.gateway.forget_actor(call.actor.id)
    return answer


def reset_password(call: Call):
    answer = call.rpc.call("org", "reset_password", user_id=call.path["id"])
    return _signed_out(call, answer, call.path["id"])


def totp_setup(call: Call):
    return call.rpc.call("org", "totp_setup")


def totp_enable(call: Call):
    answer = call.rpc.call("org", "totp_enable", code=call.body["code"])
    call.gateway.forget_actor(call.actor.id)
    return answer


def totp_disable(call: Call):
    answer = call.rpc.call(
        "org", "totp_disable", password=call.body["password"], code=call.body["code"]
    )
    call.gateway.forget_actor(call.actor.id)
    return answer


def login_locks(call: Call):
    return call.rpc.call("org", "login_locks")


def unlock_login(call: Call):
    return call.rpc.call("org", "unlock_login", user_id=call.path["id"])


def me(call: Call):
    """The caller, with the organisation's date and time zone (work dates are in it)."""
    hidden = ("path", "generation", "session_live", "_session_id")
    answer = {k: v for k, v in call.resolved.items() if k not in hidden}
    return answer | {"today": clock.today().isoformat(), "timezone": config.tz_name()}


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


# ---- customers ----------------------------------------------------------------------------


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


# ---- pipelines and opportunities ---------------------------------------------------------

OPPORTUNITY = "opportunity"


def list_pipelines(call: Call):
    return call.rpc.call(OPPORTUNITY, "list_pipelines")


def create_pipeline(call: Call):
    return call.rpc.call(OPPORTUNITY, "create_pipeline", **call.body)


def register_opportunity(call: Call):
    return call.rpc.call(OPPORTUNITY, "register", **call.body)


def get_opportunity(call: Call):
    return call.rpc.call(OPPORTUNITY, "get", opportunity_id=call.path["id"])


def list_opportunities(call: Call):
    return call.rpc.call(OPPORTUNITY, "list", **_page(call, "holder_id", "status", "stage"))


def delete_opportunity(call: Call):
    # the lock (docs/DOMAIN.md): nothing to ask the service, the answer is always the same
    raise Locked(details={"opportunity_id": call.path["id"]})


def advance_opportunity(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "advance", opportunity_id=call.path["id"], note=call.body.get("note")
    )


def decide_opportunity(call: Call):
    return call.rpc.call(
        OPPORTUNITY,
        "decide",
        opportunity_id=call.path["id"],
        action=call.body["action"],
        assignee_id=call.body.get("assignee_id"),
    )


def win_opportunity(call: Call):
    return call.rpc.call(OPPORTUNITY, "win", opportunity_id=call.path["id"])


def lose_opportunity(call: Call):
    return call.rpc.call(
        OPPORTUNITY,
        "lose",
        opportunity_id=call.path["id"],
        reason=call.body["reason"],
        analysis=call.body["analysis"],
    )


def approve_loss(call: Call):
    return call.rpc.call(OPPORTUNITY, "approve_loss", opportunity_id=call.path["id"])


def sweep(call: Call):
    return call.rpc.call(OPPORTUNITY, "sweep")


def funnel(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "funnel", scope=call.query["scope"], pipeline_id=call.query["pipeline_id"]
    )


def forecast(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "forecast", scope=call.query["scope"], months=call.query["months"]
    )


def worklist(call: Call):
    return call.rpc.call(OPPORTUNITY, "worklist", limit=call.query["limit"])


def list_targets(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "targets", scope=call.query["scope"], month=call.query["month"]
    )


def set_target(call: Call):
    return call.rpc.call(
        OPPORTUNITY,
        "set_target",
        user_id=call.path["user_id"],
        month=call.path["month"],
        target=call.body["target"],
    )


def lost_reasons(call: Call):
    return call.rpc.call(OPPORTUNITY, "lost_reasons", scope=call.query["scope"])


# ---- work log -------------------------------------------------------------------------------

WORKLOG = "worklog"


def list_activities(call: Call):
    return call.rpc.call(WORKLOG, "activities")


def put_activity(call: Call):
    return call.rpc.call(WORKLOG, "put_activity", **call.body)


def _check_alarm_category(call: Call, category: str) -> None:
    """A difficulty's category must be one of the alarm categories (refused before anything
    is recorded); if the alerts service does not answer, the entry is recorded all the same
    and an unknown category becomes ``other`` when its alarm is raised."""
    try:
        known = {c["key"] for c in call.rpc.call(ALERTS, "categories")["items"]}
    except ServiceUnavailable:
        return
    if category not in known:
        raise ValidationFailed(
            details={"difficulty.category": ["未知的报警类别 / Unknown alarm category"]}
        )


def record_entry(call: Call):
    difficulty = call.body.get("difficulty")
    if difficulty:
        _check_alarm_category(call, difficulty["category"])
    # with an Idempotency-Key the worklog itself records the entry once: a retry after an
    # answer lost to a timeout or a crash gets the same entry, not a second one
    key = {"request_key": call.idempotency_key} if call.idempotency_key else {}
    answer = call.rpc.call(WORKLOG, "record", **call.body, **key)
    if answer.get("difficulty"):
        # raise the alarm now, so that the answer carries its id; if alerts does not answer,
        # the entry_recorded event raises it a moment later (alarm_id stays null here)
        try:
            alarm = call.rpc.call(
                ALERTS,
                "raise_from_entry",
                entry_id=answer["id"],
                author_id=answer["author_id"],
                author_path=list(call.actor.path),
                recorded_at=answer.get("recorded_at"),
                opportunity_id=answer.get("opportunity_id"),
                customer_id=answer.get("customer_id"),
                stage=answer.get("stage"),
                difficulty=answer["difficulty"],
            )
            if alarm:
                answer["alarm_id"] = alarm["id"]
        except BpcError as exc:
            log.warning("entry %s: alarm not raised at once: %r", answer["id"], exc)
    return answer


def immutable_entry(call: Call):
    # entries are append-only (docs/DOMAIN.md): nothing to ask the service, the answer never changes
    raise Immutable(
        "日报一经提交不可修改或删除 / A log entry can never be changed or deleted",
        details={"entry_id": call.path["id"]},
    )


def list_entries(call: Call):
    return call.rpc.call(
        WORKLOG,
        "list",
        author_id=call.query["author_id"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
        limit=call.query["limit"],
        cursor=call.query["cursor"],
    )


def get_entry(call: Call):
    return call.rpc.call(WORKLOG, "get", entry_id=call.path["id"])


def add_entry_note(call: Call):
    return call.rpc.call(WORKLOG, "add_note", entry_id=call.path["id"], text=call.body["text"])


def verify_entries(call: Call):
    return call.rpc.call(WORKLOG, "verify", author_id=call.query["author_id"])


# ---- scoring --------------------------------------------------------------------------------

SCORING = "scoring"


def curves(call: Call):
    return call.rpc.call(
        SCORING,
        "curves",
        user_id=call.query["user_id"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
        granularity=call.query["granularity"],
    )


def leaderboard(call: Call):
    return call.rpc.call(
        SCORING,
        "leaderboard",
        metric=call.query["metric"],
        period=call.query["period"],
        date=call.query["date"],
        scope=call.query["scope"],
    )


def fake_reports(call: Call):
    return call.rpc.call(
        SCORING,
        "fake_reports",
        scope=call.query["scope"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
    )


def early_warnings(call: Call):
    return call.rpc.call(SCORING, "early_warnings", scope=call.query["scope"])


def trainees(call: Call):
    return call.rpc.call(SCORING, "trainees", scope=call.query["scope"])


def managers(call: Call):
    return call.rpc.call(SCORING, "managers", scope=call.query["scope"])


def rebuild_scores(call: Call):
    return call.rpc.call(SCORING, "rebuild")


def rebuild_status(call: Call):
    return call.rpc.call(SCORING, "rebuild_status")


# ---- alarms and experience ------------------------------------------------------------------

ALERTS = "alerts"
EXPERIENCE = "experience"


def alarm_categories(call: Call):
    return call.rpc.call(ALERTS, "categories")


def put_alarm_category(call: Call):
    return call.rpc.call(ALERTS, "put_category", **call.body)


def raise_alarm(call: Call):
    return call.rpc.call(ALERTS, "raise_alarm", **call.body)


def alarm_board(call: Call):
    q = call.query
    return call.rpc.call(
        ALERTS,
        "board",
        **{k: q.get(k) for k in ("status", "category", "kind", "stage", "requester_id")},
        opportunity_id=q.get("opportunity_id"),
        mine=q.get("mine"),
        to_help=q.get("to_help"),
        subordinates=q.get("subordinates"),
        unsupported=q.get("unsupported"),
        limit=q.get("limit"),
        cursor=q.get("cursor"),
    )


def get_alarm(call: Call):
    return call.rpc.call(ALERTS, "get", alarm_id=call.path["id"])


def respond_to_alarm(call: Call):
    return call.rpc.call(ALERTS, "respond", alarm_id=call.path["id"], body=call.body["body"])


def mark_response_effective(call: Call):
    return call.rpc.call(
        ALERTS,
        "mark_response_effective",
        alarm_id=call.path["id"],
        response_id=call.path["response_id"],
    )


def mark_suggestion_effective(call: Call):
    return call.rpc.call(
        ALERTS,
        "mark_suggestion_effective",
        alarm_id=call.path["id"],
        experience_id=call.path["experience_id"],
    )


def alarm_stats(call: Call):
    return call.rpc.call(
        ALERTS,
        "stats",
        scope=call.query["scope"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
    )


def escalate_alarms(call: Call):
    return call.rpc.call(ALERTS, "escalate")


def search_experience(call: Call):
    q = call.query
    return call.rpc.call(
        EXPERIENCE,
        "search",
        **{k: q.get(k) for k in ("q", "stage", "category", "kind", "limit", "cursor")},
    )


def suggest_experience(call: Call):
    q = call.query
    return call.rpc.call(
        EXPERIENCE, "suggest", **{k: q.get(k) for k in ("q", "stage", "category", "kind", "limit")}
    )


def get_experience(call: Call):
    return call.rpc.call(EXPERIENCE, "get", experience_id=call.path["id"])


def experience_helpful(call: Call):
    return call.rpc.call(EXPERIENCE, "helpful", experience_id=call.path["id"])


def experience_handbook(call: Call) -> Response:
    answer = call.rpc.call(
        EXPERIENCE, "handbook", stage=call.query["stage"], format=call.query["format"]
    )
    return Response(answer["body"], status=200, content_type=answer["content_type"])


# ---- the table ------------------------------------------------------------------------------

ORG = "org"
CUSTOMERS = "customers"
OPPORTUNITIES = "opportunities"

ROUTES: list[Route] = [
    Route(
        "POST",
        f"{API}/auth/login",
        login,
        "登录 / Log in and receive a bearer token",
        request=s.LoginRequest,
        response=s.LoginResult,
        auth=False,
        errors=(401, 429),
        tag=ORG,
        description=(
            "连续失败后须等待，期间一律 429 并给出 Retry-After / After repeated failures the "
            "account and the client address must wait: 429 with Retry-After, even for the "
            "right password"
        ),
    ),
    Route(
        "GET",
        f"{API}/auth/locks",
        login_locks,
        "登录受限的账号与地址 / Accounts and addresses that must wait before a login",
        response=s.LoginLockPage,
        min_level=9,
        errors=(403,),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/users/{{id}}/unlock",
        unlock_login,
        "解除登录限制 / Let a user sign in again at once",
        response=s.UnlockResult,
        min_level=9,
        errors=(403, 404),
        tag=ORG,
    ),
    Route(
        "GET",
        f"{API}/me",
        me,
        "当前用户 / The caller",
        response=s.Me,
        tag=ORG,
        fresh_actor=True,
        before_password_change=True,
    ),  # fmt: skip
    Route(
        "POST",
        f"{API}/auth/refresh",
        refresh,
        "换取新令牌 / The next token pair of a session",
        request=s.RefreshRequest,
        response=s.LoginResult,
        auth=False,
        errors=(401,),
        tag=ORG,
        description=(
            "每个刷新令牌只能用一次；旧令牌再次出现即结束该会话 / Each refresh token is good "
            "once; an older one presented again ends its session (someone holds a copy)"
        ),
    ),
    Route(
        "POST",
        f"{API}/auth/logout",
        logout,
        "退出登录 / Sign out: the token's session ends",
        response=s.SignedOut,
        before_password_change=True,
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/logout-all",
        logout_all,
        "在所有设备退出 / Sign out everywhere: every token of the caller ends",
        response=s.SignedOut,
        before_password_change=True,
        tag=ORG,
        description=(
            "答复之时，任何网关实例都不再接受此前的令牌 / When it answers, no gateway instance "
            "accepts any earlier token of the caller"
        ),
    ),
    Route(
        "GET",
        f"{API}/auth/sessions",
        list_sessions,
        "我的登录设备 / The caller's signed-in sessions",
        response=s.SessionPage,
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/password",
        change_password,
        "修改密码 / Change one's password",
        request=s.ChangePasswordRequest,
        response=s.LoginResult,
        before_password_change=True,
        errors=(422, 429),
        tag=ORG,
        description=(
            "须提供原密码；新密码至少 10 位、含两类字符、不含登录名。其他设备全部退出，本设备"
            "得到新令牌 / The old password is required; the new one has at least 10 "
            "characters of two kinds and not the login. Every other session ends; this device "
            "gets a new token pair"
        ),
    ),
    Route(
        "POST",
        f"{API}/users/{{id}}/password-reset",
        reset_password,
        "重置用户密码 / Reset a user's password to a temporary one",
        response=s.PasswordReset,
        min_level=9,
        errors=(403, 404),
        tag=ORG,
        description=(
            "临时密码只显示这一次，72 小时内有效，登录后须先修改；该用户的会话与动态码一并清除 / "
            "The temporary password is shown this once and is good for 72 hours, only to be "
            "changed at the next sign-in; the user's sessions and second factor are removed"
        ),
    ),
    Route(
        "POST",
        f"{API}/users/{{id}}/logout-all",
        logout_user,
        "强制用户在所有设备退出 / Sign a user out everywhere (a lost device)",
        response=s.SignedOut,
        min_level=9,
        errors=(403, 404),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/totp/setup",
        totp_setup,
        "开始绑定动态码 / Start enrolling a TOTP authenticator (QR code)",
        response=s.TotpSetup,
        min_level=6,
        errors=(403,),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/totp/enable",
        totp_enable,
        "启用动态码 / Confirm the authenticator with one of its codes",
        request=s.TotpCodeRequest,
        response=s.TotpState,
        min_level=6,
        errors=(403, 422),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/totp/disable",
        totp_disable,
        "停用动态码 / Remove the second factor (password and a current code)",
        request=s.TotpDisableRequest,
        response=s.TotpState,
        errors=(422,),
        tag=ORG,
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
        "GET",
        f"{API}/workbench",
        workbench,
        "工作台：约见、提醒、报警、临期商机、工作清单、今日、预测、待决定 / The workbench",
        response=s.Workbench,
        tag="workbench",
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
    # ---- pipelines and opportunities ----
    Route(
        "GET",
        f"{API}/pipelines",
        list_pipelines,
        "可用的销售流程（含默认流程）/ Pipelines visible to the caller, the default included",
        response=s.PipelinePage,
        tag=OPPORTUNITIES,
    ),
    Route(
        "POST",
        f"{API}/pipelines",
        create_pipeline,
        "新建销售流程（适用于本人下属范围）/ Create a pipeline for the caller's subtree",
        request=s.CreatePipelineRequest,
        response=s.Pipeline,
        min_level=6,
        status=201,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "POST",
        f"{API}/opportunities",
        register_opportunity,
        "登记商机（可行性评估、锁定）/ Register an opportunity (feasibility checked, locked)",
        request=s.RegisterOpportunityRequest,
        response=s.Opportunity,
        status=201,
        errors=(404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "GET",
        f"{API}/opportunities",
        list_opportunities,
        "可见的商机 / Visible opportunities",
        query=s.OpportunitiesQuery,
        response=s.OpportunityPage,
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/opportunities/{{id}}",
        get_opportunity,
        "商机及其历史 / An opportunity and its history",
        response=s.OpportunityDetail,
        errors=(404,),
        tag=OPPORTUNITIES,
    ),
    Route(
        "DELETE",
        f"{API}/opportunities/{{id}}",
        delete_opportunity,
        "商机已锁定，不能删除 / Always 405 locked: an opportunity cannot be deleted",
        errors=(404, 405),
        tag=OPPORTUNITIES,
        description="登记后的商机不能删除、放弃或转给同级 / "
        "A registered opportunity cannot be deleted, abandoned or handed to a peer",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/advance",
        advance_opportunity,
        "推进到下一阶段（仅持有人）/ Advance one stage (the holder only)",
        request=s.AdvanceRequest,
        response=s.Opportunity,
        errors=(403, 404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/decision",
        decide_opportunity,
        "主管处理没收的商机：保留、退回或改派 / Keep, return or reassign a confiscated one",
        request=s.DecisionRequest,
        response=s.Opportunity,
        errors=(403, 404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/win",
        win_opportunity,
        "成交 / Win the opportunity",
        response=s.Opportunity,
        errors=(403, 404, 409),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/lose",
        lose_opportunity,
        "申请丢单（原因与剖析，待主管批准）/ Request a loss: reason, analysis, then approval",
        request=s.LoseRequest,
        response=s.Opportunity,
        status=202,
        errors=(403, 404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/lose/approve",
        approve_loss,
        "批准丢单（上级主管）/ Approve a loss (a supervisor in the chain)",
        response=s.Opportunity,
        errors=(403, 404, 409),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/admin/sweep",
        sweep,
        "立即执行超时巡检 / Run the deadline sweep now",
        response=s.SweepResult,
        min_level=9,
        errors=(403,),
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/funnel",
        funnel,
        "销售漏斗 / Sales funnel",
        query=s.FunnelQuery,
        response=s.Funnel,
        errors=(403, 404, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/forecast",
        forecast,
        "销售预测（按月加权）/ Weighted forecast by month, with a backtest",
        query=s.ForecastQuery,
        response=s.Forecast,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/worklist",
        worklist,
        "倒着跟踪：从 100% 到 0% / The caller's open opportunities, 100% → 0%",
        query=s.WorklistQuery,
        response=s.Worklist,
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/targets",
        list_targets,
        "销售目标与达成 / Monthly targets and attainment",
        query=s.TargetsQuery,
        response=s.Targets,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "PUT",
        f"{API}/targets/{{user_id}}/{{month}}",
        set_target,
        "设定下属的月度目标（上级主管）/ Set a subordinate's monthly target (a supervisor)",
        request=s.SetTargetRequest,
        response=s.Target,
        errors=(403, 404, 422),
        tag=OPPORTUNITIES,
        description="month 为 YYYY-MM，其他形式为 404 / month is YYYY-MM; anything else is 404",
    ),
    Route(
        "GET",
        f"{API}/lost-reasons",
        lost_reasons,
        "丢单原因统计（按类别）/ Lost opportunities by reason category",
        query=s.ScopeQuery,
        response=s.LostReasons,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    # ---- work log ----
    Route(
        "GET",
        f"{API}/activities",
        list_activities,
        "日报活动目录 / The activity catalog",
        response=s.ActivityList,
        tag=WORKLOG,
    ),
    Route(
        "POST",
        f"{API}/activities",
        put_activity,
        "新增或替换日报活动（全集团目录）/ Add or replace an activity of the group-wide catalog",
        request=s.PutActivityRequest,
        response=s.Activity,
        min_level=6,
        status=201,
        errors=(403, 422),
        tag=WORKLOG,
    ),
    Route(
        "POST",
        f"{API}/worklog/entries",
        record_entry,
        "提交日报（提交后不可修改）/ Record a log entry (never changed afterwards)",
        request=s.RecordEntryRequest,
        response=s.Entry,
        status=201,
        errors=(403, 404, 422),
        tag=WORKLOG,
        description="违反规则为 422（如 day_limit_exceeded、too_late、expense_over_cap）/ "
        "Rule violations are 422 (day_limit_exceeded, too_late, expense_over_cap, …)",
    ),
    Route(
        "GET",
        f"{API}/worklog/entries",
        list_entries,
        "可见的日报 / Visible log entries",
        query=s.EntriesQuery,
        response=s.EntryPage,
        errors=(403, 422),
        tag=WORKLOG,
    ),
    Route(
        "GET",
        f"{API}/worklog/entries/{{id}}",
        get_entry,
        "日报及其附注 / A log entry and its notes",
        response=s.Entry,
        errors=(404,),
        tag=WORKLOG,
    ),
    Route(
        "PUT",
        f"{API}/worklog/entries/{{id}}",
        immutable_entry,
        "日报不可修改 / Always 405 immutable: a log entry cannot be changed",
        request=s.AnyBody,
        errors=(404, 405),
        tag=WORKLOG,
        description="请求体被忽略；可追加附注 / The body is ignored; append a note instead",
    ),
    Route(
        "PATCH",
        f"{API}/worklog/entries/{{id}}",
        immutable_entry,
        "日报不可修改 / Always 405 immutable: a log entry cannot be changed",
        request=s.AnyBody,
        errors=(404, 405),
        tag=WORKLOG,
        description="请求体被忽略；可追加附注 / The body is ignored; append a note instead",
    ),
    Route(
        "DELETE",
        f"{API}/worklog/entries/{{id}}",
        immutable_entry,
        "日报不可删除 / Always 405 immutable: a log entry cannot be deleted",
        errors=(404, 405),
        tag=WORKLOG,
    ),
    Route(
        "POST",
        f"{API}/worklog/entries/{{id}}/notes",
        add_entry_note,
        "追加附注（仅作者，原日报不变）/ Append a note (the author only; the entry is kept)",
        request=s.AddNoteRequest,
        response=s.Note,
        status=201,
        errors=(403, 404, 422),
        tag=WORKLOG,
    ),
    Route(
        "GET",
        f"{API}/worklog/verify",
        verify_entries,
        "校验日报哈希链 / Verify an author's hash chain",
        query=s.VerifyQuery,
        response=s.Verify,
        errors=(403, 404, 422),
        tag=WORKLOG,
    ),
    # ---- scoring ----
    Route(
        "GET",
        f"{API}/scoring/curves",
        curves,
        "勤奋度与能力曲线 / Diligence and ability curves",
        query=s.CurvesQuery,
        response=s.Curves,
        errors=(403, 404, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/leaderboard",
        leaderboard,
        "排行榜 / Leaderboard by diligence or ability",
        query=s.LeaderboardQuery,
        response=s.Leaderboard,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/fake-reports",
        fake_reports,
        "虚假日报分析（按阶段、按人）/ Fake-report analysis by stage and by person",
        query=s.FakeReportsQuery,
        response=s.FakeReports,
        min_level=5,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/early-warnings",
        early_warnings,
        "离职预警 / Resignation early warnings",
        query=s.AnalysisScopeQuery,
        response=s.EarlyWarnings,
        min_level=5,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/trainees",
        trainees,
        "试用业务员筛选 / Trainee screening",
        query=s.AnalysisScopeQuery,
        response=s.Trainees,
        min_level=4,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/managers",
        managers,
        "管理责任 / Management responsibility per supervisor",
        query=s.AnalysisScopeQuery,
        response=s.Managers,
        min_level=6,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "POST",
        f"{API}/admin/scoring/rebuild",
        rebuild_scores,
        "从各服务历史重建评分 / Rebuild the scores from the other services' history",
        min_level=9,
        errors=(403,),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/admin/scoring/rebuild",
        rebuild_status,
        "评分重建的进度 / The scoring rebuild's progress (idle, running, done, failed)",
        min_level=9,
        errors=(403,),
        tag=SCORING,
    ),
    # ---- alarms and experience ----
    Route(
        "GET",
        f"{API}/alarm-categories",
        alarm_categories,
        "报警类别 / Alarm categories",
        response=s.AlarmCategoryList,
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarm-categories",
        put_alarm_category,
        "新增、改名或停用报警类别 / Add, rename or retire an alarm category",
        request=s.PutAlarmCategoryRequest,
        response=s.AlarmCategory,
        min_level=6,
        status=201,
        errors=(403, 422),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms",
        raise_alarm,
        "困难报警（全集团可见），附经验池中最相似的已解决问题 / Raise a difficulty alarm "
        "(published to the whole group), with the most similar solved problems",
        request=s.RaiseAlarmRequest,
        response=s.Alarm,
        status=201,
        errors=(422,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/alarms",
        alarm_board,
        "报警看板（全集团）/ The group-wide alarm board",
        query=s.AlarmsQuery,
        response=s.AlarmPage,
        errors=(422,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/alarms/stats",
        alarm_stats,
        "报警统计 / Alarm statistics per scope and period",
        query=s.AlarmStatsQuery,
        response=s.AlarmStats,
        errors=(422,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/alarms/{{id}}",
        get_alarm,
        "报警及其回复 / An alarm with its responses",
        response=s.Alarm,
        errors=(404,),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms/{{id}}/responses",
        respond_to_alarm,
        "回复报警（分析或方法）/ Respond to an alarm (an analysis or a method)",
        request=s.RespondRequest,
        response=s.AlarmResponse,
        status=201,
        errors=(404, 409, 422),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms/{{id}}/responses/{{response_id}}/effective",
        mark_response_effective,
        "方法有效（仅报警人）/ Mark a response effective (the requester only)",
        response=s.Alarm,
        errors=(403, 404, 409),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms/{{id}}/suggestions/{{experience_id}}/effective",
        mark_suggestion_effective,
        "推荐经验有效（仅报警人，计一次复用）/ Mark a suggested experience effective "
        "(the requester only; counts one reuse)",
        response=s.Alarm,
        errors=(403, 404, 409),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/admin/alarms/escalate",
        escalate_alarms,
        "立即执行报警升级 / Run the alarm escalation sweep now",
        min_level=9,
        errors=(403,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/experience",
        search_experience,
        "经验池检索（中英文）/ Search the experience pool (Chinese and English)",
        query=s.ExperienceQuery,
        response=s.ExperiencePage,
        errors=(422,),
        tag=EXPERIENCE,
    ),
    Route(
        "GET",
        f"{API}/experience/suggest",
        suggest_experience,
        "相似问题推荐 / The solved problems most similar to a new one",
        query=s.SuggestQuery,
        response=s.ExperienceSuggestions,
        errors=(422,),
        tag=EXPERIENCE,
        description="stage、category、kind 为偏好而非筛选 / stage, category and kind are "
        "preferences, not filters",
    ),
    Route(
        "GET",
        f"{API}/experience/handbook",
        experience_handbook,
        "生意经（按阶段）/ The per-stage handbook",
        query=s.HandbookQuery,
        errors=(422,),
        tag=EXPERIENCE,
        content_type="text/markdown, text/html",
    ),
    Route(
        "GET",
        f"{API}/experience/{{id}}",
        get_experience,
        "一条经验 / One experience entry",
        response=s.ExperienceEntry,
        errors=(404,),
        tag=EXPERIENCE,
    ),
    Route(
        "POST",
        f"{API}/experience/{{id}}/helpful",
        experience_helpful,
        "有用（每人一票）/ Vote an entry helpful (one vote per user)",
        response=s.ExperienceEntry,
        errors=(404,),
        tag=EXPERIENCE,
    ),
]
