"""Use cases of customer care (docs/DOMAIN.md §7): care customers, revisits that may disprove a
claimed visit, important dates, reminders, and the referral graph.

Who may do what:

- a customer's care settings, important dates and reminders: whoever sees the customer (the
  owner, the owner's supervisor chain from level 4, level 9);
- a revisit: the same, or customer service — a user of level ≥ 3 in the owner's branch. The
  org has no unit kinds, so a *branch* is read as the subtree of the nearest level-6 manager
  (分公司总经理) above a user (or above the top of a smaller chain): a level-3 rep and the owner
  are in one branch when that manager is the same;
- a salesperson never verifies their own claimed visit.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock
from common.actor import (
    BRANCH_LEVEL,
    SERVICE_LEVEL,
    Actor,
    branch_head,
    may_work_on,
    path_prefix_of,
)
from common.db import Db, is_unique_violation
from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from common.events import Envelope
from common.projection import Owners, levels_on
from services.customer import care, facts, queries
from services.customer.calendar import LUNAR, SOLAR, candidate_keys, yearly_key
from services.customer.models import (
    Contact,
    Customer,
    CustomerEntry,
    ImportantDate,
    Person,
    ReminderSent,
    Revisit,
)
from services.customer.schemas import next_revisit_on

log = logging.getLogger(__name__)

CUSTOMER_NOT_FOUND = "客户不存在 / Customer not found"
NOT_A_VISIT = "该日志不是对此客户的拜访 / That log entry is not a visit to this customer"
OWN_VISIT = "不能核实自己的拜访 / You cannot verify your own visit"
ALREADY_VERIFIED = "该拜访已被核实 / That visit has already been verified"
REVISIT_FORBIDDEN = (
    "只有负责人、其上级或本分公司客服可回访 / "
    "Only the owner, the owner's supervisors or customer service of the branch may revisit"
)
CYCLE = "推荐关系不能成环 / A referral cannot form a cycle"
REFERRER_NOT_FOUND = "推荐客户不存在 / Referring customer not found"


def _seen(session: Session, actor: Actor, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or not actor.may_see_owner(customer.owner_id, customer.owner_path):
        raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
    return customer


def _branch_head(session: Session, path: list[str]) -> str | None:
    """The head of the branch of a supervisor chain (top → user): common.actor.branch_head."""
    return branch_head(path, levels_on(session, Person, path))


def _path_ids(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]


def service_scope(session: Session, actor: Actor):
    """Customer service (level 3) revisits any care customer of its own branch (docs/DOMAIN.md §1,
    §7): an SQL condition on those customers, or None for anyone else."""
    if actor.level != SERVICE_LEVEL or not actor.path:
        return None
    path = list(actor.path)
    head = _branch_head(session, path)
    if head is None or head == actor.id:
        return None
    prefix = path_prefix_of(path[: path.index(head) + 1])
    # the branch ends where another branch head (level ≥ 6) begins below this one
    inner = session.scalars(
        select(Person.path).where(
            Person.level >= BRANCH_LEVEL,
            Person.path.startswith(prefix, autoescape=True),
            Person.user_id != head,
        )
    ).all()
    return and_(
        Customer.care_since.isnot(None),
        Customer.owner_path.startswith(prefix, autoescape=True),
        *(~Customer.owner_path.startswith(other, autoescape=True) for other in inner),
    )


def may_revisit(session: Session, actor: Actor, customer: Customer) -> bool:
    levels = levels_on(session, Person, list(actor.path), customer.owner_path)
    return may_work_on(actor, customer.owner_id, customer.owner_path, levels)


# --- care customers -----------------------------------------------------------------------------


def opportunity_won(db: Db, event: Envelope) -> None:
    """A won opportunity makes its customer a care customer (once; later wins change nothing)."""
    with db.unit_of_work() as uow:
        if uow.first_time(event):
            _care_from(uow.session, [event.payload()])


def opportunities_imported(db: Db, event: Envelope) -> None:
    """A page of imported opportunities: the customers of the won ones are care customers."""
    with db.unit_of_work() as uow:
        if uow.first_time(event):
            _care_from(uow.session, [o for o in event.payload()["items"] if o["status"] == "won"])


def _care_from(session: Session, won: list[dict]) -> None:
    for data in won:
        customer = session.get(Customer, int(data["customer_id"]))
        if customer is None:
            log.warning("won opportunity %s of unknown customer %s",
                        data["opportunity_id"], data["customer_id"])  # fmt: skip
            continue
        if customer.care_since is None:
            customer.care_since = datetime.fromisoformat(data["at"])
            customer.status = "customer"


def entries_recorded(db: Db, events: list[Envelope]) -> None:
    """Remember entries about customers (a batch of events, one transaction): the appointments
    they agreed, and which claim a visit."""
    events = [e for e in events if facts.is_customer_entry(e.data)]
    if not events:
        return
    with db.unit_of_work() as uow:
        for event in events:
            if uow.first_time(event):  # an entry has one event: this dedupes it
                facts.ENTRIES.apply(uow.session, [event.payload()])


def care_out(customer: Customer) -> dict:
    return {
        "customer_id": str(customer.id),
        "status": customer.status,
        "care_since": clock.isoformat(customer.care_since),
        "revisit_interval": f"P{customer.revisit_interval_days}D",
        "last_revisit_at": clock.isoformat(customer.last_revisit_at),
        "next_revisit_on": next_revisit_on(customer),
    }


def set_care(db: Db, actor: Actor, customer_id: int, interval_days: int) -> dict:
    """The revisit interval. A customer won before BPC was used becomes a care customer now."""
    with db.unit_of_work() as uow:
        customer = _seen(uow.session, actor, customer_id)
        customer.revisit_interval_days = interval_days
        if customer.care_since is None:
            customer.care_since = clock.now()
            customer.status = "customer"
        uow.session.flush()
        return uow.answer(care_out(customer))


def add_important_date(db: Db, actor: Actor, customer_id: int, args: dict) -> dict:
    with db.unit_of_work() as uow:
        _seen(uow.session, actor, customer_id)
        item = ImportantDate(
            customer_id=customer_id,
            label=args["label"],
            date=args["date"],
            recurring=args["recurring"],
            date_key=yearly_key(args["date"]),
            created_by=actor.id,
            created_at=clock.now(),
        )
        uow.session.add(item)
        uow.session.flush()
        return uow.answer(
            {
                "id": str(item.id),
                "customer_id": str(customer_id),
                "label": item.label,
                "date": item.date.isoformat(),
                "recurring": item.recurring,
            }
        )


# --- revisits -----------------------------------------------------------------------------------


def revisit_out(revisit: Revisit) -> dict:
    return {
        "id": str(revisit.id),
        "customer_id": str(revisit.customer_id),
        "by": revisit.by,
        "at": clock.isoformat(revisit.at),
        "outcome": revisit.outcome,
        "notes": revisit.notes,
        "verifies_entry_id": revisit.verifies_entry_id,
        "verification": revisit.verification,
    }


def _revisitable(session: Session, actor: Actor, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
    if not may_revisit(session, actor, customer):
        if actor.level < SERVICE_LEVEL:  # cannot even see it
            raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
        raise Forbidden(REVISIT_FORBIDDEN)
    return customer


def revisits(db: Db, actor: Actor, customer_id: int, limit: int = 100) -> dict:
    """Whoever may revisit the customer: its revisits, newest first, and the visits claimed in
    work logs with their verification (``None`` until a revisit confirms or denies one) — the
    visits customer service picks from to verify."""
    with db.read() as session:
        _revisitable(session, actor, customer_id)
        done = session.scalars(
            select(Revisit)
            .where(Revisit.customer_id == customer_id)
            .order_by(Revisit.at.desc(), Revisit.id.desc())
            .limit(limit)
        ).all()
        verdicts = dict(
            session.execute(
                select(Revisit.verifies_entry_id, Revisit.verification).where(
                    Revisit.customer_id == customer_id, Revisit.verifies_entry_id.isnot(None)
                )
            ).all()
        )
        claimed = session.scalars(
            select(CustomerEntry)
            .where(CustomerEntry.customer_id == customer_id, CustomerEntry.visit.is_(True))
            .order_by(CustomerEntry.work_date.desc(), CustomerEntry.entry_id)
            .limit(limit)
        ).all()
        people = {r.by for r in done} | {v.author_id for v in claimed}
        names = dict(
            session.execute(
                select(Person.user_id, Person.name).where(Person.user_id.in_(people))
            ).all()
        )  # colleagues' names are no secret: the group boards show them
        return {
            "items": [{**revisit_out(r), "by_name": names.get(r.by)} for r in done],
            "visits": [
                {
                    "entry_id": v.entry_id,
                    "author_id": v.author_id,
                    "author_name": names.get(v.author_id),
                    "work_date": v.work_date.isoformat(),
                    "verification": verdicts.get(v.entry_id),
                }
                for v in claimed
            ],
        }


def record_revisit(db: Db, actor: Actor, customer_id: int, args: dict, owners: Owners) -> dict:
    """A revisit; one verifying a claimed visit confirms or denies it, once. A denial emits
    ``visit_denied``: scoring then counts that entry as proven false. An entry this service
    has not seen yet is asked of the worklog (read-your-writes)."""
    entry_id = args["verifies_entry_id"]
    if entry_id is not None:
        with db.read() as session:
            known = session.get(CustomerEntry, entry_id) is not None
        if not known:
            owners.refresh(db, facts.ENTRIES, [entry_id])
    try:
        with db.unit_of_work() as uow:
            session = uow.session
            _revisitable(session, actor, customer_id)
            customer = session.get(Customer, customer_id)
            entry = None
            if entry_id is not None:
                # a missing entry, another customer's and one that claims no visit answer
                # alike: nothing is revealed about entries the caller may not read
                entry = session.get(CustomerEntry, entry_id)
                if entry is None or entry.customer_id != customer_id or not entry.visit:
                    raise ValidationFailed(details={"verifies_entry_id": [NOT_A_VISIT]})
                if entry.author_id == actor.id:
                    raise Forbidden(OWN_VISIT)
                if session.scalar(select(Revisit.id).where(Revisit.verifies_entry_id == entry_id)):
                    raise Conflict(ALREADY_VERIFIED, {"entry_id": entry_id}, "already_verified")
            now = clock.now()
            revisit = Revisit(
                customer_id=customer_id,
                by=actor.id,
                at=now,
                outcome=args["outcome"],
                notes=args["notes"],
                verifies_entry_id=entry_id,
                verification=args["verification"],
            )
            session.add(revisit)
            customer.last_revisit_at = now
            session.flush()
            if entry is not None and args["verification"] == "denied":
                uow.publish(
                    "visit_denied",
                    {
                        "entry_id": entry_id,
                        "customer_id": str(customer_id),
                        "author_id": entry.author_id,
                        "denied_by": actor.id,
                        "revisit_id": str(revisit.id),
                        "at": clock.isoformat(now),
                    },
                )
            answer = uow.answer(revisit_out(revisit))
    except IntegrityError as exc:  # two verifications of one visit at once: one stands
        if not is_unique_violation(exc):
            raise
        raise Conflict(ALREADY_VERIFIED, {"entry_id": entry_id}, "already_verified") from None
    log.info("revisit %s of customer %s by %s", answer["id"], customer_id, actor.id)
    return answer


# --- reminders ----------------------------------------------------------------------------------


def _scope(actor: Actor):
    return queries.visible_to(actor)


def reminders_in(session: Session, window: care.Window, scope, revisit_scope=None) -> list[dict]:
    """Every reminder of the customers matching ``scope`` (an SQL condition) in ``window``, and
    the revisits of those matching ``revisit_scope`` too (customer service's branch)."""
    items: list[dict] = []
    solar, lunar = (
        candidate_keys(window.start, window.end, SOLAR),
        candidate_keys(window.start, window.end, LUNAR),
    )
    contacts = session.execute(
        select(Contact.id, Contact.customer_id, Contact.name, Contact.birthday,
               Contact.birthday_calendar, Contact.decision_maker)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(scope, Contact.decision_maker.is_(True), or_(
            and_(Contact.birthday_calendar == LUNAR, Contact.birthday_key.in_(lunar)),
            and_(Contact.birthday_calendar != LUNAR, Contact.birthday_key.in_(solar)),
        ))
    ).all()  # fmt: skip
    items += care.birthdays(contacts, window)
    founded = session.execute(
        select(Customer.id, Customer.name, Customer.founded_on).where(
            scope, Customer.founded_key.in_(solar)
        )
    ).all()
    items += care.anniversaries(founded, window)
    dates = session.execute(
        select(ImportantDate.id, ImportantDate.customer_id, ImportantDate.label,
               ImportantDate.date, ImportantDate.recurring)
        .join(Customer, Customer.id == ImportantDate.customer_id)
        .where(scope, or_(
            and_(ImportantDate.recurring.is_(True), ImportantDate.date_key.in_(solar)),
            ImportantDate.date.between(window.start, window.end),
        ))
    ).all()  # fmt: skip
    items += care.important_dates(dates, window)
    begin, _ = clock.day_bounds(window.start)
    end, _ = clock.day_bounds(window.end)
    entries = session.execute(
        select(CustomerEntry.entry_id, CustomerEntry.customer_id, CustomerEntry.author_id,
               CustomerEntry.next_appointment_at)
        .join(Customer, Customer.id == CustomerEntry.customer_id)
        .where(scope, CustomerEntry.next_appointment_at >= begin,
               CustomerEntry.next_appointment_at < end)
    ).all()  # fmt: skip
    items += care.appointments(entries, window)
    cared = session.execute(
        select(Customer.id, Customer.name, Customer.care_since, Customer.last_revisit_at,
               Customer.revisit_interval_days)
        .where(scope if revisit_scope is None else or_(scope, revisit_scope),
               Customer.care_since.isnot(None))
    ).all()  # fmt: skip
    items += care.revisits(cared, window)
    return care.ordered(items)


def reminder_out(item: dict) -> dict:
    out = {k: v for k, v in item.items() if k != "key"}
    out["date"] = item["date"].isoformat()
    out["customer_id"] = str(item["customer_id"])
    if item.get("contact_id") is not None:
        out["contact_id"] = str(item["contact_id"])
    return out


def reminders(db: Db, actor: Actor, start: date | None, days: int) -> dict:
    window = care.Window.of(start or clock.today(), days)
    with db.read() as session:
        items = reminders_in(session, window, _scope(actor), service_scope(session, actor))
    return {
        "from": window.start.isoformat(),
        "days": days,
        "items": [reminder_out(i) for i in items],
    }


# --- reminder events ----------------------------------------------------------------------------

SEND_BATCH = 500
KEEP_SENT_DAYS = 7


def _paths(session: Session, user_ids: set[str]) -> dict[str, list[str]]:
    rows = session.execute(
        select(Person.user_id, Person.path).where(Person.user_id.in_(user_ids))
    ).all()
    return {user_id: _path_ids(path) for user_id, path in rows}


def send_due_reminders(db: Db, days: int = 3) -> int:
    """Publish ``reminder_due`` for every reminder current today (the window of ``days`` from
    today, overdue revisits included) not yet sent today; the number published. Each is
    recorded in ``reminders_sent`` in the transaction that writes its event to the outbox,
    so instances racing on one reminder publish it once (the loser's transaction rolls back
    on the key and tries again on its next tick)."""
    today = clock.today()
    window = care.Window.of(today, days)
    with db.read() as session:
        items = reminders_in(session, window, Customer.id.isnot(None))
        sent = set(session.scalars(select(ReminderSent.key).where(ReminderSent.sent_on == today)))
        todo = [i for i in items if f"{today.isoformat()}:{i['key']}" not in sent]
        owners = dict(
            session.execute(
                select(Customer.id, Customer.owner_id).where(
                    Customer.id.in_({i["customer_id"] for i in todo})
                )
            ).all()
        ) if todo else {}  # fmt: skip
        users = {i.get("user_id") or owners.get(i["customer_id"]) for i in todo} - {None}
        paths = _paths(session, users) if users else {}
    published = 0
    for start in range(0, len(todo), SEND_BATCH):
        try:
            with db.unit_of_work() as uow:
                for item in todo[start : start + SEND_BATCH]:
                    key = f"{today.isoformat()}:{item['key']}"
                    user_id = item.get("user_id") or owners.get(item["customer_id"])
                    if user_id is None:
                        continue
                    uow.session.add(ReminderSent(key=key, sent_on=today))
                    uow.publish("reminder_due", {
                        "reminder_key": item["key"], "sent_on": today.isoformat(),
                        "kind": item["kind"], "date": item["date"].isoformat(),
                        "customer_id": str(item["customer_id"]),
                        "contact_id": (str(item["contact_id"])
                                       if item.get("contact_id") is not None else None),
                        "label": item["label"], "user_id": user_id,
                        "user_path": paths.get(user_id, [user_id]),
                        "overdue": bool(item.get("overdue")),
                    })  # fmt: skip
                    published += 1
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            log.info("reminders of %s are being sent by another instance", today)
            return published
    with db.unit_of_work() as uow:
        uow.session.execute(
            delete(ReminderSent).where(
                ReminderSent.sent_on < today - timedelta(days=KEEP_SENT_DAYS)
            )
        )
    if published:
        log.info("%s reminders due on %s published", published, today)
    return published


# --- referrals ----------------------------------------------------------------------------------


def _chain_up(session: Session, customer_id: int, limit: int = 10_000) -> list[int]:
    """The customer's referrers, nearest first (stops at a cycle, which cannot be stored)."""
    chain, seen, current = [], {customer_id}, customer_id
    while len(chain) < limit:
        referrer = session.scalar(select(Customer.referred_by).where(Customer.id == current))
        if referrer is None or referrer in seen:
            break
        chain.append(referrer)
        seen.add(referrer)
        current = referrer
    return chain


def visible_referrer(session: Session, actor: Actor, referred_by: int) -> Customer:
    """The referring customer, if the caller may see it; a customer that does not exist and
    one the caller may not see are refused alike (nothing is revealed)."""
    referrer = session.get(Customer, referred_by)
    if referrer is None or not actor.may_see_owner(referrer.owner_id, referrer.owner_path):
        raise ValidationFailed(details={"referred_by": [REFERRER_NOT_FOUND]})
    return referrer


def set_referrer(db: Db, actor: Actor, customer_id: int, referred_by: int | None) -> dict:
    """Who referred the customer (None: nobody), a customer the caller may see. A cycle (A
    referred by B … referred by A) and a customer referring itself are refused."""
    with db.unit_of_work() as uow:
        session = uow.session
        customer = _seen(session, actor, customer_id)
        if referred_by is not None:
            visible_referrer(session, actor, referred_by)
            if referred_by == customer_id or customer_id in _chain_up(session, referred_by):
                raise ValidationFailed(CYCLE, {"referred_by": [CYCLE]}, "referral_cycle")
        customer.referred_by = referred_by
        return uow.answer({"customer_id": str(customer_id),
                           "referred_by": str(referred_by) if referred_by else None})  # fmt: skip


def referrals(db: Db, actor: Actor) -> dict:
    """The referral graph of the visible customers: nodes, edges (referrer → referred),
    referrers with their counts, signed customers who never referred anyone, and each node's
    depth in its chain (0 for a customer nobody referred)."""
    with db.read() as session:
        rows = session.execute(
            select(Customer.id, Customer.name, Customer.status, Customer.referred_by,
                   Customer.care_since).where(_scope(actor)).order_by(Customer.id)
        ).all()  # fmt: skip
        parent = dict(
            session.execute(
                select(Customer.id, Customer.referred_by).where(Customer.referred_by.isnot(None))
            ).all()
        )
        counts = dict(
            session.execute(
                select(Customer.referred_by, func.count())
                .where(_scope(actor), Customer.referred_by.isnot(None))
                .group_by(Customer.referred_by)
            ).all()
        )
    visible = {r.id for r in rows}
    depth: dict[int, int] = {}

    def depth_of(node: int) -> int:
        """Hops from the start of the node's chain (referrers outside the scope count too)."""
        trail = []
        while node not in depth:
            up = parent.get(node)
            if up is None or node in trail:  # a chain's start (a cycle cannot be stored)
                depth[node] = 0
                break
            trail.append(node)
            node = up
        for child in reversed(trail):
            depth[child] = depth[parent[child]] + 1
        return depth[trail[0]] if trail else depth[node]

    nodes = [
        {"customer_id": str(r.id), "name": r.name, "status": r.status,
         "referred_by": str(r.referred_by) if r.referred_by else None, "depth": depth_of(r.id)}
        for r in rows
    ]  # fmt: skip
    edges = [{"from": str(r.referred_by), "to": str(r.id)} for r in rows if r.referred_by]
    referrers = sorted(
        ({"customer_id": str(c), "referred_count": n} for c, n in counts.items() if c in visible),
        key=lambda r: (-r["referred_count"], int(r["customer_id"])),
    )
    signed = [r for r in rows if r.care_since is not None and r.id not in counts]
    return {
        "nodes": nodes,
        "edges": edges,
        "referrers": referrers,
        "non_referrers": [{"customer_id": str(r.id), "name": r.name} for r in signed],
        "max_depth": max((n["depth"] for n in nodes), default=0),
    }
