"""The event envelope and the payload contracts, kept in one place.

Every event is published to the topic exchange ``<producer>.events`` with the event type as
routing key, and carries the envelope ``event_id, type, version, occurred_at, producer, data``.
A payload is validated against its contract when it is written to the outbox, so a producer
cannot publish what its consumers would not understand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

from common import clock


class Payload(Schema):
    class Meta:
        unknown = RAISE


class _UserRef(Payload):
    user_id = fields.String(required=True)


class UserCreated(_UserRef):
    login = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.Integer(required=True)
    org_unit_id = fields.String(allow_none=True)
    supervisor_id = fields.String(allow_none=True)
    path = fields.List(fields.String(), required=True)


class UserMoved(_UserRef):
    old_path = fields.List(fields.String(), required=True)
    new_path = fields.List(fields.String(), required=True)
    level = fields.Integer(required=True)
    org_unit_id = fields.String(allow_none=True)
    supervisor_id = fields.String(allow_none=True)


class UserDeactivated(_UserRef):
    """Everything the user holds passes to ``supervisor_id`` (path ``supervisor_path``)."""

    supervisor_id = fields.String(required=True)
    supervisor_path = fields.List(fields.String(), required=True)
    path = fields.List(fields.String(), required=True)


class CustomerRegistered(Payload):
    """A customer as the other services mirror it (the customer ``facts`` answer the same)."""

    customer_id = fields.String(required=True)
    name = fields.String(required=True)
    owner_id = fields.String(required=True)
    referred_by = fields.String(allow_none=True)
    industry = fields.String(allow_none=True, load_default=None)  # for the experience pool
    owner_path = fields.List(fields.String(), load_default=None)  # supervisor chain top → owner
    status = fields.String(load_default="prospect")  # prospect | customer (care)
    at = fields.String(load_default=None)  # when the customer last changed hands
    changed_at = fields.String(load_default=None)  # the same, to the microsecond


class CustomerHandedOver(Payload):
    customer_id = fields.String(required=True)
    from_owner_id = fields.String(required=True)
    to_owner_id = fields.String(required=True)
    reason = fields.String(required=True)
    to_owner_path = fields.List(fields.String(), load_default=None)
    at = fields.String(load_default=None)
    changed_at = fields.String(load_default=None)


class CustomersImported(Payload):
    """A page of imported customers (bulk import, demo data): each item what
    ``customer_registered`` carries, so every projection learns them the same way."""

    items = fields.List(fields.Nested(CustomerRegistered), required=True)


class OpportunityFact(Payload):
    """What every opportunity event carries: enough for scoring, alerts, customer care and the
    workbench to act without asking back (holder_path is the supervisor chain top → holder)."""

    opportunity_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    pipeline_id = fields.String(required=True)
    title = fields.String(required=True)
    amount = fields.String(required=True)  # decimal string, yuan
    owner_id = fields.String(required=True)
    holder_id = fields.String(required=True)
    holder_path = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    stage = fields.String(required=True)
    stage_index = fields.Integer(required=True)
    probability = fields.Integer(required=True)  # configured probability of the stage
    stage_deadline = fields.String(allow_none=True)
    at = fields.String(required=True)
    by = fields.String(required=True)  # a user id, or "system" for the sweep
    owner_path = fields.List(fields.String(), load_default=None)  # chain top → owner
    # ``at`` to the microsecond: projections order a record's changes by it (two changes within
    # one second would look alike by ``at``, which keeps whole seconds for scoring's keys)
    changed_at = fields.String(load_default=None)
    # who it was confiscated from, while a supervisor holds it (they still read it)
    original_owner_id = fields.String(allow_none=True, load_default=None)


class OpportunitiesImported(Payload):
    """A page of imported opportunities (bulk import, demo data): each item the fact every
    opportunity event carries, as the opportunity stands after its imported history."""

    items = fields.List(fields.Nested(OpportunityFact), required=True)


class OpportunityRegistered(OpportunityFact):
    feasibility_score = fields.Float(required=True)


class StageAdvanced(OpportunityFact):
    from_stage = fields.String(required=True)
    note = fields.String(allow_none=True)


class DeadlineApproaching(OpportunityFact):
    pass


class OpportunityConfiscated(OpportunityFact):
    """``action``: confiscated (stage deadline or follow-up passed), escalated (a supervisor
    missed the decision deadline), handed_over (the holder left), flagged (top of the chain
    keeps it)."""

    action = fields.String(required=True)
    reason = fields.String(required=True)
    from_holder_id = fields.String(required=True)
    from_holder_path = fields.List(fields.String(), required=True)
    original_owner_id = fields.String(allow_none=True)
    decision_deadline = fields.String(allow_none=True)


class OpportunityDecided(OpportunityFact):
    action = fields.String(required=True)  # keep | return | reassign
    decided_by = fields.String(required=True)
    original_owner_id = fields.String(allow_none=True)


class OpportunityClosed(OpportunityFact):
    """won, loss_requested and lost."""

    reason = fields.String(allow_none=True)
    analysis = fields.String(allow_none=True)
    approved_by = fields.String(allow_none=True)


class EntryRecorded(Payload):
    """A work-log entry (immutable): what scoring, alerts, customer care and the opportunity
    clock (follow-up limit) need. ``author_path`` is the supervisor chain top → author."""

    entry_id = fields.String(required=True)
    author_id = fields.String(required=True)
    author_path = fields.List(fields.String(), required=True)
    work_date = fields.String(required=True)  # YYYY-MM-DD in the organisation's time zone
    recorded_at = fields.String(required=True)
    late = fields.Boolean(required=True)
    customer_id = fields.String(allow_none=True)
    opportunity_id = fields.String(allow_none=True)
    stage = fields.String(allow_none=True)
    activities = fields.List(fields.String(), required=True)
    points = fields.Float(required=True)
    minutes = fields.Integer(required=True)
    expense = fields.String(required=True)  # decimal string, yuan
    next_appointment_at = fields.String(allow_none=True)
    difficulty = fields.Dict(allow_none=True)


class EntriesImported(Payload):
    """A page of imported work-log entries (bulk import, demo data): each item what
    ``entry_recorded`` carries."""

    items = fields.List(fields.Nested(EntryRecorded), required=True)


class VisitDenied(Payload):
    """A customer-care revisit found that a claimed visit did not happen (铁的证据): the log
    entry becomes proven false in scoring."""

    entry_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    author_id = fields.String(required=True)
    denied_by = fields.String(required=True)
    revisit_id = fields.String(allow_none=True)
    at = fields.String(required=True)


class ReminderDue(Payload):
    """A care reminder that is current today (docs/DOMAIN.md §7), sent once per reminder and day to
    whoever should act: for a notifier (mail, SMS, 企业微信) to pass on."""

    reminder_key = fields.String(required=True)
    sent_on = fields.String(required=True)  # YYYY-MM-DD, the organisation's day
    kind = fields.String(required=True)
    date = fields.String(required=True)
    customer_id = fields.String(required=True)
    contact_id = fields.String(allow_none=True)
    label = fields.String(required=True)
    user_id = fields.String(required=True)  # the customer's owner, or the appointment's author
    user_path = fields.List(fields.String(), required=True)
    overdue = fields.Boolean(load_default=False)


class AlarmFact(Payload):
    """What every alarm event carries (``requester_path``: supervisor chain top → requester)."""

    alarm_id = fields.String(required=True)
    requester_id = fields.String(required=True)
    requester_path = fields.List(fields.String(), required=True)
    raised_at = fields.String(required=True)
    category = fields.String(required=True)
    kind = fields.String(required=True)  # sales | service
    stage = fields.String(allow_none=True)
    opportunity_id = fields.String(allow_none=True)
    customer_id = fields.String(allow_none=True)
    status = fields.String(required=True)  # open | resolved


class AlarmRaised(AlarmFact):
    amount = fields.String(allow_none=True)
    description = fields.String(required=True)
    analysis = fields.String(required=True)
    source_entry_id = fields.String(allow_none=True)
    suggestion_ids = fields.List(fields.String(), required=True)


class ResponsePosted(AlarmFact):
    response_id = fields.String(required=True)
    author_id = fields.String(required=True)
    posted_at = fields.String(required=True)
    first_support = fields.Boolean(required=True)  # the first response by someone else


class AlarmResolved(AlarmFact):
    """方法有效: ``via`` response (``response_id``, its ``method`` and author) or suggestion
    (``experience_id``: one reuse of that pool entry). ``contributors``: everyone but the
    requester who responded, in the order of their first response."""

    resolved_at = fields.String(required=True)
    via = fields.String(required=True)
    response_id = fields.String(allow_none=True)
    experience_id = fields.String(allow_none=True)
    description = fields.String(required=True)
    analysis = fields.String(required=True)
    method = fields.String(required=True)
    method_author_id = fields.String(allow_none=True)
    contributors = fields.List(fields.String(), required=True)
    industry = fields.String(allow_none=True)
    hours_to_resolution = fields.Float(allow_none=True)


class AlarmEscalated(AlarmFact):
    step = fields.Integer(required=True)
    notified_id = fields.String(required=True)
    notified_level = fields.Integer(required=True)
    reason = fields.String(required=True)  # no_response | unresolved
    due_at = fields.String(required=True)
    description = fields.String(required=True)


class CategoryChanged(Payload):
    key = fields.String(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)


class AuditableAccess(Payload):
    """A read of protected data that must land in org's append-only audit log."""

    actor_id = fields.String(required=True)
    action = fields.String(required=True)
    target_type = fields.String(required=True)
    target_id = fields.String(allow_none=True)
    details = fields.Dict(load_default=dict)
    at = fields.String(required=True)


