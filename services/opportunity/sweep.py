"""The sweep's claims: each due opportunity is taken by exactly one sweeper.

Several instances of the opportunity service sweep at once. A sweeper runs, in its own
transaction (one unit of work per batch)::

    opps = claim_overdue(session, now, limit=200)      # rows now locked by this transaction
    for opp in opps:
        changes = confiscate(session, opp, sup_id, sup_path, now + decision_limit, now, reason)
        uow.publish("confiscated", {...changes...})
    # commit: the rows leave the due set (status "confiscated") as the locks are released

Why each row is handled exactly once:

- **PostgreSQL**: ``SELECT ... FOR UPDATE SKIP LOCKED``. A row claimed by another transaction
  is skipped, not waited for; a row that the other transaction has meanwhile committed is
  re-checked against the WHERE clause on its new version (READ COMMITTED), and since the
  claimer moved it out of the due set (new status, or a cleared/advanced deadline) it is no
  longer returned. Concurrent sweepers therefore split the due set between them.
- **SQLite** (a single writer per database): before reading, the claim takes the database's
  write lock with a no-op write (``UPDATE opportunities SET version = version WHERE 0``, the
  equivalent of ``BEGIN IMMEDIATE`` inside the caller's transaction; another sweeper waits on
  ``busy_timeout``). pysqlite opens no transaction for a plain SELECT, so the claim reads the
  latest committed state, and nobody else can write until this transaction ends: the rows
  read are exactly the rows due, and they stay ours until commit. Sweepers take turns batch
  by batch. Keep the transaction short, and commit or roll back even when nothing was claimed.

In both cases the claimer MUST move every claimed row out of the due set in the same
transaction (``confiscate``, ``flag_at_top``, ``mark_warned``, or by the service's own
change); otherwise the next sweep claims it again.

Belt and braces: ``opportunities.version`` is the ORM's version counter, so an UPDATE of a row
changed by someone else since it was read raises ``StaleDataError`` rather than applying twice.

Cost: each claim is a range scan on an index ``(status, <deadline>)`` up to ``now``, so the
work grows with the number of due rows, not with the number of opportunities.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from common import clock
from services.opportunity.models import (
    CONFISCATED,
    ON_THE_CLOCK,
    Opportunity,
    OpportunityHistory,
)

SYSTEM = "system"  # the "by" of history rows written by the sweep


def _take_sqlite_write_lock(session: Session) -> None:
    # a write that changes nothing still opens a write transaction: the RESERVED lock
    session.execute(text("UPDATE opportunities SET version = version WHERE 0"))


def _claim(
    session: Session,
    statuses: tuple[str, ...],
    deadlines: tuple[InstrumentedAttribute, ...],
    now: datetime,
    limit: int,
    extra=None,
    inclusive: bool = False,
) -> list[Opportunity]:
    """Rows in ``statuses`` with any of ``deadlines`` passed (or reached), claimed."""
    if limit <= 0:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres:
        _take_sqlite_write_lock(session)
    now = clock.as_utc(now)
    claimed: dict[int, Opportunity] = {}
    # one indexed range query per deadline column (an OR across columns may defeat the index)
    for deadline in deadlines:
        remaining = limit - len(claimed)
        if remaining <= 0:
            break
        query: Select = (
            select(Opportunity)
            .where(
                Opportunity.status.in_(statuses),
                (deadline <= now) if inclusive else (deadline < now),
            )
            .order_by(deadline)
            .limit(remaining)
            .execution_options(populate_existing=True)
        )
        if extra is not None:
            query = query.where(extra)
        if claimed:
            query = query.where(Opportunity.id.not_in(list(claimed)))
        if postgres:
            query = query.with_for_update(skip_locked=True, of=Opportunity)
        for opp in session.scalars(query):
            claimed[opp.id] = opp
    return list(claimed.values())


def claim_overdue(session: Session, now: datetime, limit: int) -> list[Opportunity]:
    """Opportunities on the clock whose stage deadline or follow-up deadline has passed.

    Returned rows are claimed by the caller's transaction; confiscate (or flag) each one in it.
    """
    return _claim(
        session,
        ON_THE_CLOCK,
        (Opportunity.stage_deadline, Opportunity.followup_deadline),
        now,
        limit,
    )


def claim_due_warnings(session: Session, now: datetime, limit: int) -> list[Opportunity]:
    """Opportunities on the clock whose warning time (``warn_at``) has come and not been sent.

    ``warn_at`` is ``stage_deadline - remind_before``, set on entering a stage; call
    ``mark_warned`` on each returned row so it is warned once per stage entry.
    """
    return _claim(
        session,
        ON_THE_CLOCK,
        (Opportunity.warn_at,),
        now,
        limit,
        extra=Opportunity.warned_at.is_(None),
        inclusive=True,
    )


def claim_overdue_decisions(session: Session, now: datetime, limit: int) -> list[Opportunity]:
    """Confiscated opportunities whose supervisor let the decision deadline pass."""
    return _claim(session, (CONFISCATED,), (Opportunity.decision_deadline,), now, limit)


def add_history(
    session: Session,
    opp: Opportunity,
    now: datetime,
    action: str,
    by: str,
    from_value: str | None,
    to_value: str | None,
    reason: str | None = None,
) -> None:
    """One immutable history row (the table refuses UPDATE and DELETE)."""
    session.add(
        OpportunityHistory(
            opportunity_id=opp.id,
            at=now,
            action=action,
            by=by,
            from_value=from_value,
            to_value=to_value,
            reason=reason,
        )
    )


def confiscate(
    session: Session,
    opp: Opportunity,
    new_holder_id: str,
    new_holder_path: str,
    decision_deadline: datetime,
    now: datetime,
    reason: str,
    by: str = SYSTEM,
    action: str | None = None,
) -> dict[str, Any]:
    """Take ``opp`` from its holder to ``new_holder_id`` (the holder's supervisor).

    From an open (or loss-pending) opportunity this is a confiscation: the holder it was taken
    from is remembered as ``original_owner_id``. From a confiscated one whose decision deadline
    passed it is an escalation: the original owner stays. Either way the stage clock stops
    (warning and follow-up deadlines cleared) until the new holder decides, by
    ``decision_deadline``. Writes the history row; publishing is the caller's. Returns what
    changed.
    """
    previous_status = opp.status
    previous_holder = opp.holder_id
    escalation = previous_status == CONFISCATED
    action = action or ("escalated" if escalation else "confiscated")
    if not escalation or not opp.original_owner_id:
        opp.original_owner_id = previous_holder
    opp.status = CONFISCATED
    opp.holder_id = new_holder_id
    opp.holder_path = new_holder_path
    opp.decision_deadline = decision_deadline
    opp.warn_at = None
    opp.followup_deadline = None
    add_history(session, opp, now, action, by, previous_holder, new_holder_id, reason)
    return {
        "action": action,
        "reason": reason,
        "opportunity_id": opp.id,
        "previous_status": previous_status,
        "status": opp.status,
        "from_holder_id": previous_holder,
        "to_holder_id": new_holder_id,
        "to_holder_path": new_holder_path,
        "original_owner_id": opp.original_owner_id,
        "decision_deadline": clock.isoformat(decision_deadline),
    }


def flag_at_top(
    session: Session, opp: Opportunity, now: datetime, reason: str, by: str = SYSTEM
) -> dict[str, Any]:
    """The holder has no supervisor: it keeps the overdue opportunity, flagged.

    Clears the deadlines that made it due so the next sweep does not claim it again.
    """
    opp.flagged = True
    opp.stage_deadline = None
    opp.followup_deadline = None
    opp.warn_at = None
    opp.decision_deadline = None
    add_history(session, opp, now, "flagged", by, opp.holder_id, opp.holder_id, reason)
    return {
        "action": "flagged",
        "opportunity_id": opp.id,
        "status": opp.status,
        "holder_id": opp.holder_id,
    }


def mark_warned(session: Session, opp: Opportunity, now: datetime) -> dict[str, Any]:
    """Record that the holder was warned for the current stage entry (once per entry)."""
    opp.warned_at = now
    opp.warn_at = None
    return {
        "opportunity_id": opp.id,
        "holder_id": opp.holder_id,
        "stage": opp.stage_key,
        "stage_deadline": clock.isoformat(opp.stage_deadline) if opp.stage_deadline else None,
    }
