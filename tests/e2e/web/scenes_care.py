"""Browser scenarios of the customer-care screen (``#/care``, web/src/care.js), run by
``tests/e2e/web/test_care.py`` through ``tests.e2e.browser.run("care:<name>", …)``: the month
calendar of reminders, a revisit with the care settings, and the referral graph."""

from __future__ import annotations

from tests.e2e.browser import assert_screen_ok, chart_points, log_in, shoot

COLLECT_CALENDAR = """customer => {
  const grid = [...document.querySelectorAll(
      `[data-testid=calendar-grid] [data-testid=chip][data-customer="${customer}"]`)]
    .map(chip => {
      const cell = chip.closest('[data-testid^=day-]');
      return {date: cell.dataset.testid.slice(4), kind: chip.dataset.kind,
              text: chip.innerText, cell_count: Number(cell.dataset.count)};
    });
  const list = [...document.querySelectorAll(
      `[data-testid=calendar-list] [data-testid=reminder][data-customer="${customer}"]`)]
    .map(row => ({date: row.closest('[data-testid^=list-]').dataset.testid.slice(5),
                  kind: row.dataset.kind, text: row.innerText}));
  return {grid, list};
}"""


def _open_care(page, login: str) -> None:
    log_in(page, login)
    page.get_by_test_id("workbench").wait_for()
    page.get_by_role("link", name="客户关怀").click()
    page.get_by_test_id("care").wait_for()


def scenario_calendar(page, args: dict) -> dict:
    """The month's reminders on a Monday-first grid (a list of days on a phone): the customer's
    chips on their days, today highlighted; the next month and back."""
    _open_care(page, args["login"])
    calendar = page.get_by_test_id("care-calendar")
    calendar.wait_for()
    month = calendar.get_attribute("data-month")
    grid = page.get_by_test_id("calendar-grid")
    grid.locator(f'[data-testid=chip][data-customer="{args["customer_id"]}"]').first.wait_for()
    # names arrive after the reminders: wait until the customer's chips carry its name
    page.wait_for_function(
        """([customer, name]) => [...document.querySelectorAll(
            `[data-testid=calendar-grid] [data-testid=chip][data-customer="${customer}"]`)]
            .every(chip => chip.innerText.includes(name))""",
        arg=[args["customer_id"], args["name"]],
    )
    assert_screen_ok(page)
    shown = page.evaluate(COLLECT_CALENDAR, args["customer_id"])
    today = grid.get_by_test_id(f"day-{args['today']}")
    today_class = today.get_attribute("class")
    title = page.get_by_test_id("month-title").inner_text()
    headers = grid.get_by_role("columnheader").all_inner_texts()
    shoot(page, "care-calendar")

    page.get_by_test_id("next-month").click()
    page.wait_for_function(
        "m => document.querySelector('[data-testid=care-calendar]').dataset.month !== m", arg=month
    )
    next_title = page.get_by_test_id("month-title").inner_text()
    page.get_by_test_id("reminder-count").filter(has_text="项提醒").wait_for()
    assert_screen_ok(page)
    page.get_by_test_id("prev-month").click()
    grid.locator(f'[data-testid=chip][data-customer="{args["customer_id"]}"]').first.wait_for()
    back = calendar.get_attribute("data-month")

    page.get_by_test_id("lang").click()  # English
    page.get_by_test_id("month-title").filter(has_text=" ").wait_for()
    english_title = page.get_by_test_id("month-title").inner_text()
    english_headers = grid.get_by_role("columnheader").all_inner_texts()
    shoot(page, "care-calendar-en")
    page.get_by_test_id("lang").click()  # and back to Chinese
    return {
        "month": month,
        "title": title,
        "headers": headers,
        "next_title": next_title,
        "back": back,
        "english_title": english_title,
        "english_headers": english_headers,
        "today_class": today_class,
        **shown,
    }


