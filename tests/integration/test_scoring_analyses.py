"""The scoring analyses, in this process on SQLite beside the worklog, opportunity and customer
services (tests/inprocess.py), fed only by events: work-log entries recorded through the
worklog, opportunities driven through the opportunity service, and — for history the worklog
would refuse (entries of past months) — events published as their producers publish them.

Specifications (docs/DOMAIN.md §5): each fake-report indicator flags the entries built to trip it
and no other; the by-stage and by-user counts and shares are the hand-computed ones; a person
whose daily minutes drop, whose new opportunities dry up and who unmasks many contacts is at
the top of the early warnings; a small trainee cohort gets keep / watch / let-go by the
thresholds; a supervisor's mean time to decide is the hours from confiscation to decision;
every analysis refuses callers below its level (403).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.actor import Actor
from common.errors import Forbidden, ValidationFailed
from common.events import validate_payload
from tests.inprocess import Services
from tests.support import customer_for, eventually, publish_event, rpc

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOP = Actor(id="1", level=9, path=["1"], name="董事长")
_ids = itertools.count(1000)
_published_ids = itertools.count(10**8)  # far above the worklog's and opportunity's own ids


def person(level: int, name: str, *above: Actor) -> Actor:
    user_id = str(next(_ids))
    chain = above[-1].path if above else TOP.path
    return Actor(id=user_id, level=level, path=[*chain, user_id], name=name)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The four services in this process (tests/inprocess.py) on SQLite — the customer service
    too: an entry's customer must be one its author may work on."""
    services = Services.create(
        tmp_path_factory.mktemp("analyses"), "sqlite",
        "worklog", "opportunity", "scoring", "customer",
        BPC_GRACE_HOUR="24",  # the worklog's: yesterday is always late
        BPC_SWEEP_INTERVAL="0.3",  # the opportunity sweep's timer
    )  # fmt: skip
    yield services
    services.close()


# --- helpers -----------------------------------------------------------------------------------


def publish_all(env, events) -> None:
    """Publish ``(producer, type, data)`` events in order, as the producers' relays would
    (each payload checked against its contract first)."""
    for source, event_type, data in events:
        validate_payload(source, event_type, data)
        publish_event(env, source, event_type, data)


def joined(*people: Actor):
    return [
        ("org", "user_created",
         {"user_id": p.id, "login": f"u{p.id}", "name": p.name, "level": p.level,
          "org_unit_id": None, "supervisor_id": p.path[-2], "path": p.path})
        for p in people
    ]  # fmt: skip


def noon(day: date, hours: float = 0) -> str:
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI) + timedelta(hours=hours)
    return moment.isoformat()


def logged(author: Actor, day: date, minutes: int, points: float):
    """An ``entry_recorded`` of a past day (the worklog only takes today and yesterday)."""
    return (
        "worklog", "entry_recorded",
        {"entry_id": str(next(_published_ids)), "author_id": author.id,
         "author_path": author.path, "work_date": day.isoformat(), "recorded_at": noon(day),
         "late": False, "customer_id": None, "opportunity_id": None, "stage": None,
         "activities": ["call"], "points": points, "minutes": minutes, "expense": "0.00",
         "next_appointment_at": None, "difficulty": None},
    )  # fmt: skip


def opportunity_fact(opportunity_id: str, holder: Actor, at: str, by: str) -> dict:
    return {
        "opportunity_id": opportunity_id, "customer_id": str(next(_published_ids)),
        "pipeline_id": "1", "title": "项目", "amount": "1000.00", "owner_id": holder.id,
        "holder_id": holder.id, "holder_path": holder.path, "status": "open",
        "stage": "contact", "stage_index": 0, "probability": 10, "stage_deadline": None,
        "at": at, "by": by,
    }  # fmt: skip


def today() -> date:
    return datetime.now(SHANGHAI).date()


def working_days(first: date, last: date):
    day = first
    while day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def record(env, actor, **kwargs):
    return rpc(env, "worklog", "record", actor=actor, **kwargs)


def scoring(env, method, actor, **kwargs):
    return rpc(env, "scoring", method, actor=actor, timeout=30, **kwargs)


def settled(check, timeout: float = 30):
    """Poll ``check`` (which asserts) until it passes; its value, or its last AssertionError."""

    def attempt():
        return check() or True

    return eventually(attempt, timeout=timeout, interval=0.3)


# --- fake reports ------------------------------------------------------------------------------

QUICK = {
    "name": "快速流程",
    "stages": [
        {"key": "contact", "name": "接触", "time_limit": "PT6S", "probability": 10},
        {"key": "needs", "name": "需求", "time_limit": "PT60S", "probability": 30},
        {"key": "won", "name": "成交", "time_limit": None, "probability": 100},
    ],
    "remind_before": "PT1S",
    "qualification": [],
    "qualification_threshold": 0,
}


