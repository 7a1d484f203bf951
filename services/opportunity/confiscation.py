"""Taking opportunities from their holder: the sweep (a warning before the stage deadline,
confiscation or escalation once a deadline passes, each due opportunity handled by exactly one
sweeper) and a leaver's opportunities handed over to their supervisor."""

from __future__ import annotations

import json
import logging
import os
import time

from sqlalchemy import func, select

from common import clock, config, metrics, projection
from common.db import Db
from common.events import Envelope
from common.projection import path_list
from services.opportunity import domain, sweep
from services.opportunity.facts import fact, rules_by_id
from services.opportunity.models import CONFISCATED, LOSS_PENDING, OPEN, Opportunity, Person
from services.opportunity.sweep import add_history

log = logging.getLogger(__name__)


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


# --- a leaver's opportunities ----------------------------------------------------------------


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
        add_history(uow.session, opp, now, "warned", sweep.SYSTEM, opp.stage_key, None, "deadline")
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
