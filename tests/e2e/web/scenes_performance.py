"""Browser scenarios of 业绩曲线 (curves, leaderboards) and 管理分析 (fake reports, early
warnings, trainee screening), run by ``tests.e2e.browser`` as ``performance:<name>``; the
tests of ``test_performance.py`` compare what they return with the API's answers."""

from __future__ import annotations

from tests.e2e.browser import assert_screen_ok, chart_points, log_in, shoot


def _open(page, link: str, screen: str) -> None:
    page.get_by_test_id("workbench").wait_for()
    page.get_by_role("link", name=link).click()
    page.get_by_test_id(screen).wait_for()


def _settled(page, root: str) -> None:
    """Every section of the screen has its answer (no "正在加载…" left)."""
    page.wait_for_function(
        "root => { const r = document.querySelector(`[data-testid=${root}]`);"
        " return r && !r.querySelector('.loading'); }",
        arg=root,
    )


def _shown(page, testid: str, suffix: str) -> None:
    """Wait until the section shows the answer to the latest choice (its data-shown)."""
    page.wait_for_function(
        "([id, suffix]) => { const s = document.querySelector(`[data-testid=${id}]`);"
        " return s && s.dataset.shown && s.dataset.shown.endsWith(suffix); }",
        arg=[testid, suffix],
    )


MARKERS = 'svg path[fill="#c93c3c"]'  # the red triangles (and the legend's)


def _curves(page, granularity: str) -> dict:
    _shown(page, "perf-curves", "/" + granularity)
    _settled(page, "perf-curves")
    curves = page.get_by_test_id("perf-curves")
    suspicious = curves.get_by_test_id("perf-suspicious")
    days = int(suspicious.get_attribute("data-count"))
    chart = page.locator('[data-chart="perf-diligence"]')
    chart.locator("svg").first.wait_for()
    try:  # ECharts draws on the next animation frame
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length >= n",
            arg=[f'[data-chart="perf-diligence"] {MARKERS}', 1 + days],
            timeout=5000,
        )
    except Exception:  # noqa: BLE001 - the test compares the count
        pass
    return {
        "diligence_points": chart_points(page, "perf-diligence"),
        "ability_points": chart_points(page, "perf-ability"),
        "total_minutes": int(curves.get_by_test_id("perf-total-minutes").inner_text()),
        "total_score": float(curves.get_by_test_id("perf-total-score").inner_text()),
        "total_suspicious": int(curves.get_by_test_id("perf-total-suspicious").inner_text()),
        "suspicious_days": days,
        "suspicious_text": suspicious.inner_text(),
        # the red markers drawn on the minutes curve (one per suspicious day)
        "markers": chart.locator(MARKERS).count(),
    }


def _choose(page, group: str, value: str) -> None:
    page.get_by_test_id(group).locator(f'button[data-value="{value}"]').click()


def scenario_curves(page, args: dict) -> dict:
    """The caller's curves by day, then by month; with ``person``, that person's (a
    supervisor's picker) by day. Screenshots of each."""
    log_in(page, args["login"])
    _open(page, "业绩曲线", "performance")
    result: dict = {"day": _curves(page, "day")}
    assert_screen_ok(page)
    shoot(page, args.get("shot", "performance"))
    _choose(page, "perf-granularity", "month")
    result["month"] = _curves(page, "month")
    assert_screen_ok(page)
    shoot(page, args.get("shot", "performance") + "-month")
    result["picker"] = page.get_by_test_id("perf-user").count() > 0
    if args.get("person"):
        _choose(page, "perf-granularity", "day")
        picker = page.get_by_test_id("perf-user")
        result["people"] = picker.locator("option").all_inner_texts()
        picker.select_option(label=args["person"])
        person = picker.locator("option", has_text=args["person"]).first.get_attribute("value")
        _shown(page, "perf-curves", f"{person}/day")
        result["person"] = _curves(page, "day")
        assert_screen_ok(page)
        shoot(page, "performance-person")
    return result


def _board(page, query: str) -> dict:
    _shown(page, "perf-leaderboard", query)
    _settled(page, "perf-leaderboard")
    board = page.get_by_test_id("perf-ranking")
    rows = board.locator("li:not(.gap)")
    me = board.get_by_test_id("perf-rank-me")
    return {
        "points": chart_points(page, "perf-board-chart"),
        "count": int(board.get_attribute("data-count")),
        "names": board.get_by_test_id("perf-rank-name").all_inner_texts(),
        "ranks": [int(r) for r in rows.locator(".rank").all_inner_texts()],
        "me": me.inner_text() if me.count() else None,
        "me_highlighted": me.count() == 1 and "me" in (me.get_attribute("class") or ""),
        "my_rank": page.get_by_test_id("perf-myrank").inner_text(),
        "bars": page.locator('[data-chart="perf-board-chart"] svg path').count(),
    }


