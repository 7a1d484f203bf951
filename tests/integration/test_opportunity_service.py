"""The opportunity service's use cases, in this process on SQLite and PostgreSQL beside the
customer service (tests/inprocess.py), driven with the arguments the gateway sends.

Specifications (docs/DOMAIN.md §3): the default pipeline exists from the first start; pipelines are
created by level 6 for their subtree; registration checks customer ownership and feasibility;
only the holder advances, one stage forward; the sweep warns once, confiscates to the
supervisor, escalates a missed decision; decisions start a fresh clock; a loss needs an autopsy
and a supervisor's approval; a leaver's opportunities pass to the supervisor; every change is a
history row and an event.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from nameko.exceptions import RemoteError

from common.actor import Actor
from common.errors import (
    BusinessRuleViolated,
    Conflict,
    DuplicateCustomer,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from tests.inprocess import Services
from tests.support import eventually, publish_event, rpc
from tests.support import tap as event_tap

_ids = itertools.count(random.randint(10**6, 10**7) * 100)


def new_id() -> str:
    return str(next(_ids))


@dataclass
class Team:
    """top (9) → director (5) → supervisor (4) → owner, peer (2); manager (6) under top."""

    top: Actor
    director: Actor
    supervisor: Actor
    owner: Actor
    peer: Actor
    outsider: Actor
    manager: Actor


def make_team() -> Team:
    top, director, sup, owner, peer, outsider, manager = (new_id() for _ in range(7))
    chain = [top, director, sup]
    return Team(
        top=Actor(id=top, level=9, path=[top], name="董事长"),
        director=Actor(id=director, level=5, path=[top, director], name="赵经理"),
        supervisor=Actor(id=sup, level=4, path=chain, name="王主管"),
        owner=Actor(id=owner, level=2, path=[*chain, owner], name="张三"),
        peer=Actor(id=peer, level=2, path=[*chain, peer], name="李四"),
        outsider=Actor(id=outsider, level=2, path=[top, manager, outsider], name="孙七"),
        manager=Actor(id=manager, level=6, path=[top, manager], name="钱总"),
    )


FAST = {
    "name": "快速流程 Fast pipeline",
    "stages": [
        {"key": "contact", "name": "初步接触", "time_limit": "PT2S", "probability": 10},
        {"key": "quote", "name": "报价", "time_limit": "PT2S", "probability": 50},
        {"key": "won", "name": "成交", "time_limit": None, "probability": 100},
    ],
    "remind_before": "PT1S",
    "decision_limit": "PT2S",
    "qualification": [
        {"key": "budget", "question": "有预算吗", "weight": 1},
        {"key": "need", "question": "需求明确吗", "weight": 1},
    ],
    "qualification_threshold": 0.5,
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request, tmp_path_factory):
    """The opportunity service in this process (tests/inprocess.py) on each database, its sweep
    timer every 0.2 s, and the customer service, asked of customers the opportunity service has
    not seen yet."""
    services = Services.create(
        tmp_path_factory.mktemp("opp"), request.param, "opportunity", "customer",
        BPC_SWEEP_INTERVAL="0.2",
    )  # fmt: skip
    yield services
    services.close()


@pytest.fixture
def team(env) -> Team:
    team = make_team()
    for actor in (team.top, team.director, team.supervisor, team.owner, team.peer, team.manager):
        publish_event(
            env,
            "org",
            "user_created",
            {
                "user_id": actor.id,
                "login": f"u{actor.id}",
                "name": actor.name,
                "level": actor.level,
                "org_unit_id": None,
                "supervisor_id": actor.path[-2] if len(actor.path) > 1 else None,
                "path": actor.path,
            },
        )
    return team


def call(env, method, actor, **kwargs):
    return rpc(env, "opportunity", method, actor=actor, **kwargs)


def customer_of(env, owner: Actor | None) -> str:
    """A customer known to the opportunity service's projection, owned by ``owner``."""
    customer_id = new_id()
    publish_event(
        env,
        "customer",
        "customer_registered",
        {
            "customer_id": customer_id,
            "name": f"客户{customer_id}",
            "owner_id": owner.id if owner else "",
            "referred_by": None,
        },
    )
    return customer_id


