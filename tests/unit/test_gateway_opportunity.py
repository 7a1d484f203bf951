"""Pipelines and opportunities through the gateway, without a broker: each route makes the
one RPC of docs/INTERFACES.md (## opportunity) with its keyword arguments, and refuses bad
input, low levels and DELETE (the lock) before any service is asked.

A month in the path that is not ``YYYY-MM`` (01–12) does not match the route: 404, the same
as a path id that cannot name a row.
"""

from __future__ import annotations

import json

import pytest

from common import tokens
from common.errors import BusinessRuleViolated, Conflict, Forbidden
from gateway.api import ROUTES
from gateway.app import Gateway
from tests.doubles import FakeRpc, client

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
MANAGER = {**REP, "id": "7", "login": "wang", "level": 6, "path": ["1", "7"]}
ADMIN = {**REP, "id": "1", "login": "admin", "level": 9, "supervisor_id": None, "path": ["1"]}
USERS = {u["id"]: u for u in (REP, MANAGER, ADMIN)}

OPPORTUNITY = {
    "id": "11",
    "customer_id": "5",
    "title": "ERP 项目",
    "amount": "120000.00",
    "pipeline_id": "1",
    "owner_id": "42",
    "holder_id": "42",
    "status": "open",
    "stage": "contact",
}

PIPELINE = {
    "name": "大客户流程",
    "stages": [
        {"key": "contact", "name": "初步接触", "time_limit": "P7D", "probability": 10},
        {"key": "won", "name": "成交", "time_limit": None, "probability": 100},
    ],
    "remind_before": "P1D",
    "qualification": [{"key": "budget", "question": "有预算吗", "weight": 1.5}],
    "qualification_threshold": 0.5,
}


@pytest.fixture(autouse=True)
def _secret(monkeypatch, tmp_path):
    monkeypatch.setenv("BPC_SECRET", "gateway-unit-test-secret")
    monkeypatch.setenv("BPC_DATA_DIR", str(tmp_path))


def resolve_actor(user_id):
    return USERS[user_id]


def echo(**kwargs):
    return {**OPPORTUNITY, **kwargs}


@pytest.fixture
def rpc():
    answers = {("org", "resolve_actor"): resolve_actor}
    for method in (
        "list_pipelines",
        "create_pipeline",
        "register",
        "get",
        "list",
        "advance",
        "decide",
        "win",
        "lose",
        "approve_loss",
        "sweep",
        "funnel",
        "forecast",
        "worklist",
        "targets",
        "set_target",
        "lost_reasons",
    ):
        answers[("opportunity", method)] = echo
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


def opportunity_calls(rpc: FakeRpc) -> list[tuple[str, dict]]:
    return [(method, kwargs) for service, method, kwargs in rpc.calls if service != "org"]


# ---- each route makes its one RPC -----------------------------------------------------------

