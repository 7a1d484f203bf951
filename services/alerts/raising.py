"""Raising an alarm: from a request (about an opportunity the caller may see or a customer
they may work on) and from a work-log entry's difficulty (docs/DOMAIN.md §6), with the
experience pool's suggestions.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock, projection
from common.actor import SERVICE_LEVEL, Actor, Freshness, may_work_on
from common.db import Db, is_unique_violation
from common.errors import ValidationFailed
from common.events import Envelope
from common.money import format_money
from services.alerts import domain, facts
from services.alerts.models import Alarm, CustomerState, OpportunityState, Person
from services.alerts.shapes import (
    SUGGESTIONS,
    Suggest,
    alarm_event,
    alarm_out,
    category_rows,
    reschedule,
)

log = logging.getLogger(__name__)

UNKNOWN_OPPORTUNITY = "未知商机 / Unknown opportunity"
UNKNOWN_CUSTOMER = "客户不存在 / Unknown customer"


def _domain_categories(session: Session) -> list[domain.Category]:
    return [domain.Category(c.key, c.name) for c in category_rows(session)]


def _context(
    session: Session, request: domain.RaiseRequest, actor: Actor | None = None
) -> tuple[str | None, str | None, str | None]:
    """(stage, customer_id, industry) of a request: the opportunity's stage and customer. With
    ``actor``, the opportunity must be one they may see and the customer one they may work on:
    one that does not exist and one they may not see are refused alike (nothing is revealed)."""
    stage, customer_id = None, request.customer_id
    if request.opportunity_id is not None:
        state = session.get(OpportunityState, request.opportunity_id)
        if state is None or (actor is not None and not _may_see(actor, state)):
            raise ValidationFailed(details={"opportunity_id": [UNKNOWN_OPPORTUNITY]})
        stage = state.stage
        customer_id = customer_id or state.customer_id
    industry = None
    if customer_id is not None:
        customer = session.get(CustomerState, customer_id)
        industry = customer.industry if customer else None
        explicit = request.customer_id is not None and actor is not None
        if explicit and not _may_work_on(session, actor, customer):
            raise ValidationFailed(details={"customer_id": [UNKNOWN_CUSTOMER]})
    return stage, customer_id, industry


def _older_than_told(session: Session, request: domain.RaiseRequest, fresh: Freshness) -> bool:
    if not fresh:
        return False
    opportunity = session.get(OpportunityState, request.opportunity_id or "")
    customer = session.get(CustomerState, request.customer_id or "")
    return (opportunity is not None and fresh.stale(
        "opportunity", opportunity.opportunity_id, opportunity.as_of)) or (
        customer is not None and fresh.stale("customer", customer.customer_id, customer.as_of)
    )  # fmt: skip


def _may_see(actor: Actor, state: OpportunityState) -> bool:
    """The opportunity service's rule: its holder, owner and the owner it was confiscated from;
    their supervisors from level 4; everyone at level 9."""
    return (
        (state.holder_id is not None and actor.may_see_owner(state.holder_id, state.holder_path))
        or (state.owner_id is not None and actor.may_see_owner(state.owner_id, state.owner_path))
        or state.original_owner_id == actor.id
    )


def _may_work_on(session: Session, actor: Actor, customer: CustomerState | None) -> bool:
    if customer is None or customer.owner_id is None:
        return False
    levels = projection.levels_on(session, Person, list(actor.path), customer.owner_path)
    return may_work_on(actor, customer.owner_id, customer.owner_path, levels)


def _visible_context(
    db: Db, actor: Actor, request: domain.RaiseRequest, owners, fresh: Freshness
) -> tuple:
    """``_context`` for ``actor``. A refusal that rests on the projections, or a row older than
    a change the caller made moments ago (the alarm would carry the old stage), is checked
    again after asking the owners once: they may not have seen what the caller was told."""
    try:
        with db.read() as session:
            if not _older_than_told(session, request, fresh):
                return _context(session, request, actor)
    except ValidationFailed:
        pass
    customers = [request.customer_id]
    if request.opportunity_id is not None:
        found = owners.refresh(db, facts.OPPORTUNITIES, [request.opportunity_id])
        customers += [f["customer_id"] for f in found]
    found = owners.refresh(db, facts.CUSTOMERS, customers)
    if actor.level >= SERVICE_LEVEL:  # levels on both chains decide the branch rule
        chains = {p for f in found for p in f.get("owner_path") or []} | set(actor.path)
        owners.refresh(db, facts.PEOPLE, sorted(chains))
    with db.read() as session:
        return _context(session, request, actor)


def _suggestions(suggest: Suggest, request: domain.RaiseRequest, stage: str | None) -> list[dict]:
    text = f"{request.description}\n{request.analysis}".strip()
    try:
        found = suggest(text, stage, request.category, request.kind)
    except Exception as exc:  # noqa: BLE001 - the pool is a help, never a reason to refuse
        log.warning("no suggestions for a new alarm: %r", exc)
        return []
    return [
        {
            "experience_id": str(s["id"] if "id" in s else s["experience_id"]),
            "title": s.get("title", ""),
            "method": s.get("method", ""),
            "score": s.get("score"),
        }
        for s in (found or [])[:SUGGESTIONS]
    ]


def _store(
    uow,
    requester_id: str,
    requester_path: str,
    request: domain.RaiseRequest,
    context: tuple,
    suggestions: list[dict],
    now: datetime,
    source_entry_id: str | None = None,
) -> Alarm:
    stage, customer_id, industry = context
    alarm = Alarm(
        requester_id=requester_id,
        requester_path=requester_path,
        raised_at=now,
        category=request.category,
        kind=request.kind,
        stage=stage,
        opportunity_id=request.opportunity_id,
        customer_id=customer_id,
        industry=industry,
        amount_fen=request.amount_fen,
        description=request.description,
        analysis=request.analysis,
        source_entry_id=source_entry_id,
        suggestions=suggestions,
        status=domain.OPEN,
        escalation_steps=0,
        responses=[],
        escalations=[],
    )
    uow.session.add(alarm)
    uow.session.flush()
    reschedule(uow.session, alarm)
    uow.publish(
        "alarm_raised",
        {
            **alarm_event(alarm),
            "amount": format_money(alarm.amount_fen) if alarm.amount_fen is not None else None,
            "description": alarm.description,
            "analysis": alarm.analysis,
            "source_entry_id": source_entry_id,
            "suggestion_ids": [s["experience_id"] for s in suggestions],
        },
    )
    return alarm


def raise_alarm(
    db: Db, actor: Actor, data: dict, suggest: Suggest, owners, fresh: Freshness
) -> dict:
    """Any user raises an alarm, about an opportunity they may see or a customer they may work
    on; the answer carries the pool's most similar solved problems."""
    with db.read() as session:
        request = domain.validate_raise(data, _domain_categories(session))
    context = _visible_context(db, actor, request, owners, fresh)
    suggestions = _suggestions(suggest, request, context[0])
    with db.unit_of_work() as uow:
        alarm = _store(uow, actor.id, actor.path_prefix, request, context, suggestions, clock.now())
        answer = uow.answer(alarm_out(alarm, detail=True))
    log.info("alarm %s raised by %s (%s)", answer["id"], actor.id, request.category)
    return answer