def register(env, actor, customer_id, pipeline_id=None, amount="120000.00", **kw):
    """Register once the customer has reached the projection (its event is asynchronous)."""
    args = {
        "customer_id": customer_id,
        "title": kw.pop("title", "年度采购 Annual purchase"),
        "amount": amount,
        "qualification": kw.pop("qualification", {"budget": True, "need": True}),
        **kw,
    }
    if pipeline_id:
        args["pipeline_id"] = pipeline_id
    return eventually(
        lambda: _try(lambda: call(env, "register", actor, **args), NotFound),
        message="customer never reached the opportunity service",
    )


def _try(fn, *retry_on):
    try:
        return fn()
    except retry_on:
        return None


def fast_pipeline(env, team) -> str:
    return call(env, "create_pipeline", team.top, **FAST)["id"]


def history_actions(env, actor, opportunity_id) -> list[str]:
    return [h["action"] for h in call(env, "get", actor, opportunity_id=opportunity_id)["history"]]


def test_default_pipeline_is_installed_and_pipelines_apply_to_a_subtree(env, team):
    pipelines = call(env, "list_pipelines", team.owner)["items"]
    default = [p for p in pipelines if p["is_default"]]
    assert len(default) == 1
    assert [s["key"] for s in default[0]["stages"]] == [
        "contact", "needs", "demo", "quote", "negotiate", "payment", "won"
    ]  # fmt: skip
    assert default[0]["qualification_threshold"] == 0.5

    with pytest.raises(Forbidden):
        call(env, "create_pipeline", team.director, **FAST)  # level 5
    with pytest.raises(ValidationFailed) as bad:
        call(env, "create_pipeline", team.manager, **{**FAST, "remind_before": "two days"})
    assert "remind_before" in bad.value.details
    with pytest.raises(ValidationFailed) as unknown:
        call(env, "create_pipeline", team.manager, **{**FAST, "colour": "red"})
    assert "colour" in unknown.value.details

    branch = call(env, "create_pipeline", team.manager, **{**FAST, "name": "分公司流程"})
    assert branch["scope_path"] == f"/{team.top.id}/{team.manager.id}/"
    visible_to_outsider = {p["id"] for p in call(env, "list_pipelines", team.outsider)["items"]}
    visible_to_owner = {p["id"] for p in call(env, "list_pipelines", team.owner)["items"]}
    assert branch["id"] in visible_to_outsider and branch["id"] not in visible_to_owner
    with pytest.raises(ValidationFailed):  # not a pipeline of the owner's branch
        call(
            env, "register", team.owner,
            customer_id=customer_of(env, team.owner), title="x", amount=1,
            pipeline_id=branch["id"], qualification={"budget": True, "need": True},
        )  # fmt: skip


def test_registration_checks_the_customer_and_feasibility(env, team):
    with pytest.raises(NotFound):
        call(env, "register", team.owner, customer_id=new_id(), title="x", amount="1.00")

    peers_customer = customer_of(env, team.peer)
    register(env, team.peer, peers_customer)  # the customer has reached the projection
    with pytest.raises(DuplicateCustomer):
        call(env, "register", team.owner, customer_id=peers_customer, title="抢单", amount=1)

    mine = customer_of(env, team.owner)
    opp = register(env, team.owner, mine)
    assert opp["status"] == "open" and opp["stage"] == "contact"
    assert opp["owner_id"] == opp["holder_id"] == team.owner.id
    assert opp["feasibility_score"] == 0.5 and opp["amount"] == "120000.00"
    entered = datetime.fromisoformat(opp["stage_entered_at"])
    deadline = datetime.fromisoformat(opp["stage_deadline"])
    assert (deadline - entered).days == 7  # P7D of the default pipeline

    with pytest.raises(BusinessRuleViolated) as refused:
        call(
            env, "register", team.owner, customer_id=mine, title="x", amount=1,
            qualification={"budget": True},
        )  # fmt: skip
    assert refused.value.code == "not_feasible"
    assert refused.value.details["score"] == 0.25
    assert set(refused.value.details["missing"]) == {"authority", "need", "timeline"}
    for bad in ({"amount": "12.345"}, {"amount": -1}, {"title": ""}, {"qualification": {"x": 1}}):
        with pytest.raises(ValidationFailed):
            call(
                env,
                "register",
                team.owner,
                **{"customer_id": mine, "title": "t", "amount": 1, **bad},
            )

    # a customer nobody owns becomes the registrant's; then it is refused to others
    free = customer_of(env, None)
    register(env, team.peer, free)
    with pytest.raises(DuplicateCustomer):
        call(env, "register", team.owner, customer_id=free, title="x", amount=1)