def _opportunity_on_customer(env, holder: Actor, pipeline: str) -> tuple[str, str]:
    customer = str(next(_published_ids))
    publish_all(
        env,
        [("customer", "customer_registered",
          {"customer_id": customer, "name": f"客户{customer}", "owner_id": holder.id,
           "referred_by": None})],
    )  # fmt: skip

    def register():
        from common.errors import NotFound

        try:
            return rpc(
                env, "opportunity", "register", actor=holder, customer_id=customer,
                title="项目", amount="1000", pipeline_id=pipeline,
            )  # fmt: skip
        except NotFound:
            return None

    return eventually(register, message="customer never known")["id"], customer


def _record_on(env, holder: Actor, opportunity: str, customer: str):
    from common.errors import ValidationFailed as Unknown

    def attempt():
        try:
            return record(
                env, holder, customer_id=customer, opportunity_id=opportunity,
                activities=["call"], minutes=30,
            )  # fmt: skip
        except Unknown:  # the worklog has not heard of the opportunity yet
            return None

    return eventually(attempt, message="the worklog never learned of the opportunity")


def test_each_fake_report_indicator_flags_the_entries_built_to_trip_it(env):
    manager = person(5, "马经理")
    lead = person(4, "孙主管", manager)
    a, b, c, d, e, h, p = (
        person(2, name, manager, lead)
        for name in ("安然", "白雪", "陈晨", "丁一", "鄂尔", "韩梅", "潘多")
    )
    publish_all(env, joined(manager, lead, a, b, c, d, e, h, p))

    # confiscated without progress: h logs 3 entries on X at "contact", p one on each of four
    # others; the sweep takes all five at the stage deadline. Per (opportunity, contact) the
    # group has [3, 1, 1, 1, 1] entries: 90th percentile 1 + (3 − 1) × 0.6 = 2.2 < 3.
    pipeline = rpc(env, "opportunity", "create_pipeline", actor=TOP, **QUICK)["id"]
    x, x_customer = _opportunity_on_customer(env, h, pipeline)
    others = [_opportunity_on_customer(env, p, pipeline) for _ in range(4)]
    for _ in range(3):
        _record_on(env, h, x, x_customer)
    for opportunity, customer in others:
        _record_on(env, p, opportunity, customer)

    # over 16 h: three entries of one day, 1,000 minutes
    for minutes in (400, 400, 200):
        record(env, a, customer_id=customer_for(env, a), activities=["call"], minutes=minutes)
    # late: yesterday's work, logged today (the grace hour is 24 on this worklog)
    yesterday = (today() - timedelta(days=1)).isoformat()
    late = record(
        env,
        b,
        customer_id=customer_for(env, b),
        activities=["call"],
        minutes=60,
        work_date=yesterday,
    )
    assert late["late"]
    record(env, b, customer_id=customer_for(env, b), activities=["call"], minutes=60)
    # implausible: a contract signed with a customer but on no opportunity
    record(env, c, customer_id=customer_for(env, c), activities=["contract"], minutes=60)
    record(env, c, customer_id=customer_for(env, c), activities=["call"], minutes=60)
    # expense outlier: ¥5,000 among expenses of ¥10–17 (robust z ≈ 0.6745 × 4,986 / 2)
    record(
        env, d, customer_id=customer_for(env, d), activities=["visit"], minutes=60, expense="5000"
    )
    for amount in range(10, 18):
        record(
            env,
            e,
            customer_id=customer_for(env, e),
            activities=["visit"],
            minutes=30,
            expense=str(amount),
        )

    def report_is_complete():
        report = scoring(env, "fake_reports", manager)
        assert report["indicators"] == {
            "over_16h": 3, "implausible_activity": 1, "late": 1,
            "confiscated_without_progress": 3, "expense_outlier": 1,
        }  # fmt: skip
        return report

    report = settled(report_is_complete)
    # 23 entries, 9 suspicious, and no entry flagged twice (the indicator counts sum to 9)
    assert report["by_stage"] == [
        {"stage": "contact", "entries": 7, "suspicious": 3, "proven_false": 0, "share": 0.4286},
        {"stage": None, "entries": 16, "suspicious": 6, "proven_false": 0, "share": 0.375},
    ]
    rows = [(r["user_id"], r["entries"], r["suspicious"], r["share"]) for r in report["by_user"]]
    assert rows == [
        *sorted([(a.id, 3, 3, 1.0), (h.id, 3, 3, 1.0)]),
        (d.id, 1, 1, 1.0),
        *sorted([(b.id, 2, 1, 0.5), (c.id, 2, 1, 0.5)]),
        (e.id, 8, 0, 0.0),
        (p.id, 4, 0, 0.0),
    ]
    assert {r["user_id"]: r["name"] for r in report["by_user"]}[a.id] == "安然"
    # a date range without those entries reports nothing; a reversed range is a 422
    empty = scoring(env, "fake_reports", manager, to_date=(today() - timedelta(days=2)).isoformat())
    assert empty["by_stage"] == [] and empty["by_user"] == []
    with pytest.raises(ValidationFailed):
        scoring(env, "fake_reports", manager, from_date=yesterday, to_date="2020-01-01")

    # the supervisor decides on X: the management figures count the decision
    rpc(env, "opportunity", "decide", actor=lead, opportunity_id=x, action="keep")

    def lead_decided():
        items = scoring(env, "managers", TOP, scope="group")["items"]
        figures = next(i for i in items if i["user_id"] == lead.id)
        assert figures["decisions"] == 1
        return figures

    figures = settled(lead_decided)
    assert 0 <= figures["mean_hours_to_decide"] < 0.05  # decided within seconds


