"""The work log and scoring through the gateway, without a broker: each route makes the one
RPC of docs/INTERFACES.md (## worklog, ## scoring) with its keyword arguments, and refuses bad
input, low levels and any change to an entry (PUT, PATCH, DELETE → 405 immutable) before any
service is asked.

The gateway checks types and shape only; the worklog service applies the rules (the catalog,
minutes 1..960, the day's 1,440 minutes, the expense cap, the grace hour) in its own words.
"""

from __future__ import annotations

import json

import pytest

from common import tokens
from common.errors import BusinessRuleViolated, Forbidden, NotFound, ServiceUnavailable
from gateway.api import ROUTES
from gateway.app import Gateway
from tests.doubles import FakeRpc, client

ENTRIES = "/api/v1/worklog/entries"

REP = {
    "id": "42",
    "login": "li",
    "name": "李雷",
    "level": 1,
    "org_unit_id": "3",
    "supervisor_id": "7",
    "active": True,
    "path": ["1", "4", "7", "42"],
}
LEAD = {**REP, "id": "8", "login": "zhao", "level": 4, "path": ["1", "4", "7", "8"]}
DEPARTMENT = {**REP, "id": "7", "login": "wang", "level": 5, "path": ["1", "4", "7"]}
BRANCH = {**REP, "id": "4", "login": "zhang", "level": 6, "path": ["1", "4"]}
ADMIN = {**REP, "id": "1", "login": "admin", "level": 9, "supervisor_id": None, "path": ["1"]}
USERS = {u["id"]: u for u in (REP, LEAD, DEPARTMENT, BRANCH, ADMIN)}

ENTRY = {
    "id": "31",
    "author_id": "42",
    "work_date": "2025-07-01",
    "recorded_at": "2025-07-01T18:00:00+08:00",
    "late": False,
    "hash": "ab" * 32,
    "prev_hash": None,
}

WORKLOG_METHODS = ("activities", "put_activity", "record", "get", "list", "add_note", "verify")
SCORING_METHODS = (
    "curves",
    "leaderboard",
    "fake_reports",
    "early_warnings",
    "trainees",
    "managers",
    "rebuild",
    "rebuild_status",
)


@pytest.fixture(autouse=True)
def _secret(monkeypatch, tmp_path):
    monkeypatch.setenv("BPC_SECRET", "gateway-unit-test-secret")
    monkeypatch.setenv("BPC_DATA_DIR", str(tmp_path))


def resolve_actor(user_id):
    return USERS[user_id]


def echo(**kwargs):
    return {**ENTRY, **kwargs}


@pytest.fixture
def rpc():
    answers = {("org", "resolve_actor"): resolve_actor}
    for method in WORKLOG_METHODS:
        answers[("worklog", method)] = echo
    for method in SCORING_METHODS:
        answers[("scoring", method)] = echo
    answers[("alerts", "categories")] = {"items": [{"key": "price", "name": "价格 Price"}]}
    answers[("alerts", "raise_from_entry")] = None  # (checked in the difficulty tests below)
    return FakeRpc(answers)


@pytest.fixture
def http(rpc):
    return client(Gateway(cache_ttl=2), rpc)


def bearer(user: dict) -> dict:
    token, _ = tokens.issue(user["id"], user["level"])
    return {"Authorization": f"Bearer {token}"}


def error_of(response) -> dict:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.get_json()["error"]


def service_calls(rpc: FakeRpc) -> list[tuple[str, str, dict]]:
    return [
        (service, method, kwargs)
        for service, method, kwargs in rpc.calls
        if service not in ("org", "alerts")
    ]


RECORD_DEFAULTS = {
    "customer_id": None,
    "opportunity_id": None,
    "expense": None,
    "note": None,
    "next_appointment_at": None,
    "difficulty": None,
    "work_date": None,
}
FULL_ENTRY = {
    "customer_id": 5,
    "opportunity_id": "11",
    "activities": ["visit", "demo"],
    "minutes": 90,
    "expense": 35.5,
    "note": "客户要求下周再演示",
    "next_appointment_at": "2025-07-08T10:00:00+08:00",
    "difficulty": {"category": "price", "description": "客户嫌贵", "amount": "50000"},
    "work_date": "2025-07-01",
}

