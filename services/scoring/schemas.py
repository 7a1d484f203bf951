"""What comes in to the scoring service (validated, unknown fields refused)."""

from __future__ import annotations

from marshmallow import fields, validate

from common.schemas import Strict, Text, load  # noqa: F401  (load: re-exported)

SCOPES = ("me", "team", "subtree", "branch", "group")


class CurvesIn(Strict):
    user_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    from_date = fields.Date(allow_none=True, load_default=None)
    to_date = fields.Date(allow_none=True, load_default=None)
    granularity = fields.String(
        allow_none=True, load_default="day", validate=validate.OneOf(["day", "month"])
    )


class LeaderboardIn(Strict):
    metric = fields.String(
        allow_none=True, load_default="diligence", validate=validate.OneOf(["diligence", "ability"])
    )
    period = fields.String(
        allow_none=True, load_default="day", validate=validate.OneOf(["day", "week", "month"])
    )
    date = fields.Date(allow_none=True, load_default=None)
    scope = fields.String(allow_none=True, load_default="group", validate=validate.OneOf(SCOPES))


class ScopeIn(Strict):
    scope = fields.String(allow_none=True, load_default="subtree", validate=validate.OneOf(SCOPES))


class RangeIn(ScopeIn):
    from_date = fields.Date(allow_none=True, load_default=None)
    to_date = fields.Date(allow_none=True, load_default=None)


class NoArgs(Strict):
    pass
