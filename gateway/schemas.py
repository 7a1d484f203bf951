"""What comes in and goes out of the gateway: marshmallow schemas.

Request and query schemas validate every call (unknown body fields → 422); response schemas
document the answers in the OpenAPI spec. Both come from here, so the spec cannot drift from
the validation.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from typing import ClassVar

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

# Ids are strings on the wire; every service numbers its rows with positive integers that fit
# a 32-bit column, so anything else names nothing (a path id → 404, a body/query id → 422).
ID_REGEX = r"^[1-9][0-9]{0,9}$"
MAX_ID = 2**31 - 1
_ID = re.compile(ID_REGEX)
# a calendar month, YYYY-MM (01–12)
MONTH_REGEX = r"^[1-9][0-9]{3}-(?:0[1-9]|1[0-2])$"


def is_valid_id(value: str) -> bool:
    return bool(_ID.match(value)) and int(value) <= MAX_ID


class Id(fields.String):
    """An id: a string of digits (integers are accepted and turned into strings)."""

    default_error_messages: ClassVar[dict] = {"invalid_id": "不是有效的编号 / Not a valid id"}

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault("pattern", ID_REGEX)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_valid_id(text):
            raise self.make_error("invalid_id")
        return text


class StrictBoolean(fields.Boolean):
    """true or false only: no 1, "yes" or "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: no strings, floats or booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return value


class StrictNumber(fields.Number):
    """A finite JSON number: no strings or booleans."""

    num_type = float

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise self.make_error("invalid", input=value)
        return value


class Money(fields.Field):
    """Money: a decimal string with at most two decimals (``"120000.00"``) or a JSON number;
    passed on as that decimal string (the service counts in fen)."""

    MAX = Decimal("999999999999.99")
    _TEXT = re.compile(r"^[0-9]{1,12}(?:\.[0-9]{1,2})?$")
    default_error_messages: ClassVar[dict] = {
        "invalid": "金额须为不小于 0、最多两位小数的数 / "
        "Amount must be a number ≥ 0 with at most two decimals",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault(
            "oneOf",
            [
                {"type": "string", "pattern": self._TEXT.pattern},
                {"type": "number", "minimum": 0, "maximum": float(self.MAX)},
            ],
        )
        kwargs["metadata"].setdefault("description", "at most two decimals")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if not self._TEXT.match(value.strip()):
                raise self.make_error("invalid")
            amount = Decimal(value.strip())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise self.make_error("invalid")
            amount = Decimal(str(value))
        else:
            raise self.make_error("invalid")
        if amount < 0 or amount > self.MAX or amount != amount.quantize(Decimal("0.01")):
            raise self.make_error("invalid")
        return str(abs(amount).quantize(Decimal("0.01")))  # abs: no "-0.00"


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _optional_text(max_length: int) -> fields.String:
    return fields.String(
        validate=validate.Length(max=max_length), allow_none=True, load_default=None
    )


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Query(Schema):
    """Query strings: unknown parameters (cache busters, tracking) are ignored."""

    class Meta:
        unknown = EXCLUDE


class PageQuery(Query):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "1..500, default 50"},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "opaque"},
    )


# ---- errors, health ---------------------------------------------------------------------


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class Health(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "degraded"]})
    services = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


# ---- org ----------------------------------------------------------------------------------


class LoginRequest(Strict):
    login = _text(64, required=True)
    password = _text(256, required=True)
    totp_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=12),
        metadata={"description": "动态码（已启用时）/ The authenticator's code, when enabled"},
    )  # fmt: skip


class RefreshRequest(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class ChangePasswordRequest(Strict):
    old_password = _text(256, required=True)
    new_password = _text(256, required=True)


class TotpCodeRequest(Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=12))


class TotpDisableRequest(TotpCodeRequest):
    password = _text(256, required=True)


class SignedOut(Schema):
    ended_sessions = fields.Integer(required=True)
    user_id = fields.String()


class SignedInSession(Schema):
    id = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_refreshed_at = fields.DateTime(required=True)
    address = fields.String(allow_none=True)
    agent = fields.String(allow_none=True)
    current = fields.Boolean(required=True, metadata={"description": "the token's own session"})


class SessionPage(Schema):
    items = fields.List(fields.Nested(SignedInSession), required=True)


class PasswordReset(Schema):
    user_id = fields.String(required=True)
    temporary_password = fields.String(required=True, metadata={"description": "shown once"})
    expires_at = fields.DateTime(required=True)
    ended_sessions = fields.Integer(required=True)


class TotpSetup(Schema):
    secret = fields.String(required=True, metadata={"description": "base32, to type by hand"})
    otpauth_uri = fields.String(required=True)
    qr_svg = fields.String(required=True, metadata={"description": "data:image/svg+xml URI"})
    enabled = fields.Boolean(required=True)


class TotpState(Schema):
    enabled = fields.Boolean(required=True)