def test_only_the_holder_advances_one_stage_forward(env, team):
    opp = register(env, team.owner, customer_of(env, team.owner))
    oid = opp["id"]
    with pytest.raises(NotFound):
        call(env, "get", team.peer, opportunity_id=oid)
    with pytest.raises(NotFound):
        call(env, "advance", team.peer, opportunity_id=oid)
    with pytest.raises(Forbidden):
        call(env, "advance", team.supervisor, opportunity_id=oid)  # sees it, does not hold it
    assert call(env, "get", team.supervisor, opportunity_id=oid)["id"] == oid

    moved = call(env, "advance", team.owner, opportunity_id=oid, note="需求已确认")
    assert moved["stage"] == "needs"
    assert datetime.fromisoformat(moved["stage_deadline"]) > datetime.fromisoformat(
        opp["stage_deadline"]
    )
    for _ in range(4):
        moved = call(env, "advance", team.owner, opportunity_id=oid)
    assert moved["stage"] == "payment"
    with pytest.raises(Conflict) as last:
        call(env, "advance", team.owner, opportunity_id=oid)
    assert last.value.code == "invalid_transition"
    won = call(env, "win", team.owner, opportunity_id=oid)
    assert won["status"] == "won" and won["stage"] == "won" and won["stage_deadline"] is None
    with pytest.raises(Conflict):
        call(env, "advance", team.owner, opportunity_id=oid)
    assert history_actions(env, team.owner, oid) == ["registered"] + ["advanced"] * 5 + ["won"]


def test_win_only_from_the_last_open_stage(env, team):
    oid = register(env, team.owner, customer_of(env, team.owner))["id"]
    with pytest.raises(Conflict) as early:
        call(env, "win", team.owner, opportunity_id=oid)
    assert early.value.code == "invalid_transition"


def test_the_clock_warns_confiscates_returns_and_escalates(env, team):
    tap = event_tap(env, "opportunity")
    pipeline = fast_pipeline(env, team)
    oid = register(env, team.owner, customer_of(env, team.owner), pipeline_id=pipeline)["id"]

    confiscated = eventually(
        lambda: (
            (o := call(env, "get", team.supervisor, opportunity_id=oid))["status"] == "confiscated"
            and o
        ),
        timeout=15,
        message="not confiscated",
    )
    assert confiscated["holder_id"] == team.supervisor.id
    assert confiscated["original_owner_id"] == team.owner.id
    assert confiscated["decision_deadline"] is not None
    actions = [h["action"] for h in confiscated["history"]]
    assert actions[:3] == ["registered", "warned", "confiscated"]

    returned = call(env, "decide", team.supervisor, opportunity_id=oid, action="return")
    assert returned["status"] == "open" and returned["holder_id"] == team.owner.id
    taken_at = datetime.fromisoformat(confiscated["history"][2]["at"])
    entered = datetime.fromisoformat(returned["stage_entered_at"])
    assert entered >= taken_at  # a fresh clock, started by the decision
    assert (datetime.fromisoformat(returned["stage_deadline"]) - entered).total_seconds() == 2

    # confiscated again; this time the supervisor lets the decision deadline pass
    escalated = eventually(
        lambda: (
            (o := call(env, "get", team.director, opportunity_id=oid))["holder_id"]
            == team.director.id
            and o
        ),
        timeout=20,
        message="not escalated",
    )
    assert escalated["status"] == "confiscated"
    assert escalated["original_owner_id"] == team.owner.id  # escalation keeps the owner
    actions = [h["action"] for h in escalated["history"]]
    assert actions.count("confiscated") == 2 and actions.count("escalated") == 1
    assert actions.count("warned") == 2  # once per stage entry

    events = eventually(
        lambda: (
            (e := [x for x in tap.drain() if x["data"]["opportunity_id"] == oid])
            and len([x for x in e if x["type"] == "confiscated"]) >= 3
            and e
        ),
        message="events missing",
    )
    kinds = [(e["type"], e["data"].get("action")) for e in events]
    assert ("registered", None) in kinds and ("deadline_approaching", None) in kinds
    assert kinds.count(("confiscated", "confiscated")) == 2
    assert kinds.count(("confiscated", "escalated")) == 1
    assert ("decided", "return") in kinds
    taken = next(e for e in events if e["type"] == "confiscated")
    assert taken["data"]["from_holder_id"] == team.owner.id
    assert taken["data"]["holder_id"] == team.supervisor.id
    assert taken["data"]["holder_path"] == team.supervisor.path
    assert taken["data"]["customer_id"] and taken["data"]["amount"] == "120000.00"
    tap.close()


