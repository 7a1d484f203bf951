"""Work-log rules (services/worklog/domain.py): fast, no broker, no database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.errors import BusinessRuleViolated, ValidationFailed
from services.worklog import domain
from services.worklog.domain import DEFAULT_CATALOG, Activity

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CATALOG = {a.key: a for a in DEFAULT_CATALOG}
PIPELINE_KEYS = ("contact", "needs", "demo", "quote", "negotiate", "payment", "won")


def shanghai(y, mo, d, h, mi=0) -> datetime:
    """A Shanghai wall-clock moment as the clock gives it: aware UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).astimezone(UTC)


def validation_errors(call, *args, **kwargs) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 422
    return caught.value.details


def rule_violation(call, *args, **kwargs) -> BusinessRuleViolated:
    with pytest.raises(BusinessRuleViolated) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 422
    return caught.value


# --- the activity catalog ------------------------------------------------------------------


def test_default_catalog_is_the_one_of_the_domain():
    assert [(a.key, a.points) for a in DEFAULT_CATALOG] == [
        ("call", 1),
        ("visit", 3),
        ("demo", 5),
        ("proposal", 5),
        ("negotiation", 5),
        ("contract", 10),
        ("collection", 3),
        ("revisit", 2),
        ("meeting", 0.5),
        ("training", 0.5),
    ]
    assert CATALOG["call"].name.startswith("电话联系 ")
    assert CATALOG["contract"].name.startswith("签订合同 ")
    assert [a.key for a in DEFAULT_CATALOG if not a.needs_customer] == ["meeting", "training"]


def test_default_catalog_stages_are_default_pipeline_keys():
    for activity in DEFAULT_CATALOG:
        assert set(activity.stages) <= set(PIPELINE_KEYS), activity.key
    for key in ("call", "visit", "revisit", "meeting", "training"):
        assert CATALOG[key].stages == ()


def test_call_and_visit_are_plausible_at_every_stage():
    for stage in PIPELINE_KEYS:
        assert CATALOG["call"].allowed_at(stage)
        assert CATALOG["visit"].allowed_at(stage)


def test_activity_with_stages_is_allowed_only_there():
    contract = CATALOG["contract"]
    assert contract.allowed_at("negotiate") and contract.allowed_at("payment")
    assert not contract.allowed_at("contact")
    assert not CATALOG["demo"].allowed_at("contact")
    assert CATALOG["collection"].allowed_at("won")


def test_without_an_opportunity_every_activity_is_allowed():
    assert all(a.allowed_at(None) for a in DEFAULT_CATALOG)


def test_valid_activity_is_parsed():
    activity = domain.parse_activity(
        {
            "key": "site_survey",
            "name": "  现场勘察 Site survey ",
            "points": 4,
            "stages": ["needs", "demo"],
            "needs_customer": True,
        }
    )
    assert activity == Activity("site_survey", "现场勘察 Site survey", 4.0, ("needs", "demo"))
    assert isinstance(activity.points, float)


def test_activity_defaults_to_every_stage_with_a_customer():
    activity = domain.parse_activity({"key": "lunch", "name": "午餐 Lunch", "points": 0})
    assert activity.stages == () and activity.needs_customer is True


def test_activity_survives_the_api_round_trip():
    for activity in DEFAULT_CATALOG:
        assert domain.parse_activity(domain.activity_to_dict(activity)) == activity


def test_activity_points_boundaries():
    assert domain.parse_activity({"key": "a", "name": "A", "points": 0}).points == 0
    assert domain.parse_activity({"key": "a", "name": "A", "points": 1000}).points == 1000
    assert "points" in validation_errors(
        domain.parse_activity, {"key": "a", "name": "A", "points": 1000.5}
    )
    assert "points" in validation_errors(
        domain.parse_activity, {"key": "a", "name": "A", "points": -0.5}
    )


def test_activity_with_every_field_wrong_lists_every_problem():
    errors = validation_errors(
        domain.parse_activity,
        {
            "key": "1bad key",
            "name": "   ",
            "points": True,
            "stages": ["needs", "needs", "no space"],
            "needs_customer": "yes",
        },
    )
    assert set(errors) == {"key", "name", "points", "stages.1", "stages.2", "needs_customer"}
    assert all(" / " in message for messages in errors.values() for message in messages)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"key": None}, "key"),
        ({"key": "x" * 41}, "key"),
        ({"name": "名" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"points": "5"}, "points"),
        ({"points": float("nan")}, "points"),
        ({"points": 10**400}, "points"),
        ({"stages": "needs"}, "stages"),
        ({"stages": [3]}, "stages.0"),
        ({"needs_customer": 1}, "needs_customer"),
    ],
)
def test_bad_activity_field_is_named(changes, field):
    data = {"key": "ok", "name": "好 OK", "points": 1, **changes}
    assert field in validation_errors(domain.parse_activity, data)