# ---- each route makes its one RPC -----------------------------------------------------------

CASES = [
    # (method, path, user, body, status, service, rpc method, rpc kwargs)
    ("GET", "/api/v1/activities", REP, None, 200, "worklog", "activities", {}),
    (
        "POST",
        "/api/v1/activities",
        BRANCH,
        {"key": "seminar", "name": "行业沙龙 Seminar", "points": 4},
        201,
        "worklog",
        "put_activity",
        {"key": "seminar", "name": "行业沙龙 Seminar", "points": 4},
    ),
    (
        "POST",
        "/api/v1/activities",
        ADMIN,
        {
            "key": "bid",
            "name": "投标 Bid",
            "points": 2.5,
            "stages": ["quote", "negotiate"],
            "needs_customer": False,
        },
        201,
        "worklog",
        "put_activity",
        {
            "key": "bid",
            "name": "投标 Bid",
            "points": 2.5,
            "stages": ["quote", "negotiate"],
            "needs_customer": False,
        },
    ),
    (
        "POST",
        "/api/v1/worklog/entries",
        REP,
        {"activities": ["meeting"], "minutes": 30},
        201,
        "worklog",
        "record",
        {**RECORD_DEFAULTS, "activities": ["meeting"], "minutes": 30},
    ),
    (
        "POST",
        "/api/v1/worklog/entries",
        REP,
        FULL_ENTRY,
        201,
        "worklog",
        "record",
        {
            "customer_id": "5",
            "opportunity_id": "11",
            "activities": ["visit", "demo"],
            "minutes": 90,
            "expense": "35.50",
            "note": "客户要求下周再演示",
            "next_appointment_at": "2025-07-08T10:00:00+08:00",
            "difficulty": {
                "category": "price",
                "description": "客户嫌贵",
                "analysis": None,
                "amount": "50000.00",
            },
            "work_date": "2025-07-01",
        },
    ),
    (
        "GET",
        "/api/v1/worklog/entries",
        REP,
        None,
        200,
        "worklog",
        "list",
        {"author_id": None, "from_date": None, "to_date": None, "limit": 50, "cursor": None},
    ),
    (
        "GET",
        "/api/v1/worklog/entries?author_id=42&from=2025-07-01&to=2025-07-31&limit=20&cursor=x1",
        LEAD,
        None,
        200,
        "worklog",
        "list",
        {
            "author_id": "42",
            "from_date": "2025-07-01",
            "to_date": "2025-07-31",
            "limit": 20,
            "cursor": "x1",
        },
    ),
    ("GET", "/api/v1/worklog/entries/31", REP, None, 200, "worklog", "get", {"entry_id": "31"}),
    (
        "POST",
        "/api/v1/worklog/entries/31/notes",
        REP,
        {"text": "客户改约周三"},
        201,
        "worklog",
        "add_note",
        {"entry_id": "31", "text": "客户改约周三"},
    ),
    ("GET", "/api/v1/worklog/verify", REP, None, 200, "worklog", "verify", {"author_id": None}),
    (
        "GET",
        "/api/v1/worklog/verify?author_id=42",
        LEAD,
        None,
        200,
        "worklog",
        "verify",
        {"author_id": "42"},
    ),
    (
        "GET",
        "/api/v1/scoring/curves",
        REP,
        None,
        200,
        "scoring",
        "curves",
        {"user_id": None, "from_date": None, "to_date": None, "granularity": "day"},
    ),
    (
        "GET",
        "/api/v1/scoring/curves?user_id=42&from=2025-01-01&to=2025-06-30&granularity=month",
        LEAD,
        None,
        200,
        "scoring",
        "curves",
        {
            "user_id": "42",
            "from_date": "2025-01-01",
            "to_date": "2025-06-30",
            "granularity": "month",
        },
    ),
    (
        "GET",
        "/api/v1/scoring/leaderboard?metric=ability&period=week&date=2025-07-02&scope=branch",
        REP,
        None,
        200,
        "scoring",
        "leaderboard",
        {"metric": "ability", "period": "week", "date": "2025-07-02", "scope": "branch"},
    ),
    (
        "GET",
        "/api/v1/scoring/leaderboard",
        REP,
        None,
        200,
        "scoring",
        "leaderboard",
        {"metric": "diligence", "period": "day", "date": None, "scope": "group"},
    ),
    (
        "GET",
        "/api/v1/scoring/fake-reports?scope=team&from=2025-06-01&to=2025-06-30",
        DEPARTMENT,
        None,
        200,
        "scoring",
        "fake_reports",
        {"scope": "team", "from_date": "2025-06-01", "to_date": "2025-06-30"},
    ),
    (
        "GET",
        "/api/v1/scoring/fake-reports",
        DEPARTMENT,
        None,
        200,
        "scoring",
        "fake_reports",
        {"scope": "subtree", "from_date": None, "to_date": None},
    ),
    (
        "GET",
        "/api/v1/scoring/early-warnings?scope=me",
        DEPARTMENT,
        None,
        200,
        "scoring",
        "early_warnings",
        {"scope": "me"},
    ),
    (
        "GET",
        "/api/v1/scoring/early-warnings",
        DEPARTMENT,
        None,
        200,
        "scoring",
        "early_warnings",
        {"scope": "subtree"},
    ),
    (
        "GET",
        "/api/v1/scoring/trainees",
        LEAD,
        None,
        200,
        "scoring",
        "trainees",
        {"scope": "subtree"},
    ),
    (
        "GET",
        "/api/v1/scoring/trainees?scope=team",
        LEAD,
        None,
        200,
        "scoring",
        "trainees",
        {"scope": "team"},
    ),
    (
        "GET",
        "/api/v1/scoring/managers?scope=group",
        ADMIN,
        None,
        200,
        "scoring",
        "managers",
        {"scope": "group"},
    ),
    (
        "GET",
        "/api/v1/scoring/managers",
        BRANCH,
        None,
        200,
        "scoring",
        "managers",
        {"scope": "subtree"},
    ),
    ("POST", "/api/v1/admin/scoring/rebuild", ADMIN, None, 200, "scoring", "rebuild", {}),
    ("GET", "/api/v1/admin/scoring/rebuild", ADMIN, None, 200, "scoring", "rebuild_status", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "user", "body", "status", "service", "rpc_method", "kwargs"),
    CASES,
    ids=[f"{c[0]} {c[1]}" for c in CASES],
)
def test_route_calls_its_rpc_with_its_keywords(
    http, rpc, method, path, user, body, status, service, rpc_method, kwargs
):
    options = {"headers": bearer(user)}
    if body is not None:
        options["json"] = body
    response = http.open(path, method=method, **options)
    assert response.status_code == status, response.get_data(as_text=True)
    assert service_calls(rpc) == [(service, rpc_method, kwargs)]
    assert rpc.actor.id == user["id"]
    assert response.get_json() == {**ENTRY, **kwargs}


