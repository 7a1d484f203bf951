"""Browser scenarios in a process of their own: Playwright's sync API cannot stop its driver
under eventlet's monkey patching (the suite's, for nameko), so each scenario runs in a clean
interpreter (``python -m tests.e2e.browser <scenario> <json args>``) driving Debian's Chromium
headless, and reports a JSON line; an assertion failing there fails the calling test with the
scenario's traceback. A scenario named ``area:name`` is ``scenario_name`` in
``tests/e2e/web/scenes_area.py``; a bare name is one of this file's.

Screenshots of each screen at desktop and phone width (375 px) go to ``var/screenshots/``.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
PASSWORD = "Demo-2026!"
MARK = "BROWSER-RESULT "


def run(scenario: str, base_url: str, timeout: float = 120, **args) -> dict:
    """Run ``scenario`` against ``base_url`` in a clean process; its result, or AssertionError
    with what it printed."""
    command = [sys.executable, "-m", "tests.e2e.browser", scenario, json.dumps(args)]
    # (a scenario's process is not measured by coverage: it drives the browser, not BPC)
    from tests.support import unmeasured

    environ = {**unmeasured(os.environ), "BPC_WEB_BASE_URL": base_url}
    done = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            print("\n".join(x for x in done.stdout.splitlines() if not x.startswith(MARK)))
            return json.loads(line[len(MARK) :])
    raise AssertionError(
        f"scenario {scenario} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )


# --- in the scenario's own process ---------------------------------------------------------


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def assert_screen_ok(page) -> None:
    """The screen shows no error, and every chart on it that was given data drew it: an ECharts
    chart with ``data-points`` > 0 whose SVG holds drawn marks (an empty frame fails)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    errors = page.get_by_test_id("error")
    assert errors.count() == 0, f"the screen shows an error: {errors.all_inner_texts()}"
    for chart in page.locator("[data-chart]").all():
        name, points = chart.get_attribute("data-chart"), int(chart.get_attribute("data-points"))
        if points == 0:
            continue
        chart.locator("svg").first.wait_for()
        drawn = chart.locator("svg path, svg rect, svg circle")
        try:  # the frame comes first, the marks a moment later (longer on a busy machine)
            drawn.first.wait_for(state="attached", timeout=10_000)
        except PlaywrightTimeout:
            pass
        marks = drawn.count()
        assert marks > 0, f"chart {name} has {points} points but drew nothing"


def chart_points(page, name: str) -> int:
    """How many data points the screen gave chart ``name`` (0: it shows "no data")."""
    chart = page.locator(f'[data-chart="{name}"]')
    chart.wait_for()
    return int(chart.get_attribute("data-points"))