class LoginLock(Schema):
    scope = fields.String(required=True, metadata={"enum": ["account", "address"]})
    key = fields.String(required=True, metadata={"description": "the login name, or the address"})
    failures = fields.Integer(required=True)
    locked_until = fields.DateTime(required=True)
    retry_after = fields.Integer(required=True, metadata={"description": "seconds"})
    user_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class LoginLockPage(Schema):
    items = fields.List(fields.Nested(LoginLock), required=True)


class UnlockResult(Schema):
    user_id = fields.String(required=True)
    unlocked = fields.Boolean(required=True, metadata={"description": "false: it was not locked"})


class User(Schema):
    id = fields.String(required=True)
    login = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.Integer(required=True)
    org_unit_id = fields.String(allow_none=True)
    supervisor_id = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class Me(User):
    must_change_password = fields.Boolean(
        metadata={"description": "须先修改临时密码 / A reset password must be changed first"}
    )
    totp_enabled = fields.Boolean(metadata={"description": "动态码已启用 / Second factor on"})
    today = fields.Date(
        required=True, metadata={"description": "今天（组织时区）/ The organisation's date today"}
    )
    timezone = fields.String(
        required=True, metadata={"description": "组织时区 / The time zone, e.g. Asia/Shanghai"}
    )


class LoginResult(Schema):
    token = fields.String(required=True, metadata={"description": "access token (15 min)"})
    expires_at = fields.DateTime(required=True)
    refresh_token = fields.String(metadata={"description": "POST /auth/refresh, good once"})
    refresh_expires_at = fields.DateTime()
    session_id = fields.String()
    must_change_password = fields.Boolean()
    user = fields.Nested(User, required=True)


class CreateUnitRequest(Strict):
    name = _text(200, required=True)
    parent_id = Id(allow_none=True, load_default=None)


class Unit(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    parent_id = fields.String(allow_none=True)


class UnitPage(Schema):
    items = fields.List(fields.Nested(Unit), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class CreateUserRequest(Strict):
    login = _text(64, required=True)
    password = _text(256, required=True)
    name = _text(200, required=True)
    level = StrictInteger(required=True, validate=validate.Range(min=1, max=9))
    org_unit_id = Id(required=True)
    supervisor_id = Id(allow_none=True, load_default=None)


class UpdateUserRequest(Strict):
    supervisor_id = Id(allow_none=True)
    org_unit_id = Id()
    level = StrictInteger(validate=validate.Range(min=1, max=9))
    active = StrictBoolean()

    @validates_schema
    def _something_changes(self, data, **kwargs):
        if not data:
            raise ValidationError("至少修改一项 / Nothing to change")


class UsersQuery(PageQuery):
    org_unit_id = Id(load_default=None)


class UserPage(Schema):
    items = fields.List(fields.Nested(User), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class AuditQuery(PageQuery):
    user_id = Id(load_default=None)
    action = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class AuditEntry(Schema):
    id = fields.String(required=True)
    at = fields.DateTime(required=True)
    actor_id = fields.String(allow_none=True)
    action = fields.String(required=True)
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    details = fields.Dict()


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntry), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


# ---- customers ----------------------------------------------------------------------------


class ContactRequest(Strict):
    name = _text(100, required=True)
    title = _optional_text(100)
    phone = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(min=1, max=32)
    )
    email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=254))
    birthday = fields.Date(allow_none=True, load_default=None)
    birthday_calendar = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(["solar", "lunar"])
    )
    decision_maker = StrictBoolean(load_default=False)


class RegisterCustomerRequest(Strict):
    name = _text(200, required=True)
    uscc = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=32))
    industry = _optional_text(100)
    region = _optional_text(100)
    founded_on = fields.Date(allow_none=True, load_default=None)
    referred_by = Id(allow_none=True, load_default=None)
    contacts = fields.List(
        fields.Nested(ContactRequest), load_default=list, validate=validate.Length(max=50)
    )


class Contact(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    title = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "masked unless unmasked"})
    email = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    birthday_calendar = fields.String(allow_none=True)
    decision_maker = fields.Boolean()


class Customer(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    uscc = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    founded_on = fields.Date(allow_none=True)
    referred_by = fields.String(allow_none=True)
    owner_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["prospect", "customer"]})
    created_at = fields.DateTime()
    care_since = fields.DateTime(
        allow_none=True, metadata={"description": "a care customer since (first won opportunity)"}
    )
    revisit_interval = fields.String(metadata={"description": "ISO 8601 days, default P15D"})
    last_revisit_at = fields.DateTime(allow_none=True)
    next_revisit_on = fields.Date(
        allow_none=True, metadata={"description": "the organisation's day the next revisit is due"}
    )
    contacts = fields.List(fields.Nested(Contact))


# ---- customer care ----


class CareRequest(Strict):
    revisit_interval = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "ISO 8601 whole days, 1 to 366 (P15D, P2W)"},
    )


class Care(Schema):
    customer_id = fields.String(required=True)
    status = fields.String(required=True)
    care_since = fields.DateTime(allow_none=True)
    revisit_interval = fields.String(required=True)
    last_revisit_at = fields.DateTime(allow_none=True)
    next_revisit_on = fields.Date(allow_none=True)


class ImportantDateRequest(Strict):
    label = _text(100, required=True)
    date = fields.Date(required=True)
    recurring = StrictBoolean(load_default=False)


