"""The 系统管理 screen in a real browser (the ``bpc`` fixture of ``conftest.py``): a unit and a
user created there exist in the API, with the level changed there; a supervisor whose level is
not higher is the API's 422 on screen in both languages; a user deactivated there is inactive
in the API; a salesperson gets no administration. Every user made here has a unique login."""

from __future__ import annotations

import uuid

from tests.e2e import browser
from tests.support import Api

PASSWORD = "Demo-2026!"


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_admin_creates_a_unit_and_a_user_in_the_browser_and_the_api_has_them(bpc, admin):
    me = admin.get("/api/v1/me").json()
    tag = _tag()
    unit, login = f"浏览器测试组{tag}", f"adm_user_{tag}"
    user = {"name": f"测试员{tag}", "login": login, "password": PASSWORD,
            "supervisor_id": me["id"]}  # fmt: skip
    result = browser.run(
        "admin:create_unit_and_user", bpc.env.base_url, password=bpc.env.admin_password,
        unit=unit, parent_id=me["org_unit_id"], user=user,
    )  # fmt: skip
    units = admin.get("/api/v1/org/units", params={"limit": 500}).json()["items"]
    made = [u for u in units if u["name"] == unit]
    assert made == [{"id": result["unit_id"], "name": unit, "parent_id": me["org_unit_id"]}]
    members = admin.get("/api/v1/users", params={"org_unit_id": result["unit_id"]}).json()
    (member,) = members["items"]
    assert member["login"] == login and member["name"] == user["name"]
    assert member["level"] == 3 and member["supervisor_id"] == me["id"] and member["active"]
    assert result["unit_users"] == [user["name"]]
    # every user, in the API's pinyin order of name (the screen sorts with the zh-CN collation)
    everyone = []
    page = {"next_cursor": None}
    while True:
        params = {"limit": 500, **({"cursor": page["next_cursor"]} if page["next_cursor"] else {})}
        page = admin.get("/api/v1/users", params=params).json()
        everyone += [u for u in page["items"] if u["active"]]
        if not page["next_cursor"]:
            break
    assert sorted(result["all_names"]) == sorted(u["name"] for u in everyone)
    chinese = [n for n in result["all_names"] if n.startswith(("李", "王", "张", "赵"))]
    api_order = [u["name"] for u in everyone if u["name"] in chinese]
    assert chinese == api_order


def test_a_supervisor_whose_level_is_not_higher_shows_the_apis_422(bpc, admin):
    supervisor = Api(bpc.env.base_url).login("demo_supr0b0d0t0", PASSWORD)
    boss = supervisor.get("/api/v1/me").json()
    assert boss["level"] == 4
    tag = _tag()
    user = {"name": f"越级{tag}", "login": f"adm_bad_{tag}", "password": PASSWORD, "level": 5,
            "org_unit_id": boss["org_unit_id"], "supervisor_id": boss["id"]}  # fmt: skip
    refused = admin.post("/api/v1/users", {**user, "login": f"adm_bad_api_{tag}"})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    zh, en = error["message"].rsplit(" / ", 1)
    shown = browser.run(
        "admin:refused_supervisor", bpc.env.base_url, password=bpc.env.admin_password, user=user
    )
    assert shown["chinese"]["message"] == zh
    assert shown["english"]["message"] == en
    (reason,) = error["details"]["supervisor_id"]  # named by the form's label
    zh_reason, en_reason = reason.rsplit(" / ", 1)
    ((zh_shown,), (en_shown,)) = shown["chinese"]["details"], shown["english"]["details"]
    assert zh_shown.startswith("上级") and zh_shown.endswith(zh_reason), shown
    assert en_shown.startswith("Supervisor") and en_shown.endswith(en_reason), shown
    assert "高于" in reason
    logins = {u["login"] for u in admin.get("/api/v1/users", params={"limit": 500}).json()["items"]}
    assert user["login"] not in logins


def test_deactivating_a_user_in_the_browser_makes_them_inactive_in_the_api(bpc, admin):
    me = admin.get("/api/v1/me").json()
    tag = _tag()
    lead = admin.post("/api/v1/users", {
        "login": f"adm_lead_{tag}", "password": PASSWORD, "name": f"组长{tag}", "level": 5,
        "org_unit_id": me["org_unit_id"], "supervisor_id": me["id"],
    })  # fmt: skip
    assert lead.status_code == 201, lead.text
    leaving = admin.post("/api/v1/users", {
        "login": f"adm_leaving_{tag}", "password": PASSWORD, "name": f"离职者{tag}", "level": 2,
        "org_unit_id": me["org_unit_id"], "supervisor_id": lead.json()["id"],
    })  # fmt: skip
    assert leaving.status_code == 201, leaving.text
    result = browser.run(
        "admin:deactivate", bpc.env.base_url, password=bpc.env.admin_password,
        login=f"adm_leaving_{tag}",
    )  # fmt: skip
    assert f"组长{tag}" in result["confirmation"] and "移交" in result["confirmation"], result
    assert f"组长{tag}" in result["notice"], result
    user = admin.get(f"/api/v1/users/{leaving.json()['id']}").json()
    assert user["active"] is False
    gone = Api(bpc.env.base_url).post(
        "/api/v1/auth/login", {"login": f"adm_leaving_{tag}", "password": PASSWORD}
    )
    assert gone.status_code == 401


def test_a_salesperson_gets_no_administration(bpc):
    result = browser.run("admin:no_admin_menu", bpc.env.base_url, login="demo_rep0")
    assert result["admin_link"] == 0 and result["admin_screen"] == 0, result
    assert "经验池" in result["links"] and "系统管理" not in result["links"]
    rep = Api(bpc.env.base_url).login("demo_rep0", PASSWORD)
    assert rep.post("/api/v1/org/units", {"name": "不该有", "parent_id": None}).status_code == 403
