"""What comes in (validated, unknown fields refused) and what goes out (API shapes)."""

from __future__ import annotations

import re

from marshmallow import (
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from common import clock
from common.schemas import Cursor, Id, Strict, Text, load  # noqa: F401  (load: re-exported)
from services.customer import care, domain

PHONE_CHARS = re.compile(r"^[0-9+\-\s().]{3,40}$")


def phone_validator(value: str | None) -> None:
    if value is None:
        return
    if not PHONE_CHARS.match(value) or not 3 <= len(domain.normalise_phone(value)) <= 20:
        raise ValidationError("电话号码无效 / Invalid phone number")


class ContactIn(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    title = Text(allow_none=True, load_default=None, validate=validate.Length(max=100))
    phone = Text(allow_none=True, load_default=None, validate=phone_validator)
    email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=254))
    birthday = fields.Date(allow_none=True, load_default=None)
    birthday_calendar = fields.String(
        allow_none=True, load_default="solar", validate=validate.OneOf(["solar", "lunar"])
    )
    decision_maker = fields.Boolean(allow_none=True, load_default=False)

    @post_load
    def _defaults_for_nulls(self, data, **_):
        data["birthday_calendar"] = data["birthday_calendar"] or "solar"
        data["decision_maker"] = bool(data["decision_maker"])
        return data


class RegisterIn(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    uscc = Text(allow_none=True, load_default=None)
    industry = Text(allow_none=True, load_default=None, validate=validate.Length(max=100))
    region = Text(allow_none=True, load_default=None, validate=validate.Length(max=100))
    founded_on = fields.Date(allow_none=True, load_default=None)
    referred_by = Id(allow_none=True, load_default=None)
    contacts = fields.List(
        fields.Nested(ContactIn), load_default=list, validate=validate.Length(max=50)
    )

    @validates("uscc")
    def _uscc(self, value, **_):
        if value is not None and not domain.is_valid_uscc(value):
            raise ValidationError(domain.INVALID_USCC)

    @validates("founded_on")
    def _founded_on(self, value, **_):
        if value is not None and value > clock.today():
            raise ValidationError("成立日期不能晚于今天 / Founding date cannot be in the future")

    @validates_schema
    def _distinct_phones(self, data, **_):
        keys = [domain.normalise_phone(c["phone"]) for c in data.get("contacts", []) if c["phone"]]
        if len(keys) != len(set(keys)):
            raise ValidationError({"contacts": ["联系人电话重复 / The same phone is given twice"]})


class CheckIn(Strict):
    name = Text(allow_none=True, load_default=None, validate=validate.Length(max=200))
    uscc = Text(allow_none=True, load_default=None)
    phone = Text(allow_none=True, load_default=None, validate=phone_validator)

    @validates("uscc")
    def _uscc(self, value, **_):
        if value is not None and not domain.is_valid_uscc(value):
            raise ValidationError(domain.INVALID_USCC)


class CustomerRef(Strict):
    customer_id = Id(required=True)


class ContactRef(Strict):
    customer_id = Id(required=True)
    contact_id = Id(required=True)


class ListIn(Strict):
    q = Text(allow_none=True, load_default=None, validate=validate.Length(max=200))
    owner_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    status = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(["prospect", "customer"])
    )
    limit = fields.Integer(allow_none=True, load_default=50, validate=validate.Range(1, 500))
    cursor = Cursor(allow_none=True, load_default=None)


class ExportIn(Strict):
    pass


def revisit_interval(value: str) -> int:
    """An ISO 8601 duration of whole days (``P15D``, ``P2W``) → days, 1 to 366."""
    try:
        delta = clock.parse_duration(value)
    except (ValueError, TypeError, OverflowError):
        raise ValidationError(
            "应为 ISO 8601 时长，如 P15D / Expected an ISO 8601 duration such as P15D"
        ) from None
    if delta.seconds or delta.microseconds or not 1 <= delta.days <= 366:
        raise ValidationError(
            "回访间隔应为 1 到 366 整天 / The interval must be 1 to 366 whole days"
        )
    return delta.days


