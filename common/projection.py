"""Projections: the copies a service keeps of other services' facts (docs/ARCHITECTURE.md
"Projections and read-your-writes").

A fact has one owner. The owner publishes it in events and answers for it by RPC; a service
that needs it on its write path keeps a *mirror* of it. Every way a mirror is written goes
through one function per mirror, ``Mirror.apply`` — a live event, an import's page of facts, a
fact fetched from the owner because the mirror did not have it (read-your-writes) and a repair
by ``bpc check-projections --repair`` — so the four cannot disagree.

Owner side: a ``Source`` per kind of fact (``customer``, ``opportunity``, ``person``, …) loads
facts by id and pages through them in key order; ``ServiceBase`` answers ``facts``,
``fact_page`` and ``fact_digests`` from the service's ``sources``.

Consumer side: a ``Mirror`` per projection names its owner and kind, the table, the fields it
keeps (compared by digest) and how a fact is written; ``ServiceBase`` answers
``mirror_digests``, ``mirror_keys`` and ``mirror_repair`` from the service's ``mirrors``.
``Owners`` is the one bounded RPC a use case makes when its mirror has not seen a record yet,
or when a refusal rests on what the mirror says (it might be older than what the caller was
just told).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from common import clock, config
from common.actor import SYSTEM

# --- writing rows ------------------------------------------------------------------------------


def upsert(
    session: Session,
    model,
    key: str,
    values: dict,
    update_columns,
    index_elements=None,
    unless_later: str | None = None,
) -> None:
    """INSERT ``values``, or UPDATE ``update_columns`` of the row with the same ``key`` (or
    the same ``index_elements``, for a composite key); no columns: keep the existing row.

    ``unless_later``: a time column; an existing row whose time is later than ``values``'
    is kept. The test is part of the statement, so that it holds against a row another
    transaction committed a moment ago (two instances writing one record's facts at once)."""
    stmt = _insert(session)(model).values(**values)
    columns = {c: stmt.excluded[c] for c in update_columns}
    elements = [getattr(model, name) for name in (index_elements or (key,))]
    if columns:
        where = None
        if unless_later is not None and values.get(unless_later) is not None:
            stored = getattr(model, unless_later)
            where = or_(stored.is_(None), stored <= stmt.excluded[unless_later])
        stmt = stmt.on_conflict_do_update(index_elements=elements, set_=columns, where=where)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=elements)
    session.execute(stmt)


