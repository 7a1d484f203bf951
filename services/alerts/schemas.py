"""What comes in to the alerts service (validated, unknown fields refused). The raise request
itself is checked by ``domain.validate_raise`` (its categories come from the database)."""

from __future__ import annotations

from marshmallow import fields, validate

from common.schemas import Cursor, Id, Strict, Text, load  # noqa: F401  (load: re-exported)
from services.alerts import domain

SCOPES = ("me", "team", "subtree", "branch", "group")


class AlarmRef(Strict):
    alarm_id = Id(required=True)


class RespondIn(AlarmRef):
    body = fields.Raw(required=True)  # domain.check_response_body


class ResponseRef(AlarmRef):
    response_id = Id(required=True)


class SuggestionRef(AlarmRef):
    experience_id = Id(required=True)


class BoardIn(Strict):
    status = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf([domain.OPEN, domain.RESOLVED])
    )
    category = Text(allow_none=True, load_default=None, validate=validate.Length(max=40))
    kind = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(domain.KINDS))
    stage = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    requester_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    opportunity_id = Id(allow_none=True, load_default=None)
    mine = fields.Boolean(allow_none=True, load_default=False)
    to_help = fields.Boolean(allow_none=True, load_default=False)
    subordinates = fields.Boolean(allow_none=True, load_default=False)
    unsupported = fields.Boolean(allow_none=True, load_default=False)
    limit = fields.Integer(allow_none=True, load_default=50, validate=validate.Range(1, 500))
    cursor = Cursor(allow_none=True, load_default=None)


class WorkbenchIn(Strict):
    limit = fields.Integer(allow_none=True, load_default=20, validate=validate.Range(1, 100))


class StatsIn(Strict):
    scope = fields.String(allow_none=True, load_default="group", validate=validate.OneOf(SCOPES))
    from_date = fields.Date(allow_none=True, load_default=None)
    to_date = fields.Date(allow_none=True, load_default=None)


class CategoryIn(Strict):
    key = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[a-z][a-z0-9_]{0,39}$",
            error="类别键须为小写字母、数字或下划线 / Key: lower-case letters, digits, _",
        ),
    )
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    active = fields.Boolean(load_default=True)


class EntryIn(Strict):
    """A work-log entry with a difficulty, as the gateway passes it on right after recording
    it (the same fields as ``worklog.entry_recorded``)."""

    entry_id = Id(required=True)
    author_id = fields.String(required=True)
    author_path = fields.List(fields.String(), load_default=list)
    recorded_at = fields.String(allow_none=True, load_default=None)
    opportunity_id = fields.String(allow_none=True, load_default=None)
    customer_id = fields.String(allow_none=True, load_default=None)
    stage = fields.String(allow_none=True, load_default=None)
    difficulty = fields.Dict(required=True)


class NoArgs(Strict):
    pass


class ImportResponse(Strict):
    author_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    body = Text(required=True, validate=validate.Length(min=1, max=domain.MAX_TEXT))
    posted_at = fields.AwareDateTime(required=True)
    effective = fields.Boolean(load_default=False)


class ImportAlarm(Strict):
    requester_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    requester_path = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    raised_at = fields.AwareDateTime(required=True)
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    kind = fields.String(load_default="sales", validate=validate.OneOf(domain.KINDS))
    stage = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    opportunity_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    customer_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    industry = Text(allow_none=True, load_default=None, validate=validate.Length(max=100))
    amount_fen = fields.Integer(
        allow_none=True, load_default=None, validate=validate.Range(0, 10**14)
    )
    description = Text(required=True, validate=validate.Length(min=1, max=domain.MAX_DESCRIPTION))
    analysis = Text(
        allow_none=True, load_default=None, validate=validate.Length(max=domain.MAX_TEXT)
    )
    responses = fields.List(fields.Nested(ImportResponse), load_default=list)
    resolved_at = fields.AwareDateTime(allow_none=True, load_default=None)


class ImportIn(Strict):
    items = fields.List(
        fields.Nested(ImportAlarm), required=True, validate=validate.Length(min=1, max=5000)
    )
