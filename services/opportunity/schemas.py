"""What comes in (validated, unknown fields refused) and what goes out (API shapes)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from marshmallow import ValidationError, fields, validate

from common import clock
from common.errors import ValidationFailed
from common.schemas import Cursor, Id, Strict, Text, load  # noqa: F401  (load: re-exported)
from services.opportunity import domain
from services.opportunity.models import STATUSES, Opportunity, OpportunityHistory

SCOPES = ("me", "team", "subtree", "group")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
PIPELINE_FIELDS = {
    "name",
    "stages",
    "remind_before",
    "followup_limit",
    "decision_limit",
    "qualification",
    "qualification_threshold",
}
UNKNOWN_FIELD = "未知字段 / Unknown field"


def check_pipeline_fields(data: dict) -> None:
    unknown = sorted(set(data) - PIPELINE_FIELDS)
    if unknown:
        raise ValidationFailed(details={name: [UNKNOWN_FIELD] for name in unknown})


class Money(fields.Field):
    """``"120000.00"`` or a number → integer fen (domain.parse_money)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return domain.parse_money(value, attr or "amount")
        except ValidationFailed as exc:
            raise ValidationError(exc.details.get(attr or "amount", [domain.BAD_MONEY])) from None


class Month(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not MONTH.match(text):
            raise ValidationError("月份格式须为 YYYY-MM / Month must be YYYY-MM")
        return text


class RegisterIn(Strict):
    customer_id = Id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    amount = Money(required=True)
    pipeline_id = Id(allow_none=True, load_default=None)
    # answers are checked against the pipeline's questions by domain.feasibility
    qualification = fields.Dict(allow_none=True, load_default=dict)


class OpportunityRef(Strict):
    opportunity_id = Id(required=True)


class AdvanceIn(OpportunityRef):
    note = Text(allow_none=True, load_default=None, validate=validate.Length(max=2000))


class DecideIn(OpportunityRef):
    action = fields.String(required=True, validate=validate.OneOf(domain.DECISIONS))
    assignee_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))


class LoseIn(OpportunityRef):
    # reason and analysis are checked by domain.validate_loss (bilingual, one 422 for both)
    reason = fields.Raw(allow_none=True, load_default=None)
    analysis = fields.Raw(allow_none=True, load_default=None)


class ListIn(Strict):
    holder_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    status = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(STATUSES))
    stage = Text(allow_none=True, load_default=None, validate=validate.Length(max=64))
    limit = fields.Integer(allow_none=True, load_default=50, validate=validate.Range(1, 500))
    cursor = Cursor(allow_none=True, load_default=None)


class ScopeIn(Strict):
    scope = fields.String(allow_none=True, load_default="me", validate=validate.OneOf(SCOPES))


class FunnelIn(ScopeIn):
    pipeline_id = Id(allow_none=True, load_default=None)


class ForecastIn(ScopeIn):
    months = fields.Integer(allow_none=True, load_default=3, validate=validate.Range(1, 24))


class WorklistIn(Strict):
    limit = fields.Integer(allow_none=True, load_default=100, validate=validate.Range(1, 500))


class WorkbenchIn(Strict):
    days = fields.Integer(allow_none=True, load_default=3, validate=validate.Range(1, 31))


class TargetsIn(ScopeIn):
    month = Month(allow_none=True, load_default=None)


class SetTargetIn(Strict):
    user_id = Text(required=True, validate=validate.Length(min=1, max=64))
    month = Month(required=True)
    target = Money(required=True)


class NoArgs(Strict):
    pass


# --- out ---------------------------------------------------------------------------------


def _time(value):
    return clock.isoformat(value) if value is not None else None


def pipeline_out(row) -> dict:
    return {
        **row.definition,
        "id": str(row.id),
        "name": row.name,
        "scope_path": row.scope_path,
        "is_default": bool(row.is_default),
        "created_at": _time(row.created_at),
    }


def opportunity_out(opp: Opportunity, pipeline: domain.Pipeline) -> dict:
    stage = pipeline.stages[opp.stage_index] if opp.stage_index < len(pipeline.stages) else None
    return {
        "id": str(opp.id),
        "customer_id": str(opp.customer_id),
        "title": opp.title,
        "amount": domain.format_money(opp.amount_fen),
        "pipeline_id": str(opp.pipeline_id),
        "owner_id": opp.owner_id,
        "holder_id": opp.holder_id,
        "original_owner_id": opp.original_owner_id,
        "status": opp.status,
        "stage": opp.stage_key,
        "stage_name": stage.name if stage else opp.stage_key,
        "probability": stage.probability if stage else None,
        "stage_entered_at": _time(opp.stage_entered_at),
        "stage_deadline": _time(opp.stage_deadline),
        "warned_at": _time(opp.warned_at),
        "decision_deadline": _time(opp.decision_deadline),
        "flagged": bool(opp.flagged),
        "feasibility_score": opp.feasibility_score,
        "loss_reason": opp.loss_reason,
        "loss_analysis": opp.loss_analysis,
        "created_at": _time(opp.created_at),
        "closed_at": _time(opp.closed_at),
    }


def history_out(rows: Sequence[OpportunityHistory]) -> list[dict]:
    return [
        {
            "at": _time(h.at),
            "action": h.action,
            "by": h.by,
            "from": h.from_value,
            "to": h.to_value,
            "reason": h.reason,
        }
        for h in rows
    ]


class Moment(fields.AwareDateTime):
    """An RFC 3339 time with its offset (naive times are refused)."""


class ImportStage(Strict):
    stage = Text(required=True, validate=validate.Length(min=1, max=64))
    at = Moment(required=True)


class ImportItem(Strict):
    """One opportunity with its past, as demo data and migrations from other systems bring it."""

    customer_id = Id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    amount = Money(required=True)
    pipeline_id = Id(allow_none=True, load_default=None)
    owner_id = Text(required=True, validate=validate.Length(min=1, max=64))
    owner_path = fields.List(Text(validate=validate.Length(min=1, max=64)), required=True)
    created_at = Moment(required=True)
    # the stages entered after the first one, in order
    advances = fields.List(fields.Nested(ImportStage), load_default=list)
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "won", "lost"]))
    closed_at = Moment(allow_none=True, load_default=None)
    loss_reason = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(domain.LOSS_REASONS)
    )
    loss_analysis = Text(allow_none=True, load_default=None, validate=validate.Length(max=10_000))
    feasibility_score = fields.Float(load_default=1.0, validate=validate.Range(0, 1))


class ImportIn(Strict):
    items = fields.List(
        fields.Nested(ImportItem), required=True, validate=validate.Length(min=1, max=1000)
    )


class ExportIn(Strict):
    after_id = fields.Integer(load_default=0, validate=validate.Range(0, 2**31 - 1))
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 10000))
