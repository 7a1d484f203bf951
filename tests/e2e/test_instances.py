"""Several instances of every service (issue 8): ``bpc run --instances 2`` gives the same
results as one instance on the same workload, on PostgreSQL — no double confiscation, no double
counting, no event published twice in effect.

The workload, through the HTTP API only, with many requests at once: salespeople register
customers (and race each other for the same companies), register opportunities (some on a
pipeline whose first stage lasts two seconds, so both opportunity instances' sweeps race to
confiscate them), log their work, raise alarms that colleagues answer and mark effective. Its
"signature" — what a user can read back, keyed by the workload's own names, not by ids — must
be the same for one and for two instances of every service and of the gateway.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import Api, Environment, bpc_running, eventually

PASSWORD = "Passw0rd!x"
REPS = 6
CUSTOMERS_PER_REP = 3
ENTRIES_PER_REP = 8
RACED = 4  # companies two salespeople register at the same moment
ALARMS = 3
FEASIBLE = {"budget": True, "authority": True, "need": True, "timeline": False}


def _ok(resp, status=(200, 201)):
    assert resp.status_code in status, resp.text
    return resp.json()


def workload(base: str, admin: Api) -> dict:
    """Run the workload against the BPC at ``base``; what users read back afterwards."""
    run = uuid.uuid4().hex[:6]
    me = _ok(admin.get("/api/v1/me"))
    unit = _ok(admin.post("/api/v1/org/units", {"name": f"多实例部{run}", "parent_id": None}))

    def user(key: str, level: int, supervisor: str, name: str):
        login = f"inst_{run}_{key}"
        _ok(admin.post("/api/v1/users", {
            "login": login, "password": PASSWORD, "name": name, "level": level,
            "org_unit_id": unit["id"], "supervisor_id": supervisor,
        }))  # fmt: skip
        return Api(base).login(login, PASSWORD)

    boss = user("sup", 4, me["id"], "周主管")
    boss_id = _ok(boss.get("/api/v1/me"))["id"]
    reps = [user(f"rep{i}", 2, boss_id, f"业务员{i}") for i in range(REPS)]
    rep_ids = [_ok(r.get("/api/v1/me"))["id"] for r in reps]
    default = next(p for p in _ok(admin.get("/api/v1/pipelines"))["items"] if p["is_default"])
    fast = _ok(admin.post("/api/v1/pipelines", {
        "name": f"两秒流程{run}",
        "stages": [
            {"key": "contact", "name": "接触 Contact", "time_limit": "PT2S", "probability": 10},
            {"key": "won", "name": "成交 Won", "time_limit": None, "probability": 100},
        ],
        "remind_before": "PT1S", "decision_limit": "P1D",
        "qualification": [{"key": "budget", "question": "有预算吗 / Budget?", "weight": 1}],
        "qualification_threshold": 0.5,
    }))  # fmt: skip
    pool = ThreadPoolExecutor(12)

    # customers, and races for the same company between two salespeople
    def register_customer(i: int, n: int) -> str:
        return _ok(reps[i].post("/api/v1/customers", {"name": f"客户{run}-{i}-{n}有限公司"}))["id"]

    customers = {
        (i, n): c
        for (i, n), c in zip(
            [(i, n) for i in range(REPS) for n in range(CUSTOMERS_PER_REP)],
            pool.map(
                lambda k: register_customer(*k),
                [(i, n) for i in range(REPS) for n in range(CUSTOMERS_PER_REP)],
            ),  # fmt: skip
            strict=True,
        )
    }
    race = [
        (k, i)
        for k in range(RACED)
        for i in (k % REPS, (k + 1) % REPS)  # two salespeople, one company
    ]

    def grab(ki) -> int:
        return (
            reps[ki[1]]
            .post("/api/v1/customers", {"name": f"抢注{run}-{ki[0]}股份有限公司"})
            .status_code
        )

    raced = list(pool.map(grab, race))

    # opportunities: one on the default pipeline per customer, one on the two-second pipeline
    def register_opportunity(key, pipeline_id=None, qualification=FEASIBLE):
        body = {"customer_id": customers[key], "title": f"项目{key[0]}-{key[1]}",
                "amount": f"{(key[0] + 1) * 10000 + key[1] * 1000}.00",
                "qualification": qualification}  # fmt: skip
        if pipeline_id:
            body["pipeline_id"] = pipeline_id
        return eventually(
            lambda: (r := reps[key[0]].post("/api/v1/opportunities", body)).status_code != 404
            and _ok(r),
            timeout=20, message="a customer never reached the opportunity service",
        )  # fmt: skip

    opened = list(pool.map(lambda k: register_opportunity(k, default["id"]),
                           [k for k in customers if k[1] > 0]))  # fmt: skip
    quick = list(pool.map(lambda i: register_opportunity((i, 0), fast["id"], {"budget": True}),
                          range(REPS)))  # fmt: skip

    # the work log: every salesperson at once
    def log(i: int, n: int):
        return _ok(reps[i].post("/api/v1/worklog/entries", {
            "customer_id": customers[(i, n % CUSTOMERS_PER_REP)],
            "activities": ["call", "visit"] if n % 3 == 0 else ["call"],
            "minutes": 20 + 5 * n, "expense": f"{n * 10}.00", "note": f"第{n}次跟进",
        }))  # fmt: skip

    # (one salesperson's entries one after another: each is chained to the one before, and a
    # second at the same moment is refused with 409 "try again")
    logged = [e for day in pool.map(lambda i: [log(i, n) for n in range(ENTRIES_PER_REP)],
                                    range(REPS)) for e in day]  # fmt: skip

    # alarms, answered by a colleague and marked effective by the requester
    def alarm(i: int):
        raised = _ok(reps[i].post("/api/v1/alarms", {
            "category": "price", "description": f"客户压价{run}第{i}单，要求再降百分之十五",
            "analysis": "竞品报价更低", "amount": "50000",
        }))  # fmt: skip
        body = {"body": f"先讲总拥有成本{i}，再送一年维保"}
        answer = _ok(reps[(i + 1) % REPS].post(f"/api/v1/alarms/{raised['id']}/responses", body))
        _ok(reps[i].post(f"/api/v1/alarms/{raised['id']}/responses/{answer['id']}/effective"))
        return raised["id"]

    alarms = list(pool.map(alarm, range(ALARMS)))
    pool.shutdown()

    # quiescence: the two-second opportunities confiscated, the entries scored, the pool filled
    def confiscated():
        details = [_ok(boss.get(f"/api/v1/opportunities/{o['id']}")) for o in quick]
        return all(d["status"] == "confiscated" for d in details) and details

    quick_details = eventually(confiscated, timeout=30, message="the sweep never confiscated")
    today = _ok(reps[0].get("/api/v1/me"))["today"]

    def curves():
        seen = []
        for rid in rep_ids:
            query = {"user_id": rid, "from": today, "to": today, "granularity": "day"}
            points = _ok(boss.get("/api/v1/scoring/curves", params=query))["points"]
            seen.append((sum(p["entries"] for p in points), sum(p["minutes"] for p in points),
                         round(sum(p["score"] for p in points), 3)))  # fmt: skip
        return sum(e for e, _, _ in seen) == len(logged) and seen

    curve = eventually(curves, timeout=30, message="scoring never counted every entry")

    def in_pool():
        found = _ok(reps[0].get("/api/v1/experience", params={"q": f"压价{run}"}))["items"]
        return len(found) >= ALARMS and found

    pool_entries = eventually(in_pool, timeout=30, message="the pool never got the alarms")
    query = {"metric": "diligence", "period": "day", "date": today, "scope": "team"}
    board = _ok(boss.get("/api/v1/scoring/leaderboard", params=query))["items"]
    names = {rid: f"业务员{i}" for i, rid in enumerate(rep_ids)}
    return {
        # which of two racers wins a company is chance: the total is not
        "customers": sum(
            len(_ok(r.get("/api/v1/customers", params={"limit": 200}))["items"]) for r in reps
        ),  # fmt: skip
        "raced": sorted(raced),
        "opened": sorted((o["title"], o["stage"], o["amount"]) for o in opened),
        "confiscations": [
            (
                d["title"],
                d["holder_id"] == boss_id,
                [h["action"] for h in d["history"]].count("confiscated"),
            )
            for d in sorted(quick_details, key=lambda d: d["title"])
        ],  # fmt: skip
        "curves": curve,
        "board": [
            (names.get(b["user_id"], b["user_id"]), b["value"])
            for b in board
            if b["user_id"] in names
        ],  # fmt: skip
        "chains": [
            _ok(boss.get("/api/v1/worklog/verify", params={"author_id": rid})) for rid in rep_ids
        ],  # fmt: skip
        "alarms": sorted(_ok(boss.get(f"/api/v1/alarms/{a}"))["status"] for a in alarms),
        "pool": len(pool_entries),
    }


@pytest.fixture(scope="module")
def signatures(tmp_path_factory):
    """The workload on one instance of everything, then on two of everything."""
    found = {}
    for count in (1, 2):
        env = Environment.create(  # (one instance: the functional tests measure its lines)
            tmp_path_factory.mktemp(f"bpc-x{count}"),
            "postgresql",
            measured=count == 2,
            BPC_SWEEP_INTERVAL="0.3",
        )
        with bpc_running(env, args=["--instances", str(count)]) as running:
            admin = Api(env.base_url).login("admin", env.admin_password)
            found[count] = workload(env.base_url, admin)
            found[count]["processes"] = len(running.children_all())
    return found


def test_two_instances_of_every_service_run_side_by_side(signatures):
    assert signatures[1]["processes"] == 8  # seven services and the gateway
    assert signatures[2]["processes"] == 16


def test_two_instances_give_the_same_results_as_one(signatures):
    one, two = (dict(signatures[n]) for n in (1, 2))
    one.pop("processes"), two.pop("processes")
    assert two == one


def test_each_overdue_opportunity_is_confiscated_exactly_once(signatures):
    for count in (1, 2):
        assert signatures[count]["confiscations"] == [
            (f"项目{i}-0", True, 1) for i in range(REPS)
        ], count


def test_every_entry_is_counted_once_and_every_race_has_one_winner(signatures):
    for count in (1, 2):
        seen = signatures[count]
        assert [e for e, _, _ in seen["curves"]] == [ENTRIES_PER_REP] * REPS
        assert seen["raced"] == [201] * RACED + [409] * RACED
        assert all(c["valid"] and c["entries"] == ENTRIES_PER_REP for c in seen["chains"])
        assert seen["alarms"] == ["resolved"] * ALARMS and seen["pool"] == ALARMS
