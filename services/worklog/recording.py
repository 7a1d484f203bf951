"""Recording an entry: the immutable daily log and its hash chains.

Recording an entry reads only this service's tables (the catalog, the author's day, the
projections of opportunities, customers and people), appends the entry to the author's hash
chain and writes ``entry_recorded`` to the outbox in the same transaction. When a projection has
not seen the opportunity or customer an entry names, or refuses it on what it holds, the owner
is asked once (read-your-writes, common.projection) and the entry checked again. Entries
recorded at the same moment in one process share that transaction (a group commit,
``common.groupcommit``). Two entries of one author recorded at the same moment by two
instances cannot both follow the same chain link (UNIQUE(author_id, prev_hash)): the loser
retries on the new head, re-checking the day's total.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Date, String, func, insert, literal, select, tuple_, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock, config, projection
from common.actor import SERVICE_LEVEL, Actor, Freshness, may_work_on
from common.db import Db, is_unique_violation
from common.errors import BpcError, Conflict
from common.groupcommit import GroupCommit, Pending
from common.projection import Owners
from services.worklog import domain, facts
from services.worklog.models import CustomerState, Entry, EntryRequest, OpportunityState, Person
from services.worklog.shapes import INSERT_MANY, catalog, entries_table, entry_out, hashed_fields

log = logging.getLogger(__name__)

BUSY = "日报正在被同时提交，请重试 / Entries are being recorded at the same moment; try again"
CHAIN_RETRIES = 5


def _event(entry: Entry, actor: Actor, answer: dict) -> dict:
    """``entry_recorded`` data, from the entry and its answer (``entry_out``)."""
    return {
        "entry_id": answer["id"],
        "author_id": entry.author_id,
        "author_path": list(actor.path) or [actor.id],
        "work_date": answer["work_date"],
        "recorded_at": clock.isoformat(entry.recorded_at),
        "late": answer["late"],
        "customer_id": answer["customer_id"],
        "opportunity_id": answer["opportunity_id"],
        "stage": entry.stage,
        "activities": answer["activities"],
        "points": entry.points,
        "minutes": entry.minutes,
        "expense": answer["expense"],
        "next_appointment_at": answer["next_appointment_at"],
        "difficulty": entry.difficulty,
    }


def record(db: Db, actor: Actor, args: dict, owners: Owners, fresh: Freshness) -> dict:
    """One entry by ``actor``, appended to their chain, with ``entry_recorded`` in the outbox.

    What needs no database is checked here, in the caller's worker; the rest happens in a
    group commit (``_record_group``) with the entries other workers of this process are
    recording at the same moment.
    """
    now = clock.now()
    work_date, late = domain.resolve_work_date(
        args["work_date"], now, clock.org_tz(), config.grace_hour()
    )
    minutes = domain.check_minutes(args["minutes"])
    expense = args["expense"] or 0
    domain.check_expense(expense, domain.parse_money(config.expense_cap(), "expense_cap"))
    difficulty = domain.difficulty_in(args["difficulty"])
    asked = _Asked(
        actor, args, now, work_date, late, minutes, expense, difficulty, db.request_id, fresh,
        repeat=args.get("request_key") is not None or db.request is None or db.request.repeat,
    )  # fmt: skip
    group = _group_commit(db)
    try:
        return group.submit(asked)
    except _Doubt as doubt:  # a projection could not vouch for the entry: ask, then again
        doubt.resolve(db, owners)
        asked.confirmed = True
        return group.submit(asked)


class _Doubt(Exception):
    """An entry the projections refused, or could not check: they may be older than what its
    author was just told. Raised once per entry, outside the group's transaction, so that
    the owners are asked without holding it."""

    def __init__(self, opportunity_id=None, customer_ids=(), people=()):
        super().__init__("projection doubt")
        self.opportunity_id = opportunity_id
        self.customer_ids = [c for c in customer_ids if c is not None]
        self.people = [p for p in people if p]  # chains whose levels decide (branch rule)

    def resolve(self, db: Db, owners: Owners) -> None:
        customers = list(self.customer_ids)
        if self.opportunity_id is not None:
            found = owners.refresh(db, facts.OPPORTUNITIES, [self.opportunity_id])
            customers += [f["customer_id"] for f in found]
        if customers:
            found = owners.refresh(db, facts.CUSTOMERS, customers)
            if self.people:
                people = {p for f in found for p in (f.get("owner_path") or [])}
                owners.refresh(db, facts.PEOPLE, sorted(people | set(self.people)))


@dataclass(slots=True)
class _Asked:
    """An entry as asked for, checked as far as it can be without the database."""

    actor: Actor
    args: dict
    now: datetime
    work_date: date
    late: bool
    minutes: int
    expense: int
    difficulty: str | None

    request_key: str | None = None  # the gateway's id of this request (common.db ``command``)
    fresh: Freshness = field(default_factory=Freshness)  # what the author changed lately
    confirmed: bool = False  # the owners were asked: a refusal now is final
    repeat: bool = True  # it may have been recorded before (common.db.Request.repeat)

    @property
    def key(self) -> tuple[str, str] | None:
        request_key = self.args.get("request_key") or self.request_key
        return (self.actor.id, request_key) if request_key is not None else None


_groups: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
GROUP_MAX = 64  # entries in one transaction at most


def _group_commit(db: Db) -> GroupCommit:
    """The group commit of this process's worklog database (one per service container)."""
    provider = db.provider
    group = _groups.get(provider)
    if group is None:
        group = _groups[provider] = GroupCommit(
            lambda items: _record_group(Db(provider), items), max_size=GROUP_MAX
        )
    return group