def test_every_worklog_and_scoring_route_is_tested():
    tested = {(c[0], c[1].split("?")[0]) for c in CASES}
    routes = [r for r in ROUTES if r.tag in ("worklog", "scoring")]
    assert len(routes) == 18
    for route in routes:
        if route.handler.__name__ == "immutable_entry":
            continue
        assert (route.method, route.path.replace("{id}", "31")) in tested, route.path


def test_next_appointment_is_passed_on_in_rfc3339_with_its_offset(http, rpc):
    body = {"activities": ["call"], "minutes": 5, "next_appointment_at": "2025-07-08T02:00:00Z"}
    response = http.post("/api/v1/worklog/entries", json=body, headers=bearer(REP))
    assert response.status_code == 201
    sent = service_calls(rpc)[0][2]["next_appointment_at"]
    assert sent.endswith("+08:00") or sent.endswith("+00:00"), sent
    assert sent[:10] == "2025-07-08"


# ---- entries are immutable ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("body", [None, {}, {"minutes": 10, "note": "改一下"}])
def test_changing_an_entry_is_405_immutable_and_asks_no_service(http, rpc, method, body):
    options = {"headers": bearer(ADMIN)}
    if body is not None and method != "DELETE":
        options["json"] = body
    response = http.open("/api/v1/worklog/entries/31", method=method, **options)
    assert response.status_code == 405
    error = error_of(response)
    assert error["code"] == "immutable"
    assert error["message"].startswith("日报一经提交不可修改或删除")
    assert "never be changed or deleted" in error["message"]
    assert error["details"] == {"entry_id": "31"}
    assert rpc.methods_called() == ["org.resolve_actor"]  # only who is asking


