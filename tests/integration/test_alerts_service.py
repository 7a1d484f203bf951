"""The alerts service's use cases, in this process on SQLite and PostgreSQL (tests/inprocess.py),
driven with the arguments the gateway sends.

Specifications (docs/DOMAIN.md §6, docs/API.md "GET /alarms/stats"): the statistics of a period
equal the figures computed by hand from the alarms' raise, response and resolution times — support
rate (first response by someone else within a day), mean hours to first support, resolution rate,
mean hours to resolution, and the supporter ranking (alarms answered, responses marked effective,
median hours to respond); alarms raised outside the period do not count. An alarm raised from a
log-entry event is raised once however often the event arrives."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.actor import Actor
from common.errors import Forbidden, ValidationFailed
from tests.inprocess import Services
from tests.support import eventually, processes_running, publish_event, rpc
from tests.support import tap as event_tap

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Actor(id="1", level=9, path=["1"], name="管理员")
_ids = itertools.count(random.randint(10**6, 10**7) * 100)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request, tmp_path_factory):
    """The alerts service in this process (tests/inprocess.py) on each database."""
    services = Services.create(
        tmp_path_factory.mktemp("alerts"), request.param, "alerts", BPC_SUGGESTION_TIMEOUT="0.2"
    )
    yield services
    services.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(request, tmp_path_factory):
    """The alerts service as its own process on each database: requests that race one another
    race only between real workers."""
    with processes_running(tmp_path_factory.mktemp("alerts-race"), request.param, "alerts",
                           BPC_SUGGESTION_TIMEOUT="0.2") as environment:  # fmt: skip
        yield environment


def call(env, method, actor=ADMIN, **kwargs):
    return rpc(env, "alerts", method, actor=actor, timeout=60, **kwargs)


def at(hours: float, start: datetime) -> datetime:
    return start + timedelta(hours=hours)


def generate_month(seed: int, prefix: str):
    """October 2026 in Shanghai: 320 alarms of 12 salespeople in 3 teams, each with 0–3
    responses by colleagues (and sometimes a note by the requester) at known times, 60 %
    resolved by one of the colleagues' responses; plus 4 alarms just outside the month."""
    rng = random.Random(seed)
    leads = [f"{prefix}L{t}" for t in range(3)]
    reps = [f"{prefix}R{i}" for i in range(12)]
    team_of = {rep: leads[i % 3] for i, rep in enumerate(reps)}
    helpers = [f"{prefix}H{i}" for i in range(6)] + reps
    start = datetime(2026, 10, 1, tzinfo=SHANGHAI)
    items = []
    for _ in range(320):
        requester = rng.choice(reps)
        raised = at(rng.uniform(0, 31 * 24 - 80), start)
        responses = []
        for author in rng.sample([h for h in helpers if h != requester], rng.randint(0, 3)):
            responses.append(
                {
                    "author_id": author,
                    "body": "方法",
                    "posted_at": at(rng.uniform(0.05, 60), raised),
                }
            )
        if rng.random() < 0.2:
            responses.append(
                {"author_id": requester, "body": "补充", "posted_at": at(rng.uniform(0, 5), raised)}
            )
        responses.sort(key=lambda r: r["posted_at"])
        resolved_at = None
        others = [r for r in responses if r["author_id"] != requester]
        if others and rng.random() < 0.6:
            chosen = rng.choice(others)
            chosen["effective"] = True
            resolved_at = at(rng.uniform(0, 20), chosen["posted_at"])
        items.append({
            "requester_id": requester, "requester_path": ["1", team_of[requester], requester],
            "raised_at": raised,
            "category": rng.choice(["price", "competitor", "payment", "technical"]),
            "stage": rng.choice(["qualify", "quote", "negotiate"]), "description": "问题",
            "responses": responses, "resolved_at": resolved_at,
        })  # fmt: skip
    outside = [
        datetime(2026, 9, 30, 23, 59, tzinfo=SHANGHAI),
        datetime(2026, 11, 1, tzinfo=SHANGHAI),
    ]
    for moment in outside * 2:
        items.append({
            "requester_id": reps[0], "requester_path": ["1", team_of[reps[0]], reps[0]],
            "raised_at": moment, "category": "price", "description": "期外", "resolved_at": None,
            "responses": [{"author_id": helpers[0], "body": "x", "posted_at": at(1, moment)}],
        })  # fmt: skip
    return items, start, datetime(2026, 11, 1, tzinfo=SHANGHAI)