def test_activity_must_be_an_object():
    assert "_schema" in validation_errors(domain.parse_activity, ["call"])


# --- the work date -------------------------------------------------------------------------


def test_no_date_means_today_in_the_organisation_time_zone():
    now = shanghai(2026, 3, 10, 15)
    assert domain.resolve_work_date(None, now, SHANGHAI) == (date(2026, 3, 10), False)


def test_today_is_not_late():
    now = shanghai(2026, 3, 10, 23, 59)
    assert domain.resolve_work_date(date(2026, 3, 10), now, SHANGHAI) == (date(2026, 3, 10), False)


def test_yesterday_before_the_grace_hour_is_late():
    now = shanghai(2026, 3, 10, 9, 59)
    assert domain.resolve_work_date(date(2026, 3, 9), now, SHANGHAI) == (date(2026, 3, 9), True)


def test_yesterday_from_the_grace_hour_on_is_too_late():
    now = shanghai(2026, 3, 10, 10, 0)
    error = rule_violation(domain.resolve_work_date, date(2026, 3, 9), now, SHANGHAI)
    assert error.code == "too_late"
    assert error.details == {"work_date": "2026-03-09", "today": "2026-03-10", "grace_hour": 10}


def test_the_day_before_yesterday_is_too_late_even_at_dawn():
    now = shanghai(2026, 3, 10, 0, 1)
    error = rule_violation(domain.resolve_work_date, date(2026, 3, 8), now, SHANGHAI)
    assert error.code == "too_late"


def test_the_grace_hour_is_configurable():
    now = shanghai(2026, 3, 10, 11, 30)
    assert domain.resolve_work_date(date(2026, 3, 9), now, SHANGHAI, grace_hour=12)[1] is True
    error = rule_violation(domain.resolve_work_date, date(2026, 3, 9), now, SHANGHAI, 0)
    assert error.code == "too_late"


def test_future_date_is_refused():
    now = shanghai(2026, 3, 10, 8)
    error = rule_violation(domain.resolve_work_date, date(2026, 3, 11), now, SHANGHAI)
    assert error.code == "future_date"
    assert error.details == {"work_date": "2026-03-11", "today": "2026-03-10"}


def test_utc_evening_is_already_tomorrow_in_shanghai():
    # 16:30 UTC on 10 March is 00:30 on 11 March in Shanghai
    now = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)
    assert domain.resolve_work_date(None, now, SHANGHAI) == (date(2026, 3, 11), False)
    assert domain.resolve_work_date(date(2026, 3, 11), now, SHANGHAI) == (date(2026, 3, 11), False)
    assert domain.resolve_work_date(date(2026, 3, 10), now, SHANGHAI) == (date(2026, 3, 10), True)


def test_utc_morning_is_still_yesterday_in_new_york():
    # 03:00 UTC on 11 March is 23:00 on 10 March in New York: 11 March is the future there
    now = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    assert domain.resolve_work_date(None, now, NEW_YORK) == (date(2026, 3, 10), False)
    error = rule_violation(domain.resolve_work_date, date(2026, 3, 11), now, NEW_YORK)
    assert error.code == "future_date"


def test_grace_hour_is_local_not_utc():
    # 01:59 UTC is 09:59 in Shanghai (late but accepted), 02:00 UTC is 10:00 (too late)
    yesterday = date(2026, 3, 9)
    before = datetime(2026, 3, 10, 1, 59, tzinfo=UTC)
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    assert domain.resolve_work_date(yesterday, before, SHANGHAI) == (yesterday, True)
    assert rule_violation(domain.resolve_work_date, yesterday, at, SHANGHAI).code == "too_late"


def test_work_date_may_be_iso_text():
    now = shanghai(2026, 3, 10, 8)
    assert domain.resolve_work_date("2026-03-09", now, SHANGHAI) == (date(2026, 3, 9), True)


