"""The customer-care screen in a real browser (``#/care``; the ``bpc`` fixture of
``conftest.py``: BPC on SQLite with the small demo): what it shows is what the API answers —
the month calendar of reminders, a revisit with the care settings, and the referral graph with
a refused referral cycle. Names are unique (uuid): other tests share the same BPC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from tests.e2e import browser
from tests.support import Api, eventually

PASSWORD = "Demo-2026!"


def _put(api: Api, path: str, body: dict):
    return api.request("PUT", path, json_body=body)


def _grid(month: str) -> tuple[date, int]:
    """The first day the calendar shows for ``month`` (YYYY-MM; the Monday on or before its
    first day) and how many days it shows (whole weeks to the Sunday on or after its last)."""
    first = date.fromisoformat(f"{month}-01")
    start = first - timedelta(days=first.weekday())
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    end = last + timedelta(days=6 - last.weekday())
    return start, (end - start).days + 1


def _kind(item: dict) -> str:
    lunar = item["kind"] == "birthday" and item.get("calendar") == "lunar"
    return "lunar" if lunar else item["kind"]


def test_the_month_calendar_shows_each_reminder_on_its_day(bpc):
    base = bpc.env.base_url
    rep = Api(base).login("demo_rep4", PASSWORD)
    today = rep.get("/api/v1/me").json()["today"]  # the organisation's date
    year, month = int(today[:4]), today[5:7]
    name = f"关怀日历{uuid.uuid4().hex[:6]}科技有限公司"
    made = rep.post("/api/v1/customers", {
        "name": name,
        "founded_on": f"{year - 10}-{month}-20",
        "contacts": [
            {"name": "林晓燕", "title": "总经理", "birthday": f"1985-{month}-10",
             "decision_maker": True},
            # 38 years = two Metonic cycles: the lunar birthday returns within days of the 15th
            {"name": "陈国华", "title": "董事长", "birthday": f"{year - 38}-{month}-15",
             "birthday_calendar": "lunar", "decision_maker": True},
        ],
    })  # fmt: skip
    assert made.status_code == 201, made.text
    customer = made.json()["id"]
    important = {"label": "签约纪念日", "date": f"{year}-{month}-25", "recurring": False}
    dated = rep.post(f"/api/v1/customers/{customer}/important-dates", important)
    assert dated.status_code == 201, dated.text

    start, days = _grid(today[:7])
    answer = rep.get("/api/v1/reminders", params={"from": start.isoformat(), "days": days}).json()
    expected = {(i["date"], _kind(i)) for i in answer["items"] if i["customer_id"] == customer}
    month_start = f"{year}-{month}"
    assert {(f"{month_start}-10", "birthday"), (f"{month_start}-20", "anniversary"),
            (f"{month_start}-25", "important_date")} <= expected, expected  # fmt: skip
    assert "lunar" in {kind for _, kind in expected}, expected

    shown = browser.run("care:calendar", base, login="demo_rep4", customer_id=customer,
                        name=name, today=today)  # fmt: skip
    assert shown["month"] == today[:7] and shown["back"] == today[:7], shown
    assert shown["title"] == f"{year}年{int(month)}月", shown["title"]
    assert shown["headers"] == list("一二三四五六日"), shown["headers"]  # Monday first
    assert shown["english_headers"][0] == "Mon" and str(year) in shown["english_title"], shown
    assert shown["next_title"] != shown["title"]
    assert "today" in shown["today_class"].split(), shown["today_class"]
    # the list of days (the phone's view) holds every reminder of the customer on its day
    assert {(r["date"], r["kind"]) for r in shown["list"]} == expected, shown["list"]
    # the grid shows each on its day (a day with more than three shows three and "n more")
    grid = {(c["date"], c["kind"]) for c in shown["grid"]}
    assert grid <= expected, (grid, expected)
    crowded = {c["date"] for c in shown["grid"] if c["cell_count"] > 3}
    assert {e for e in expected if e[0] not in crowded} <= grid, (grid, expected)
    assert all(name in c["text"] for c in shown["grid"]), shown["grid"]


def test_a_revisit_recorded_in_the_browser_is_in_the_api(bpc):
    base = bpc.env.base_url
    rep = Api(base).login("demo_rep5", PASSWORD)
    today = rep.get("/api/v1/me").json()["today"]
    tag = uuid.uuid4().hex[:6]
    name = f"回访测试{tag}贸易有限公司"
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    made = rep.post("/api/v1/customers", {
        "name": name, "industry": "制造业", "region": "上海",
        "contacts": [{"name": "王建军", "title": "采购总监", "phone": phone,
                      "decision_maker": True}],
    })  # fmt: skip
    assert made.status_code == 201, made.text
    customer = made.json()["id"]
    label = f"周年庆典{tag}"
    next_due = (date.fromisoformat(today) + timedelta(days=7)).isoformat()

    shown = browser.run(
        "care:revisit", base, login="demo_rep5", search=f"回访测试{tag}", name=name, days=7,
        outcome="客户满意，计划下季度追加采购", notes="需要安排培训", label=label, date=today,
        expect_next=next_due,
    )  # fmt: skip
    assert shown["status_before"] == "潜在客户" and shown["status_after"] == "关怀客户", shown
    assert "王建军" in shown["contacts"] and "****" in shown["contacts"], shown["contacts"]
    assert shown["interval"] == "每 7 天", shown["interval"]
    assert shown["next"] == next_due

    # the API: the revisit is the customer's last, its next one due an interval later
    care = rep.get(f"/api/v1/customers/{customer}").json()
    assert (care["status"], care["revisit_interval"]) == ("customer", "P7D"), care
    last = datetime.fromisoformat(care["last_revisit_at"])
    assert last == datetime.fromisoformat(shown["revisit_at"]), (care, shown)
    assert care["next_revisit_on"] == next_due
    window = rep.get("/api/v1/reminders", params={"from": today, "days": 8}).json()["items"]
    mine = {(i["kind"], i["date"], i["label"]) for i in window if i["customer_id"] == customer}
    assert ("important_date", today, label) in mine, mine
    assert any(kind == "revisit" and day == next_due for kind, day, _ in mine), mine
    # and the screen listed the same reminders of the customer
    shown_kinds = {(u["kind"], u["date"]) for u in shown["upcoming"]}
    assert {("important_date", today), ("revisit", next_due)} <= shown_kinds, shown["upcoming"]


def test_the_referral_graph_and_a_refused_cycle(bpc):
    base = bpc.env.base_url
    rep = Api(base).login("demo_rep6", PASSWORD)
    tag = uuid.uuid4().hex[:6]

    def customer(name: str, referred_by: str | None = None) -> str:
        body = {"name": f"{name}{tag}有限公司"}
        if referred_by:
            body["referred_by"] = referred_by
        made = rep.post("/api/v1/customers", body)
        assert made.status_code == 201, made.text
        return made.json()["id"]

    root = customer("推荐源头")
    first = customer("一级推荐甲", root)
    customer("一级推荐乙", root)
    second = customer("二级推荐", first)

    graph = rep.get("/api/v1/customers/referrals").json()
    assert len(graph["nodes"]) > 0
    counts = {r["customer_id"]: r["referred_count"] for r in graph["referrers"]}
    assert counts[root] == 2 and counts[first] == 1, counts
    # the API's refusal of the cycle root ← second (second descends from root)
    refused = _put(rep, f"/api/v1/customers/{root}/referrer", {"referred_by": second})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "referral_cycle"
    chinese, english = refused.json()["error"]["message"].rsplit(" / ", 1)

    shown = browser.run(
        "care:referrals", base, login="demo_rep6",
        customer=f"推荐源头{tag}有限公司", referrer=f"二级推荐{tag}有限公司",
    )  # fmt: skip
    assert shown["points"] == len(graph["nodes"]), (shown["points"], len(graph["nodes"]))
    top = {t["customer_id"]: t["count"] for t in shown["top"]}
    api_top = {r["customer_id"]: r["referred_count"] for r in graph["referrers"][:10]}
    assert top == api_top, (top, api_top)
    assert any(f"推荐源头{tag}" in text for text in shown["labels"]), "the node's name is drawn"
    # the API's message first (then its details: the field's reason, named by its label)
    assert shown["chinese"].splitlines()[0] == chinese, shown["chinese"]
    assert shown["english"].splitlines()[0] == english, shown["english"]
    assert "由谁推荐" in shown["chinese"] and "Referred by" in shown["english"], shown
    # nothing changed
    after = rep.get(f"/api/v1/customers/{root}").json()
    assert after["referred_by"] is None


def test_customer_service_denies_a_claimed_visit_and_scoring_counts_it_false(bpc):
    """docs/DOMAIN.md §7: customer service (level 3) revisits its branch's care customers and may
    verify a salesperson's claimed visit; a denial proves that log entry false."""
    base = bpc.env.base_url
    supervisor = Api(base).login("demo_supr0b0d0t0", PASSWORD)
    boss = supervisor.get("/api/v1/me").json()["id"]
    team = supervisor.get("/api/v1/users", params={"limit": 500}).json()["items"]
    login = next(u["login"] for u in team if u["supervisor_id"] == boss and u["level"] == 2)
    rep = Api(base).login(login, PASSWORD)
    me = rep.get("/api/v1/me").json()
    name = f"核实拜访{uuid.uuid4().hex[:6]}机电有限公司"
    customer = rep.post("/api/v1/customers", {"name": name}).json()["id"]
    pipeline = next(p for p in rep.get("/api/v1/pipelines").json()["items"] if p["is_default"])
    body = {"customer_id": customer, "title": "机电改造", "amount": "60000",
            "pipeline_id": pipeline["id"],
            "qualification": {q["key"]: True for q in pipeline["qualification"]}}  # fmt: skip
    opp = eventually(
        lambda: (r := rep.post("/api/v1/opportunities", body)).status_code == 201 and r.json(),
        timeout=15, message="the new customer never reached the opportunity service",
    )  # fmt: skip
    while rep.post(f"/api/v1/opportunities/{opp['id']}/advance", {}).status_code == 200:
        pass  # up to the stage before won
    assert rep.post(f"/api/v1/opportunities/{opp['id']}/win").status_code == 200
    logged = rep.post("/api/v1/worklog/entries", {
        "customer_id": customer, "activities": ["visit"], "minutes": 90,
        "note": "上门拜访，介绍改造方案",
    })  # fmt: skip
    assert logged.status_code == 201, logged.text
    entry_id = logged.json()["id"]
    # a care customer (from the win's event), revisited every day: due tomorrow
    eventually(lambda: rep.get(f"/api/v1/customers/{customer}").json()["status"] == "customer")
    care = _put(rep, f"/api/v1/customers/{customer}/care", {"revisit_interval": "P1D"})
    due = care.json()["next_revisit_on"]
    eventually(lambda: any(v["entry_id"] == entry_id for v in rep.get(
        f"/api/v1/customers/{customer}/revisits").json()["visits"]))  # fmt: skip

    service = Api(base).login("demo_csr0b0_0", PASSWORD)  # the branch's customer service
    window = service.get("/api/v1/reminders", params={"from": due, "days": 1}).json()["items"]
    assert ("revisit", customer) in {(i["kind"], i["customer_id"]) for i in window}, window
    shown = browser.run(
        "care:verify_visit", base, login="demo_csr0b0_0", customer_id=customer, name=name,
        due=due, entry_id=entry_id, outcome="客户说这周没有人来过",
    )  # fmt: skip
    assert shown["before"] == "" and "不属实" in shown["after"], shown
    assert me["name"] in shown["after"]  # the salesperson named, though not visible to them
    seen = rep.get(f"/api/v1/customers/{customer}/revisits").json()
    assert [v["verification"] for v in seen["visits"] if v["entry_id"] == entry_id] == ["denied"]
    assert seen["items"][0]["verification"] == "denied"
    manager = Api(base).login("demo_dmr0b0d0", PASSWORD)

    def proven_false() -> int:
        report = manager.get("/api/v1/scoring/fake-reports", params={"scope": "subtree"}).json()
        return sum(u["proven_false"] for u in report["by_user"] if u["user_id"] == me["id"])

    assert eventually(proven_false, message="scoring never counted the denied visit") >= 1