def hand_computed(items, start, end) -> dict:
    """The figures, computed plainly from the generated times (no BPC code involved)."""
    chosen = [a for a in items if start <= a["raised_at"] < end]
    day = timedelta(days=1)
    first_support, in_time, resolution = [], 0, []
    answered: dict[str, dict[int, datetime]] = {}
    effective: dict[str, int] = {}
    for n, alarm in enumerate(chosen):
        others = [r for r in alarm["responses"] if r["author_id"] != alarm["requester_id"]]
        if others:
            first = min(r["posted_at"] for r in others) - alarm["raised_at"]
            first_support.append(first.total_seconds() / 3600)
            in_time += first <= day
        if alarm["resolved_at"]:
            resolution.append((alarm["resolved_at"] - alarm["raised_at"]).total_seconds() / 3600)
        for r in others:
            mine = answered.setdefault(r["author_id"], {})
            if n not in mine or r["posted_at"] < mine[n]:
                mine[n] = r["posted_at"]
            effective[r["author_id"]] = effective.get(r["author_id"], 0) + bool(r.get("effective"))
    supporters = []
    for user_id, alarms in answered.items():
        hours = [(t - chosen[n]["raised_at"]).total_seconds() / 3600 for n, t in alarms.items()]
        supporters.append(
            (user_id, len(alarms), effective[user_id], round(statistics.median(hours), 2))
        )
    supporters.sort(key=lambda s: (-s[1], -s[2], s[3], s[0]))
    return {
        "raised": len(chosen),
        "support_rate": round(in_time / len(chosen), 4),
        "mean_hours_to_first_support": round(statistics.fmean(first_support), 2),
        "resolution_rate": round(len(resolution) / len(chosen), 4),
        "mean_hours_to_resolution": round(statistics.fmean(resolution), 2),
        "supporters": supporters,
    }


def _wire(items):
    def moment(value):
        return value.isoformat() if isinstance(value, datetime) else value

    return [
        {
            **{k: moment(v) for k, v in item.items() if k != "responses"},
            "responses": [{k: moment(v) for k, v in r.items()} for r in item["responses"]],
        }
        for item in items
    ]


def test_statistics_of_a_generated_month_equal_the_hand_computed_figures(env):
    prefix = f"s{next(_ids)}"
    items, start, end = generate_month(20261027, prefix)
    assert call(env, "import_alarms", items=_wire(items))["created"] == len(items)
    stats = call(env, "stats", scope="group", from_date="2026-10-01", to_date="2026-10-31")
    # this module's other tests raise alarms today, not in October 2026
    expected = hand_computed(items, start, end)
    assert stats["raised"] == expected["raised"] == 320
    for figure in (
        "support_rate", "mean_hours_to_first_support", "resolution_rate", "mean_hours_to_resolution"
    ):  # fmt: skip
        assert stats[figure] == pytest.approx(expected[figure], abs=0.011), figure
    ranking = [
        (s["user_id"], s["responses"], s["effective"], s["median_hours_to_respond"])
        for s in stats["supporters"]
    ]
    assert [r[:3] for r in ranking] == [s[:3] for s in expected["supporters"]]
    for got, want in zip(ranking, expected["supporters"], strict=True):
        assert got[3] == pytest.approx(want[3], abs=0.011)
    assert sum(s["raised"] for s in stats["by_category"]) == 320
    assert sum(s["raised"] for s in stats["by_team"]) == 320
    assert {s["leader_id"] for s in stats["by_team"]} == {f"{prefix}L{t}" for t in range(3)}


