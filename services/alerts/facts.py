"""What the alerts service owns for the others, and what it mirrors of theirs
(common.projection).

Owned: which alarm was raised from which work-log entry (``entry_alarm``, shown with the entry).
Mirrored: org's people (escalation chains, names), each opportunity's stage, customer and who
may see it (an alarm names only an opportunity its requester may see), and each customer's
industry and owner (the pool files a solution under the industry; an alarm names only a
customer its requester may work on).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.projection import (
    Mirror,
    Source,
    fact_time,
    int_ids,
    path_list,
    people_mirror,
    user_path,
    write_latest,
)
from services.alerts.models import Alarm, CustomerState, OpportunityState, Person

# --- the alarm of an entry ---------------------------------------------------------------------


def _entry_alarm(alarm_id: int, entry_id: str) -> dict:
    return {"entry_id": str(entry_id), "alarm_id": str(alarm_id)}


def load_entry_alarms(session: Session, ids: list[str]) -> dict[str, dict]:
    wanted = [str(i) for i in int_ids(ids)]
    if not wanted:
        return {}
    rows = session.execute(
        select(Alarm.id, Alarm.source_entry_id).where(Alarm.source_entry_id.in_(wanted))
    ).all()
    return {str(entry): _entry_alarm(alarm, entry) for alarm, entry in rows}


def entry_alarm_page(session: Session, cursor: str | None, limit: int):
    """Alarms raised from entries, in alarm order (the cursor is an alarm id)."""
    query = select(Alarm.id, Alarm.source_entry_id).where(Alarm.source_entry_id.isnot(None))
    if cursor is not None:
        query = query.where(Alarm.id > int(cursor))
    rows = session.execute(query.order_by(Alarm.id).limit(limit)).all()
    following = str(rows[-1].id) if len(rows) == limit else None
    return [_entry_alarm(alarm, entry) for alarm, entry in rows], following


SOURCES = {"entry_alarm": Source("entry_alarm", load_entry_alarms, entry_alarm_page)}


# --- mirrors -------------------------------------------------------------------------------

OPPORTUNITY_FIELDS = (
    "customer_id", "stage", "status", "holder_id", "holder_path", "owner_id", "owner_path",
    "original_owner_id",
)  # fmt: skip


def _write_opportunities(session: Session, facts: list[dict], force: bool) -> None:
    def row(f: dict) -> dict:
        return {
            "opportunity_id": str(f["opportunity_id"]),
            "customer_id": str(f["customer_id"]),
            "stage": f["stage"],
            "status": f.get("status"),
            "holder_id": f.get("holder_id"),
            "holder_path": user_path(f.get("holder_path") or [], f["holder_id"]),
            "owner_id": f.get("owner_id"),
            "owner_path": user_path(f["owner_path"], f["owner_id"]) if f.get("owner_path")
            else None,
            "original_owner_id": f.get("original_owner_id"),
            "as_of": fact_time(f),
        }  # fmt: skip

    write_latest(session, OpportunityState, "opportunity_id", facts, row, force)


def _opportunity_as_fact(row: OpportunityState) -> dict:
    return {
        "opportunity_id": row.opportunity_id,
        "customer_id": row.customer_id,
        "stage": row.stage,
        "status": row.status,
        "holder_id": row.holder_id,
        "holder_path": path_list(row.holder_path),
        "owner_id": row.owner_id,
        "owner_path": path_list(row.owner_path) if row.owner_path else None,
        "original_owner_id": row.original_owner_id,
    }


def _write_customers(session: Session, facts: list[dict], force: bool) -> None:
    def row(f: dict) -> dict:
        return {
            "customer_id": str(f["customer_id"]),
            "industry": f.get("industry"),
            "owner_id": f["owner_id"] or None,
            "owner_path": user_path(f.get("owner_path") or [], f["owner_id"])
            if f["owner_id"] else None,
            "as_of": fact_time(f),
        }  # fmt: skip

    write_latest(session, CustomerState, "customer_id", facts, row, force)


def customer_handed_over(session: Session, data: dict) -> None:
    def row(f: dict) -> dict:
        return {
            "customer_id": str(f["customer_id"]),
            "owner_id": f["to_owner_id"],
            "owner_path": user_path(f.get("to_owner_path") or [], f["to_owner_id"]),
            "as_of": fact_time(f),
        }

    write_latest(session, CustomerState, "customer_id", [data], row,
                 columns=("owner_id", "owner_path", "as_of"))  # fmt: skip


def _customer_as_fact(row: CustomerState) -> dict:
    return {
        "customer_id": row.customer_id,
        "industry": row.industry,
        "owner_id": row.owner_id,
        "owner_path": path_list(row.owner_path) if row.owner_path else None,
    }


PEOPLE = people_mirror(Person)
OPPORTUNITIES = Mirror(
    "opportunities", "opportunity", "opportunity", OpportunityState, "opportunity_id",
    OPPORTUNITY_FIELDS, _write_opportunities, _opportunity_as_fact,
)  # fmt: skip
CUSTOMERS = Mirror(
    "customers", "customer", "customer", CustomerState, "customer_id",
    ("industry", "owner_id", "owner_path"), _write_customers, _customer_as_fact,
)  # fmt: skip
MIRRORS = {"people": PEOPLE, "opportunities": OPPORTUNITIES, "customers": CUSTOMERS}