def test_decisions_keep_and_reassign_within_the_deciders_subtree(env, team):
    # stages of seconds, but a minute to decide: the decisions below, not an escalation
    # racing them on a loaded machine, are what this test is about
    unhurried = {**FAST, "name": "快速流程 从容决定 Fast, unhurried decisions",
                 "decision_limit": "PT60S"}  # fmt: skip
    pipeline = call(env, "create_pipeline", team.top, **unhurried)["id"]
    ids = [
        register(env, team.owner, customer_of(env, team.owner), pipeline_id=pipeline)["id"]
        for _ in range(2)
    ]
    for oid in ids:
        eventually(
            lambda oid=oid: (
                call(env, "get", team.supervisor, opportunity_id=oid)["status"] == "confiscated"
            ),
            timeout=15,
        )
    with pytest.raises(Forbidden):  # the owner does not hold it any more
        call(env, "decide", team.owner, opportunity_id=ids[0], action="keep")
    with pytest.raises(NotFound):
        call(env, "decide", team.outsider, opportunity_id=ids[0], action="keep")
    with pytest.raises(ValidationFailed):
        call(env, "decide", team.supervisor, opportunity_id=ids[0], action="reassign")
    with pytest.raises(Forbidden):  # not below the supervisor
        call(
            env, "decide", team.supervisor, opportunity_id=ids[0], action="reassign",
            assignee_id=team.director.id,
        )  # fmt: skip
    with pytest.raises(ValidationFailed):
        call(env, "decide", team.supervisor, opportunity_id=ids[0], action="abandon")

    reassigned = call(
        env, "decide", team.supervisor, opportunity_id=ids[0], action="reassign",
        assignee_id=team.peer.id,
    )  # fmt: skip
    assert reassigned["holder_id"] == team.peer.id and reassigned["status"] == "open"
    assert call(env, "get", team.peer, opportunity_id=ids[0])["holder_id"] == team.peer.id
    with pytest.raises(NotFound):  # no longer the owner's to read once passed on
        call(env, "advance", team.outsider, opportunity_id=ids[0])
    kept = call(env, "decide", team.supervisor, opportunity_id=ids[1], action="keep")
    assert kept["holder_id"] == team.supervisor.id and kept["status"] == "open"
    with pytest.raises(Conflict):  # already decided
        call(env, "decide", team.supervisor, opportunity_id=ids[1], action="keep")