def _entry_request(session: Session, entry: dict) -> domain.RaiseRequest:
    """The raise request a work-log entry's difficulty makes. A category the alerts list
    does not know (retired since, or the list was unreachable when the entry was checked)
    becomes ``other``, with the original key kept in the analysis: the difficulty is raised
    rather than lost."""
    difficulty = dict(entry["difficulty"])
    categories = _domain_categories(session)
    known = {c.key for c in categories}
    analysis = difficulty.get("analysis") or ""
    if difficulty.get("category") not in known:
        analysis = f"[{difficulty.get('category')}] {analysis}".strip()
        difficulty["category"] = "other" if "other" in known else sorted(known)[0]
    return domain.validate_raise(
        {
            "category": difficulty["category"],
            "description": difficulty.get("description"),
            "analysis": analysis[: domain.MAX_TEXT],
            "amount": difficulty.get("amount"),
            "opportunity_id": entry.get("opportunity_id"),
            "customer_id": entry.get("customer_id"),
        },
        categories,
        field_prefix="difficulty.",
    )


def _by_entry(session: Session, entry_id: str) -> Alarm | None:
    return session.scalar(select(Alarm).where(Alarm.source_entry_id == str(entry_id)))


def raise_from_entry(
    db: Db, entry: dict, suggest: Suggest, event: Envelope | None = None
) -> dict | None:
    """The alarm of a work-log entry's difficulty (docs/DOMAIN.md §6 "from a log entry"): created
    once, whether the gateway asks at once or the ``entry_recorded`` event arrives first."""
    if not entry.get("difficulty"):
        return None
    entry_id = str(entry["entry_id"])
    with db.read() as session:
        existing = _by_entry(session, entry_id)
        if existing is not None:
            return alarm_out(existing, detail=True)
        request = _entry_request(session, entry)
        context = list(_context_lenient(session, request))
        if entry.get("stage"):
            context[0] = entry["stage"]  # the stage when the entry was recorded
    suggestions = _suggestions(suggest, request, context[0])
    path = projection.user_path(entry.get("author_path") or [], entry["author_id"])
    recorded_at = entry.get("recorded_at")
    now = datetime.fromisoformat(recorded_at) if recorded_at else clock.now()
    try:
        with db.unit_of_work() as uow:
            if event is not None and not uow.first_time(event):
                return None
            alarm = _store(
                uow, entry["author_id"], path, request, tuple(context), suggestions, now, entry_id
            )
            answer = alarm_out(alarm, detail=True)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        with db.read() as session:  # the other path raised it meanwhile
            existing = _by_entry(session, entry_id)
            return alarm_out(existing, detail=True) if existing else None
    log.info("alarm %s raised from entry %s", answer["id"], entry_id)
    return answer


def _context_lenient(session: Session, request: domain.RaiseRequest) -> tuple:
    """As ``_context``, but an opportunity the projection does not know yet gives no stage
    (the entry already proved it exists; its stage comes from the entry)."""
    try:
        return _context(session, request)
    except ValidationFailed:
        return None, request.customer_id, None


def entry_recorded(db: Db, event: Envelope, suggest: Suggest) -> None:
    data = event.payload()
    if data.get("difficulty"):
        try:
            raise_from_entry(db, data, suggest, event)
        except ValidationFailed as failed:
            # an entry the worklog accepted but no alarm can be made of: park it visibly
            log.error("entry %s: difficulty not raised: %s", data["entry_id"], failed.details)
            raise
