"""Browser scenarios of the 系统管理 screen (run by ``tests.e2e.browser`` as ``admin:<name>``):
the org tree, creating a unit and a user, changing a user, a refused supervisor, deactivating,
and no administration for a salesperson."""

from __future__ import annotations

from tests.e2e.browser import PASSWORD, assert_screen_ok, log_in, shoot
from tests.e2e.web.scenes_experience import glance


def _open(page, password: str) -> None:
    log_in(page, "admin", password)
    page.get_by_test_id("who").wait_for()
    page.get_by_role("link", name="系统管理").click()
    page.get_by_test_id("tree").get_by_test_id("unit").first.wait_for()


def _user_form(page, user: dict):
    form = page.get_by_test_id("new-user")
    form.get_by_label("姓名").fill(user["name"])
    form.get_by_label("账号").fill(user["login"])
    form.get_by_label("初始密码").fill(user["password"])
    form.locator("select[name=level]").select_option(str(user["level"]))
    if user.get("org_unit_id"):
        form.locator("select[name=unit]").select_option(user["org_unit_id"])
    form.locator("select[name=supervisor]").select_option(user["supervisor_id"])
    return form


def scenario_create_unit_and_user(page, args: dict) -> dict:
    """A unit under ``parent_id``, then a user in it (the new unit is chosen in the tree), then
    that user's level changed from 4 to 3."""
    _open(page, args["password"])
    assert_screen_ok(page)
    shoot(page, "admin")
    glance(page, "admin")
    unit_form = page.get_by_test_id("new-unit")
    unit_form.get_by_label("单元名称").fill(args["unit"])
    unit_form.locator("select[name=parent]").select_option(args["parent_id"])
    unit_form.get_by_role("button", name="创建").click()
    page.get_by_test_id("unit-created").wait_for()
    unit = page.get_by_test_id("tree").get_by_test_id("unit").filter(has_text=args["unit"])
    unit.wait_for()
    assert "chosen" in unit.get_attribute("class"), "the new unit is chosen"
    unit_id = unit.get_attribute("data-id")
    user = {**args["user"], "level": 4}
    form = _user_form(page, user)
    assert form.locator("select[name=unit]").input_value() == unit_id
    form.get_by_role("button", name="创建").click()
    page.get_by_test_id("user-created").wait_for()
    row = page.locator(f"[data-testid=user][data-login='{user['login']}']")
    row.wait_for()
    assert row.get_by_test_id("user-level").inner_text() == "4 级"
    assert_screen_ok(page)
    shoot(page, "admin-created")
    glance(page, "admin-created", row)
    row.get_by_test_id("edit").click()
    editor = row.get_by_test_id("editor")
    editor.locator("select[name=level]").select_option("3")
    editor.get_by_test_id("save").click()
    page.get_by_test_id("notice").wait_for()
    page.wait_for_function(
        "login => document.querySelector(`[data-testid=user][data-login='${login}'] "
        "[data-testid=user-level]`).innerText === '3 级'",
        arg=user["login"],
    )
    assert_screen_ok(page)
    names = page.get_by_test_id("users").get_by_test_id("user-name").all_inner_texts()
    page.get_by_test_id("unit-all").click()
    everyone = page.get_by_test_id("users").get_by_test_id("user-name").all_inner_texts()
    return {"unit_id": unit_id, "unit_users": names, "all_names": everyone}


def scenario_refused_supervisor(page, args: dict) -> dict:
    """A user whose supervisor's level is not higher: the API's 422 on the form, in Chinese,
    then in English."""
    _open(page, args["password"])
    form = _user_form(page, args["user"])
    form.get_by_role("button", name="创建").click()
    error = form.get_by_test_id("error")
    error.wait_for()
    chinese = _refusal(error)
    assert form.get_by_test_id("user-created").count() == 0
    shoot(page, "admin-refused")
    glance(page, "admin-refused", error)
    page.get_by_test_id("lang").click()
    form.get_by_role("button", name="Create").wait_for()
    english = _refusal(error)
    shoot(page, "admin-refused-en")
    glance(page, "admin-refused-en", error)
    page.get_by_test_id("lang").click()
    return {"chinese": chinese, "english": english}


def _refusal(error) -> dict:
    """ErrorLine: the API's message, then each field's reason (named by the form's label)."""
    return {
        "message": error.locator("p").first.inner_text(),
        "details": error.locator("li").all_inner_texts(),
    }


def scenario_deactivate(page, args: dict) -> dict:
    """Search a user, 停用: the confirmation says everything passes to the supervisor; once
    confirmed the user is shown deactivated."""
    _open(page, args["password"])
    page.get_by_label("按姓名或账号搜索").fill(args["login"])
    row = page.locator(f"[data-testid=user][data-login='{args['login']}']")
    row.wait_for()
    assert page.get_by_test_id("users").get_by_test_id("user").count() == 1
    row.get_by_test_id("edit").click()
    row.get_by_test_id("deactivate").click()
    confirmation = row.get_by_test_id("confirm-deactivate")
    text = confirmation.inner_text()
    shoot(page, "admin-deactivate")
    glance(page, "admin-deactivate", confirmation)
    confirmation.get_by_test_id("confirm").click()
    page.get_by_test_id("notice").wait_for()
    notice = page.get_by_test_id("notice").inner_text()
    row.wait_for(state="detached")  # deactivated users are hidden unless asked for
    page.get_by_label("显示已停用的用户").check()
    row.wait_for()
    assert row.get_attribute("data-active") == "no"
    assert row.get_by_test_id("user-active").inner_text() == "已停用"
    assert_screen_ok(page)
    return {"confirmation": text, "notice": notice}


def scenario_no_admin_menu(page, args: dict) -> dict:
    """A salesperson has no 系统管理 in the menu, and #/admin shows them the workbench."""
    log_in(page, args["login"], args.get("password", PASSWORD))
    page.get_by_test_id("who").wait_for()
    links = page.locator("header nav a").all_inner_texts()
    page.goto("/#/admin")
    page.get_by_test_id("workbench").wait_for()
    return {
        "links": links,
        "admin_link": page.get_by_role("link", name="系统管理").count(),
        "admin_screen": page.get_by_test_id("admin").count(),
    }