CASES = [
    # (method, path, user, body, status, rpc method, rpc kwargs)
    ("GET", "/api/v1/pipelines", REP, None, 200, "list_pipelines", {}),
    ("POST", "/api/v1/pipelines", MANAGER, PIPELINE, 201, "create_pipeline", PIPELINE),
    (
        "POST",
        "/api/v1/opportunities",
        REP,
        {"customer_id": "5", "title": "ERP 项目", "amount": "120000.00"},
        201,
        "register",
        {
            "customer_id": "5",
            "title": "ERP 项目",
            "amount": "120000.00",
            "pipeline_id": None,
            "qualification": {},
        },
    ),
    (
        "POST",
        "/api/v1/opportunities",
        REP,
        {
            "customer_id": 5,
            "title": "ERP",
            "amount": 1500.5,
            "pipeline_id": "2",
            "qualification": {"budget": True, "need": False},
        },
        201,
        "register",
        {
            "customer_id": "5",
            "title": "ERP",
            "amount": "1500.50",
            "pipeline_id": "2",
            "qualification": {"budget": True, "need": False},
        },
    ),
    ("GET", "/api/v1/opportunities/11", REP, None, 200, "get", {"opportunity_id": "11"}),
    (
        "GET",
        "/api/v1/opportunities?holder_id=42&status=loss_pending&stage=demo&limit=10&cursor=abc",
        REP,
        None,
        200,
        "list",
        {
            "holder_id": "42",
            "status": "loss_pending",
            "stage": "demo",
            "limit": 10,
            "cursor": "abc",
        },
    ),
    (
        "GET",
        "/api/v1/opportunities",
        REP,
        None,
        200,
        "list",
        {"holder_id": None, "status": None, "stage": None, "limit": 50, "cursor": None},
    ),
    (
        "POST",
        "/api/v1/opportunities/11/advance",
        REP,
        {"note": "客户确认需求"},
        200,
        "advance",
        {"opportunity_id": "11", "note": "客户确认需求"},
    ),
    (
        "POST",
        "/api/v1/opportunities/11/advance",
        REP,
        {},
        200,
        "advance",
        {"opportunity_id": "11", "note": None},
    ),
    (
        "POST",
        "/api/v1/opportunities/11/decision",
        MANAGER,
        {"action": "reassign", "assignee_id": "42"},
        200,
        "decide",
        {"opportunity_id": "11", "action": "reassign", "assignee_id": "42"},
    ),
    (
        "POST",
        "/api/v1/opportunities/11/decision",
        MANAGER,
        {"action": "keep"},
        200,
        "decide",
        {"opportunity_id": "11", "action": "keep", "assignee_id": None},
    ),
    ("POST", "/api/v1/opportunities/11/win", REP, None, 200, "win", {"opportunity_id": "11"}),
    (
        "POST",
        "/api/v1/opportunities/11/lose",
        REP,
        {"reason": "price", "analysis": "对手低价 30%"},
        202,
        "lose",
        {"opportunity_id": "11", "reason": "price", "analysis": "对手低价 30%"},
    ),
    (
        "POST",
        "/api/v1/opportunities/11/lose/approve",
        MANAGER,
        None,
        200,
        "approve_loss",
        {"opportunity_id": "11"},
    ),
    ("POST", "/api/v1/admin/sweep", ADMIN, None, 200, "sweep", {}),
    (
        "GET",
        "/api/v1/funnel?scope=team&pipeline_id=3",
        MANAGER,
        None,
        200,
        "funnel",
        {"scope": "team", "pipeline_id": "3"},
    ),
    ("GET", "/api/v1/funnel", REP, None, 200, "funnel", {"scope": "me", "pipeline_id": None}),
    (
        "GET",
        "/api/v1/forecast?scope=subtree&months=12",
        MANAGER,
        None,
        200,
        "forecast",
        {"scope": "subtree", "months": 12},
    ),
    ("GET", "/api/v1/forecast", REP, None, 200, "forecast", {"scope": "me", "months": 3}),
    ("GET", "/api/v1/worklist", REP, None, 200, "worklist", {"limit": None}),
    ("GET", "/api/v1/worklist?limit=5", REP, None, 200, "worklist", {"limit": 5}),
    (
        "GET",
        "/api/v1/targets?scope=team&month=2025-07",
        MANAGER,
        None,
        200,
        "targets",
        {"scope": "team", "month": "2025-07"},
    ),
    ("GET", "/api/v1/targets", REP, None, 200, "targets", {"scope": "me", "month": None}),
    (
        "PUT",
        "/api/v1/targets/42/2025-12",
        MANAGER,
        {"target": "500000"},
        200,
        "set_target",
        {"user_id": "42", "month": "2025-12", "target": "500000.00"},
    ),
    (
        "GET",
        "/api/v1/lost-reasons?scope=group",
        ADMIN,
        None,
        200,
        "lost_reasons",
        {"scope": "group"},
    ),
    ("GET", "/api/v1/lost-reasons", REP, None, 200, "lost_reasons", {"scope": "me"}),
]


@pytest.mark.parametrize(
    ("method", "path", "user", "body", "status", "rpc_method", "kwargs"),
    CASES,
    ids=[f"{c[0]} {c[1]}" for c in CASES],
)
def test_route_calls_its_rpc_with_its_keywords(
    http, rpc, method, path, user, body, status, rpc_method, kwargs
):
    options = {"headers": bearer(user)}
    if body is not None:
        options["json"] = body
    response = http.open(path, method=method, **options)
    assert response.status_code == status, response.get_data(as_text=True)
    assert opportunity_calls(rpc) == [(rpc_method, kwargs)]
    assert rpc.actor.id == user["id"]
    assert response.get_json() == {**OPPORTUNITY, **kwargs}


def test_every_opportunity_route_is_tested():
    tested = {(c[0], c[1].split("?")[0]) for c in CASES}
    for route in ROUTES:
        if route.tag != "opportunities" or route.method == "DELETE":
            continue
        template = route.path.replace("{id}", "11").replace("{user_id}", "42")
        template = template.replace("{month}", "2025-12")
        assert (route.method, template) in tested, route.path


