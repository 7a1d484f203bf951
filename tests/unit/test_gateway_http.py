"""The gateway's HTTP layer without a broker: routing, auth, validation, error mapping."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from nameko.exceptions import RemoteError

from common import clock, tokens
from common.errors import DuplicateCustomer, NotFound, ServiceUnavailable, Unauthenticated
from gateway.app import Gateway
from tests.doubles import FakeRpc, client

ADMIN = {
    "id": "1",
    "login": "admin",
    "name": "管理员",
    "level": 9,
    "org_unit_id": "1",
    "supervisor_id": None,
    "active": True,
    "path": ["1"],
}
REP = {
    "id": "42",
    "login": "li",
    "name": "李雷",
    "level": 1,
    "org_unit_id": "3",
    "supervisor_id": "7",
    "active": True,
    "path": ["1", "7", "42"],
}
MANAGER = {**REP, "id": "7", "level": 6, "path": ["1", "7"]}
USERS = {u["id"]: u for u in (ADMIN, REP, MANAGER)}


@pytest.fixture(autouse=True)
def _secret(monkeypatch, tmp_path):
    monkeypatch.setenv("BPC_SECRET", "gateway-unit-test-secret")
    monkeypatch.setenv("BPC_DATA_DIR", str(tmp_path))


def resolve_actor(user_id):
    if user_id not in USERS:
        raise Unauthenticated()
    return USERS[user_id]


@pytest.fixture
def rpc():
    return FakeRpc({("org", "resolve_actor"): resolve_actor})


@pytest.fixture
def http(rpc):
    return client(Gateway(cache_ttl=2), rpc)


def bearer(user: dict, ttl: int | None = None) -> dict:
    token, _ = tokens.issue(user["id"], user["level"], ttl_seconds=ttl)
    return {"Authorization": f"Bearer {token}"}


def error_of(response) -> dict:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.get_json()["error"]


# ---- routing ------------------------------------------------------------------------------


def test_unknown_path_answers_404_in_the_error_body(http):
    response = http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_answers_405_with_allowed_methods(http):
    response = http.delete("/api/v1/me")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_path_id_that_cannot_exist_is_404_without_asking_a_service(http, rpc):
    rpc.answers[("customer", "get")] = NotFound()
    for bad in ("abc", "0", "-1", "99999999999", "1.5", "%E4%B8%AD"):
        response = http.get(f"/api/v1/customers/{bad}", headers=bearer(REP))
        assert response.status_code == 404, bad
    assert "customer.get" not in rpc.methods_called()


def test_check_and_export_win_over_customer_id(http, rpc):
    rpc.answers[("customer", "check")] = {"matches": []}
    rpc.answers[("customer", "export")] = {"filename": "客户.csv", "csv": "id,name\n1,华为\n"}
    assert http.get("/api/v1/customers/check?name=华为", headers=bearer(REP)).get_json() == {
        "matches": []
    }
    export = http.get("/api/v1/customers/export", headers=bearer(MANAGER))
    assert export.status_code == 200
    assert export.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert export.headers["Content-Disposition"].startswith("attachment;")
    assert export.get_data(as_text=True) == "id,name\n1,华为\n"


# ---- authentication and levels ------------------------------------------------------------


def test_missing_bad_and_expired_tokens_are_401(http):
    assert error_of(http.get("/api/v1/me"))["code"] == "unauthenticated"
    bad = {"Authorization": "Bearer not-a-token"}
    assert http.get("/api/v1/me", headers=bad).status_code == 401
    assert http.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    token = tokens.issue("42", 1, ttl_seconds=-5)[0]
    expired = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401


def test_tokens_follow_the_one_clock_when_it_is_moved(http, monkeypatch):
    """BPC_CLOCK_OFFSET moves every service and the tokens together: a token issued on the
    moved clock is valid on it (it was "issued in the future" by the machine's clock), and
    moving the clock past its expiry expires it."""
    monkeypatch.setenv("BPC_CLOCK_OFFSET", "P8D")
    moved = bearer(REP)
    assert http.get("/api/v1/me", headers=moved).status_code == 200
    assert http.get("/api/v1/me", headers=moved).get_json()["today"] == clock.today().isoformat()
    monkeypatch.setenv("BPC_CLOCK_OFFSET", "P9D")  # a day later: past the 12-hour expiry
    expired = http.get("/api/v1/me", headers=moved)  # the same gateway: its cache knows it
    assert expired.status_code == 401
    assert "过期" in error_of(expired)["message"]


def test_inactive_or_unknown_user_is_401(http):
    ghost = {"id": "404404", "level": 1}
    assert http.get("/api/v1/me", headers=bearer(ghost)).status_code == 401


def test_me_costs_exactly_one_rpc_each_time_and_hides_the_path(http, rpc):
    response = http.get("/api/v1/me", headers=bearer(REP))
    assert response.status_code == 200
    body = response.get_json()
    assert {k: v for k, v in body.items() if k not in ("today", "timezone")} == {
        k: v for k, v in REP.items() if k != "path"
    }
    assert body["timezone"] == "Asia/Shanghai"  # and the organisation's date (work dates)
    assert body["today"] == clock.today().isoformat()
    assert rpc.methods_called() == ["org.resolve_actor"]
    http.get("/api/v1/me", headers=bearer(REP))  # never stale: a level change shows at once
    assert rpc.methods_called() == ["org.resolve_actor", "org.resolve_actor"]


def test_other_routes_reuse_the_short_lived_actor(http, rpc):
    rpc.answers[("customer", "get")] = {"id": "5", "name": "华为"}
    http.get("/api/v1/customers/5", headers=bearer(REP))
    http.get("/api/v1/customers/5", headers=bearer(REP))
    assert rpc.methods_called() == ["org.resolve_actor", "customer.get", "customer.get"]


def test_the_actor_travels_with_every_rpc(http, rpc):
    rpc.answers[("customer", "get")] = {"id": "5", "name": "华为"}
    http.get("/api/v1/customers/5", headers=bearer(REP))
    assert rpc.actor.id == "42" and rpc.actor.level == 1 and rpc.actor.path == ["1", "7", "42"]


def test_low_level_cannot_create_users_and_no_service_is_asked(http, rpc):
    body = {"login": "x", "password": "secret123", "name": "X", "level": 1, "org_unit_id": "1"}
    response = http.post("/api/v1/users", json=body, headers=bearer(REP))
    assert response.status_code == 403
    assert error_of(response)["details"]["required_level"] == 9
    assert rpc.methods_called() == ["org.resolve_actor"]


def test_export_needs_level_six(http):
    assert http.get("/api/v1/customers/export", headers=bearer(REP)).status_code == 403


def test_patching_a_user_drops_their_cached_actor(http, rpc):
    rpc.answers[("org", "update_user")] = {**REP, "level": 2}
    http.get("/api/v1/me", headers=bearer(REP))
    response = http.patch("/api/v1/users/42", json={"level": 2}, headers=bearer(ADMIN))
    assert response.status_code == 200
    assert rpc.calls[-1][2] == {"user_id": "42", "changes": {"level": 2}}
    http.get("/api/v1/me", headers=bearer(REP))
    assert rpc.methods_called().count("org.resolve_actor") == 3  # rep, admin, rep again


def test_login_needs_no_token(http, rpc):
    answer = {"token": "t", "expires_at": "2030-01-01T00:00:00+08:00", "user": REP}
    rpc.answers[("org", "login")] = answer
    response = http.post("/api/v1/auth/login", json={"login": "li", "password": "pw"})
    assert response.status_code == 200
    assert response.get_json() == answer


# ---- validation -----------------------------------------------------------------------------


def test_unknown_body_field_is_422_with_field_messages(http):
    body = {"name": "华为", "colour": "red"}
    response = http.post("/api/v1/customers", json=body, headers=bearer(REP))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert "colour" in error["details"]


def test_body_that_is_not_a_json_object_is_400(http):
    for raw in (b"{not json", b"[1, 2]", b"", b"\xff\xfe", b'"text"'):
        response = http.post(
            "/api/v1/customers", data=raw, headers=bearer(REP), content_type="application/json"
        )
        assert response.status_code == 400, raw
        assert error_of(response)["code"] == "malformed_json"


def test_nested_contact_errors_name_the_field(http):
    body = {"name": "华为", "contacts": [{"name": "王", "email": "nope", "decision_maker": 1}]}
    response = http.post("/api/v1/customers", json=body, headers=bearer(REP))
    details = error_of(response)["details"]
    assert response.status_code == 422
    assert set(details["contacts"]["0"]) == {"email", "decision_maker"}


def test_register_sends_dates_as_text(http, rpc):
    rpc.answers[("customer", "register")] = lambda **kw: {"id": "9", **kw}
    body = {
        "name": "华为",
        "founded_on": "1987-09-15",
        "contacts": [{"name": "王", "birthday": "1970-01-02", "birthday_calendar": "lunar"}],
    }
    response = http.post("/api/v1/customers", json=body, headers=bearer(REP))
    assert response.status_code == 201
    sent = rpc.calls[-1][2]
    assert sent["founded_on"] == "1987-09-15"
    assert sent["contacts"][0]["birthday"] == "1970-01-02"


def test_query_limit_is_validated_and_defaults_to_50(http, rpc):
    rpc.answers[("customer", "list")] = {"items": [], "next_cursor": None}
    for bad in ("0", "501", "abc", "1.5"):
        response = http.get(f"/api/v1/customers?limit={bad}", headers=bearer(REP))
        assert response.status_code == 422, bad
        assert "limit" in error_of(response)["details"]
    assert http.get("/api/v1/customers?status=customer", headers=bearer(REP)).status_code == 200
    assert rpc.calls[-1][2] == {
        "q": None,
        "owner_id": None,
        "status": "customer",
        "limit": 50,
        "cursor": None,
    }


def test_empty_patch_is_422(http):
    response = http.patch("/api/v1/users/42", json={}, headers=bearer(ADMIN))
    assert response.status_code == 422


# ---- errors from services -------------------------------------------------------------------


def test_duplicate_customer_keeps_code_and_details(http, rpc):
    details = {"customer_id": "3", "owner": {"level": 2, "masked_name": "张*"}}
    rpc.answers[("customer", "register")] = DuplicateCustomer(details=details)
    response = http.post("/api/v1/customers", json={"name": "华为"}, headers=bearer(REP))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "duplicate_customer"
    assert error["details"] == details
    assert "该客户已登记" in response.get_data(as_text=True)  # UTF-8, not \\u escapes


def test_service_that_does_not_answer_is_503(http, rpc):
    rpc.answers[("customer", "get")] = ServiceUnavailable(details={"service": "customer"})
    response = http.get("/api/v1/customers/5", headers=bearer(REP))
    assert response.status_code == 503
    assert error_of(response)["details"] == {"service": "customer"}


def test_unknown_remote_error_is_500_internal_error(http, rpc):
    rpc.answers[("customer", "get")] = RemoteError("KeyError", "boom")
    response = http.get("/api/v1/customers/5", headers=bearer(REP))
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"


# ---- health and metrics ---------------------------------------------------------------------


def test_healthz_is_ok_only_when_every_service_answers(http, rpc):
    from common.config import SERVICES

    for name in SERVICES:
        rpc.answers[(name, "health")] = {"service": name, "status": "ok"}
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "services": dict.fromkeys(SERVICES, "ok")}
    rpc.answers[("scoring", "health")] = ServiceUnavailable(details={"service": "scoring"})
    response = http.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["services"]["scoring"] == "down"


def test_metrics_count_requests_by_route_template(http, rpc):
    rpc.answers[("org", "get_user")] = REP
    http.get("/api/v1/users/42", headers=bearer(REP))
    text = http.get("/metrics").get_data(as_text=True)
    assert 'route="/api/v1/users/{id}",status="200"' in text
    assert "bpc_http_request_seconds_bucket" in text


def test_a_gateway_being_killed_answers_503_in_json_not_namekos_500():
    """Found by the RabbitMQ restart drill: the gateway's container stopping (its broker
    connection lost; `bpc run` starts it again) answered nameko's plain-text 500."""
    from nameko.exceptions import ContainerBeingKilled

    from gateway.service import AnyMethod

    response = AnyMethod("/<path:path>").response_from_exception(ContainerBeingKilled())
    assert response.status_code == 503
    body = json.loads(response.get_data(as_text=True))
    assert body["error"]["code"] == "service_unavailable"
    assert " / " in body["error"]["message"]  # 中文 / English


