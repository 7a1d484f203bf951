"""Scoring arithmetic (services/scoring/domain.py): fast, no broker, no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from common.errors import ValidationFailed
from services.scoring import domain
from services.scoring.domain import Day, Month

D = date.fromisoformat
TODAY = D("2026-03-16")  # a Monday


def entry(
    entry_id: str,
    *,
    author: str = "u1",
    work_date: str = "2026-03-09",
    minutes: int = 60,
    points: float = 1,
    stage: str | None = None,
    opportunity: str | None = None,
    activities: tuple[str, ...] = ("call",),
    expense: str = "0.00",
    late: bool = False,
    recorded_at: str = "2026-03-09T18:00:00+08:00",
) -> dict:
    """An entry shaped like the ``entry_recorded`` event data."""
    return {
        "entry_id": entry_id,
        "author_id": author,
        "author_path": [author],
        "work_date": work_date,
        "recorded_at": recorded_at,
        "late": late,
        "customer_id": "c1",
        "opportunity_id": opportunity,
        "stage": stage,
        "activities": list(activities),
        "points": points,
        "minutes": minutes,
        "expense": expense,
        "next_appointment_at": None,
        "difficulty": None,
    }


# --- points --------------------------------------------------------------------------------


def test_entry_points_sum_the_activity_points():
    assert domain.entry_points([1, 3, 0.5]) == 4.5
    assert domain.entry_points([0.1, 0.2]) == 0.3
    assert domain.entry_points([]) == 0


def test_progress_points_reward_advances_and_wins_and_punish_confiscation():
    assert domain.progress_points("stage_advanced") == 5
    assert domain.progress_points("won") == 20
    assert domain.progress_points("confiscated") == -10
    assert domain.progress_points("registered") == 0


# --- days, months, curves ------------------------------------------------------------------


def test_day_totals_leave_proven_false_entries_out_of_minutes_and_score():
    entries = [
        entry("e1", minutes=60, points=1),
        entry("e2", minutes=30, points=3),  # disproved by a revisit
        entry("e3", author="u2", minutes=45, points=5),
    ]
    days = domain.day_totals(
        entries,
        progress={("u1", D("2026-03-09")): 5, ("u1", "2026-03-10"): 20},
        suspicious={"e1"},
        proven_false={"e2"},
    )
    assert days == [
        Day("u1", D("2026-03-09"), minutes=60, score=6, entries=2, suspicious=1, proven_false=1),
        Day("u1", D("2026-03-10"), minutes=0, score=20, entries=0),  # a win without a log
        Day("u2", D("2026-03-09"), minutes=45, score=5, entries=1),
    ]


def test_confiscation_can_make_a_day_score_negative():
    days = domain.day_totals(
        [entry("e1", points=3)], progress={("u1", D("2026-03-09")): domain.CONFISCATION_PENALTY}
    )
    assert days[0].score == -7


def test_month_of_sums_days_per_user_and_month():
    days = [
        Day("u1", D("2026-01-31"), 60, 1.5, 1, 0, 0),
        Day("u1", D("2026-02-01"), 30, 2, 2, 1, 0),
        Day("u1", D("2026-02-28"), 10, 0.5, 1, 0, 1),
        Day("u2", D("2026-02-01"), 100, 4, 1, 0, 0),
    ]
    assert domain.month_of(days) == [
        Month("u1", "2026-01", 60, 1.5, 1, 0, 0),
        Month("u1", "2026-02", 40, 2.5, 3, 1, 1),
        Month("u2", "2026-02", 100, 4, 1, 0, 0),
    ]


def test_day_curve_zero_fills_the_range_and_ignores_days_outside():
    days = [
        Day("u1", D("2026-02-28"), 999, 99, 9),  # before the range
        Day("u1", D("2026-03-02"), 60, 1.5, 1, 1, 0),
        Day("u1", D("2026-03-04"), 30, 3, 2, 0, 1),
    ]
    zero = {"minutes": 0, "score": 0, "entries": 0, "suspicious": 0, "proven_false": 0}
    assert domain.curve(days, "day", D("2026-03-01"), D("2026-03-04")) == [
        {"date": "2026-03-01", **zero},
        {
            "date": "2026-03-02",
            "minutes": 60,
            "score": 1.5,
            "entries": 1,
            "suspicious": 1,
            "proven_false": 0,
        },
        {"date": "2026-03-03", **zero},
        {
            "date": "2026-03-04",
            "minutes": 30,
            "score": 3,
            "entries": 2,
            "suspicious": 0,
            "proven_false": 1,
        },
    ]


def test_month_curve_rolls_up_the_range_and_zero_fills_empty_months():
    days = [
        Day("u1", D("2026-01-10"), 500, 50, 5),  # before the range: left out of January
        Day("u1", D("2026-01-20"), 60, 1.5, 1),
        Day("u1", D("2026-01-21"), 40, 0.5, 1, 1),
        Day("u1", D("2026-03-05"), 30, 3, 1),
        Day("u1", D("2026-03-20"), 700, 70, 7),  # after the range
    ]
    points = domain.curve(days, "month", D("2026-01-15"), D("2026-03-10"))
    assert [
        (p["date"], p["minutes"], p["score"], p["entries"], p["suspicious"]) for p in points
    ] == [
        ("2026-01", 100, 2, 2, 1),
        ("2026-02", 0, 0, 0, 0),
        ("2026-03", 30, 3, 1, 0),
    ]


def test_curve_sums_several_users_into_a_team_curve():
    days = [Day("u1", D("2026-03-02"), 60, 1), Day("u2", D("2026-03-02"), 30, 2)]
    [point] = domain.curve(days, "day", D("2026-03-02"), D("2026-03-02"))
    assert (point["minutes"], point["score"]) == (90, 3)


def test_curve_crosses_the_year_by_month():
    points = domain.curve([], "month", D("2025-11-30"), D("2026-02-01"))
    assert [p["date"] for p in points] == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize(
    ("granularity", "start", "end", "field"),
    [
        ("week", "2026-03-01", "2026-03-02", "granularity"),
        ("day", "2026-03-02", "2026-03-01", "from"),
        ("day", "2020-01-01", "2026-01-01", "from"),
        ("month", "2000-01-01", "2026-01-01", "from"),
    ],
)
def test_bad_curve_requests_are_422(granularity, start, end, field):
    with pytest.raises(ValidationFailed) as caught:
        domain.curve([], granularity, D(start), D(end))
    assert caught.value.status == 422
    assert field in caught.value.details


# --- leaderboards --------------------------------------------------------------------------


def test_leaderboard_ties_share_a_rank_and_read_in_pinyin_order():
    values = {"u1": 90, "u2": 90, "u3": 90, "u4": 120, "u5": 50}
    names = {"u1": "张三", "u2": "李四", "u3": "王五", "u4": "赵六", "u5": "钱七"}
    assert domain.rank(values, names) == [
        {"rank": 1, "user_id": "u4", "name": "赵六", "value": 120},
        {"rank": 2, "user_id": "u2", "name": "李四", "value": 90},  # li
        {"rank": 2, "user_id": "u3", "name": "王五", "value": 90},  # wang
        {"rank": 2, "user_id": "u1", "name": "张三", "value": 90},  # zhang
        {"rank": 5, "user_id": "u5", "name": "钱七", "value": 50},
    ]


def test_leaderboard_same_name_falls_back_to_user_id_and_float_noise_still_ties():
    values = {"b": 0.1 + 0.2, "a": 0.3, "c": 0.29}
    names = {"a": "张三", "b": "张三", "c": "李四"}
    items = domain.rank(values, names)
    assert [(i["rank"], i["user_id"]) for i in items] == [(1, "a"), (1, "b"), (3, "c")]


def test_leaderboard_unnamed_user_sorts_after_named_ones_in_a_tie():
    items = domain.rank({"x": 10, "y": 10}, {"y": "王五"})
    assert [(i["user_id"], i["name"]) for i in items] == [("y", "王五"), ("x", None)]


def test_empty_leaderboard():
    assert domain.rank({}, {}) == []


@pytest.mark.parametrize(
    ("period", "day", "start", "end"),
    [
        ("day", "2026-03-11", "2026-03-11", "2026-03-11"),
        ("week", "2026-03-11", "2026-03-09", "2026-03-15"),  # Wednesday → Monday..Sunday
        ("week", "2026-03-09", "2026-03-09", "2026-03-15"),  # Monday starts its week
        ("week", "2026-03-15", "2026-03-09", "2026-03-15"),  # Sunday ends it
        ("week", "2026-01-01", "2025-12-29", "2026-01-04"),  # across the year
        ("month", "2026-02-14", "2026-02-01", "2026-02-28"),
        ("month", "2024-02-29", "2024-02-01", "2024-02-29"),
        ("month", "2026-12-31", "2026-12-01", "2026-12-31"),
    ],
)
def test_period_range(period, day, start, end):
    assert domain.period_range(period, D(day)) == (D(start), D(end))


def test_unknown_period_is_422():
    with pytest.raises(ValidationFailed) as caught:
        domain.period_range("year", TODAY)
    assert "period" in caught.value.details


# --- statistics helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 90, 3.7),  # position 2.7: 3 + 0.7 × (4 − 3)
        ([1, 2, 3, 4], 50, 2.5),
        ([4, 1, 3, 2], 0, 1),
        ([4, 1, 3, 2], 100, 4),
        ([10], 90, 10),
        ([1, 1, 1, 1, 1, 1, 1, 1, 1, 4], 90, 1.3),  # position 8.1: 1 + 0.1 × 3
    ],
)
def test_percentile_interpolates_linearly(values, q, expected):
    assert domain.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_q_must_be_a_percentage():
    assert domain.percentile([], 90) is None
    with pytest.raises(ValueError):
        domain.percentile([1], 101)


def test_robust_z_uses_median_and_mad():
    # median 3, absolute deviations 2, 1, 0, 1, 97 → MAD 1
    scores = domain.robust_z_scores([1, 2, 3, 4, 100])
    assert scores == pytest.approx([-1.349, -0.6745, 0, 0.6745, 65.4265])


def test_robust_z_with_mad_zero_is_none():
    assert domain.robust_z_scores([1, 1, 1, 1, 5]) is None
    assert domain.robust_z_scores([]) is None


# --- fake-report indicators ----------------------------------------------------------------

CATALOG_STAGES = {
    "call": (),
    "visit": (),
    "demo": ("needs", "demo", "quote"),
    "contract": ("negotiate", "payment"),
}
# Peers: opportunities o1..o9 carry one entry each at their stage; o10 carries four at demo
# and is then confiscated at demo. Counts [1 × 9, 4]: the peers' 90th percentile is 1.3.
CLEAN = [
    entry(
        f"c{i}",
        author=f"u{i % 3}",
        opportunity=f"o{i}",
        stage="needs",
        activities=("call", "demo"),
        expense=f"{100 + 10 * (i % 4)}.00",
    )
    for i in range(1, 10)
]
OVER_16H = [
    entry("over1", author="u9", minutes=500, opportunity="o1", stage="needs"),
    entry("over2", author="u9", minutes=461, opportunity="o2", stage="needs"),
]
JUST_16H = [  # exactly 960 minutes is allowed
    entry("full1", author="u8", minutes=480, opportunity="o3", stage="needs"),
    entry("full2", author="u8", minutes=480, opportunity="o4", stage="needs"),
]
IMPLAUSIBLE = [entry("implausible", opportunity="o5", stage="contact", activities=("contract",))]
LATE = [entry("late", work_date="2026-03-08", late=True, opportunity="o6", stage="needs")]
LOGGED_THEN_CONFISCATED = [
    entry(f"stuck{i}", opportunity="o10", stage="demo", recorded_at=f"2026-03-0{i}T18:00:00Z")
    for i in range(1, 5)
]
AFTER_CONFISCATION = [  # logged on o10 after it was taken: not part of the stuck stage
    entry("after", opportunity="o10", stage="demo", recorded_at="2026-03-09T18:00:00Z")
]
EXPENSIVE = [entry("expensive", opportunity="o7", stage="needs", expense="5000.00")]
ENTRIES = (
    CLEAN
    + OVER_16H
    + JUST_16H
    + IMPLAUSIBLE
    + LATE
    + LOGGED_THEN_CONFISCATED
    + AFTER_CONFISCATION
    + EXPENSIVE
)
CONFISCATIONS = [{"opportunity_id": "o10", "stage": "demo", "at": "2026-03-08T00:00:00+08:00"}]
PEER_P90 = 1.3


def test_over_16h_flags_every_entry_of_a_day_beyond_960_minutes():
    assert domain.over_16h(ENTRIES) == {"over1", "over2"}


def test_over_16h_counts_per_author_and_day():
    # 500 + 500 minutes, but by two people / on two days
    assert domain.over_16h([entry("a", minutes=500), entry("b", author="u2", minutes=500)]) == set()
    assert (
        domain.over_16h([entry("a", minutes=500), entry("b", minutes=500, work_date="2026-03-10")])
        == set()
    )


def test_implausible_activity_flags_an_activity_outside_its_stages():
    assert domain.implausible_activity(ENTRIES, CATALOG_STAGES) == {"implausible"}


def test_implausible_activity_ignores_entries_without_stage_and_unknown_activities():
    entries = [
        entry("no_stage", activities=("contract",)),
        entry("unknown", stage="contact", activities=("juggling",)),
        entry("anywhere", stage="won", activities=("visit",)),
    ]
    assert domain.implausible_activity(entries, CATALOG_STAGES) == set()


def test_late_flags_entries_recorded_for_yesterday():
    assert domain.late(ENTRIES) == {"late"}


def test_stage_entry_counts_give_the_peer_percentile():
    counts = domain.stage_entry_counts(CLEAN + LOGGED_THEN_CONFISCATED)
    assert counts[("o10", "demo")] == 4
    assert domain.percentile(counts.values(), 90) == pytest.approx(PEER_P90)


def test_confiscated_without_progress_flags_the_stuck_stage_entries():
    flagged = domain.confiscated_without_progress(ENTRIES, CONFISCATIONS, PEER_P90)
    assert flagged == {"stuck1", "stuck2", "stuck3", "stuck4"}


def test_confiscated_without_progress_needs_more_entries_than_the_peers():
    assert domain.confiscated_without_progress(ENTRIES, CONFISCATIONS, 4) == set()
    assert domain.confiscated_without_progress(ENTRIES, CONFISCATIONS, None) == set()


def test_confiscated_after_an_advance_does_not_flag_the_earlier_stage():
    # four entries at demo, then the opportunity advanced to quote and was confiscated there
    taken_at_quote = [{"opportunity_id": "o10", "stage": "quote", "at": "2026-03-08T00:00:00Z"}]
    assert domain.confiscated_without_progress(ENTRIES, taken_at_quote, PEER_P90) == set()


def test_confiscated_without_progress_takes_per_stage_thresholds():
    assert domain.confiscated_without_progress(ENTRIES, CONFISCATIONS, {"demo": 3}) == {
        "stuck1",
        "stuck2",
        "stuck3",
        "stuck4",
    }
    assert domain.confiscated_without_progress(ENTRIES, CONFISCATIONS, {"demo": 4}) == set()
    assert domain.confiscated_without_progress(ENTRIES, CONFISCATIONS, {"quote": 0}) == set()


def test_expense_outlier_flags_only_the_extreme_expense():
    assert domain.expense_outlier(ENTRIES) == {"expensive"}


def test_expense_outlier_compares_priced_entries_only():
    # with the six zeros the median and MAD would be 0 and nothing would stand out
    entries = [entry(f"z{i}") for i in range(6)] + [
        entry("a", expense="200.00"),
        entry("b", expense="210.00"),
        entry("c", expense="220.00"),
        entry("d", expense="900.00"),  # z = 0.6745 × 690 / 10 = 46.5
    ]
    assert domain.expense_outlier(entries) == {"d"}


def test_expense_outlier_threshold_is_a_robust_z_above_3():
    # median 30, MAD 10: z(74) = 2.97, z(75) = 3.04
    def sample(x):
        amounts = ["10", "20", "30", "40", x]
        return [entry(f"e{a}", expense=a) for a in amounts]

    assert domain.expense_outlier(sample("74")) == set()
    assert domain.expense_outlier(sample("75")) == {"e75"}


def test_expense_outlier_with_mad_zero_flags_nothing():
    entries = [entry(f"e{i}", expense="100.00") for i in range(3)] + [
        entry("big", expense="5000.00")
    ]
    assert domain.expense_outlier(entries) == set()


def test_all_flags_runs_every_indicator():
    flags = domain.all_flags(
        ENTRIES, catalog_stages=CATALOG_STAGES, confiscations=CONFISCATIONS, peer_p90=PEER_P90
    )
    assert set(flags) == set(domain.INDICATORS)
    assert flags["late"] == {"late"}
    assert set().union(*flags.values()).isdisjoint({e["entry_id"] for e in CLEAN + JUST_16H})


def test_fake_report_per_stage_and_per_person():
    entries = [
        entry("e1", author="u1", stage="demo"),
        entry("e2", author="u1", stage="demo"),
        entry("e3", author="u2", stage="demo"),
        entry("e6", author="u2", stage="demo"),
        entry("e4", author="u2", stage="quote"),
        entry("e5", author="u1", stage=None),
        entry("e7", author="u3", stage="zeta"),
    ]
    flags = {"late": {"e1"}, "over_16h": {"e1", "e3"}, "expense_outlier": set()}
    report = domain.fake_report(entries, flags, {"e2", "e3"}, ("contact", "demo", "quote"))
    assert report["by_stage"] == [
        # suspicious e1, e3; proven false e2, e3; either 3 of 4
        {"stage": "demo", "entries": 4, "suspicious": 2, "proven_false": 2, "share": 0.75},
        {"stage": "quote", "entries": 1, "suspicious": 0, "proven_false": 0, "share": 0.0},
        {"stage": "zeta", "entries": 1, "suspicious": 0, "proven_false": 0, "share": 0.0},
        {"stage": None, "entries": 1, "suspicious": 0, "proven_false": 0, "share": 0.0},
    ]
    assert report["by_user"] == [
        {"user_id": "u1", "entries": 3, "suspicious": 1, "proven_false": 1, "share": 0.6667},
        {"user_id": "u2", "entries": 3, "suspicious": 1, "proven_false": 1, "share": 0.3333},
        {"user_id": "u3", "entries": 1, "suspicious": 0, "proven_false": 0, "share": 0.0},
    ]


def test_fake_report_of_nothing():
    assert domain.fake_report([], {}, set()) == {"by_stage": [], "by_user": []}


# --- resignation early warning -------------------------------------------------------------


def weekdays(first: date, last: date, minutes: int) -> dict[date, int]:
    days = (first + timedelta(i) for i in range((last - first).days + 1))
    return {d: minutes for d in days if d.weekday() < 5}


def mondays(first: date, last: date) -> dict[date, int]:
    days = (first + timedelta(i) for i in range((last - first).days + 1))
    return {d: 1 for d in days if d.weekday() == 0}


STEADY_MINUTES = weekdays(TODAY - timedelta(days=90), TODAY - timedelta(days=1), 480)
STEADY_UNMASKS = mondays(TODAY - timedelta(days=90), TODAY - timedelta(days=1))


def test_a_steady_person_is_not_at_risk():
    assert domain.early_warning(STEADY_MINUTES, TODAY, [3] * 12, STEADY_UNMASKS) == (0, [])


def test_no_history_is_no_risk():
    assert domain.early_warning({}, TODAY, [], {}) == (0, [])


def test_a_declining_person_is_at_high_risk_with_every_reason():
    minutes = dict(STEADY_MINUTES)
    for d in weekdays(D("2026-03-02"), D("2026-03-13"), 0):
        del minutes[d]
    minutes.update(weekdays(D("2026-03-02"), D("2026-03-06"), 240))  # a half week, then nothing
    unmasks = dict(STEADY_UNMASKS)
    unmasks[D("2026-03-12")] = 30
    risk, reasons = domain.early_warning(minutes, TODAY, [3] * 8 + [0] * 4, unmasks)
    # diligence: 1200 min over 10 working days = 120 against 480, a 75 % drop → 35
    # missing logs: 5 of 14 working days → 20 × (5 − 1) / 6 = 13.33
    # new opportunities: none against 3 a week → 15
    # unmasks: 30 in a week against about one a week → 30
    assert risk == 93
    assert len(reasons) == 4
    assert reasons[0].startswith("近14天日均工时较个人基线下降 75%")
    assert "Daily minutes over 14 days 75% below own baseline" in reasons[0]
    assert "近14个工作日中有 5 天未填日报 / No log on 5 of the last 14 working days" == reasons[1]
    assert "下降 100%" in reasons[2] and "(100% fewer)" in reasons[2]
    assert "30 contact unmasks or exports in 7 days" in reasons[3]


def test_a_45_percent_drop_in_minutes_alone():
    minutes = dict(STEADY_MINUTES)
    minutes.update(weekdays(D("2026-03-02"), D("2026-03-13"), 264))  # 264 / 480 = 55 %
    risk, reasons = domain.early_warning(minutes, TODAY, [3] * 12, STEADY_UNMASKS)
    assert risk == 31  # 35 × (0.45 − 0.10) / 0.40 = 30.6
    assert len(reasons) == 1
    assert "近14天日均工时较个人基线下降 45%" in reasons[0]
    assert "Daily minutes over 14 days 45% below own baseline" in reasons[0]


def test_a_newcomer_has_not_missed_the_days_before_joining():
    minutes = weekdays(D("2026-03-09"), D("2026-03-13"), 480)
    assert domain.early_warning(minutes, TODAY, [0, 1], {}) == (0, [])


def test_a_few_unmasks_are_not_a_spike():
    unmasks = {D("2026-03-12"): domain.MIN_UNMASK_SPIKE - 1}
    assert domain.early_warning(STEADY_MINUTES, TODAY, [3] * 12, unmasks) == (0, [])


# --- trainee screening ---------------------------------------------------------------------


def test_percentile_rank_is_mid_rank():
    assert [domain.percentile_rank(v, [1, 2, 3, 4, 5]) for v in (1, 2, 3, 4, 5)] == [
        10,
        30,
        50,
        70,
        90,
    ]
    assert domain.percentile_rank(7, [7]) == 50
    assert domain.percentile_rank(1, [1, 1, 2, 3, 4]) == 20


def test_trainee_recommendations_at_the_thresholds():
    values = {  # diligence percentile / ability percentile in a cohort of five
        "a": (1, 1),  # 10 / 10
        "b": (2, 5),  # 30 / 90
        "c": (3, 3),  # 50 / 50
        "d": (4, 2),  # 70 / 30
        "e": (5, 4),  # 90 / 70, but too few days
    }
    days = {"a": 30, "b": 40, "c": 30, "d": 30, "e": 29}
    items = domain.trainee_screening(values, days, min_days=30)
    by_user = {i["user_id"]: i for i in items}
    assert [i["user_id"] for i in items] == ["a", "b", "d", "e", "c"]  # let_go, watch…, keep
    assert {u: i["recommendation"] for u, i in by_user.items()} == {
        "a": "let_go",
        "b": "watch",
        "c": "keep",
        "d": "watch",
        "e": "watch",
    }
    assert (by_user["c"]["diligence_percentile"], by_user["c"]["ability_percentile"]) == (50, 50)
    assert by_user["a"]["reasons"] == [
        "勤奋度位于同批第 10 百分位 / Diligence at the 10th percentile of the cohort",
        "能力位于同批第 10 百分位 / Ability at the 10th percentile of the cohort",
        "两项均低于第 20 百分位，建议劝退 / Both below the 20th percentile: let go",
    ]
    assert by_user["b"]["reasons"][-1] == (
        "勤奋度低于第 50 百分位，继续观察 / Diligence below the 50th percentile: watch"
    )
    assert by_user["d"]["reasons"][-1].endswith("Ability below the 50th percentile: watch")
    assert by_user["e"]["reasons"][0] == (
        "仅有 29 天数据，不足 30 天，继续观察 / Only 29 days observed, fewer than 30: watch"
    )
    assert by_user["e"]["days"] == 29


def test_exactly_the_20th_percentile_is_not_let_go():
    values = {"f": (1, 1), "g": (1, 1), "h": (2, 2), "i": (3, 3), "j": (4, 4)}
    items = domain.trainee_screening(values, dict.fromkeys(values, 60))
    f = next(i for i in items if i["user_id"] == "f")
    assert (f["diligence_percentile"], f["ability_percentile"]) == (20, 20)
    assert f["recommendation"] == "watch"
    assert f["reasons"][-1].startswith("勤奋度、能力低于第 50 百分位")


def test_trainee_without_days_is_watched():
    [item] = domain.trainee_screening({"k": (480, 10)}, {})
    assert (item["days"], item["recommendation"]) == (0, "watch")


# --- management responsibility -------------------------------------------------------------


def test_manager_figures():
    assert domain.manager_figures([2, 4, 9], 3, [480, 400], [10, 12.5]) == {
        "decisions": 3,
        "mean_hours_to_decide": 5.0,
        "alarms_supported": 3,
        "team_mean_minutes": 440.0,
        "team_mean_score": 11.25,
    }


def test_manager_figures_without_data():
    assert domain.manager_figures([], 0, [], []) == {
        "decisions": 0,
        "mean_hours_to_decide": None,
        "alarms_supported": 0,
        "team_mean_minutes": None,
        "team_mean_score": None,
    }