def log_in(page, login: str, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("账号").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def scenario_login_workbench_language(page, args: dict) -> dict:
    """Log in as a salesperson: the workbench with the demo's opportunities; English and back;
    the first screen loaded again (token kept) until its work list is on screen."""
    page.goto("/")
    shoot(page, "login")
    log_in(page, args["login"])
    page.get_by_test_id("workbench").wait_for()
    assert page.get_by_test_id("worklist").locator("li").count() > 0, "no work list"
    assert page.get_by_test_id("today-minutes").is_visible()
    assert page.get_by_test_id("error").count() == 0
    assert page.get_by_role("link", name="工作台").is_visible()
    shoot(page, "workbench")
    page.get_by_test_id("lang").click()  # to English
    assert page.get_by_role("link", name="Workbench").is_visible()
    assert page.get_by_test_id("logout").inner_text() == "Log out"
    heading = page.get_by_test_id("worklist").get_by_role("heading").inner_text()
    assert heading.startswith("Work list"), heading
    shoot(page, "workbench-en")
    page.get_by_test_id("lang").click()  # and back
    assert page.get_by_role("link", name="工作台").is_visible()
    assert page.get_by_test_id("logout").inner_text() == "退出"
    began = time.perf_counter()
    page.goto("/")
    page.get_by_test_id("worklist").locator("li").first.wait_for()
    return {"first_screen_ms": round(1000 * (time.perf_counter() - began))}


def scenario_daily_log(page, args: dict) -> dict:
    """Three steps: a customer (recent first), an activity allowed at its stage, minutes; the
    day's total grows by them on the log screen and on the workbench."""
    log_in(page, args["login"])
    page.get_by_test_id("workbench").wait_for()
    before = int(page.get_by_test_id("today-minutes").inner_text())
    page.get_by_role("link", name="日志").click()
    page.get_by_test_id("daily-log").wait_for()
    total = page.get_by_test_id("day-total")
    assert total.inner_text() == f"今日已记录 {before} 分钟", total.inner_text()
    assert "不可修改或删除" in page.get_by_test_id("immutable").inner_text()
    customers = page.get_by_test_id("customers").get_by_role("button")
    customers.first.wait_for()
    chosen = customers.first.inner_text()
    customers.first.click()  # step 1
    page.get_by_test_id("activities").locator("input[value=call]").check()  # step 2
    page.get_by_label("时长（分钟）").fill(str(args["minutes"]))  # step 3
    shoot(page, "daily-log")
    page.get_by_test_id("save").click()
    page.get_by_test_id("saved").wait_for()
    expected = f"今日已记录 {before + args['minutes']} 分钟"
    page.wait_for_function(
        "t => document.querySelector('[data-testid=day-total]').innerText === t", arg=expected
    )
    page.get_by_role("link", name="工作台").click()
    for _ in range(20):  # scoring counts the entry from its event, a moment later
        page.get_by_test_id("today-minutes").wait_for()
        after = int(page.get_by_test_id("today-minutes").inner_text())
        if after == before + args["minutes"]:
            break
        page.wait_for_timeout(500)
        page.reload()
    return {"customer": chosen, "before": before, "after": after}


def scenario_register_opportunity(page, args: dict) -> dict:
    """Register an opportunity with the qualification questions: its card is on the board, in
    the first stage, counting down to that stage's deadline."""
    log_in(page, args["login"])
    page.get_by_test_id("workbench").wait_for()
    page.get_by_role("link", name="商机").click()
    page.get_by_test_id("board").wait_for()
    form = page.get_by_test_id("register")
    options = form.locator("select[name=customer_id] option")
    options.nth(1).wait_for(state="attached")
    form.locator("select[name=customer_id]").select_option(index=1)
    form.get_by_label("商机名称").fill(args["title"])
    form.get_by_label("金额（元）").fill("150000")
    boxes = form.locator("fieldset input[type=checkbox]")
    assert boxes.count() >= 2, "the pipeline's qualification questions"
    for i in range(boxes.count()):
        boxes.nth(i).check()
    shoot(page, "opportunities")
    form.get_by_role("button", name="登记").click()
    card = page.get_by_test_id("opportunity-card").filter(has_text=args["title"])
    card.wait_for()
    column = page.locator("[data-testid^=stage-]").filter(has=card)
    countdown = card.get_by_test_id("countdown").inner_text()
    assert countdown.startswith("剩"), countdown
    shoot(page, "opportunities-board")
    return {"column": column.get_attribute("data-testid"), "countdown": countdown}


def scenario_birthday_reminder(page, args: dict) -> dict:
    """The workbench's reminders show a decision maker's birthday today."""
    log_in(page, args["login"])
    reminders = page.get_by_test_id("reminders")
    reminders.wait_for()
    found = reminders.locator("li").filter(has_text="生日").filter(has_text=args["date"])
    found.first.wait_for()
    shoot(page, "workbench-reminders")
    return {"reminders": [found.nth(i).inner_text() for i in range(found.count())]}


def scenario_decide(page, args: dict) -> dict:
    """A supervisor returns a confiscated opportunity from the workbench's decisions."""
    log_in(page, args["login"])
    decisions = page.get_by_test_id("decisions")
    decisions.wait_for()
    item = decisions.get_by_test_id("decision").filter(has_text=args["title"])
    item.wait_for()
    shoot(page, "workbench-decisions")
    item.get_by_role("button", name="退回原负责人").click()
    item.wait_for(state="detached")
    return {"errors": page.get_by_test_id("error").count()}


def _open_alarm(page, description: str) -> None:
    page.get_by_role("link", name="报警").click()
    page.get_by_test_id("board").get_by_role("button", name=description).click()
    page.get_by_test_id("alarm").get_by_role("heading", name=description).wait_for()


def scenario_alarm(page, args: dict) -> dict:
    """Raise an alarm; another user responds (no 方法有效 button for them); the requester
    marks the response effective and the alarm is resolved."""
    description = args["description"]
    log_in(page, args["requester"])
    page.get_by_test_id("workbench").wait_for()
    page.get_by_role("link", name="报警").click()
    form = page.get_by_test_id("raise")
    form.locator("select[name=category]").select_option("price")
    form.get_by_label("问题描述").fill(description)
    form.get_by_label("原因分析").fill("对方拿竞品报价压价")
    form.get_by_role("button", name="报警").click()
    alarm = page.get_by_test_id("alarm")
    alarm.get_by_role("heading", name=description).wait_for()
    assert alarm.get_by_test_id("alarm-status").inner_text() == "待解决"

    helper = page.context.browser.new_context(
        viewport=DESKTOP, locale="zh-CN", base_url=os.environ["BPC_WEB_BASE_URL"]
    )
    other = helper.new_page()
    log_in(other, args["responder"])
    other.get_by_test_id("workbench").wait_for()
    _open_alarm(other, description)
    assert other.get_by_test_id("mark-effective").count() == 0, "方法有效 is the requester's"
    other.get_by_label("我来支援").fill(args["response"])
    other.get_by_role("button", name="发送").click()
    other.get_by_test_id("response").filter(has_text=args["response"]).wait_for()
    shoot(other, "alarm-responded")
    helper.close()

    page.reload()
    _open_alarm(page, description)
    response = page.get_by_test_id("response").filter(has_text=args["response"])
    response.get_by_test_id("mark-effective").click()
    page.get_by_test_id("alarm-status").filter(has_text="已解决").wait_for()
    shoot(page, "alarm-resolved")
    return {"status": page.get_by_test_id("alarm-status").inner_text()}


def scenario_refused_login(page, args: dict) -> dict:
    """A wrong password: the API's message on the login form, in the current language."""
    log_in(page, args["login"], "wrong-password")
    error = page.get_by_test_id("error")
    error.wait_for()
    chinese = error.inner_text()
    page.get_by_test_id("lang").click()
    english = error.inner_text()
    assert page.get_by_role("button", name="Log in").is_visible()
    assert page.get_by_test_id("workbench").count() == 0
    return {"chinese": chinese, "english": english}


def main() -> int:
    from playwright.sync_api import sync_playwright

    scenario, args = sys.argv[1], json.loads(sys.argv[2])
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed (./bpc test installs it)"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        context = browser.new_context(
            viewport=DESKTOP, locale="zh-CN", base_url=os.environ["BPC_WEB_BASE_URL"]
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        area, _, name = scenario.rpartition(":")
        scenes = (
            importlib.import_module(f"tests.e2e.web.scenes_{area}")
            if area
            else sys.modules[__name__]
        )
        result = getattr(scenes, f"scenario_{name}")(page, args)
        browser.close()
    assert errors == [], f"the page raised: {errors}"
    print(MARK + json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
