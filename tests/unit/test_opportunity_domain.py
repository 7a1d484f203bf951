"""Opportunity rules (services/opportunity/domain.py): fast, no broker, no database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.errors import BusinessRuleViolated, Conflict, Forbidden, ValidationFailed
from services.opportunity import domain
from services.opportunity.domain import DEFAULT_PIPELINE as P

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def api_pipeline(**changes) -> dict:
    data = {
        "name": "快节奏 Fast",
        "stages": [
            {"key": "a", "name": "甲 A", "time_limit": "PT2S", "probability": 10},
            {"key": "b", "name": "乙 B", "time_limit": "PT2S", "probability": 50},
            {"key": "won", "name": "成交 Won", "time_limit": None, "probability": 100},
        ],
        "remind_before": "PT1S",
        "qualification": [{"key": "budget", "question": "有预算吗", "weight": 2}],
        "qualification_threshold": 0.5,
    }
    data.update(changes)
    return data


def errors_of(data) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        domain.parse_pipeline(data)
    assert caught.value.status == 422
    return caught.value.details


# --- the default pipeline ------------------------------------------------------------------


def test_default_pipeline_is_the_one_of_the_domain():
    assert P.stage_keys == ["contact", "needs", "demo", "quote", "negotiate", "payment", "won"]
    assert [s.probability for s in P.stages] == [10, 20, 40, 60, 80, 90, 100]
    assert [s.time_limit.days if s.time_limit else None for s in P.stages] == [
        7,
        14,
        14,
        14,
        21,
        30,
        None,
    ]
    assert P.stages[0].name == "初步接触 Initial contact"
    assert P.stages[-1].name == "成交 Won"
    assert [q.key for q in P.qualification] == ["budget", "authority", "need", "timeline"]
    assert all(q.weight == 1 for q in P.qualification)
    assert P.threshold == 0.5
    assert P.remind_before == timedelta(days=2)
    assert P.decision_limit == timedelta(days=3)
    assert P.followup_limit is None


def test_default_pipeline_survives_the_api_round_trip():
    data = domain.pipeline_to_dict(P)
    assert data["stages"][0]["time_limit"] == "P7D"
    assert data["stages"][-1]["time_limit"] is None
    assert data["remind_before"] == "P2D" and data["decision_limit"] == "P3D"
    assert data["followup_limit"] is None
    assert data["qualification_threshold"] == 0.5
    assert domain.parse_pipeline(data) == P


# --- pipeline validation -------------------------------------------------------------------


def test_valid_pipeline_is_parsed_with_short_durations_and_defaults():
    pipeline = domain.parse_pipeline(api_pipeline())
    assert pipeline.stages[0].time_limit == timedelta(seconds=2)
    assert pipeline.remind_before == timedelta(seconds=1)
    assert pipeline.decision_limit == timedelta(days=3)
    assert pipeline.followup_limit is None
    assert pipeline.won_index == 2
    assert domain.pipeline_to_dict(pipeline)["stages"][0]["time_limit"] == "PT2S"


def test_invalid_duration_is_refused_on_its_field():
    data = api_pipeline()
    data["stages"][0]["time_limit"] = "two weeks"
    assert "stages.0.time_limit" in errors_of(data)


@pytest.mark.parametrize("value", ["P0D", "-P1D", "P99999999999D", "P1Y", 14, ""])
def test_stage_limit_must_be_a_positive_iso_duration(value):
    data = api_pipeline()
    data["stages"][1]["time_limit"] = value
    assert "stages.1.time_limit" in errors_of(data)


def test_probabilities_must_be_in_range_and_non_decreasing():
    data = api_pipeline()
    data["stages"][0]["probability"] = 60
    data["stages"][1]["probability"] = 50
    details = errors_of(data)
    assert details["stages.1.probability"] == [domain.DECREASING]

    data = api_pipeline()
    data["stages"][0]["probability"] = 101
    data["stages"][1]["probability"] = True
    details = errors_of(data)
    assert "stages.0.probability" in details and "stages.1.probability" in details


def test_stage_keys_must_be_unique():
    data = api_pipeline()
    data["stages"][1]["key"] = "a"
    assert errors_of(data)["stages.1.key"] == [domain.DUPLICATE_KEY]


def test_a_pipeline_needs_at_least_two_stages():
    data = api_pipeline(
        stages=[{"key": "won", "name": "W", "time_limit": None, "probability": 100}]
    )
    assert errors_of(data)["stages"] == [domain.FEW_STAGES]


def test_last_stage_must_be_won_without_limit():
    data = api_pipeline()
    data["stages"][2]["time_limit"] = "P1D"
    assert errors_of(data)["stages.2"] == [domain.WON_STAGE]
    data = api_pipeline()
    data["stages"][2]["probability"] = 95
    assert errors_of(data)["stages.2"] == [domain.WON_STAGE]


def test_every_open_stage_needs_a_time_limit():
    data = api_pipeline()
    data["stages"][0]["time_limit"] = None
    assert errors_of(data)["stages.0.time_limit"] == [domain.OPEN_STAGE_LIMIT]


def test_qualification_keys_unique_weights_positive_threshold_between_0_and_1():
    data = api_pipeline(
        qualification=[
            {"key": "budget", "question": "Q1", "weight": 1},
            {"key": "budget", "question": "Q2", "weight": 0},
        ],
        qualification_threshold=1.5,
    )
    details = errors_of(data)
    assert details["qualification.1.key"] == [domain.DUPLICATE_KEY]
    assert details["qualification.1.weight"] == [domain.BAD_WEIGHT]
    assert details["qualification_threshold"] == [domain.BAD_THRESHOLD]


def test_all_problems_are_listed_at_once_with_bilingual_messages():
    details = errors_of({"name": " ", "stages": "x", "qualification": None, "remind_before": "1d"})
    assert set(details) == {
        "name",
        "stages",
        "qualification",
        "remind_before",
        "qualification_threshold",
    }
    for messages in details.values():
        assert all(" / " in m for m in messages)


@pytest.mark.parametrize(
    "garbage",
    [None, [], "pipeline", 7, {"stages": [None, 3, "x"]}, {"stages": [{"key": {}, "name": []}]}],
)
def test_garbage_pipeline_input_is_a_validation_error_never_a_crash(garbage):
    errors_of(garbage)


# --- feasibility ---------------------------------------------------------------------------


def test_feasibility_is_the_weighted_share_of_yes_and_lists_unanswered_questions():
    score, missing = domain.feasibility(P, {"budget": True, "authority": False})
    assert score == 0.25
    assert missing == ["need", "timeline"]
    everything = {"budget": True, "authority": True, "need": True, "timeline": True}
    assert domain.feasibility(P, everything) == (1.0, [])


def test_feasibility_respects_weights():
    pipeline = domain.parse_pipeline(
        api_pipeline(
            qualification=[
                {"key": "budget", "question": "Q", "weight": 3},
                {"key": "need", "question": "Q", "weight": 1},
            ]
        )
    )
    assert domain.feasibility(pipeline, {"budget": True, "need": False}) == (0.75, [])


def test_unknown_or_non_boolean_answers_are_refused():
    with pytest.raises(ValidationFailed) as caught:
        domain.feasibility(P, {"budget": True, "mood": True, "need": "yes"})
    assert set(caught.value.details) == {"qualification.mood", "qualification.need"}
    with pytest.raises(ValidationFailed):
        domain.feasibility(P, ["budget"])


def test_registration_below_threshold_is_not_feasible_with_score_and_missing_answers():
    with pytest.raises(BusinessRuleViolated) as caught:
        domain.check_feasible(P, {"budget": True})
    assert caught.value.status == 422
    assert caught.value.code == "not_feasible"
    assert caught.value.details == {
        "score": 0.25,
        "threshold": 0.5,
        "missing": ["authority", "need", "timeline"],
    }


def test_registration_at_the_threshold_is_feasible():
    assert domain.check_feasible(P, {"budget": True, "need": True}) == 0.5


# --- the stage clock -----------------------------------------------------------------------


def test_entering_a_stage_sets_the_deadline_to_now_plus_its_limit():
    assert domain.enter_stage(P, 0, NOW) == NOW + timedelta(days=7)
    assert domain.enter_stage(P, 4, NOW) == NOW + timedelta(days=21)
    assert domain.enter_stage(P, P.won_index, NOW) is None


def test_advance_moves_one_stage_forward():
    assert domain.next_stage_for_advance(P, 0) == 1
    assert domain.next_stage_for_advance(P, 4) == 5


def test_advance_never_enters_the_won_stage():
    for index in (5, 6):
        with pytest.raises(Conflict) as caught:
            domain.next_stage_for_advance(P, index)
        assert caught.value.code == "invalid_transition"
        assert caught.value.status == 409


def test_win_closes_only_from_the_last_open_stage():
    assert domain.can_win(P, 5)
    assert not domain.can_win(P, 4)
    assert not domain.can_win(P, 6)
    assert domain.check_win(P, 5) == 6
    with pytest.raises(Conflict) as caught:
        domain.check_win(P, 0)
    assert caught.value.code == "invalid_transition"


# --- the sweep -----------------------------------------------------------------------------


def state(**changes) -> domain.ClockState:
    values = dict(
        status="open",
        stage_deadline=NOW + timedelta(days=7),
        stage_entered_at=NOW,
        holder_path=["1", "7", "42"],
    )
    values.update(changes)
    return domain.ClockState(**values)


def test_holder_is_warned_from_remind_before_the_deadline():
    s = state()
    assert not domain.due_for_warning(s, P, NOW + timedelta(days=4, hours=23))
    assert domain.due_for_warning(s, P, NOW + timedelta(days=5))
    assert domain.due_for_warning(s, P, NOW + timedelta(days=8))


def test_holder_is_warned_only_once_per_stage_entry():
    assert not domain.due_for_warning(state(warned=True), P, NOW + timedelta(days=6))


def test_closed_or_confiscated_opportunities_are_not_warned():
    for status in ("won", "lost", "confiscated"):
        assert not domain.due_for_warning(state(status=status), P, NOW + timedelta(days=6))


def test_opportunity_is_overdue_only_after_its_deadline():
    s = state()
    assert not domain.overdue(s, P, NOW + timedelta(days=7))
    assert domain.overdue(s, P, NOW + timedelta(days=7, seconds=1))


def test_logging_work_does_not_extend_the_deadline():
    s = state(last_followup_at=NOW + timedelta(days=6, hours=23))
    assert domain.overdue(s, P, NOW + timedelta(days=7, seconds=1))


def test_pending_loss_stays_on_the_clock():
    assert domain.overdue(state(status="loss_pending"), P, NOW + timedelta(days=8))
    assert domain.due_for_warning(state(status="loss_pending"), P, NOW + timedelta(days=6))


def test_missing_follow_up_counts_as_overdue_when_the_pipeline_has_a_limit():
    pipeline = domain.parse_pipeline(api_pipeline(followup_limit="P1D"))
    s = state(stage_deadline=NOW + timedelta(days=30))
    assert not domain.overdue(s, pipeline, NOW + timedelta(hours=23))
    assert domain.overdue(s, pipeline, NOW + timedelta(days=1, seconds=1))
    followed = state(
        stage_deadline=NOW + timedelta(days=30), last_followup_at=NOW + timedelta(hours=20)
    )
    assert not domain.overdue(followed, pipeline, NOW + timedelta(days=1, seconds=1))
    assert domain.overdue(followed, pipeline, NOW + timedelta(days=1, hours=21))


def test_without_a_follow_up_limit_only_the_deadline_counts():
    s = state(stage_deadline=NOW + timedelta(days=30))
    assert not domain.overdue(s, P, NOW + timedelta(days=29))


def test_overdue_opportunity_goes_to_supervisor():
    assert domain.confiscation_target(["1", "7", "42"]) == "7"
    plan = domain.plan_confiscation(["1", "7", "42"], P, NOW)
    assert plan == domain.Confiscation("7", NOW + timedelta(days=3), False)


def test_top_of_the_chain_keeps_it_flagged():
    assert domain.confiscation_target(["1"]) is None
    assert domain.confiscation_target([]) is None
    assert domain.plan_confiscation(["1"], P, NOW) == domain.Confiscation("1", None, True)


def test_supervisor_who_misses_the_decision_deadline_loses_it_upwards():
    s = state(
        status="confiscated", decision_deadline=NOW + timedelta(days=3), holder_path=["1", "7"]
    )
    assert not domain.decision_overdue(s, NOW + timedelta(days=3))
    assert domain.decision_overdue(s, NOW + timedelta(days=3, seconds=1))
    assert domain.confiscation_target(s.holder_path) == "1"


def test_flagged_opportunities_are_not_swept_again():
    flagged = state(status="confiscated", decision_deadline=NOW, flagged=True)
    assert not domain.decision_overdue(flagged, NOW + timedelta(days=9))
    assert not domain.overdue(state(flagged=True), P, NOW + timedelta(days=9))


def test_open_opportunities_have_no_decision_deadline_to_miss():
    assert not domain.decision_overdue(state(decision_deadline=NOW), NOW + timedelta(days=1))


# --- supervisor decisions ------------------------------------------------------------------


def decide(action, **changes):
    values = dict(
        pipeline=P,
        stage_index=2,
        status="confiscated",
        holder_id="7",
        decider_id="7",
        decider_path=["1", "7"],
        original_owner_id="42",
        now=NOW,
    )
    values.update(changes)
    return domain.apply_decision(action, **values)


def test_keep_gives_the_supervisor_a_fresh_clock_at_the_current_stage():
    outcome = decide("keep")
    assert outcome.holder_id == "7"
    assert outcome.status == "open"
    assert outcome.stage_entered_at == NOW
    assert outcome.stage_deadline == NOW + timedelta(days=14)


def test_return_gives_it_back_to_the_original_owner_with_a_fresh_deadline():
    outcome = decide("return")
    assert (outcome.holder_id, outcome.stage_deadline) == ("42", NOW + timedelta(days=14))


def test_reassign_goes_to_a_subordinate_of_the_decider():
    outcome = decide("reassign", assignee_id="43", assignee_path=["1", "7", "43"])
    assert outcome.holder_id == "43"
    assert outcome.stage_deadline == NOW + timedelta(days=14)
    deep = decide("reassign", assignee_id="99", assignee_path=["1", "7", "43", "99"])
    assert deep.holder_id == "99"


def test_reassign_outside_the_subtree_is_forbidden():
    with pytest.raises(Forbidden):
        decide("reassign", assignee_id="8", assignee_path=["1", "8"])
    with pytest.raises(Forbidden):  # "7" is a prefix of "70" as text, not as a path
        decide("reassign", assignee_id="71", assignee_path=["1", "70", "71"])


def test_reassign_needs_a_known_assignee_other_than_the_decider():
    with pytest.raises(ValidationFailed) as caught:
        decide("reassign")
    assert "assignee_id" in caught.value.details
    with pytest.raises(ValidationFailed):
        decide("reassign", assignee_id="7", assignee_path=["1", "7"])
    with pytest.raises(ValidationFailed):
        decide("reassign", assignee_id="404", assignee_path=None)


@pytest.mark.parametrize("action", ["abandon", "", None, 3])
def test_unknown_decision_is_a_validation_error(action):
    with pytest.raises(ValidationFailed) as caught:
        decide(action)
    assert "action" in caught.value.details


def test_only_the_supervisor_holding_it_may_decide():
    with pytest.raises(Forbidden):
        decide("keep", decider_id="8", decider_path=["1", "8"])


def test_decision_on_an_opportunity_not_confiscated_conflicts():
    with pytest.raises(Conflict) as caught:
        decide("keep", status="open")
    assert caught.value.code == "invalid_transition"


# --- closing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason", ["price", "competitor", "decision_chain", "no_budget", "no_need"]
)
def test_loss_with_a_reason_category_and_an_analysis_is_accepted(reason):
    assert domain.validate_loss(reason, "  客户预算被砍 / budget cut ") == (
        reason,
        "客户预算被砍 / budget cut",
    )


def test_loss_without_an_autopsy_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        domain.validate_loss("bad_luck", "   ")
    assert caught.value.status == 422
    assert set(caught.value.details) == {"reason", "analysis"}
    with pytest.raises(ValidationFailed):
        domain.validate_loss(None, None)


def test_loss_reasons_follow_configured_alarm_categories():
    assert domain.validate_loss("logistics", "x", categories=["logistics"])[0] == "logistics"
    assert domain.validate_loss("no_need", "x", categories=["logistics"])[0] == "no_need"


def test_only_a_supervisor_in_the_holders_chain_approves_a_loss():
    chain = ["1", "7", "42"]
    assert domain.may_approve_loss(4, "7", chain)
    assert domain.may_approve_loss(9, "1", chain)
    assert not domain.may_approve_loss(3, "7", chain)  # in the chain but below level 4
    assert not domain.may_approve_loss(6, "8", chain)  # a supervisor elsewhere
    assert not domain.may_approve_loss(5, "42", chain)  # the holder themself


# --- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("120000.00", 12_000_000),
        (120000, 12_000_000),
        (1.5, 150),
        ("0.01", 1),
        (" 7 ", 700),
        (0, 0),
        (0.1, 10),
    ],
)
def test_money_is_parsed_to_fen(value, fen):
    assert domain.parse_money(value) == fen


@pytest.mark.parametrize(
    "value",
    [
        "1.234",
        -1,
        "-0.01",
        float("nan"),
        float("inf"),
        "Infinity",
        "NaN",
        True,
        False,
        None,
        "",
        "abc",
        [1],
        {"a": 1},
        10**20,
        0.001,
    ],
)
def test_bad_money_is_a_validation_error(value):
    with pytest.raises(ValidationFailed) as caught:
        domain.parse_money(value, "amount")
    assert "amount" in caught.value.details


def test_money_is_formatted_with_two_decimals():
    assert domain.format_money(12_000_000) == "120000.00"
    assert domain.format_money(5) == "0.05"
    assert domain.format_money(0) == "0.00"
    assert domain.format_money(domain.parse_money("99.9")) == "99.90"


# --- funnel --------------------------------------------------------------------------------


def test_funnel_counts_amounts_conversion_and_median_time_per_stage():
    keys = ["a", "b", "won"]
    rows = [
        domain.FunnelRow(0, 100, 0, {"a": 60}),
        domain.FunnelRow(1, 200, 1, {"a": 120, "b": 10}),
        domain.FunnelRow(2, 300, 2, {"a": 180, "b": 30}),
        domain.FunnelRow(2, 400, 2, {"a": 240, "b": 50}),
    ]
    stages = domain.funnel(keys, rows)
    assert [s["key"] for s in stages] == keys
    assert [s["count"] for s in stages] == [1, 1, 2]
    assert [s["amount"] for s in stages] == ["1.00", "2.00", "7.00"]
    assert [s["reached"] for s in stages] == [4, 3, 2]
    assert stages[0]["conversion"] == 0.75
    assert stages[1]["conversion"] == round(2 / 3, 4)
    assert stages[2]["conversion"] is None
    assert stages[0]["median_time_in_stage"] == "PT2M30S"
    assert stages[1]["median_time_in_stage"] == "PT30S"
    assert stages[2]["median_time_in_stage"] is None


def test_empty_funnel_has_zeroes_not_errors():
    stages = domain.funnel(["a", "won"], [])
    assert stages[0] == {
        "key": "a",
        "count": 0,
        "amount": "0.00",
        "reached": 0,
        "conversion": None,
        "median_time_in_stage": None,
    }


# --- forecast ------------------------------------------------------------------------------


def test_few_closed_samples_fall_back_to_configured_probabilities():
    closed = [(6, True)] * 29
    probabilities = domain.learned_probabilities(P, closed)
    assert probabilities["contact"] == 0.1
    assert probabilities["payment"] == 0.9
    assert probabilities["won"] == 1.0


def test_probabilities_are_learned_from_history_with_laplace_smoothing():
    # 40 closed: 10 won (reached every stage), 30 lost at the first stage
    closed = [(6, True)] * 10 + [(0, False)] * 30
    probabilities = domain.learned_probabilities(P, closed)
    assert probabilities["contact"] == round(11 / 42, 4)
    assert probabilities["needs"] == round(11 / 12, 4)
    assert probabilities["won"] == 1.0
    assert probabilities["contact"] != 0.1


def test_counts_from_a_group_by_learn_what_one_row_per_opportunity_learns():
    closed = [(6, True)] * 10 + [(0, False)] * 30 + [(3, False)] * 7 + [(5, True)] * 2
    counts = [((6, True), 10), ((0, False), 30), ((3, False), 7), ((5, True), 2)]
    assert domain.learned_from_counts(P, counts) == domain.learned_probabilities(P, closed)
    assert domain.learned_from_counts(P, [((6, True), 29)])["contact"] == 0.1  # too few


def test_expected_close_is_entry_plus_the_remaining_stage_limits():
    assert domain.expected_close(P, 4, NOW) == NOW + timedelta(days=21 + 30)
    assert domain.expected_close(P, 0, NOW) == NOW + timedelta(days=7 + 14 * 3 + 21 + 30)
    assert domain.expected_close(P, 6, NOW) == NOW


def test_forecast_weights_amounts_by_stage_probability_per_month():
    probabilities = {"quote": 0.6, "payment": 0.9}
    items = [
        domain.ForecastItem("quote", 100_00, datetime(2026, 3, 20, tzinfo=UTC)),
        domain.ForecastItem("payment", 200_00, datetime(2026, 4, 2, tzinfo=UTC)),
        domain.ForecastItem("payment", 50_00, datetime(2026, 2, 1, tzinfo=UTC)),  # late
        domain.ForecastItem("quote", 999_00, datetime(2026, 9, 1, tzinfo=UTC)),  # beyond
    ]
    months = domain.forecast_by_month(items, probabilities, 3, NOW, tz=SHANGHAI)
    assert months == [
        {"month": "2026-03", "weighted": "105.00", "count": 2},
        {"month": "2026-04", "weighted": "180.00", "count": 1},
        {"month": "2026-05", "weighted": "0.00", "count": 0},
    ]


def test_forecast_months_follow_the_organisation_time_zone():
    # 2026-03-31 20:00 UTC is already April 1st in Shanghai
    item = domain.ForecastItem("quote", 100, datetime(2026, 3, 31, 20, tzinfo=UTC))
    months = domain.forecast_by_month([item], {"quote": 1.0}, 2, NOW, tz=SHANGHAI)
    assert [m["count"] for m in months] == [0, 1]


def test_forecast_over_december_rolls_into_the_next_year():
    now = datetime(2026, 12, 5, tzinfo=UTC)
    months = domain.forecast_by_month([], {}, 2, now, tz=SHANGHAI)
    assert [m["month"] for m in months] == ["2026-12", "2027-01"]
    assert domain.forecast_by_month([], {}, 0, now, tz=SHANGHAI) == []


def test_backtest_error_is_mean_absolute_percentage_skipping_zero_actuals():
    assert domain.mape([(110, 100), (50, 100), (10, 0)]) == 30.0
    assert domain.mape([(10, 0)]) is None
    assert domain.mape([]) is None


# --- work list -----------------------------------------------------------------------------


def test_work_list_runs_from_100_percent_to_0_then_nearest_deadline():
    items = [
        {"id": "low", "probability": 10, "stage_deadline": NOW},
        {"id": "high-late", "probability": 90, "stage_deadline": NOW + timedelta(days=5)},
        {"id": "high-none", "probability": 90, "stage_deadline": None},
        {"id": "high-soon", "probability": 90, "stage_deadline": NOW + timedelta(days=1)},
        {"id": "mid", "probability": 40, "stage_deadline": NOW + timedelta(days=9)},
    ]
    order = [i["id"] for i in domain.work_list_order(copy.deepcopy(items))]
    assert order == ["high-soon", "high-late", "high-none", "mid", "low"]