class ProbeEvent(Payload):
    """A diagnostic event every service consumes: checks the event path end to end.

    ``fail_until`` (RFC 3339) makes the handlers fail until that moment, to exercise retry,
    dead-lettering and replay; ``outage_until`` makes them fail as if their database were
    unreachable until then (an outage: retried for as long as it lasts, never parked).
    """

    probe_id = fields.String(required=True)
    fail_until = fields.String(allow_none=True)
    outage_until = fields.String(allow_none=True)


CONTRACTS: dict[tuple[str, str], type[Payload]] = {
    ("org", "user_created"): UserCreated,
    ("org", "user_moved"): UserMoved,
    ("org", "user_deactivated"): UserDeactivated,
    ("customer", "customer_registered"): CustomerRegistered,
    ("customer", "customer_handed_over"): CustomerHandedOver,
    ("customer", "customers_imported"): CustomersImported,
    ("customer", "contact_unmasked"): AuditableAccess,
    ("customer", "customers_exported"): AuditableAccess,
    ("customer", "visit_denied"): VisitDenied,
    ("customer", "reminder_due"): ReminderDue,
    ("opportunity", "registered"): OpportunityRegistered,
    ("opportunity", "stage_advanced"): StageAdvanced,
    ("opportunity", "deadline_approaching"): DeadlineApproaching,
    ("opportunity", "confiscated"): OpportunityConfiscated,
    ("opportunity", "decided"): OpportunityDecided,
    ("opportunity", "won"): OpportunityClosed,
    ("opportunity", "loss_requested"): OpportunityClosed,
    ("opportunity", "lost"): OpportunityClosed,
    ("opportunity", "opportunities_imported"): OpportunitiesImported,
    ("worklog", "entry_recorded"): EntryRecorded,
    ("worklog", "entries_imported"): EntriesImported,
    ("alerts", "alarm_raised"): AlarmRaised,
    ("alerts", "response_posted"): ResponsePosted,
    ("alerts", "alarm_resolved"): AlarmResolved,
    ("alerts", "alarm_escalated"): AlarmEscalated,
    ("alerts", "category_changed"): CategoryChanged,
}
# every service can emit a probe event, consumed by org and customer for end-to-end checks
for _svc in ("org", "customer", "opportunity", "worklog", "alerts", "experience", "scoring"):
    CONTRACTS[(_svc, "probe")] = ProbeEvent