def test_changing_an_entry_still_needs_a_token(http, rpc):
    assert http.delete("/api/v1/worklog/entries/31").status_code == 401
    assert http.put("/api/v1/worklog/entries/31", json={}).status_code == 401
    assert rpc.calls == []


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "99999999999"])
def test_entry_path_ids_that_cannot_exist_are_404(http, rpc, bad):
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = http.open(f"/api/v1/worklog/entries/{bad}", method=method, headers=bearer(REP))
        assert response.status_code == 404, method
    response = http.post(
        f"/api/v1/worklog/entries/{bad}/notes", json={"text": "x"}, headers=bearer(REP)
    )
    assert response.status_code == 404
    assert service_calls(rpc) == []


# ---- validation -----------------------------------------------------------------------------


def test_unknown_body_fields_are_422_and_no_service_is_asked(http, rpc):
    refused = [
        ("/api/v1/worklog/entries", {"activities": ["call"], "minutes": 5, "colour": 1}),
        ("/api/v1/worklog/entries/31/notes", {"text": "n", "colour": 1}),
        ("/api/v1/activities", {"key": "k", "name": "n", "points": 1, "colour": 1}),
    ]
    for path, body in refused:
        response = http.post(path, json=body, headers=bearer(ADMIN))
        assert response.status_code == 422, path
        error = error_of(response)
        assert error["code"] == "validation_failed"
        assert set(error["details"]) == {"colour"}, path
    nested = {
        "activities": ["call"],
        "minutes": 5,
        "difficulty": {"category": "price", "description": "d", "colour": 1},
    }
    response = http.post("/api/v1/worklog/entries", json=nested, headers=bearer(REP))
    assert response.status_code == 422
    assert "colour" in error_of(response)["details"]["difficulty"]
    assert service_calls(rpc) == []


@pytest.mark.parametrize("minutes", ["30", 30.0, 30.5, True, False, None, [30], {"m": 30}])
def test_minutes_must_be_a_json_integer(http, rpc, minutes):
    body = {"activities": ["call"], "minutes": minutes}
    response = http.post("/api/v1/worklog/entries", json=body, headers=bearer(REP))
    assert response.status_code == 422, minutes
    assert set(error_of(response)["details"]) == {"minutes"}
    assert service_calls(rpc) == []


def test_minutes_out_of_range_are_left_to_the_service(http, rpc):
    rpc.answers[("worklog", "record")] = BusinessRuleViolated(
        "当日工时超过 24 小时 / The day's minutes exceed 24 hours",
        details={"already": 1400, "minutes": 90, "limit": 1440},
        code="day_limit_exceeded",
    )
    body = {"activities": ["call"], "minutes": 90}
    response = http.post("/api/v1/worklog/entries", json=body, headers=bearer(REP))
    assert response.status_code == 422
    assert error_of(response)["code"] == "day_limit_exceeded"
    assert error_of(response)["details"]["limit"] == 1440


@pytest.mark.parametrize(
    "moment",
    ["2025-07-08T10:00:00", "2025-07-08 10:00", "2025-07-08", "tomorrow", 1751940000, ""],
)
def test_next_appointment_needs_an_offset(http, rpc, moment):
    body = {"activities": ["call"], "minutes": 5, "next_appointment_at": moment}
    response = http.post("/api/v1/worklog/entries", json=body, headers=bearer(REP))
    assert response.status_code == 422, moment
    assert set(error_of(response)["details"]) == {"next_appointment_at"}
    assert service_calls(rpc) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("activities", []),
        ("activities", "call"),
        ("activities", ["call"] * 21),
        ("activities", [""]),
        ("activities", ["k" * 41]),
        ("activities", [1]),
        ("expense", "12.345"),
        ("expense", "-1"),
        ("expense", True),
        ("expense", "abc"),
        ("note", "n" * 2001),
        ("note", 5),
        ("customer_id", "abc"),
        ("opportunity_id", 0),
        ("work_date", "2025-13-01"),
        ("work_date", "2025-07-01T10:00:00+08:00"),
        ("work_date", "yesterday"),
        ("difficulty", "too expensive"),
        ("difficulty", {"category": "price"}),
        ("difficulty", {"category": "", "description": "d"}),
        ("difficulty", {"category": "price", "description": "d", "amount": "1.001"}),
    ],
)
def test_bad_entry_fields_are_422(http, rpc, field, value):
    body = {"activities": ["call"], "minutes": 5, field: value}
    response = http.post("/api/v1/worklog/entries", json=body, headers=bearer(REP))
    assert response.status_code == 422, (field, value)
    assert set(error_of(response)["details"]) == {field}
    assert service_calls(rpc) == []


