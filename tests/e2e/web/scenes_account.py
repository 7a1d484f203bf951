"""Browser scenarios of 账号与安全 and the administrator's account actions (run by
``tests.e2e.browser`` as ``account:<name>``): TOTP enrolment by its QR code and the login that
asks for the code, a reset password that must be changed before anything else, signing out
everywhere, and a session that outlives its access token."""

from __future__ import annotations

import time

import pyotp

from tests.e2e.browser import assert_screen_ok, log_in, shoot
from tests.e2e.web.scenes_experience import glance


def _account(page) -> None:
    page.get_by_role("link", name="账号与安全").click()
    page.get_by_test_id("account").wait_for()


def scenario_totp(page, args: dict) -> dict:
    """A level-6 user turns on authenticator codes: the QR code is drawn, a code of its secret
    confirms it; signing out and in again asks for the code, and a right one lets them in."""
    log_in(page, args["login"], args["password"])
    page.get_by_test_id("who").wait_for()
    _account(page)
    page.get_by_test_id("totp-start").click()
    qr = page.get_by_test_id("totp-qr")
    qr.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=totp-qr]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    drawn = page.evaluate(
        "() => { const i = document.querySelector('[data-testid=totp-qr]');"
        " return {width: i.naturalWidth, height: i.naturalHeight, src: i.src.slice(0, 26),"
        " shown: i.getBoundingClientRect().width}; }"
    )
    assert_screen_ok(page)
    shoot(page, "account-totp-qr")
    glance(page, "account-totp-qr", page.get_by_test_id("totp"))
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_test_id("totp-enrol").get_by_label("6 位动态码").fill(totp.now())
    page.get_by_test_id("totp-confirm").click()
    page.get_by_test_id("totp-notice").wait_for()
    # the state line follows once the screen has read /me again (a moment on a busy machine)
    page.get_by_test_id("totp-state").filter(has_text="已启用").wait_for(timeout=20_000)
    state = page.get_by_test_id("totp-state").inner_text()
    page.get_by_test_id("logout").click()
    page.get_by_label("账号").wait_for()
    log_in(page, args["login"], args["password"])
    code_field = page.get_by_test_id("totp-code")
    code_field.wait_for()
    shoot(page, "login-totp")
    code_field.fill(totp.at(time.time() + 30))  # the enrolment used this step's code
    page.get_by_role("button", name="登录").click()
    page.get_by_test_id("who").wait_for()
    return {"qr": drawn, "secret": secret, "state": state}


def scenario_reset_and_forced_change(page, args: dict) -> dict:
    """The administrator resets a user's password on 系统管理 (confirmed; the temporary password
    shown once); that user signs in with it, sees nothing but the change form, changes it, and
    reaches the workbench."""
    log_in(page, "admin", args["admin_password"])
    page.get_by_test_id("who").wait_for()
    page.get_by_role("link", name="系统管理").click()
    page.get_by_label("按姓名或账号搜索").fill(args["login"])
    row = page.locator(f"[data-testid=user][data-login='{args['login']}']")
    row.get_by_test_id("edit").click()
    row.get_by_test_id("reset").click()
    confirmation = row.get_by_test_id("confirm-reset")
    asked = confirmation.inner_text()
    confirmation.get_by_test_id("confirm").click()
    shown = row.get_by_test_id("temporary-password")
    shown.wait_for()
    temporary = shown.inner_text().strip()
    shoot(page, "admin-reset")
    glance(page, "admin-reset", row.get_by_test_id("security"))
    page.get_by_test_id("logout").click()
    page.get_by_label("账号").wait_for()

    log_in(page, args["login"], temporary)
    form = page.get_by_test_id("password-form")
    form.wait_for()
    page.get_by_test_id("must-change").wait_for()
    menu = page.locator("header nav a").count()
    shoot(page, "forced-change")
    glance(page, "forced-change", form)
    form.get_by_label("临时密码").fill(temporary)
    form.get_by_label("新密码", exact=True).fill("short")
    form.get_by_label("再次输入新密码").fill("short")
    form.get_by_role("button", name="修改密码").click()
    refusal = form.get_by_test_id("error")
    refusal.wait_for()
    refused = refusal.inner_text()
    form.get_by_label("新密码", exact=True).fill(args["new_password"])
    form.get_by_label("再次输入新密码").fill(args["new_password"])
    form.get_by_role("button", name="修改密码").click()
    page.get_by_test_id("workbench").wait_for()
    assert_screen_ok(page)
    return {"asked": asked, "temporary": temporary, "menu_links": menu, "refused": refused}


def scenario_sign_out_everywhere(page, args: dict) -> dict:
    """账号与安全 lists this device; 在所有设备退出登录, confirmed, returns to the login."""
    log_in(page, args["login"], args["password"])
    page.get_by_test_id("who").wait_for()
    _account(page)
    page.get_by_test_id("session").first.wait_for()
    sessions = page.get_by_test_id("session").all_inner_texts()
    assert_screen_ok(page)
    shoot(page, "account")
    glance(page, "account", page.get_by_test_id("sessions"))
    page.get_by_test_id("logout-all").click()
    page.get_by_test_id("confirm-logout-all").get_by_test_id("confirm").click()
    page.get_by_label("账号").wait_for()
    return {"sessions": sessions}


def scenario_outlive_the_access_token(page, args: dict) -> dict:
    """Signed in, the page is left longer than an access token lives; the next screen opens
    without a login (the client refreshed), and so does one after that."""
    log_in(page, args["login"], args["password"])
    page.get_by_test_id("workbench").wait_for()
    first = page.evaluate("() => localStorage.getItem('bpc.token')")
    page.wait_for_timeout(int(args["wait_seconds"] * 1000))
    page.get_by_role("link", name="商机").click()
    page.get_by_test_id("board").wait_for()
    page.wait_for_timeout(int(args["wait_seconds"] * 1000))
    page.get_by_role("link", name="工作台").click()
    page.get_by_test_id("workbench").wait_for()
    assert_screen_ok(page)
    second = page.evaluate("() => localStorage.getItem('bpc.token')")
    return {"login_form": page.get_by_label("账号").count(), "token_changed": first != second}