# ---- the lock -------------------------------------------------------------------------------


def test_delete_is_405_locked_and_asks_no_service(http, rpc):
    response = http.delete("/api/v1/opportunities/11", headers=bearer(ADMIN))
    assert response.status_code == 405
    error = error_of(response)
    assert error["code"] == "locked"
    assert error["message"].startswith("商机已锁定") and "locked" in error["message"]
    assert error["details"] == {"opportunity_id": "11"}
    assert opportunity_calls(rpc) == []
    assert rpc.methods_called() == ["org.resolve_actor"]  # only who is asking


def test_delete_still_needs_a_token(http, rpc):
    assert http.delete("/api/v1/opportunities/11").status_code == 401
    assert rpc.calls == []


# ---- validation -----------------------------------------------------------------------------


def test_unknown_body_fields_are_422_and_no_service_is_asked(http, rpc):
    refused = [
        ("/api/v1/opportunities", {"customer_id": "5", "title": "x", "amount": 1, "colour": 1}),
        ("/api/v1/pipelines", {**PIPELINE, "colour": "red"}),
        ("/api/v1/opportunities/11/advance", {"note": "n", "colour": "won"}),
        ("/api/v1/opportunities/11/decision", {"action": "keep", "colour": 1}),
        ("/api/v1/opportunities/11/lose", {"reason": "price", "analysis": "a", "colour": 1}),
    ]
    for path, body in refused:
        response = http.post(path, json=body, headers=bearer(MANAGER))
        assert response.status_code == 422, path
        error = error_of(response)
        assert error["code"] == "validation_failed"
        assert set(error["details"]) == {"colour"}, path
    nested = {**PIPELINE, "stages": [{**PIPELINE["stages"][0], "colour": "red"}]}
    response = http.post("/api/v1/pipelines", json=nested, headers=bearer(MANAGER))
    assert response.status_code == 422
    assert "colour" in error_of(response)["details"]["stages"]["0"]
    assert opportunity_calls(rpc) == []


def test_bodies_on_routes_without_one_are_refused(http, rpc):
    response = http.post("/api/v1/opportunities/11/win", json={"force": True}, headers=bearer(REP))
    assert response.status_code == 422
    assert opportunity_calls(rpc) == []


@pytest.mark.parametrize("action", ["abandon", "KEEP", "", None, 1])
def test_bad_decision_action_is_422(http, rpc, action):
    body = {"action": action}
    response = http.post("/api/v1/opportunities/11/decision", json=body, headers=bearer(MANAGER))
    assert response.status_code == 422
    assert "action" in error_of(response)["details"]
    assert opportunity_calls(rpc) == []


def test_decision_needs_an_action(http):
    response = http.post("/api/v1/opportunities/11/decision", json={}, headers=bearer(MANAGER))
    assert response.status_code == 422


@pytest.mark.parametrize(
    "amount", ["12.345", "-1", "abc", "", "1e5", True, None, [], -0.5, 1.005, 10**13, "1,000"]
)
def test_bad_amount_is_422(http, rpc, amount):
    body = {"customer_id": "5", "title": "ERP", "amount": amount}
    response = http.post("/api/v1/opportunities", json=body, headers=bearer(REP))
    assert response.status_code == 422, amount
    assert "amount" in error_of(response)["details"]
    assert opportunity_calls(rpc) == []


@pytest.mark.parametrize(("amount", "sent"), [("0", "0.00"), (0, "0.00"), (" 7.5 ", "7.50")])
def test_amount_is_passed_on_as_a_decimal_string(http, rpc, amount, sent):
    body = {"customer_id": "5", "title": "ERP", "amount": amount}
    assert http.post("/api/v1/opportunities", json=body, headers=bearer(REP)).status_code == 201
    assert opportunity_calls(rpc)[0][1]["amount"] == sent


def test_qualification_answers_must_be_booleans(http, rpc):
    for answers in ({"budget": 1}, {"budget": "yes"}, ["budget"], {"": True}):
        body = {"customer_id": "5", "title": "ERP", "amount": "1", "qualification": answers}
        response = http.post("/api/v1/opportunities", json=body, headers=bearer(REP))
        assert response.status_code == 422, answers
        assert "qualification" in error_of(response)["details"]
    assert opportunity_calls(rpc) == []


def test_register_needs_customer_title_and_amount(http):
    response = http.post("/api/v1/opportunities", json={}, headers=bearer(REP))
    assert response.status_code == 422
    assert set(error_of(response)["details"]) == {"customer_id", "title", "amount"}


