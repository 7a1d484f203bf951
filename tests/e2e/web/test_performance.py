"""业绩曲线 (curves, leaderboards) and 管理分析 (fake reports, early warnings, trainee screening)
in a real browser (the ``bpc`` fixture of ``conftest.py``: BPC on SQLite with the small demo).

Each test asks the API for the same data the screen shows and compares: a screen showing an
error, or an empty chart where the API has data, fails. Screenshots at desktop and phone width
go to ``var/screenshots/`` (performance*, management*).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.e2e import browser
from tests.support import Api, eventually

PASSWORD = "Demo-2026!"
BOARD_SIZE = 20  # bars and rows the leaderboard shows (performance.js)
CHART_PEOPLE = 20  # bars of the per-person management charts (management.js)
REP = "demo_rep0"  # level 2, team of demo_supr0b0d0t0, department of demo_dmr0b0d0
SUSPECT = "demo_rep5"  # level 2, same department; logs a day over 16 h below
MANAGER = "demo_dmr0b0d0"  # level 5
SUPERVISOR = "demo_supr0b0d0t0"  # level 4


def _api(bpc, login: str) -> Api:
    return Api(bpc.env.base_url).login(login, PASSWORD)


def _get(api: Api, path: str, **params) -> dict:
    answer = api.get(f"/api/v1{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _ranges(today: str) -> dict[str, tuple[str, str]]:
    """The screen's ranges: the last 30 days, and the last 12 months (from the 1st)."""
    day = date.fromisoformat(today)
    first = day.replace(day=1)
    month, year = first.month - 11, first.year
    while month < 1:
        month, year = month + 12, year - 1
    return {
        "day": ((day - timedelta(days=29)).isoformat(), today),
        "month": (first.replace(year=year, month=month).isoformat(), today),
    }


def _curves(api: Api, user_id: str, today: str) -> dict[str, list[dict]]:
    return {
        granularity: _get(
            api, "/scoring/curves", user_id=user_id, granularity=granularity, **{"from": a, "to": b}
        )["points"]
        for granularity, (a, b) in _ranges(today).items()
    }


def _assert_curve_shown(shown: dict, points: list[dict]) -> None:
    assert len(points) > 0
    assert shown["diligence_points"] == len(points), (shown, len(points))
    assert shown["ability_points"] == len(points), (shown, len(points))
    assert shown["total_minutes"] == sum(p["minutes"] for p in points)
    assert shown["total_score"] == pytest.approx(sum(p["score"] for p in points), abs=0.01)
    assert shown["total_suspicious"] == sum(p["suspicious"] for p in points)
    assert shown["suspicious_days"] == sum(1 for p in points if p["suspicious"] > 0)


@pytest.fixture(scope="module")
def suspicious_day(bpc):
    """demo_rep5 logs 1000 minutes today (two entries): a day over 16 h, both suspicious."""
    rep = _api(bpc, SUSPECT)
    me = _get(rep, "/me")
    for minutes in (500, 500):
        made = rep.post("/api/v1/worklog/entries", {"activities": ["meeting"], "minutes": minutes})
        assert made.status_code == 201, made.text
    today = me["today"]
    eventually(
        lambda: (
            _get(rep, "/scoring/curves", **{"from": today, "to": today})["points"][0]["suspicious"]
            >= 2
        ),
        timeout=20,
        message="scoring never flagged the day over 16 h",
    )
    return {"user": me, "today": today}


def test_the_curves_show_the_apis_points_by_day_and_by_month(bpc):
    rep = _api(bpc, REP)
    me = _get(rep, "/me")
    expected = _curves(rep, me["id"], me["today"])
    assert len(expected["day"]) == 30 and len(expected["month"]) == 12
    assert sum(p["minutes"] for p in expected["day"]) > 0, "the demo has history"
    assert sum(p["minutes"] for p in expected["month"]) > 0
    shown = browser.run("performance:curves", bpc.env.base_url, login=REP, shot="performance")
    _assert_curve_shown(shown["day"], expected["day"])
    _assert_curve_shown(shown["month"], expected["month"])
    assert shown["picker"] is False, "a salesperson sees no one else's curves"


def test_a_suspicious_day_is_marked_on_the_curve(bpc, suspicious_day):
    rep = _api(bpc, SUSPECT)
    expected = _curves(rep, suspicious_day["user"]["id"], suspicious_day["today"])
    flagged = [p["date"] for p in expected["day"] if p["suspicious"] > 0]
    assert suspicious_day["today"] in flagged
    shown = browser.run(
        "performance:curves", bpc.env.base_url, login=SUSPECT, shot="performance-suspicious"
    )
    _assert_curve_shown(shown["day"], expected["day"])
    _assert_curve_shown(shown["month"], expected["month"])
    # one red triangle per suspicious day, besides the legend's
    assert shown["day"]["markers"] == 1 + len(flagged), shown["day"]
    for day in flagged:
        assert day[5:] in shown["day"]["suspicious_text"], shown["day"]["suspicious_text"]


def test_a_supervisor_picks_a_team_member_to_see_their_curves(bpc):
    supervisor = _api(bpc, SUPERVISOR)
    me = _get(supervisor, "/me")
    team = _get(supervisor, "/users", limit=500)["items"]
    member = next(u for u in team if u["supervisor_id"] == me["id"] and u["level"] == 2)
    expected = _curves(supervisor, member["id"], me["today"])
    assert sum(p["minutes"] for p in expected["day"]) > 0
    shown = browser.run(
        "performance:curves", bpc.env.base_url, login=SUPERVISOR, person=member["name"],
        shot="performance-supervisor",
    )  # fmt: skip
    assert shown["picker"] is True
    assert member["name"] in shown["people"]
    _assert_curve_shown(shown["person"], expected["day"])
    own = _curves(supervisor, me["id"], me["today"])
    _assert_curve_shown(shown["day"], own["day"])


