"""What the worklog owns for the others, and what it mirrors of theirs (common.projection).

Owned: the entries themselves, of which the customer service mirrors those about a customer
that claim a visit or agree an appointment (``customer_entry``). Mirrored, for the checks of
recording an entry: org's people, each opportunity's customer, holder, stage and status, each
customer's owner and supervisor chain, and the alarm raised from an entry's difficulty.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import clock
from common.projection import (
    Mirror,
    Source,
    fact_time,
    int_ids,
    int_page,
    path_list,
    people_mirror,
    upsert,
    user_path,
    write_latest,
)
from services.worklog import domain
from services.worklog.models import CustomerState, Entry, EntryAlarm, OpportunityState, Person

# --- the entries about customers (the customer service's projection) ----------------------------


def entry_event(row: dict, author_path: list[str] | None) -> dict:
    """``entry_recorded`` data of a stored entry (a row's columns): what imports publish and the
    ``customer_entry`` facts answer."""
    appointment = row["next_appointment_at"]
    return {
        "entry_id": str(row["id"]), "author_id": row["author_id"],
        "author_path": author_path or [row["author_id"]],
        "work_date": row["work_date"].isoformat(),
        "recorded_at": clock.isoformat(row["recorded_at"]),
        "late": bool(row["late"]),
        "customer_id": str(row["customer_id"]) if row["customer_id"] else None,
        "opportunity_id": str(row["opportunity_id"]) if row["opportunity_id"] else None,
        "stage": row["stage"], "activities": list(row["activities"]), "points": row["points"],
        "minutes": row["minutes"], "expense": domain.format_money(row["expense_fen"]),
        "next_appointment_at": clock.isoformat(appointment) if appointment else None,
        "difficulty": row.get("difficulty"),
    }  # fmt: skip


def entry_fact(entry: Entry) -> dict:
    """An entry about a customer as the customer service keeps it (``visit``: one claimed)."""
    columns = {c.key: getattr(entry, c.key) for c in Entry.__table__.columns}
    return {**entry_event(columns, None), "visit": "visit" in entry.activities}


def _about_customers():
    """Entries on a customer; those the customer service keeps (a visit claimed, an appointment
    agreed) are picked in Python: the activities are a JSON list."""
    return select(Entry).where(Entry.customer_id.isnot(None))


def _kept(entry: Entry) -> bool:
    return "visit" in entry.activities or entry.next_appointment_at is not None


def load_customer_entries(session: Session, ids: list[str]) -> dict[str, dict]:
    wanted = int_ids(ids)
    if not wanted:
        return {}
    rows = session.scalars(_about_customers().where(Entry.id.in_(wanted))).all()
    return {str(e.id): entry_fact(e) for e in rows if _kept(e)}


def customer_entry_page(session: Session, cursor: str | None, limit: int):
    """Kept entries after ``cursor``: the scan goes on until it has ``limit`` of them."""
    found: list[dict] = []
    while True:
        rows, following = int_page(session, _about_customers(), Entry.id, cursor, limit * 4)
        found += [entry_fact(r.Entry) for r in rows if _kept(r.Entry)]
        if len(found) >= limit:
            found = found[:limit]
            return found, found[-1]["entry_id"]
        if following is None:
            return found, None
        cursor = following


SOURCES = {"customer_entry": Source("customer_entry", load_customer_entries, customer_entry_page)}


# --- mirrors -------------------------------------------------------------------------------


def _write_opportunities(session: Session, facts: list[dict], force: bool) -> None:
    def row(f: dict) -> dict:
        return {
            "opportunity_id": int(f["opportunity_id"]),
            "customer_id": int(f["customer_id"]),
            "holder_id": f["holder_id"],
            "stage": f["stage"],
            "status": f["status"],
            "as_of": fact_time(f),
        }

    write_latest(session, OpportunityState, "opportunity_id", facts, row, force)


def _opportunity_as_fact(row: OpportunityState) -> dict:
    return {
        "opportunity_id": str(row.opportunity_id),
        "customer_id": str(row.customer_id) if row.customer_id is not None else None,
        "holder_id": row.holder_id,
        "stage": row.stage,
        "status": row.status,
    }


def _write_customers(session: Session, facts: list[dict], force: bool) -> None:
    def row(f: dict) -> dict:
        return {
            "customer_id": int(f["customer_id"]),
            "owner_id": f["owner_id"],
            "owner_path": user_path(f.get("owner_path") or [], f["owner_id"]),
            "as_of": fact_time(f),
        }

    write_latest(session, CustomerState, "customer_id", facts, row, force)


def customer_handed_over(session: Session, data: dict) -> None:
    def row(f: dict) -> dict:
        return {
            "customer_id": int(f["customer_id"]),
            "owner_id": f["to_owner_id"],
            "owner_path": user_path(f.get("to_owner_path") or [], f["to_owner_id"]),
            "as_of": fact_time(f),
        }

    write_latest(session, CustomerState, "customer_id", [data], row)


def _customer_as_fact(row: CustomerState) -> dict:
    return {
        "customer_id": str(row.customer_id),
        "owner_id": row.owner_id,
        "owner_path": path_list(row.owner_path),
    }


def _write_alarms(session: Session, facts: list[dict], force: bool) -> None:
    for f in facts:
        upsert(
            session,
            EntryAlarm,
            "entry_id",
            {"entry_id": int(f["entry_id"]), "alarm_id": str(f["alarm_id"])},
            ("alarm_id",) if force else (),
        )


PEOPLE = people_mirror(Person)
OPPORTUNITIES = Mirror(
    "opportunities", "opportunity", "opportunity", OpportunityState, "opportunity_id",
    ("customer_id", "holder_id", "stage", "status"), _write_opportunities, _opportunity_as_fact,
    key_type=int,
)  # fmt: skip
CUSTOMERS = Mirror(
    "customers", "customer", "customer", CustomerState, "customer_id",
    ("owner_id", "owner_path"), _write_customers, _customer_as_fact, key_type=int,
)  # fmt: skip
ALARMS = Mirror(
    "entry_alarms", "alerts", "entry_alarm", EntryAlarm, "entry_id", ("alarm_id",),
    _write_alarms, lambda row: {"entry_id": str(row.entry_id), "alarm_id": row.alarm_id},
    key_type=int,
)  # fmt: skip
MIRRORS = {
    "people": PEOPLE, "opportunities": OPPORTUNITIES, "customers": CUSTOMERS,
    "entry_alarms": ALARMS,
}  # fmt: skip
