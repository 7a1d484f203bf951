"""Responding to an alarm and resolving it: 方法有效 on a response or on a suggested experience."""

from __future__ import annotations

import functools
import logging

from sqlalchemy.orm.exc import StaleDataError

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import Conflict
from services.alerts import domain
from services.alerts.models import Alarm, Response
from services.alerts.shapes import (
    alarm_event,
    alarm_out,
    as_domain,
    hours,
    load_alarm,
    reschedule,
    response_out,
)

log = logging.getLogger(__name__)

STALE_RETRIES = 3


def _retry_stale(fn):
    """Run a change again on the alarm's new state when another transaction changed the row
    first (its version moved: SQLite has no row lock): a second 方法有效 then sees the alarm
    resolved and answers 409, never a 500."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for attempt in range(STALE_RETRIES):
            try:
                return fn(*args, **kwargs)
            except StaleDataError:
                log.info(
                    "%s: alarm changed meanwhile (attempt %s); again", fn.__name__, attempt + 1
                )
        raise Conflict(
            "报警正在被修改，请重试 / The alarm is being changed; retry", code="conflict"
        )

    return wrapper


@_retry_stale
def respond(db: Db, actor: Actor, alarm_id: int, body: str) -> dict:
    body = domain.check_response_body(body)
    with db.unit_of_work() as uow:
        alarm = load_alarm(uow.session, alarm_id, lock=True)
        domain.check_may_respond(as_domain(alarm))
        now = clock.now()
        response = Response(alarm_id=alarm.id, author_id=actor.id, body=body, posted_at=now)
        alarm.responses.append(response)
        first_support = actor.id != alarm.requester_id and alarm.first_support_at is None
        if first_support:
            alarm.first_support_at = now
        uow.session.flush()
        reschedule(uow.session, alarm)
        uow.publish(
            "response_posted",
            {
                **alarm_event(alarm),
                "response_id": str(response.id),
                "author_id": actor.id,
                "posted_at": clock.isoformat(now),
                "first_support": first_support,
            },
        )
        answer = uow.answer(response_out(response))
    return answer


def _resolved_event(alarm: Alarm, via: str, method: str, method_author_id: str | None) -> dict:
    supporters: list[str] = []
    for response in alarm.responses:
        if response.author_id != alarm.requester_id and response.author_id not in supporters:
            supporters.append(response.author_id)
    return {
        **alarm_event(alarm),
        "resolved_at": clock.isoformat(alarm.resolved_at),
        "via": via,
        "response_id": str(alarm.effective_response_id) if alarm.effective_response_id else None,
        "experience_id": alarm.effective_experience_id,
        "description": alarm.description,
        "analysis": alarm.analysis,
        "method": method,
        "method_author_id": method_author_id,
        "contributors": supporters,
        "industry": alarm.industry,
        "hours_to_resolution": hours(alarm.raised_at, alarm.resolved_at),
    }


@_retry_stale
def mark_response_effective(db: Db, actor: Actor, alarm_id: int, response_id: int) -> dict:
    """方法有效: the requester alone (403), once (409 already_resolved)."""
    with db.unit_of_work() as uow:
        alarm = load_alarm(uow.session, alarm_id, lock=True)
        resolved = domain.mark_response_effective(
            as_domain(alarm), actor.id, str(response_id), clock.now()
        )
        alarm.status, alarm.resolved_at = domain.RESOLVED, resolved.resolved_at
        alarm.effective_response_id = int(response_id)
        alarm.next_escalation_at = None
        chosen = next(r for r in alarm.responses if r.id == int(response_id))
        chosen.effective = True
        uow.publish(
            "alarm_resolved", _resolved_event(alarm, "response", chosen.body, chosen.author_id)
        )
        answer = uow.answer(alarm_out(alarm, detail=True))
    log.info("alarm %s resolved by response %s", alarm_id, response_id)
    return answer


@_retry_stale
def mark_suggestion_effective(db: Db, actor: Actor, alarm_id: int, experience_id: str) -> dict:
    """The requester marks a suggested experience 方法有效: resolved, one reuse of the entry."""
    with db.unit_of_work() as uow:
        alarm = load_alarm(uow.session, alarm_id, lock=True)
        resolved = domain.mark_suggestion_effective(
            as_domain(alarm), actor.id, str(experience_id), clock.now()
        )
        alarm.status, alarm.resolved_at = domain.RESOLVED, resolved.resolved_at
        alarm.effective_experience_id = str(experience_id)
        alarm.next_escalation_at = None
        method = next(
            (
                s.get("method", "")
                for s in alarm.suggestions
                if str(s["experience_id"]) == str(experience_id)
            ),
            "",
        )
        uow.publish("alarm_resolved", _resolved_event(alarm, "suggestion", method, None))
        answer = uow.answer(alarm_out(alarm, detail=True))
    log.info("alarm %s resolved by experience %s", alarm_id, experience_id)
    return answer
