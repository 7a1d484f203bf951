"""The daily log and its scores through the gateway, with BPC started by the README's run
command, on SQLite and PostgreSQL.

Specifications (docs/DOMAIN.md §4–5, docs/API.md "Work log" and "Scoring"): three clicks record an
entry linked into the author's hash chain; an entry can never be changed or deleted (405); rule
violations answer 422 with their code and record nothing; notes append without touching the entry;
the entry shows in the author's curve and on the leaderboard."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support import Api, eventually

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENTRIES = "/api/v1/worklog/entries"


@pytest.fixture(scope="module")
def team(bpc, admin):
    tag = uuid.uuid4().hex[:6]
    unit = admin.post("/api/v1/org/units", {"name": f"日报组{tag}", "parent_id": "1"}).json()

    def user(login, level, supervisor_id, name):
        body = {
            "login": f"{login}{tag}", "password": "Passw0rd!" + login, "name": name,
            "level": level, "org_unit_id": unit["id"], "supervisor_id": supervisor_id,
        }  # fmt: skip
        created = admin.post("/api/v1/users", body)
        assert created.status_code == 201, created.text
        api = Api(bpc.env.base_url).login(f"{login}{tag}", "Passw0rd!" + login)
        return created.json(), api

    supervisor, lead = user("wl_sup", 4, "1", "王主管")
    rep, rep_api = user("wl_rep", 2, supervisor["id"], "张三")
    peer, peer_api = user("wl_peer", 2, supervisor["id"], "李四")
    customers = []  # the rep's own customers: an entry's customer must be one she may work on
    for n in range(4):
        made = rep_api.post("/api/v1/customers", {"name": f"日报客户{n}{tag}有限公司"})
        assert made.status_code == 201, made.text
        customers.append(made.json()["id"])
    return {
        "supervisor": (supervisor, lead), "rep": (rep, rep_api), "peer": (peer, peer_api),
        "customers": customers,
    }  # fmt: skip


def test_three_clicks_and_the_chain(team):
    rep, api = team["rep"]
    c1, c2, _, _ = team["customers"]
    catalog = api.get("/api/v1/activities").json()["items"]
    assert {"call", "visit", "meeting"} <= {a["key"] for a in catalog}
    first = api.post(ENTRIES, {"customer_id": c1, "activities": ["visit"], "minutes": 45})
    assert first.status_code == 201, first.text
    second = api.post(ENTRIES, {"customer_id": c2, "activities": ["call"], "minutes": 15})
    assert second.status_code == 201
    a, b = first.json(), second.json()
    assert a["author_id"] == rep["id"] and a["late"] is False
    assert b["prev_hash"] == a["hash"] and len(b["hash"]) == 64
    verified = api.get("/api/v1/worklog/verify").json()
    assert verified["valid"] is True and verified["entries"] == 2


def test_an_entry_can_never_be_changed_or_deleted(team):
    _, api = team["rep"]
    entry = api.post(ENTRIES, {"activities": ["training"], "minutes": 30}).json()
    path = f"{ENTRIES}/{entry['id']}"
    for method in ("PUT", "PATCH", "DELETE"):
        answer = api.request(method, path, json_body={"minutes": 600})
        assert answer.status_code == 405, (method, answer.text)
        assert answer.json()["error"]["code"] == "immutable"
    assert api.get(path).json()["minutes"] == 30

    note = api.post(f"{path}/notes", {"text": "补充：培训内容为新产品"})
    assert note.status_code == 201
    after = api.get(path).json()
    assert after["hash"] == entry["hash"] and after["notes"][0]["text"].startswith("补充")


def test_rule_violations_answer_422_with_their_code_and_record_nothing(team):
    _, api = team["rep"]
    c3 = team["customers"][2]
    before = len(api.get(ENTRIES).json()["items"])
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    cases = [
        ({"minutes": 0}, "validation_failed"),
        ({"minutes": 961}, "validation_failed"),
        ({"work_date": tomorrow}, "future_date"),
        ({"activities": ["contract"], "opportunity_id": "999999"}, "validation_failed"),
        ({"expense": "99999"}, "expense_over_cap"),
    ]
    for change, code in cases:
        body = {"customer_id": c3, "activities": ["call"], "minutes": 10, **change}
        answer = api.post(ENTRIES, body)
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["error"]["code"] == code, (change, answer.json())
    full = api.post(ENTRIES, {"customer_id": c3, "activities": ["visit"], "minutes": 960})
    assert full.status_code == 201
    over = api.post(ENTRIES, {"customer_id": c3, "activities": ["visit"], "minutes": 960})
    assert over.status_code == 422 and over.json()["error"]["code"] == "day_limit_exceeded"
    assert len(api.get(ENTRIES).json()["items"]) == before + 1


def test_visibility_and_the_curve(team):
    rep, api = team["rep"]
    _, lead = team["supervisor"]
    _, peer = team["peer"]
    c4 = team["customers"][3]
    entry = api.post(ENTRIES, {"customer_id": c4, "activities": ["call"], "minutes": 5}).json()
    assert peer.get(f"{ENTRIES}/{entry['id']}").status_code == 404
    seen = lead.get(ENTRIES, params={"author_id": rep["id"]}).json()["items"]
    assert entry["id"] in {e["id"] for e in seen}
    today = datetime.now(SHANGHAI).date().isoformat()

    def curve_minutes():
        answer = api.get("/api/v1/scoring/curves", params={"from": today, "to": today})
        return answer.json()["points"][0]["minutes"]

    total = sum(e["minutes"] for e in api.get(ENTRIES).json()["items"] if e["work_date"] == today)
    eventually(lambda: curve_minutes() == total, message="the curve never showed the entries")
    board = lead.get(
        "/api/v1/scoring/leaderboard",
        params={"metric": "diligence", "period": "day", "scope": "team"},
    )
    assert board.status_code == 200
    ranked = {i["user_id"]: i for i in board.json()["items"]}
    assert ranked[rep["id"]]["value"] == total and ranked[rep["id"]]["rank"] == 1


def test_a_visit_denied_by_a_revisit_is_proven_false_and_leaves_the_diligence(team):
    """docs/DOMAIN.md §5 and §7: a care revisit that finds a claimed visit never happened proves the
    entry false; that day's diligence loses its minutes (the entry itself never changes)."""
    rep, api = team["rep"]
    _, lead = team["supervisor"]
    customer = api.post("/api/v1/customers", {"name": f"回访核实{uuid.uuid4().hex[:6]}有限公司"})
    assert customer.status_code == 201, customer.text
    cid = customer.json()["id"]
    visit = api.post(ENTRIES, {"customer_id": cid, "activities": ["visit"], "minutes": 40})
    assert visit.status_code == 201, visit.text
    today = datetime.now(SHANGHAI).date().isoformat()

    def today_minutes():
        return api.get("/api/v1/scoring/curves", params={"from": today, "to": today}).json()[
            "points"
        ][0]["minutes"]

    total = sum(e["minutes"] for e in api.get(ENTRIES).json()["items"] if e["work_date"] == today)
    eventually(lambda: today_minutes() == total, message="the curve never showed the visit")
    body = {"outcome": "客户说当天无人来访", "verifies_entry_id": visit.json()["id"],
            "verification": "denied"}  # fmt: skip

    def denied():  # 422 until the customer service has heard of the entry
        answer = lead.post(f"/api/v1/customers/{cid}/revisits", body)
        assert answer.status_code in (201, 422), answer.text
        return answer if answer.status_code == 201 else None

    revisit = eventually(denied)
    assert revisit.json()["verification"] == "denied"
    again = lead.post(f"/api/v1/customers/{cid}/revisits", body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_verified"
    eventually(lambda: today_minutes() == total - 40, message="the denial never reached scoring")
    assert api.get(f"{ENTRIES}/{visit.json()['id']}").json()["minutes"] == 40