# ---- exactly once and read-your-writes ------------------------------------------------------


def test_every_write_carries_a_request_id_and_a_retried_key_carries_the_same(http, rpc):
    """Services record a command's answer under the request id (a redelivered RPC does nothing
    twice): every write has its own; a retry under one Idempotency-Key has the same one."""
    rpc.answers[("customer", "register")] = {"id": "5", "name": "华为"}
    rpc.answers[("customer", "get")] = {"id": "5", "name": "华为"}
    for _ in range(2):
        assert (
            http.post("/api/v1/customers", json={"name": "华为"}, headers=bearer(REP)).status_code
            == 201
        )
    keyed = {**bearer(REP), "Idempotency-Key": "k-1"}
    for _ in range(2):
        http.post("/api/v1/customers", json={"name": "华为"}, headers=keyed)
    rpc.request_id = None
    http.get("/api/v1/customers/5", headers=bearer(REP))
    sent = [
        r
        for (_, method, _), r in zip(rpc.calls, rpc.request_ids, strict=True)
        if method == "register"
    ]
    assert sent[0] != sent[1] and sent[2] == sent[3] and all(sent)
    other = {**bearer(MANAGER), "Idempotency-Key": "k-1"}  # another user's key is another request
    http.post("/api/v1/customers", json={"name": "华为"}, headers=other)
    assert rpc.request_ids[-1] != sent[2]
    assert rpc.request_ids[rpc.methods_called().index("customer.get")] is None  # reads have none


