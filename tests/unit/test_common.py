"""The shared building blocks, without broker or services."""

from datetime import timedelta

import pytest
from marshmallow import ValidationError
from nameko.exceptions import deserialize, serialize

from common import clock
from common.actor import Actor
from common.errors import DuplicateCustomer, QuotaExceeded
from common.events import Envelope, UnknownEventType, validate_payload


@pytest.mark.parametrize(
    "text,expected",
    [
        ("P14D", timedelta(days=14)),
        ("PT2S", timedelta(seconds=2)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("-P1D", timedelta(days=-1)),
    ],
)
def test_iso_durations_parse_exactly(text, expected):
    assert clock.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "14D", "P1M", "P1Y", "PT1H2", "P-1D", "soon"])
def test_durations_without_a_fixed_length_or_malformed_are_refused(text):
    with pytest.raises(clock.InvalidDuration):
        clock.parse_duration(text)


def test_durations_round_trip_through_their_text():
    for delta in (timedelta(days=7), timedelta(seconds=2), timedelta(days=1, minutes=5)):
        assert clock.parse_duration(clock.format_duration(delta)) == delta


def test_times_are_shown_in_the_organisation_time_zone():
    moment = clock.now()
    shown = clock.isoformat(moment)
    assert shown.endswith("+08:00")  # Asia/Shanghai by default


def test_domain_errors_survive_the_rpc_boundary_with_their_details():
    error = DuplicateCustomer(
        details={"customer_id": "7", "owner": {"level": 2, "masked_name": "张*"}}
    )
    back = deserialize(serialize(error))
    assert isinstance(back, DuplicateCustomer)
    assert back.status == 409 and back.code == "duplicate_customer"
    assert back.details == {"customer_id": "7", "owner": {"level": 2, "masked_name": "张*"}}
    quota = deserialize(serialize(QuotaExceeded(details={"limit": 20, "used": 20})))
    assert quota.status == 429 and quota.details["limit"] == 20


def test_an_event_payload_must_match_its_contract():
    validate_payload(
        "org",
        "user_deactivated",
        {
            "user_id": "3",
            "supervisor_id": "2",
            "supervisor_path": ["1", "2"],
            "path": ["1", "2", "3"],
        },
    )
    with pytest.raises(ValidationError):
        validate_payload("org", "user_deactivated", {"user_id": "3"})
    with pytest.raises(ValidationError):
        validate_payload("org", "probe", {"probe_id": "x", "surprise": 1})
    with pytest.raises(UnknownEventType):
        validate_payload("org", "no_such_event", {})


def test_envelopes_carry_identity_and_time():
    env = Envelope.new("org", "probe", {"probe_id": "p"})
    message = env.to_message()
    assert set(message) == {"event_id", "type", "version", "occurred_at", "producer", "data"}
    assert Envelope.from_message(message) == env


def test_subordinates_are_visible_from_level_four_only():
    lead = Actor(id="5", level=4, path=["1", "5"])
    rep = Actor(id="9", level=2, path=["1", "5", "9"])
    peer = Actor(id="6", level=4, path=["1", "6"])
    assert lead.may_see_owner("9", "/1/5/9/")
    assert not peer.may_see_owner("9", "/1/5/9/")
    assert not rep.may_see_owner("12", "/1/5/12/")
    assert rep.may_see_owner("9", "/1/5/9/")
    low = Actor(id="5", level=3, path=["1", "5"])
    assert not low.may_see_owner("9", "/1/5/9/")
    assert Actor(id="1", level=9, path=["1"]).may_see_owner("42", "/7/42/")


def test_actor_travels_as_a_header():
    actor = Actor(id="5", level=4, org_unit_id="2", path=["1", "5"], name="王主管")
    assert Actor.from_header(actor.to_header()) == actor


def test_consumer_bindings_follow_the_routing_facets():
    from common.events import binding

    assert binding("worklog", "entry_recorded") == "entry_recorded.#"
    assert binding("worklog", "entry_recorded", ("opportunity_id",)) == (
        "entry_recorded.opportunity.*.*"
    )
    assert binding("worklog", "entry_recorded", ("difficulty", "next_appointment_at")) == (
        "entry_recorded.*.difficulty.appointment"
    )
    assert binding("org", "user_created") == "user_created"  # no facets: the type
    with pytest.raises(ValueError):
        binding("worklog", "entry_recorded", ("minutes",))
    with pytest.raises(ValueError):
        binding("org", "user_created", ("level",))


def test_the_processes_of_one_bpc_share_the_database_server_s_connections():
    """``bpc run`` on PostgreSQL: however many instances, the processes together stay within
    BPC_DB_CONNECTIONS (a refused connection would be a 503), each with at least two."""
    from common import config

    for processes, budget in ((8, 80), (16, 80), (16, 40), (48, 40)):
        pool, overflow = config.pool_share(processes, budget)
        assert pool >= 1 and pool + overflow >= 2
        if budget // processes >= 2:
            assert processes * (pool + overflow) <= budget


# ---- a database failure in any RPC ------------------------------------------------------------


def test_a_database_failure_in_any_rpc_answers_503_and_nothing_else_changes():
    import sys

    import nameko.rpc
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from common.errors import ServiceUnavailable, ValidationFailed
    from common.service import _handle_result, database_errors_as_unavailable

    assert nameko.rpc.Rpc.handle_result is _handle_result  # every service's every RPC
    for failure in (OperationalError("SELECT 1", {}, Exception("database is locked")),
                    PoolTimeout("QueuePool limit reached")):  # fmt: skip
        try:
            raise failure
        except Exception:  # noqa: BLE001
            kind, exc, _ = database_errors_as_unavailable(sys.exc_info())
        assert kind is ServiceUnavailable and exc.status == 503 and exc.__cause__ is failure
    refused = ValidationFailed(details={"name": ["required"]})
    kept = (ValidationFailed, refused, None)
    assert database_errors_as_unavailable(kept) is kept
    assert database_errors_as_unavailable(None) is None
