"""What comes in to the experience service (validated, unknown fields refused)."""

from __future__ import annotations

from marshmallow import fields, validate

from common.schemas import Cursor, Id, Strict, Text, load  # noqa: F401  (load: re-exported)

KINDS = ("sales", "service")


def _key(length: int):
    return Text(allow_none=True, load_default=None, validate=validate.Length(max=length))


class EntryRef(Strict):
    experience_id = Id(required=True)


class SearchIn(Strict):
    q = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    stage = _key(64)
    category = _key(40)
    kind = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(KINDS))
    limit = fields.Integer(allow_none=True, load_default=50, validate=validate.Range(1, 500))
    cursor = Cursor(allow_none=True, load_default=None)


class SuggestIn(Strict):
    q = Text(required=True, validate=validate.Length(min=1, max=4000))
    stage = _key(64)
    category = _key(40)
    kind = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(KINDS))
    limit = fields.Integer(allow_none=True, load_default=5, validate=validate.Range(1, 50))


class HandbookIn(Strict):
    stage = _key(64)
    format = fields.String(load_default="md", validate=validate.OneOf(["md", "html"]))


class ImportItem(Strict):
    problem = Text(required=True, validate=validate.Length(min=1, max=2000))
    method = Text(required=True, validate=validate.Length(min=1, max=5000))
    title = Text(allow_none=True, load_default=None, validate=validate.Length(max=200))
    analysis = Text(allow_none=True, load_default=None, validate=validate.Length(max=5000))
    stage = _key(64)
    category = Text(required=True, validate=validate.Length(min=1, max=40))
    kind = fields.String(load_default="sales", validate=validate.OneOf(KINDS))
    industry = _key(100)
    requester_id = _key(64)
    method_author_id = _key(64)
    contributors = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    source_alarm_id = _key(64)
    created_at = fields.AwareDateTime(allow_none=True, load_default=None)
    reuse_count = fields.Integer(load_default=0, validate=validate.Range(0, 10**6))


class ImportIn(Strict):
    items = fields.List(
        fields.Nested(ImportItem), required=True, validate=validate.Length(min=1, max=10000)
    )