def test_an_entry_needs_activities_and_minutes(http, rpc):
    response = http.post("/api/v1/worklog/entries", json={}, headers=bearer(REP))
    assert response.status_code == 422
    assert set(error_of(response)["details"]) == {"activities", "minutes"}
    response = http.post("/api/v1/worklog/entries", data="not json", headers=bearer(REP))
    assert response.status_code == 400
    assert service_calls(rpc) == []


def test_a_note_needs_text_of_at_most_2000_characters(http, rpc):
    for body in ({}, {"text": ""}, {"text": "t" * 2001}, {"text": 5}):
        response = http.post("/api/v1/worklog/entries/31/notes", json=body, headers=bearer(REP))
        assert response.status_code == 422, body
        assert set(error_of(response)["details"]) == {"text"}
    assert service_calls(rpc) == []


def test_activity_shape_is_checked_before_the_service(http, rpc):
    good = {"key": "bid", "name": "投标", "points": 2}
    bad = [
        {k: v for k, v in good.items() if k != "points"},
        {**good, "points": "2"},
        {**good, "points": True},
        {**good, "key": ""},
        {**good, "key": "k" * 41},
        {**good, "name": "n" * 101},
        {**good, "stages": "quote"},
        {**good, "stages": [1]},
        {**good, "needs_customer": "no"},
    ]
    for body in bad:
        response = http.post("/api/v1/activities", json=body, headers=bearer(BRANCH))
        assert response.status_code == 422, body
    assert service_calls(rpc) == []


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/worklog/entries?from=2025-7-1",
        "/api/v1/worklog/entries?to=July",
        "/api/v1/worklog/entries?author_id=abc",
        "/api/v1/worklog/entries?limit=0",
        "/api/v1/worklog/entries?limit=501",
        "/api/v1/worklog/verify?author_id=0",
        "/api/v1/scoring/curves?granularity=week",
        "/api/v1/scoring/curves?granularity=DAY",
        "/api/v1/scoring/curves?from=2025-02-30",
        "/api/v1/scoring/curves?user_id=x",
        "/api/v1/scoring/leaderboard?metric=honesty",
        "/api/v1/scoring/leaderboard?period=year",
        "/api/v1/scoring/leaderboard?scope=subtree",
        "/api/v1/scoring/leaderboard?date=2025-07",
        "/api/v1/scoring/fake-reports?scope=world",
        "/api/v1/scoring/fake-reports?from=01/07/2025",
        "/api/v1/scoring/early-warnings?scope=branch",
        "/api/v1/scoring/trainees?scope=",
        "/api/v1/scoring/managers?scope=all",
    ],
)
def test_bad_query_is_422(http, rpc, query):
    response = http.get(query, headers=bearer(ADMIN))
    assert response.status_code == 422, query
    assert error_of(response)["code"] == "validation_failed"
    assert service_calls(rpc) == []


def test_unknown_query_parameters_are_ignored(http, rpc):
    response = http.get("/api/v1/scoring/leaderboard?_=123", headers=bearer(REP))
    assert response.status_code == 200
    assert service_calls(rpc)[0][2]["metric"] == "diligence"


def test_bodies_on_routes_without_one_are_refused(http, rpc):
    response = http.post("/api/v1/admin/scoring/rebuild", json={"all": True}, headers=bearer(ADMIN))
    assert response.status_code == 422
    assert service_calls(rpc) == []


# ---- levels ---------------------------------------------------------------------------------

