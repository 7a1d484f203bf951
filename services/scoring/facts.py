"""Scoring's facts, recorded once whichever way they arrive.

Incremental processing (events) and a rebuild (the other services' export RPCs) feed the same
two functions. Each fact has a natural key — the entry id, or the opportunity, action and time
of a history row — and is inserted only if absent; the daily aggregate is incremented in the
same transaction only when the insert happened. So an event delivered twice, an event that
arrives while a rebuild replays the same fact, or a rebuild run twice, count once.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import delete, func, insert, text
from sqlalchemy.orm import Session

from common import clock
from common.money import parse_money
from services.scoring.models import Daily, Progress, ScoredEntry

# docs/DOMAIN.md §5: progress points and the confiscation penalty
POINTS = {"registered": 0.0, "advanced": 5.0, "won": 20.0, "confiscated": -10.0, "escalated": -10.0}


def _dialect_insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert


_statements: dict[tuple, object] = {}


def _statement(session: Session, name: str, build):
    """Statements built once per dialect: their compiled form is cached, and the one-event
    path (every log entry) runs them without building anything."""
    key = (session.get_bind().dialect.name, name)
    stmt = _statements.get(key)
    if stmt is None:
        stmt = _statements[key] = build(_dialect_insert(session))
    return stmt


def _insert_new(session: Session, model, rows: list[dict], key: str) -> list[dict]:
    """Insert the rows whose key is not there yet; returns those inserted.

    Core statements on the table (an ORM-enabled INSERT takes SQLAlchemy's much slower bulk
    ORM path), built once; several rows go out as multi-row INSERTs (insertmanyvalues)."""
    if not rows:
        return []
    table = model.__table__
    stmt = _statement(
        session,
        f"insert-new-{table.name}",
        lambda ins: ins(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key]),
    )
    if len(rows) == 1:  # an event: one statement
        return rows if session.execute(stmt, rows[0]).first() is not None else []
    inserted = set(session.execute(stmt, rows).scalars().all())
    return [row for row in rows if row[key] in inserted]


def _add_to_days(session: Session, increments: dict[tuple[str, date], list]) -> None:
    """daily += (minutes, score, entries, proven_false) per (user, day)."""
    if not increments:
        return

    def build(ins):
        daily = Daily.__table__
        stmt = ins(daily)
        return stmt.on_conflict_do_update(
            index_elements=[daily.c.user_id, daily.c.day],
            set_={
                "minutes": daily.c.minutes + stmt.excluded.minutes,
                "score": daily.c.score + stmt.excluded.score,
                "entries": daily.c.entries + stmt.excluded.entries,
                "proven_false": daily.c.proven_false + stmt.excluded.proven_false,
            },
        )

    stmt = _statement(session, "add-to-days", build)
    for (user_id, day), (minutes, score, entries, proven) in sorted(increments.items()):
        session.execute(
            stmt,
            {
                "user_id": user_id,
                "day": day,
                "minutes": minutes,
                "score": score,
                "entries": entries,
                "proven_false": proven,
            },
        )


def entry_rows(entries: list[dict]) -> list[dict]:
    """``entry_recorded`` data → rows of ``scored_entries``."""
    return [
        {
            "entry_id": int(e["entry_id"]),
            "author_id": e["author_id"],
            "work_date": date.fromisoformat(e["work_date"]),
            "recorded_at": datetime.fromisoformat(e["recorded_at"]),
            "late": bool(e["late"]),
            "customer_id": int(e["customer_id"]) if e.get("customer_id") else None,
            "opportunity_id": int(e["opportunity_id"]) if e.get("opportunity_id") else None,
            "stage": e.get("stage"),
            "activities": list(e["activities"]),
            "points": float(e["points"]),
            "minutes": int(e["minutes"]),
            "expense_fen": parse_money(e.get("expense") or "0"),
            "proven_false": False,
        }
        for e in entries
    ]


def record_entries(session: Session, entries: list[dict]) -> int:
    """``worklog.entry_recorded`` data: stored once, and added to the author's day; returns
    how many were new."""
    # one row per entry: an event delivered twice may arrive twice in one batch
    rows = list({row["entry_id"]: row for row in entry_rows(entries)}.values())
    new = _insert_new(session, ScoredEntry, rows, "entry_id")
    increments: dict[tuple[str, date], list] = {}
    for row in new:
        day = increments.setdefault((row["author_id"], row["work_date"]), [0, 0.0, 0, 0])
        day[0] += row["minutes"]
        day[1] += row["points"]
        day[2] += 1
    _add_to_days(session, increments)
    return len(new)


def store(session: Session, model, rows: list[dict], key: str) -> None:
    """Rebuild: store facts (once) without touching the days; ``recompute_days`` follows."""
    _insert_new(session, model, rows, key)


# a page of worklog.export_entries(format="columns") stored in one statement on PostgreSQL:
# the rows travel as one JSON array parameter and the server unpacks them (a multi-row INSERT
# built by SQLAlchemy cost about 35 µs a row in Python)
_PAGE_COLUMNS = (
    "entry_id", "author_id", "work_date", "recorded_at", "late", "customer_id",
    "opportunity_id", "stage", "activities", "points", "minutes", "expense",
)  # fmt: skip
_STORE_PAGE_PG = text(
    """
    INSERT INTO scored_entries (entry_id, author_id, work_date, recorded_at, late, customer_id,
        opportunity_id, stage, activities, points, minutes, expense_fen, proven_false)
    SELECT (r->>0)::integer, r->>1, (r->>2)::date, (r->>3)::timestamptz, (r->>4)::boolean,
        (r->>5)::integer, (r->>6)::integer, r->>7, r->8, (r->>9)::double precision,
        (r->>10)::integer, round((r->>11)::numeric * 100)::bigint, false
    FROM json_array_elements(CAST(:page AS json)) AS r
    ON CONFLICT (entry_id) DO NOTHING
    """
)


def store_entry_page(session: Session, page: dict) -> None:
    """Rebuild: one page of the work log's export (either shape) stored once per entry."""
    if "rows" not in page:
        store(session, ScoredEntry, entry_rows(page["items"]), "entry_id")
        return
    columns = page["columns"]
    if session.get_bind().dialect.name != "postgresql":
        items = [dict(zip(columns, row, strict=True)) for row in page["rows"]]
        store(session, ScoredEntry, entry_rows(items), "entry_id")
        return
    at = [columns.index(name) for name in _PAGE_COLUMNS]
    rows = [[row[i] for i in at] for row in page["rows"]]
    session.execute(_STORE_PAGE_PG, {"page": json.dumps(rows, ensure_ascii=False)})