def test_importing_needs_level_9_and_consistent_times(env):
    rep = Actor(id=str(next(_ids)), level=2, path=["1"], name="孙")
    moment = datetime(2026, 10, 5, 9, tzinfo=SHANGHAI)
    good = {
        "requester_id": rep.id,
        "raised_at": moment.isoformat(),
        "category": "price",
        "description": "d",
    }
    with pytest.raises(Forbidden):
        call(env, "import_alarms", actor=rep, items=[good])
    early = {
        **good,
        "responses": [
            {"author_id": "9", "body": "b", "posted_at": (moment - timedelta(hours=1)).isoformat()}
        ],
    }
    with pytest.raises(ValidationFailed):
        call(env, "import_alarms", items=[early])
    with pytest.raises(ValidationFailed):
        call(env, "import_alarms", items=[{**good, "category": "weather"}])


def test_an_entry_with_a_difficulty_raises_one_alarm_however_often_its_event_arrives(env):
    author = str(next(_ids))
    entry_id = str(next(_ids))
    tap = event_tap(env, "alerts")
    data = {
        "entry_id": entry_id, "author_id": author, "author_path": ["1", author],
        "work_date": "2026-11-27", "recorded_at": datetime.now(SHANGHAI).isoformat(), "late": False,
        "customer_id": None, "opportunity_id": None, "stage": None, "activities": ["call"],
        "points": 1.0, "minutes": 10, "expense": "0.00", "next_appointment_at": None,
        "difficulty": {
            "category": "competitor", "description": "竞品免费送安装",
            "analysis": "", "amount": None,
        },
    }  # fmt: skip
    for _ in range(3):
        publish_event(env, "worklog", "entry_recorded", data)
    requester = Actor(id=author, level=2, path=["1", author], name="吴")

    def raised():
        items = call(env, "board", actor=requester, mine=True)["items"]
        return items or None

    items = eventually(raised)
    assert len(items) == 1 and items[0]["source_entry_id"] == entry_id
    assert items[0]["category"] == "competitor" and items[0]["status"] == "open"
    # the gateway's immediate call for the same entry finds the same alarm
    again = call(env, "raise_from_entry", actor=requester, **{k: data[k] for k in (
        "entry_id", "author_id", "author_path", "recorded_at", "opportunity_id", "customer_id",
        "stage", "difficulty")})  # fmt: skip
    assert again["id"] == items[0]["id"]
    eventually(lambda: len(tap.of_type("alarm_raised")) >= 1)
    assert len([e for e in tap.seen if e["type"] == "alarm_raised"]) == 1


def test_concurrent_markings_resolve_once_and_the_rest_get_409(running):
    env = running
    from concurrent.futures import ThreadPoolExecutor

    from common.errors import Conflict

    requester = Actor(id=str(next(_ids)), level=2, path=["1", "77"], name="郑")
    helpers = [
        Actor(id=str(next(_ids)), level=2, path=["1", "77"], name=f"帮{i}") for i in range(4)
    ]
    alarm = call(env, "raise_alarm", actor=requester, category="price", description="客户压价")
    responses = [
        call(env, "respond", actor=h, alarm_id=alarm["id"], body=f"方法{i}")["id"]
        for i, h in enumerate(helpers)
    ]

    def mark(response_id):
        try:
            return call(
                env,
                "mark_response_effective",
                actor=requester,
                alarm_id=alarm["id"],
                response_id=response_id,
            )
        except Conflict as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(mark, responses * 2))
    resolved = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(resolved) == 1 and len(refused) == len(results) - 1, results
    assert all(r.code == "already_resolved" for r in refused)
    final = call(env, "get", actor=requester, alarm_id=alarm["id"])
    assert final["status"] == "resolved"
    assert [r["effective"] for r in final["responses"]].count(True) == 1


