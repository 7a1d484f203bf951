"""Difficulty alarms and the experience pool through the gateway, with BPC started by the
README's run command, on PostgreSQL.

Specifications (docs/DOMAIN.md §6, docs/API.md "Alarms and experience"): an alarm raised from a log
entry is published to the whole group; anyone responds; only the requester marks a response 方法有效
(403 for others), once (409); the resolved problem enters the pool with its contributors; a later
alarm in other words is offered that entry and marking it effective counts a reuse; an alarm nobody
answers climbs the supervisor chain (limits of seconds here)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from datetime import datetime, timedelta

import pytest

from tests.support import Api, eventually

ALARMS = "/api/v1/alarms"
ENTRIES = "/api/v1/worklog/entries"
PASSWORD = "Passw0rd!alarm"


@pytest.fixture(scope="module")
def bpc(shared_bpc):
    """BPC with alarm limits of seconds (tests/e2e/conftest.py): no response within 2 s → the
    next supervisor.

    PostgreSQL only, to keep the suite short: the alerts and experience services run every
    rule on SQLite too in tests/integration/test_alerts_service.py, and the other e2e modules
    (the schemathesis fuzz of every route included) run on both databases."""
    return shared_bpc("postgresql")


@pytest.fixture(scope="module")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)


@pytest.fixture(scope="module")
def people(bpc, admin):
    """A manager (6) over a supervisor (4) over three salespeople (2)."""
    tag = uuid.uuid4().hex[:6]
    unit = admin.post("/api/v1/org/units", {"name": f"报警组{tag}", "parent_id": "1"}).json()

    def user(key, level, supervisor_id, name):
        body = {
            "login": f"{key}{tag}", "password": PASSWORD, "name": name, "level": level,
            "org_unit_id": unit["id"], "supervisor_id": supervisor_id,
        }  # fmt: skip
        created = admin.post("/api/v1/users", body)
        assert created.status_code == 201, created.text
        api = Api(bpc.env.base_url).login(f"{key}{tag}", PASSWORD)
        return created.json()["id"], api

    manager = user("al_mgr", 6, "1", "赵经理")
    supervisor = user("al_sup", 4, manager[0], "钱主管")
    return {
        "manager": manager,
        "supervisor": supervisor,
        "rep": user("al_rep", 2, supervisor[0], "孙销售"),
        "peer": user("al_peer", 2, supervisor[0], "李同事"),
        "other": user("al_other", 2, supervisor[0], "周同事"),
    }


def _alarm(api: Api, alarm_id: str) -> dict:
    answer = api.get(f"{ALARMS}/{alarm_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


PROBLEM = "客户采购经理说我们的报价比竞争对手高出三成，要求直接降价到同一水平，否则不签合同"
PARAPHRASE = "对方采购嫌我们价格贵了百分之三十，非要我们跟竞品一个价才肯签约"
METHOD = "拆分报价单，逐项对比材料和服务，用全生命周期成本说明总价更低，再给两年延保"


def test_alarm_from_an_entry_resolved_by_the_requester_enters_the_pool(people):
    rep_id, rep = people["rep"]
    peer_id, peer = people["peer"]
    other_id, other = people["other"]

    recorded = rep.post(
        ENTRIES,
        {
            "activities": ["training"],
            "minutes": 30,
            "difficulty": {"category": "price", "description": PROBLEM, "amount": "80000"},
        },
    )
    assert recorded.status_code == 201, recorded.text
    entry = recorded.json()
    alarm_id = entry["alarm_id"]
    assert alarm_id, entry

    alarm = _alarm(peer, alarm_id)  # the board is group-wide: a colleague sees it
    assert alarm["status"] == "open" and alarm["requester_id"] == rep_id
    assert alarm["source_entry_id"] == entry["id"] and alarm["category"] == "price"
    assert alarm["amount"] == "80000.00" and alarm["raised_at"]
    board = peer.get(ALARMS, params={"status": "open"}).json()["items"]
    assert alarm_id in {a["id"] for a in board}
    # the entry itself never changes, but shows the alarm raised from it
    eventually(lambda: rep.get(f"{ENTRIES}/{entry['id']}").json()["alarm_id"] == alarm_id)

    first = peer.post(f"{ALARMS}/{alarm_id}/responses", {"body": METHOD})
    assert first.status_code == 201, first.text
    second = other.post(f"{ALARMS}/{alarm_id}/responses", {"body": "先找对方技术负责人确认需求"})
    assert second.status_code == 201
    first_id = first.json()["id"]

    refused = peer.post(f"{ALARMS}/{alarm_id}/responses/{first_id}/effective")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    assert _alarm(rep, alarm_id)["status"] == "open"

    resolved = rep.post(f"{ALARMS}/{alarm_id}/responses/{first_id}/effective")
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolved_at"]
    assert body["hours_to_resolution"] is not None and body["hours_to_resolution"] >= 0
    assert [r["effective"] for r in body["responses"]] == [True, False]

    again = rep.post(f"{ALARMS}/{alarm_id}/responses/{first_id}/effective")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_resolved"
    late = other.post(f"{ALARMS}/{alarm_id}/responses", {"body": "补充一点"})
    assert late.status_code == 409

    def in_pool():
        answer = rep.get("/api/v1/experience", params={"q": "报价 竞争对手"})
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        return next((i for i in items if i["source_alarm_id"] == alarm_id), None)

    pooled = eventually(in_pool, message="the resolved alarm never reached the pool")
    assert pooled["method"] == METHOD and pooled["problem"] == PROBLEM
    assert pooled["contributors"] == [peer_id, other_id]
    assert pooled["category"] == "price" and pooled["reuse_count"] == 0


def test_the_same_problem_in_other_words_is_suggested_and_counts_a_reuse(people):
    rep_id, rep = people["rep"]
    _, other = people["other"]
    items = eventually(lambda: rep.get("/api/v1/experience", params={"q": PROBLEM}).json()["items"])
    entry = next(i for i in items if i["problem"] == PROBLEM)

    raised = other.post(
        ALARMS, {"category": "price", "description": PARAPHRASE, "analysis": "客户预算有限"}
    )
    assert raised.status_code == 201, raised.text
    alarm = raised.json()
    assert alarm["status"] == "open" and alarm["raised_at"]
    suggested = [s["experience_id"] for s in alarm["suggestions"]]
    assert entry["id"] in suggested, alarm["suggestions"]
    offered = next(s for s in alarm["suggestions"] if s["experience_id"] == entry["id"])
    assert offered["method"] == METHOD and offered["score"] > 0

    not_mine = rep.post(f"{ALARMS}/{alarm['id']}/suggestions/{entry['id']}/effective")
    assert not_mine.status_code == 403
    done = other.post(f"{ALARMS}/{alarm['id']}/suggestions/{entry['id']}/effective")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "resolved"
    assert done.json()["effective_experience_id"] == entry["id"]
    assert (
        other.post(f"{ALARMS}/{alarm['id']}/suggestions/{entry['id']}/effective").status_code == 409
    )

    def reused():
        found = rep.get(f"/api/v1/experience/{entry['id']}").json()
        return found if found["reuse_count"] == 1 else None

    eventually(reused, message="the reuse was never counted")
    # the suggestion endpoint finds it for the new wording too
    ranked = rep.get("/api/v1/experience/suggest", params={"q": PARAPHRASE}).json()["items"]
    assert ranked[0]["id"] == entry["id"] and "score" in ranked[0]

    helpful = rep.post(f"/api/v1/experience/{entry['id']}/helpful")
    assert helpful.status_code == 200 and helpful.json()["helpful_count"] == 1
    twice = rep.post(f"/api/v1/experience/{entry['id']}/helpful")
    assert twice.json()["helpful_count"] == 1  # one vote per user

    handbook = rep.get("/api/v1/experience/handbook", params={"format": "md"})
    assert handbook.status_code == 200 and handbook.headers["Content-Type"].startswith(
        "text/markdown"
    )
    assert "生意经" in handbook.text and METHOD in handbook.text
    printable = rep.get("/api/v1/experience/handbook", params={"format": "html"})
    assert printable.headers["Content-Type"].startswith("text/html")
    assert "<html" in printable.text and "拆分报价单" in printable.text


def test_an_unanswered_alarm_climbs_the_supervisor_chain(people):
    _, rep = people["rep"]
    supervisor_id, supervisor = people["supervisor"]
    manager_id, manager = people["manager"]
    raised = rep.post(
        ALARMS, {"category": "payment", "description": "尾款拖欠三个月，客户财务不接电话"}
    )
    assert raised.status_code == 201, raised.text
    alarm_id = raised.json()["id"]

    def climbed(steps):
        def check():
            escalations = _alarm(rep, alarm_id)["escalations"]
            return escalations if len(escalations) >= steps else None

        return check

    first = eventually(climbed(1), timeout=15)
    assert first[0]["user_id"] == supervisor_id and first[0]["reason"] == "no_response"
    to_help = supervisor.get(ALARMS, params={"to_help": "true"}).json()["items"]
    assert alarm_id in {a["id"] for a in to_help}

    both = eventually(climbed(2), timeout=15)
    assert [e["user_id"] for e in both[:2]] == [supervisor_id, manager_id]
    assert both[1]["step"] == 2 and both[1]["level"] == 6
    # level 9 (the admin at the top) is above level 8: the climb stops at the manager
    assert all(e["level"] <= 8 for e in _alarm(rep, alarm_id)["escalations"])


def test_statistics_of_my_alarms(people):
    rep_id, rep = people["rep"]
    stats = rep.get(f"{ALARMS}/stats", params={"scope": "me"})
    assert stats.status_code == 200, stats.text
    figures = stats.json()
    # this rep raised two alarms in the tests above: one supported and resolved, one not
    assert figures["raised"] == 2
    assert figures["resolution_rate"] == 0.5 and figures["support_rate"] == 0.5
    assert figures["supporters"][0]["responses"] == 1
    assert {c["category"] for c in figures["by_category"]} == {"price", "payment"}


def test_bad_input_is_refused_and_changes_nothing(people):
    _, rep = people["rep"]
    before = rep.get(ALARMS, params={"mine": "true"}).json()["items"]
    cases = [
        {"category": "nonsense", "description": "x"},
        {"category": "price"},
        {"category": "price", "description": "  "},
        {"category": "price", "description": "ok", "amount": "-1"},
        {"category": "price", "description": "ok", "kind": "boss"},
        {"category": "price", "description": "ok", "opportunity_id": "999999"},
        {"category": "price", "description": "ok", "extra": 1},
    ]
    for body in cases:
        answer = rep.post(ALARMS, body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == "validation_failed"
    unknown = rep.post(
        ENTRIES,
        {
            "activities": ["training"],
            "minutes": 5,
            "difficulty": {"category": "x", "description": "y"},
        },
    )
    assert unknown.status_code == 422, unknown.text
    assert rep.get(ALARMS, params={"mine": "true"}).json()["items"] == before
    # every filter of the board together (ids are compared as the text they are stored as)
    filtered = rep.get(ALARMS, params={
        "status": "open", "category": "price", "kind": "sales", "stage": "quote",
        "requester_id": "1", "opportunity_id": "1", "mine": "true", "to_help": "false",
    })  # fmt: skip
    assert filtered.status_code == 200 and filtered.json()["items"] == []
    assert rep.get(ALARMS, params={"mine": "yes"}).status_code == 422
    assert (
        rep.get(f"{ALARMS}/stats", params={"from": "2026-11-02", "to": "2026-11-01"}).status_code
        == 422
    )
    assert rep.get(f"{ALARMS}/999999").status_code == 404
    assert rep.post(f"{ALARMS}/999999/responses", {"body": "hi"}).status_code == 404
    assert rep.get("/api/v1/experience/suggest").status_code == 422
    assert rep.get("/api/v1/experience/999999").status_code == 404


def test_a_customer_service_problem_flows_into_the_same_pool_as_kind_service(people):
    rep_id, rep = people["rep"]
    _, peer = people["peer"]
    raised = rep.post(
        ALARMS,
        {"category": "service", "kind": "service", "description": "客户投诉设备安装后频繁报警停机"},
    )
    assert raised.status_code == 201, raised.text
    alarm = raised.json()
    assert alarm["kind"] == "service"
    answer = peer.post(f"{ALARMS}/{alarm['id']}/responses", {"body": "先升级固件再校准传感器"})
    done = rep.post(f"{ALARMS}/{alarm['id']}/responses/{answer.json()['id']}/effective")
    assert done.status_code == 200

    def pooled():
        items = rep.get("/api/v1/experience", params={"kind": "service"}).json()["items"]
        return [i for i in items if i["source_alarm_id"] == alarm["id"]]

    (entry,) = eventually(pooled)
    assert entry["kind"] == "service" and entry["method"] == "先升级固件再校准传感器"
    sales = rep.get("/api/v1/experience", params={"kind": "sales"}).json()["items"]
    assert alarm["id"] not in {i["source_alarm_id"] for i in sales}


def test_the_workbench_answers_without_a_stopped_service(bpc, people):
    """docs/DOMAIN.md §8, docs/API.md "Workbench": every section from its service at once; with
    scoring stopped the workbench still answers 200 within 2 s, ``today`` null and scoring
    named."""
    supervisor_id, supervisor = people["supervisor"]
    rep_id, rep = people["rep"]
    raised = rep.post(ALARMS, {"category": "price", "description": "客户压价两成，要求本周答复",
                               "analysis": "竞品报价更低"})  # fmt: skip
    assert raised.status_code == 201, raised.text
    alarm_id = raised.json()["id"]

    full = rep.get("/api/v1/workbench")
    assert full.status_code == 200, full.text
    bench = full.json()
    assert bench["unavailable"] == []
    assert alarm_id in {a["id"] for a in bench["alarms"]["mine"]}
    assert bench["today"]["rank"] is not None and bench["decisions_pending"] is None
    assert {"appointments", "reminders", "near_deadline", "worklist", "forecast"} <= set(bench)
    lead = supervisor.get("/api/v1/workbench").json()
    assert alarm_id in {a["id"] for a in lead["alarms"]["to_help"]}
    assert alarm_id in {a["id"] for a in lead["alarms"]["unsupported"]}
    assert lead["decisions_pending"] == []

    scoring = bpc.children()["scoring"]
    os.kill(scoring, signal.SIGSTOP)  # alive but silent: its requests are never answered
    try:
        began = time.monotonic()
        degraded = rep.get("/api/v1/workbench")
        took = time.monotonic() - began
    finally:
        os.kill(scoring, signal.SIGCONT)
    assert degraded.status_code == 200, degraded.text
    assert took < 2.0, took
    answer = degraded.json()
    assert answer["today"] is None and answer["unavailable"] == ["scoring"]
    assert alarm_id in {a["id"] for a in answer["alarms"]["mine"]}
    assert answer["worklist"] is not None and answer["reminders"] is not None


def test_the_small_demo_fills_a_group_whose_people_can_work(bpc, admin):
    """``bpc demo --small`` (README) through the services' bulk imports: its people log in
    and see their workbench, customers, log, curve, alarms and the experience pool. Last in
    this module: it adds a whole group to the system."""
    import subprocess
    import sys

    from tests.support import ROOT

    environ = {**bpc.env.vars(), "BPC_ADMIN_PASSWORD": bpc.env.admin_password}
    run = subprocess.run(
        [sys.executable, "-m", "ops.cli", "demo", "--small"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "完成 done" in run.stdout and "demo_rep0 / Demo-2026!" in run.stdout
    rep = Api(bpc.env.base_url).login("demo_rep0", "Demo-2026!")
    bench = rep.get("/api/v1/workbench")
    assert bench.status_code == 200 and bench.json()["unavailable"] == [], bench.text
    assert bench.json()["worklist"], "a demo salesperson holds opportunities"
    assert rep.get("/api/v1/customers").json()["items"], "and owns customers"
    me = rep.get("/api/v1/me").json()["id"]
    entries = rep.get(ENTRIES).json()["items"]
    assert entries and all(e["author_id"] == me for e in entries)
    chain = rep.get("/api/v1/worklog/verify", params={"author_id": me}).json()
    assert chain["valid"] is True and chain["entries"] > 100  # imported chains hold
    half_a_year = (datetime.now() - timedelta(days=180)).date().isoformat()
    points = rep.get(
        "/api/v1/scoring/curves", params={"granularity": "month", "from": half_a_year}
    ).json()["points"]
    assert sum(p["minutes"] for p in points) > 0, "scoring was rebuilt from the history"
    assert admin.get("/api/v1/experience", params={"q": "客户"}).json()["items"]
    assert admin.get(ALARMS).json()["items"]
