"""Use cases of the opportunity service: each takes the database, the actor and loaded arguments.

Rules live in ``domain`` (pure), the sweep's exactly-once claims in ``sweep``, the read models
in ``readmodels``; this module loads rows, applies a rule, writes the history row and the event
in the same unit of work (the outbox), and answers in the API shape.

Concurrency: every change to an opportunity first locks its row (``_lock``: SELECT … FOR UPDATE
on PostgreSQL, the database write lock on SQLite), so a user's action and a sweeper never both
act on the same state; the sweep skips rows a user holds locked and takes them next time.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select, text, true
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from common import clock, config, metrics, projection
from common.actor import Actor, Freshness
from common.db import Db
from common.errors import (
    Conflict,
    DuplicateCustomer,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from common.events import Envelope
from common.projection import Owners, path_list, user_path
from services.opportunity import domain, facts, learned, sweep
from services.opportunity.facts import fact, pipeline_rules, rules_by_id
from services.opportunity.models import (
    CONFISCATED,
    LOSS_PENDING,
    LOST,
    OPEN,
    WON,
    CustomerOwner,
    Opportunity,
    OpportunityHistory,
    Person,
    Pipeline,
)
from services.opportunity.schemas import (
    check_pipeline_fields,
    history_out,
    opportunity_out,
    pipeline_out,
)

log = logging.getLogger(__name__)

NOT_FOUND = "商机不存在 / Opportunity not found"
PIPELINE_NOT_FOUND = "销售流程不存在 / Pipeline not found"
CUSTOMER_NOT_FOUND = "客户不存在 / Customer not found"
CUSTOMER_HELD = "该客户已由其他业务员跟进 / This customer is held by another salesperson"
NOT_HOLDER = "只有商机的持有人可以操作 / Only the holder of the opportunity may do this"
NOT_OPEN = "商机当前状态不允许此操作 / The opportunity's status does not allow this"
CHANGED = "商机刚被他人修改，请重试 / The opportunity changed meanwhile; try again"
NOT_APPROVER = (
    "只有上级主管（4 级及以上）可以批准丢单 / "
    "Only a supervisor (level 4 or above) in the chain may approve a loss"
)
OWNER_INACTIVE = "原负责人已离职，请改派 / The original owner has left; reassign instead"


# --- pipelines -----------------------------------------------------------------------------


def _pipeline_scope_filter(actor: Actor):
    """Pipelines whose scope contains the caller: their scope path is a prefix of the caller's."""
    prefixes = ["/"] + ["/" + "/".join(actor.path[: i + 1]) + "/" for i in range(len(actor.path))]
    return Pipeline.scope_path.in_(prefixes)


def list_pipelines(db: Db, actor: Actor) -> dict:
    with db.read() as session:
        rows = session.scalars(
            select(Pipeline).where(_pipeline_scope_filter(actor)).order_by(Pipeline.id)
        ).all()
        return {"items": [pipeline_out(r) for r in rows], "next_cursor": None}