def test_a_callers_own_changes_travel_with_their_next_requests(http, rpc):
    """What a caller just changed (kind, id, when) goes with their next requests, so that a
    service whose projection has not seen it yet asks the owner (read-your-writes)."""
    rpc.answers[("opportunity", "advance")] = {"id": "42", "stage": "needs"}
    rpc.answers[("worklog", "record")] = {"id": "9", "author_id": "42", "work_date": "2026-12-07"}
    before = clock.now()
    http.post("/api/v1/opportunities/42/advance", json={}, headers=bearer(REP))
    http.post("/api/v1/worklog/entries", json={"opportunity_id": "42", "activities": ["call"],
              "minutes": 5}, headers=bearer(REP))  # fmt: skip
    ((kind, record, sent),) = json.loads(rpc.fresh)
    assert (kind, record) == ("opportunity", "42")
    assert before <= datetime.fromisoformat(sent) <= clock.now()
    rpc.fresh = None
    http.post("/api/v1/worklog/entries", json={"activities": ["training"], "minutes": 5},
              headers=bearer(MANAGER))  # fmt: skip
    assert rpc.fresh is None  # another caller's changes are not theirs


# ---- input no service can take, and the headers of every answer ----------------------------


def _raw_post(http, path: str, text: str, headers: dict | None = None):
    """A body as a client may send it: JSON text with escapes (a lone surrogate is legal JSON)."""
    return http.post(path, data=text.encode(), headers={"Content-Type": "application/json",
                                                        **(headers or {})})  # fmt: skip


