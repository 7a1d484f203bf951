"""The bulk import of alarms with their responses and resolutions (level 9, without events)."""

from __future__ import annotations

from common import clock, projection
from common.actor import Actor
from common.db import Db
from common.errors import ValidationFailed
from services.alerts import domain
from services.alerts.models import Alarm, Response
from services.alerts.shapes import as_domain, category_rows, escalation_limits, supervisor_chain

BAD_ORDER = "时间须不早于报警时间 / Must not be before the alarm was raised"
ONE_EFFECTIVE = (
    "最多一条回复有效，且须与解决时间一致 / At most one effective response, with resolved_at"
)


def import_alarms(db: Db, actor: Actor, items: list[dict]) -> dict:
    """Level 9: alarms with their responses and resolutions at the times given (demo data, a
    move from another system), in one transaction, without events. Escalation steps already
    due at import are counted as done (no one is notified about history)."""
    actor.require_level(9)
    errors: dict[str, list[str]] = {}
    with db.read() as session:
        known = {c.key for c in category_rows(session, active_only=False)}
    for i, item in enumerate(items):
        raised = item["raised_at"]
        if item["category"] not in known:
            errors[f"items.{i}.category"] = [domain.UNKNOWN_CATEGORY]
        if any(r["posted_at"] < raised for r in item["responses"]):
            errors[f"items.{i}.responses"] = [BAD_ORDER]
        if item["resolved_at"] is not None and item["resolved_at"] < raised:
            errors[f"items.{i}.resolved_at"] = [BAD_ORDER]
        effective = [r for r in item["responses"] if r["effective"]]
        if len(effective) > 1 or (effective and item["resolved_at"] is None):
            errors[f"items.{i}.responses"] = [ONE_EFFECTIVE]
    if errors:
        raise ValidationFailed(details=errors)
    now = clock.now()
    limits = escalation_limits()
    with db.unit_of_work() as uow:
        for item in items:
            supports = [
                r["posted_at"] for r in item["responses"] if r["author_id"] != item["requester_id"]
            ]
            alarm = Alarm(
                requester_id=item["requester_id"],
                requester_path=projection.user_path(item["requester_path"], item["requester_id"]),
                raised_at=item["raised_at"],
                category=item["category"],
                kind=item["kind"],
                stage=item["stage"],
                opportunity_id=item["opportunity_id"],
                customer_id=item["customer_id"],
                industry=item["industry"],
                amount_fen=item["amount_fen"],
                description=item["description"],
                analysis=item["analysis"] or "",
                suggestions=[],
                status=domain.RESOLVED if item["resolved_at"] else domain.OPEN,
                first_support_at=min(supports) if supports else None,
                resolved_at=item["resolved_at"],
                escalation_steps=0,
                responses=[
                    Response(
                        author_id=r["author_id"],
                        body=r["body"],
                        posted_at=r["posted_at"],
                        effective=r["effective"],
                    )
                    for r in item["responses"]
                ],
                escalations=[],
            )
            uow.session.add(alarm)
            uow.session.flush()
            chosen = next((r for r in alarm.responses if r.effective), None)
            alarm.effective_response_id = chosen.id if chosen else None
            if alarm.status == domain.OPEN:
                chain = supervisor_chain(uow.session, alarm)
                due = domain.due_escalations(as_domain(alarm), chain, 0, now, limits)
                alarm.escalation_steps = due[-1].number if due else 0
                alarm.next_escalation_at = domain.next_escalation_at(
                    as_domain(alarm), chain, alarm.escalation_steps, limits
                )
    return {"created": len(items)}