@pytest.mark.parametrize(
    "value", ["2026-3-9", "2026-02-30", "yesterday", 20260309, datetime(2026, 3, 9, tzinfo=UTC)]
)
def test_bad_work_date_is_a_validation_error(value):
    now = shanghai(2026, 3, 10, 8)
    assert "work_date" in validation_errors(domain.resolve_work_date, value, now, SHANGHAI)


# --- minutes, the day's total and the expense ----------------------------------------------


@pytest.mark.parametrize("minutes", [1, 30, 960])
def test_minutes_within_bounds_are_accepted(minutes):
    assert domain.check_minutes(minutes) == minutes


@pytest.mark.parametrize("minutes", [0, -5, 961, True, 30.0, "30", None])
def test_minutes_out_of_bounds_or_not_whole_are_refused(minutes):
    assert list(validation_errors(domain.check_minutes, minutes)) == ["minutes"]


def test_day_total_of_exactly_1440_is_allowed():
    domain.check_day_total(480, 960)
    domain.check_day_total(0, 1)


def test_day_total_over_1440_is_refused():
    error = rule_violation(domain.check_day_total, 481, 960)
    assert error.code == "day_limit_exceeded"
    assert error.details == {"already": 481, "minutes": 960, "limit": 1440}


@pytest.mark.parametrize(
    "value, fen",
    [("0", 0), ("120.50", 12050), (" 99.9 ", 9990), (120, 12000), (1.5, 150), ("0.01", 1)],
)
def test_money_is_parsed_to_fen(value, fen):
    assert domain.parse_money(value) == fen


@pytest.mark.parametrize(
    "value", [True, None, "", "abc", "-1", -0.01, "1.001", "NaN", "Infinity", [1], "1e20"]
)
def test_bad_money_is_a_validation_error_on_its_field(value):
    assert list(validation_errors(lambda v: domain.parse_money(v, "expense"), value)) == ["expense"]
    assert list(validation_errors(domain.parse_money, value, "difficulty.amount")) == [
        "difficulty.amount"
    ]


def test_expense_up_to_the_cap_is_allowed():
    domain.check_expense(0, 50_000)
    domain.check_expense(50_000, 50_000)


def test_expense_over_the_cap_is_refused():
    error = rule_violation(domain.check_expense, 50_001, 50_000)
    assert error.code == "expense_over_cap"
    assert error.details == {"expense": "500.01", "cap": "500.00"}


# --- activities, customer and opportunity --------------------------------------------------


def test_ticked_activities_come_back_in_order():
    chosen = domain.check_activities(["visit", "call"], CATALOG, "contact", True)
    assert [a.key for a in chosen] == ["visit", "call"]


def test_at_least_one_activity_is_needed():
    assert "activities" in validation_errors(domain.check_activities, [], CATALOG, None, True)


@pytest.mark.parametrize("keys", [None, "call", ["call", 3], {"call": True}])
def test_activities_must_be_a_list_of_keys(keys):
    assert "activities" in validation_errors(domain.check_activities, keys, CATALOG, None, True)


def test_unknown_activities_are_named():
    errors = validation_errors(
        domain.check_activities, ["call", "golf", "karaoke"], CATALOG, None, True
    )
    assert list(errors) == ["activities"]
    assert "golf" in errors["activities"][0] and "karaoke" in errors["activities"][0]


def test_activities_must_be_distinct():
    errors = validation_errors(domain.check_activities, ["call", "call"], CATALOG, None, True)
    assert list(errors) == ["activities"]


def test_customer_activity_without_customer_is_refused():
    errors = validation_errors(domain.check_activities, ["meeting", "call"], CATALOG, None, False)
    assert list(errors) == ["customer_id"]
    assert "call" in errors["customer_id"][0] and "meeting" not in errors["customer_id"][0]


def test_internal_activities_need_no_customer():
    chosen = domain.check_activities(["meeting", "training"], CATALOG, None, False)
    assert [a.key for a in chosen] == ["meeting", "training"]


def test_activity_not_plausible_at_the_stage_is_refused():
    error = rule_violation(
        domain.check_activities, ["call", "contract", "demo"], CATALOG, "contact", True
    )
    assert error.code == "activity_not_allowed"
    assert error.details == {"activities": ["contract", "demo"], "stage": "contact"}


def test_activity_at_its_stage_is_accepted():
    chosen = domain.check_activities(["contract", "collection"], CATALOG, "payment", True)
    assert [a.key for a in chosen] == ["contract", "collection"]