def test_a_loss_needs_an_autopsy_and_a_supervisors_approval(env, team):
    oid = register(env, team.owner, customer_of(env, team.owner), amount="5000")["id"]
    with pytest.raises(ValidationFailed) as bad:
        call(env, "lose", team.owner, opportunity_id=oid, reason="price", analysis="  ")
    assert "analysis" in bad.value.details
    with pytest.raises(ValidationFailed):
        call(env, "lose", team.owner, opportunity_id=oid, reason="bad_luck", analysis="太贵")
    pending = call(
        env, "lose", team.owner, opportunity_id=oid, reason="price",
        analysis="竞品报价低 20%，我们没有及时调整方案",
    )  # fmt: skip
    assert pending["status"] == "loss_pending" and pending["stage_deadline"] is not None
    with pytest.raises(Forbidden):
        call(env, "approve_loss", team.owner, opportunity_id=oid)
    with pytest.raises(NotFound):
        call(env, "approve_loss", team.peer, opportunity_id=oid)
    lost = call(env, "approve_loss", team.supervisor, opportunity_id=oid)
    assert lost["status"] == "lost" and lost["loss_reason"] == "price"
    reasons = call(env, "lost_reasons", team.supervisor, scope="subtree")["items"]
    price = next(r for r in reasons if r["reason"] == "price")
    assert price["count"] >= 1
    with pytest.raises(Forbidden):
        call(env, "lost_reasons", team.owner, scope="group")


def test_a_leavers_opportunities_pass_to_the_supervisor(env, team):
    leaver_id = new_id()
    leaver = Actor(id=leaver_id, level=2, path=[*team.supervisor.path, leaver_id], name="离职者")
    ids = [register(env, leaver, customer_of(env, leaver))["id"] for _ in range(3)]
    event = {
        "user_id": leaver.id,
        "supervisor_id": team.supervisor.id,
        "supervisor_path": team.supervisor.path,
        "path": leaver.path,
    }
    envelope = publish_event(env, "org", "user_deactivated", event)
    publish_event(env, "org", "user_deactivated", event, envelope=envelope)  # delivered twice

    def handed():
        rows = [call(env, "get", team.supervisor, opportunity_id=i) for i in ids]
        return all(r["holder_id"] == team.supervisor.id for r in rows) and rows

    rows = eventually(handed, message="not handed over")
    for row in rows:
        assert row["status"] == "confiscated"
        assert [h["action"] for h in row["history"]].count("handed_over") == 1
    with pytest.raises(Conflict):  # return to someone who left
        call(env, "decide", team.supervisor, opportunity_id=ids[0], action="return")


def test_sweep_rpc_needs_level_9_and_reports_counts(env, team):
    with pytest.raises(Forbidden):
        call(env, "sweep", team.supervisor)
    counts = call(env, "sweep", team.top)
    assert set(counts) == {"warned", "confiscated", "escalated", "flagged"}


def test_read_models_answer_for_a_scope(env, team):
    oid = register(env, team.owner, customer_of(env, team.owner), amount="1000")["id"]
    call(env, "advance", team.owner, opportunity_id=oid)
    funnel = call(env, "funnel", team.owner, scope="me")
    needs = next(s for s in funnel["stages"] if s["key"] == "needs")
    assert needs["count"] >= 1 and needs["reached"] >= 1
    contact = next(s for s in funnel["stages"] if s["key"] == "contact")
    assert contact["median_time_in_stage"] is not None
    forecast = call(env, "forecast", team.owner, scope="me", months=3)
    assert len(forecast["months"]) == 3 and forecast["learned"] is False
    assert forecast["probabilities"]["needs"] == 0.2  # configured, below 30 closed samples
    worklist = call(env, "worklist", team.owner)["items"]
    probabilities = [w["probability"] for w in worklist]
    assert probabilities == sorted(probabilities, reverse=True)
    with pytest.raises(Forbidden):
        call(env, "funnel", team.owner, scope="subtree")

    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the org's month
    with pytest.raises(Forbidden):
        call(env, "set_target", team.peer, user_id=team.owner.id, month=month, target="1000")
    item = call(env, "set_target", team.supervisor, user_id=team.owner.id, month=month,
                target="50000")  # fmt: skip
    assert item["target"] == "50000.00"
    for _ in range(4):
        call(env, "advance", team.owner, opportunity_id=oid)
    call(env, "win", team.owner, opportunity_id=oid)  # 1,000 yuan won this month
    targets = call(env, "targets", team.supervisor, scope="team", month=month)
    mine = next(i for i in targets["items"] if i["user_id"] == team.owner.id)
    assert mine["target"] == "50000.00" and mine["set_by"] == team.supervisor.id
    assert mine["won"] == "1000.00" and mine["attainment"] == 0.02
    peer = next(i for i in targets["items"] if i["user_id"] == team.peer.id)
    assert peer["proposed"] == "0.00" and peer["won"] == "0.00"  # nothing in the pipeline
    assert {i["user_id"] for i in targets["items"]} >= {team.supervisor.id, team.peer.id}
    assert team.director.id not in {i["user_id"] for i in targets["items"]}
    with pytest.raises(ValidationFailed):
        call(env, "targets", team.owner, scope="me", month="2026-13")