_STORE_PROGRESS_PG = text(
    """
    INSERT INTO progress (key, user_id, day, at, kind, points, opportunity_id, stage,
        counterpart_id)
    SELECT r->>0, r->>1, (r->>2)::date, (r->>3)::timestamptz, r->>4, (r->>5)::double precision,
        (r->>6)::integer, r->>7, r->>8
    FROM json_array_elements(CAST(:page AS json)) AS r
    ON CONFLICT (key) DO NOTHING
    """
)


def store_progress_page(session: Session, history_rows: list[dict]) -> None:
    """Rebuild: the facts of a page of the opportunity history, each stored once (one
    statement on PostgreSQL, as for entries)."""
    rows = [f for row in history_rows for f in progress_facts(row)]
    if session.get_bind().dialect.name != "postgresql":
        store(session, Progress, rows, "key")
        return
    if rows:
        page = [
            [f["key"], f["user_id"], f["day"].isoformat(), f["at"].isoformat(), f["kind"],
             f["points"], f["opportunity_id"], f["stage"], f["counterpart_id"]]
            for f in rows
        ]  # fmt: skip
        session.execute(_STORE_PROGRESS_PG, {"page": json.dumps(page, ensure_ascii=False)})


def recompute_days(session: Session) -> None:
    """Rebuild: every day again from the stored facts, in one locked transaction.

    Incremental handlers that run meanwhile wait for the lock; what they committed before it is
    in the facts counted here, what they commit after it adds to the new days: nothing is lost
    or counted twice.
    """
    from sqlalchemy import case, literal, select

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE daily IN EXCLUSIVE MODE"))
    session.execute(delete(Daily))
    e = ScoredEntry.__table__
    columns = ["user_id", "day", "minutes", "score", "entries", "proven_false"]
    per_day = select(
        e.c.author_id,
        e.c.work_date,
        func.sum(case((e.c.proven_false, 0), else_=e.c.minutes)),
        func.sum(case((e.c.proven_false, 0.0), else_=e.c.points)),
        func.count(),
        func.sum(case((e.c.proven_false, 1), else_=0)),
    ).group_by(e.c.author_id, e.c.work_date)
    session.execute(insert(Daily).from_select(columns, per_day))
    p = Progress.__table__
    points = (
        select(p.c.user_id, p.c.day, literal(0), func.sum(p.c.points), literal(0), literal(0))
        .where(p.c.points != 0)
        .group_by(p.c.user_id, p.c.day)
    )
    stmt = _dialect_insert(session)(Daily).from_select(columns, points)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Daily.user_id, Daily.day],
            set_={"score": Daily.score + stmt.excluded.score},
        )
    )


