"""Opportunities as a client sees them: over HTTP, against BPC started by the README command.

The module's BPC runs the opportunity sweep every 0.3 s (``BPC_SWEEP_INTERVAL`` in conftest),
so pipelines with ``PT2S`` stages show the whole clock — warning, confiscation, the
supervisor's decision, escalation — within seconds.

Every test builds its own team (a unit, a director, a supervisor, the salesperson who owns the
opportunities and a peer of theirs), so counts in funnels, lost reasons and targets are exact.
"""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.support import Api, eventually

PASSWORD = "Passw0rd!x"
DEFAULT_STAGES = ["contact", "needs", "demo", "quote", "negotiate", "payment", "won"]
FEASIBLE = {"budget": True, "authority": True, "need": True, "timeline": False}
# the started BPC has no BPC_TZ (Environment.vars drops the caller's BPC_ variables): the
# organisation's months are those of the default time zone
ORG_TZ = ZoneInfo("Asia/Shanghai")

_seq = itertools.count(1)


# --- building an organisation over HTTP ------------------------------------------------------


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}{uuid.uuid4().hex[:6]}"


def _me(api: Api) -> dict:
    resp = api.get("/api/v1/me")
    assert resp.status_code == 200, resp.text
    return resp.json()


def make_unit(admin: Api, name: str) -> dict:
    resp = admin.post("/api/v1/org/units", {"name": name, "parent_id": None})
    assert resp.status_code == 201, resp.text
    return resp.json()


def make_user(admin: Api, level: int, supervisor_id: str, unit_id: str, name: str):
    login = _unique(f"opp{level}_")
    resp = admin.post(
        "/api/v1/users",
        {
            "login": login,
            "password": PASSWORD,
            "name": name,
            "level": level,
            "org_unit_id": unit_id,
            "supervisor_id": supervisor_id,
        },
    )
    assert resp.status_code == 201, resp.text
    user = resp.json()
    return SimpleNamespace(id=user["id"], user=user, api=Api(admin.base_url).login(login, PASSWORD))


def make_team(admin: Api, top_id: str | None = None, unit_id: str | None = None):
    """director (5) → supervisor (4) → owner (2) and peer (2), under ``top_id`` (the admin)."""
    top_id = top_id or _me(admin)["id"]
    unit_id = unit_id or make_unit(admin, _unique("商机组 Opportunity team "))["id"]
    director = make_user(admin, 5, top_id, unit_id, "王总监")
    supervisor = make_user(admin, 4, director.id, unit_id, "李主管")
    owner = make_user(admin, 2, supervisor.id, unit_id, "张业务")
    peer = make_user(admin, 2, supervisor.id, unit_id, "赵同事")
    return SimpleNamespace(
        unit_id=unit_id, director=director, supervisor=supervisor, owner=owner, peer=peer
    )


@pytest.fixture
def team(admin):
    return make_team(admin)


# --- customers and opportunities ---------------------------------------------------------------