class ImportantDate(Schema):
    id = fields.String(required=True)
    customer_id = fields.String(required=True)
    label = fields.String(required=True)
    date = fields.Date(required=True)
    recurring = fields.Boolean(required=True)


class RevisitRequest(Strict):
    outcome = _text(500, required=True)
    notes = _optional_text(2000)
    verifies_entry_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(min=1, max=64)
    )
    verification = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(["confirmed", "denied"])
    )


class Revisit(Schema):
    id = fields.String(required=True)
    customer_id = fields.String(required=True)
    by = fields.String(required=True)
    at = fields.DateTime(required=True)
    outcome = fields.String(required=True)
    notes = fields.String(allow_none=True)
    verifies_entry_id = fields.String(allow_none=True)
    verification = fields.String(allow_none=True)


class ClaimedVisit(Schema):
    entry_id = fields.String(required=True)
    author_id = fields.String(required=True)
    author_name = fields.String(allow_none=True)
    work_date = fields.Date(required=True)
    verification = fields.String(
        allow_none=True, required=True, metadata={"enum": ["confirmed", "denied", None]}
    )


class RevisitSeen(Revisit):
    by_name = fields.String(allow_none=True)


class Revisits(Schema):
    items = fields.List(fields.Nested(RevisitSeen), required=True)
    visits = fields.List(fields.Nested(ClaimedVisit), required=True)


class ReferrerRequest(Strict):
    referred_by = Id(required=True, allow_none=True)


class Referrer(Schema):
    customer_id = fields.String(required=True)
    referred_by = fields.String(allow_none=True, required=True)


class ReferralNode(Schema):
    customer_id = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    referred_by = fields.String(allow_none=True)
    depth = fields.Integer(required=True, metadata={"description": "hops from its chain's start"})


class ReferralEdge(Schema):
    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)


class ReferralCount(Schema):
    customer_id = fields.String(required=True)
    referred_count = fields.Integer(required=True)


class NonReferrer(Schema):
    customer_id = fields.String(required=True)
    name = fields.String(required=True)


class ReferralGraph(Schema):
    nodes = fields.List(fields.Nested(ReferralNode), required=True)
    edges = fields.List(fields.Nested(ReferralEdge), required=True)
    referrers = fields.List(fields.Nested(ReferralCount), required=True)
    non_referrers = fields.List(fields.Nested(NonReferrer), required=True)
    max_depth = fields.Integer(required=True)


class RemindersQuery(Query):
    from_ = fields.Date(
        data_key="from",
        load_default=None,
        validate=validate.Range(min=date(1901, 1, 1), max=date(2099, 12, 31)),
        metadata={"description": "default today; 1901-01-01 to 2099-12-31"},
    )
    days = fields.Integer(
        load_default=3, validate=validate.Range(min=1, max=366), metadata={"description": "1..366"}
    )


class Reminder(Schema):
    kind = fields.String(
        required=True,
        metadata={"enum": ["birthday", "anniversary", "important_date", "appointment", "revisit"]},
    )
    date = fields.Date(required=True)
    customer_id = fields.String(required=True)
    contact_id = fields.String()
    label = fields.String(required=True)
    calendar = fields.String(metadata={"description": "birthday: solar or lunar"})
    years = fields.Integer(metadata={"description": "anniversary: years since founding"})
    recurring = fields.Boolean()
    overdue = fields.Boolean(metadata={"description": "revisit: due before the window"})
    at = fields.DateTime(metadata={"description": "appointment: its time"})
    entry_id = fields.String()
    user_id = fields.String()


class Reminders(Schema):
    from_ = fields.Date(data_key="from", required=True)
    days = fields.Integer(required=True)
    items = fields.List(fields.Nested(Reminder), required=True)


class CustomerPage(Schema):
    items = fields.List(fields.Nested(Customer), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class CheckQuery(Query):
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    uscc = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    phone = fields.String(load_default=None, validate=validate.Length(min=1, max=32))


class Owner(Schema):
    level = fields.Integer()
    masked_name = fields.String()


class CheckMatch(Schema):
    customer_id = fields.String(required=True)
    name = fields.String(required=True)
    similarity = fields.Float(required=True)
    matched_on = fields.String()
    owner = fields.Nested(Owner)
    yours = fields.Boolean(metadata={"description": "the caller already owns it"})


class CheckResult(Schema):
    matches = fields.List(fields.Nested(CheckMatch), required=True)


class CustomersQuery(PageQuery):
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    owner_id = Id(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["prospect", "customer"]))


# ---- pipelines and opportunities ----------------------------------------------------------
# The gateway checks types and shape; the opportunity service checks the rest (durations,
# probabilities rising to the won stage, unique keys, loss reason categories) in its own words.

SCOPES = ["me", "team", "subtree", "group"]
OPPORTUNITY_STATUSES = ["open", "confiscated", "loss_pending", "won", "lost"]
DECISIONS = ["keep", "return", "reassign"]
_DURATION_DOC = {"description": "ISO 8601 duration, e.g. P14D or PT2S"}