def _insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def rewrite_prefix(session: Session, column, old: str, new: str) -> int:
    """A subtree moved: every materialised path starting with ``old`` now starts with ``new``."""
    table = column.class_
    result = session.execute(
        update(table)
        .where(column.startswith(old, autoescape=True))
        .values({column.key: literal(new).concat(func.substr(column, len(old) + 1, type_=String))})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def path_list(prefix: str | None) -> list[str]:
    """``"/1/7/42/"`` → ``["1", "7", "42"]``."""
    return [part for part in (prefix or "").split("/") if part]


def user_path(path: list[str], user_id: str) -> str:
    """The materialised path of a user ("/1/7/42/") from a chain top → user; a chain that
    stops above the user (their supervisor's) gets the user appended."""
    chain = [str(p) for p in path or []]
    if not chain or chain[-1] != str(user_id):
        chain.append(str(user_id))
    return "/" + "/".join(chain) + "/"


# --- facts and digests -------------------------------------------------------------------------


def digest(fact: dict, fields: Iterable[str]) -> str:
    """A short, stable digest of the named fields of a fact (owner and mirror compute it alike:
    ids as strings, paths as lists, times as RFC 3339)."""
    values = [_canonical(fact.get(name)) for name in fields]
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _canonical(value):
    if isinstance(value, datetime):
        return clock.as_utc(value).isoformat()
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:  # a time written in another zone is the same moment
            return clock.as_utc(datetime.fromisoformat(value)).isoformat()
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# the key field of each kind of fact
FACT_KEYS = {
    "person": "user_id",
    "customer": "customer_id",
    "opportunity": "opportunity_id",
    "customer_entry": "entry_id",
    "entry_alarm": "entry_id",
}


@dataclass(frozen=True)
class Source:
    """An owner's kind of fact (keyed by ``FACT_KEYS[kind]``): ``load(session, ids)`` →
    {key: fact} (unknown ids absent), ``page(session, cursor, limit)`` → (facts in key order,
    the next page's cursor or None)."""

    kind: str
    load: Callable[[Session, list[str]], dict[str, dict]]
    page: Callable[[Session, str | None, int], tuple[list[dict], str | None]]


def int_page(session: Session, query, column, cursor: str | None, limit: int):
    """Rows of ``query`` after ``cursor`` in the order of the integer ``column``, and the cursor
    of the next page (None at the end): the paging of every ``Source``."""
    if cursor is not None:
        query = query.where(column > int(cursor))
    query = query.add_columns(column.label("page_key")).order_by(column).limit(limit)
    rows = session.execute(query).all()
    return rows, (str(rows[-1].page_key) if len(rows) == limit else None)


def int_ids(ids: Iterable) -> list[int]:
    """The integer ids among ``ids`` (a key that cannot be one names nothing)."""
    out = []
    for value in ids:
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out


@dataclass(frozen=True)
class Mirror:
    """A projection of an owner's facts in this service.

    ``fields``: what it keeps of a fact (and what ``bpc check-projections`` compares);
    ``write(session, facts, force)``: the one way rows are written; ``as_fact(row)``: a row
    back into the owner's terms; ``key_column``: the model's key (its values as the owner's
    keys by ``str``).
    """

    name: str
    owner: str
    kind: str
    model: type
    key_column: str
    fields: tuple[str, ...]
    write: Callable[[Session, list[dict], bool], None]
    as_fact: Callable[[object], dict]
    key_type: type = str

    def apply(self, session: Session, facts: list[dict], force: bool = False) -> None:
        if facts:
            self.write(session, facts, force)

    def from_event(self, db, event) -> None:
        """A live event (one fact: its data) or an import's page (``*_imported``: its items),
        applied once (in the transaction that records the event processed)."""
        imported = event.type.endswith("_imported")
        once(db, event, lambda session, data: self.apply(
            session, data["items"] if imported else [data]))  # fmt: skip

    def column(self):
        return getattr(self.model, self.key_column)

    def keyed(self, keys: Iterable[str]) -> list:
        out = []
        for key in keys:
            try:
                out.append(self.key_type(key))
            except (TypeError, ValueError):
                continue
        return out

    def rows(self, session: Session, keys: Iterable[str]) -> dict[str, object]:
        column = self.column()
        wanted = self.keyed(keys)
        if not wanted:
            return {}
        found = session.scalars(select(self.model).where(column.in_(wanted))).all()
        return {str(getattr(row, self.key_column)): row for row in found}

    def digests(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        rows = self.rows(session, keys)
        return {key: digest(self.as_fact(row), self.fields) for key, row in rows.items()}

    def keys_after(self, session: Session, cursor: str | None, limit: int) -> list[str]:
        column = self.column()
        query = select(column).order_by(column).limit(limit)
        if cursor is not None:
            query = query.where(column > self.key_type(cursor))
        return [str(k) for k in session.scalars(query)]

    def forget(self, session: Session, keys: Iterable[str]) -> int:
        wanted = self.keyed(keys)
        if not wanted:
            return 0
        return session.execute(delete(self.model).where(self.column().in_(wanted))).rowcount


def once(db, event, write: Callable[[Session, dict], None]) -> None:
    """``write(session, data)`` of an event, in the transaction that records the event as
    processed: a redelivered event changes nothing."""
    with db.unit_of_work() as uow:
        if uow.first_time(event):
            write(uow.session, event.payload())


def newer(stored_at: datetime | None, incoming_at: datetime | None) -> bool:
    """A fact changes a row unless the row already holds a later state of the record (a late,
    redelivered event)."""
    if stored_at is None or incoming_at is None:
        return True
    return clock.as_utc(incoming_at) >= clock.as_utc(stored_at)


def fact_time(fact: dict) -> datetime | None:
    """When the record changed to what the fact says: ``changed_at`` (to the microsecond), or
    the event's ``at`` (whole seconds) for a fact that has none."""
    at = fact.get("changed_at") or fact.get("at")
    if isinstance(at, datetime):
        return at
    return datetime.fromisoformat(at) if at else None


def write_latest(
    session: Session,
    model,
    key_column: str,
    facts: list[dict],
    row_of: Callable[[dict], dict],
    force: bool = False,
    columns: tuple[str, ...] | None = None,
) -> None:
    """Upsert one row per fact, keeping a row whose ``as_of`` is later than the fact's ``at``
    (unless ``force``: a repair writes the owner's current fact whatever the row says);
    ``columns``: the ones an existing row takes from the fact (default: all)."""
    key = getattr(model, key_column)
    rows = {}
    for fact in facts:
        row = row_of(fact)
        rows[row[key_column]] = row  # the last fact of a record in one batch wins
    existing = {}
    if not force:
        existing = dict(session.execute(select(key, model.as_of).where(key.in_(list(rows)))).all())
    for value, row in rows.items():
        if value in existing and not newer(existing[value], row.get("as_of")):
            continue  # (read without a lock: the statement tests it again, atomically)
        upsert(
            session, model, key_column, row, columns or [c for c in row if c != key_column],
            unless_later=None if force else "as_of",
        )  # fmt: skip


# --- asking the owner (read-your-writes) -------------------------------------------------------


class Owners:
    """What a use case asks the owner of a fact when its mirror cannot answer: one RPC within
    ``BPC_PROJECTION_ASK_TIMEOUT`` (an owner that does not answer in time is
    ``ServiceUnavailable``: the client retries, it is never told the record does not exist)."""

    def __init__(self, rpc):
        self.rpc = rpc

    def facts(self, owner: str, kind: str, ids: Iterable) -> list[dict]:
        ids = sorted({str(i) for i in ids if i is not None})
        if not ids:
            return []
        answer = self.rpc.call_within(
            config.projection_ask_timeout(), owner, "facts", kind=kind, ids=ids
        )
        return answer["items"]

    def refresh(self, db, mirror: Mirror, ids: Iterable) -> list[dict]:
        """The owner's current facts of ``ids``, written into ``mirror`` (its own transaction)."""
        found = self.facts(mirror.owner, mirror.kind, ids)
        if found:
            with db.unit_of_work() as uow:
                mirror.apply(uow.session, found)
        return found


# --- the people projection: org's users as a service needs them ------------------------------
#
# A service that keeps one declares a model with the columns user_id (primary key), name,
# level, path (materialised supervisor path "/1/7/42/") and active, and feeds it from the
# org.user_* events, from each caller (``sync_actor``) and from org's ``person`` facts.

PERSON_FIELDS = ("name", "level", "path", "active")


def _person(session: Session, model, user_id, name, level, path, active, update) -> None:
    values = {"user_id": user_id, "name": name, "level": level, "path": path, "active": active}
    upsert(session, model, "user_id", values, update)


def people_mirror(model) -> Mirror:
    """The mirror of org's ``person`` facts in ``model`` (a service's people table)."""

    def write(session: Session, facts: list[dict], force: bool) -> None:
        for fact in facts:
            path = user_path(fact["path"], fact["user_id"])
            _person(
                session, model, fact["user_id"], (fact.get("name") or "")[:100], fact["level"],
                path, bool(fact["active"]), ("name", "level", "path", "active"),
            )  # fmt: skip

    def as_fact(row) -> dict:
        return {"user_id": row.user_id, "name": row.name, "level": row.level,
                "path": path_list(row.path), "active": bool(row.active)}  # fmt: skip

    return Mirror("people", "org", "person", model, "user_id", PERSON_FIELDS, write, as_fact)


def levels_on(session: Session, model, *chains: str | list[str]) -> dict[str, int | None]:
    """The levels of the people on ``chains`` (materialised paths or lists), from a service's
    people projection (for ``common.actor.may_work_on``)."""
    ids = {p for chain in chains for p in (path_list(chain) if isinstance(chain, str) else chain)}
    if not ids:
        return {}
    return dict(session.execute(select(model.user_id, model.level).where(
        model.user_id.in_(sorted(ids)))).all())  # fmt: skip


# (table, user id) → the (name, level, path) this process last saw stored for that caller
_synced: dict[tuple[str, str], tuple] = {}


def sync_actor(db, model, actor) -> None:
    """Keep the caller's name, level and path in the projection (written only on change).

    Each process remembers what it last found stored for a caller, so the common case — the
    same caller again, unchanged — costs no query. An org event that rewrites the row (a move)
    also changes the caller's header, so the next call checks the database again.
    """
    if actor.id == SYSTEM.id:  # the system itself (rebuilds, operators' tools) is nobody
        return
    key = (model.__tablename__, actor.id)
    seen = (actor.name, actor.level, actor.path_prefix)
    if _synced.get(key) == seen:
        return
    with db.read() as session:
        person = session.get(model, actor.id)
        name = (actor.name or (person.name if person else ""))[:100]
        current = (person.name, person.level, person.path, person.active) if person else None
    wanted = (name, actor.level, actor.path_prefix, True)
    if current != wanted:
        with db.unit_of_work() as uow:
            _person(uow.session, model, actor.id, *wanted, ("name", "level", "path", "active"))
    _synced[key] = seen


def user_created(session: Session, model, data: dict) -> None:
    path = user_path(data["path"], data["user_id"])
    _person(
        session, model, data["user_id"], data["name"][:100], data["level"], path, True,
        ("name", "level", "path"),
    )  # fmt: skip


def user_moved(session: Session, model, data: dict, *path_columns) -> tuple[str, str]:
    """The user and their subtree moved: the projection's paths and ``path_columns`` follow."""
    old = user_path(data["old_path"], data["user_id"])
    new = user_path(data["new_path"], data["user_id"])
    if old != new:
        for column in (*path_columns, model.path):
            rewrite_prefix(session, column, old, new)
    _person(session, model, data["user_id"], "", data["level"], new, True, ("level", "path"))
    return old, new


def user_deactivated(session: Session, model, data: dict) -> str:
    """Mark the user inactive; returns the supervisor's materialised path (the heir's)."""
    path = user_path(data["path"], data["user_id"])
    _person(session, model, data["user_id"], "", None, path, False, ("active",))
    return user_path(data["supervisor_path"], data["supervisor_id"])


def person_event(db, model, event, *path_columns) -> None:
    """org.user_created / user_moved / user_deactivated applied to a service's people
    projection, once per event (``path_columns``: the service's own materialised paths that
    follow a move)."""
    data = event.payload()
    with db.unit_of_work() as uow:
        if not uow.first_time(event):
            return
        if event.type == "user_created":
            user_created(uow.session, model, data)
        elif event.type == "user_moved":
            user_moved(uow.session, model, data, *path_columns)
        elif event.type == "user_deactivated":
            user_deactivated(uow.session, model, data)
        else:
            raise ValueError(f"not a people event: {event.type}")