def test_the_leaderboards_show_the_apis_ranking_with_the_caller_highlighted(bpc):
    rep = _api(bpc, REP)
    me = _get(rep, "/me")
    boards = [["diligence", "month", "team"], ["ability", "week", "branch"],
              ["diligence", "month", "group"]]  # fmt: skip
    shown = browser.run("performance:leaderboard", bpc.env.base_url, login=REP, boards=boards)
    for (metric, period, scope), board in zip(boards, shown["boards"], strict=True):
        items = _get(
            rep, "/scoring/leaderboard", metric=metric, period=period, scope=scope,
            date=me["today"],
        )["items"]  # fmt: skip
        assert items, (metric, period, scope)
        top = items[:BOARD_SIZE]
        mine = next(i for i in items if i["user_id"] == me["id"])
        names = [i["name"] for i in top] + ([] if mine in top else [mine["name"]])
        assert board["names"] == names, (metric, period, scope, board)
        assert board["names"][0] == items[0]["name"]
        assert board["ranks"][0] == items[0]["rank"] == 1
        assert board["count"] == len(items)
        assert board["points"] == len(top) > 0
        assert board["me"] is not None and me["name"] in board["me"]
        assert board["me_highlighted"], board
        assert f"第 {mine['rank']} 名 / 共 {len(items)} 人" in board["my_rank"]
        if period == "month":
            assert items[0]["value"] > 0, "the demo has this month's history"
    group = shown["boards"][2]
    assert group["count"] > shown["boards"][0]["count"], "the group board is larger than a team"


def test_the_performance_screen_in_english(bpc):
    shown = browser.run("performance:performance_english", bpc.env.base_url, login=REP)
    assert "Diligence and ability curves" in shown["headings"]
    assert any(h.startswith("Leaderboard") for h in shown["headings"]), shown["headings"]
    assert "Effective minutes" in shown["chart_texts"], shown["chart_texts"]


def test_a_department_manager_sees_fake_reports_warnings_and_trainees(bpc, suspicious_day):
    manager = _api(bpc, MANAGER)
    fake = _get(manager, "/scoring/fake-reports")
    warnings = _get(manager, "/scoring/early-warnings")["items"]
    trainees = _get(manager, "/scoring/trainees")["items"]
    users = {u["id"]: u["name"] for u in _get(manager, "/users", limit=500)["items"]}
    assert fake["by_stage"] and fake["by_user"] and warnings and trainees, "the demo has data"

    shown = browser.run(
        "performance:management", bpc.env.base_url, login=MANAGER, english=True,
        shot="management",
    )  # fmt: skip
    # fake reports: one group of bars per stage, the people in the API's order, the suspect flagged
    assert shown["fake"]["error"] is None
    assert shown["fake"]["points"] == len(fake["by_stage"]) > 0
    assert len(shown["fake"]["stages"]) == len(fake["by_stage"])
    assert "未关联商机" in shown["fake"]["stages"]  # the entries without an opportunity
    assert "初步接触" in shown["fake"]["stages"]  # a stage key shown by its pipeline name
    assert shown["fake"]["users"] == [u["name"] for u in fake["by_user"]]
    suspect = suspicious_day["user"]["name"]
    assert suspect in shown["fake"]["flagged"]
    assert shown["fake"]["flagged"] == [
        u["name"] for u in fake["by_user"] if u["suspicious"] or u["proven_false"]
    ]
    # early warnings: riskiest first, names from /users, one bar per person (up to 20)
    assert shown["warnings"]["error"] is None
    assert shown["warnings"]["names"] == [users.get(i["user_id"], i.get("name")) for i in warnings]
    assert shown["warnings"]["risks"] == [f"风险 {i['risk']}" for i in warnings]
    assert shown["warnings"]["points"] == min(len(warnings), CHART_PEOPLE) > 0
    assert shown["warnings"]["reasons"] == sum(len(i["reasons"]) for i in warnings)
    # trainees
    assert shown["trainees"]["error"] is None
    assert shown["trainees"]["points"] == min(len(trainees), CHART_PEOPLE) > 0
    assert shown["trainees"]["names"] == [users.get(i["user_id"], i.get("name")) for i in trainees]
    labels = {"keep": "留用", "watch": "观察", "let_go": "劝退"}
    assert shown["trainees"]["recommendations"] == [labels[i["recommendation"]] for i in trainees]
    # and in English
    english = shown["english"]
    assert english["fake"]["heading"].startswith("Fake-report analysis")
    assert english["warnings"]["heading"].startswith("Resignation early warnings")
    assert english["trainees"]["heading"].startswith("Trainee screening")


def test_a_team_supervisor_is_shown_the_apis_refusal_of_the_fake_report_analysis(bpc):
    supervisor = _api(bpc, SUPERVISOR)
    refused = supervisor.get("/api/v1/scoring/fake-reports")
    assert refused.status_code == 403
    chinese, english = refused.json()["error"]["message"].rsplit(" / ", 1)
    trainees = _get(supervisor, "/scoring/trainees")["items"]
    assert trainees, "the team has a trainee"
    shown = browser.run(
        "performance:management", bpc.env.base_url, login=SUPERVISOR, ok=False, english=True,
        shot="management-supervisor",
    )  # fmt: skip
    assert shown["fake"]["error"] == chinese
    assert shown["english"]["fake"]["error"] == english
    assert shown["warnings"]["error"] == chinese  # early warnings need level 5 as well
    assert shown["trainees"]["error"] is None  # level 4 sees its trainees
    assert shown["trainees"]["points"] == len(trainees)
    assert shown["english"]["fake"]["heading"] == "Fake-report analysis"
