"""The escalation sweep: the next supervisor is notified of each alarm whose limit passed
(docs/DOMAIN.md §6).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import clock
from common.db import Db
from services.alerts import domain
from services.alerts.models import Alarm, Escalation
from services.alerts.shapes import alarm_event, as_domain, escalation_limits, supervisor_chain


def _claim_due(session: Session, now: datetime, limit: int) -> list[Alarm]:
    """Open alarms whose next escalation is due, claimed (see opportunity/sweep.py: SKIP
    LOCKED on PostgreSQL, the write lock on SQLite)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres:
        session.execute(Alarm.__table__.update().where(Alarm.id < 0).values(version=Alarm.version))
    query = (
        select(Alarm)
        .where(Alarm.status == domain.OPEN, Alarm.next_escalation_at < now)
        .order_by(Alarm.next_escalation_at)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=Alarm)
    return list(session.scalars(query))


def escalate_once(db: Db, now: datetime | None = None, limit: int = 200) -> dict:
    """Notify the next supervisor of every alarm whose limit passed: one ``alarm_escalated``
    per step (docs/DOMAIN.md §6). Each due alarm is handled by exactly one instance."""
    now = clock.as_utc(now or clock.now())
    limits = escalation_limits()
    notified = 0
    with db.unit_of_work() as uow:
        for alarm in _claim_due(uow.session, now, limit):
            chain = supervisor_chain(uow.session, alarm)
            for step in domain.due_escalations(
                as_domain(alarm), chain, alarm.escalation_steps, now, limits
            ):
                alarm.escalations.append(
                    Escalation(
                        alarm_id=alarm.id,
                        step=step.number,
                        user_id=step.user_id,
                        level=step.level,
                        reason=step.reason,
                        due_at=step.due_at,
                        at=now,
                    )
                )
                alarm.escalation_steps = step.number
                notified += 1
                uow.publish(
                    "alarm_escalated",
                    {
                        **alarm_event(alarm),
                        "step": step.number,
                        "notified_id": step.user_id,
                        "notified_level": step.level,
                        "reason": step.reason,
                        "due_at": clock.isoformat(step.due_at),
                        "description": alarm.description,
                    },
                )
            alarm.next_escalation_at = domain.next_escalation_at(
                as_domain(alarm), chain, alarm.escalation_steps, limits
            )
    return {"notified": notified}