# --- early warnings ----------------------------------------------------------------------------


def test_early_warnings_rank_the_person_whose_activity_drops_first(env):
    manager = person(5, "吴经理")
    leaving = person(2, "魏来", manager)
    steady = person(2, "石磊", manager)
    day = today()
    events = joined(manager, leaving, steady)
    for work_day in working_days(day - timedelta(days=74), day - timedelta(days=1)):
        recent = work_day >= day - timedelta(days=14)
        events.append(logged(leaving, work_day, 120 if recent else 480, 1))
        events.append(logged(steady, work_day, 480, 1))
    # two new opportunities a week in the 8 weeks before the last 4 completed ones, none since
    first_monday = day - timedelta(days=day.weekday()) - timedelta(weeks=12)
    for week in range(8):
        for n in range(2):
            wednesday = first_monday + timedelta(weeks=week, days=2)
            data = opportunity_fact(
                str(next(_published_ids)), leaving, noon(wednesday, n), leaving.id
            )
            events.append(("opportunity", "registered", {**data, "feasibility_score": 1.0}))
    # ten contact unmasks today, none before
    events += [
        ("customer", "contact_unmasked",
         {"actor_id": leaving.id, "action": "unmask", "target_type": "customer",
          "target_id": str(n), "details": {}, "at": datetime.now(SHANGHAI).isoformat()})
        for n in range(10)
    ]  # fmt: skip
    publish_all(env, events)

    def leaving_on_top():
        items = scoring(env, "early_warnings", manager)["items"]
        # minutes 75 % below the baseline (35) + opportunities all gone (15) + unmasks at
        # 10× the floor of one a week (30)
        assert [(i["user_id"], i["risk"]) for i in items][:1] == [(leaving.id, 80)]
        return items

    items = settled(leaving_on_top)
    top = items[0]
    assert top["name"] == "魏来" and len(top["reasons"]) == 3
    assert "75%" in top["reasons"][0] and "10 contact unmasks" in top["reasons"][2]
    assert {i["user_id"]: (i["risk"], i["reasons"]) for i in items[1:]} == {
        steady.id: (0, []),
        manager.id: (0, []),
    }


# --- trainees ----------------------------------------------------------------------------------


def test_trainee_screening_keeps_watches_and_lets_go_by_the_thresholds(env):
    lead = person(4, "郑主管")
    strong, weak, mixed, newcomer = (
        person(1, name, lead) for name in ("强一", "弱二", "混三", "新四")
    )
    day = today()
    events = joined(lead, strong, weak, mixed, newcomer)
    for offset in range(1, 31):  # 30 active days: enough to be judged
        work_day = day - timedelta(days=offset)
        events.append(logged(strong, work_day, 480, 10))
        events.append(logged(weak, work_day, 60, 1))
        events.append(logged(mixed, work_day, 400, 2))
    for offset in range(1, 6):
        events.append(logged(newcomer, day - timedelta(days=offset), 200, 8))
    publish_all(env, events)

    def screened():
        items = scoring(env, "trainees", lead)["items"]
        assert [(i["user_id"], i["days"]) for i in items] == [
            (weak.id, 30),
            *sorted([(mixed.id, 30), (newcomer.id, 5)]),
            (strong.id, 30),
        ]
        return items

    items = {i["user_id"]: i for i in settled(screened)}
    # diligence 60 < 200 < 400 < 480 and ability 1 < 2 < 8 < 10 rank 12.5, 37.5, 62.5, 87.5
    summary = {
        uid: (i["diligence_percentile"], i["ability_percentile"], i["recommendation"])
        for uid, i in items.items()
    }
    assert summary == {
        strong.id: (87.5, 87.5, "keep"),
        weak.id: (12.5, 12.5, "let_go"),
        mixed.id: (62.5, 37.5, "watch"),
        newcomer.id: (37.5, 62.5, "watch"),
    }
    assert items[newcomer.id]["reasons"][0].endswith("Only 5 days observed, fewer than 30: watch")
    assert items[strong.id]["name"] == "强一"
    # the lead's own team scope gives the same people
    assert {i["user_id"] for i in scoring(env, "trainees", lead, scope="team")["items"]} == set(
        items
    )


