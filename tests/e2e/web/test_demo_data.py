"""The demo data leaves a system in which every demo user can do what a live user can (issue 19).

BPC started by the README's run command (SQLite), filled by ``bpc demo --small``: this package's
BPC (tests/e2e/web/conftest.py), after its browser tests (this test moves its clock, so it runs
last; the conftest orders it). Every projection matches its owner; every open demo opportunity
accepts a log entry from its holder (the imports fed the worklog's projections as live traffic
would); then, BPC started again with
its clock moved past every stage deadline (``BPC_CLOCK_OFFSET``, which moves the tokens too),
the sweep confiscates each overdue demo opportunity to its holder's direct supervisor, and the
projections still match.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support import Api, projections_in_step

DEMO_PASSWORD = "Demo-2026!"


def every(api: Api, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = api.get(path, params={**params, "limit": 500, **({"cursor": cursor} if cursor
                                                               else {})}).json()  # fmt: skip
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


@pytest.mark.ends_package_bpc
def test_demo_users_can_do_at_once_what_live_users_can(bpc):
    env = bpc.env
    print(projections_in_step(env, timeout=120))
    admin = Api(env.base_url).login("admin", env.admin_password)
    opened = every(admin, "/api/v1/opportunities", status="open")
    assert len(opened) > 100
    logins, answers, refused = {}, Counter(), []
    for opp in opened:
        holder = opp["holder_id"]
        if holder not in logins:
            user = admin.get(f"/api/v1/users/{holder}").json()
            logins[holder] = Api(env.base_url).login(user["login"], DEMO_PASSWORD)
        answer = logins[holder].post("/api/v1/worklog/entries", {
            "opportunity_id": opp["id"], "activities": ["call"], "minutes": 1,
        })  # fmt: skip
        answers[answer.status_code] += 1
        if answer.status_code != 201:
            refused.append(answer.text[:200])
    print(f"\nopen demo opportunities: {len(opened)}, entries by their holders: "
          f"{dict(answers)}")  # fmt: skip
    assert refused == []

    # the package's BPC started again with its clock past every stage deadline of the demo (the
    # package's fixture stops it at the end)
    bpc.stop()
    env.extra["BPC_CLOCK_OFFSET"] = "P45D"
    env.extra["BPC_SWEEP_INTERVAL"] = "0.5"
    bpc.start()
    admin = Api(env.base_url).login("admin", env.admin_password)  # a token on the new clock
    assert admin.post("/api/v1/admin/sweep").status_code == 200
    taken = every(admin, "/api/v1/opportunities", status="confiscated")
    assert {o["id"] for o in taken} >= {o["id"] for o in opened}
    supervisors, wrong = {}, []
    for opp in taken:
        history = admin.get(f"/api/v1/opportunities/{opp['id']}").json()["history"]
        first = next(h for h in history if h["action"] == "confiscated")
        if first["from"] not in supervisors:
            supervisors[first["from"]] = admin.get(f"/api/v1/users/{first['from']}").json()[
                "supervisor_id"]  # fmt: skip
        if first["to"] != supervisors[first["from"]]:
            wrong.append((opp["id"], first))
    print(f"confiscated: {len(taken)}, to someone other than the direct supervisor: "
          f"{len(wrong)}")  # fmt: skip
    assert wrong == []
    print(projections_in_step(env, timeout=120))
