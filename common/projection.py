"""Helpers for the projections a service keeps of other services' data (people, owners).

A projection is written by event handlers (idempotently, see ``UnitOfWork.first_time``) and
read on the service's own write path, so no RPC is needed there.
"""

from __future__ import annotations

from sqlalchemy import String, func, literal, update
from sqlalchemy.orm import Session


def upsert(
    session: Session, model, key: str, values: dict, update_columns, index_elements=None
) -> None:
    """INSERT ``values``, or UPDATE ``update_columns`` of the row with the same ``key`` (or
    the same ``index_elements``, for a composite key); no columns: keep the existing row."""
    stmt = _insert(session)(model).values(**values)
    columns = {c: stmt.excluded[c] for c in update_columns}
    elements = [getattr(model, name) for name in (index_elements or (key,))]
    if columns:
        stmt = stmt.on_conflict_do_update(index_elements=elements, set_=columns)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=elements)
    session.execute(stmt)


def insert_missing(session: Session, model, key: str, rows: list[dict]) -> None:
    """INSERT those of ``rows`` whose ``key`` is not there yet, in one statement; rows already
    there are kept (bulk imports: a per-row upsert compiles a statement each time)."""
    if rows:
        stmt = _insert(session)(model).values(rows)
        session.execute(stmt.on_conflict_do_nothing(index_elements=[getattr(model, key)]))


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


def path_list(prefix: str) -> list[str]:
    """``"/1/7/42/"`` → ``["1", "7", "42"]``."""
    return [part for part in prefix.split("/") if part]


# --- the people projection: org's users as a service needs them ------------------------------
#
# A service that keeps one declares a model with the columns user_id (primary key), name,
# level, path (materialised supervisor path "/1/7/42/") and active, and feeds it from the
# org.user_* events and from each caller (``sync_actor``).


def user_path(path: list[str], user_id: str) -> str:
    """The materialised path of a user from an event's path list (top → user)."""
    return "/" + "/".join(path) + "/" if path else f"/{user_id}/"


def _person(session: Session, model, user_id, name, level, path, active, update) -> None:
    values = {"user_id": user_id, "name": name, "level": level, "path": path, "active": active}
    upsert(session, model, "user_id", values, update)


# (table, user id) → the (name, level, path) this process last saw stored for that caller
_synced: dict[tuple[str, str], tuple] = {}


def sync_actor(db, model, actor) -> None:
    """Keep the caller's name, level and path in the projection (written only on change).

    Each process remembers what it last found stored for a caller, so the common case — the
    same caller again, unchanged — costs no query. An org event that rewrites the row (a move)
    also changes the caller's header, so the next call checks the database again.
    """
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