def _record_group(db: Db, items: list[Pending]) -> None:
    """Record a group of entries in one transaction; each item gets its answer or refusal.

    Another instance appending to one of these chains at the same moment makes the insert
    fail as a whole (UNIQUE(author_id, prev_hash)); then each entry is recorded on its own,
    with the single-entry retries.
    """
    try:
        with db.unit_of_work() as uow:
            outcomes = _append_group(uow, [item.payload for item in items])
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        log.info("a chain moved on under a group of %s entries; recording them one by one",
                 len(items))  # fmt: skip
        for item in items:
            try:
                item.succeed(_record_one(db, item.payload))
            except Exception as error:  # noqa: BLE001 - this entry's refusal, not the group's
                item.fail(error)
        return
    for item, outcome in zip(items, outcomes, strict=True):  # answered once committed
        if isinstance(outcome, BaseException):
            item.fail(outcome)
        else:
            item.succeed(outcome)


def _append_group(uow, asked: list[_Asked]) -> list:
    """Append the entries asked for (in order) to their chains in ``uow``: for each, its
    answer or its refusal."""
    session = uow.session
    outcomes: list = [None] * len(asked)
    # the requests recorded before under the same Idempotency-Key
    # (a first delivery of a fresh request id cannot have been recorded: not looked for)
    keys = {a.key for a in asked if a.key is not None and a.repeat}
    known: dict[tuple[str, str], int] = {}
    if keys:
        rows = session.execute(
            select(EntryRequest.author_id, EntryRequest.request_key, EntryRequest.entry_id).where(
                tuple_(EntryRequest.author_id, EntryRequest.request_key).in_(sorted(keys))
            )
        )
        known = {(r.author_id, r.request_key): r.entry_id for r in rows}
    # the opportunities and customers named, the chains' heads and the days' minutes
    opportunities = {a.args["opportunity_id"] for a in asked if a.args["opportunity_id"]}
    held = {}
    if opportunities:
        rows = session.execute(
            select(
                OpportunityState.opportunity_id, OpportunityState.holder_id,
                OpportunityState.stage, OpportunityState.customer_id, OpportunityState.as_of,
            ).where(OpportunityState.opportunity_id.in_(sorted(opportunities)))
        )  # fmt: skip
        held = {r.opportunity_id: r for r in rows}
    customers = {a.args["customer_id"] for a in asked if a.args["customer_id"]}
    customers |= {r.customer_id for r in held.values() if r.customer_id is not None}
    owned = {}
    if customers:
        rows = session.execute(
            select(
                CustomerState.customer_id,
                CustomerState.owner_id,
                CustomerState.owner_path,
                CustomerState.as_of,
            ).where(CustomerState.customer_id.in_(sorted(customers)))
        )
        owned = {r.customer_id: r for r in rows}
    projected = _Projected(session, held, owned)
    heads, days = _heads_and_days(session, {(a.actor.id, a.work_date) for a in asked})
    activities = catalog(session)

    fresh: list[tuple[int, Entry]] = []
    by_key: dict[tuple[str, str], int] = {}  # a request's key → its first place in the group
    for i, a in enumerate(asked):
        if a.key is not None and a.key in known:
            continue  # answered below with the entry recorded before
        if a.key is not None and a.key in by_key:
            continue  # the same request twice in this group: the first one's entry
        try:
            entry = _entry(a, projected, activities, days)
        except (BpcError, _Doubt) as refusal:
            outcomes[i] = refusal
            continue
        entry.prev_hash = heads.get(a.actor.id) or ""
        entry.hash = domain.chain_hash(entry.prev_hash or None, hashed_fields(entry))
        heads[a.actor.id] = entry.hash
        days[(a.actor.id, a.work_date)] += entry.minutes
        fresh.append((i, entry))
        if a.key is not None:
            by_key[a.key] = i

    if fresh:
        # by author (each chain in its order): two instances' groups touching the same chains
        # then wait for one another in one order, and never deadlock
        fresh.sort(key=lambda pair: pair[1].author_id)
        rows = [
            {c.key: getattr(entry, c.key) for c in entries_table.columns if c.key != "id"}
            for _, entry in fresh
        ]
        ids = session.execute(INSERT_MANY, rows).scalars().all()
        requests = []
        for (i, entry), entry_id in zip(fresh, ids, strict=True):
            entry.id = entry_id
            outcomes[i] = entry_out(entry)
            uow.publish("entry_recorded", _event(entry, asked[i].actor, outcomes[i]))
            if asked[i].key is not None:
                author_id, request_key = asked[i].key
                requests.append(
                    {"author_id": author_id, "request_key": request_key, "entry_id": entry_id}
                )
        if requests:
            requests.sort(key=lambda r: (r["author_id"], r["request_key"]))
            session.execute(insert(EntryRequest), requests)

    # the repeats: the entry recorded before, or the one recorded for the first in this group
    earlier = [known[a.key] for a in asked if a.key is not None and a.key in known]
    stored = {}
    if earlier:
        stored = {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(earlier)))}
    for i, a in enumerate(asked):
        if outcomes[i] is not None or a.key is None:
            continue
        if a.key in known:
            outcomes[i] = entry_out(stored[known[a.key]])
        elif a.key in by_key:
            outcomes[i] = outcomes[by_key[a.key]]
    return outcomes