def create_pipeline(db: Db, actor: Actor, fields: dict) -> dict:
    actor.require_level(6)
    check_pipeline_fields(fields)
    rules = domain.parse_pipeline(fields)
    definition = domain.pipeline_to_dict(rules)
    with db.unit_of_work() as uow:
        row = Pipeline(
            name=rules.name,
            definition=definition,
            scope_path=actor.path_prefix,
            is_default=False,
            created_by=actor.id,
            created_at=clock.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        return uow.answer(pipeline_out(row))


def _choose_pipeline(session: Session, actor: Actor, pipeline_id: int | None) -> Pipeline:
    """The requested pipeline if it applies to the caller; else the most specific one that
    does (the newest of the deepest scope), the group's default last."""
    query = select(Pipeline).where(_pipeline_scope_filter(actor))
    if pipeline_id is not None:
        row = session.scalar(query.where(Pipeline.id == pipeline_id))
        if row is None:
            raise ValidationFailed(details={"pipeline_id": [PIPELINE_NOT_FOUND]})
        return row
    rows = session.scalars(query).all()
    if not rows:
        raise ValidationFailed(details={"pipeline_id": [PIPELINE_NOT_FOUND]})
    return max(rows, key=lambda r: (len(r.scope_path), not r.is_default, r.id))


# --- people and customer projections --------------------------------------------------------


def person_deactivated(db: Db, event: Envelope) -> None:
    """A user left: every opportunity they hold passes to their supervisor, who decides who
    follows it up (status ``confiscated``, action ``handed_over``, a decision deadline)."""
    data = event.payload()
    user_id, supervisor_id = data["user_id"], data["supervisor_id"]
    with db.unit_of_work() as uow:
        if not uow.first_time(event):
            return
        session = uow.session
        supervisor_path = projection.user_deactivated(session, Person, data)
        now = clock.now()
        held = session.scalars(
            select(Opportunity)
            .where(
                Opportunity.holder_id == user_id,
                Opportunity.status.in_((OPEN, LOSS_PENDING, CONFISCATED)),
            )
            .order_by(Opportunity.id)
            .with_for_update()
        ).all()
        for opp in held:
            rules = rules_by_id(session, opp.pipeline_id)
            from_path = opp.holder_path
            change = sweep.confiscate(
                session,
                opp,
                supervisor_id,
                supervisor_path,
                now + rules.decision_limit,
                now,
                "holder_deactivated",
                action="handed_over",
            )
            uow.publish("confiscated", _moved_fact(opp, rules, now, change, from_path))
    log.info("user %s deactivated: %s opportunities to %s", user_id, len(held), supervisor_id)


_history = sweep.add_history

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


def _lock(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
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


def _moved_fact(opp, rules, now, change: dict, from_path: str, by: str = sweep.SYSTEM) -> dict:
    return {
        **fact(opp, rules, now, by),
        "action": change["action"],
        "reason": change.get("reason") or "",
        "from_holder_id": change.get("from_holder_id") or opp.holder_id,
        "from_holder_path": path_list(from_path),
        "original_owner_id": opp.original_owner_id,
        "decision_deadline": change.get("decision_deadline"),
    }


def _start_clock(opp: Opportunity, rules: domain.Pipeline, now: datetime) -> None:
    """Enter (or re-enter) the current stage at ``now``: a fresh deadline, warning and follow-up."""
    opp.stage_entered_at = now
    opp.stage_deadline = domain.enter_stage(rules, opp.stage_index, now)
    opp.warn_at = opp.stage_deadline - rules.remind_before if opp.stage_deadline else None
    opp.warned_at = None
    since = opp.last_followup_at if opp.last_followup_at and opp.last_followup_at > now else now
    opp.followup_deadline = since + rules.followup_limit if rules.followup_limit else None
    opp.decision_deadline = None
    opp.flagged = False


def _stop_clock(opp: Opportunity) -> None:
    opp.stage_deadline = opp.warn_at = opp.followup_deadline = opp.decision_deadline = None


def _change(db: Db, actor: Actor, opportunity_id: int, apply: Callable) -> dict:
    """Lock, apply one change (which writes history and events), answer the new state."""
    try:
        with db.unit_of_work() as uow:
            opp = _lock(uow.session, actor, opportunity_id)
            rules = rules_by_id(uow.session, opp.pipeline_id)
            apply(uow, opp, rules, clock.now())
            uow.session.flush()
            return uow.answer(opportunity_out(opp, rules))
    except StaleDataError:
        raise Conflict(CHANGED, code="conflict") from None


# --- registration and the holder's moves ------------------------------------------------------


def register(db: Db, actor: Actor, args: dict, owners: Owners, fresh: Freshness) -> dict:
    customer_id = args["customer_id"]
    with db.read() as session:
        row = _choose_pipeline(session, actor, args["pipeline_id"])
        rules = pipeline_rules(row)
        known = session.get(CustomerOwner, customer_id)
    if known is not None and fresh.stale("customer", customer_id, known.as_of):
        known = None  # older than a change the caller just made: ask the customer service
    owner_id = _customer_owner(db, owners, actor, customer_id, known)
    score = domain.check_feasible(rules, args["qualification"])
    with db.unit_of_work() as uow:
        session = uow.session
        now = clock.now()
        if not owner_id:  # nobody owns it: the registrant does from now on
            claimed = session.execute(
                CustomerOwner.__table__.update()
                .where(CustomerOwner.customer_id == customer_id, CustomerOwner.owner_id.is_(None))
                .values(owner_id=actor.id)
            )
            if claimed.rowcount != 1:
                raise DuplicateCustomer(CUSTOMER_HELD, {"customer_id": str(customer_id)})
        opp = Opportunity(
            customer_id=customer_id,
            title=args["title"],
            amount_fen=args["amount"],
            pipeline_id=row.id,
            owner_id=actor.id,
            owner_path=actor.path_prefix,
            holder_id=actor.id,
            holder_path=actor.path_prefix,
            status=OPEN,
            stage_key=rules.stages[0].key,
            stage_index=0,
            feasibility_score=score,
            created_at=now,
        )
        _start_clock(opp, rules, now)
        session.add(opp)
        session.flush()
        _history(session, opp, now, "registered", actor.id, None, opp.stage_key)
        uow.publish("registered", {**fact(opp, rules, now, actor.id), "feasibility_score": score})
        return uow.answer(opportunity_out(opp, rules))


def _customer_owner(
    db: Db, owners: Owners, actor: Actor, customer_id: int, known: CustomerOwner | None
) -> str | None:
    """Who owns the customer (None: nobody yet), or a refusal. The projection answers when it
    says the caller may have it; a customer it has not seen, or one it says another holds, is
    asked of the customer service (the caller may have just registered it, or just been handed
    it). A customer service that does not answer in time is a 503, never a "not found"."""
    if known is not None and known.owner_id in (None, actor.id):
        return known.owner_id
    found = owners.refresh(db, facts.CUSTOMERS, [customer_id])
    if found:
        owner_id = found[0]["owner_id"] or None
    elif known is None:
        raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
    else:  # the customer service does not know it: the projection's word stands
        owner_id = known.owner_id
    if owner_id and owner_id != actor.id:
        raise DuplicateCustomer(CUSTOMER_HELD, {"customer_id": str(customer_id), "yours": False})
    return owner_id


def _person(db: Db, owners: Owners, user_id: str | None) -> Person | None:
    """A user from the people projection, asked of org when the projection has not seen them."""
    if not user_id:
        return None
    with db.read() as session:
        person = session.get(Person, user_id)
    if person is None and owners.refresh(db, facts.PEOPLE, [user_id]):
        with db.read() as session:
            person = session.get(Person, user_id)
    return person


def _require_holder(actor: Actor, opp: Opportunity, *statuses: str) -> None:
    if opp.holder_id != actor.id:
        raise Forbidden(NOT_HOLDER)
    if statuses and opp.status not in statuses:
        raise Conflict(NOT_OPEN, {"status": opp.status}, code=domain.INVALID_TRANSITION)


def advance(db: Db, actor: Actor, opportunity_id: int, note: str | None) -> dict:
    def apply(uow, opp, rules, now):
        _require_holder(actor, opp, OPEN)
        nxt = domain.next_stage_for_advance(rules, opp.stage_index)
        before = opp.stage_key
        opp.stage_index, opp.stage_key = nxt, rules.stages[nxt].key
        _start_clock(opp, rules, now)
        _history(uow.session, opp, now, "advanced", actor.id, before, opp.stage_key, note)
        uow.publish(
            "stage_advanced",
            {**fact(opp, rules, now, actor.id), "from_stage": before, "note": note},
        )

    return _change(db, actor, opportunity_id, apply)


def decide(
    db: Db, actor: Actor, opportunity_id: int, action: str, assignee_id: str | None,
    owners: Owners,
):  # fmt: skip
    assignee = _person(db, owners, assignee_id) if action == "reassign" else None
    assignee_path = path_list(assignee.path) if assignee and assignee.active else None
    if action == "return":
        with db.read() as session:
            held = session.get(Opportunity, opportunity_id)
        if held is not None and held.original_owner_id:
            _person(db, owners, held.original_owner_id)  # known here before it is returned

    def apply(uow, opp, rules, now):
        outcome = domain.apply_decision(
            action,
            pipeline=rules,
            stage_index=opp.stage_index,
            status=opp.status,
            holder_id=opp.holder_id,
            decider_id=actor.id,
            decider_path=actor.path,
            original_owner_id=opp.original_owner_id,
            now=now,
            assignee_id=assignee_id,
            assignee_path=assignee_path,
        )
        session = uow.session
        if action == "return":
            person = session.get(Person, outcome.holder_id)
            if person is None or not person.active:
                raise Conflict(OWNER_INACTIVE, code=domain.INVALID_TRANSITION)
            new_path = person.path
        elif action == "reassign":
            new_path = user_path(assignee_path, outcome.holder_id)
        else:
            new_path = actor.path_prefix
        before = opp.holder_id
        original = opp.original_owner_id
        opp.status = outcome.status
        opp.holder_id, opp.holder_path = outcome.holder_id, new_path
        opp.original_owner_id = None
        _start_clock(opp, rules, now)
        _history(session, opp, now, "decided", actor.id, before, opp.holder_id, action)
        uow.publish(
            "decided",
            {
                **fact(opp, rules, now, actor.id),
                "action": action,
                "decided_by": actor.id,
                "original_owner_id": original,
            },
        )

    return _change(db, actor, opportunity_id, apply)


def win(db: Db, actor: Actor, opportunity_id: int) -> dict:
    def apply(uow, opp, rules, now):
        _require_holder(actor, opp, OPEN)
        won = domain.check_win(rules, opp.stage_index)
        before = opp.stage_key
        opp.status, opp.stage_index, opp.stage_key = WON, won, rules.stages[won].key
        opp.stage_entered_at = opp.closed_at = now
        _stop_clock(opp)
        _history(uow.session, opp, now, "won", actor.id, before, opp.stage_key)
        uow.publish("won", {**fact(opp, rules, now, actor.id), "reason": None, "analysis": None})

    answer = _change(db, actor, opportunity_id, apply)
    learned.forget()  # committed: the stage probabilities learn from it
    return answer


def lose(db: Db, actor: Actor, opportunity_id: int, reason, analysis) -> dict:
    reason, analysis = domain.validate_loss(reason, analysis)

    def apply(uow, opp, rules, now):
        _require_holder(actor, opp, OPEN)
        opp.status, opp.loss_reason, opp.loss_analysis = LOSS_PENDING, reason, analysis
        _history(uow.session, opp, now, "loss_requested", actor.id, OPEN, LOSS_PENDING, reason)
        uow.publish(
            "loss_requested",
            {**fact(opp, rules, now, actor.id), "reason": reason, "analysis": analysis},
        )

    return _change(db, actor, opportunity_id, apply)


def approve_loss(db: Db, actor: Actor, opportunity_id: int) -> dict:
    def apply(uow, opp, rules, now):
        if opp.status != LOSS_PENDING:
            raise Conflict(NOT_OPEN, {"status": opp.status}, code=domain.INVALID_TRANSITION)
        if not domain.may_approve_loss(actor.level, actor.id, path_list(opp.holder_path)):
            raise Forbidden(NOT_APPROVER)
        opp.status, opp.closed_at = LOST, now
        _stop_clock(opp)
        _history(uow.session, opp, now, "lost", actor.id, LOSS_PENDING, LOST, opp.loss_reason)
        uow.publish(
            "lost",
            {
                **fact(opp, rules, now, actor.id),
                "reason": opp.loss_reason,
                "analysis": opp.loss_analysis,
                "approved_by": actor.id,
            },
        )

    answer = _change(db, actor, opportunity_id, apply)
    learned.forget()  # committed: the stage probabilities learn from it
    return answer


# --- reads ---------------------------------------------------------------------------------


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


# --- the sweep -----------------------------------------------------------------------------


def _sweep_batches(db: Db, claim, act) -> int:
    """Claim and act on due rows batch by batch, one unit of work each, until none is due."""
    done, batch = 0, config.sweep_batch()
    while True:
        with db.unit_of_work() as uow:
            now = clock.now()
            rows = claim(uow.session, now, batch)
            for opp in rows:
                act(uow, opp, rules_by_id(uow.session, opp.pipeline_id), now)
        done += len(rows)
        if len(rows) < batch:
            return done


def sweep_once(db: Db) -> dict:
    """Warn, confiscate, escalate: each due opportunity is handled by exactly one sweeper."""
    began = time.monotonic()
    counts = {"warned": 0, "confiscated": 0, "escalated": 0, "flagged": 0}

    def warn(uow, opp, rules, now):
        sweep.mark_warned(uow.session, opp, now)
        _history(uow.session, opp, now, "warned", sweep.SYSTEM, opp.stage_key, None, "deadline")
        uow.publish("deadline_approaching", fact(opp, rules, now, sweep.SYSTEM))
        counts["warned"] += 1

    def take(uow, opp, rules, now):
        overdue_stage = opp.stage_deadline is not None and opp.stage_deadline < now
        if opp.status == CONFISCATED:
            reason = "decision_deadline"
        else:
            reason = "stage_deadline" if overdue_stage else "followup_limit"
        from_path = opp.holder_path
        plan = domain.plan_confiscation(path_list(from_path), rules, now)
        if plan.flagged:
            change = sweep.flag_at_top(uow.session, opp, now, reason)
            change["from_holder_id"] = opp.holder_id
            counts["flagged"] += 1
        else:
            new_path = from_path[: from_path.rstrip("/").rfind("/") + 1]
            change = sweep.confiscate(
                uow.session, opp, plan.holder_id, new_path, plan.decision_deadline, now, reason
            )
            counts[change["action"]] += 1
        change["reason"] = reason
        uow.publish("confiscated", _moved_fact(opp, rules, now, change, from_path))

    _sweep_batches(db, sweep.claim_due_warnings, warn)
    _sweep_batches(db, sweep.claim_overdue, take)
    _sweep_batches(db, sweep.claim_overdue_decisions, take)
    for action, n in counts.items():
        if n:
            metrics.SWEEP_ACTIONS.labels(action).inc(n)
    with db.read() as session:
        oldest = session.scalar(
            select(func.min(Opportunity.stage_deadline)).where(
                Opportunity.status.in_((OPEN, LOSS_PENDING)),
                Opportunity.stage_deadline < clock.now(),
            )
        )
    lag = (clock.now() - clock.as_utc(oldest)).total_seconds() if oldest else 0.0
    metrics.SWEEP_LAG.set(lag)
    metrics.SWEEP_SECONDS.observe(time.monotonic() - began)
    metrics.SWEEP_LAST_RUN.set_to_current_time()
    if any(counts.values()):
        log.info("sweep by process %s: %s", os.getpid(), json.dumps(counts))
    return counts


# --- targets -------------------------------------------------------------------------------


def may_set_target(actor: Actor, person: Person | None) -> bool:
    if actor.sees_everything():
        return person is not None
    return (
        person is not None
        and actor.sees_subordinates()
        and domain.is_in_subtree(path_list(person.path), actor.path)
    )


def scope_filter(actor: Actor, scope: str, column_id, column_path):
    """Rows of a scope: me, team (me and direct reports), subtree (level ≥ 4), group (≥ 8)."""
    if scope == "me":
        return column_id == actor.id
    if scope == "group":
        actor.require_level(8)
        return true()
    actor.require_level(4)
    prefix = actor.path_prefix
    if scope == "subtree":
        return column_path.startswith(prefix, autoescape=True)
    return or_(
        column_id == actor.id,
        and_(
            column_path.startswith(prefix, autoescape=True),
            ~column_path.like(prefix.replace("%", r"\%").replace("_", r"\_") + "%/%/", escape="\\"),
        ),
    )


# --- bulk import ---------------------------------------------------------------------------

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
    _start_clock(opp, rules, entered)
    opp.stage_entered_at = entered
    if status == WON:
        opp.stage_index, opp.stage_key = rules.won_index, rules.stage_keys[rules.won_index]
        history.append(("won", closed, rules.stage_keys[index], opp.stage_key))
    elif status == LOST:
        opp.loss_reason, opp.loss_analysis = item["loss_reason"], item["loss_analysis"]
        history.append(("lost", closed, LOSS_PENDING, LOST))
    if status != OPEN:
        opp.closed_at = closed
        _stop_clock(opp)
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
        default = _choose_pipeline(session, actor, None)
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


# --- the follow-up limit -------------------------------------------------------------------


def entries_imported(db: Db, event: Envelope) -> None:
    """worklog.entries_imported: the follow-up clocks of imported entries' opportunities."""
    latest: dict[int, datetime] = {}
    for item in event.payload()["items"]:
        if item.get("opportunity_id"):
            at, opp_id = datetime.fromisoformat(item["recorded_at"]), int(item["opportunity_id"])
            latest[opp_id] = max(at, latest.get(opp_id, at))
    with db.unit_of_work() as uow:
        if uow.first_time(event):
            for opp_id in sorted(latest):
                _followup(uow.session, opp_id, latest[opp_id])


def followup_logged(db: Db, events: list[Envelope]) -> None:
    """Work-log entries on opportunities: each one's follow-up clock restarts from its latest
    entry (the stage deadline is never extended by work). Entries without an opportunity
    (most of them) cost nothing."""
    events = [e for e in events if e.data.get("opportunity_id")]
    if not events:
        return
    with db.unit_of_work() as uow:
        session = uow.session
        latest: dict[int, datetime] = {}
        for event in events:
            if uow.first_time(event):
                data = event.payload()
                at = datetime.fromisoformat(data["recorded_at"])
                opp_id = int(data["opportunity_id"])
                latest[opp_id] = max(at, latest.get(opp_id, at))
        for opp_id in sorted(latest):  # one order everywhere: no deadlock between batches
            _followup(session, opp_id, latest[opp_id])


def _followup(session, opp_id: int, at: datetime) -> None:
    query = select(Opportunity).where(Opportunity.id == opp_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Opportunity)
    opp = session.scalar(query)
    if opp is None or opp.status not in (OPEN, LOSS_PENDING):
        return
    if opp.last_followup_at is None or clock.as_utc(opp.last_followup_at) < at:
        opp.last_followup_at = at
    rules = rules_by_id(session, opp.pipeline_id)
    if rules.followup_limit is not None:
        since = max(clock.as_utc(opp.last_followup_at), clock.as_utc(opp.stage_entered_at))
        opp.followup_deadline = since + rules.followup_limit


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
