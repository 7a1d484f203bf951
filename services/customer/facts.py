"""What the customer service owns for the others, and what it mirrors of theirs
(common.projection).

Owned: the ``customer`` fact — who owns each customer, on which supervisor chain — carried by
``customer_registered``, ``customer_handed_over`` and ``customers_imported`` and answered by
``facts``. Mirrored: org's people, and the work-log entries about a customer that claim a visit
or agree an appointment (``customer_entry``, for revisits and appointment reminders).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import clock
from common.projection import (
    Mirror,
    Source,
    int_ids,
    int_page,
    path_list,
    people_mirror,
    upsert,
)
from services.customer.models import Customer, CustomerEntry, OwnershipHistory, Person

# --- the customer fact -------------------------------------------------------------------------


def customer_fact(customer, at: datetime | None) -> dict:
    """A customer (a row, or anything with its attributes) as the other services mirror it
    (``at``: when it last changed hands)."""
    return {
        "customer_id": str(customer.id),
        "name": customer.name,
        "owner_id": customer.owner_id,
        "referred_by": str(customer.referred_by) if customer.referred_by else None,
        "industry": customer.industry,
        "owner_path": path_list(customer.owner_path),
        "status": customer.status,
        "at": clock.isoformat(at or customer.created_at),
        "changed_at": clock.isoformat_exact(at or customer.created_at),
    }


def _changed_hands():
    return (
        select(OwnershipHistory.customer_id, func.max(OwnershipHistory.at).label("at"))
        .group_by(OwnershipHistory.customer_id)
        .subquery()
    )


def _with_times():
    changed = _changed_hands()
    return select(Customer, changed.c.at).outerjoin(changed, changed.c.customer_id == Customer.id)


def load_customers(session: Session, ids: list[str]) -> dict[str, dict]:
    wanted = int_ids(ids)
    if not wanted:
        return {}
    rows = session.execute(_with_times().where(Customer.id.in_(wanted))).all()
    return {str(c.id): customer_fact(c, at) for c, at in rows}


def customer_page(session: Session, cursor: str | None, limit: int):
    rows, following = int_page(session, _with_times(), Customer.id, cursor, limit)
    return [customer_fact(r.Customer, r.at) for r in rows], following


SOURCES = {"customer": Source("customer", load_customers, customer_page)}


# --- mirrors ---------------------------------------------------------------------------------


def _write_entries(session: Session, facts: list[dict], force: bool) -> None:
    """Entries (``entry_recorded`` data) about a customer that claim a visit or agree an
    appointment; the others are not kept. Entries never change: a repeat writes the same."""
    for fact in facts:
        if not is_customer_entry(fact):
            continue
        appointment = fact.get("next_appointment_at")
        upsert(
            session,
            CustomerEntry,
            "entry_id",
            {
                "entry_id": str(fact["entry_id"]),
                "customer_id": int(fact["customer_id"]),
                "author_id": fact["author_id"],
                "work_date": date.fromisoformat(fact["work_date"]),
                "visit": "visit" in fact["activities"],
                "next_appointment_at": datetime.fromisoformat(appointment) if appointment else None,
            },
            ("customer_id", "author_id", "work_date", "visit", "next_appointment_at"),
        )


def is_customer_entry(data: dict) -> bool:
    """An entry this service keeps: on a customer, claiming a visit or agreeing an appointment."""
    return bool(data.get("customer_id")) and (
        "visit" in (data.get("activities") or ()) or bool(data.get("next_appointment_at"))
    )


def _entry_as_fact(row: CustomerEntry) -> dict:
    return {
        "entry_id": row.entry_id,
        "customer_id": str(row.customer_id),
        "author_id": row.author_id,
        "work_date": row.work_date.isoformat(),
        "visit": bool(row.visit),
        "next_appointment_at": clock.isoformat(row.next_appointment_at),
    }


ENTRY_FIELDS = ("customer_id", "author_id", "work_date", "visit", "next_appointment_at")
PEOPLE = people_mirror(Person)
ENTRIES = Mirror(
    "customer_entries", "worklog", "customer_entry", CustomerEntry, "entry_id", ENTRY_FIELDS,
    _write_entries, _entry_as_fact,
)  # fmt: skip
MIRRORS = {"people": PEOPLE, "customer_entries": ENTRIES}
