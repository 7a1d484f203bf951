"""Use cases of the alerts service: each takes the database, the actor and loaded arguments.

The rules live in ``services.alerts.domain``; this module loads rows into the domain's
dataclasses, applies a rule, stores the result and writes its events to the outbox in the same
transaction.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from common import clock, config, projection
from common.actor import SERVICE_LEVEL, Actor, Freshness, may_work_on
from common.db import Db, is_unique_violation
from common.errors import Conflict, NotFound, ValidationFailed
from common.events import Envelope
from common.money import format_money
from common.projection import path_list
from services.alerts import domain, facts
from services.alerts.models import (
    Alarm,
    Category,
    CustomerState,
    Escalation,
    OpportunityState,
    Person,
    Response,
)

log = logging.getLogger(__name__)

ALARM_NOT_FOUND = "报警不存在 / Alarm not found"
UNKNOWN_OPPORTUNITY = "未知商机 / Unknown opportunity"
UNKNOWN_CUSTOMER = "客户不存在 / Unknown customer"
SUGGESTIONS = 5

# (query text, stage, category, kind) → suggestions [{experience_id, title, method, score}]
Suggest = Callable[[str, str | None, str, str], list[dict]]


def no_suggestions(text: str, stage: str | None, category: str, kind: str) -> list[dict]:
    return []


# --- the people projection -------------------------------------------------------------------


# --- categories --------------------------------------------------------------------------------


def _categories(session: Session, active_only: bool = True) -> list[Category]:
    query = select(Category).order_by(Category.position, Category.key)
    if active_only:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def _domain_categories(session: Session) -> list[domain.Category]:
    return [domain.Category(c.key, c.name) for c in _categories(session)]


def categories(db: Db) -> dict:
    with db.read() as session:
        return {"items": [{"key": c.key, "name": c.name} for c in _categories(session)]}


def put_category(db: Db, actor: Actor, args: dict) -> dict:
    """Level ≥ 6: add or rename a category, or retire it (``active: false``); alarms already
    raised keep theirs."""
    actor.require_level(6)
    with db.unit_of_work() as uow:
        category = uow.session.get(Category, args["key"])
        if category is None:
            position = uow.session.scalar(select(func.coalesce(func.max(Category.position), 0)))
            category = Category(key=args["key"], position=int(position) + 1)
            uow.session.add(category)
        category.name = args["name"]
        category.active = args["active"]
        category.updated_by, category.updated_at = actor.id, clock.now()
        uow.publish(
            "category_changed",
            {"key": category.key, "name": category.name, "active": category.active},
        )
        return uow.answer({"key": category.key, "name": category.name, "active": category.active})


# --- shapes ------------------------------------------------------------------------------------


def _limits() -> domain.EscalationLimits:
    return domain.EscalationLimits(
        no_response=clock.parse_duration(config.alarm_no_response_limit()),
        unresolved=clock.parse_duration(config.alarm_unresolved_limit()),
    )


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


def _hours(start: datetime, end: datetime | None) -> float | None:
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
        "hours_to_resolution": _hours(alarm.raised_at, alarm.resolved_at),
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


def _event(alarm: Alarm) -> dict:
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


def _chain(session: Session, alarm: Alarm) -> list[tuple[str, int]]:
    """The requester's supervisor chain (top → requester) as ``(user_id, level)``; a person
    the projection does not know yet counts as level 0 (notified, never the top)."""
    ids = path_list(alarm.requester_path) or [alarm.requester_id]
    levels = dict(
        session.execute(select(Person.user_id, Person.level).where(Person.user_id.in_(ids))).all()
    )
    return [(uid, int(levels.get(uid) or 0)) for uid in ids]


def _reschedule(session: Session, alarm: Alarm) -> None:
    alarm.next_escalation_at = domain.next_escalation_at(
        as_domain(alarm), _chain(session, alarm), alarm.escalation_steps, _limits()
    )


# --- raising -----------------------------------------------------------------------------------


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
    _reschedule(uow.session, alarm)
    uow.publish(
        "alarm_raised",
        {
            **_event(alarm),
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


# --- reading -----------------------------------------------------------------------------------


def _load(session: Session, alarm_id: int, *, lock: bool = False) -> Alarm:
    query = select(Alarm).where(Alarm.id == alarm_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    alarm = session.scalar(query)
    if alarm is None:
        raise NotFound(ALARM_NOT_FOUND, {"alarm_id": str(alarm_id)})
    return alarm


def _names(session: Session, ids) -> dict[str, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(select(Person.user_id, Person.name).where(Person.user_id.in_(ids)))
    return {uid: name for uid, name in rows if name}


def get(db: Db, actor: Actor, alarm_id: int) -> dict:
    """The board is group-wide (docs/DOMAIN.md §6: published to the whole group)."""
    with db.read() as session:
        alarm = _load(session, alarm_id)
        names = _names(session, [alarm.requester_id, *(r.author_id for r in alarm.responses)])
        answer = alarm_out(alarm, detail=True, names=names)
        for response in answer["responses"]:
            response["author_name"] = names.get(response["author_id"])
        return answer


def board(db: Db, actor: Actor, args: dict) -> dict:
    """The group-wide board, newest first, with filters; ``to_help``: open alarms whose
    escalation reached the caller or whose requester the caller supervises, not their own;
    ``subordinates``: alarms of the caller's subordinates; ``unsupported``: open alarms
    nobody but the requester has answered yet."""
    limit = args["limit"] or 50
    with db.read() as session:
        query = select(Alarm)
        if args.get("status"):
            query = query.where(Alarm.status == args["status"])
        if args.get("category"):
            query = query.where(Alarm.category == args["category"])
        if args.get("kind"):
            query = query.where(Alarm.kind == args["kind"])
        if args.get("stage"):
            query = query.where(Alarm.stage == args["stage"])
        if args.get("requester_id"):
            query = query.where(Alarm.requester_id == args["requester_id"])
        if args.get("opportunity_id"):
            query = query.where(Alarm.opportunity_id == str(args["opportunity_id"]))
        if args.get("mine"):
            query = query.where(Alarm.requester_id == actor.id)
        if args.get("to_help"):
            escalated = select(Escalation.alarm_id).where(Escalation.user_id == actor.id)
            query = query.where(
                Alarm.status == domain.OPEN,
                Alarm.requester_id != actor.id,
                or_(
                    Alarm.id.in_(escalated),
                    Alarm.requester_path.startswith(actor.path_prefix, autoescape=True),
                ),
            )
        if args.get("subordinates"):
            query = query.where(
                Alarm.requester_id != actor.id,
                Alarm.requester_path.startswith(actor.path_prefix, autoescape=True),
            )
        if args.get("unsupported"):
            query = query.where(Alarm.status == domain.OPEN, Alarm.first_support_at.is_(None))
        if args.get("cursor") is not None:
            query = query.where(Alarm.id < args["cursor"])
        rows = list(session.scalars(query.order_by(Alarm.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        names = _names(session, [a.requester_id for a in rows])
        return {
            "items": [alarm_out(a, names=names) for a in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }


SUPERVISOR = 4  # from this level the workbench shows subordinates' unsupported alarms


def workbench(db: Db, actor: Actor, limit: int) -> dict:
    """The three lists of the caller's workbench (one RPC instead of three)."""
    lists = {"mine": {"mine": True, "status": domain.OPEN}, "to_help": {"to_help": True}}
    if actor.level >= SUPERVISOR:
        lists["unsupported"] = {"subordinates": True, "unsupported": True}
    answer = {name: board(db, actor, {**f, "limit": limit})["items"] for name, f in lists.items()}
    return {"unsupported": None, **answer}


