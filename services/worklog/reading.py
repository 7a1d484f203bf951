"""Reading the log: one entry, a page of the entries the caller may see, the export for
rebuilding scoring (level 9), and the alarm an entry raised (``alerts.alarm_raised``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import NotFound
from common.events import Envelope
from common.projection import path_list
from services.worklog import domain, facts
from services.worklog.models import Entry, EntryAlarm, EntryNote, Person
from services.worklog.shapes import ENTRY_NOT_FOUND, entries_table, entry_out, visible


def _notes(session: Session, entry_ids) -> dict[int, list[EntryNote]]:
    notes: dict[int, list[EntryNote]] = {}
    rows = session.scalars(
        select(EntryNote).where(EntryNote.entry_id.in_(entry_ids)).order_by(EntryNote.id)
    )
    for note in rows:
        notes.setdefault(note.entry_id, []).append(note)
    return notes


def _alarms(session: Session, entry_ids: list[int]) -> dict[int, str]:
    if not entry_ids:
        return {}
    return dict(
        session.execute(
            select(EntryAlarm.entry_id, EntryAlarm.alarm_id).where(
                EntryAlarm.entry_id.in_(entry_ids)
            )
        ).all()
    )


def alarm_raised(db: Db, event: Envelope) -> None:
    """alerts.alarm_raised from an entry: remember the alarm beside the (unchanged) entry."""
    data = event.payload()
    if not data.get("source_entry_id"):
        return
    with db.unit_of_work() as uow:
        facts.ALARMS.apply(
            uow.session, [{"entry_id": data["source_entry_id"], "alarm_id": data["alarm_id"]}]
        )


def get(db: Db, actor: Actor, entry_id: int) -> dict:
    with db.read() as session:
        entry = session.scalar(visible(select(Entry).where(Entry.id == entry_id), actor))
        if entry is None:
            raise NotFound(ENTRY_NOT_FOUND)
        alarms = _alarms(session, [entry.id])
        return entry_out(entry, _notes(session, [entry.id]).get(entry.id, []), alarms.get(entry.id))


def list_visible(db: Db, actor: Actor, args: dict) -> dict:
    query = visible(select(Entry), actor)
    if args["author_id"]:
        query = query.where(Entry.author_id == args["author_id"])
    if args["from_date"]:
        query = query.where(Entry.work_date >= args["from_date"])
    if args["to_date"]:
        query = query.where(Entry.work_date <= args["to_date"])
    if args["cursor"] is not None:
        query = query.where(Entry.id < args["cursor"])
    limit = args["limit"] or 50
    with db.read() as session:
        rows = list(session.scalars(query.order_by(Entry.id.desc()).limit(limit + 1)))
        more, rows = len(rows) > limit, rows[:limit]
        notes = _notes(session, [r.id for r in rows])
        alarms = _alarms(session, [r.id for r in rows if r.difficulty])
        items = [entry_out(r, notes.get(r.id, []), alarms.get(r.id)) for r in rows]
    return {"items": items, "next_cursor": str(rows[-1].id) if more and rows else None}


EXPORT_COLUMNS = (
    "entry_id", "author_id", "author_path", "work_date", "recorded_at", "late", "customer_id",
    "opportunity_id", "stage", "activities", "points", "minutes", "expense",
    "next_appointment_at", "difficulty",
)  # fmt: skip


def export_entries(db: Db, actor: Actor, after_id: int, limit: int, fmt: str = "items") -> dict:
    """Level 9: the log in id order, as ``entry_recorded`` data, for rebuilding scoring.

    ``fmt="columns"`` answers the same values as rows of ``EXPORT_COLUMNS``."""
    actor.require_level(9)
    e = entries_table
    with db.read() as session:
        rows = session.execute(
            select(
                e.c.id, e.c.author_id, e.c.work_date, e.c.recorded_at, e.c.late,
                e.c.customer_id, e.c.opportunity_id, e.c.stage, e.c.activities, e.c.points,
                e.c.minutes, e.c.expense_fen, e.c.next_appointment_at, e.c.difficulty,
            )
            .where(e.c.id > after_id)
            .order_by(e.c.id)
            .limit(limit)
        ).all()  # fmt: skip
        paths = dict(
            session.execute(
                select(Person.user_id, Person.path).where(
                    Person.user_id.in_({r.author_id for r in rows})
                )
            ).all()
        )
    zone = clock.org_tz()  # formatting is most of an export's time: looked up once a page
    author_paths = {a: path_list(p) or [a] for a, p in paths.items()}

    def moment(value):
        if value is None:
            return None
        return clock.as_utc(value).astimezone(zone).isoformat(timespec="seconds")

    table = [
        [
            str(r.id), r.author_id, author_paths.get(r.author_id) or [r.author_id],
            r.work_date.isoformat(), moment(r.recorded_at), bool(r.late),
            str(r.customer_id) if r.customer_id else None,
            str(r.opportunity_id) if r.opportunity_id else None,
            r.stage, list(r.activities), r.points, r.minutes,
            domain.format_money(r.expense_fen), moment(r.next_appointment_at), r.difficulty,
        ]
        for r in rows
    ]  # fmt: skip
    next_after_id = table[-1][0] if table else None
    if fmt == "columns":
        return {"columns": list(EXPORT_COLUMNS), "rows": table, "next_after_id": next_after_id}
    return {
        "items": [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in table],
        "next_after_id": next_after_id,
    }