class CareIn(Strict):
    customer_id = Id(required=True)
    revisit_interval = Text(required=True, validate=validate.Length(max=40))

    @post_load
    def _days(self, data, **_):
        try:
            data["revisit_interval_days"] = revisit_interval(data["revisit_interval"])
        except ValidationError as exc:
            raise ValidationError({"revisit_interval": exc.messages}) from None
        return data


class ImportantDateIn(Strict):
    customer_id = Id(required=True)
    label = Text(required=True, validate=validate.Length(min=1, max=100))
    date = fields.Date(required=True)
    recurring = fields.Boolean(load_default=False)


class RevisitIn(Strict):
    customer_id = Id(required=True)
    outcome = Text(required=True, validate=validate.Length(min=1, max=500))
    notes = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    verifies_entry_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    verification = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(["confirmed", "denied"])
    )

    @validates_schema
    def _verification_with_entry(self, data, **_):
        if (data.get("verifies_entry_id") is None) != (data.get("verification") is None):
            raise ValidationError(
                "核实拜访需同时给出日志和结论 / Give both verifies_entry_id and verification",
                "verification",
            )


REMINDER_RANGE = "日期应在 1901 至 2099 年之间 / The date must be within 1901–2099"


def reminder_start(value) -> None:
    if value is not None and not 1901 <= value.year <= 2099:  # the lunar calendar's range
        raise ValidationError(REMINDER_RANGE)


class RemindersIn(Strict):
    start = fields.Date(
        data_key="from", allow_none=True, load_default=None, validate=reminder_start
    )
    days = fields.Integer(allow_none=True, load_default=3, validate=validate.Range(1, 366))

    @post_load
    def _default_days(self, data, **_):
        data["days"] = data["days"] or 3
        return data


class ReferrerIn(Strict):
    customer_id = Id(required=True)
    referred_by = Id(required=True, allow_none=True)


class ReferralsIn(Strict):
    """No arguments (also ``send_reminders``)."""


# --- out ---------------------------------------------------------------------------------


def contact_out(contact, masked: bool = True) -> dict:
    return {
        "id": str(contact.id),
        "name": contact.name,
        "title": contact.title,
        "phone": domain.mask_phone(contact.phone) if masked else contact.phone,
        "email": domain.mask_email(contact.email) if masked else contact.email,
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "birthday_calendar": contact.birthday_calendar,
        "decision_maker": bool(contact.decision_maker),
    }


def next_revisit_on(customer) -> str | None:
    """The organisation's day a care customer's next revisit is due; None for a prospect."""
    due = care.revisit_due(
        customer.care_since, customer.last_revisit_at, customer.revisit_interval_days or 15
    )
    return due.isoformat() if due else None


def customer_out(customer) -> dict:
    """The API customer shape; contacts are always masked here."""
    return {
        "id": str(customer.id),
        "name": customer.name,
        "uscc": customer.uscc,
        "industry": customer.industry,
        "region": customer.region,
        "founded_on": customer.founded_on.isoformat() if customer.founded_on else None,
        "referred_by": str(customer.referred_by) if customer.referred_by else None,
        "owner_id": customer.owner_id,
        "status": customer.status,
        "created_at": clock.isoformat(customer.created_at),
        "care_since": clock.isoformat(customer.care_since),
        "revisit_interval": f"P{customer.revisit_interval_days or 15}D",
        "last_revisit_at": clock.isoformat(customer.last_revisit_at),
        "next_revisit_on": next_revisit_on(customer),
        "contacts": [contact_out(c) for c in customer.contacts],
    }


# --- bulk import (demo data, migration from another system) -------------------------------


class ImportCustomer(RegisterIn):
    owner_id = Text(required=True, validate=validate.Length(min=1, max=64))
    owner_path = fields.List(Text(validate=validate.Length(min=1, max=64)), required=True,
                             validate=validate.Length(min=1, max=20))  # fmt: skip
    created_at = fields.AwareDateTime(required=True)
    care_since = fields.AwareDateTime(allow_none=True, load_default=None)
    last_revisit_at = fields.AwareDateTime(allow_none=True, load_default=None)
    revisit_interval_days = fields.Integer(load_default=15, validate=validate.Range(1, 366))


class ImportCustomersIn(Strict):
    items = fields.List(fields.Nested(ImportCustomer), required=True,
                        validate=validate.Length(min=1, max=5000))  # fmt: skip