def test_text_that_cannot_be_encoded_is_refused_like_nul_and_reaches_no_service(http, rpc):
    for body in ('{"login": "a\\ud800", "password": "x"}', '{"\\udfff": 1, "password": "x"}'):
        response = _raw_post(http, "/api/v1/auth/login", body)
        assert response.status_code == 422, response.data
        details = error_of(response)["details"]
        assert any("UTF-8" in m for messages in details.values() for m in messages)
    response = _raw_post(http, "/api/v1/customers", '{"name": "华为\\ud83d公司"}', bearer(REP))
    assert response.status_code == 422 and "name" in error_of(response)["details"]
    assert not [c for c in rpc.calls if c[1] in ("login", "register")]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/scoring/curves?from=0001-01-01&to=2026-01-01",
        "/api/v1/scoring/curves?from=2026-01-01&to=9999-12-31",
        "/api/v1/scoring/curves?from=2026-03-01&to=2026-02-01",
        "/api/v1/alarms/stats?from=1900-12-31&to=2026-01-01",
    ],
)
def test_dates_outside_1901_2099_or_a_reversed_range_answer_422(http, rpc, path):
    response = http.get(path, headers=bearer(MANAGER))
    assert response.status_code == 422, response.data
    assert "from" in error_of(response)["details"] or "to" in error_of(response)["details"]
    assert not [c for c in rpc.calls if c[0] in ("scoring", "alerts")]


def test_an_id_no_row_can_have_is_404_on_every_method_of_its_path(http):
    for path in ("/api/v1/users/2147483648", "/api/v1/users/99999999999999999999"):
        response = http.get(path, headers=bearer(ADMIN))
        assert response.status_code == 404, (path, response.data)
    response = http.delete("/api/v1/users/7", headers=bearer(ADMIN))
    assert response.status_code == 405
    assert error_of(response)["details"]["allowed"] == ["GET", "HEAD", "PATCH"]


def test_keep_or_return_with_an_assignee_contradicts_itself(http, rpc):
    for action in ("keep", "return"):
        response = http.post("/api/v1/opportunities/5/decision", headers=bearer(MANAGER),
                             json={"action": action, "assignee_id": "42"})  # fmt: skip
        assert response.status_code == 422, response.data
        assert "assignee_id" in error_of(response)["details"]
    assert not [c for c in rpc.calls if c[0] == "opportunity"]


