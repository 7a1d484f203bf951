"""What the worklog service's capabilities share: the activity catalog as every entry reads
it (cached a few seconds), what the chain hash covers, an entry as answered, the entries a
caller may see, and the statements on the entries' table built once.
"""

from __future__ import annotations

import time
from datetime import UTC

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from services.worklog import domain
from services.worklog.models import Activity, Entry, Person

ENTRY_NOT_FOUND = "日报不存在 / Log entry not found"


# --- the catalog ---------------------------------------------------------------------------


catalog_cache: dict = {"at": float("-inf"), "items": None}
CATALOG_TTL = 5.0  # seconds: a change made through another instance shows within this


def catalog(session: Session) -> dict[str, domain.Activity]:
    """The catalog, read at most every few seconds (it changes rarely; every entry reads it)."""
    if catalog_cache["items"] is None or time.monotonic() - catalog_cache["at"] > CATALOG_TTL:
        rows = session.scalars(select(Activity).order_by(Activity.position, Activity.key)).all()
        catalog_cache["items"] = {
            r.key: domain.Activity(r.key, r.name, r.points, tuple(r.stages or ()), r.needs_customer)
            for r in rows
        }
        catalog_cache["at"] = time.monotonic()
    return catalog_cache["items"]


# --- entries -------------------------------------------------------------------------------


def hashed_fields(entry: Entry) -> dict:
    """What the chain hash covers: everything recorded, as recorded (ids excluded: the hash is
    computed before the database numbers the row)."""
    return {
        "author_id": entry.author_id,
        "work_date": entry.work_date.isoformat(),
        "recorded_at": clock.as_utc(entry.recorded_at).astimezone(UTC).isoformat(),
        "late": bool(entry.late),
        "customer_id": entry.customer_id,
        "opportunity_id": entry.opportunity_id,
        "stage": entry.stage,
        "activities": list(entry.activities),
        "minutes": entry.minutes,
        "expense_fen": entry.expense_fen,
        "note": entry.note,
        "next_appointment_at": (
            clock.as_utc(entry.next_appointment_at).astimezone(UTC).isoformat()
            if entry.next_appointment_at
            else None
        ),
        "difficulty": entry.difficulty,
    }


def entry_out(entry: Entry, notes=(), alarm_id: str | None = None) -> dict:
    return {
        "id": str(entry.id),
        "author_id": entry.author_id,
        "work_date": entry.work_date.isoformat(),
        "recorded_at": clock.isoformat(entry.recorded_at),
        "late": bool(entry.late),
        "customer_id": str(entry.customer_id) if entry.customer_id else None,
        "opportunity_id": str(entry.opportunity_id) if entry.opportunity_id else None,
        "stage": entry.stage,
        "activities": list(entry.activities),
        "points": entry.points,
        "minutes": entry.minutes,
        "expense": domain.format_money(entry.expense_fen),
        "note": entry.note,
        "next_appointment_at": (
            clock.isoformat(entry.next_appointment_at) if entry.next_appointment_at else None
        ),
        "difficulty": entry.difficulty,
        "hash": entry.hash,
        "prev_hash": entry.prev_hash or None,
        "alarm_id": alarm_id,
        "notes": [{"id": str(n.id), "text": n.text, "at": clock.isoformat(n.at)} for n in notes],
    }


def _visible_authors(actor: Actor):
    """Own entries; subordinates' from level 4; everyone's at level 9."""
    if actor.sees_everything():
        return None
    if not actor.sees_subordinates():
        return Entry.author_id == actor.id
    below = select(Person.user_id).where(Person.path.startswith(actor.path_prefix, autoescape=True))
    return (Entry.author_id == actor.id) | Entry.author_id.in_(below)


def visible(query, actor: Actor):
    condition = _visible_authors(actor)
    return query if condition is None else query.where(condition)


# statements built once (their compiled form is cached)
entries_table = Entry.__table__
# several rows, their ids in the order of the rows (SQLAlchemy's "insertmanyvalues")
INSERT_MANY = insert(entries_table).returning(entries_table.c.id, sort_by_parameter_order=True)