def _duration(note: str = "") -> fields.String:
    return fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": _DURATION_DOC["description"] + note},
    )


def _month(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(MONTH_REGEX, error="须为 YYYY-MM / Must be YYYY-MM"),
        metadata={"pattern": MONTH_REGEX, "example": "2025-07"},
        **kwargs,
    )


class StageRequest(Strict):
    key = _text(200, required=True)
    name = _text(200, required=True)
    time_limit = _duration("; null for the won stage")
    probability = StrictInteger(required=True, metadata={"description": "0..100"})


class QuestionRequest(Strict):
    key = _text(200, required=True)
    question = _text(200, required=True)
    weight = StrictNumber(required=True, metadata={"description": "> 0"})


class CreatePipelineRequest(Strict):
    name = _text(200, required=True)
    stages = fields.List(
        fields.Nested(StageRequest), required=True, validate=validate.Length(max=50)
    )
    remind_before = _duration()
    followup_limit = _duration()
    decision_limit = _duration()
    qualification = fields.List(
        fields.Nested(QuestionRequest), required=True, validate=validate.Length(max=50)
    )
    qualification_threshold = StrictNumber(required=True, metadata={"description": "0..1"})


class Stage(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    time_limit = fields.String(allow_none=True, metadata=_DURATION_DOC)
    probability = fields.Integer(required=True)


class Question(Schema):
    key = fields.String(required=True)
    question = fields.String(required=True)
    weight = fields.Float(required=True)


class Pipeline(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    stages = fields.List(fields.Nested(Stage), required=True)
    remind_before = fields.String(allow_none=True, metadata=_DURATION_DOC)
    followup_limit = fields.String(allow_none=True, metadata=_DURATION_DOC)
    decision_limit = fields.String(allow_none=True, metadata=_DURATION_DOC)
    qualification = fields.List(fields.Nested(Question), required=True)
    qualification_threshold = fields.Float(required=True)
    scope_path = fields.String(
        allow_none=True, metadata={"description": "the subtree it applies to (/1/7/); null: all"}
    )
    is_default = fields.Boolean()
    created_at = fields.DateTime()


class PipelinePage(Schema):
    items = fields.List(fields.Nested(Pipeline), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _at_most_50_answers(answers: dict) -> None:
    if len(answers) > 50:
        raise ValidationError("最多 50 个答案 / At most 50 answers")


class RegisterOpportunityRequest(Strict):
    customer_id = Id(required=True)
    title = _text(200, required=True)
    amount = Money(required=True, metadata={"example": "120000.00"})
    pipeline_id = Id(allow_none=True, load_default=None)
    qualification = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=StrictBoolean(),
        load_default=dict,
        validate=_at_most_50_answers,
        metadata={"description": "question key → answer", "maxProperties": 50},
    )


class Opportunity(Schema):
    id = fields.String(required=True)
    customer_id = fields.String(required=True)
    title = fields.String(required=True)
    amount = fields.String(required=True, metadata={"example": "120000.00"})
    pipeline_id = fields.String(required=True)
    owner_id = fields.String(required=True)
    holder_id = fields.String(required=True)
    original_owner_id = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": OPPORTUNITY_STATUSES})
    stage = fields.String(required=True)
    stage_name = fields.String()
    probability = fields.Integer(
        allow_none=True, metadata={"description": "the stage's probability, 0..100"}
    )
    stage_entered_at = fields.DateTime()
    stage_deadline = fields.DateTime(allow_none=True)
    warned_at = fields.DateTime(
        allow_none=True, metadata={"description": "when the holder was warned of the deadline"}
    )
    decision_deadline = fields.DateTime(allow_none=True)
    flagged = fields.Boolean()
    feasibility_score = fields.Float()
    loss_reason = fields.String(allow_none=True)
    loss_analysis = fields.String(allow_none=True)
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class HistoryEntry(Schema):
    at = fields.DateTime(required=True)
    action = fields.String(required=True)
    by = fields.String(required=True, metadata={"description": 'a user id, or "system"'})
    from_ = fields.String(data_key="from", allow_none=True)
    to = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class OpportunityDetail(Opportunity):
    history = fields.List(fields.Nested(HistoryEntry), required=True)


class OpportunityPage(Schema):
    items = fields.List(fields.Nested(Opportunity), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class WorklistItem(Opportunity):
    deadline = fields.DateTime(
        allow_none=True, metadata={"description": "the stage's deadline, else the decision's"}
    )


class Worklist(Schema):
    items = fields.List(fields.Nested(WorklistItem), required=True)


class OpportunitiesQuery(PageQuery):
    holder_id = Id(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(OPPORTUNITY_STATUSES))
    stage = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class AdvanceRequest(Strict):
    note = _optional_text(2000)


class DecisionRequest(Strict):
    action = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    assignee_id = Id(
        allow_none=True,
        load_default=None,
        metadata={"description": "reassign: required; keep and return: must be absent"},
    )

    @validates_schema
    def _assignee_only_to_reassign(self, data, **kwargs):
        if data.get("action") in ("keep", "return") and data.get("assignee_id") is not None:
            raise ValidationError(
                "只有改派需要指定接收人 / Only reassign takes an assignee", "assignee_id"
            )


class LoseRequest(Strict):
    reason = _text(64, required=True, metadata={"description": "a loss reason category"})
    analysis = _text(10000, required=True)


class SweepResult(Schema):
    warned = fields.Integer(required=True)
    confiscated = fields.Integer(required=True)
    escalated = fields.Integer(required=True)
    flagged = fields.Integer()


class ScopeQuery(Query):
    scope = fields.String(
        load_default="me",
        validate=validate.OneOf(SCOPES),
        metadata={"description": "group needs level 8+"},
    )


class FunnelQuery(ScopeQuery):
    pipeline_id = Id(load_default=None)


class FunnelStage(Schema):
    key = fields.String(required=True)
    name = fields.String()
    count = fields.Integer(required=True)
    reached = fields.Integer()
    amount = fields.String(required=True)
    conversion = fields.Float(allow_none=True, required=True)
    median_time_in_stage = fields.String(allow_none=True, required=True, metadata=_DURATION_DOC)


def _scope_answered() -> fields.String:
    return fields.String(metadata={"description": "the scope the figures cover", "enum": SCOPES})


class Funnel(Schema):
    scope = _scope_answered()
    pipeline_id = fields.String()
    stages = fields.List(fields.Nested(FunnelStage), required=True)


class ForecastQuery(ScopeQuery):
    months = fields.Integer(
        load_default=3, validate=validate.Range(min=1, max=24), metadata={"description": "1..24"}
    )


class ForecastMonth(Schema):
    month = fields.String(required=True, metadata={"example": "2025-07"})
    weighted = fields.String(required=True)
    count = fields.Integer(required=True)


class Backtest(Schema):
    mape = fields.Float(allow_none=True, required=True)
    months = fields.Integer(metadata={"description": "past months backtested"})
    points = fields.List(fields.Dict())


class Forecast(Schema):
    scope = _scope_answered()
    pipeline_id = fields.String(allow_none=True)
    months = fields.List(fields.Nested(ForecastMonth), required=True)
    probabilities = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    configured = fields.Dict(keys=fields.String(), values=fields.Float())
    samples = fields.Integer()
    learned = fields.Boolean()
    backtest = fields.Nested(Backtest, required=True)


class WorklistQuery(Query):
    limit = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "1..500, default all"},
    )


class TargetsQuery(ScopeQuery):
    month = _month(load_default=None)


class SetTargetRequest(Strict):
    target = Money(required=True, metadata={"example": "500000.00"})


class Target(Schema):
    user_id = fields.String(required=True)
    month = fields.String(required=True, metadata={"example": "2025-07"})
    target = fields.String(allow_none=True, required=True)
    proposed = fields.String(allow_none=True)
    set_by = fields.String(allow_none=True, metadata={"description": "who set it; null: none"})
    won = fields.String()
    attainment = fields.Float(allow_none=True)


class TargetTotal(Schema):
    target = fields.String(allow_none=True)
    proposed = fields.String(allow_none=True)
    won = fields.String()
    attainment = fields.Float(allow_none=True)


class Targets(Schema):
    scope = _scope_answered()
    month = fields.String(metadata={"example": "2025-07"})
    items = fields.List(fields.Nested(Target), required=True)
    total = fields.Nested(TargetTotal)


class LostReason(Schema):
    reason = fields.String(required=True)
    count = fields.Integer(required=True)
    amount = fields.String(required=True)


class LostReasons(Schema):
    scope = _scope_answered()
    items = fields.List(fields.Nested(LostReason), required=True)


# ---- work log -------------------------------------------------------------------------------
# Types and shape only: the worklog service applies its rules (the catalog, minutes 1..960 and
# the day's 1,440, the expense cap, the grace hour, the opportunity's holder) in its own words.

ACTIVITY_KEY_LENGTH = 40
_DATE_DOC = {"description": "YYYY-MM-DD", "example": "2025-07-01"}


def _date(**kwargs) -> fields.Date:
    return fields.Date(metadata=dict(_DATE_DOC), **kwargs)


class PutActivityRequest(Strict):
    key = _text(ACTIVITY_KEY_LENGTH, required=True, metadata={"example": "visit"})
    name = _text(100, required=True)
    points = StrictNumber(required=True, metadata={"description": "0..1000"})
    stages = fields.List(
        _text(ACTIVITY_KEY_LENGTH),
        validate=validate.Length(max=50),
        metadata={"description": "stage keys where it is plausible; empty = every stage"},
    )
    needs_customer = StrictBoolean(metadata={"description": "default true"})


class Activity(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    points = fields.Float(required=True)
    stages = fields.List(fields.String(), required=True)
    needs_customer = fields.Boolean()


class ActivityList(Schema):
    items = fields.List(fields.Nested(Activity), required=True)


class DifficultyRequest(Strict):
    category = _text(64, required=True)
    description = _text(2000, required=True)
    analysis = _optional_text(5000)
    amount = Money(allow_none=True, load_default=None, metadata={"example": "50000.00"})


class RecordEntryRequest(Strict):
    customer_id = Id(allow_none=True, load_default=None)
    opportunity_id = Id(allow_none=True, load_default=None)
    activities = fields.List(
        _text(ACTIVITY_KEY_LENGTH),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "activity keys of the catalog, 1..20"},
    )
    minutes = StrictInteger(required=True, metadata={"description": "whole minutes, 1..960"})
    expense = Money(allow_none=True, load_default=None, metadata={"example": "120.50"})
    note = _optional_text(2000)
    next_appointment_at = fields.AwareDateTime(
        allow_none=True, load_default=None, metadata={"description": "RFC 3339 with offset"}
    )
    difficulty = fields.Nested(
        DifficultyRequest,
        allow_none=True,
        load_default=None,
        metadata={"description": "raises a difficulty alarm"},
    )
    work_date = _date(allow_none=True, load_default=None)


class Difficulty(Schema):
    category = fields.String(required=True)
    description = fields.String(required=True)
    analysis = fields.String(allow_none=True)
    amount = fields.String(allow_none=True)


class EntryNote(Schema):
    id = fields.String(required=True)
    text = fields.String(required=True)
    at = fields.DateTime(required=True)


class Note(EntryNote):
    entry_id = fields.String(required=True)


class Entry(Schema):
    id = fields.String(required=True)
    author_id = fields.String(required=True)
    work_date = fields.Date(required=True)
    recorded_at = fields.DateTime(required=True)
    late = fields.Boolean(required=True)
    customer_id = fields.String(allow_none=True)
    opportunity_id = fields.String(allow_none=True)
    stage = fields.String(allow_none=True)
    activities = fields.List(fields.String())
    points = fields.Float(metadata={"description": "the activities' points"})
    minutes = fields.Integer()
    expense = fields.String(allow_none=True, metadata={"example": "120.50"})
    note = fields.String(allow_none=True)
    next_appointment_at = fields.DateTime(allow_none=True)
    difficulty = fields.Nested(Difficulty, allow_none=True)
    hash = fields.String(required=True)
    prev_hash = fields.String(allow_none=True, required=True)
    alarm_id = fields.String(allow_none=True)
    notes = fields.List(fields.Nested(EntryNote))


class EntryPage(Schema):
    items = fields.List(fields.Nested(Entry), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class EntriesQuery(PageQuery):
    author_id = Id(load_default=None)
    from_ = _date(data_key="from", load_default=None)
    to = _date(load_default=None)


class AddNoteRequest(Strict):
    text = _text(2000, required=True)


class VerifyQuery(Query):
    author_id = Id(load_default=None, metadata={"description": "default: the caller"})


class Verify(Schema):
    author_id = fields.String()
    valid = fields.Boolean(required=True)
    entries = fields.Integer(required=True)
    broken_at = fields.String(allow_none=True, required=True)


class AnyBody(Schema):
    """Whatever is sent is ignored: the answer is 405 ``immutable`` in any case."""

    class Meta:
        unknown = EXCLUDE


# ---- scoring --------------------------------------------------------------------------------

GRANULARITIES = ["day", "month"]
METRICS = ["diligence", "ability"]
PERIODS = ["day", "week", "month"]
LEADERBOARD_SCOPES = ["group", "branch", "team"]


class CurvesQuery(Query):
    user_id = Id(load_default=None, metadata={"description": "default: the caller"})
    from_ = _date(data_key="from", load_default=None)
    to = _date(load_default=None)
    granularity = fields.String(load_default="day", validate=validate.OneOf(GRANULARITIES))


class CurvePoint(Schema):
    date = fields.String(required=True, metadata={"description": "YYYY-MM-DD or YYYY-MM"})
    minutes = fields.Integer(required=True)
    score = fields.Float(required=True)
    entries = fields.Integer(required=True)
    suspicious = fields.Integer(required=True)
    proven_false = fields.Integer()


class Curves(Schema):
    user_id = fields.String()
    granularity = fields.String(metadata={"enum": GRANULARITIES})
    points = fields.List(fields.Nested(CurvePoint), required=True)


class LeaderboardQuery(Query):
    metric = fields.String(load_default="diligence", validate=validate.OneOf(METRICS))
    period = fields.String(load_default="day", validate=validate.OneOf(PERIODS))
    date = _date(load_default=None)
    scope = fields.String(load_default="group", validate=validate.OneOf(LEADERBOARD_SCOPES))


class LeaderboardItem(Schema):
    rank = fields.Integer(required=True, metadata={"description": "ties share a rank"})
    user_id = fields.String(required=True)
    name = fields.String(required=True)
    value = fields.Float(required=True)


class Leaderboard(Schema):
    metric = fields.String(metadata={"enum": METRICS})
    period = fields.String(metadata={"enum": PERIODS})
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    scope = fields.String(metadata={"enum": LEADERBOARD_SCOPES})
    items = fields.List(fields.Nested(LeaderboardItem), required=True)


class AnalysisScopeQuery(Query):
    scope = fields.String(
        load_default="subtree",
        validate=validate.OneOf(SCOPES),
        metadata={"description": "group needs level 8+"},
    )


class FakeReportsQuery(AnalysisScopeQuery):
    from_ = _date(data_key="from", load_default=None)
    to = _date(load_default=None)


class FakeReportStage(Schema):
    stage = fields.String(allow_none=True, required=True)
    entries = fields.Integer(required=True)
    suspicious = fields.Integer(required=True)
    proven_false = fields.Integer(required=True)
    share = fields.Float(allow_none=True, required=True)


class FakeReportUser(Schema):
    user_id = fields.String(required=True)
    name = fields.String()
    entries = fields.Integer(required=True)
    suspicious = fields.Integer(required=True)
    proven_false = fields.Integer(required=True)
    share = fields.Float(allow_none=True, required=True)


class FakeReports(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    scope = _scope_answered()
    by_stage = fields.List(fields.Nested(FakeReportStage), required=True)
    by_user = fields.List(fields.Nested(FakeReportUser), required=True)
    indicators = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "entries flagged per indicator"},
    )


class EarlyWarning(Schema):
    user_id = fields.String(required=True)
    name = fields.String()
    risk = fields.Integer(required=True, metadata={"description": "0..100"})
    reasons = fields.List(fields.String(), required=True)


class EarlyWarnings(Schema):
    scope = _scope_answered()
    items = fields.List(fields.Nested(EarlyWarning), required=True)


class Trainee(Schema):
    user_id = fields.String(required=True)
    name = fields.String()
    days = fields.Integer(required=True)
    diligence_percentile = fields.Float(allow_none=True, required=True)
    ability_percentile = fields.Float(allow_none=True, required=True)
    recommendation = fields.String(required=True, metadata={"description": "keep, watch or let go"})
    reasons = fields.List(fields.String(), required=True)


class Trainees(Schema):
    scope = _scope_answered()
    items = fields.List(fields.Nested(Trainee), required=True)


class Managers(Schema):
    scope = _scope_answered()
    items = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "per supervisor (user_id): mean time to decide on confiscated "
            "opportunities, support given to subordinates' alarms, team curves"
        },
    )


