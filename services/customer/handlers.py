"""Use cases of the customer service: each takes the database, the actor and loaded arguments.

The Nameko entrypoints in ``service.py`` parse, call one of these, and return its answer.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock, projection
from common.actor import Actor
from common.db import Db, is_unique_violation
from common.errors import (
    BpcError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from common.events import Envelope
from services.customer import care_cases, domain, queries
from services.customer.calendar import yearly_key
from services.customer.facts import customer_fact
from services.customer.models import Contact, Customer, OwnershipHistory, Person, UnmaskLog
from services.customer.schemas import contact_out, customer_out

log = logging.getLogger(__name__)

NAME_KEY_LENGTH = Customer.__table__.c.name_key.type.length
IMPORTED_PAGE = 1000  # facts per customers_imported event
CUSTOMER_NOT_FOUND = "客户不存在 / Customer not found"
CONTACT_NOT_FOUND = "联系人不存在 / Contact not found"
UNMASK_FORBIDDEN = (
    "只有负责人及其上级可查看完整联系方式 / "
    "Only the owner and the owner's supervisors may see full contact details"
)


# --- registration and duplicates -----------------------------------------------------------


def _refusal(session: Session, hit: tuple[Customer, str], actor: Actor) -> BpcError:
    customer, matched_on = hit
    existing = queries.existing_customer(session, customer)
    return domain.duplicate_refusal(existing, matched_on, actor.id)


def register(db: Db, actor: Actor, args: dict) -> dict:
    name_key = domain.normalise_name(args["name"])
    if len(name_key) > NAME_KEY_LENGTH:  # NFKC may lengthen a name (㍿ → 株式会社)
        raise ValidationFailed(details={"name": ["名称过长 / Name too long"]})
    uscc = domain.validate_uscc(args["uscc"]) if args["uscc"] else None
    contacts = args["contacts"]
    phone_keys = [domain.normalise_phone(c["phone"]) for c in contacts if c["phone"]]
    with db.read() as session:
        hit = queries.exact_duplicate(session, uscc=uscc, name_key=name_key, phone_keys=phone_keys)
        if hit:
            raise _refusal(session, hit, actor)
        if args["referred_by"]:
            care_cases.visible_referrer(session, actor, args["referred_by"])
    try:
        with db.unit_of_work() as uow:
            now = clock.now()
            customer = Customer(
                name=args["name"],
                name_key=name_key,
                uscc=uscc,
                industry=args["industry"],
                region=args["region"],
                founded_on=args["founded_on"],
                founded_key=yearly_key(args["founded_on"]),
                referred_by=args["referred_by"],
                owner_id=actor.id,
                owner_path=actor.path_prefix,
                status="prospect",
                created_at=now,
                contacts=[
                    Contact(
                        name=c["name"],
                        title=c["title"],
                        phone=c["phone"],
                        phone_key=domain.normalise_phone(c["phone"]) if c["phone"] else None,
                        email=c["email"],
                        birthday=c["birthday"],
                        birthday_calendar=c["birthday_calendar"],
                        birthday_key=yearly_key(c["birthday"], c["birthday_calendar"]),
                        decision_maker=c["decision_maker"],
                    )
                    for c in contacts
                ],
            )
            uow.session.add(customer)
            uow.session.flush()
            uow.session.add(
                OwnershipHistory(
                    customer_id=customer.id,
                    at=now,
                    from_owner=None,
                    to_owner=actor.id,
                    reason="registered",
                    by=actor.id,
                )
            )
            uow.publish("customer_registered", customer_fact(customer, now))
            answer = uow.answer(customer_out(customer))
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        # lost a race: someone registered the same company between our check and our insert
        log.info("registration by %s lost a race for %r", actor.id, args["name"])
        with db.read() as session:
            hit = queries.exact_duplicate(
                session, uscc=uscc, name_key=name_key, phone_keys=phone_keys
            )
            if hit:
                raise _refusal(session, hit, actor) from None
        raise Conflict(
            "该客户正在被登记，请重试 / This customer is being registered; retry"
        ) from None
    log.info("customer %s registered by %s", answer["id"], actor.id)
    return answer


def check(db: Db, actor: Actor, args: dict) -> dict:
    if not (args["name"] or args["uscc"] or args["phone"]):
        return {"matches": []}
    uscc = args["uscc"].upper() if args["uscc"] else None
    with db.read() as session:
        found = queries.near_duplicates(session, name=args["name"], uscc=uscc, phone=args["phone"])
        people = queries.people_by_id(session, {c.owner_id for c, _, _ in found})
        matches = []
        for customer, similarity, matched_on in found:
            owner = people.get(customer.owner_id)
            matches.append(
                {
                    "customer_id": str(customer.id),
                    "name": customer.name,
                    "similarity": similarity,
                    "matched_on": matched_on,
                    "owner": domain.owner_summary(
                        owner.level if owner else None, owner.name if owner else None
                    ),
                    "yours": customer.owner_id == actor.id,
                }
            )
    return {"matches": matches}


# --- reads -----------------------------------------------------------------------------------


def _visible_customer(session: Session, actor: Actor, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or not actor.may_see_owner(customer.owner_id, customer.owner_path):
        raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
    return customer


def get(db: Db, actor: Actor, customer_id: int) -> dict:
    """Whoever sees the owner; and customer service, the care customers it may revisit (its
    contacts masked as everywhere: unmasking stays the owner chain's)."""
    with db.read() as session:
        customer = session.get(Customer, customer_id)
        if (
            customer is not None
            and customer.care_since is not None
            and care_cases.may_revisit(session, actor, customer)
        ):
            return customer_out(customer)
        return customer_out(_visible_customer(session, actor, customer_id))


def list_visible(db: Db, actor: Actor, args: dict) -> dict:
    with db.read() as session:
        rows, next_id = queries.list_customers(
            session,
            actor,
            q=args["q"],
            owner_id=args["owner_id"],
            status=args["status"],
            limit=args["limit"] or 50,
            cursor=args["cursor"],
        )
        return {
            "items": [customer_out(c) for c in rows],
            "next_cursor": str(next_id) if next_id is not None else None,
        }


# --- protected reads: unmask and export (audited) --------------------------------------------


def unmask(db: Db, actor: Actor, customer_id: int, contact_id: int) -> dict:
    with db.read() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
        if not actor.may_see_owner(customer.owner_id, customer.owner_path):
            raise Forbidden(UNMASK_FORBIDDEN, {"customer_id": str(customer_id)})
        contact = session.get(Contact, contact_id)
        if contact is None or contact.customer_id != customer.id:
            raise NotFound(CONTACT_NOT_FOUND, {"contact_id": str(contact_id)})
        answer = contact_out(contact, masked=False)
    start, end = clock.day_bounds(clock.today())
    with db.unit_of_work() as uow:
        # one unmask at a time per person (PostgreSQL row lock), so the quota is exact
        uow.session.execute(
            select(Person.user_id).where(Person.user_id == actor.id).with_for_update()
        )
        now = clock.now()
        uow.session.add(
            UnmaskLog(actor_id=actor.id, customer_id=customer_id, contact_id=contact_id, at=now)
        )
        uow.session.flush()
        used_before = queries.unmasks_today(uow.session, actor.id, start, end) - 1
        domain.check_unmask_quota(actor.level, used_before)
        uow.publish(
            "contact_unmasked",
            {
                "actor_id": actor.id,
                "action": "contact_unmasked",
                "target_type": "contact",
                "target_id": str(contact_id),
                "details": {"customer_id": str(customer_id)},
                "at": clock.isoformat(now),
            },
        )
        uow.answer(answer)
    return answer


def export(db: Db, actor: Actor) -> dict:
    actor.require_level(6)
    with db.read() as session:
        customers = [customer_out(c) for c in queries.all_visible(session, actor)]
    with db.unit_of_work() as uow:
        uow.publish(
            "customers_exported",
            {
                "actor_id": actor.id,
                "action": "customers_exported",
                "target_type": "customer",
                "target_id": None,
                "details": {"count": len(customers)},
                "at": clock.isoformat(clock.now()),
            },
        )
    return {
        "filename": f"customers-{clock.today().isoformat()}.csv",
        "csv": domain.customers_csv(customers),
    }


# --- org events --------------------------------------------------------------------------------


def owner_deactivated(db: Db, event: Envelope) -> None:
    """Everything the user owned passes to their supervisor, one history row per customer."""
    data = event.payload()
    user_id, supervisor_id = data["user_id"], data["supervisor_id"]
    with db.unit_of_work() as uow:
        if not uow.first_time(event):
            return
        session = uow.session
        supervisor_path = projection.user_deactivated(session, Person, data)
        now = clock.now()
        owned = session.scalars(
            select(Customer).where(Customer.owner_id == user_id).order_by(Customer.id)
        ).all()
        for customer in owned:
            customer.owner_id = supervisor_id
            customer.owner_path = supervisor_path
            session.add(
                OwnershipHistory(
                    customer_id=customer.id,
                    at=now,
                    from_owner=user_id,
                    to_owner=supervisor_id,
                    reason="owner_deactivated",
                    by="system",
                )
            )
            uow.publish(
                "customer_handed_over",
                {
                    "customer_id": str(customer.id),
                    "from_owner_id": user_id,
                    "to_owner_id": supervisor_id,
                    "reason": "owner_deactivated",
                    "to_owner_path": projection.path_list(supervisor_path),
                    "at": clock.isoformat(now),
                    "changed_at": clock.isoformat_exact(now),
                },
            )
    log.info(
        "user %s deactivated: %s customers handed to %s (event %s)",
        user_id,
        len(owned),
        supervisor_id,
        event.event_id,
    )


# --- bulk import ---------------------------------------------------------------------------------


def import_customers(db: Db, actor: Actor, items: list[dict]) -> dict:
    """Level 9: customers with their contacts, owners and care state (demo data, migrations),
    in one transaction; ``referred_by`` names an existing customer (an earlier page). The
    projections of the other services learn them from ``customers_imported`` (pages of the
    facts ``customer_registered`` carries). A duplicate name, uscc or phone refuses the whole
    page (Conflict). → ``{"imported", "ids"}`` in the items' order."""
    actor.require_level(9)
    rows, contacts = [], []
    for item in items:
        path = "/" + "/".join(item["owner_path"]) + "/"
        rows.append({
            "name": item["name"], "name_key": domain.normalise_name(item["name"]),
            "uscc": domain.validate_uscc(item["uscc"]) if item["uscc"] else None,
            "industry": item["industry"], "region": item["region"],
            "founded_on": item["founded_on"], "founded_key": yearly_key(item["founded_on"]),
            "referred_by": item["referred_by"], "owner_id": item["owner_id"],
            "owner_path": path, "status": "customer" if item["care_since"] else "prospect",
            "created_at": item["created_at"], "care_since": item["care_since"],
            "revisit_interval_days": item["revisit_interval_days"],
            "last_revisit_at": item["last_revisit_at"],
        })  # fmt: skip
        contacts.append(item["contacts"])
    try:
        with db.unit_of_work() as uow:
            session = uow.session
            referred = {r["referred_by"] for r in rows if r["referred_by"]}
            if referred:
                known = set(session.scalars(select(Customer.id).where(Customer.id.in_(referred))))
                if referred - known:
                    missing = [str(i) for i in sorted(referred - known)[:5]]
                    raise ValidationFailed(details={"referred_by": [
                        "推荐客户不存在 / Referring customer not found", *missing
                    ]})  # fmt: skip
            ids = list(session.scalars(
                insert(Customer).returning(Customer.id, sort_by_parameter_order=True), rows
            ))  # fmt: skip
            contact_rows = [
                {"customer_id": cid, "name": c["name"], "title": c["title"], "phone": c["phone"],
                 "phone_key": domain.normalise_phone(c["phone"]) if c["phone"] else None,
                 "email": c["email"], "birthday": c["birthday"],
                 "birthday_calendar": c["birthday_calendar"],
                 "birthday_key": yearly_key(c["birthday"], c["birthday_calendar"]),
                 "decision_maker": c["decision_maker"]}
                for cid, people in zip(ids, contacts, strict=True) for c in people
            ]  # fmt: skip
            if contact_rows:
                session.execute(insert(Contact), contact_rows)
            session.execute(insert(OwnershipHistory), [
                {"customer_id": cid, "at": row["created_at"], "from_owner": None,
                 "to_owner": row["owner_id"], "reason": "imported", "by": actor.id}
                for cid, row in zip(ids, rows, strict=True)
            ])  # fmt: skip
            # every projection of customers learns them as it learns a registration
            imported = [customer_fact(SimpleNamespace(id=cid, **row), row["created_at"])
                        for cid, row in zip(ids, rows, strict=True)]  # fmt: skip
            for start in range(0, len(imported), IMPORTED_PAGE):
                uow.publish(
                    "customers_imported", {"items": imported[start : start + IMPORTED_PAGE]}
                )
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Conflict(
            "导入的客户与已有客户重复 / An imported customer duplicates an existing one",
            code="duplicate_customer",
        ) from None
    return {"imported": len(ids), "ids": [str(i) for i in ids]}
