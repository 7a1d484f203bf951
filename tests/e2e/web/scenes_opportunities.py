"""Browser scenarios of the opportunity screen: the funnel, winning, a loss with its autopsy and
its approval by a supervisor (run by ``test_opportunities.py`` through ``browser.run``)."""

from __future__ import annotations

from tests.e2e.browser import assert_screen_ok, chart_points, log_in, shoot


def open_board(page, login: str) -> None:
    log_in(page, login)
    page.get_by_test_id("workbench").wait_for()
    page.get_by_role("link", name="商机").click()
    page.get_by_test_id("board").wait_for()


def card(page, title: str):
    return page.get_by_test_id("opportunity-card").filter(has_text=title)


def scenario_funnel(page, args: dict) -> dict:
    """The caller's funnel as a chart and a table; the chart draws what it was given."""
    open_board(page, args["login"])
    page.get_by_test_id("funnel-table").wait_for()
    points = chart_points(page, "funnel-chart")
    assert_screen_ok(page)
    rows = page.get_by_test_id("funnel-table").locator("tbody tr")
    table = [[cell.inner_text() for cell in row.locator("td").all()] for row in rows.all()]
    shoot(page, "opportunities")
    return {"points": points, "table": table}


def scenario_win_and_lose(page, args: dict) -> dict:
    """Win one opportunity; lose another: first without a reason (the API's refusal is shown),
    then with the autopsy, after which the card waits for approval."""
    open_board(page, args["login"])
    card(page, args["win"]).get_by_role("button", name="赢单").click()
    card(page, args["win"]).wait_for(state="detached")
    losing = card(page, args["lose"])
    losing.get_by_role("button", name="丢单").click()
    autopsy = losing.get_by_test_id("autopsy")
    autopsy.get_by_label("剖析：为什么丢，下次怎么做").fill(args["analysis"])
    autopsy.get_by_role("button", name="提交剖析").click()
    refused = autopsy.get_by_test_id("error")
    refused.wait_for()
    refusal = refused.inner_text()
    autopsy.get_by_label("丢单原因").select_option(label="客户无预算")
    shoot(page, "loss-autopsy")
    autopsy.get_by_role("button", name="提交剖析").click()
    pending = losing.get_by_test_id("loss-pending")
    pending.wait_for()
    return {"refusal": refusal, "pending": pending.inner_text()}


def scenario_approve_loss(page, args: dict) -> dict:
    """The supervisor's queue shows the loss with its autopsy; approving it empties the row."""
    open_board(page, args["login"])
    row = page.get_by_test_id("pending-loss").filter(has_text=args["title"])
    row.wait_for()
    shown = row.inner_text()
    assert_screen_ok(page)
    shoot(page, "pending-losses")
    row.get_by_role("button", name="批准丢单").click()
    row.wait_for(state="detached")
    return {"shown": shown}