# ---- alarms and experience ----------------------------------------------------------------

ALARM_KINDS = ["sales", "service"]
ALARM_STATUSES = ["open", "resolved"]
ALARM_SCOPES = ["me", "team", "subtree", "branch", "group"]


class RaiseAlarmRequest(Strict):
    category = _text(40, required=True, metadata={"description": "a key of GET /alarm-categories"})
    description = _text(2000, required=True)
    analysis = _optional_text(5000)
    opportunity_id = Id(allow_none=True, load_default=None)
    customer_id = Id(allow_none=True, load_default=None)
    amount = Money(allow_none=True, load_default=None, metadata={"example": "50000.00"})
    kind = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(ALARM_KINDS))


class Suggestion(Schema):
    experience_id = fields.String(required=True)
    title = fields.String(required=True)
    method = fields.String(required=True)
    score = fields.Float(allow_none=True)


class AlarmResponse(Schema):
    id = fields.String(required=True)
    alarm_id = fields.String()
    author_id = fields.String(required=True)
    author_name = fields.String(allow_none=True)
    body = fields.String(required=True)
    posted_at = fields.DateTime(required=True)
    effective = fields.Boolean(required=True)


class Escalation(Schema):
    step = fields.Integer(required=True)
    user_id = fields.String(required=True)
    level = fields.Integer(required=True)
    reason = fields.String(required=True, metadata={"enum": ["no_response", "unresolved"]})
    due_at = fields.DateTime(required=True)
    at = fields.DateTime(required=True)