def progress_facts(history_row: dict) -> list[dict]:
    """The point-bearing facts of one opportunity history row (export_history shape, or the
    same built from an event): who gets what, on which day."""
    action, opp = history_row["action"], history_row["opportunity_id"]
    at = datetime.fromisoformat(history_row["at"])
    day = clock.as_utc(at).astimezone(clock.org_tz()).date()
    base = {"day": day, "at": at, "opportunity_id": int(opp), "counterpart_id": None}
    if action == "registered":
        user, stage = history_row["by"], history_row.get("to")
    elif action == "advanced":
        user, stage = history_row["by"], history_row.get("to")
    elif action == "won":
        user, stage = history_row["by"], None
    elif action in ("confiscated", "escalated"):
        # history rows name the holders, not the stage: the fact keeps what both sources have
        user, stage = history_row["from"], None
        base["counterpart_id"] = history_row.get("to")
    elif action == "decided":
        return [
            {
                **base,
                "key": f"decided:{opp}:{history_row['at']}",
                "user_id": history_row["by"],
                "kind": "decided",
                "points": 0.0,
                "stage": None,
            }
        ]
    else:
        return []
    return [
        {
            **base,
            "key": f"{action}:{opp}:{history_row['at']}",
            "user_id": user,
            "kind": action,
            "points": POINTS[action],
            "stage": stage,
        }
    ]


def record_progress(session: Session, facts: list[dict]) -> int:
    new = _insert_new(session, Progress, facts, "key")
    increments: dict[tuple[str, date], list] = {}
    for fact in new:
        if fact["points"]:
            day = increments.setdefault((fact["user_id"], fact["day"]), [0, 0.0, 0, 0])
            day[1] += fact["points"]
    _add_to_days(session, increments)
    return len(new)


def history_row_of_event(event_type: str, data: dict) -> dict | None:
    """The history row an opportunity event stands for (the same facts a rebuild reads)."""
    row = {"opportunity_id": data["opportunity_id"], "at": data["at"], "by": data["by"]}
    if event_type == "registered":
        return {**row, "action": "registered", "to": data["stage"]}
    if event_type == "stage_advanced":
        return {**row, "action": "advanced", "from": data["from_stage"], "to": data["stage"]}
    if event_type == "won":
        return {**row, "action": "won", "to": data["stage"]}
    if event_type == "confiscated" and data["action"] in ("confiscated", "escalated"):
        return {
            **row,
            "action": data["action"],
            "from": data["from_holder_id"],
            "to": data["holder_id"],
        }
    if event_type == "decided":
        return {**row, "action": "decided", "by": data["decided_by"]}
    return None


def prove_false(session: Session, entry_id: int) -> bool:
    """A denied visit: the entry no longer counts for diligence or ability (once)."""
    from sqlalchemy import update

    changed = session.execute(
        update(ScoredEntry)
        .where(ScoredEntry.entry_id == entry_id, ScoredEntry.proven_false.is_(False))
        .values(proven_false=True)
        .returning(
            ScoredEntry.author_id, ScoredEntry.work_date, ScoredEntry.minutes, ScoredEntry.points
        )
    ).first()
    if changed is None:
        return False
    author, day, minutes, points = changed
    _add_to_days(session, {(author, day): [-minutes, -points, 0, 1]})
    return True