def new_customer(user) -> str:
    resp = user.api.post(
        "/api/v1/customers", {"name": f"{_unique('商机客户')}有限公司", "contacts": []}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def register(user, customer_id: str, **body):
    """POST /opportunities, retried while the opportunity service has not yet heard of the
    customer (it learns owners from the customer service's event): the first other answer."""
    body = {
        "customer_id": customer_id,
        "title": "年度采购项目 / Annual purchase",
        "amount": "100000.00",
        "qualification": FEASIBLE,
        **body,
    }

    def attempt():
        resp = user.api.post("/api/v1/opportunities", body)
        return [resp] if resp.status_code != 404 else None

    return eventually(attempt, timeout=20, message=f"customer {customer_id} never became known")[0]


def open_opportunity(user, **body) -> dict:
    resp = register(user, new_customer(user), **body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def get(user, opportunity_id: str) -> dict:
    resp = user.api.get(f"/api/v1/opportunities/{opportunity_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def act(user, opportunity_id: str, action: str, body: dict | None = None):
    return user.api.post(f"/api/v1/opportunities/{opportunity_id}/{action}", body or {})


def actions(detail: dict) -> list[str]:
    return [h["action"] for h in detail["history"]]


def entries(detail: dict, action: str) -> list[dict]:
    return [h for h in detail["history"] if h["action"] == action]


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text} has no offset"
    return value


def error_code(resp) -> str:
    return resp.json()["error"]["code"]


# --- the tests -----------------------------------------------------------------------------


def test_log_entries_restart_the_follow_up_clock_and_silence_confiscates(admin):
    # docs/DOMAIN.md §3: with a follow-up limit, an opportunity nobody logs work on for that long is
    # overdue although its stage deadline is far away. The clock restarts with each work-log
    # entry on it: the opportunity service learns of them from worklog.entry_recorded.
    unit = make_unit(admin, _unique("跟进时限 Follow-up branch "))
    head = make_user(admin, 6, _me(admin)["id"], unit["id"], "周总经理")
    team = make_team(admin, top_id=head.id, unit_id=unit["id"])
    owner, supervisor = team.owner, team.supervisor
    resp = head.api.post(
        "/api/v1/pipelines",
        {
            "name": "跟进流程 Follow-up pipeline",
            "stages": [
                {"key": "contact", "name": "接触 Contact", "time_limit": "PT1H", "probability": 10},
                {"key": "won", "name": "成交 Won", "time_limit": None, "probability": 100},
            ],
            "followup_limit": "PT5S",
            "decision_limit": "P1D",
            "qualification": [
                {"key": "budget", "question": "客户有预算吗 / Is there a budget?", "weight": 1}
            ],
            "qualification_threshold": 0.5,
        },
    )
    assert resp.status_code == 201, resp.text
    opp = open_opportunity(owner, pipeline_id=resp.json()["id"], qualification={"budget": True})
    oid = opp["id"]
    entry = {"customer_id": opp["customer_id"], "opportunity_id": oid, "activities": ["call"]}

    def log():
        resp = owner.api.post("/api/v1/worklog/entries", {**entry, "minutes": 5})
        if resp.status_code == 422 and error_code(resp) == "opportunity_not_held":
            return None  # the work log has not heard of the opportunity yet
        assert resp.status_code == 201, resp.text
        return resp.json()

    first = eventually(log, timeout=4, interval=0.2)
    assert first["opportunity_id"] == oid and first["stage"] == "contact"
    # an entry a second for twice the follow-up limit: it never falls due
    until = time.monotonic() + 10
    while time.monotonic() < until:
        time.sleep(1)
        assert log() is not None
        detail = get(owner, oid)
        assert (detail["status"], detail["holder_id"]) == ("open", owner.id), detail["history"]

    # silence: once the limit passes with no entry, it is confiscated to the supervisor
    def confiscated():
        detail = get(supervisor, oid)
        return detail["status"] == "confiscated" and detail

    detail = eventually(confiscated, timeout=15, interval=0.2)
    taken = entries(detail, "confiscated")[-1]
    assert (taken["from"], taken["to"], taken["reason"]) == (
        owner.id, supervisor.id, "followup_limit"
    )  # fmt: skip
    assert moment(taken["at"]) >= moment(first["recorded_at"]) + timedelta(seconds=10)


def test_the_clock_warns_confiscates_returns_and_escalates(admin):
    # A pipeline applies to its creator's subtree and, when none is named, the most specific
    # one is used: created by the level-9 admin it would replace the default for everybody.
    # A level-6 head of its own branch creates it, so it governs this team only.
    unit = make_unit(admin, _unique("限时推进 Clock branch "))
    head = make_user(admin, 6, _me(admin)["id"], unit["id"], "孙总经理")
    team = make_team(admin, top_id=head.id, unit_id=unit["id"])
    owner, supervisor, director = team.owner, team.supervisor, team.director

    resp = head.api.post(
        "/api/v1/pipelines",
        {
            "name": "快节奏流程 Fast pipeline",
            "stages": [
                {"key": "contact", "name": "接触 Contact", "time_limit": "PT2S", "probability": 10},
                {"key": "quote", "name": "报价 Quote", "time_limit": "PT2S", "probability": 50},
                {"key": "won", "name": "成交 Won", "time_limit": None, "probability": 100},
            ],
            "remind_before": "PT1S",
            "decision_limit": "PT2S",
            "qualification": [
                {"key": "budget", "question": "客户有预算吗 / Is there a budget?", "weight": 1}
            ],
            "qualification_threshold": 0.5,
        },
    )
    assert resp.status_code == 201, resp.text
    pipeline_id = resp.json()["id"]
    pipelines = owner.api.get("/api/v1/pipelines").json()["items"]
    assert pipeline_id in {p["id"] for p in pipelines}
    assert pipeline_id not in {p["id"] for p in admin.get("/api/v1/pipelines").json()["items"]}

    customer_id = new_customer(owner)
    before = datetime.now(UTC)
    resp = register(owner, customer_id, pipeline_id=pipeline_id, qualification={"budget": True})
    after = datetime.now(UTC)
    assert resp.status_code == 201, resp.text
    opp = resp.json()
    oid = opp["id"]
    assert opp["status"] == "open" and opp["stage"] == "contact"
    assert opp["owner_id"] == opp["holder_id"] == owner.id
    assert opp["pipeline_id"] == pipeline_id and opp["feasibility_score"] == 1.0
    # times are answered to the whole second (truncated): now + 2 s, give or take one
    contact_deadline = moment(opp["stage_deadline"])
    assert before + timedelta(seconds=1) <= contact_deadline
    assert contact_deadline <= after + timedelta(seconds=2)

    resp = act(owner, oid, "advance", {"note": "报价已发 / Quote sent"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["stage"] == "quote" and resp.json()["holder_id"] == owner.id
    quote_deadline = moment(resp.json()["stage_deadline"])
    assert quote_deadline >= contact_deadline  # entered a moment later (same second, maybe)
    assert quote_deadline >= moment(resp.json()["stage_entered_at"]) + timedelta(seconds=1)

    # warned a second before the deadline, confiscated to the supervisor once it passed
    def confiscated():
        detail = get(supervisor, oid)
        return detail["status"] == "confiscated" and detail

    detail = eventually(confiscated, timeout=15, interval=0.1)
    assert detail["holder_id"] == supervisor.id
    assert detail["owner_id"] == detail["original_owner_id"] == owner.id
    assert detail["stage"] == "quote" and detail["decision_deadline"] is not None
    history = actions(detail)
    assert history[:2] == ["registered", "advanced"]
    assert "warned" in history and history.index("warned") < history.index("confiscated")
    taken = entries(detail, "confiscated")[0]
    assert (taken["from"], taken["to"], taken["by"]) == (owner.id, supervisor.id, "system")
    assert taken["reason"] == "stage_deadline"

    # the supervisor gives it back: the owner holds it again, on a fresh clock
    resp = act(supervisor, oid, "decision", {"action": "return"})
    assert resp.status_code == 200, resp.text
    returned = resp.json()
    assert returned["status"] == "open" and returned["holder_id"] == owner.id
    assert returned["stage"] == "quote"
    assert moment(returned["stage_deadline"]) > quote_deadline
    decided = entries(get(owner, oid), "decided")
    assert [(d["by"], d["from"], d["to"], d["reason"]) for d in decided] == [
        (supervisor.id, supervisor.id, owner.id, "return")
    ]

    # missed again: to the supervisor, who lets the decision deadline pass: to the director
    def escalated():
        detail = get(director, oid)
        return detail["holder_id"] == director.id and "escalated" in actions(detail) and detail

    detail = eventually(escalated, timeout=20, interval=0.1)
    assert detail["status"] == "confiscated"
    assert detail["original_owner_id"] == owner.id
    assert len(entries(detail, "confiscated")) == 2
    assert len(entries(detail, "warned")) == 2
    up = entries(detail, "escalated")[0]
    assert (up["from"], up["to"], up["by"]) == (supervisor.id, director.id, "system")
    assert up["reason"] == "decision_deadline"
    # the supervisor who let it pass no longer decides
    late = act(supervisor, oid, "decision", {"action": "return"})
    assert late.status_code == 403, late.text
    assert error_code(late) == "forbidden"


def test_only_the_holder_acts_and_nobody_deletes(team):
    opp = open_opportunity(team.owner)
    oid = opp["id"]
    before = get(team.owner, oid)

    peer = team.peer
    resp = peer.api.get(f"/api/v1/opportunities/{oid}")
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    assert oid not in {o["id"] for o in peer.api.get("/api/v1/opportunities").json()["items"]}
    resp = act(peer, oid, "advance")
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    resp = act(peer, oid, "decision", {"action": "keep"})
    assert resp.status_code in (403, 404), resp.text

    supervisor = team.supervisor
    seen = get(supervisor, oid)
    assert seen["holder_id"] == team.owner.id
    listed = supervisor.api.get("/api/v1/opportunities", params={"holder_id": team.owner.id})
    assert oid in {o["id"] for o in listed.json()["items"]}
    resp = act(supervisor, oid, "advance")
    assert resp.status_code == 403 and error_code(resp) == "forbidden"

    for user in (team.owner, supervisor):
        resp = user.api.request("DELETE", f"/api/v1/opportunities/{oid}")
        assert resp.status_code == 405, resp.text
        assert error_code(resp) == "locked"

    after = get(team.owner, oid)
    for key in ("status", "stage", "holder_id", "owner_id", "stage_deadline"):
        assert after[key] == before[key], key
    assert after["status"] == "open" and after["stage"] == "contact"
    assert len(after["history"]) == len(before["history"]) == 1


def test_a_loss_needs_an_autopsy_and_a_supervisors_approval(team):
    owner, supervisor = team.owner, team.supervisor
    opp = open_opportunity(owner, amount="45000.50")
    oid = opp["id"]

    resp = act(owner, oid, "lose", {"reason": "price", "analysis": ""})
    assert resp.status_code == 422, resp.text
    assert error_code(resp) == "validation_failed"
    assert "analysis" in resp.json()["error"]["details"]
    assert get(owner, oid)["status"] == "open"

    analysis = "竞品报价低三成，客户预算被砍 / The competitor quoted 30% lower; budget was cut"
    resp = act(owner, oid, "lose", {"reason": "price", "analysis": analysis})
    assert resp.status_code == 202, resp.text
    pending = resp.json()
    assert pending["status"] == "loss_pending" and pending["loss_reason"] == "price"
    assert pending["stage_deadline"] is not None  # still on the clock until approved
    assert pending["holder_id"] == owner.id
    assert actions(get(owner, oid))[-1] == "loss_requested"

    resp = act(owner, oid, "lose/approve")
    assert resp.status_code == 403 and error_code(resp) == "forbidden"
    resp = act(team.peer, oid, "lose/approve")
    assert resp.status_code == 404, resp.text
    assert get(owner, oid)["status"] == "loss_pending"

    resp = act(supervisor, oid, "lose/approve")
    assert resp.status_code == 200, resp.text
    lost = resp.json()
    assert lost["status"] == "lost" and lost["closed_at"] is not None
    assert lost["loss_analysis"] == analysis
    last = get(owner, oid)["history"][-1]
    assert (last["action"], last["by"], last["reason"]) == ("lost", supervisor.id, "price")

    resp = supervisor.api.get("/api/v1/lost-reasons", params={"scope": "subtree"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["items"] == [{"reason": "price", "count": 1, "amount": "45000.50"}]


def test_registration_is_refused_for_a_held_customer_or_below_the_threshold(team, admin):
    owner, peer = team.owner, team.peer
    customer_id = new_customer(owner)

    resp = register(peer, customer_id)
    assert resp.status_code == 409, resp.text
    assert error_code(resp) == "duplicate_customer"
    assert resp.json()["error"]["details"]["customer_id"] == customer_id

    resp = register(owner, customer_id, qualification={"budget": False, "authority": False})
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "not_feasible"
    assert error["details"]["score"] == 0
    assert error["details"]["missing"] == ["need", "timeline"]

    no = {"budget": False, "authority": False, "need": False, "timeline": False}
    resp = register(owner, customer_id, qualification=no)
    assert resp.status_code == 422 and error_code(resp) == "not_feasible"
    assert resp.json()["error"]["details"]["score"] == 0
    assert resp.json()["error"]["details"]["missing"] == []
    assert owner.api.get("/api/v1/opportunities").json()["items"] == []

    # the owner may still register it once feasible; the peer still may not
    assert register(owner, customer_id).status_code == 201
    assert register(peer, customer_id).status_code == 409

    for api in (owner.api, admin):
        for oid in ("1", "987654321"):
            resp = api.request("DELETE", f"/api/v1/opportunities/{oid}")
            assert resp.status_code == 405, resp.text
            assert error_code(resp) == "locked"


def test_advance_to_payment_then_win_and_read_the_funnel_forecast_and_worklist(team):
    owner = team.owner
    pipelines = owner.api.get("/api/v1/pipelines").json()["items"]
    default = next(p for p in pipelines if [s["key"] for s in p["stages"]] == DEFAULT_STAGES)

    big = open_opportunity(owner, amount="120000.00")  # no pipeline_id: the default one
    small = open_opportunity(owner, amount=30000)
    assert big["pipeline_id"] == small["pipeline_id"] == default["id"]

    for stage in DEFAULT_STAGES[1:6]:
        resp = act(owner, big["id"], "advance")
        assert resp.status_code == 200, resp.text
        assert resp.json()["stage"] == stage and resp.json()["stage_deadline"] is not None

    resp = owner.api.get("/api/v1/worklist")
    assert resp.status_code == 200, resp.text
    assert [o["id"] for o in resp.json()["items"]] == [big["id"], small["id"]]  # 90% before 10%

    resp = act(owner, big["id"], "advance")
    assert resp.status_code == 409, resp.text
    assert error_code(resp) == "invalid_transition"
    assert get(owner, big["id"])["stage"] == "payment"

    resp = act(owner, big["id"], "win")
    assert resp.status_code == 200, resp.text
    won = resp.json()
    assert won["status"] == "won" and won["stage"] == "won"
    assert won["closed_at"] is not None and won["stage_deadline"] is None
    assert actions(get(owner, big["id"])) == ["registered"] + ["advanced"] * 5 + ["won"]

    resp = owner.api.get("/api/v1/funnel", params={"scope": "me"})
    assert resp.status_code == 200, resp.text
    stages = {s["key"]: s for s in resp.json()["stages"]}
    assert list(stages) == DEFAULT_STAGES
    for stage in stages.values():
        assert {"key", "count", "amount", "conversion", "median_time_in_stage"} <= set(stage)
    assert (stages["won"]["count"], stages["won"]["amount"]) == (1, "120000.00")
    assert (stages["contact"]["count"], stages["contact"]["amount"]) == (1, "30000.00")
    assert stages["contact"]["conversion"] == 0.5  # two reached contact, one went on
    assert stages["needs"]["count"] == 0

    resp = owner.api.get("/api/v1/forecast", params={"scope": "me", "months": 3})
    assert resp.status_code == 200, resp.text
    forecast = resp.json()
    assert len(forecast["months"]) == 3
    assert forecast["months"][0]["month"] == datetime.now(ORG_TZ).strftime("%Y-%m")
    for month in forecast["months"]:
        assert {"month", "weighted", "count"} <= set(month)
    assert set(DEFAULT_STAGES) <= set(forecast["probabilities"])
    assert "mape" in forecast["backtest"]

    resp = owner.api.get("/api/v1/worklist")
    assert resp.status_code == 200, resp.text
    assert [o["id"] for o in resp.json()["items"]] == [small["id"]]


def test_a_supervisor_sets_a_subordinates_target(team):
    owner, supervisor = team.owner, team.supervisor
    month = datetime.now(ORG_TZ).strftime("%Y-%m")
    path = f"/api/v1/targets/{owner.id}/{month}"

    # the opportunity service learns of new people from org's events: retry while unknown
    def set_target():
        resp = supervisor.api.request("PUT", path, json_body={"target": "50000"})
        return [resp] if resp.status_code != 404 else None

    resp = eventually(set_target, timeout=20)[0]
    assert resp.status_code == 200, resp.text
    assert resp.json()["target"] == "50000.00" and resp.json()["user_id"] == owner.id

    def listed():
        resp = supervisor.api.get("/api/v1/targets", params={"scope": "team", "month": month})
        assert resp.status_code == 200, resp.text
        items = {i["user_id"]: i for i in resp.json()["items"]}
        return team.peer.id in items and items  # both direct reports, the peer without one

    items = eventually(listed, timeout=20)
    assert items[owner.id]["target"] == "50000.00" and items[owner.id]["month"] == month
    assert items[team.peer.id]["month"] == month

    resp = team.peer.api.request("PUT", path, json_body={"target": "1"})
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == "forbidden"
    items = supervisor.api.get("/api/v1/targets", params={"scope": "team", "month": month})
    assert {i["user_id"]: i for i in items.json()["items"]}[owner.id]["target"] == "50000.00"
