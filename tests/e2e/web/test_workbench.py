"""The workbench, the daily log, the opportunity board and the alarms in a real browser (the
``bpc`` fixture of ``conftest.py``: BPC on SQLite with the small demo).

The time until the workbench is on screen is printed, not asserted (timings are benchmarks'
business on these shared machines).
"""

from __future__ import annotations

import time
import uuid

from tests.e2e import browser
from tests.support import Api, eventually

PASSWORD = "Demo-2026!"


def test_a_salesperson_logs_in_to_the_workbench_and_switches_language(bpc):
    result = browser.run("login_workbench_language", bpc.env.base_url, login="demo_rep0")
    print(f"\nworkbench on screen {result['first_screen_ms']} ms after loading / (demo data)")


def test_a_log_entry_recorded_in_three_steps_shows_in_the_days_total(bpc):
    result = browser.run("daily_log", bpc.env.base_url, login="demo_rep1", minutes=25)
    assert result["after"] == result["before"] + 25, result
    rep = Api(bpc.env.base_url).login("demo_rep1", "Demo-2026!")
    me = rep.get("/api/v1/me").json()["id"]
    newest = rep.get("/api/v1/worklog/entries", params={"author_id": me}).json()["items"][0]
    assert newest["minutes"] == 25 and newest["activities"] == ["call"]


def test_an_opportunity_registered_in_the_browser_is_on_the_board(bpc):
    title = "智能仓储项目（浏览器）"
    result = browser.run("register_opportunity", bpc.env.base_url, login="demo_rep2", title=title)
    assert result["column"] == "stage-contact", result  # the default pipeline's first stage
    rep = Api(bpc.env.base_url).login("demo_rep2", "Demo-2026!")
    me = rep.get("/api/v1/me").json()["id"]
    held = rep.get(
        "/api/v1/opportunities", params={"holder_id": me, "status": "open", "limit": 500}
    ).json()
    assert [o["stage"] for o in held["items"] if o["title"] == title] == ["contact"]


def test_a_birthday_today_is_a_reminder_on_the_workbench(bpc):
    rep = Api(bpc.env.base_url).login("demo_rep3", "Demo-2026!")
    today = rep.get("/api/v1/me").json()["today"]  # the organisation's date
    contact = {"name": "欧阳明", "birthday": f"1980-{today[5:]}", "decision_maker": True}
    if today[5:] == "02-29":
        contact["birthday"] = "1980-02-29"  # 1980 is a leap year too
    made = rep.post("/api/v1/customers", {"name": f"寿星科技{uuid.uuid4().hex[:6]}有限公司",
                                          "contacts": [contact]})  # fmt: skip
    assert made.status_code == 201, made.text
    shown = browser.run("birthday_reminder", bpc.env.base_url, login="demo_rep3", date=today)
    assert any("生日" in text for text in shown["reminders"]), shown


def test_a_supervisor_returns_a_confiscated_opportunity_from_the_workbench(bpc):
    base = bpc.env.base_url
    manager = Api(base).login("demo_gmr0b0", PASSWORD)
    supervisor = Api(base).login("demo_supr0b0d0t0", PASSWORD)
    boss = supervisor.get("/api/v1/me").json()
    team = supervisor.get("/api/v1/users", params={"limit": 500}).json()["items"]
    login = next(u["login"] for u in team if u["supervisor_id"] == boss["id"] and u["level"] == 2)
    rep = Api(base).login(login, PASSWORD)
    fast = manager.post("/api/v1/pipelines", {
        "name": "快节奏流程 Fast pipeline",
        "stages": [
            {"key": "contact", "name": "接触 Contact", "time_limit": "PT2S", "probability": 10},
            {"key": "won", "name": "成交 Won", "time_limit": None, "probability": 100},
        ],
        "remind_before": "PT1S", "decision_limit": "P1D",
        "qualification": [{"key": "budget", "question": "客户有预算吗 / Budget?", "weight": 1}],
        "qualification_threshold": 0.5,
    })  # fmt: skip
    assert fast.status_code == 201, fast.text
    customer = rep.post("/api/v1/customers", {"name": f"没收测试{uuid.uuid4().hex[:6]}有限公司"})
    assert customer.status_code == 201, customer.text
    title = "限时项目（浏览器）"
    body = {"customer_id": customer.json()["id"], "title": title, "amount": "90000",
            "pipeline_id": fast.json()["id"], "qualification": {"budget": True}}  # fmt: skip
    # the opportunity service learns the customer from its event, a moment later
    opp = eventually(
        lambda: (r := rep.post("/api/v1/opportunities", body)).status_code == 201 and r,
        timeout=15, message="the new customer never reached the opportunity service",
    )  # fmt: skip
    admin = Api(base).login("admin", bpc.env.admin_password)
    deadline = time.monotonic() + 30
    while rep.get(f"/api/v1/opportunities/{opp.json()['id']}").json()["status"] == "open":
        assert time.monotonic() < deadline, "the sweep never confiscated it"
        time.sleep(1)
        admin.post("/api/v1/admin/sweep")
    seen = supervisor.get(f"/api/v1/opportunities/{opp.json()['id']}").json()
    assert seen["status"] == "confiscated" and seen["holder_id"] == boss["id"], seen

    shown = browser.run("decide", base, login="demo_supr0b0d0t0", title=title)
    assert shown["errors"] == 0
    after = rep.get(f"/api/v1/opportunities/{opp.json()['id']}").json()
    assert after["status"] == "open" and after["holder_id"] == rep.get("/api/v1/me").json()["id"]


def test_an_alarm_raised_answered_and_marked_effective_in_the_browser(bpc):
    description = f"客户拿竞品报价压价百分之二十{uuid.uuid4().hex[:4]}"
    response = "先算清总拥有成本，再让一年免费维保"
    result = browser.run(
        "alarm", bpc.env.base_url, requester="demo_rep0", responder="demo_rep1",
        description=description, response=response,
    )  # fmt: skip
    assert result["status"] == "已解决"
    rep = Api(bpc.env.base_url).login("demo_rep0", PASSWORD)
    resolved = rep.get("/api/v1/alarms", params={"status": "resolved", "limit": 500}).json()
    alarm = next(a for a in resolved["items"] if a["description"] == description)
    detail = rep.get(f"/api/v1/alarms/{alarm['id']}").json()
    assert [r["body"] for r in detail["responses"] if r["effective"]] == [response]


def test_a_refused_login_shows_the_apis_message_in_the_current_language(bpc):
    refused = Api(bpc.env.base_url).post(
        "/api/v1/auth/login", {"login": "demo_rep0", "password": "wrong-password"}
    )
    assert refused.status_code == 401
    chinese, english = refused.json()["error"]["message"].rsplit(" / ", 1)
    shown = browser.run("refused_login", bpc.env.base_url, login="demo_rep0")
    assert shown == {"chinese": chinese, "english": english}


def test_the_web_app_is_served_with_its_bundles_and_the_api_stays_json(bpc):
    api = Api(bpc.env.base_url)
    index = api.get("/")
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in index.headers["Content-Security-Policy"]
    bundle = index.text.split('src="', 1)[1].split('"', 1)[0]
    assert bundle.startswith("/assets/")
    script = api.get(bundle)
    assert script.status_code == 200 and "immutable" in script.headers["Cache-Control"]
    missing = api.get("/assets/nothing-here.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/me").status_code == 401  # the API is untouched