def _heads_and_days(session: Session, pairs: set[tuple[str, date]]):
    """For each (author, day): the head of the author's chain and the day's minutes so far,
    in one query (a correlated lookup per pair: each reads one index entry, or one day)."""
    ordered = sorted(pairs)
    wanted = union_all(
        *(
            select(literal(author, String).label("author"), literal(day, Date).label("day"))
            for author, day in ordered
        )
    ).subquery("wanted")
    head = (
        select(entries_table.c.hash)
        .where(entries_table.c.author_id == wanted.c.author)
        .order_by(entries_table.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    total = (
        select(func.coalesce(func.sum(entries_table.c.minutes), 0))
        .where(
            entries_table.c.author_id == wanted.c.author, entries_table.c.work_date == wanted.c.day
        )
        .scalar_subquery()
    )
    heads: dict[str, str | None] = {}
    days: dict[tuple[str, date], int] = {}
    for (author, day), (prev_hash, already) in zip(
        ordered, session.execute(select(head, total).select_from(wanted)).all(), strict=True
    ):
        heads[author] = prev_hash
        days[(author, day)] = int(already)
    return heads, days


@dataclass
class _Projected:
    """What the projections hold of the opportunities and customers of a group's entries."""

    session: Session
    opportunities: dict
    customers: dict

    def levels(self, *chains) -> dict:
        return projection.levels_on(self.session, Person, *chains)


def _entry(a: _Asked, known: _Projected, activities: dict, days: dict) -> Entry:
    """The entry ``a`` asks for, checked against the opportunity, the customer, the catalog and
    the day. A refusal that rests on a projection is a ``_Doubt`` until the owners were asked."""
    args, stage = a.args, None
    customer_id = args["customer_id"]
    opportunity_id = args["opportunity_id"]
    opportunity = None
    # what the projections do not decide is refused at once (unknown activities, a customer
    # missing for them); the stage's plausibility is checked below
    domain.check_activities(args["activities"], activities, None,
                            customer_id is not None or opportunity_id is not None)  # fmt: skip
    try:
        if not a.confirmed and _older_than_told(a, known):
            raise _Doubt(opportunity_id, [customer_id])
        if opportunity_id is not None:
            opportunity = known.opportunities.get(opportunity_id)
            domain.check_holder(opportunity.holder_id if opportunity else None, a.actor.id)
            stage = opportunity.stage
            domain.check_opportunity_customer(customer_id, opportunity.customer_id)
            if customer_id is None:  # the entry is about the opportunity's customer
                customer_id = opportunity.customer_id
        if customer_id is not None and opportunity is None:  # (an opportunity vouches for its)
            customer = known.customers.get(customer_id)
            domain.check_customer(customer is not None, customer is not None and _may_work_on(
                a.actor, customer, known))  # fmt: skip
        chosen = domain.check_activities(
            args["activities"], activities, stage, customer_id is not None
        )
    except BpcError:
        if not a.confirmed and (opportunity_id is not None or customer_id is not None):
            branch = list(a.actor.path) if a.actor.level >= SERVICE_LEVEL else []
            raise _Doubt(opportunity_id, [customer_id, args["customer_id"]], branch) from None
        raise
    domain.check_day_total(days[(a.actor.id, a.work_date)], a.minutes)
    return Entry(
        author_id=a.actor.id,
        work_date=a.work_date,
        recorded_at=a.now,
        late=a.late,
        customer_id=customer_id,
        opportunity_id=opportunity_id,
        stage=stage,
        activities=[x.key for x in chosen],
        points=float(sum(x.points for x in chosen)),
        minutes=a.minutes,
        expense_fen=a.expense,
        difficulty=a.difficulty,
        note=args["note"],
        next_appointment_at=args["next_appointment_at"],
    )


def _older_than_told(a: _Asked, known: _Projected) -> bool:
    """Whether a projection row of the entry's opportunity or customer may predate a change the
    author made moments ago (its stage: the entry would be filed under the old one)."""
    if not a.fresh:
        return False
    opportunity = known.opportunities.get(a.args["opportunity_id"])
    customer = known.customers.get(a.args["customer_id"])
    return (opportunity is not None and a.fresh.stale(
        "opportunity", opportunity.opportunity_id, opportunity.as_of)) or (
        customer is not None and a.fresh.stale("customer", customer.customer_id, customer.as_of)
    )  # fmt: skip


def _may_work_on(actor: Actor, customer, known: _Projected) -> bool:
    """Own customer, or (common.actor) one the author's level and place in the chain let them
    work on. (The customer of an opportunity the author holds needs no check of its own.)"""
    if customer.owner_id == actor.id:
        return True
    levels = known.levels(list(actor.path), customer.owner_path) if actor.level >= 3 else {}
    return may_work_on(actor, customer.owner_id, customer.owner_path, levels)


def _record_one(db: Db, a: _Asked) -> dict:
    """One entry in a group of its own, retried on its chain's new head when another writer
    appended first (the key of a request recorded meanwhile then answers its entry)."""
    for attempt in range(CHAIN_RETRIES):
        try:
            with db.unit_of_work() as uow:
                (outcome,) = _append_group(uow, [a])
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            log.info("chain of %s moved on (attempt %s); retrying", a.actor.id, attempt + 1)
            a.repeat = True  # or the same request, recorded meanwhile by another delivery
            continue
        if isinstance(outcome, BaseException):
            raise outcome  # a refusal: nothing was written
        return outcome
    raise Conflict(BUSY, code="conflict")
