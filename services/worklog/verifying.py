"""Verifying an author's hash chain: the first entry whose hash or link does not hold."""

from __future__ import annotations

from sqlalchemy import select

from common.actor import Actor
from common.db import Db
from common.errors import NotFound
from services.worklog import domain
from services.worklog.models import Entry, Person
from services.worklog.shapes import ENTRY_NOT_FOUND, hashed_fields


def verify(db: Db, actor: Actor, author_id: str | None) -> dict:
    author_id = author_id or actor.id
    with db.read() as session:
        if author_id != actor.id:
            person = session.get(Person, author_id)
            if person is None or not actor.may_see_owner(author_id, person.path):
                raise NotFound(ENTRY_NOT_FOUND)
        rows = session.scalars(
            select(Entry).where(Entry.author_id == author_id).order_by(Entry.id)
        ).all()
        chain = [({**hashed_fields(r), "id": r.id}, r.hash, r.prev_hash or None) for r in rows]
    broken = domain.first_broken(chain)
    return {
        "author_id": author_id,
        "valid": broken is None,
        "entries": len(chain),
        "broken_at": str(broken) if broken is not None else None,
    }
