"""Bulk import (level 9): past entries appended to their authors' hash chains as recording would
seal them, announced to the projections in pages of ``entries_imported``."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from common.actor import Actor
from common.db import Db
from common.errors import ValidationFailed
from common.projection import path_list
from services.worklog import domain, facts
from services.worklog.models import Person
from services.worklog.shapes import INSERT_MANY, catalog, entries_table

IMPORTED_PAGE = 1000  # entries per entries_imported event

# a statement built once (its compiled form is cached)
# one round trip: the head of the author's chain and the day's minutes so far
_HEAD_AND_DAY = select(
    select(entries_table.c.hash)
    .where(entries_table.c.author_id == bindparam("author"))
    .order_by(entries_table.c.id.desc())
    .limit(1)
    .scalar_subquery(),
    select(func.coalesce(func.sum(entries_table.c.minutes), 0))
    .where(
        entries_table.c.author_id == bindparam("author"),
        entries_table.c.work_date == bindparam("day"),
    )
    .scalar_subquery(),
)


def import_entries(db: Db, actor: Actor, items: list[dict]) -> dict:
    """Level 9: past entries (demo data, migrations), each author's in the order given, appended
    to that author's hash chain exactly as recording would seal them — so ``verify`` holds for
    imported history too. Activities must be in the catalog (points from it). The projections
    of entries learn them from ``entries_imported`` (pages of what ``entry_recorded`` carries);
    scoring rebuilds from ``export_entries``. → ``{"imported"}``."""
    actor.require_level(9)
    with db.unit_of_work() as uow:
        session = uow.session
        known = catalog(session)
        unknown = sorted({a for i in items for a in i["activities"]} - set(known))
        if unknown:
            raise ValidationFailed(details={"activities": [domain.UNKNOWN_ACTIVITY, *unknown[:5]]})
        heads: dict[str, str] = {}
        for author in {i["author_id"] for i in items}:
            heads[author] = (
                session.execute(_HEAD_AND_DAY, {"author": author, "day": None}).one()[0] or ""
            )
        rows = []
        for item in items:  # rows, not ORM objects: a demo imports two million of them
            row = {
                "author_id": item["author_id"], "work_date": item["work_date"],
                "recorded_at": item["recorded_at"], "late": item["late"],
                "customer_id": item["customer_id"], "opportunity_id": item["opportunity_id"],
                "stage": item["stage"], "activities": list(item["activities"]),
                "points": float(sum(known[a].points for a in item["activities"])),
                "minutes": item["minutes"], "expense_fen": item["expense"] or 0,
                "note": item["note"], "next_appointment_at": item["next_appointment_at"],
                "difficulty": None, "prev_hash": heads[item["author_id"]],
            }  # fmt: skip
            # canonical() reads the same fields from a row as hashed_fields gives from an Entry
            row["hash"] = heads[item["author_id"]] = domain.chain_hash(row["prev_hash"], row)
            rows.append(row)
        ids = session.execute(INSERT_MANY, rows).scalars().all()
        # the projections of entries (the customer service's) learn them as live ones
        paths = dict(session.execute(select(Person.user_id, Person.path).where(
            Person.user_id.in_({r["author_id"] for r in rows}))).all())  # fmt: skip
        imported = [
            facts.entry_event({**row, "id": entry_id}, path_list(paths.get(row["author_id"])))
            for entry_id, row in zip(ids, rows, strict=True)
        ]
        for start in range(0, len(imported), IMPORTED_PAGE):
            uow.publish("entries_imported", {"items": imported[start : start + IMPORTED_PAGE]})
    return {"imported": len(rows)}
