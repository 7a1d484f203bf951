"""What the opportunity service owns for the others, and what it mirrors of theirs
(common.projection).

Owned: the ``opportunity`` fact — customer, owner, holder (with their supervisor chains), stage
and status — carried by every opportunity event and by ``opportunities_imported``, and
answered by ``facts``. Mirrored: org's people (reassignment targets, targets, hand-overs) and
who owns each customer (registration refuses a customer held by another).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import clock
from common.projection import (
    Mirror,
    Source,
    fact_time,
    int_ids,
    int_page,
    path_list,
    people_mirror,
    write_latest,
)
from services.opportunity import domain
from services.opportunity.models import (
    CustomerOwner,
    Opportunity,
    OpportunityHistory,
    Person,
    Pipeline,
)

# --- pipelines (parsed once: they never change once created) -----------------------------------

_parsed: dict[int, domain.Pipeline] = {}


def pipeline_rules(row: Pipeline) -> domain.Pipeline:
    """The parsed rules of a pipeline row (pipelines never change once created: cached)."""
    rules = _parsed.get(row.id)
    if rules is None:
        rules = _parsed[row.id] = domain.parse_pipeline(row.definition)
    return rules


def rules_by_id(session: Session, pipeline_id: int) -> domain.Pipeline:
    rules = _parsed.get(pipeline_id)
    if rules is None:
        rules = pipeline_rules(session.get(Pipeline, pipeline_id))
    return rules


# --- the opportunity fact ----------------------------------------------------------------------


def fact(opp: Opportunity, rules: domain.Pipeline, now: datetime, by: str) -> dict:
    """The common part of every opportunity event (common.events.OpportunityFact): what the
    other services mirror of an opportunity as of ``now``."""
    stage = rules.stages[opp.stage_index]
    return {
        "opportunity_id": str(opp.id),
        "customer_id": str(opp.customer_id),
        "pipeline_id": str(opp.pipeline_id),
        "title": opp.title,
        "amount": domain.format_money(opp.amount_fen),
        "owner_id": opp.owner_id,
        "owner_path": path_list(opp.owner_path),
        "holder_id": opp.holder_id,
        "holder_path": path_list(opp.holder_path),
        "original_owner_id": opp.original_owner_id,
        "status": opp.status,
        "stage": opp.stage_key,
        "stage_index": opp.stage_index,
        "probability": stage.probability,
        "stage_deadline": clock.isoformat(opp.stage_deadline) if opp.stage_deadline else None,
        "at": clock.isoformat(now),
        "changed_at": clock.isoformat_exact(now),
        "by": by,
    }


def _with_last_change():
    """Opportunities with the time and author of their latest history row: a fact fetched now
    is as of that change, so a late event of an earlier one does not overwrite it."""
    last = (
        select(OpportunityHistory.opportunity_id, func.max(OpportunityHistory.id).label("hid"))
        .group_by(OpportunityHistory.opportunity_id)
        .subquery()
    )
    return (
        select(Opportunity, OpportunityHistory.at, OpportunityHistory.by)
        .outerjoin(last, last.c.opportunity_id == Opportunity.id)
        .outerjoin(OpportunityHistory, OpportunityHistory.id == last.c.hid)
    )


def _facts(session: Session, rows) -> list[dict]:
    return [
        fact(r.Opportunity, rules_by_id(session, r.Opportunity.pipeline_id),
             r.at or r.Opportunity.created_at, r.by or r.Opportunity.owner_id)
        for r in rows
    ]  # fmt: skip


def load_opportunities(session: Session, ids: list[str]) -> dict[str, dict]:
    wanted = int_ids(ids)
    if not wanted:
        return {}
    rows = session.execute(_with_last_change().where(Opportunity.id.in_(wanted))).all()
    return {f["opportunity_id"]: f for f in _facts(session, rows)}


def opportunity_page(session: Session, cursor: str | None, limit: int):
    rows, following = int_page(session, _with_last_change(), Opportunity.id, cursor, limit)
    return _facts(session, rows), following


SOURCES = {"opportunity": Source("opportunity", load_opportunities, opportunity_page)}


# --- mirrors -------------------------------------------------------------------------------


def _write_customers(session: Session, facts: list[dict], force: bool) -> None:
    def row(f: dict) -> dict:
        return {"customer_id": int(f["customer_id"]), "owner_id": f["owner_id"] or None,
                "name": (f.get("name") or "")[:200], "as_of": fact_time(f)}  # fmt: skip

    write_latest(session, CustomerOwner, "customer_id", facts, row, force)


def customer_handed_over(session: Session, data: dict) -> None:
    """A hand-over changes the owner only (the event carries no name)."""

    def row(f: dict) -> dict:
        return {"customer_id": int(f["customer_id"]), "owner_id": f["to_owner_id"], "name": "",
                "as_of": fact_time(f)}  # fmt: skip

    write_latest(session, CustomerOwner, "customer_id", [data], row, columns=("owner_id", "as_of"))


def _customer_as_fact(row: CustomerOwner) -> dict:
    return {"customer_id": str(row.customer_id), "owner_id": row.owner_id, "name": row.name}


PEOPLE = people_mirror(Person)
CUSTOMERS = Mirror(
    "customer_owners", "customer", "customer", CustomerOwner, "customer_id",
    ("owner_id", "name"), _write_customers, _customer_as_fact, key_type=int,
)  # fmt: skip
MIRRORS = {"people": PEOPLE, "customer_owners": CUSTOMERS}
