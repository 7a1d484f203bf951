"""Signing in, sessions and hostile input through the gateway of a running BPC (SQLite; waits
of one and two seconds: BPC_LOGIN_DELAY=1, BPC_LOGIN_MAX_DELAY=2; access tokens of 20 s:
BPC_TOKEN_TTL=20, so that outliving one takes seconds).

Specifications (docs/DOMAIN.md §1 "Signing in", "Passwords and sessions", "Second factor";
docs/API.md "Conventions"): 200 wrong passwords are throttled — 429 with Retry-After after
five — and the right password is refused while the account waits, accepted when the wait ends
or the administrator lifts it; signing out everywhere ends every token of the user in every
gateway instance by the time it answers; a reset password buys nothing but its change; TOTP is
enrolled by its QR code and then asked at login; the browser keeps its session past an access
token's life; no input a client can send answers 5xx; every answer carries nosniff, an HTML one
its content policy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyotp
import pytest
import requests

from tests.e2e import browser
from tests.support import ROOT, Api, Environment, bpc_running, eventually, free_port_range

PASSWORD = "Passw0rd!acct"
TOKEN_TTL = 20  # seconds an access token lives here


def new_user(admin: Api, level: int, name: str = "钱七") -> tuple[dict, Api]:
    login = f"acct{uuid.uuid4().hex[:6]}"
    body = {"login": login, "password": PASSWORD, "name": name, "level": level,
            "org_unit_id": "1", "supervisor_id": "1"}  # fmt: skip
    created = admin.post("/api/v1/users", body)
    assert created.status_code == 201, created.text
    return created.json(), Api(admin.base_url)


@pytest.fixture(scope="module")
def bpc(tmp_path_factory):
    web = Path(os.environ.get("BPC_TEST_WEB_DIR") or ROOT / "web" / "dist")
    env = Environment.create(
        tmp_path_factory.mktemp("bpc-accounts"), "sqlite",
        BPC_LOGIN_DELAY="1", BPC_LOGIN_MAX_DELAY="2", BPC_TOKEN_TTL=str(TOKEN_TTL),
        BPC_WEB_DIR=str(web),
    )  # fmt: skip
    with bpc_running(env) as running:
        yield running


@pytest.fixture(scope="module")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)


@pytest.fixture(scope="module")
def rep(bpc, admin):
    return new_user(admin, 2)[0]


def _login(bpc, login: str, password: str) -> requests.Response:
    return requests.post(f"{bpc.env.base_url}/api/v1/auth/login",
                         json={"login": login, "password": password}, timeout=60)  # fmt: skip


def test_200_wrong_passwords_are_throttled_and_the_right_one_waits_too(bpc, admin, rep):
    statuses = []
    for _ in range(200):
        answer = _login(bpc, rep["login"], "not-the-password")
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["error"]["code"] == "too_many_attempts"
    print(f"200 wrong passwords: {statuses.count(401)} × 401, {statuses.count(429)} × 429")
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert statuses.count(429) >= 180 and set(statuses) == {401, 429}
    assert _login(bpc, rep["login"], PASSWORD).status_code == 429

    locks = admin.get("/api/v1/auth/locks").json()["items"]
    assert rep["id"] in {lock["user_id"] for lock in locks}
    lifted = admin.post(f"/api/v1/users/{rep['id']}/unlock", {})
    assert lifted.status_code == 200 and lifted.json()["unlocked"] is True
    assert _login(bpc, rep["login"], PASSWORD).status_code == 200

    for _ in range(5):
        assert _login(bpc, rep["login"], "not-the-password").status_code == 401
    assert _login(bpc, rep["login"], PASSWORD).status_code == 429
    eventually(lambda: _login(bpc, rep["login"], PASSWORD).status_code == 200, timeout=5,
               message="the wait never ended")  # fmt: skip
    audit = admin.get("/api/v1/audit", params={"user_id": rep["id"], "limit": 500}).json()
    actions = [e["action"] for e in audit["items"]]
    assert actions.count("login_failed") == 2  # one per run of failures, not 200
    assert actions.count("login_unlocked") == 1


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/v1/auth/login", '{"login": "admin\\ud800", "password": "x"}'),
        ("POST", "/api/v1/customers", '{"name": "\\udfff有限公司"}'),
        ("GET", "/api/v1/scoring/curves?from=0001-01-01&to=2026-01-01", None),
        ("GET", "/api/v1/scoring/leaderboard?period=month&date=9999-12-31", None),
        ("GET", "/api/v1/scoring/leaderboard?period=week&date=0001-01-01", None),
        ("GET", "/api/v1/alarms/stats?from=2026-05-01&to=2026-04-01", None),
        ("GET", "/assets/%00", None),
        ("GET", "/api/v1/users/2147483648", None),
        ("POST", "/api/v1/alarms/.exe/suggestions/%C3%A6~%20%0A/effective", None),  # a line break
    ],
)
def test_hostile_input_is_a_clear_4xx(bpc, admin, method, path, body):
    headers = {"Authorization": f"Bearer {admin.fresh_token()}", "Content-Type": "application/json"}
    answer = requests.request(method, bpc.env.base_url + path, data=body and body.encode(),
                              headers=headers, timeout=30)  # fmt: skip
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/json"), answer.text  # ours
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_json_html_and_the_page_carry_the_security_headers(bpc, admin):
    headers = {"Authorization": f"Bearer {admin.fresh_token()}"}
    base = bpc.env.base_url
    json_answer = requests.get(f"{base}/api/v1/me", headers=headers, timeout=30)
    handbook = requests.get(f"{base}/api/v1/experience/handbook", headers=headers,
                            params={"format": "html"}, timeout=30)  # fmt: skip
    assert json_answer.status_code == 200 and handbook.status_code == 200, handbook.text
    assert handbook.headers["Content-Type"].startswith("text/html")
    pages = [handbook]
    page = requests.get(f"{base}/", timeout=30)
    if page.status_code == 200:  # (the web workbench is built where npm is installed)
        pages.append(page)
    for answer in (json_answer, *pages):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    for answer in pages:
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"


# ---- sessions ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_gateway(bpc):
    """Another gateway process beside the run command's, on its own port, sharing everything
    else (broker, services, its database): a second instance behind a balancer."""
    port = free_port_range(1)
    environ = {**os.environ, **bpc.env.vars(), "BPC_GATEWAY_ADDRESS": f"127.0.0.1:{port}",
               "BPC_METRICS_PORT_GATEWAY": "0", "BPC_INSTANCE": "1",
               "BPC_INSTANCE_LABEL": "gateway#2"}  # fmt: skip
    log = open(bpc.env.data_dir / "gateway-2.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "ops.runner", "gateway"], cwd=ROOT,
                            env=environ, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        eventually(up, timeout=60, message="the second gateway did not come up")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _signed_in(base_url: str, login: str, password: str = PASSWORD) -> dict:
    answer = requests.post(f"{base_url}/api/v1/auth/login",
                           json={"login": login, "password": password}, timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def _status(base_url: str, token: str, path: str = "/api/v1/customers") -> int:
    return requests.get(base_url + path, headers={"Authorization": f"Bearer {token}"},
                        timeout=30).status_code  # fmt: skip


def test_signing_out_everywhere_ends_every_token_in_both_gateway_instances(
    bpc, admin, second_gateway
):
    rep, _ = new_user(admin, 2)
    gateways = {"first": bpc.env.base_url, "second": second_gateway}
    sessions = [_signed_in(url, rep["login"]) for url in gateways.values() for _ in range(2)]
    for session in sessions:  # every token known (cached) in both instances
        for url in gateways.values():
            assert _status(url, session["token"]) == 200
    started = time.monotonic()
    out = requests.post(
        f"{second_gateway}/api/v1/auth/logout-all",
        headers={"Authorization": f"Bearer {sessions[0]['token']}"},
        timeout=30,
    )
    took = time.monotonic() - started
    assert out.status_code == 200 and out.json()["ended_sessions"] == 4, out.text
    after = {(name, i): _status(url, s["token"]) for name, url in gateways.items()
             for i, s in enumerate(sessions)}  # fmt: skip
    print(f"sign out everywhere answered in {took:.2f} s; then {after}")
    assert set(after.values()) == {401}
    for session in sessions:
        refreshed = requests.post(
            f"{bpc.env.base_url}/api/v1/auth/refresh",
            json={"refresh_token": session["refresh_token"]},
            timeout=30,
        )
        assert refreshed.status_code == 401
    again = _signed_in(bpc.env.base_url, rep["login"])  # a new sign-in works at once
    assert _status(second_gateway, again["token"]) == 200

    # the administrator does the same for a lost device
    before = _signed_in(second_gateway, rep["login"])
    assert _status(bpc.env.base_url, before["token"]) == 200
    cut = admin.post(f"/api/v1/users/{rep['id']}/logout-all")
    assert cut.status_code == 200 and cut.json()["ended_sessions"] == 2
    assert _status(second_gateway, before["token"]) == 401
    assert _status(bpc.env.base_url, again["token"]) == 401
    audit = admin.get("/api/v1/audit", params={"user_id": rep["id"], "limit": 500}).json()
    assert [e["action"] for e in audit["items"]].count("logout_all") == 2


def test_signing_out_ends_this_session_only_and_a_refresh_token_is_good_once(bpc, admin):
    rep, _ = new_user(admin, 2)
    phone, laptop = (_signed_in(bpc.env.base_url, rep["login"]) for _ in range(2))
    listed = requests.get(
        f"{bpc.env.base_url}/api/v1/auth/sessions",
        headers={"Authorization": f"Bearer {phone['token']}"},
        timeout=30,
    )
    assert [s["current"] for s in listed.json()["items"]].count(True) == 1
    assert len(listed.json()["items"]) == 2
    out = requests.post(
        f"{bpc.env.base_url}/api/v1/auth/logout",
        headers={"Authorization": f"Bearer {phone['token']}"},
        timeout=30,
    )
    assert out.status_code == 200 and out.json() == {"ended_sessions": 1}
    assert _status(bpc.env.base_url, phone["token"]) == 401
    assert _status(bpc.env.base_url, laptop["token"]) == 200
    refresh = lambda token: requests.post(  # noqa: E731
        f"{bpc.env.base_url}/api/v1/auth/refresh", json={"refresh_token": token}, timeout=30
    )
    renewed = refresh(laptop["refresh_token"])
    assert renewed.status_code == 200 and _status(bpc.env.base_url, renewed.json()["token"]) == 200
    time.sleep(0.2)
    assert refresh(renewed.json()["refresh_token"]).status_code == 200
    stolen = refresh(laptop["refresh_token"])  # an older one again: a copy; the session ends
    assert stolen.status_code == 401
    # its access token too, once the gateways' cached verdict on the session expires (2 s)
    ended = renewed.json()["token"]
    eventually(lambda: _status(bpc.env.base_url, ended) == 401, timeout=5,
               message="an access token outlived its session")  # fmt: skip


def test_a_reset_password_must_be_changed_before_anything_else(bpc, admin):
    rep, _ = new_user(admin, 2)
    before = _signed_in(bpc.env.base_url, rep["login"])
    reset = admin.post(f"/api/v1/users/{rep['id']}/password-reset")
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    assert _status(bpc.env.base_url, before["token"]) == 401  # the user's sessions ended
    assert (
        requests.post(
            f"{bpc.env.base_url}/api/v1/auth/login",
            timeout=30,
            json={"login": rep["login"], "password": PASSWORD},
        ).status_code
        == 401
    )
    signed_in = _signed_in(bpc.env.base_url, rep["login"], temporary)
    assert signed_in["must_change_password"] is True
    bearer = {"Authorization": f"Bearer {signed_in['token']}"}
    base = bpc.env.base_url
    for method, path, body in (
        ("GET", "/api/v1/customers", None),
        ("GET", "/api/v1/workbench", None),
        ("POST", "/api/v1/customers", {"name": "重置测试有限公司"}),
        ("GET", "/api/v1/auth/sessions", None),
    ):
        answer = requests.request(method, base + path, json=body, headers=bearer, timeout=30)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "password_change_required"
    me = requests.get(f"{base}/api/v1/me", headers=bearer, timeout=30).json()
    assert me["must_change_password"] is True
    weak = requests.post(
        f"{base}/api/v1/auth/password",
        headers=bearer,
        timeout=30,
        json={"old_password": temporary, "new_password": "123456"},
    )
    assert weak.status_code == 422 and weak.json()["error"]["details"]["new_password"]
    assert "至少 10 个字符" in str(weak.json()) and "at least 10 characters" in str(weak.json())
    changed = requests.post(
        f"{base}/api/v1/auth/password",
        headers=bearer,
        timeout=30,
        json={"old_password": temporary, "new_password": "Mine-2027-ok"},
    )
    assert changed.status_code == 200, changed.text
    assert _status(base, signed_in["token"]) == 401  # the temporary session ended with it
    assert _status(base, changed.json()["token"]) == 200
    assert _signed_in(base, rep["login"], "Mine-2027-ok")["must_change_password"] is False
    audit = admin.get("/api/v1/audit", params={"user_id": rep["id"], "limit": 500}).json()
    actions = [e["action"] for e in audit["items"]]
    assert "password_reset" in actions and "password_changed" in actions


def test_totp_is_enrolled_by_its_qr_code_and_then_asked_at_login(bpc, admin):
    manager, _ = new_user(admin, 6, name="孙经理")
    rep, _ = new_user(admin, 2)
    rep_token = _signed_in(bpc.env.base_url, rep["login"])["token"]
    refused = requests.post(
        f"{bpc.env.base_url}/api/v1/auth/totp/setup",
        timeout=30,
        headers={"Authorization": f"Bearer {rep_token}"},
    )
    assert refused.status_code == 403
    shown = browser.run("account:totp", bpc.env.base_url, login=manager["login"], password=PASSWORD)
    print(f"QR code drawn {shown['qr']}")
    assert shown["qr"]["src"].startswith("data:image/svg+xml")
    assert shown["qr"]["width"] > 100 and shown["qr"]["shown"] >= 200
    assert "已启用" in shown["state"]
    asked = requests.post(
        f"{bpc.env.base_url}/api/v1/auth/login",
        timeout=30,
        json={"login": manager["login"], "password": PASSWORD},
    )
    assert asked.status_code == 401 and asked.json()["error"]["code"] == "totp_required"
    code = pyotp.TOTP(shown["secret"]).at(time.time() + 60)  # a step no login has used yet
    other = "000000" if code != "000000" else "111111"
    body = {"login": manager["login"], "password": PASSWORD, "totp_code": other}
    wrong = requests.post(f"{bpc.env.base_url}/api/v1/auth/login", json=body, timeout=30)
    assert wrong.status_code == 401
    audit = admin.get("/api/v1/audit", params={"user_id": manager["id"], "limit": 500}).json()
    actions = {e["action"] for e in audit["items"]}
    assert {"totp_setup_started", "totp_enabled", "login"} <= actions


def test_the_browser_resets_a_password_and_the_user_must_change_it(bpc, admin):
    rep, _ = new_user(admin, 2, name="周业务")
    shown = browser.run("account:reset_and_forced_change", bpc.env.base_url,
                        admin_password=bpc.env.admin_password, login=rep["login"],
                        new_password="Zhou-2027-new")  # fmt: skip
    assert "72 小时" in shown["asked"] and shown["menu_links"] == 0
    assert "至少 10 个字符" in shown["refused"]
    after = _signed_in(bpc.env.base_url, rep["login"], "Zhou-2027-new")
    assert after["must_change_password"] is False


def test_the_browser_signs_out_everywhere(bpc, admin):
    rep, _ = new_user(admin, 2, name="吴业务")
    other = _signed_in(bpc.env.base_url, rep["login"])
    shown = browser.run("account:sign_out_everywhere", bpc.env.base_url, login=rep["login"],
                        password=PASSWORD)  # fmt: skip
    assert len(shown["sessions"]) == 2 and any("本设备" in s for s in shown["sessions"])
    assert _status(bpc.env.base_url, other["token"]) == 401


def test_the_browser_keeps_its_session_past_an_access_tokens_life(bpc, admin):
    rep, _ = new_user(admin, 2, name="郑业务")
    shown = browser.run(
        "account:outlive_the_access_token",
        bpc.env.base_url,
        timeout=180,
        login=rep["login"],
        password=PASSWORD,
        wait_seconds=TOKEN_TTL * 0.7,
    )
    assert shown == {"login_form": 0, "token_changed": True}


def test_fuzzing_the_routes_that_end_sessions_never_gets_a_server_error(bpc, admin, tmp_path):
    """The routes the whole-API fuzz leaves out (they would end its own sessions, or reset the
    administrator's password by a made-up id): schemathesis on them alone, as the
    administrator, a branch manager and without a token — the last test of this module, since
    it may sign anyone out."""
    from tests.e2e.test_acceptance import SESSION_ENDING, _fuzz

    manager, api = new_user(admin, 6, name="冯经理")
    manager_token = api.login(manager["login"], PASSWORD).token
    select = ("--include-path-regex", SESSION_ENDING)
    for label, headers in (
        ("session-ending-9", [f"Authorization: Bearer {admin.fresh_token()}"]),
        ("session-ending-6", [f"Authorization: Bearer {manager_token}"]),
        ("session-ending-anonymous", []),
    ):
        count, errors = _fuzz(bpc, tmp_path, label, headers, select)
        assert count >= 4 and errors == [], (label, count, errors)
