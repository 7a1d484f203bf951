"""What the alerts service's capabilities share: the alarms and categories loaded from the
database, the rows turned into the domain's dataclasses (``services.alerts.domain``) and into
answers and event payloads, and the escalation schedule kept on each alarm (docs/DOMAIN.md §6).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import clock, config
from common.errors import NotFound
from common.money import format_money
from common.projection import path_list
from services.alerts import domain
from services.alerts.models import Alarm, Category, Person, Response

ALARM_NOT_FOUND = "报警不存在 / Alarm not found"
SUGGESTIONS = 5

# (query text, stage, category, kind) → suggestions [{experience_id, title, method, score}]
Suggest = Callable[[str, str | None, str, str], list[dict]]


def no_suggestions(text: str, stage: str | None, category: str, kind: str) -> list[dict]:
    return []


# --- loading -----------------------------------------------------------------------------------


def category_rows(session: Session, active_only: bool = True) -> list[Category]:
    query = select(Category).order_by(Category.position, Category.key)
    if active_only:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def load_alarm(session: Session, alarm_id: int, *, lock: bool = False) -> Alarm:
    query = select(Alarm).where(Alarm.id == alarm_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    alarm = session.scalar(query)
    if alarm is None:
        raise NotFound(ALARM_NOT_FOUND, {"alarm_id": str(alarm_id)})
    return alarm


def names_of(session: Session, ids) -> dict[str, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(select(Person.user_id, Person.name).where(Person.user_id.in_(ids)))
    return {uid: name for uid, name in rows if name}


# --- shapes ------------------------------------------------------------------------------------


def as_domain(alarm: Alarm) -> domain.Alarm:
    return domain.Alarm(
        id=str(alarm.id),
        requester_id=alarm.requester_id,
        raised_at=clock.as_utc(alarm.raised_at),
        category=alarm.category,
        stage=alarm.stage,
        requester_path=tuple(path_list(alarm.requester_path)),
        responses=tuple(
            domain.Response(
                id=str(r.id),
                author_id=r.author_id,
                posted_at=clock.as_utc(r.posted_at),
                effective=bool(r.effective),
            )
            for r in alarm.responses
        ),
        suggestion_ids=tuple(str(s["experience_id"]) for s in alarm.suggestions or ()),
        resolved_at=clock.as_utc(alarm.resolved_at) if alarm.resolved_at else None,
        effective_response_id=(
            str(alarm.effective_response_id) if alarm.effective_response_id else None
        ),
        effective_experience_id=alarm.effective_experience_id,
    )


def hours(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return round((clock.as_utc(end) - clock.as_utc(start)).total_seconds() / 3600, 2)


def response_out(response: Response) -> dict:
    return {
        "id": str(response.id),
        "alarm_id": str(response.alarm_id),
        "author_id": response.author_id,
        "body": response.body,
        "posted_at": clock.isoformat(response.posted_at),
        "effective": bool(response.effective),
    }


def alarm_out(alarm: Alarm, *, detail: bool = False, names: dict | None = None) -> dict:
    answer = {
        "id": str(alarm.id),
        "status": alarm.status,
        "kind": alarm.kind,
        "category": alarm.category,
        "stage": alarm.stage,
        "requester_id": alarm.requester_id,
        "requester_name": (names or {}).get(alarm.requester_id),
        "raised_at": clock.isoformat(alarm.raised_at),
        "opportunity_id": alarm.opportunity_id,
        "customer_id": alarm.customer_id,
        "industry": alarm.industry,
        "amount": format_money(alarm.amount_fen) if alarm.amount_fen is not None else None,
        "description": alarm.description,
        "analysis": alarm.analysis,
        "source_entry_id": alarm.source_entry_id,
        "first_support_at": clock.isoformat(alarm.first_support_at),
        "resolved_at": clock.isoformat(alarm.resolved_at),
        "hours_to_resolution": hours(alarm.raised_at, alarm.resolved_at),
        "effective_response_id": (
            str(alarm.effective_response_id) if alarm.effective_response_id else None
        ),
        "effective_experience_id": alarm.effective_experience_id,
        "escalation_level": alarm.escalation_steps,
        "response_count": len(alarm.responses),
        "suggestions": list(alarm.suggestions or []),
    }
    if detail:
        answer["responses"] = [response_out(r) for r in alarm.responses]
        answer["escalations"] = [
            {
                "step": e.step,
                "user_id": e.user_id,
                "level": e.level,
                "reason": e.reason,
                "due_at": clock.isoformat(e.due_at),
                "at": clock.isoformat(e.at),
            }
            for e in alarm.escalations
        ]
    return answer


def alarm_event(alarm: Alarm) -> dict:
    """What every alarm event carries."""
    return {
        "alarm_id": str(alarm.id),
        "requester_id": alarm.requester_id,
        "requester_path": path_list(alarm.requester_path),
        "raised_at": clock.isoformat(alarm.raised_at),
        "category": alarm.category,
        "kind": alarm.kind,
        "stage": alarm.stage,
        "opportunity_id": alarm.opportunity_id,
        "customer_id": alarm.customer_id,
        "status": alarm.status,
    }


# --- escalation bookkeeping --------------------------------------------------------------------


def escalation_limits() -> domain.EscalationLimits:
    return domain.EscalationLimits(
        no_response=clock.parse_duration(config.alarm_no_response_limit()),
        unresolved=clock.parse_duration(config.alarm_unresolved_limit()),
    )


def supervisor_chain(session: Session, alarm: Alarm) -> list[tuple[str, int]]:
    """The requester's supervisor chain (top → requester) as ``(user_id, level)``; a person
    the projection does not know yet counts as level 0 (notified, never the top)."""
    ids = path_list(alarm.requester_path) or [alarm.requester_id]
    levels = dict(
        session.execute(select(Person.user_id, Person.level).where(Person.user_id.in_(ids))).all()
    )
    return [(uid, int(levels.get(uid) or 0)) for uid in ids]


def reschedule(session: Session, alarm: Alarm) -> None:
    alarm.next_escalation_at = domain.next_escalation_at(
        as_domain(alarm),
        supervisor_chain(session, alarm),
        alarm.escalation_steps,
        escalation_limits(),
    )
