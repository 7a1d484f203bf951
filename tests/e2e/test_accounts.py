"""Signing in and hostile input through the gateway of a running BPC (SQLite; waits of one and
two seconds: BPC_LOGIN_DELAY=1, BPC_LOGIN_MAX_DELAY=2).

Specifications (docs/DOMAIN.md §1 "Signing in", docs/API.md "Conventions"): 200 wrong passwords
are throttled — 429 with Retry-After after five — and the right password is refused while the
account waits, accepted when the wait ends or the administrator lifts it; no input a client can
send answers 5xx; every answer carries nosniff, an HTML one its content policy.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.support import Api, Environment, bpc_running, eventually

PASSWORD = "Passw0rd!acct"


@pytest.fixture(scope="module")
def bpc(tmp_path_factory):
    env = Environment.create(
        tmp_path_factory.mktemp("bpc-accounts"), "sqlite",
        BPC_LOGIN_DELAY="1", BPC_LOGIN_MAX_DELAY="2",
    )  # fmt: skip
    with bpc_running(env) as running:
        yield running


@pytest.fixture(scope="module")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)


@pytest.fixture(scope="module")
def rep(bpc, admin):
    login = f"acct{uuid.uuid4().hex[:6]}"
    body = {"login": login, "password": PASSWORD, "name": "钱七", "level": 2,
            "org_unit_id": "1", "supervisor_id": "1"}  # fmt: skip
    created = admin.post("/api/v1/users", body)
    assert created.status_code == 201, created.text
    return created.json()


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
    ],
)
def test_hostile_input_is_a_clear_4xx(bpc, admin, method, path, body):
    headers = {"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"}
    answer = requests.request(method, bpc.env.base_url + path, data=body and body.encode(),
                              headers=headers, timeout=30)  # fmt: skip
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_json_html_and_the_page_carry_the_security_headers(bpc, admin):
    headers = {"Authorization": f"Bearer {admin.token}"}
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