def test_pipeline_shape_is_checked_before_the_service(http, rpc):
    bad = [
        {**PIPELINE, "stages": "contact,won"},
        {**PIPELINE, "stages": [{**PIPELINE["stages"][0], "probability": "10"}]},
        {**PIPELINE, "stages": [{**PIPELINE["stages"][0], "time_limit": 7}]},
        {**PIPELINE, "qualification": [{"key": "b", "question": "q", "weight": "1"}]},
        {**PIPELINE, "qualification_threshold": True},
        {**PIPELINE, "stages": [PIPELINE["stages"][0]] * 51},
        {**PIPELINE, "name": "n" * 201},
        {k: v for k, v in PIPELINE.items() if k != "qualification"},
    ]
    for body in bad:
        response = http.post("/api/v1/pipelines", json=body, headers=bearer(MANAGER))
        assert response.status_code == 422, body
    assert opportunity_calls(rpc) == []


def test_pipeline_optional_durations_are_passed_only_when_given(http, rpc):
    body = {**PIPELINE, "followup_limit": None}
    assert http.post("/api/v1/pipelines", json=body, headers=bearer(MANAGER)).status_code == 201
    sent = opportunity_calls(rpc)[0][1]
    assert sent["followup_limit"] is None and sent["remind_before"] == "P1D"
    assert "decision_limit" not in sent


def test_lose_needs_reason_and_analysis(http, rpc):
    for body in ({"reason": "price"}, {"analysis": "a"}, {"reason": "", "analysis": "a"}):
        response = http.post("/api/v1/opportunities/11/lose", json=body, headers=bearer(REP))
        assert response.status_code == 422, body
    assert opportunity_calls(rpc) == []


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/opportunities?status=closed",
        "/api/v1/opportunities?holder_id=abc",
        "/api/v1/opportunities?limit=501",
        "/api/v1/funnel?scope=everyone",
        "/api/v1/funnel?pipeline_id=0",
        "/api/v1/forecast?months=0",
        "/api/v1/forecast?months=25",
        "/api/v1/forecast?months=abc",
        "/api/v1/worklist?limit=0",
        "/api/v1/targets?month=2025-13",
        "/api/v1/targets?month=2025-7",
        "/api/v1/targets?month=July",
        "/api/v1/lost-reasons?scope=world",
    ],
)
def test_bad_query_is_422(http, rpc, query):
    response = http.get(query, headers=bearer(ADMIN))
    assert response.status_code == 422, query
    assert error_of(response)["code"] == "validation_failed"
    assert opportunity_calls(rpc) == []


# ---- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-7", "25-07", "2025-07-01", "July"])
def test_bad_month_in_the_target_path_is_404(http, rpc, month):
    response = http.put(
        f"/api/v1/targets/42/{month}", json={"target": "1"}, headers=bearer(MANAGER)
    )
    assert response.status_code == 404, month
    assert error_of(response)["code"] == "not_found"
    assert rpc.calls == []


def test_bad_user_id_in_the_target_path_is_404(http, rpc):
    response = http.put("/api/v1/targets/abc/2025-07", json={"target": 1}, headers=bearer(MANAGER))
    assert response.status_code == 404
    assert rpc.calls == []


def test_bad_target_is_422(http, rpc):
    for body in ({}, {"target": "-5"}, {"target": "1.001"}, {"target": 1, "note": "x"}):
        response = http.put("/api/v1/targets/42/2025-07", json=body, headers=bearer(MANAGER))
        assert response.status_code == 422, body
    assert opportunity_calls(rpc) == []


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "99999999999"])
def test_opportunity_path_ids_that_cannot_exist_are_404(http, rpc, bad):
    assert http.get(f"/api/v1/opportunities/{bad}", headers=bearer(REP)).status_code == 404
    assert http.delete(f"/api/v1/opportunities/{bad}", headers=bearer(REP)).status_code == 404
    response = http.post(f"/api/v1/opportunities/{bad}/win", headers=bearer(REP))
    assert response.status_code == 404
    assert opportunity_calls(rpc) == []


def test_other_methods_on_an_opportunity_are_405_method_not_allowed(http):
    response = http.patch("/api/v1/opportunities/11", json={}, headers=bearer(REP))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "DELETE"}


# ---- levels ---------------------------------------------------------------------------------


def test_creating_a_pipeline_needs_level_six(http, rpc):
    response = http.post("/api/v1/pipelines", json=PIPELINE, headers=bearer(REP))
    assert response.status_code == 403
    assert error_of(response)["details"]["required_level"] == 6
    assert opportunity_calls(rpc) == []


