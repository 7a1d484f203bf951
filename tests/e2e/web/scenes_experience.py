"""Browser scenarios of the 经验池 screen (run by ``tests.e2e.browser`` as ``experience:<name>``):
searching as one types, 有帮助, and the printable 生意经 handbook of a stage."""

from __future__ import annotations

from tests.e2e.browser import DESKTOP, PASSWORD, PHONE, SHOTS, assert_screen_ok, log_in, shoot


def glance(page, name: str, at=None) -> None:
    """One screenful at desktop and phone width (``<name>-top-*.png``): the top, or the part
    showing locator ``at``; legible where the full-page shot of a long list is not."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        if at is not None:
            at.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"{name}-top-{label}.png"))
    page.set_viewport_size(DESKTOP)


def _open(page, args: dict) -> None:
    log_in(page, args["login"], args.get("password", PASSWORD))
    page.get_by_test_id("who").wait_for()
    page.get_by_role("link", name="经验池").click()
    page.get_by_test_id("experience").wait_for()


def _search(page, q: str, stage: str = "") -> None:
    """Type ``q`` (and choose ``stage``): until the results on screen are that query's."""
    screen = page.get_by_test_id("exp-search")
    if stage:
        screen.locator("select[name=stage]").select_option(stage)
    screen.get_by_label("搜索问题或方法").press_sequentially(q, delay=30)
    page.locator(
        f'[data-testid=results][data-ready=yes][data-q="{q}"][data-stage="{stage}"]'
    ).wait_for()


def _entries(page) -> list[dict]:
    entries = page.get_by_test_id("results").get_by_test_id("entry")
    return [
        {
            "id": entry.get_attribute("data-id"),
            "title": entry.locator("h3").inner_text(),
            "problem": entry.get_by_test_id("problem").inner_text(),
            "method": entry.get_by_test_id("method").inner_text(),
            "reuse": int(entry.get_by_test_id("reuse").get_attribute("data-count")),
            "helpful": int(entry.get_by_test_id("helpful-count").get_attribute("data-count")),
        }
        for entry in entries.all()
    ]


def scenario_search(page, args: dict) -> dict:
    """Type a query (and choose a stage): the entries the screen shows, in its order."""
    _open(page, args)
    _search(page, args["q"], args.get("stage", ""))
    assert_screen_ok(page)
    shoot(page, args.get("shot", "experience-search"))
    glance(page, args.get("shot", "experience-search"))
    return {"entries": _entries(page)}


def scenario_helpful(page, args: dict) -> dict:
    """有帮助 on the first entry a query finds: its count grows on screen; a second vote is
    not offered."""
    _open(page, args)
    _search(page, args["q"])
    entry = page.get_by_test_id("entry").first
    entry_id = entry.get_attribute("data-id")
    before = int(entry.get_by_test_id("helpful-count").get_attribute("data-count"))
    entry.get_by_test_id("helpful").click()
    voted = page.locator(f"[data-testid=entry][data-id='{entry_id}']")
    voted.get_by_role("button", name="已投票").wait_for()
    assert voted.get_by_test_id("helpful").is_disabled()
    after = int(voted.get_by_test_id("helpful-count").get_attribute("data-count"))
    assert_screen_ok(page)
    glance(page, "experience-helpful")
    return {"id": entry_id, "before": before, "after": after}


def scenario_handbook(page, args: dict) -> dict:
    """The 生意经 of a stage: its entries' titles, a 打印 button that prints, and in print the
    handbook alone (no menu, no controls)."""
    _open(page, args)
    page.get_by_test_id("tab-handbook").click()
    stage = args["stage"]
    page.locator("select[name=handbook-stage]").select_option(stage)
    book = page.locator(f'[data-testid=handbook][data-stage="{stage}"][data-ready=yes]')
    book.wait_for()
    titles = book.get_by_test_id("handbook-entry").locator("h4").all_inner_texts()
    stage_heading = book.locator("h2").all_inner_texts()
    assert_screen_ok(page)
    printing = page.get_by_role("button", name="打印")
    assert printing.is_enabled()
    shoot(page, "experience-handbook")
    glance(page, "experience-handbook")
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    printing.click()
    printed = page.evaluate("() => window.__printed")
    page.emulate_media(media="print")
    hidden = {
        "menu": not page.locator("header.bar").is_visible(),
        "print_button": not printing.is_visible(),
        "tabs": not page.get_by_test_id("tab-search").is_visible(),
        "handbook": book.is_visible(),
    }
    page.screenshot(path=str(SHOTS / "experience-handbook-print.png"), full_page=True)
    page.emulate_media(media="screen")
    page.get_by_test_id("lang").click()  # English: the handbook's own labels follow
    page.get_by_role("button", name="Print").wait_for()
    english_labels = book.locator("dt").first.inner_text()
    shoot(page, "experience-handbook-en")
    page.get_by_test_id("lang").click()
    return {
        "titles": titles,
        "headings": stage_heading,
        "printed": printed,
        "print_view": hidden,
        "english_label": english_labels,
    }


HOSTILE = """<!DOCTYPE html><html><head><title>x</title><style>body{display:none}</style>
<script>window.__pwned = 1</script></head><body><h1>生意经 · 经验手册 / Handbook</h1>
<section><h2>quote</h2><h3>价格 Price</h3><article onclick="window.__pwned = 2">
<h4 style="color:red">安全的标题<img src="x" onerror="window.__pwned = 3"></h4><dl>
<dt>问题 / Problem</dt><dd>客户说<a href="javascript:window.__pwned = 4">点我</a>太贵</dd>
<dt>有效方法 / Effective method</dt><dd><iframe srcdoc="<script>parent.__pwned = 5</script>">
</iframe><svg onload="window.__pwned = 6"></svg>分期付款</dd></dl></article></section>
</body></html>"""


def scenario_handbook_sanitised(page, args: dict) -> dict:
    """A handbook answer holding markup (as if users' text were not escaped): the screen shows
    its text, and no script, handler, link, frame or image of it runs or remains."""
    page.route(
        "**/api/v1/experience/handbook*",
        lambda route: route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=HOSTILE
        ),
    )
    _open(page, args)
    page.get_by_test_id("tab-handbook").click()
    book = page.locator("[data-testid=handbook][data-ready=yes]")
    book.wait_for()
    page.wait_for_timeout(500)  # time for anything that would run to run
    inside = book.evaluate(
        """el => ({
            tags: [...el.querySelectorAll('*')].map(e => e.localName),
            attributes: [...el.querySelectorAll('*')]
                .flatMap(e => [...e.attributes].map(a => a.name)),
            text: el.innerText,
        })"""
    )
    return {
        "pwned": page.evaluate("() => window.__pwned ?? null"),
        "tags": sorted(set(inside["tags"])),
        "attributes": sorted(set(inside["attributes"])),
        "text": inside["text"],
        "app_visible": page.get_by_test_id("experience").is_visible(),
    }
