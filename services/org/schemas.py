"""What comes into org's RPCs and what goes out.

Arguments are loaded through these schemas; a refusal becomes ``ValidationFailed`` with
``{field: [messages]}`` details, so bad input from the gateway never surfaces as a bug.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from common import clock
from common.errors import ValidationFailed
from services.org import domain
from services.org.models import AuditEntry, OrgUnit, User

_LEVEL = validate.Range(
    domain.MIN_LEVEL,
    domain.MAX_LEVEL,
    error=f"级别必须在 {domain.MIN_LEVEL} 到 {domain.MAX_LEVEL} 之间 / "
    f"Level must be {domain.MIN_LEVEL}–{domain.MAX_LEVEL}",
)


class _Args(Schema):
    class Meta:
        unknown = RAISE


def _id(**kwargs) -> fields.Integer:
    return fields.Integer(
        strict=False,
        validate=validate.Range(min=1),
        error_messages={"invalid": "必须是有效的编号 / Must be a valid id"},
        **kwargs,
    )


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(
        validate=[
            validate.Length(min=1, max=max_length),
            validate.Regexp(r"\S", error="不能为空 / Must not be blank"),
        ],
        **kwargs,
    )


class LoginArgs(_Args):
    login = fields.String(required=True, validate=validate.Length(max=200))
    password = fields.String(required=True, validate=validate.Length(max=1000))
    totp_code = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=20))


class ChangePasswordArgs(_Args):
    old_password = fields.String(required=True, validate=validate.Length(max=1000))
    new_password = fields.String(required=True, validate=validate.Length(max=1000))


class TotpCodeArgs(_Args):
    code = fields.String(required=True, validate=validate.Length(max=20))
    password = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=1000))


class CreateUnitArgs(_Args):
    name = _text(200, required=True)
    parent_id = _id(allow_none=True, load_default=None)


class CreateUserArgs(_Args):
    login = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^\S{1,80}$",
            error="登录名须为 1–80 个非空白字符 / Login must be 1–80 non-blank characters",
        ),
    )
    password = fields.String(
        required=True,
        validate=validate.Length(
            min=6, max=1000, error="密码至少 6 个字符 / Password needs at least 6 characters"
        ),
    )
    name = _text(200, required=True)
    level = fields.Integer(strict=True, required=True, validate=_LEVEL)
    org_unit_id = _id(allow_none=True, load_default=None)
    supervisor_id = _id(allow_none=True, load_default=None)


class UserChanges(_Args):
    supervisor_id = _id(allow_none=True)
    org_unit_id = _id(allow_none=True)
    level = fields.Integer(strict=True, validate=_LEVEL)
    active = fields.Boolean(truthy={True}, falsy={False})


class UserIdArgs(_Args):
    user_id = _id(required=True)


class UpdateUserArgs(_Args):
    user_id = _id(required=True)
    changes = fields.Nested(UserChanges, required=True)


class ListArgs(_Args):
    limit = fields.Integer(strict=False, load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(allow_none=True, load_default=None)


class ListUsersArgs(ListArgs):
    org_unit_id = _id(allow_none=True, load_default=None)


class ListAuditArgs(ListArgs):
    user_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40))
    action = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=80))


def load(schema_cls: type[Schema], data: dict[str, Any]) -> dict[str, Any]:
    """Arguments loaded through a schema, or ``ValidationFailed`` naming each bad field."""
    present = {key: value for key, value in data.items() if value is not None}
    try:
        return schema_cls().load(present)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(details=messages) from exc


def parse_id(raw: object) -> int | None:
    """An id as it arrives over the wire ("42" or 42), or None when it cannot be one."""
    if isinstance(raw, bool):
        return None
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


# --- cursors: opaque to clients, keyset positions to us ---------------------------------


def encode_cursor(position: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(details={"cursor": ["游标无效 / Invalid cursor"]}) from exc
    if not isinstance(position, list):
        raise ValidationFailed(details={"cursor": ["游标无效 / Invalid cursor"]})
    return position


# --- what goes out -----------------------------------------------------------------------


def _str_or_none(value: int | None) -> str | None:
    return None if value is None else str(value)


def dump_user(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "login": user.login,
        "name": user.name,
        "level": user.level,
        "org_unit_id": _str_or_none(user.org_unit_id),
        "supervisor_id": _str_or_none(user.supervisor_id),
        "active": bool(user.active),
    }


def dump_actor(user: User, session_live: bool | None = None) -> dict[str, Any]:
    """A user as the gateway authenticates them: with the supervisor path, the token
    generation every token must carry, whether a password change is due, and whether the
    token's session (when asked) is still live."""
    return {
        **dump_user(user),
        "path": domain.path_ids(user.path),
        "generation": user.token_generation or 0,
        "must_change_password": bool(user.must_change_password),
        "totp_enabled": user.totp_secret is not None,
        "session_live": session_live,
    }


def dump_unit(unit: OrgUnit) -> dict[str, Any]:
    return {"id": str(unit.id), "name": unit.name, "parent_id": _str_or_none(unit.parent_id)}


def dump_audit(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "at": clock.isoformat(entry.at),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details or {},
    }


def user_created_payload(user: User) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "login": user.login,
        "name": user.name,
        "level": user.level,
        "org_unit_id": _str_or_none(user.org_unit_id),
        "supervisor_id": _str_or_none(user.supervisor_id),
        "path": domain.path_ids(user.path),
    }


def user_moved_payload(user: User, old_path: str) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "old_path": domain.path_ids(old_path),
        "new_path": domain.path_ids(user.path),
        "level": user.level,
        "org_unit_id": _str_or_none(user.org_unit_id),
        "supervisor_id": _str_or_none(user.supervisor_id),
    }


PARENT_FIRST = "上级单元须在前 / The parent unit's key must come first"
SUPERVISOR_FIRST = "上级须在前 / The supervisor's key must come first"


class ImportUnit(_Args):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = _text(200, required=True)
    parent_key = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    parent_id = _id(allow_none=True, load_default=None)


class ImportUser(CreateUserArgs):
    key = fields.String(required=True, validate=validate.Length(min=1, max=64))
    unit_key = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    supervisor_key = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=64)
    )


class ImportOrgArgs(_Args):
    units = fields.List(fields.Nested(ImportUnit), load_default=list,
                        validate=validate.Length(max=5000))  # fmt: skip
    users = fields.List(fields.Nested(ImportUser), load_default=list,
                        validate=validate.Length(max=5000))  # fmt: skip

    @validates_schema
    def _keys_known_in_order(self, data, **_):
        seen_units: set[str] = set()
        for n, unit in enumerate(data.get("units", [])):
            if unit["parent_key"] is not None and unit["parent_key"] not in seen_units:
                raise ValidationError(
                    {"units": {n: ["上级单元须在前 / Parent key must come first"]}}
                )
            seen_units.add(unit["key"])
        seen_users: set[str] = set()
        for n, user in enumerate(data.get("users", [])):
            if user["unit_key"] is not None and user["unit_key"] not in seen_units:
                raise ValidationError({"users": {n: ["未知单元 / Unknown unit key"]}})
            if user["supervisor_key"] is not None and user["supervisor_key"] not in seen_users:
                raise ValidationError(
                    {"users": {n: ["上级须在前 / Supervisor key must come first"]}}
                )
            seen_users.add(user["key"])