def test_the_sweep_needs_level_nine(http, rpc):
    response = http.post("/api/v1/admin/sweep", headers=bearer(MANAGER))
    assert response.status_code == 403
    assert error_of(response)["details"]["required_level"] == 9
    assert opportunity_calls(rpc) == []


# ---- errors from the service keep their status and code -------------------------------------


def test_service_errors_keep_status_code_and_details(http, rpc):
    not_feasible = BusinessRuleViolated(
        "商机可行性不足 / The opportunity is not feasible",
        details={"score": 0.25, "threshold": 0.5, "missing": ["need"]},
        code="not_feasible",
    )
    rpc.answers[("opportunity", "register")] = not_feasible
    body = {"customer_id": "5", "title": "ERP", "amount": "1"}
    response = http.post("/api/v1/opportunities", json=body, headers=bearer(REP))
    assert response.status_code == 422
    assert error_of(response)["code"] == "not_feasible"
    assert error_of(response)["details"]["missing"] == ["need"]

    rpc.answers[("opportunity", "advance")] = Conflict(code="invalid_transition")
    response = http.post("/api/v1/opportunities/11/advance", json={}, headers=bearer(REP))
    assert (response.status_code, error_of(response)["code"]) == (409, "invalid_transition")

    rpc.answers[("opportunity", "funnel")] = Forbidden()
    response = http.get("/api/v1/funnel?scope=group", headers=bearer(REP))
    assert response.status_code == 403


# ---- the OpenAPI document -------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec():
    return json.loads(Gateway().openapi_text())


def test_openapi_documents_the_opportunity_routes(spec):
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/pipelines", "get"),
        ("/api/v1/pipelines", "post"),
        ("/api/v1/opportunities", "post"),
        ("/api/v1/opportunities", "get"),
        ("/api/v1/opportunities/{id}", "get"),
        ("/api/v1/opportunities/{id}", "delete"),
        ("/api/v1/opportunities/{id}/advance", "post"),
        ("/api/v1/opportunities/{id}/decision", "post"),
        ("/api/v1/opportunities/{id}/win", "post"),
        ("/api/v1/opportunities/{id}/lose", "post"),
        ("/api/v1/opportunities/{id}/lose/approve", "post"),
        ("/api/v1/admin/sweep", "post"),
        ("/api/v1/funnel", "get"),
        ("/api/v1/forecast", "get"),
        ("/api/v1/worklist", "get"),
        ("/api/v1/targets", "get"),
        ("/api/v1/targets/{user_id}/{month}", "put"),
        ("/api/v1/lost-reasons", "get"),
    ]:
        operation = paths[path][method]
        assert operation["tags"] == ["opportunities"], path
        assert "/ " in operation["summary"], path
    assert "405" in paths["/api/v1/opportunities/{id}"]["delete"]["responses"]
    assert "202" in paths["/api/v1/opportunities/{id}/lose"]["post"]["responses"]
    put = paths["/api/v1/targets/{user_id}/{month}"]["put"]
    patterns = {p["name"]: p["schema"]["pattern"] for p in put["parameters"]}
    assert patterns["month"].startswith("^[1-9][0-9]{3}-")
    assert patterns["user_id"] == "^[1-9][0-9]{0,9}$"
    schemas = spec["components"]["schemas"]
    for name in (
        "Pipeline",
        "Opportunity",
        "OpportunityDetail",
        "OpportunityPage",
        "Funnel",
        "Forecast",
        "Targets",
        "SweepResult",
        "LostReasons",
    ):
        assert name in schemas, name
    assert "history" in schemas["OpportunityDetail"]["properties"]
    assert schemas["CreatePipelineRequest"]["additionalProperties"] is False
    params = {p["name"]: p for p in paths["/api/v1/forecast"]["get"]["parameters"]}
    assert params["months"]["schema"]["maximum"] == 24


def test_numbers_too_large_for_a_float_are_422_not_500(http, rpc):
    huge = 10**400
    body = {**PIPELINE, "qualification_threshold": huge}
    response = http.post("/api/v1/pipelines", json=body, headers=bearer(MANAGER))
    assert response.status_code == 422
    assert "qualification_threshold" in error_of(response)["details"]
    body = {"customer_id": "5", "title": "ERP", "amount": huge}
    assert http.post("/api/v1/opportunities", json=body, headers=bearer(REP)).status_code == 422
    assert opportunity_calls(rpc) == []
