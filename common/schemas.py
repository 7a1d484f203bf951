"""Marshmallow building blocks every service validates its RPC arguments with.

Arguments arrive as keyword arguments of an RPC; ``load`` turns them into clean values or a
``ValidationFailed`` (422) listing every problem per field, in Chinese and English.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields

from common.errors import ValidationFailed

MAX_ID = 2**31 - 1


class Text(fields.String):
    """A string without NUL characters, trimmed; blank counts as missing when allowed."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("包含非法字符 / Contains invalid characters")
        text = text.strip()
        if not text and self.allow_none:
            return None
        return text

    def _validate(self, value):
        if value is not None:  # a blank optional text became None: nothing to measure
            super()._validate(value)


class Id(fields.Field):
    """A record id: a positive integer, sent as a string (or a number)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("无效的编号 / Invalid id")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            number = int(value.strip())
        else:
            raise ValidationError("无效的编号 / Invalid id")
        if not 0 < number <= MAX_ID:
            raise ValidationError("无效的编号 / Invalid id")
        return number


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Cursor(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
            raise ValidationError("无效的游标 / Invalid cursor")
        return int(text)


_instances: dict[type[Schema], Schema] = {}


def instance_of(schema: type[Schema]) -> Schema:
    """The one shared instance of a schema class (marshmallow schemas are reusable and keep no
    per-load state; building one deep-copies every field, which costs more than most loads)."""
    instance = _instances.get(schema)
    if instance is None:
        instance = _instances[schema] = schema()
    return instance


def load(schema: type[Schema], data: dict) -> dict:
    """Validated arguments, or ValidationFailed with ``{field: [messages]}``."""
    try:
        loaded = instance_of(schema).load(data)
    except ValidationError as exc:
        raise ValidationFailed(details=_as_lists(exc.normalized_messages())) from None
    return loaded


def _as_lists(messages) -> dict:
    if isinstance(messages, dict):
        return {str(k): _as_lists(v) for k, v in messages.items()}
    if isinstance(messages, list):
        return messages
    return [str(messages)]
