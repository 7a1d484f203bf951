"""Reading opportunities: one with its history, and the list the caller may see."""

from __future__ import annotations

from sqlalchemy import select

from common.actor import Actor
from common.db import Db
from common.errors import NotFound
from services.opportunity.core import NOT_FOUND, visible_to
from services.opportunity.facts import rules_by_id
from services.opportunity.models import Opportunity, OpportunityHistory
from services.opportunity.schemas import history_out, opportunity_out


def get(db: Db, actor: Actor, opportunity_id: int) -> dict:
    with db.read() as session:
        opp = session.scalar(
            select(Opportunity).where(Opportunity.id == opportunity_id, visible_to(actor))
        )
        if opp is None:
            raise NotFound(NOT_FOUND)
        rows = session.scalars(
            select(OpportunityHistory)
            .where(OpportunityHistory.opportunity_id == opp.id)
            .order_by(OpportunityHistory.at, OpportunityHistory.id)
        ).all()
        return {
            **opportunity_out(opp, rules_by_id(session, opp.pipeline_id)),
            "history": history_out(rows),
        }


def list_visible(db: Db, actor: Actor, args: dict) -> dict:
    query = select(Opportunity).where(visible_to(actor))
    if args["holder_id"]:
        query = query.where(Opportunity.holder_id == args["holder_id"])
    if args["status"]:
        query = query.where(Opportunity.status == args["status"])
    if args["stage"]:
        query = query.where(Opportunity.stage_key == args["stage"])
    if args["cursor"] is not None:
        query = query.where(Opportunity.id < args["cursor"])
    limit = args["limit"] or 50
    with db.read() as session:
        rows = list(session.scalars(query.order_by(Opportunity.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [opportunity_out(r, rules_by_id(session, r.pipeline_id)) for r in rows]
    return {"items": items, "next_cursor": str(rows[-1].id) if more and rows else None}
