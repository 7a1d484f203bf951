"""Helpers for the projections a service keeps of other services' data (people, owners).

A projection is written by event handlers (idempotently, see ``UnitOfWork.first_time``) and
read on the service's own write path, so no RPC is needed there.
"""

from __future__ import annotations

from sqlalchemy import String, func, literal, update
from sqlalchemy.orm import Session


def upsert(session: Session, model, key: str, values: dict, update_columns) -> None:
    """INSERT ``values``, or UPDATE ``update_columns`` of the row with the same ``key``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model).values(**values)
    columns = {c: stmt.excluded[c] for c in update_columns}
    if columns:
        stmt = stmt.on_conflict_do_update(index_elements=[getattr(model, key)], set_=columns)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[getattr(model, key)])
    session.execute(stmt)


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