class UnknownEventType(ValueError):
    pass


_strict: dict[type[Payload], Payload] = {}
_lenient: dict[type[Payload], Payload] = {}


def _schema(schema_cls: type[Payload], cache: dict, **options) -> Payload:
    """One schema instance per contract (marshmallow schemas are reusable; building one per
    event costs more than validating it)."""
    schema = cache.get(schema_cls)
    if schema is None:
        schema = cache[schema_cls] = schema_cls(**options)
    return schema


def validate_payload(producer: str, event_type: str, data: dict) -> dict:
    schema_cls = CONTRACTS.get((producer, event_type))
    if schema_cls is None:
        raise UnknownEventType(f"no contract for {producer}.{event_type}")
    errors = _schema(schema_cls, _strict).validate(data)
    if errors:
        raise ValidationError(errors)
    return data


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    version: int
    occurred_at: str
    producer: str
    data: dict
    # set by the consuming entrypoint: the handler that received it (not part of the message)
    consumer: str = ""

    @classmethod
    def new(cls, producer: str, event_type: str, data: dict, version: int = 1) -> Envelope:
        return cls(
            event_id=str(uuid.uuid4()),
            type=event_type,
            version=version,
            occurred_at=clock.now().isoformat(),
            producer=producer,
            data=data,
        )

    @classmethod
    def from_message(cls, body: dict) -> Envelope:
        return cls(**{k: body[k] for k in cls.__dataclass_fields__ if k != "consumer"})

    def to_message(self) -> dict:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "producer": self.producer,
            "data": self.data,
        }

    def payload(self) -> dict:
        """The data loaded through its contract (unknown fields of newer versions ignored)."""
        schema_cls = CONTRACTS.get((self.producer, self.type))
        if schema_cls is None:
            return self.data
        return _schema(schema_cls, _lenient, unknown=EXCLUDE).load(self.data)