# --- managers ----------------------------------------------------------------------------------


def test_managers_mean_hours_to_decide_and_team_means(env):
    head = person(6, "何总")
    lead = person(4, "刘主管", head)
    first, second, holder = (person(2, n, head, lead) for n in ("罗一", "罗二", "罗三"))
    day = today()
    events = joined(head, lead, first, second, holder)
    # two confiscations 40 days ago (outside the 30-day team window), decided after 2 h and 4 h
    for offset, hours in ((40, 2), (39, 4)):
        opportunity, taken = str(next(_published_ids)), day - timedelta(days=offset)
        fact = opportunity_fact(opportunity, lead, noon(taken), "system")
        events.append(
            ("opportunity", "confiscated",
             {**fact, "status": "confiscated", "action": "confiscated", "reason": "stage_deadline",
              "from_holder_id": holder.id, "from_holder_path": holder.path,
              "original_owner_id": holder.id, "decision_deadline": None}),
        )  # fmt: skip
        decided = opportunity_fact(opportunity, lead, noon(taken, hours), lead.id)
        events.append(
            ("opportunity", "decided",
             {**decided, "action": "keep", "decided_by": lead.id, "original_owner_id": None}),
        )  # fmt: skip
    # the team's days of the last 30: 100 and 200 minutes (1 and 3 points), 300 minutes (2)
    events += [
        logged(first, day - timedelta(days=3), 100, 1),
        logged(first, day - timedelta(days=2), 200, 3),
        logged(second, day - timedelta(days=1), 300, 2),
    ]

    # the lead answers two alarms of their people (one of them twice), one of their own and
    # one of someone outside their team: 2 alarms supported
    def answered(alarm_id, author, requester):
        return ("alerts", "response_posted", {
            "alarm_id": alarm_id, "requester_id": requester.id, "requester_path": requester.path,
            "raised_at": noon(day), "category": "price", "kind": "sales", "stage": None,
            "opportunity_id": None, "customer_id": None, "status": "open",
            "response_id": str(next(_published_ids)), "author_id": author.id,
            "posted_at": noon(day, 1), "first_support": True,
        })  # fmt: skip

    alarms = [str(next(_published_ids)) for _ in range(4)]
    events += [
        answered(alarms[0], lead, first), answered(alarms[0], lead, first),
        answered(alarms[1], lead, second), answered(alarms[2], lead, lead),
        answered(alarms[3], lead, head), answered(alarms[1], first, second),
    ]  # fmt: skip
    publish_all(env, events)

    def figures():
        items = {i["user_id"]: i for i in scoring(env, "managers", head)["items"]}
        assert items[lead.id] == {
            "user_id": lead.id, "name": "刘主管", "decisions": 2, "mean_hours_to_decide": 3.0,
            "alarms_supported": 2, "team_mean_minutes": 200.0, "team_mean_score": 2.0,
        }  # fmt: skip
        return items

    items = settled(figures)
    assert set(items) == {head.id, lead.id}  # level 4 and up only
    assert items[head.id]["decisions"] == 0 and items[head.id]["mean_hours_to_decide"] is None


# --- levels ------------------------------------------------------------------------------------


def test_each_analysis_refuses_callers_below_its_level(env):
    level = {n: person(n, f"员工{n}") for n in range(3, 9)}
    for method, minimum in (
        ("fake_reports", 5), ("early_warnings", 5), ("trainees", 4), ("managers", 6),
    ):  # fmt: skip
        with pytest.raises(Forbidden):
            scoring(env, method, level[minimum - 1])
        assert scoring(env, method, level[minimum])["scope"] == "subtree"
    # the whole group is for level 8 and up; an unknown scope is a 422
    with pytest.raises(Forbidden):
        scoring(env, "early_warnings", level[7], scope="group")
    assert "items" in scoring(env, "early_warnings", level[8], scope="group")
    with pytest.raises(ValidationFailed):
        scoring(env, "trainees", level[4], scope="everyone")
    with pytest.raises(ValidationFailed):
        scoring(env, "fake_reports", level[5], unknown="x")