def scenario_revisit(page, args: dict) -> dict:
    """Search a customer as you type, see its details, set its revisit interval, record a
    revisit and add an important date; the customer's coming reminders show them."""
    _open_care(page, args["login"])
    page.get_by_test_id("tab-revisits").click()
    page.get_by_test_id("care-search").fill(args["search"])
    page.get_by_test_id("care-customers").get_by_role("button", name=args["name"]).click()
    details = page.get_by_test_id("care-details")
    details.get_by_test_id("care-name").filter(has_text=args["name"]).wait_for()
    status_before = details.get_by_test_id("care-status").inner_text()
    contacts = details.get_by_test_id("care-contacts").inner_text()

    interval = page.get_by_test_id("interval-form")
    interval.get_by_label("间隔天数（1–366）").fill(str(args["days"]))
    interval.get_by_role("button", name="保存间隔").click()
    interval.get_by_test_id("interval-saved").wait_for()
    page.wait_for_function(  # the customer read again: its interval as saved
        "d => document.querySelector('[data-testid=care-interval]').innerText === d",
        arg=f"每 {args['days']} 天",
    )
    interval_text = details.get_by_test_id("care-interval").inner_text()

    revisit = page.get_by_test_id("revisit-form")
    revisit.get_by_label("回访结果").fill(args["outcome"])
    revisit.get_by_label("备注（可不填）").fill(args["notes"])
    revisit.get_by_role("button", name="保存回访").click()
    saved = revisit.get_by_test_id("revisit-saved")
    saved.wait_for()

    dates = page.get_by_test_id("date-form")
    dates.get_by_label("名称").fill(args["label"])
    dates.get_by_label("日期").fill(args["date"])
    dates.get_by_label("每年重复").check()
    dates.get_by_role("button", name="添加").click()
    dates.get_by_test_id("date-saved").wait_for()

    upcoming = details.get_by_test_id("care-upcoming")
    upcoming.get_by_test_id("reminder").filter(has_text=args["label"]).wait_for()
    page.wait_for_function(
        "d => document.querySelector('[data-testid=care-next]').innerText === d",
        arg=args["expect_next"],
    )
    assert_screen_ok(page)
    shoot(page, "care-revisit")
    rows = upcoming.get_by_test_id("reminder")
    return {
        "status_before": status_before,
        "status_after": details.get_by_test_id("care-status").inner_text(),
        "contacts": contacts,
        "interval": interval_text,
        "revisit_id": saved.get_attribute("data-revisit"),
        "revisit_at": saved.get_attribute("data-at"),
        "next": details.get_by_test_id("care-next").inner_text(),
        "upcoming": [
            {
                "kind": rows.nth(i).get_attribute("data-kind"),
                "date": rows.nth(i).get_attribute("data-date"),
                "text": rows.nth(i).inner_text(),
            }
            for i in range(rows.count())
        ],
    }


def scenario_referrals(page, args: dict) -> dict:
    """The referral graph (a node per visible customer) and the top referrers; a referral
    that would close a cycle is refused and the API's message shown, in Chinese and English."""
    _open_care(page, args["login"])
    page.get_by_test_id("tab-referrals").click()
    points = chart_points(page, "referral-graph")
    page.locator('[data-chart="referral-graph"][data-rendered="1"]').wait_for()
    assert_screen_ok(page)
    referrers = page.get_by_test_id("top-referrers").get_by_test_id("referrer")
    top = [
        {
            "customer_id": referrers.nth(i).get_attribute("data-customer"),
            "count": int(referrers.nth(i).get_attribute("data-count")),
            "text": referrers.nth(i).inner_text(),
        }
        for i in range(referrers.count())
    ]
    labels = page.locator('[data-chart="referral-graph"] svg text').evaluate_all(
        "texts => texts.map(t => t.textContent)"
    )
    shoot(page, "care-referrals")

    form = page.get_by_test_id("referrer-form")
    form.locator("select[name=customer]").select_option(label=args["customer"])
    form.locator("select[name=referrer]").select_option(label=args["referrer"])
    form.get_by_role("button", name="保存推荐关系").click()
    error = form.get_by_test_id("error")
    error.wait_for()
    chinese = error.inner_text()  # the message, then each field's reason
    shoot(page, "care-referral-cycle")
    page.get_by_test_id("lang").click()  # English
    form.get_by_role("button", name="Save the referral").wait_for()
    english = error.inner_text()
    shoot(page, "care-referral-cycle-en")
    return {"points": points, "top": top, "labels": labels, "chinese": chinese,
            "english": english}  # fmt: skip


def scenario_verify_visit(page, args: dict) -> dict:
    """Customer service opens a due revisit of its branch from the calendar, sees the visit the
    salesperson claimed, and records the revisit denying it."""
    _open_care(page, args["login"])
    calendar = page.get_by_test_id("care-calendar")
    calendar.wait_for()
    if calendar.get_attribute("data-month") != args["due"][:7]:
        page.get_by_test_id("next-month").click()
        page.wait_for_selector(f'[data-testid=care-calendar][data-month="{args["due"][:7]}"]')
    day = page.get_by_test_id(f"day-{args['due']}")
    page.wait_for_function(  # the month's reminders are in
        "d => Number(document.querySelector(`[data-testid=day-${d}]`).dataset.count) > 0",
        arg=args["due"],
    )
    day.locator(".care-daynum").click()  # the day's every reminder, however many
    row = page.get_by_test_id("day-detail").locator(
        f'[data-testid=reminder][data-customer="{args["customer_id"]}"]'
    )
    row.get_by_role("button").click()
    details = page.get_by_test_id("care-details")
    details.get_by_test_id("care-name").filter(has_text=args["name"]).wait_for()
    history = page.get_by_test_id("care-history")
    claimed = history.locator(f'[data-testid=claimed-visit][data-entry="{args["entry_id"]}"]')
    claimed.wait_for()
    before = claimed.get_attribute("data-verification")
    form = page.get_by_test_id("revisit-form")
    form.get_by_label("回访结果").fill(args["outcome"])
    form.get_by_label("核实业务员的拜访（可不选）").select_option(value=args["entry_id"])
    form.get_by_label("不属实（客户说没人来过）").check()
    shoot(page, "care-verify")
    form.get_by_role("button", name="保存回访").click()
    form.get_by_test_id("revisit-saved").wait_for()
    page.wait_for_selector(
        f'[data-testid=claimed-visit][data-entry="{args["entry_id"]}"][data-verification=denied]'
    )
    assert_screen_ok(page)
    return {"before": before, "after": claimed.inner_text()}