def exchange_name(service: str) -> str:
    return f"{service}.events"


# Events whose routing key carries facets of their data after the type, so that the broker
# hands each consumer only the events it acts on: the opportunity service gets only the log
# entries made on an opportunity, not every entry (a message it would decode and drop).
# An entry on an opportunity, with no difficulty and no appointment, is routed as
# ``entry_recorded.opportunity.-.-``; consumers bind ``entry_recorded.#`` (everything) or a
# pattern such as ``entry_recorded.opportunity.*.*``.
FACETS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("worklog", "entry_recorded"): (
        ("opportunity_id", "opportunity"),
        ("difficulty", "difficulty"),
        ("next_appointment_at", "appointment"),
    ),
}


def routing_key(producer: str, event_type: str, data: dict) -> str:
    """The routing key an event is published with: its type, then its facets if it has any."""
    facets = FACETS.get((producer, event_type))
    if not facets:
        return event_type
    return ".".join([event_type, *(word if data.get(field) else "-" for field, word in facets)])


def binding(producer: str, event_type: str, having: tuple[str, ...] = ()) -> str:
    """The binding of a consumer of ``event_type`` that wants only events whose data fields
    ``having`` are set (all of them when empty)."""
    facets = FACETS.get((producer, event_type), ())
    unknown = set(having) - {field for field, _ in facets}
    if unknown:
        raise ValueError(f"{producer}.{event_type} is not routed by {sorted(unknown)}")
    if not facets:
        return event_type
    if not having:
        return f"{event_type}.#"  # "#" matches no word too: a key without facets still arrives
    return ".".join([event_type, *(word if field in having else "*" for field, word in facets)])
