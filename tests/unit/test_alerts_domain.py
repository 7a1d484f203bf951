"""Difficulty-alarm rules (services/alerts/domain.py): fast, no broker, no database."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.alerts import domain
from services.alerts.domain import Alarm, EscalationLimits, Response
from services.opportunity.domain import ALARM_CATEGORIES

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
S = timedelta(seconds=1)

# top → requester, as author_path carries it, with levels
CHAIN = [
    ("board", 9),
    ("exec", 8),
    ("director", 7),
    ("branch", 6),
    ("dept", 5),
    ("sup", 4),
    ("rep", 1),
]
FAST = EscalationLimits(no_response=2 * S, unresolved=10 * S)


def alarm(**changes) -> Alarm:
    data = {
        "id": "a1",
        "requester_id": "rep",
        "raised_at": T0,
        "category": "price",
        "stage": "quote",
        "requester_path": tuple(uid for uid, _ in CHAIN),
    }
    data.update(changes)
    return Alarm(**data)


def answer(rid: str, author: str, seconds: float, effective: bool = False) -> Response:
    return Response(rid, author, T0 + seconds * S, effective)


def raise_errors(data, **kwargs) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        domain.validate_raise(data, **kwargs)
    assert caught.value.status == 422
    return caught.value.details


# --- categories and the raise request ------------------------------------------------------


def test_default_categories_are_those_of_the_domain_with_bilingual_names():
    keys = [c.key for c in domain.DEFAULT_CATEGORIES]
    assert keys == [
        "price",
        "competitor",
        "technical",
        "decision_chain",
        "payment",
        "relationship",
        "service",
        "other",
    ]
    names = {c.key: c.name for c in domain.DEFAULT_CATEGORIES}
    assert names["price"].startswith("价格 ") and names["decision_chain"].startswith("决策链 ")
    assert names["relationship"].startswith("客户关系 ")
    assert all(n.split(" ", 1)[1].isascii() for n in names.values())


def test_loss_reasons_of_opportunities_use_the_same_category_keys():
    assert tuple(c.key for c in domain.DEFAULT_CATEGORIES) == ALARM_CATEGORIES


def test_a_complete_raise_request_is_accepted_and_normalised():
    request = domain.validate_raise(
        {
            "category": "competitor",
            "description": "  对手报价低 20% / Competitor is 20% cheaper ",
            "analysis": "客户更看重服务",
            "opportunity_id": "op-7",
            "customer_id": 42,
            "amount": "120000.50",
            "kind": "service",
        }
    )
    assert request == domain.RaiseRequest(
        category="competitor",
        description="对手报价低 20% / Competitor is 20% cheaper",
        analysis="客户更看重服务",
        amount_fen=12_000_050,
        kind="service",
        opportunity_id="op-7",
        customer_id="42",
    )


def test_analysis_amount_kind_and_links_are_optional():
    request = domain.validate_raise({"category": "other", "description": "卡住了"})
    assert (request.analysis, request.amount_fen, request.kind) == ("", None, "sales")
    assert (request.opportunity_id, request.customer_id) == (None, None)
    free = domain.validate_raise({"category": "other", "description": "x", "amount": 0})
    assert free.amount_fen == 0


def test_every_problem_of_a_raise_request_is_listed_in_one_422():
    details = raise_errors(
        {
            "category": "weather",
            "description": "   ",
            "analysis": "x" * 5001,
            "amount": "-1",
            "kind": "marketing",
            "opportunity_id": "",
            "urgent": True,
        }
    )
    assert set(details) == {
        "category",
        "description",
        "analysis",
        "amount",
        "kind",
        "opportunity_id",
        "urgent",
    }
    assert details["category"] == [domain.UNKNOWN_CATEGORY]
    assert details["urgent"] == [domain.UNKNOWN_FIELD]


def test_missing_category_and_description_are_required():
    details = raise_errors({})
    assert details == {"category": [domain.REQUIRED], "description": [domain.REQUIRED]}


@pytest.mark.parametrize("amount", ["12.345", "abc", "NaN", True, [1]])
def test_amount_must_be_money(amount):
    details = raise_errors({"category": "price", "description": "d", "amount": amount})
    assert list(details) == ["amount"]


def test_description_is_limited_to_2000_characters():
    assert domain.validate_raise({"category": "price", "description": "字" * 2000}).description
    assert "description" in raise_errors({"category": "price", "description": "字" * 2001})


def test_a_request_from_a_work_log_entry_reports_under_its_prefix():
    details = raise_errors({"category": "nope", "description": ""}, field_prefix="difficulty.")
    assert set(details) == {"difficulty.category", "difficulty.description"}


def test_configured_categories_replace_the_default_list():
    custom = (domain.Category("tender", "招标 Tender"),)
    assert domain.validate_raise({"category": "tender", "description": "d"}, custom).category
    assert "category" in raise_errors({"category": "price", "description": "d"}, categories=custom)


def test_a_raise_request_must_be_an_object():
    assert raise_errors(["price"]) == {"_schema": [domain.NOT_OBJECT]}


def test_a_response_body_is_non_blank_text():
    assert domain.check_response_body("  先降价 5% ") == "先降价 5%"
    for bad in (None, "  ", 3, "x" * 5001):
        with pytest.raises(ValidationFailed):
            domain.check_response_body(bad)


# --- marking a method effective ------------------------------------------------------------


def test_only_requester_can_mark_method_effective():
    open_alarm = alarm(responses=(answer("r1", "peer", 60),))
    for someone in ("peer", "sup", "board"):
        with pytest.raises(Forbidden) as caught:
            domain.mark_response_effective(open_alarm, someone, "r1", T0 + 120 * S)
        assert caught.value.status == 403
    assert open_alarm.status == "open"


def test_marking_a_response_effective_resolves_the_alarm_and_stops_its_clock():
    now = T0 + 3600 * S
    resolved = domain.mark_response_effective(
        alarm(responses=(answer("r1", "peer", 60), answer("r2", "sup", 90))), "rep", "r2", now
    )
    assert resolved.status == "resolved"
    assert resolved.resolved_at == now
    assert resolved.effective_response_id == "r2"
    assert [r.effective for r in resolved.responses] == [False, True]
    assert domain.due_escalations(resolved, CHAIN, 0, T0 + 10**6 * S, FAST) == []


def test_a_second_marking_is_a_conflict_already_resolved():
    first = domain.mark_response_effective(
        alarm(responses=(answer("r1", "peer", 60), answer("r2", "sup", 90))), "rep", "r1", T0
    )
    with pytest.raises(Conflict) as caught:
        domain.mark_response_effective(first, "rep", "r2", T0 + S)
    assert (caught.value.status, caught.value.code) == (409, "already_resolved")
    offered = alarm(**_resolved_fields(first), suggestion_ids=("e1",))
    with pytest.raises(Conflict):
        domain.mark_suggestion_effective(offered, "rep", "e1", T0)
    with pytest.raises(Forbidden):  # others are refused whatever the state
        domain.mark_response_effective(first, "peer", "r2", T0 + S)


def _resolved_fields(resolved: Alarm) -> dict:
    return {
        "responses": resolved.responses,
        "resolved_at": resolved.resolved_at,
        "effective_response_id": resolved.effective_response_id,
    }


def test_marking_a_response_of_another_alarm_is_not_found():
    with pytest.raises(NotFound):
        domain.mark_response_effective(alarm(responses=(answer("r1", "peer", 1),)), "rep", "r9", T0)


def test_requester_may_mark_a_suggested_experience_effective():
    now = T0 + 30 * S
    resolved = domain.mark_suggestion_effective(
        alarm(suggestion_ids=("e1", "e2")), "rep", "e2", now
    )
    assert (resolved.status, resolved.resolved_at) == ("resolved", now)
    assert (resolved.effective_experience_id, resolved.effective_response_id) == ("e2", None)
    with pytest.raises(NotFound):
        domain.mark_suggestion_effective(alarm(suggestion_ids=("e1",)), "rep", "e3", now)
    with pytest.raises(Forbidden):
        domain.mark_suggestion_effective(alarm(suggestion_ids=("e1",)), "sup", "e1", now)


def test_responses_are_taken_while_open_and_refused_once_resolved():
    domain.check_may_respond(alarm())
    resolved = domain.mark_suggestion_effective(alarm(suggestion_ids=("e1",)), "rep", "e1", T0)
    with pytest.raises(Conflict) as caught:
        domain.check_may_respond(resolved)
    assert caught.value.code == "already_resolved"


def test_requesters_own_response_is_not_support_but_may_be_marked_effective():
    own = alarm(responses=(answer("r1", "rep", 10),))
    assert domain.supports(own) == []
    assert domain.first_support_at(own) is None
    resolved = domain.mark_response_effective(own, "rep", "r1", T0 + 20 * S)
    assert resolved.status == "resolved"
    stats = domain.alarm_stats([resolved], T0, T0 + S)
    assert (stats["support_rate"], stats["resolution_rate"], stats["supporters"]) == (0.0, 1.0, [])


# --- escalation ----------------------------------------------------------------------------


def steps(a: Alarm, now_seconds: float, done: int = 0, chain=CHAIN):
    found = domain.due_escalations(a, chain, done, T0 + now_seconds * S, FAST)
    return [(s.number, s.user_id, s.level, (s.due_at - T0) / S, s.reason) for s in found]


def test_unanswered_alarm_goes_to_the_supervisor_then_the_next_level():
    a = alarm()
    assert steps(a, 1.9) == []
    assert steps(a, 2) == []  # due once the limit has passed, as a stage deadline
    assert steps(a, 2.1) == [(1, "sup", 4, 2, "no_response")]
    assert steps(a, 4.1, done=1) == [(2, "dept", 5, 4, "no_response")]
    assert steps(a, 4.1, done=2) == []


def test_a_late_sweep_gets_every_missed_step_in_order():
    assert [s[1] for s in steps(alarm(), 6.5)] == ["sup", "dept", "branch"]


def test_escalation_stops_at_level_8():
    found = steps(alarm(), 10_000)
    assert [(s[1], s[2]) for s in found] == [
        ("sup", 4),
        ("dept", 5),
        ("branch", 6),
        ("director", 7),
        ("exec", 8),
    ]
    assert steps(alarm(), 10_000, done=5) == []
    assert domain.next_escalation_at(alarm(), CHAIN, 5, FAST) is None


def test_escalation_stops_at_the_top_of_a_short_chain():
    chain = [("sup", 4), ("rep", 1)]
    assert [s[1] for s in steps(alarm(), 10_000, chain=chain)] == ["sup"]
    assert steps(alarm(requester_id="exec"), 10_000, chain=[("board", 9), ("exec", 8)]) == []


def test_answered_alarm_escalates_only_when_unresolved_after_the_longer_limit():
    a = alarm(responses=(answer("r1", "peer", 1.5),))
    assert steps(a, 9.9) == []
    assert steps(a, 10.1) == [(1, "sup", 4, 10, "unresolved")]
    assert steps(a, 20.1, done=1) == [(2, "dept", 5, 20, "unresolved")]


def test_a_response_exactly_at_the_limit_is_within_it():
    assert steps(alarm(responses=(answer("r1", "peer", 2),)), 9) == []


def test_an_answer_after_a_step_switches_to_the_unresolved_clock():
    a = alarm(responses=(answer("r1", "peer", 3),))
    assert steps(a, 11.9) == [(1, "sup", 4, 2, "no_response")]
    assert steps(a, 12.5, done=1) == [(2, "dept", 5, 12, "unresolved")]


def test_the_requesters_own_response_does_not_stop_the_no_response_clock():
    assert [s[1] for s in steps(alarm(responses=(answer("r1", "rep", 1),)), 4.5)] == [
        "sup",
        "dept",
    ]


def test_a_resolved_alarm_is_never_escalated():
    resolved = domain.mark_suggestion_effective(
        alarm(suggestion_ids=("e1",)), "rep", "e1", T0 + 5 * S
    )
    assert steps(resolved, 10_000) == []
    assert domain.next_escalation_at(resolved, CHAIN, 0, FAST) is None


def test_next_escalation_at_tells_the_sweep_when_to_look_again():
    assert domain.next_escalation_at(alarm(), CHAIN, 0, FAST) == T0 + 2 * S
    assert domain.next_escalation_at(alarm(), CHAIN, 2, FAST) == T0 + 6 * S
    answered = alarm(responses=(answer("r1", "peer", 1),))
    assert domain.next_escalation_at(answered, CHAIN, 0, FAST) == T0 + 10 * S


def test_default_limits_are_a_day_and_a_week():
    limits = domain.EscalationLimits()
    assert (limits.no_response, limits.unresolved) == (timedelta(days=1), timedelta(days=7))
    found = domain.due_escalations(alarm(), CHAIN, 0, T0 + timedelta(days=1, seconds=1))
    assert [s.user_id for s in found] == ["sup"]


# --- statistics ----------------------------------------------------------------------------

NAMES = {"rep": "张三", "peer": "李四", "sup": "王五", "dept": "赵六", "rep2": "钱七"}
STAT_KEYS = {
    "raised",
    "support_rate",
    "mean_hours_to_first_support",
    "resolution_rate",
    "mean_hours_to_resolution",
    "by_stage",
    "by_category",
    "by_person",
    "by_team",
    "supporters",
}
H = 3600


def test_statistics_of_a_small_board_by_hand():
    path2 = ("exec", "dept", "rep2")
    alarms = [
        # supported after 1 h by peer, resolved after 3 h with peer's method
        alarm(
            id="a",
            responses=(answer("x1", "peer", H, True), answer("x2", "peer", 2 * H)),
            resolved_at=T0 + 3 * H * S,
            effective_response_id="x1",
        ),
        # supported only after 30 h (outside the day), by sup; open
        alarm(id="b", category="payment", responses=(answer("y1", "sup", 30 * H),)),
        # raised 2 h later by rep2 without opportunity; peer answers after 2 h; open
        alarm(
            id="c",
            requester_id="rep2",
            requester_path=path2,
            raised_at=T0 + 2 * H * S,
            stage=None,
            responses=(Response("z1", "peer", T0 + 4 * H * S), Response("z2", "rep2", T0)),
        ),
        # outside the period
        alarm(id="d", raised_at=T0 + 48 * H * S),
    ]
    stats = domain.alarm_stats(alarms, T0, T0 + 24 * H * S, NAMES)
    assert set(stats) == STAT_KEYS
    assert stats["raised"] == 3
    assert stats["support_rate"] == round(2 / 3, 4) == 0.6667
    assert stats["mean_hours_to_first_support"] == 11.0  # (1 + 30 + 2) / 3
    assert stats["resolution_rate"] == 0.3333
    assert stats["mean_hours_to_resolution"] == 3.0
    assert stats["by_stage"] == [
        {"stage": "quote", "raised": 2, "supported": 1, "resolved": 1},
        {"stage": None, "raised": 1, "supported": 1, "resolved": 0},
    ]
    assert stats["by_category"] == [
        {"category": "price", "raised": 2, "supported": 2, "resolved": 1},
        {"category": "payment", "raised": 1, "supported": 0, "resolved": 0},
    ]
    assert stats["by_person"] == [
        {"user_id": "rep", "name": "张三", "raised": 2, "supported": 1, "resolved": 1},
        {"user_id": "rep2", "name": "钱七", "raised": 1, "supported": 1, "resolved": 0},
    ]
    assert stats["by_team"] == [
        {"leader_id": "sup", "name": "王五", "raised": 2, "supported": 1, "resolved": 1},
        {"leader_id": "dept", "name": "赵六", "raised": 1, "supported": 1, "resolved": 0},
    ]
    assert stats["supporters"] == [
        {
            "user_id": "peer",
            "name": "李四",
            "responses": 2,
            "effective": 1,
            "median_hours_to_respond": 1.5,
        },
        {
            "user_id": "sup",
            "name": "王五",
            "responses": 1,
            "effective": 0,
            "median_hours_to_respond": 30.0,
        },
    ]


def test_statistics_over_no_alarms_have_no_rates():
    stats = domain.alarm_stats([alarm()], T0 + S, T0 + 2 * S)
    assert stats["raised"] == 0
    assert stats["support_rate"] is None and stats["mean_hours_to_resolution"] is None
    assert stats["by_stage"] == [] and stats["supporters"] == []


def test_supporters_with_equal_figures_are_ordered_by_pinyin():
    # 张三 (zhang) after 王五 (wang) after 李四 (li), whatever the ids
    alarms = [
        alarm(id=f"a{i}", requester_id="rep9", responses=(answer(f"r{i}", uid, 60),))
        for i, uid in enumerate(["u1", "u2", "u3"])
    ]
    names = {"u1": "张三", "u2": "王五", "u3": "李四"}
    ranking = domain.supporter_ranking(alarms, names)
    assert [s["name"] for s in ranking] == ["李四", "王五", "张三"]


def test_supporters_rank_by_alarms_helped_then_effective_then_speed():
    alarms = [
        alarm(id="a", responses=(answer("1", "slow", 50), answer("2", "fast", 5))),
        alarm(id="b", responses=(answer("3", "slow", 50), answer("4", "fast", 5))),
        alarm(id="c", responses=(answer("5", "slow", 50, True),)),
        alarm(id="d", responses=(answer("6", "fast", 5, True),)),
        alarm(id="e", responses=tuple(answer(f"s{i}", "spammer", i) for i in range(1, 9))),
    ]
    ranking = domain.supporter_ranking(alarms, {})
    assert [(s["user_id"], s["responses"]) for s in ranking] == [
        ("fast", 3),
        ("slow", 3),
        ("spammer", 1),  # eight responses on one alarm count once
    ]
    assert ranking[0]["median_hours_to_respond"] == round(5 / 3600, 2)


def test_period_bounds_are_whole_days_in_the_organisations_zone():
    start, end = domain.period_bounds(date(2026, 3, 1), date(2026, 3, 31), SHANGHAI)
    assert start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as caught:
        domain.period_bounds(date(2026, 3, 2), date(2026, 3, 1), SHANGHAI)
    assert list(caught.value.details) == ["to"]


# --- acceptance: a generated month ---------------------------------------------------------

# names listed in pinyin order (an, bai, chen, deng, ...), so a name's index is its rank
PEOPLE = (
    "安然 白雪 陈晨 邓丽 范冰 高峰 韩梅 黄河 金鑫 孔明 "
    "林海 马骏 倪红 欧阳 潘婷 秦岚 任静 宋佳 唐宁 吴迪"
).split()
USERS = [f"u{i:02d}" for i in range(len(PEOPLE))]
PINYIN_ORDER = {uid: i for i, uid in enumerate(USERS)}
# four teams: u00..u03 lead the rest; u00..u03 report to "top"
LEADER = {uid: USERS[i % 4] for i, uid in enumerate(USERS) if i >= 4}
MONTH_START = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # 2026-03-01 00:00 in Shanghai
MONTH_END = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
STAGES = ["contact", "needs", "demo", "quote", "negotiate", "payment", None]


def path_of(uid: str) -> tuple[str, ...]:
    return ("top", LEADER[uid], uid) if uid in LEADER else ("top", uid)


def generated_month(seed: int = 20260301) -> list[Alarm]:
    rng = random.Random(seed)
    alarms = []
    for n in range(420):
        requester = rng.choice(USERS)
        raised = MONTH_START + rng.randrange(-3 * 86400, 34 * 86400) * S
        responses = []
        for k in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
            offset = rng.choice([rng.randrange(60, 3 * 86400), 86400, 86401, 86399])
            responses.append(Response(f"{n}-{k}", rng.choice(USERS), raised + offset * S))
        fields = {}
        roll = rng.random()
        if responses and roll < 0.6:
            chosen = rng.randrange(len(responses))
            responses[chosen] = Response(
                responses[chosen].id, responses[chosen].author_id, responses[chosen].posted_at, True
            )
            fields = {
                "resolved_at": responses[chosen].posted_at + rng.randrange(0, 86400) * S,
                "effective_response_id": responses[chosen].id,
            }
        elif roll > 0.85:
            fields = {
                "resolved_at": raised + rng.randrange(60, 9 * 86400) * S,
                "effective_experience_id": f"e{n}",
                "suggestion_ids": (f"e{n}",),
            }
        alarms.append(
            Alarm(
                id=f"al{n}",
                requester_id=requester,
                raised_at=raised,
                category=rng.choice(ALARM_CATEGORIES),
                stage=rng.choice(STAGES),
                requester_path=path_of(requester),
                responses=tuple(responses),
                **fields,
            )
        )
    return alarms


def hours(seconds: Fraction | int, count: int = 1) -> float:
    return round(float(Fraction(seconds) / (count * 3600)), 2)


def test_statistics_of_a_generated_month_equal_the_hand_computed_figures():
    alarms = generated_month()
    month = [a for a in alarms if MONTH_START <= a.raised_at < MONTH_END]
    # the data exercise every case: alarms outside the month, self-answers, the 1-day edge
    assert 300 <= len(month) < len(alarms)
    assert any(r.author_id == a.requester_id for a in month for r in a.responses)
    assert any(r.posted_at - a.raised_at == timedelta(days=1) for a in month for r in a.responses)

    supported_in_day = 0
    first_support_seconds = []
    resolution_seconds = []
    groups = {"stage": {}, "category": {}, "person": {}, "team": {}}
    helped: dict[str, dict[str, int]] = {}  # supporter → alarm → seconds to first response
    effective: dict[str, int] = {}
    for a in month:
        first = None
        for r in a.responses:
            if r.author_id == a.requester_id:
                continue
            seconds = int((r.posted_at - a.raised_at).total_seconds())
            if first is None or seconds < first:
                first = seconds
            mine = helped.setdefault(r.author_id, {})
            if a.id not in mine or seconds < mine[a.id]:
                mine[a.id] = seconds
            if r.effective:
                effective[r.author_id] = effective.get(r.author_id, 0) + 1
        in_day = first is not None and first <= 86400
        supported_in_day += in_day
        if first is not None:
            first_support_seconds.append(first)
        if a.resolved_at is not None:
            resolution_seconds.append(int((a.resolved_at - a.raised_at).total_seconds()))
        team = LEADER.get(a.requester_id, "top")
        keys = {"stage": a.stage, "category": a.category, "person": a.requester_id, "team": team}
        for group, key in keys.items():
            counts = groups[group].setdefault(key, [0, 0, 0])
            counts[0] += 1
            counts[1] += in_day
            counts[2] += a.resolved_at is not None

    names = dict(zip(USERS, PEOPLE, strict=True))
    stats = domain.alarm_stats(alarms, MONTH_START, MONTH_END, names)

    raised = len(month)
    assert stats["raised"] == raised
    assert stats["support_rate"] == round(supported_in_day / raised, 4)
    assert stats["mean_hours_to_first_support"] == hours(
        sum(first_support_seconds), len(first_support_seconds)
    )
    assert stats["resolution_rate"] == round(len(resolution_seconds) / raised, 4)
    assert stats["mean_hours_to_resolution"] == hours(
        sum(resolution_seconds), len(resolution_seconds)
    )
    fields = {"stage": "stage", "category": "category", "person": "user_id", "team": "leader_id"}
    for group, field in fields.items():
        got = {
            row[field]: [row["raised"], row["supported"], row["resolved"]]
            for row in stats[f"by_{group}"]
        }
        assert got == groups[group], group
        assert [row["raised"] for row in stats[f"by_{group}"]] == sorted(
            (c[0] for c in groups[group].values()), reverse=True
        )

    expected = []
    for uid, answered in helped.items():
        times = sorted(answered.values())
        middle = len(times) // 2
        median = (
            Fraction(times[middle])
            if len(times) % 2
            else Fraction(times[middle - 1] + times[middle], 2)
        )
        expected.append(
            {
                "user_id": uid,
                "name": PEOPLE[PINYIN_ORDER[uid]],
                "responses": len(answered),
                "effective": effective.get(uid, 0),
                "median_hours_to_respond": hours(median),
            }
        )
    expected.sort(
        key=lambda s: (
            -s["responses"],
            -s["effective"],
            s["median_hours_to_respond"],
            PINYIN_ORDER[s["user_id"]],
        )
    )
    assert len(expected) == len(USERS)
    assert stats["supporters"] == expected