LEVEL_CASES = [
    # (method, path, body, required level, highest user below it)
    ("POST", "/api/v1/activities", {"key": "k", "name": "n", "points": 1}, 6, DEPARTMENT),
    ("GET", "/api/v1/scoring/fake-reports", None, 5, LEAD),
    ("GET", "/api/v1/scoring/early-warnings", None, 5, LEAD),
    ("GET", "/api/v1/scoring/trainees", None, 4, REP),
    ("GET", "/api/v1/scoring/managers", None, 6, DEPARTMENT),
    ("POST", "/api/v1/admin/scoring/rebuild", None, 9, BRANCH),
    ("GET", "/api/v1/admin/scoring/rebuild", None, 9, BRANCH),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "level", "user"), LEVEL_CASES, ids=[c[1] for c in LEVEL_CASES]
)
def test_level_checks_are_403_before_any_service(http, rpc, method, path, body, level, user):
    options = {"headers": bearer(user)}
    if body is not None:
        options["json"] = body
    response = http.open(path, method=method, **options)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert error["details"]["required_level"] == level
    assert service_calls(rpc) == []


def test_level_is_checked_before_the_query(http, rpc):
    response = http.get("/api/v1/scoring/managers?scope=world", headers=bearer(REP))
    assert response.status_code == 403
    assert service_calls(rpc) == []


# ---- errors from the services keep their status and code ------------------------------------


def test_service_errors_keep_status_code_and_details(http, rpc):
    rpc.answers[("worklog", "record")] = BusinessRuleViolated(
        "该活动不适用于商机当前阶段 / Activity not allowed at this stage",
        details={"activities": ["contract"], "stage": "contact"},
        code="activity_not_allowed",
    )
    body = {"opportunity_id": "11", "activities": ["contract"], "minutes": 30}
    response = http.post("/api/v1/worklog/entries", json=body, headers=bearer(REP))
    assert response.status_code == 422
    assert error_of(response)["code"] == "activity_not_allowed"
    assert error_of(response)["details"]["stage"] == "contact"

    rpc.answers[("worklog", "add_note")] = Forbidden()
    response = http.post(
        "/api/v1/worklog/entries/31/notes", json={"text": "x"}, headers=bearer(LEAD)
    )
    assert response.status_code == 403

    rpc.answers[("worklog", "get")] = NotFound()
    assert http.get("/api/v1/worklog/entries/31", headers=bearer(REP)).status_code == 404

    rpc.answers[("scoring", "fake_reports")] = Forbidden()
    response = http.get("/api/v1/scoring/fake-reports?scope=group", headers=bearer(DEPARTMENT))
    assert response.status_code == 403


# ---- the OpenAPI document -------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec():
    return json.loads(Gateway().openapi_text())


def test_openapi_serves_and_documents_the_new_routes(http):
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    expected = {
        ("/api/v1/activities", "get", "worklog"),
        ("/api/v1/activities", "post", "worklog"),
        ("/api/v1/worklog/entries", "post", "worklog"),
        ("/api/v1/worklog/entries", "get", "worklog"),
        ("/api/v1/worklog/entries/{id}", "get", "worklog"),
        ("/api/v1/worklog/entries/{id}", "put", "worklog"),
        ("/api/v1/worklog/entries/{id}", "patch", "worklog"),
        ("/api/v1/worklog/entries/{id}", "delete", "worklog"),
        ("/api/v1/worklog/entries/{id}/notes", "post", "worklog"),
        ("/api/v1/worklog/verify", "get", "worklog"),
        ("/api/v1/scoring/curves", "get", "scoring"),
        ("/api/v1/scoring/leaderboard", "get", "scoring"),
        ("/api/v1/scoring/fake-reports", "get", "scoring"),
        ("/api/v1/scoring/early-warnings", "get", "scoring"),
        ("/api/v1/scoring/trainees", "get", "scoring"),
        ("/api/v1/scoring/managers", "get", "scoring"),
        ("/api/v1/admin/scoring/rebuild", "post", "scoring"),
        ("/api/v1/admin/scoring/rebuild", "get", "scoring"),
    }
    for path, method, tag in expected:
        operation = paths[path][method]
        assert operation["tags"] == [tag], path
        assert "/ " in operation["summary"], path