# --- responding and resolving ------------------------------------------------------------------

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
        alarm = _load(uow.session, alarm_id, lock=True)
        domain.check_may_respond(as_domain(alarm))
        now = clock.now()
        response = Response(alarm_id=alarm.id, author_id=actor.id, body=body, posted_at=now)
        alarm.responses.append(response)
        first_support = actor.id != alarm.requester_id and alarm.first_support_at is None
        if first_support:
            alarm.first_support_at = now
        uow.session.flush()
        _reschedule(uow.session, alarm)
        uow.publish(
            "response_posted",
            {
                **_event(alarm),
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
        **_event(alarm),
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
        "hours_to_resolution": _hours(alarm.raised_at, alarm.resolved_at),
    }


@_retry_stale
def mark_response_effective(db: Db, actor: Actor, alarm_id: int, response_id: int) -> dict:
    """方法有效: the requester alone (403), once (409 already_resolved)."""
    with db.unit_of_work() as uow:
        alarm = _load(uow.session, alarm_id, lock=True)
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
        alarm = _load(uow.session, alarm_id, lock=True)
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


# --- escalation --------------------------------------------------------------------------------


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
    limits = _limits()
    notified = 0
    with db.unit_of_work() as uow:
        for alarm in _claim_due(uow.session, now, limit):
            chain = _chain(uow.session, alarm)
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
                        **_event(alarm),
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


# --- statistics ----------------------------------------------------------------------------------


def _scope_filter(session: Session, actor: Actor, scope: str):
    """group: everyone; me: the caller; subtree: the caller's subtree; team: the caller's
    supervisor's direct reports (their own for level ≥ 4); branch: the subtree of the nearest
    level-6 (or higher) ancestor — of requesters, by their path when raised."""
    mine = path_list(actor.path_prefix)
    if scope == "group":
        return None
    if scope == "me":
        return Alarm.requester_id == actor.id
    if scope == "subtree":
        root = actor.path_prefix
    elif scope == "branch":
        levels = dict(
            session.execute(
                select(Person.user_id, Person.level).where(Person.user_id.in_(mine))
            ).all()
        )
        head = next((u for u in reversed(mine) if (levels.get(u) or 0) >= 6), None)
        root = "/" + "/".join(mine[: mine.index(head) + 1]) + "/" if head else "/"
    else:  # team
        lead = mine if actor.level >= 4 or len(mine) < 2 else mine[:-1]
        root = "/" + "/".join(lead) + "/"
        depth = len(lead) + 1
        return (Alarm.requester_path.startswith(root, autoescape=True)) & (
            func.length(Alarm.requester_path)
            - func.length(func.replace(Alarm.requester_path, "/", ""))
            <= depth + 1
        )
    return Alarm.requester_path.startswith(root, autoescape=True)


def stats(db: Db, actor: Actor, args: dict) -> dict:
    today = clock.today()
    last = args.get("to_date") or today
    first = args.get("from_date") or last - timedelta(days=29)
    start, end = domain.period_bounds(first, last, clock.org_tz())
    with db.read() as session:
        query = select(Alarm).where(Alarm.raised_at >= start, Alarm.raised_at < end)
        condition = _scope_filter(session, actor, args["scope"])
        if condition is not None:
            query = query.where(condition)
        rows = list(session.scalars(query))
        alarms = [as_domain(a) for a in rows]
        people = (
            {a.requester_id for a in rows}
            | {r.author_id for a in rows for r in a.responses}
            | {d.team_leader_id for d in alarms}
        )
        names = _names(session, people)
    answer = domain.alarm_stats(alarms, start, end, names)
    answer.update({"scope": args["scope"], "from": first.isoformat(), "to": last.isoformat()})
    return answer


# --- bulk import -------------------------------------------------------------------------------

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
        known = {c.key for c in _categories(session, active_only=False)}
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
    limits = _limits()
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
                chain = _chain(uow.session, alarm)
                due = domain.due_escalations(as_domain(alarm), chain, 0, now, limits)
                alarm.escalation_steps = due[-1].number if due else 0
                alarm.next_escalation_at = domain.next_escalation_at(
                    as_domain(alarm), chain, alarm.escalation_steps, limits
                )
    return {"created": len(items)}