class Alarm(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ALARM_STATUSES})
    kind = fields.String(required=True, metadata={"enum": ALARM_KINDS})
    category = fields.String(required=True)
    stage = fields.String(allow_none=True, required=True)
    requester_id = fields.String(required=True)
    requester_name = fields.String(allow_none=True)
    raised_at = fields.DateTime(required=True)
    opportunity_id = fields.String(allow_none=True)
    customer_id = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    amount = fields.String(allow_none=True)
    description = fields.String(required=True)
    analysis = fields.String()
    source_entry_id = fields.String(allow_none=True)
    first_support_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    hours_to_resolution = fields.Float(allow_none=True)
    effective_response_id = fields.String(allow_none=True)
    effective_experience_id = fields.String(allow_none=True)
    escalation_level = fields.Integer(metadata={"description": "supervisors notified so far"})
    response_count = fields.Integer()
    suggestions = fields.List(fields.Nested(Suggestion), required=True)
    responses = fields.List(fields.Nested(AlarmResponse))
    escalations = fields.List(fields.Nested(Escalation))


class AlarmPage(Schema):
    items = fields.List(fields.Nested(Alarm), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class AlarmsQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(ALARM_STATUSES))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    kind = fields.String(load_default=None, validate=validate.OneOf(ALARM_KINDS))
    stage = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    requester_id = Id(load_default=None)
    opportunity_id = Id(load_default=None)
    mine = fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "only the caller's (true|false)"},
    )
    to_help = fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "open alarms of the caller's subordinates or escalated to them"},
    )
    subordinates = fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "alarms of the caller's subordinates (true|false)"},
    )
    unsupported = fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "open alarms nobody but the requester answered (true|false)"},
    )


