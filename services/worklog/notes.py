"""Notes: the author appends a note to an entry; the entry itself never changes."""

from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import Forbidden, NotFound
from services.worklog.models import Entry, EntryNote
from services.worklog.shapes import ENTRY_NOT_FOUND, visible

NOT_AUTHOR = "只有作者可以追加备注 / Only the author may add a note"


def add_note(db: Db, actor: Actor, entry_id: int, text: str) -> dict:
    with db.unit_of_work() as uow:
        session = uow.session
        entry = session.scalar(visible(select(Entry).where(Entry.id == entry_id), actor))
        if entry is None:
            raise NotFound(ENTRY_NOT_FOUND)
        if entry.author_id != actor.id:
            raise Forbidden(NOT_AUTHOR)
        note = EntryNote(entry_id=entry.id, author_id=actor.id, text=text, at=clock.now())
        session.add(note)
        session.flush()
        return uow.answer(
            {
                "id": str(note.id),
                "entry_id": str(entry.id),
                "text": text,
                "at": clock.isoformat(note.at),
            }
        )