def test_a_custom_catalog_is_used():
    catalog = {"survey": Activity("survey", "勘察 Survey", 2, ("needs",))}
    assert domain.check_activities(["survey"], catalog, "needs", True)[0].key == "survey"
    assert "activities" in validation_errors(domain.check_activities, ["call"], catalog, None, True)


def test_holder_may_log_on_the_opportunity():
    domain.check_holder("u1", "u1")


def test_unknown_opportunity_is_a_validation_error():
    assert list(validation_errors(domain.check_holder, None, "u1")) == ["opportunity_id"]


def test_opportunity_held_by_someone_else_is_refused():
    assert rule_violation(domain.check_holder, "u2", "u1").code == "opportunity_not_held"


# --- the difficulty report -----------------------------------------------------------------


def test_no_difficulty_is_none():
    assert domain.difficulty_in(None) is None


def test_difficulty_is_normalised():
    assert domain.difficulty_in(
        {"category": " price ", "description": " 太贵 Too dear ", "amount": "123"}
    ) == {"category": "price", "description": "太贵 Too dear", "analysis": "", "amount": "123.00"}
    assert (
        domain.difficulty_in(
            {"category": "other", "description": "d", "analysis": "  ", "amount": 5.5}
        )["amount"]
        == "5.50"
    )


def test_difficulty_with_every_field_wrong_lists_every_problem():
    errors = validation_errors(
        domain.difficulty_in,
        {
            "category": "c" * 65,
            "description": " ",
            "analysis": "a" * 5001,
            "amount": "-1",
            "extra": 1,
        },
    )
    assert set(errors) == {
        "difficulty.category",
        "difficulty.description",
        "difficulty.analysis",
        "difficulty.amount",
        "difficulty.extra",
    }


def test_difficulty_needs_category_and_description():
    errors = validation_errors(domain.difficulty_in, {})
    assert set(errors) == {"difficulty.category", "difficulty.description"}


def test_difficulty_boundaries():
    report = domain.difficulty_in(
        {"category": "c" * 64, "description": "d" * 2000, "analysis": "a" * 5000}
    )
    assert report["amount"] is None


@pytest.mark.parametrize("data", ["price", ["price"], 5])
def test_difficulty_must_be_an_object(data):
    assert list(validation_errors(domain.difficulty_in, data)) == ["difficulty"]


# --- the hash chain ------------------------------------------------------------------------

T0 = datetime(2026, 3, 10, 1, 2, 3, 456789, tzinfo=UTC)


def entry(n: int, **changes) -> dict:
    data = {
        "id": n,
        "author_id": "u1",
        "work_date": date(2026, 3, 10),
        "recorded_at": T0 + timedelta(minutes=n),
        "late": False,
        "customer_id": "c1",
        "opportunity_id": "o1",
        "stage": "needs",
        "activities": ["call", "visit"],
        "minutes": 30,
        "expense_fen": 1250,
        "note": "见了采购 Met purchasing",
        "next_appointment_at": datetime(2026, 3, 12, 2, 0, tzinfo=UTC),
        "difficulty": None,
    }
    data.update(changes)
    return data


def chain(entries: list[dict]) -> list[tuple[dict, str, str | None]]:
    rows, prev = [], None
    for fields in entries:
        digest = domain.chain_hash(prev, fields)
        rows.append((fields, digest, prev))
        prev = digest
    return rows


def test_canonical_is_compact_sorted_json_of_the_immutable_fields():
    text = domain.canonical({**entry(1), "hash": "x", "prev_hash": "y", "notes": [], "alarm_id": 3})
    data = json.loads(text)
    assert list(data) == sorted(domain.CANONICAL_FIELDS)
    assert "id" not in data and data["work_date"] == "2026-03-10"
    assert data["recorded_at"] == "2026-03-10T01:03:03.456789+00:00"
    assert data["next_appointment_at"] == "2026-03-12T02:00:00.000000+00:00"
    assert "见了采购" in text and ", " not in text and ": " not in text


def test_canonical_is_the_same_for_text_and_native_values():
    native = entry(
        7,
        difficulty={"category": "price", "description": "贵", "analysis": "", "amount": "1.00"},
    )
    stored = {
        **native,
        "id": "7",
        "work_date": "2026-03-10",
        "recorded_at": "2026-03-10T09:09:03.456789+08:00",
        "next_appointment_at": "2026-03-12T02:00:00Z",
        "difficulty": {"amount": "1.00", "analysis": "", "description": "贵", "category": "price"},
        "minutes": "30",
        "late": 0,
    }
    assert domain.canonical(stored) == domain.canonical(native)