def test_a_resolution_carries_what_the_pool_files_it_under(env):
    """alarm_resolved carries the stage (from the opportunity), the customer's industry, the
    method, its author and the contributors in the order they first answered."""
    customer, opportunity = str(next(_ids)), str(next(_ids))
    requester = Actor(id=str(next(_ids)), level=2, path=["1", "88"], name="冯")
    first, second = (Actor(id=str(next(_ids)), level=2, path=["1", "88"], name=n) for n in "甲乙")
    publish_event(env, "customer", "customer_registered", {
        "customer_id": customer, "name": "华东机床厂", "owner_id": requester.id,
        "referred_by": None, "industry": "机械制造",
    })  # fmt: skip
    publish_event(env, "opportunity", "registered", {
        "opportunity_id": opportunity, "customer_id": customer, "pipeline_id": "1",
        "title": "数控改造", "amount": "500000.00", "owner_id": requester.id,
        "holder_id": requester.id, "holder_path": requester.path, "status": "open",
        "stage": "negotiate", "stage_index": 3, "probability": 60, "stage_deadline": None,
        "at": datetime.now(SHANGHAI).isoformat(), "by": requester.id, "feasibility_score": 0.7,
    })  # fmt: skip
    # the customer's industry has reached the alerts service once an alarm about it shows it
    eventually(lambda: call(env, "raise_alarm", actor=requester, category="other",
                            description="探针", customer_id=customer)["industry"])  # fmt: skip
    tap = event_tap(env, "alerts")

    def raised():
        try:
            return call(env, "raise_alarm", actor=requester, category="technical",
                        description="老设备接口不兼容", opportunity_id=opportunity)  # fmt: skip
        except ValidationFailed:
            return None  # the opportunity event has not arrived yet

    alarm = eventually(raised)
    assert alarm["stage"] == "negotiate" and alarm["customer_id"] == customer
    assert alarm["industry"] == "机械制造"
    answers = [
        call(env, "respond", actor=who, alarm_id=alarm["id"], body=body)["id"]
        for who, body in ((second, "先看协议"), (first, "加网关转换"), (second, "再补一句"))
    ]
    call(env, "mark_response_effective", actor=requester, alarm_id=alarm["id"],
         response_id=answers[1])  # fmt: skip
    (resolved,) = eventually(lambda: tap.of_type("alarm_resolved"))
    data = resolved["data"]
    assert (data["stage"], data["industry"], data["method"]) == (
        "negotiate",
        "机械制造",
        "加网关转换",
    )
    assert data["method_author_id"] == first.id and data["via"] == "response"
    assert data["contributors"] == [second.id, first.id]


def test_the_workbench_gives_own_to_help_and_unsupported_alarms_in_one_call(env):
    sup_id, rep_id, peer_id = (str(next(_ids)) for _ in range(3))
    sup = Actor(id=sup_id, level=4, path=["1", sup_id], name="钱主管")
    rep = Actor(id=rep_id, level=2, path=["1", sup_id, rep_id], name="孙业务")
    peer = Actor(id=peer_id, level=2, path=["1", sup_id, peer_id], name="周业务")
    helped = call(env, "raise_alarm", actor=rep, category="price", description="客户嫌贵迟迟不签")
    alone = call(env, "raise_alarm", actor=rep, category="price", description="竞品低价抢单")
    call(env, "respond", actor=peer, alarm_id=helped["id"], body="先讲价值再谈价格")
    own = call(env, "raise_alarm", actor=sup, category="price", description="团队本月回款慢")

    mine = call(env, "workbench", actor=rep)
    assert [a["id"] for a in mine["mine"]] == [alone["id"], helped["id"]]  # newest first
    assert mine["to_help"] == [] and mine["unsupported"] is None  # below level 4: no list
    lead = call(env, "workbench", actor=sup)
    assert [a["id"] for a in lead["mine"]] == [own["id"]]
    assert [a["id"] for a in lead["to_help"]] == [alone["id"], helped["id"]]
    assert [a["id"] for a in lead["unsupported"]] == [alone["id"]]  # nobody answered it
    with pytest.raises(ValidationFailed):
        call(env, "workbench", actor=rep, limit=0)
