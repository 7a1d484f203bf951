"""What the opportunity service's capabilities share: the pipeline that applies to a caller,
who may see an opportunity, the row loaded and locked for one change, the stage's clocks, the
holder's rights, people from the projection.

Rules live in ``domain`` (pure), the sweep's exactly-once claims in ``sweep``, the read models
in ``readmodels``; the use cases, one module per capability, load rows, apply a rule, write the
history row and the event in the same unit of work (the outbox), and answer in the API shape.

Concurrency: every change to an opportunity first locks its row (``lock_opportunity``:
SELECT … FOR UPDATE on PostgreSQL, the database write lock on SQLite), so a user's action and a
sweeper never both act on the same state; the sweep skips rows a user holds locked and takes
them next time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from common.projection import Owners
from services.opportunity import domain, facts
from services.opportunity.facts import rules_by_id
from services.opportunity.models import Opportunity, Person, Pipeline
from services.opportunity.schemas import opportunity_out

NOT_FOUND = "商机不存在 / Opportunity not found"
PIPELINE_NOT_FOUND = "销售流程不存在 / Pipeline not found"
NOT_HOLDER = "只有商机的持有人可以操作 / Only the holder of the opportunity may do this"
NOT_OPEN = "商机当前状态不允许此操作 / The opportunity's status does not allow this"
CHANGED = "商机刚被他人修改，请重试 / The opportunity changed meanwhile; try again"


# --- pipelines -----------------------------------------------------------------------------


def pipeline_scope_filter(actor: Actor):
    """Pipelines whose scope contains the caller: their scope path is a prefix of the caller's."""
    prefixes = ["/"] + ["/" + "/".join(actor.path[: i + 1]) + "/" for i in range(len(actor.path))]
    return Pipeline.scope_path.in_(prefixes)


def choose_pipeline(session: Session, actor: Actor, pipeline_id: int | None) -> Pipeline:
    """The requested pipeline if it applies to the caller; else the most specific one that
    does (the newest of the deepest scope), the group's default last."""
    query = select(Pipeline).where(pipeline_scope_filter(actor))
    if pipeline_id is not None:
        row = session.scalar(query.where(Pipeline.id == pipeline_id))
        if row is None:
            raise ValidationFailed(details={"pipeline_id": [PIPELINE_NOT_FOUND]})
        return row
    rows = session.scalars(query).all()
    if not rows:
        raise ValidationFailed(details={"pipeline_id": [PIPELINE_NOT_FOUND]})
    return max(rows, key=lambda r: (len(r.scope_path), not r.is_default, r.id))


# --- visibility and locking ------------------------------------------------------------------


def visible_to(actor: Actor):
    """Own (held, registered, or confiscated from me); subordinates' from level 4; all at 9."""
    if actor.sees_everything():
        return Opportunity.id.isnot(None)
    mine = or_(
        Opportunity.holder_id == actor.id,
        Opportunity.owner_id == actor.id,
        Opportunity.original_owner_id == actor.id,
    )
    if not actor.sees_subordinates():
        return mine
    prefix = actor.path_prefix
    return or_(
        mine,
        Opportunity.holder_path.startswith(prefix, autoescape=True),
        Opportunity.owner_path.startswith(prefix, autoescape=True),
    )


def lock_opportunity(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    """The opportunity, locked for this transaction, if the caller may see it (else 404)."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(text("UPDATE opportunities SET version = version WHERE 0"))
    query = (
        select(Opportunity)
        .where(Opportunity.id == opportunity_id, visible_to(actor))
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Opportunity)
    opp = session.scalar(query)
    if opp is None:
        raise NotFound(NOT_FOUND)
    return opp


def start_clock(opp: Opportunity, rules: domain.Pipeline, now: datetime) -> None:
    """Enter (or re-enter) the current stage at ``now``: a fresh deadline, warning and follow-up."""
    opp.stage_entered_at = now
    opp.stage_deadline = domain.enter_stage(rules, opp.stage_index, now)
    opp.warn_at = opp.stage_deadline - rules.remind_before if opp.stage_deadline else None
    opp.warned_at = None
    since = opp.last_followup_at if opp.last_followup_at and opp.last_followup_at > now else now
    opp.followup_deadline = since + rules.followup_limit if rules.followup_limit else None
    opp.decision_deadline = None
    opp.flagged = False


def stop_clock(opp: Opportunity) -> None:
    opp.stage_deadline = opp.warn_at = opp.followup_deadline = opp.decision_deadline = None


def apply_change(db: Db, actor: Actor, opportunity_id: int, apply: Callable) -> dict:
    """Lock, apply one change (which writes history and events), answer the new state."""
    try:
        with db.unit_of_work() as uow:
            opp = lock_opportunity(uow.session, actor, opportunity_id)
            rules = rules_by_id(uow.session, opp.pipeline_id)
            apply(uow, opp, rules, clock.now())
            uow.session.flush()
            return uow.answer(opportunity_out(opp, rules))
    except StaleDataError:
        raise Conflict(CHANGED, code="conflict") from None


# --- people and the holder -------------------------------------------------------------------


def find_person(db: Db, owners: Owners, user_id: str | None) -> Person | None:
    """A user from the people projection, asked of org when the projection has not seen them."""
    if not user_id:
        return None
    with db.read() as session:
        person = session.get(Person, user_id)
    if person is None and owners.refresh(db, facts.PEOPLE, [user_id]):
        with db.read() as session:
            person = session.get(Person, user_id)
    return person


def require_holder(actor: Actor, opp: Opportunity, *statuses: str) -> None:
    if opp.holder_id != actor.id:
        raise Forbidden(NOT_HOLDER)
    if statuses and opp.status not in statuses:
        raise Conflict(NOT_OPEN, {"status": opp.status}, code=domain.INVALID_TRANSITION)
