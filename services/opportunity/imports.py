"""Bulk data in and out (level 9): opportunities imported with their past, and the history
exported in id order for services that rebuild from it (scoring)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import ValidationFailed
from common.projection import user_path
from services.opportunity import domain, learned
from services.opportunity.core import PIPELINE_NOT_FOUND, choose_pipeline, start_clock, stop_clock
from services.opportunity.facts import fact, rules_by_id
from services.opportunity.models import (
    LOSS_PENDING,
    LOST,
    OPEN,
    WON,
    Opportunity,
    OpportunityHistory,
    Pipeline,
)

IMPORTED_PAGE = 500  # facts per opportunities_imported event
IMPORT_BAD_STAGE = "阶段不存在或顺序不对 / Unknown stage or stages out of order"
IMPORT_BAD_CLOSE = "成交/丢单须有关闭时间，且不早于最后一次推进 / A closed item needs closed_at"


def _import_row(session: Session, item: dict, rules: domain.Pipeline, pipeline_id: int, i: int):
    created = item["created_at"]
    index, entered, history = 0, created, [("registered", created, None, rules.stages[0].key)]
    for step in item["advances"]:
        key = step["stage"]
        position = rules.stage_keys.index(key) if key in rules.stage_keys else -1
        if position != index + 1 or position >= rules.won_index or step["at"] < entered:
            raise ValidationFailed(details={f"items.{i}.advances": [IMPORT_BAD_STAGE]})
        history.append(("advanced", step["at"], rules.stage_keys[index], key))
        index, entered = position, step["at"]
    status, closed = item["status"], item["closed_at"]
    if status != OPEN and (closed is None or closed < entered):
        raise ValidationFailed(details={f"items.{i}.closed_at": [IMPORT_BAD_CLOSE]})
    if status == WON and not domain.can_win(rules, index):
        raise ValidationFailed(details={f"items.{i}.status": [domain.NOT_LAST_OPEN_STAGE]})
    if status == LOST and not item["loss_reason"]:
        raise ValidationFailed(details={f"items.{i}.loss_reason": [domain.BAD_REASON]})
    path = user_path(item["owner_path"], item["owner_id"])
    opp = Opportunity(
        customer_id=item["customer_id"],
        title=item["title"],
        amount_fen=item["amount"],
        pipeline_id=pipeline_id,
        owner_id=item["owner_id"],
        owner_path=path,
        holder_id=item["owner_id"],
        holder_path=path,
        status=status,
        stage_key=rules.stage_keys[index],
        stage_index=index,
        feasibility_score=item["feasibility_score"],
        created_at=created,
    )
    start_clock(opp, rules, entered)
    opp.stage_entered_at = entered
    if status == WON:
        opp.stage_index, opp.stage_key = rules.won_index, rules.stage_keys[rules.won_index]
        history.append(("won", closed, rules.stage_keys[index], opp.stage_key))
    elif status == LOST:
        opp.loss_reason, opp.loss_analysis = item["loss_reason"], item["loss_analysis"]
        history.append(("lost", closed, LOSS_PENDING, LOST))
    if status != OPEN:
        opp.closed_at = closed
        stop_clock(opp)
    return opp, history


def import_opportunities(db: Db, actor: Actor, items: list[dict]) -> dict:
    """Level 9: opportunities with their past (demo data, migrations), history included.

    The other services' projections learn them from ``opportunities_imported`` (pages of the
    fact every opportunity event carries, as each stands after its history); scoring rebuilds
    its history from this service. Imported open opportunities are on the clock from their
    last stage entry.
    """
    actor.require_level(9)
    with db.unit_of_work() as uow:
        session = uow.session
        default = choose_pipeline(session, actor, None)
        rows = []
        for i, item in enumerate(items):
            pid = item["pipeline_id"] or default.id
            if session.get(Pipeline, pid) is None:
                raise ValidationFailed(details={f"items.{i}.pipeline_id": [PIPELINE_NOT_FOUND]})
            rows.append(_import_row(session, item, rules_by_id(session, pid), pid, i))
        # one bulk INSERT … RETURNING of the values set on each (transient) opportunity, not a
        # unit-of-work flush of objects: the ORM applies the column defaults of the rest
        values = [{k: v for k, v in vars(opp).items() if not k.startswith("_")} for opp, _ in rows]
        ids = list(session.scalars(
            insert(Opportunity).returning(Opportunity.id, sort_by_parameter_order=True), values
        ))  # fmt: skip
        session.execute(insert(OpportunityHistory), [
            {"opportunity_id": oid, "at": at, "action": action, "by": "import",
             "from_value": before, "to_value": after, "reason": None}
            for oid, (_, history) in zip(ids, rows, strict=True)
            for action, at, before, after in history
        ])  # fmt: skip
        # every projection of opportunities learns them as it learns live ones
        imported = []
        for oid, (opp, history) in zip(ids, rows, strict=True):
            opp.id = oid
            imported.append(fact(opp, rules_by_id(session, opp.pipeline_id), history[-1][1],
                                 "import"))  # fmt: skip
        for start in range(0, len(imported), IMPORTED_PAGE):
            page = imported[start : start + IMPORTED_PAGE]
            uow.publish("opportunities_imported", {"items": page})
        answer = {"imported": len(rows), "ids": [str(oid) for oid in ids]}
    learned.forget()
    return answer


def export_history(db: Db, actor: Actor, after_id: int, limit: int) -> dict:
    """Level 9: the history in id order, for services rebuilding from it (scoring). Columns,
    not ORM objects: a rebuild after the demo reads 800,000 rows."""
    actor.require_level(9)
    h = OpportunityHistory
    with db.read() as session:
        rows = session.execute(
            select(h.id, h.opportunity_id, Opportunity.customer_id, Opportunity.pipeline_id,
                   h.at, h.action, h.by, h.from_value, h.to_value, h.reason)
            .join(Opportunity, Opportunity.id == h.opportunity_id)
            .where(h.id > after_id)
            .order_by(h.id)
            .limit(limit)
        ).all()  # fmt: skip
    keys = ("id", "opportunity_id", "customer_id", "pipeline_id", "at", "action", "by", "from",
            "to", "reason")  # fmt: skip
    items = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        for key in ("id", "opportunity_id", "customer_id", "pipeline_id"):
            item[key] = str(item[key])
        item["at"] = clock.isoformat(item["at"])
        items.append(item)
    return {"items": items, "next_after_id": items[-1]["id"] if items else None}