def test_bad_arguments_are_refused_not_crashed(env, team):
    for method, kwargs in [
        ("get", {"opportunity_id": "abc"}),
        ("get", {}),
        ("advance", {"opportunity_id": 1, "surprise": True}),
        ("list", {"status": "zombie"}),
        ("forecast", {"months": 99}),
        ("funnel", {"scope": "universe"}),
    ]:
        with pytest.raises((ValidationFailed, RemoteError)) as refused:
            call(env, method, team.owner, **kwargs)
        assert isinstance(refused.value, ValidationFailed), (method, refused.value)


def _history_items(team: Team, rng: random.Random, now: datetime) -> tuple[list[dict], dict]:
    """400 closed opportunities over the last eight months, built so that few reach a win:
    a share of those reaching the last open stage ``c`` is won (far below its configured 80%)."""
    reps = [new_id() for _ in range(3)]
    items, reached_won = [], []
    for n in range(400):
        rep = reps[n % 3]
        created = now - timedelta(days=rng.uniform(20, 240))
        reached = rng.choices([0, 1, 2], weights=[3, 3, 4])[0]
        won = reached == 2 and rng.random() < 0.25
        advances = [
            {"stage": key, "at": (created + timedelta(days=3 * (i + 1))).isoformat()}
            for i, key in enumerate(["b", "c"][:reached])
        ]
        closed = created + timedelta(days=3 * reached + rng.uniform(1, 6))
        item = {
            "customer_id": new_id(),
            "title": f"历史商机 {n}",
            "amount": str(rng.randrange(1000, 90000)),
            "owner_id": rep,
            "owner_path": [*team.manager.path, rep],
            "created_at": created.isoformat(),
            "advances": advances,
            "status": "won" if won else "lost",
            "closed_at": closed.isoformat(),
        }
        if not won:
            item |= {"loss_reason": "price", "loss_analysis": "价格没谈拢"}
        items.append(item)
        reached_won.append((reached if not won else 3, won))
    return items, {"reps": reps, "closed": reached_won}