def test_a_static_path_with_nul_is_the_api_s_404(http):
    response = http.get("/assets/%00")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_every_answer_says_nosniff_and_an_html_one_its_content_policy(http, rpc):
    from werkzeug.wrappers import Response

    from gateway.web import secured

    for response in (http.get("/api/v1/nothing-here"), http.get("/api/v1/me", headers=bearer(REP)),
                     http.post("/api/v1/auth/login", json={})):  # fmt: skip
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in response.headers
    rpc.answers[("experience", "handbook")] = lambda **kw: {
        "body": "<h1>生意经</h1>", "content_type": "text/html; charset=utf-8",
    }  # fmt: skip
    handbook = http.get("/api/v1/experience/handbook?format=html", headers=bearer(REP))
    assert handbook.status_code == 200, handbook.data
    for page in (handbook, secured(Response("<p>", content_type="text/html"))):
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_web_page_and_its_bundles_carry_the_headers(tmp_path, monkeypatch):
    from gateway.web import static_response

    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>BPC</title>", encoding="utf-8")
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log(1)", encoding="utf-8")
    monkeypatch.setenv("BPC_WEB_DIR", str(tmp_path))
    page, bundle = static_response("", "GET"), static_response("assets/app-1a2b.js", "GET")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == bundle.headers["X-Content-Type-Options"]
    assert bundle.headers["X-Content-Type-Options"] == "nosniff"
    assert static_response("assets/\x00.js", "GET") is None


# ---- sessions -------------------------------------------------------------------------------


def _sessions_rpc(state: dict) -> FakeRpc:
    """org as the gateway sees it: a user whose generation, live sessions and pending password
    change are in ``state``."""

    def resolve(user_id, session_id=None):
        live = None if session_id is None else session_id in state["live"]
        return {**REP, "generation": state["generation"],
                "must_change_password": state["must_change"], "session_live": live}  # fmt: skip

    return FakeRpc({
        ("org", "resolve_actor"): resolve,
        ("org", "logout_all"): lambda user_id: state.update(generation=state["generation"] + 1,
                                                            live=set()) or {"ended_sessions": 2},
        ("customer", "check"): lambda **kw: {"matches": []},
    })  # fmt: skip


def _session_bearer(session_id: str, generation: int = 0, kind: str = tokens.ACCESS) -> dict:
    token, _ = tokens.issue(REP["id"], REP["level"], session_id=session_id,
                            generation=generation, kind=kind)  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def test_a_token_of_an_ended_session_or_an_older_generation_is_refused():
    state = {"generation": 0, "live": {"phone", "laptop"}, "must_change": False}
    gateway = Gateway(cache_ttl=0.2)
    http = client(gateway, _sessions_rpc(state))
    phone, laptop = _session_bearer("phone"), _session_bearer("laptop")
    assert http.get("/api/v1/me", headers=phone).status_code == 200
    assert http.get("/api/v1/customers/check?name=华为", headers=laptop).status_code == 200
    state["live"].discard("phone")  # signed out elsewhere; this process learns it within the TTL
    time_waited = 0.0
    while http.get("/api/v1/customers/check?name=华为", headers=phone).status_code == 200:
        assert time_waited < 1.0, "an ended session stayed usable past the actor cache's TTL"
        time.sleep(0.05)
        time_waited += 0.05
    assert error_of(http.get("/api/v1/me", headers=phone))["code"] == "signed_out"
    assert http.get("/api/v1/customers/check?name=华为", headers=laptop).status_code == 200

    started = time.monotonic()
    assert http.post("/api/v1/auth/logout-all", headers=laptop).get_json() == {"ended_sessions": 2}
    assert time.monotonic() - started >= 0.2  # answered once every cached verdict has expired
    assert http.get("/api/v1/me", headers=laptop).status_code == 401
    # a token of the new generation is asked about afresh, not refused from the cache
    state["live"].add("tablet")
    tablet = _session_bearer("tablet", generation=1)
    assert http.get("/api/v1/me", headers=tablet).status_code == 200
    # a refresh token is not a bearer token
    refresh = _session_bearer("tablet", generation=1, kind=tokens.REFRESH)
    assert http.get("/api/v1/me", headers=refresh).status_code == 401


def test_a_reset_password_must_be_changed_before_anything_else():
    state = {"generation": 0, "live": {"phone"}, "must_change": True}
    http = client(Gateway(cache_ttl=0), _sessions_rpc(state))
    phone = _session_bearer("phone")
    refused = http.get("/api/v1/customers/check?name=华为", headers=phone)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "password_change_required"
    me = http.get("/api/v1/me", headers=phone)
    assert me.status_code == 200 and me.get_json()["must_change_password"] is True
    assert "generation" not in me.get_json() and "session_live" not in me.get_json()
    state["must_change"] = False
    assert http.get("/api/v1/customers/check?name=华为", headers=phone).status_code == 200
