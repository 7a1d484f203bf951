"""What comes in and goes out of the gateway: marshmallow schemas.

Request and query schemas validate every call (unknown body fields → 422); response schemas
document the answers in the OpenAPI spec. Both come from here, so the spec cannot drift from
the validation.
"""

from __future__ import annotations

import re
from typing import ClassVar

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

# Ids are strings on the wire; every service numbers its rows with positive integers that fit
# a 32-bit column, so anything else names nothing (a path id → 404, a body/query id → 422).
ID_REGEX = r"^[1-9][0-9]{0,9}$"
MAX_ID = 2**31 - 1
_ID = re.compile(ID_REGEX)


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


class User(Schema):
    id = fields.String(required=True)
    login = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.Integer(required=True)
    org_unit_id = fields.String(allow_none=True)
    supervisor_id = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class LoginResult(Schema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    user = fields.Nested(User, required=True)


class CreateUnitRequest(Strict):
    name = _text(200, required=True)
    parent_id = Id(allow_none=True, load_default=None)


class Unit(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    parent_id = fields.String(allow_none=True)


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
    contacts = fields.List(fields.Nested(Contact))


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


class CheckResult(Schema):
    matches = fields.List(fields.Nested(CheckMatch), required=True)


class CustomersQuery(PageQuery):
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    owner_id = Id(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["prospect", "customer"]))