def test_canonical_treats_naive_times_as_utc_and_missing_expense_as_zero():
    naive = entry(1, recorded_at=T0.replace(tzinfo=None) + timedelta(minutes=1), expense_fen=None)
    assert domain.canonical(naive) == domain.canonical(entry(1, expense_fen=0))


def test_canonical_refuses_unreadable_times():
    with pytest.raises(ValueError):
        domain.canonical(entry(1, recorded_at="yesterday-ish"))


def test_chain_hash_is_sha256_over_prev_and_canonical():
    fields = entry(1)
    expected = hashlib.sha256(("\n" + domain.canonical(fields)).encode()).hexdigest()
    assert domain.chain_hash(None, fields) == expected
    assert domain.chain_hash("", fields) == expected
    linked = hashlib.sha256(("abc\n" + domain.canonical(fields)).encode()).hexdigest()
    assert domain.chain_hash("abc", fields) == linked
    assert len(expected) == 64


def test_each_link_depends_on_the_previous_hash():
    rows = chain([entry(1), entry(2)])
    assert rows[1][2] == rows[0][1]
    assert domain.chain_hash("0" * 64, entry(2)) != rows[1][1]


def test_a_whole_chain_verifies():
    assert domain.first_broken(chain([entry(n) for n in range(1, 6)])) is None


def test_an_empty_chain_is_whole():
    assert domain.first_broken([]) is None


@pytest.mark.parametrize(
    "change",
    [
        {"minutes": 31},
        {"expense_fen": 1251},
        {"activities": ["call"]},
        {"note": "改过 Edited"},
        {"late": True},
        {"recorded_at": T0 + timedelta(minutes=3, microseconds=1)},
        {"work_date": date(2026, 3, 9)},
        {"difficulty": {"category": "price"}},
    ],
)
def test_altering_one_field_of_an_entry_names_it(change):
    rows = chain([entry(n) for n in range(1, 6)])
    fields, digest, prev = rows[2]
    rows[2] = ({**fields, **change}, digest, prev)
    assert domain.first_broken(rows) == 3


def test_a_tampered_first_entry_is_named():
    rows = chain([entry(1), entry(2)])
    rows[0] = ({**rows[0][0], "minutes": 960}, rows[0][1], None)
    assert domain.first_broken(rows) == 1


def test_a_rehashed_entry_breaks_the_next_link():
    # a forger recomputes entry 3's hash after editing it; entry 4 still points at the old one
    rows = chain([entry(n) for n in range(1, 6)])
    edited = entry(3, minutes=5)
    rows[2] = (edited, domain.chain_hash(rows[2][2], edited), rows[2][2])
    assert domain.first_broken(rows) == 4


def test_a_removed_entry_breaks_the_chain_at_its_successor():
    rows = chain([entry(n) for n in range(1, 6)])
    del rows[1]
    assert domain.first_broken(rows) == 3


def test_a_first_entry_with_a_prev_hash_is_broken():
    rows = chain([entry(1)])
    assert domain.first_broken([(rows[0][0], rows[0][1], "f" * 64)]) == 1


def test_an_unreadable_entry_is_broken_not_an_error():
    rows = chain([entry(1), entry(2)])
    rows[1] = ({**rows[1][0], "recorded_at": "garbage"}, rows[1][1], rows[1][2])
    assert domain.first_broken(rows) == 2


def test_notes_and_alarm_do_not_break_the_chain():
    rows = chain([entry(1), entry(2)])
    rows[0] = ({**rows[0][0], "notes": [{"text": "补充"}], "alarm_id": 9}, rows[0][1], None)
    assert domain.first_broken(rows) is None


def test_stored_text_values_verify_a_chain_built_from_native_values():
    rows = chain([entry(1), entry(2)])
    stored = [
        (
            {
                **fields,
                "id": str(fields["id"]),
                "work_date": fields["work_date"].isoformat(),
                "recorded_at": fields["recorded_at"].astimezone(SHANGHAI).isoformat(),
            },
            digest,
            prev,
        )
        for fields, digest, prev in rows
    ]
    assert domain.first_broken(stored) is None