def test_openapi_statuses_levels_and_schemas(spec):
    paths = spec["paths"]
    entry = paths["/api/v1/worklog/entries/{id}"]
    for method in ("put", "patch", "delete"):
        assert "405" in entry[method]["responses"], method
    assert "201" in paths["/api/v1/worklog/entries"]["post"]["responses"]
    assert "201" in paths["/api/v1/worklog/entries/{id}/notes"]["post"]["responses"]
    assert "201" in paths["/api/v1/activities"]["post"]["responses"]
    for path, level in [
        ("/api/v1/scoring/fake-reports", 5),
        ("/api/v1/scoring/early-warnings", 5),
        ("/api/v1/scoring/trainees", 4),
        ("/api/v1/scoring/managers", 6),
    ]:
        operation = paths[path]["get"]
        assert "403" in operation["responses"], path
        assert f"Level {level}+" in operation["description"], path
    params = {p["name"]: p for p in paths["/api/v1/worklog/entries"]["get"]["parameters"]}
    assert {"author_id", "from", "to", "limit", "cursor"} <= set(params)
    assert params["from"]["schema"]["format"] == "date"
    params = {p["name"]: p for p in paths["/api/v1/scoring/leaderboard"]["get"]["parameters"]}
    assert params["metric"]["schema"]["enum"] == ["diligence", "ability"]
    assert params["period"]["schema"]["enum"] == ["day", "week", "month"]
    assert params["scope"]["schema"]["enum"] == ["group", "branch", "team"]
    params = {p["name"]: p for p in paths["/api/v1/scoring/curves"]["get"]["parameters"]}
    assert params["granularity"]["schema"]["enum"] == ["day", "month"]
    schemas = spec["components"]["schemas"]
    for name in (
        "Entry",
        "EntryPage",
        "Note",
        "Verify",
        "ActivityList",
        "Curves",
        "Leaderboard",
        "FakeReports",
        "EarlyWarnings",
        "Trainees",
        "Managers",
    ):
        assert name in schemas, name
    record = schemas["RecordEntryRequest"]
    assert record["additionalProperties"] is False
    assert set(record["required"]) == {"activities", "minutes"}
    assert record["properties"]["minutes"]["type"] == "integer"
    assert record["properties"]["activities"]["maxItems"] == 20


# ---- a difficulty raises an alarm -----------------------------------------------------------

DIFFICULT = {
    "activities": ["visit"],
    "minutes": 30,
    "difficulty": {"category": "price", "description": "客户嫌贵"},
}


def test_a_difficulty_is_checked_recorded_and_raised_with_the_alarm_id_in_the_answer(http, rpc):
    rpc.answers[("alerts", "raise_from_entry")] = lambda **kw: {"id": "77", **kw}
    response = http.post(ENTRIES, json=DIFFICULT, headers=bearer(REP))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["alarm_id"] == "77"
    called = [(s, m) for s, m, _ in rpc.calls if s != "org"]
    assert called == [
        ("alerts", "categories"), ("worklog", "record"), ("alerts", "raise_from_entry")
    ]  # fmt: skip
    raised = rpc.calls[-1][2]
    assert raised["author_id"] == REP["id"] and raised["difficulty"]["category"] == "price"


def test_an_unknown_alarm_category_is_refused_before_anything_is_recorded(http, rpc):
    body = {**DIFFICULT, "difficulty": {"category": "weather", "description": "下雨"}}
    response = http.post(ENTRIES, json=body, headers=bearer(REP))
    assert response.status_code == 422
    assert "difficulty.category" in error_of(response)["details"]
    assert ("worklog", "record") not in [(s, m) for s, m, _ in rpc.calls]


def test_the_entry_is_recorded_when_alerts_does_not_answer(http, rpc):
    down = ServiceUnavailable("alerts down", {"service": "alerts"})
    rpc.answers[("alerts", "categories")] = down
    rpc.answers[("alerts", "raise_from_entry")] = down
    response = http.post(ENTRIES, json=DIFFICULT, headers=bearer(REP))
    assert response.status_code == 201  # the entry_recorded event raises the alarm later
    assert response.get_json().get("alarm_id") is None