def scenario_leaderboard(page, args: dict) -> dict:
    """The leaderboard for each ``boards`` entry (metric, period, scope)."""
    log_in(page, args["login"])
    _open(page, "业绩曲线", "performance")
    boards = []
    for metric, period, scope in args["boards"]:
        _choose(page, "perf-metric", metric)
        _choose(page, "perf-period", period)
        _choose(page, "perf-scope", scope)
        boards.append(_board(page, f"{metric}/{period}/{scope}"))
        assert_screen_ok(page)
    page.get_by_test_id("perf-leaderboard").scroll_into_view_if_needed()
    shoot(page, "performance-leaderboard")
    return {"boards": boards}


def scenario_performance_english(page, args: dict) -> dict:
    """English headings and axis names on the performance screen."""
    log_in(page, args["login"])
    _open(page, "业绩曲线", "performance")
    _settled(page, "performance")
    page.get_by_test_id("lang").click()
    page.get_by_role("link", name="Performance").wait_for()
    headings = page.get_by_test_id("performance").get_by_role("heading").all_inner_texts()
    legend = page.locator('[data-chart="perf-diligence"] svg text').evaluate_all(
        "texts => texts.map(t => t.textContent)"
    )
    assert_screen_ok(page)
    shoot(page, "performance-en")
    return {"headings": headings, "chart_texts": legend}


def _section(page, testid: str) -> dict:
    section = page.get_by_test_id(testid)
    error = section.get_by_test_id("error")
    return {
        "heading": section.get_by_role("heading").first.inner_text(),
        "error": error.inner_text() if error.count() else None,
    }


def scenario_management(page, args: dict) -> dict:
    """The three sections of 管理分析 for the caller's people; with ``english``, switched to
    English afterwards (headings and refusals)."""
    log_in(page, args["login"])
    _open(page, "管理分析", "management")
    _settled(page, "management")
    page.wait_for_timeout(300)  # the names from /users and the stage names arrive on their own
    result: dict = {
        name: _section(page, f"mgmt-{name}") for name in ("fake", "warnings", "trainees")
    }
    if args.get("ok", True):
        assert_screen_ok(page)
    if result["fake"]["error"] is None:
        fake = page.get_by_test_id("mgmt-fake")
        result["fake"]["points"] = chart_points(page, "mgmt-fake-stages")
        result["fake"]["stages"] = (
            fake.get_by_test_id("mgmt-fake-stage-table").locator("tbody td:first-child")
        ).all_inner_texts()
        result["fake"]["users"] = [
            li.locator(".title").inner_text() for li in fake.get_by_test_id("mgmt-fake-user").all()
        ]
        result["fake"]["flagged"] = [
            li.locator(".title").inner_text()
            for li in fake.locator("[data-testid=mgmt-fake-user].flagged").all()
        ]
        result["fake"]["bars"] = page.locator('[data-chart="mgmt-fake-stages"] svg path').count()
    if result["warnings"]["error"] is None:
        warnings = page.get_by_test_id("mgmt-warnings")
        result["warnings"]["points"] = chart_points(page, "mgmt-warnings-chart")
        result["warnings"]["names"] = warnings.get_by_test_id("mgmt-warning-name").all_inner_texts()
        result["warnings"]["risks"] = warnings.get_by_test_id("mgmt-warning-risk").all_inner_texts()
        result["warnings"]["reasons"] = warnings.locator("ul.reasons li").count()
    if result["trainees"]["error"] is None:
        trainees = page.get_by_test_id("mgmt-trainees")
        result["trainees"]["points"] = chart_points(page, "mgmt-trainees-chart")
        result["trainees"]["names"] = trainees.get_by_test_id("mgmt-trainee-name").all_inner_texts()
        result["trainees"]["recommendations"] = trainees.get_by_test_id(
            "mgmt-trainee-rec"
        ).all_inner_texts()
    shoot(page, args.get("shot", "management"))
    if args.get("english"):
        page.get_by_test_id("lang").click()
        page.get_by_role("link", name="Management").wait_for()
        result["english"] = {
            name: _section(page, f"mgmt-{name}") for name in ("fake", "warnings", "trainees")
        }
        shoot(page, args.get("shot", "management") + "-en")
    return result
