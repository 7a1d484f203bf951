"""What comes in to the worklog service (validated, unknown fields refused)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from common.schemas import Cursor, Id, Strict, Text, load  # noqa: F401  (load: re-exported)
from services.worklog import domain


class Money(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        from common.errors import ValidationFailed

        try:
            return domain.parse_money(value, attr or "expense")
        except ValidationFailed as exc:
            raise ValidationError(next(iter(exc.details.values()), ["?"])) from None


class RecordIn(Strict):
    customer_id = Id(allow_none=True, load_default=None)
    opportunity_id = Id(allow_none=True, load_default=None)
    # keys are checked against the catalog and the stage by domain.check_activities
    activities = fields.List(fields.String(validate=validate.Length(max=40)), required=True)
    minutes = fields.Raw(required=True)  # domain.check_minutes: an integer 1..960
    expense = Money(allow_none=True, load_default=None)
    note = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    next_appointment_at = fields.AwareDateTime(allow_none=True, load_default=None)
    difficulty = fields.Raw(allow_none=True, load_default=None)  # domain.difficulty_in
    work_date = fields.Date(allow_none=True, load_default=None)
    # the client's Idempotency-Key (through the gateway): the same key records one entry
    request_key = Text(allow_none=True, load_default=None, validate=validate.Length(1, 255))


class EntryRef(Strict):
    entry_id = Id(required=True)


class NoteIn(EntryRef):
    text = Text(required=True, validate=validate.Length(min=1, max=2000))


class ListIn(Strict):
    author_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    from_date = fields.Date(allow_none=True, load_default=None)
    to_date = fields.Date(allow_none=True, load_default=None)
    limit = fields.Integer(allow_none=True, load_default=50, validate=validate.Range(1, 500))
    cursor = Cursor(allow_none=True, load_default=None)


class VerifyIn(Strict):
    author_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))


class ExportIn(Strict):
    after_id = fields.Integer(load_default=0, validate=validate.Range(0, 2**31 - 1))
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 10000))
    # items: a list of entry_recorded data; columns: {"columns": [names], "rows": [[values]]}
    # with the same names and values (a third of the bytes: a rebuild's page)
    format = fields.String(load_default="items", validate=validate.OneOf(["items", "columns"]))


class NoArgs(Strict):
    pass


# --- bulk import (demo data, migration from another system) -------------------------------


class ImportEntry(Strict):
    author_id = Text(required=True, validate=validate.Length(min=1, max=64))
    work_date = fields.Date(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    late = fields.Boolean(load_default=False)
    customer_id = Id(allow_none=True, load_default=None)
    opportunity_id = Id(allow_none=True, load_default=None)
    stage = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    activities = fields.List(fields.String(validate=validate.Length(max=40)), required=True,
                             validate=validate.Length(min=1, max=20))  # fmt: skip
    minutes = fields.Integer(required=True, validate=validate.Range(1, domain.MAX_MINUTES))
    expense = Money(allow_none=True, load_default=None)
    note = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    next_appointment_at = fields.AwareDateTime(allow_none=True, load_default=None)


class ImportIn(Strict):
    items = fields.List(fields.Nested(ImportEntry), required=True,
                        validate=validate.Length(min=1, max=10_000))  # fmt: skip