def test_forecast_learns_stage_probabilities_from_history_and_backtests(env, team):
    pipeline = call(
        env, "create_pipeline", team.manager,
        name="项目型销售 Projects",
        stages=[
            {"key": "a", "name": "接触", "time_limit": "P10D", "probability": 10},
            {"key": "b", "name": "方案", "time_limit": "P10D", "probability": 40},
            {"key": "c", "name": "谈判", "time_limit": "P10D", "probability": 80},
            {"key": "won", "name": "成交", "time_limit": None, "probability": 100},
        ],
        qualification=[], qualification_threshold=0,
    )["id"]  # fmt: skip
    now = datetime.now(UTC)
    items, truth = _history_items(team, random.Random(2026), now)
    for item in items:
        item["pipeline_id"] = pipeline
    for start in range(0, len(items), 150):
        answer = call(env, "import_opportunities", team.top, items=items[start : start + 150])
        assert answer["imported"] == len(items[start : start + 150])
    with pytest.raises(Forbidden):
        call(env, "import_opportunities", team.manager, items=items[:1])
    with pytest.raises(ValidationFailed):  # a stage skipped
        bad = {**items[0], "advances": [{"stage": "c", "at": now.isoformat()}]}
        call(env, "import_opportunities", team.top, items=[bad])

    # five open opportunities entered stage b a day ago: 10,000 yuan each
    open_items = [
        {
            "customer_id": new_id(),
            "title": "在谈",
            "amount": "10000",
            "pipeline_id": pipeline,
            "owner_id": truth["reps"][0],
            "owner_path": [*team.manager.path, truth["reps"][0]],
            "created_at": (now - timedelta(days=2)).isoformat(),
            "advances": [{"stage": "b", "at": (now - timedelta(days=1)).isoformat()}],
        }  # fmt: skip
        for _ in range(5)
    ]
    call(env, "import_opportunities", team.top, items=open_items)

    forecast = call(env, "forecast", team.manager, scope="subtree", months=3)
    assert forecast["pipeline_id"] == pipeline
    assert forecast["learned"] is True and forecast["samples"] == 400

    def laplace(stage_index):  # (won among those that reached it + 1) / (reached + 2)
        reached = [won for top, won in truth["closed"] if top >= stage_index]
        return round((sum(reached) + 1) / (len(reached) + 2), 4)

    expected = {"a": laplace(0), "b": laplace(1), "c": laplace(2), "won": 1.0}
    assert forecast["probabilities"] == expected
    assert forecast["configured"]["c"] == 0.8
    assert abs(forecast["probabilities"]["c"] - 0.8) > 0.3  # the data disagrees: it wins

    weighted = sum(float(m["weighted"]) for m in forecast["months"])
    assert weighted == pytest.approx(5 * 10000 * expected["b"], abs=0.02)
    assert sum(m["count"] for m in forecast["months"]) == 5

    backtest = forecast["backtest"]
    print(f"\nlearned {forecast['probabilities']} configured {forecast['configured']}")
    print(f"backtest MAPE {backtest['mape']}%: {backtest['points']}")
    assert len(backtest["points"]) == 6
    assert any(float(p["actual"]) > 0 for p in backtest["points"])
    assert backtest["mape"] is not None and backtest["mape"] >= 0

    funnel = call(env, "funnel", team.manager, scope="subtree")
    by_key = {s["key"]: s for s in funnel["stages"]}
    assert by_key["a"]["reached"] == 405
    assert by_key["won"]["reached"] == sum(won for _, won in truth["closed"])
    assert by_key["b"]["count"] == 5  # the open ones now in b
    assert by_key["a"]["median_time_in_stage"] == "P3D"


def test_the_workbench_part_near_deadlines_work_list_forecast_and_pending_decisions(env, team):
    """docs/DOMAIN.md §8: what is near its deadline (nearest first), the 100%→0% list and the own
    forecast for anyone; a supervisor also sees what awaits their decision."""
    default_soon = register(env, team.owner, customer_of(env, team.owner))["id"]  # 7 days left
    fast = fast_pipeline(env, team)
    taken = register(env, team.owner, customer_of(env, team.owner), pipeline_id=fast)["id"]
    eventually(
        lambda: call(env, "get", team.supervisor, opportunity_id=taken)["status"] == "confiscated",
        timeout=15,
    )
    mine = call(env, "workbench", team.owner, days=8)
    assert default_soon in [o["id"] for o in mine["near_deadline"]]
    assert taken not in [o["id"] for o in mine["worklist"]]  # the supervisor holds it now
    assert [o["id"] for o in mine["near_deadline"]] == [
        o["id"] for o in sorted(mine["near_deadline"], key=lambda o: o["deadline"])
    ]
    assert mine["decisions_pending"] is None  # a salesperson decides nothing
    assert {"months", "probabilities"} <= set(mine["forecast"])
    soon = call(env, "workbench", team.owner, days=1)["near_deadline"]
    assert default_soon not in [o["id"] for o in soon]  # seven days left is not near
    lead = call(env, "workbench", team.supervisor)
    pending = [o["id"] for o in lead["decisions_pending"]]
    assert taken in pending
    with pytest.raises(ValidationFailed):
        call(env, "workbench", team.owner, days=0)