class RespondRequest(Strict):
    body = _text(5000, required=True)


class AlarmStatsQuery(Query):
    scope = fields.String(load_default="group", validate=validate.OneOf(ALARM_SCOPES))
    from_ = _date(data_key="from", load_default=None)
    to = _date(load_default=None)


class StatsBucket(Schema):
    raised = fields.Integer(required=True)
    supported = fields.Integer(required=True)
    resolved = fields.Integer(required=True)


class StageBucket(StatsBucket):
    stage = fields.String(allow_none=True, required=True)


class CategoryBucket(StatsBucket):
    category = fields.String(required=True)


class PersonBucket(StatsBucket):
    user_id = fields.String(required=True)
    name = fields.String(allow_none=True)


class TeamBucket(StatsBucket):
    leader_id = fields.String(required=True)
    name = fields.String(allow_none=True)


class Supporter(Schema):
    user_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    responses = fields.Integer(required=True)
    effective = fields.Integer(required=True)
    median_hours_to_respond = fields.Float(allow_none=True, required=True)


class AlarmStats(Schema):
    scope = fields.String(metadata={"description": "the scope the figures cover"})
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    raised = fields.Integer(required=True)
    support_rate = fields.Float(allow_none=True, required=True)
    mean_hours_to_first_support = fields.Float(allow_none=True, required=True)
    resolution_rate = fields.Float(allow_none=True, required=True)
    mean_hours_to_resolution = fields.Float(allow_none=True, required=True)
    by_stage = fields.List(fields.Nested(StageBucket), required=True)
    by_category = fields.List(fields.Nested(CategoryBucket), required=True)
    by_person = fields.List(fields.Nested(PersonBucket), required=True)
    by_team = fields.List(fields.Nested(TeamBucket), required=True)
    supporters = fields.List(fields.Nested(Supporter), required=True)


