"""The opportunity screen in a real browser: the funnel equals the API's, a win, and a loss only
with its autopsy (死要剖尸), approved by the supervisor (docs/DOMAIN.md "Closing", "Funnel")."""

from __future__ import annotations

import uuid

from tests.e2e import browser
from tests.support import Api, eventually

PASSWORD = "Demo-2026!"


def team_member(base: str, supervisor: Api) -> Api:
    """A level-2 salesperson reporting to ``supervisor`` (the last one: others use the first)."""
    boss = supervisor.get("/api/v1/me").json()["id"]
    team = supervisor.get("/api/v1/users", params={"limit": 500}).json()["items"]
    reps = [u["login"] for u in team if u["supervisor_id"] == boss and u["level"] == 2]
    return Api(base).login(reps[-1], PASSWORD)


def register(rep: Api, title: str, pipeline: dict) -> dict:
    customer = rep.post("/api/v1/customers", {"name": f"结案测试{uuid.uuid4().hex[:6]}有限公司"})
    assert customer.status_code == 201, customer.text
    yes = {q["key"]: True for q in pipeline["qualification"]}
    body = {"customer_id": customer.json()["id"], "title": title, "amount": "50000",
            "pipeline_id": pipeline["id"], "qualification": yes}  # fmt: skip
    # the opportunity service learns the customer from its event, a moment later
    made = eventually(
        lambda: (r := rep.post("/api/v1/opportunities", body)).status_code == 201 and r,
        timeout=15, message="the new customer never reached the opportunity service",
    )  # fmt: skip
    return made.json()


def test_the_funnel_on_screen_is_the_apis(bpc):
    rep = Api(bpc.env.base_url).login("demo_rep2", PASSWORD)
    funnel = rep.get("/api/v1/funnel", params={"scope": "me"}).json()["stages"]
    reached = [s.get("reached", s["count"]) for s in funnel]
    assert sum(reached) > 0, "the small demo gives every salesperson opportunities"
    shown = browser.run("opportunities:funnel", bpc.env.base_url, login="demo_rep2")
    assert shown["points"] == sum(1 for n in reached if n > 0)
    assert [row[1] for row in shown["table"]] == [str(n) for n in reached]
    assert [row[2] for row in shown["table"]] == [str(s["count"]) for s in funnel]


def test_a_win_and_a_loss_with_its_autopsy_approved_by_the_supervisor(bpc):
    base = bpc.env.base_url
    supervisor = Api(base).login("demo_supr0b0d0t0", PASSWORD)
    rep = team_member(base, supervisor)
    login = rep.get("/api/v1/me").json()["login"]
    pipeline = next(p for p in rep.get("/api/v1/pipelines").json()["items"] if p["is_default"])
    before_won = pipeline["stages"][-2]["key"]
    win = register(rep, f"赢单项目{uuid.uuid4().hex[:4]}", pipeline)
    stage = win["stage"]
    while stage != before_won:
        advanced = rep.post(f"/api/v1/opportunities/{win['id']}/advance", {})
        assert advanced.status_code == 200, advanced.text
        stage = advanced.json()["stage"]
    lose = register(rep, f"丢单项目{uuid.uuid4().hex[:4]}", pipeline)
    analysis = "客户年度预算被砍，下次在立项前确认预算来源"

    refused = rep.post(
        f"/api/v1/opportunities/{lose['id']}/lose", {"reason": "", "analysis": analysis}
    )
    assert refused.status_code == 422
    shown = browser.run("opportunities:win_and_lose", base, login=login, win=win["title"],
                        lose=lose["title"], analysis=analysis)  # fmt: skip
    error = refused.json()["error"]  # the message, and the field's reason under its label
    assert shown["refusal"].startswith(error["message"].split(" / ")[0]), shown
    assert f"丢单原因：{error['details']['reason'][0].split(' / ')[0]}" in shown["refusal"], shown
    assert "丢单待审批" in shown["pending"] and "客户无预算" in shown["pending"]
    assert rep.get(f"/api/v1/opportunities/{win['id']}").json()["status"] == "won"
    pending = rep.get(f"/api/v1/opportunities/{lose['id']}").json()
    assert (pending["status"], pending["loss_reason"]) == ("loss_pending", "no_budget")
    assert pending["loss_analysis"] == analysis

    approved = browser.run("opportunities:approve_loss", base, login="demo_supr0b0d0t0",
                           title=lose["title"])  # fmt: skip
    assert analysis in approved["shown"] and "客户无预算" in approved["shown"]
    assert rep.get(f"/api/v1/opportunities/{lose['id']}").json()["status"] == "lost"
