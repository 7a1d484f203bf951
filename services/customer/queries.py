"""Read models: visibility, lists, duplicate look-ups, near-duplicate search."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from common.actor import Actor
from services.customer import domain
from services.customer.models import Contact, Customer, Person, UnmaskLog


def visible_to(actor: Actor):
    """SQL condition mirroring ``Actor.may_see_owner`` for the customers table."""
    if actor.sees_everything():
        return Customer.id.isnot(None)
    if actor.sees_subordinates():
        return or_(
            Customer.owner_id == actor.id,
            Customer.owner_path.startswith(actor.path_prefix, autoescape=True),
        )
    return Customer.owner_id == actor.id


def list_customers(
    session: Session,
    actor: Actor,
    *,
    q: str | None,
    owner_id: str | None,
    status: str | None,
    limit: int,
    cursor: int | None,
) -> tuple[list[Customer], int | None]:
    """Visible customers, newest first; the cursor is the last id of the previous page."""
    query = select(Customer).where(visible_to(actor))
    if q:
        key = domain.normalise_name(q)
        query = query.where(
            or_(
                Customer.name.icontains(q, autoescape=True),
                Customer.name_key.contains(key, autoescape=True),
            )
        )
    if owner_id:
        query = query.where(Customer.owner_id == owner_id)
    if status:
        query = query.where(Customer.status == status)
    if cursor is not None:
        query = query.where(Customer.id < cursor)
    rows = list(session.scalars(query.order_by(Customer.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def all_visible(session: Session, actor: Actor) -> list[Customer]:
    return list(session.scalars(select(Customer).where(visible_to(actor)).order_by(Customer.id)))


def exact_duplicate(
    session: Session, *, uscc: str | None, name_key: str, phone_keys: list[str]
) -> tuple[Customer, str] | None:
    """The existing customer a registration collides with, and on what (uscc, name, phone)."""
    if uscc:
        found = session.scalar(select(Customer).where(Customer.uscc == uscc))
        if found:
            return found, "uscc"
    found = session.scalar(select(Customer).where(Customer.name_key == name_key))
    if found:
        return found, "name"
    if phone_keys:
        found = session.scalar(
            select(Customer)
            .join(Contact, Contact.customer_id == Customer.id)
            .where(Contact.phone_key.in_(phone_keys))
            .limit(1)
        )
        if found:
            return found, "phone"
    return None


def people_by_id(session: Session, user_ids: set[str]) -> dict[str, Person]:
    if not user_ids:
        return {}
    return {
        p.user_id: p for p in session.scalars(select(Person).where(Person.user_id.in_(user_ids)))
    }


def existing_customer(session: Session, customer: Customer) -> domain.ExistingCustomer:
    owner = session.get(Person, customer.owner_id)
    return domain.ExistingCustomer(
        customer_id=str(customer.id),
        owner_id=customer.owner_id,
        owner_level=owner.level if owner else None,
        owner_name=owner.name if owner else None,
    )


def near_duplicates(
    session: Session,
    *,
    name: str | None,
    uscc: str | None,
    phone: str | None,
    limit: int = 20,
) -> list[tuple[Customer, float, str]]:
    """Customers matching by uscc, by phone, or by a name similar ≥ 0.85, best first."""
    found: dict[int, tuple[Customer, float, str]] = {}

    def keep(customer: Customer, similarity: float, matched_on: str) -> None:
        if customer.id not in found or found[customer.id][1] < similarity:
            found[customer.id] = (customer, similarity, matched_on)

    if uscc:
        customer = session.scalar(select(Customer).where(Customer.uscc == uscc))
        if customer:
            keep(customer, 1.0, "uscc")
    if phone:
        key = domain.normalise_phone(phone)
        customer = session.scalar(
            select(Customer).join(Contact).where(Contact.phone_key == key).limit(1)
        )
        if customer:
            keep(customer, 1.0, "phone")
    if name:
        key = domain.normalise_name(name)
        keys = session.execute(select(Customer.id, Customer.name_key)).all()
        choices = {row.id: row.name_key for row in keys}
        hits = process.extract(
            key,
            choices,
            scorer=fuzz.ratio,
            score_cutoff=domain.NEAR_DUPLICATE_THRESHOLD * 100,
            limit=limit,
        )
        if hits:
            by_id = {
                c.id: c
                for c in session.scalars(
                    select(Customer).where(Customer.id.in_([hit[2] for hit in hits]))
                )
            }
            for _, score, customer_id in hits:
                keep(by_id[customer_id], round(score / 100.0, 4), "name")
    ranked = sorted(found.values(), key=lambda item: (-item[1], item[0].id))
    return ranked[:limit]


def unmasks_today(session: Session, actor_id: str, start, end) -> int:
    return session.scalar(
        select(func.count())
        .select_from(UnmaskLog)
        .where(UnmaskLog.actor_id == actor_id, UnmaskLog.at >= start, UnmaskLog.at < end)
    )