class AlarmCategory(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    active = fields.Boolean()


class AlarmCategoryList(Schema):
    items = fields.List(fields.Nested(AlarmCategory), required=True)


class PutAlarmCategoryRequest(Strict):
    key = fields.String(
        required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"),
        metadata={"description": "lower-case letters, digits and _"},
    )  # fmt: skip
    name = _text(100, required=True)
    active = StrictBoolean(load_default=True)


class ExperienceEntry(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    problem = fields.String(required=True)
    analysis = fields.String()
    method = fields.String(required=True)
    stage = fields.String(allow_none=True, required=True)
    category = fields.String(required=True)
    kind = fields.String(metadata={"enum": ALARM_KINDS})
    industry = fields.String(allow_none=True)
    contributors = fields.List(fields.String())
    method_author_id = fields.String(allow_none=True)
    source_alarm_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    reuse_count = fields.Integer(required=True)
    helpful_count = fields.Integer(required=True)
    score = fields.Float()
    voted = fields.Boolean()


class ExperiencePage(Schema):
    items = fields.List(fields.Nested(ExperienceEntry), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ExperienceSuggestions(Schema):
    items = fields.List(fields.Nested(ExperienceEntry), required=True)


class ExperienceQuery(PageQuery):
    q = fields.String(load_default=None, validate=validate.Length(max=2000))
    stage = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    kind = fields.String(load_default=None, validate=validate.OneOf(ALARM_KINDS))


class SuggestQuery(Query):
    q = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    stage = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    kind = fields.String(load_default=None, validate=validate.OneOf(ALARM_KINDS))
    limit = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class HandbookQuery(Query):
    stage = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    format = fields.String(load_default="md", validate=validate.OneOf(["md", "html"]))


# ---- workbench ----


class WorkbenchAlarms(Schema):
    mine = fields.List(fields.Dict(), allow_none=True)
    to_help = fields.List(fields.Dict(), allow_none=True)
    unsupported = fields.List(
        fields.Dict(), allow_none=True, metadata={"description": "supervisors (level ≥ 4)"}
    )


class Today(Schema):
    date = fields.Date(required=True)
    minutes = fields.Integer(required=True)
    score = fields.Float(required=True)
    entries = fields.Integer(required=True)
    rank = fields.Integer(allow_none=True, metadata={"description": "by diligence in the team"})
    of = fields.Integer(required=True)


class Workbench(Schema):
    appointments = fields.List(fields.Nested(Reminder), allow_none=True, required=True)
    reminders = fields.List(fields.Nested(Reminder), allow_none=True, required=True)
    alarms = fields.Nested(WorkbenchAlarms, allow_none=True, required=True)
    near_deadline = fields.List(fields.Dict(), allow_none=True, required=True)
    worklist = fields.List(fields.Dict(), allow_none=True, required=True)
    today = fields.Nested(Today, allow_none=True, required=True)
    forecast = fields.Dict(allow_none=True, required=True)
    decisions_pending = fields.List(
        fields.Dict(), allow_none=True, required=True, metadata={"description": "level ≥ 4"}
    )
    unavailable = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "services whose sections are null because they did not answer"},
    )
