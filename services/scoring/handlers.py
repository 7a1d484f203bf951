"""Use cases of the scoring service: facts in (events, rebuild), curves and boards out."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from common import clock, projection
from common.actor import Actor
from common.db import Db
from common.errors import NotFound
from common.events import Envelope
from common.projection import path_list
from services.scoring import domain, facts
from services.scoring.models import (
    Access,
    AlarmSupport,
    Daily,
    Person,
    Progress,
    ScoredEntry,
)

log = logging.getLogger(__name__)

USER_NOT_FOUND = "用户不存在或不可见 / User not found or not visible"
MAX_RANGE_DAYS = 731


# --- facts in --------------------------------------------------------------------------------


def entry_recorded(db: Db, events: list[Envelope]) -> None:
    with db.unit_of_work() as uow:
        facts.record_entries(uow.session, [event.payload() for event in events])


def opportunity_event(db: Db, event: Envelope) -> None:
    row = facts.history_row_of_event(event.type, event.payload())
    if row is None:
        return
    with db.unit_of_work() as uow:
        facts.record_progress(uow.session, facts.progress_facts(row))


def visit_denied(db: Db, event: Envelope) -> None:
    """customer.visit_denied: the entry is proven false. If the entry has not reached scoring
    yet, the handler fails and the event is retried until it has."""
    entry_id = int(event.payload()["entry_id"])
    with db.unit_of_work() as uow:
        if uow.session.get(ScoredEntry, entry_id) is None:
            raise LookupError(f"entry {entry_id} not scored yet; retry later")
        facts.prove_false(uow.session, entry_id)


def response_posted(db: Db, event: Envelope) -> None:
    """alerts.response_posted by someone other than the requester: that person supported the
    alarm (counted once per alarm and supporter)."""
    data = event.payload()
    if data["author_id"] == data["requester_id"]:
        return
    with db.unit_of_work() as uow:
        if not uow.first_time(event):
            return
        projection.upsert(
            uow.session,
            AlarmSupport,
            "alarm_id",
            {
                "alarm_id": data["alarm_id"],
                "supporter_id": data["author_id"],
                "requester_id": data["requester_id"],
                "requester_path": projection.user_path(
                    data["requester_path"], data["requester_id"]
                ),
                "first_at": datetime.fromisoformat(data["posted_at"]),
            },
            (),
            index_elements=("alarm_id", "supporter_id"),
        )


def access_event(db: Db, event: Envelope) -> None:
    """customer.contact_unmasked / customers_exported: counted per person and day."""
    data = event.payload()
    day = clock.as_utc(datetime.fromisoformat(data["at"])).astimezone(clock.org_tz()).date()
    column = "exports" if event.type == "customers_exported" else "unmasks"
    with db.unit_of_work() as uow:
        if not uow.first_time(event):
            return
        session = uow.session
        row = session.get(Access, (data["actor_id"], day))
        if row is None:
            row = Access(user_id=data["actor_id"], day=day, unmasks=0, exports=0)
            session.add(row)
        setattr(row, column, getattr(row, column) + 1)


# --- rebuild ---------------------------------------------------------------------------------


class Rebuild:
    """Drop the derived data and replay the facts from the other services, page by page.

    ``fetch(service, method, after_id, limit, **options)`` returns a page ``{"items",
    "next_after_id"}`` (or, for the work log, asked with ``format="columns"``, ``{"columns",
    "rows", "next_after_id"}``). Facts are stored once by their natural keys (an event arriving
    meanwhile stores the same row at most once), then every day is recomputed from them in one
    locked transaction (``facts.recompute_days``): nothing is lost or counted twice.
    """

    def __init__(self, db: Db, fetch, page: int = 10000, report=None):
        self.db, self.fetch, self.page = db, fetch, page
        self.report = report or (lambda status: None)
        self.status = {"state": "idle", "entries": 0, "progress": 0, "seconds": 0.0}

    def run(self) -> dict:
        started = time.perf_counter()
        self.status = {"state": "running", "entries": 0, "progress": 0, "seconds": 0.0}
        with self.db.unit_of_work() as uow:
            for model in (ScoredEntry, Daily, Progress):
                uow.session.execute(delete(model))
        self._replay(
            "worklog", "export_entries", "entries", facts.store_entry_page, started,
            format="columns",
        )  # fmt: skip
        self._replay(
            "opportunity",
            "export_history",
            "progress",
            lambda session, page: facts.store_progress_page(session, page["items"]),
            started,
        )
        with self.db.unit_of_work() as uow:
            facts.recompute_days(uow.session)
        self.status.update(state="done", seconds=round(time.perf_counter() - started, 2))
        self.report(self.status)
        return dict(self.status)

    def _replay(self, service, method, counter, record, started, **options) -> None:
        """Page through an export, fetching the next page while this one is stored."""
        import eventlet

        pending = eventlet.spawn(self.fetch, service, method, 0, self.page, **options)
        while True:
            page = pending.wait()
            size = len(page["rows"] if "rows" in page else page["items"])
            more = bool(page.get("next_after_id")) and size >= self.page
            if more:
                after = int(page["next_after_id"])
                pending = eventlet.spawn(self.fetch, service, method, after, self.page, **options)
            if size:
                with self.db.unit_of_work() as uow:
                    record(uow.session, page)
                self.status[counter] += size
                self.status["seconds"] = round(time.perf_counter() - started, 2)
                self.report(self.status)
            if not more:
                return


# --- scopes ----------------------------------------------------------------------------------


def _person(session: Session, user_id: str) -> Person | None:
    return session.get(Person, user_id)


def _visible_user(session: Session, actor: Actor, user_id: str | None) -> str:
    if not user_id or user_id == actor.id:
        return actor.id
    person = _person(session, user_id)
    if person is None or not actor.may_see_owner(user_id, person.path):
        raise NotFound(USER_NOT_FOUND)
    return user_id


_PEOPLE = select(Person.user_id, Person.name, Person.level, Person.path).where(
    Person.active.is_(True)
)


def people_of_scope(session: Session, actor: Actor, scope: str) -> list:
    """group: everyone; branch: the subtree of the caller's nearest level-6 (or higher)
    ancestor; team: the caller's supervisor's direct reports (for level ≥ 4, their own);
    me: the caller; subtree: the caller's subtree. Active people as rows (user_id, name,
    level, path), selected by path in the database: every workbench asks for a team."""
    if scope == "group":
        return list(session.execute(_PEOPLE))
    if scope == "me":
        return list(session.execute(_PEOPLE.where(Person.user_id == actor.id)))
    me = session.scalar(select(Person.path).where(Person.user_id == actor.id, Person.active))
    mine = path_list(me) if me else actor.path
    depth = None
    if scope == "subtree":
        root = "/" + "/".join(mine) + "/"
    elif scope == "branch":
        levels = dict(
            session.execute(
                select(Person.user_id, Person.level).where(
                    Person.user_id.in_(mine), Person.active.is_(True)
                )
            ).all()
        )
        head = next((uid for uid in reversed(mine) if (levels.get(uid) or 0) >= 6), None)
        root = "/" + "/".join(mine[: mine.index(head) + 1]) + "/" if head else "/"
    else:  # team
        lead = mine if actor.level >= 4 or len(mine) < 2 else mine[:-1]
        root = "/" + "/".join(lead) + "/"
        depth = len(lead) + 1
    rows = session.execute(_PEOPLE.where(Person.path.startswith(root, autoescape=True)))
    return [p for p in rows if depth is None or len(path_list(p.path)) <= depth]


# --- curves and boards -----------------------------------------------------------------------


def _range(from_date: date | None, to_date: date | None) -> tuple[date, date]:
    today = clock.today()
    end = to_date or today
    start = from_date or end - timedelta(days=29)
    if start > end:
        start, end = end, start
    if (end - start).days > MAX_RANGE_DAYS:
        start = end - timedelta(days=MAX_RANGE_DAYS)
    return start, end


def suspicious_by_day(session: Session, user_id: str, start: date, end: date) -> dict:
    """Per day, the entries flagged by the per-entry indicators (late; a day over 16 h)."""
    rows = session.execute(
        select(ScoredEntry.work_date, ScoredEntry.minutes, ScoredEntry.late).where(
            ScoredEntry.author_id == user_id,
            ScoredEntry.work_date >= start,
            ScoredEntry.work_date <= end,
        )
    ).all()
    totals: dict[date, int] = defaultdict(int)
    counts: dict[date, int] = defaultdict(int)
    late: dict[date, int] = defaultdict(int)
    for day, minutes, is_late in rows:
        totals[day] += minutes
        counts[day] += 1
        late[day] += 1 if is_late else 0
    return {day: (counts[day] if totals[day] > 960 else late[day]) for day in counts}


def curves(db: Db, actor: Actor, user_id, from_date, to_date, granularity: str) -> dict:
    start, end = _range(from_date, to_date)
    with db.read() as session:
        user_id = _visible_user(session, actor, user_id)
        days = {
            d.day: d
            for d in session.scalars(
                select(Daily).where(Daily.user_id == user_id, Daily.day >= start, Daily.day <= end)
            )
        }
        flagged = suspicious_by_day(session, user_id, start, end)
    points, day = [], start
    while day <= end:
        row = days.get(day)
        points.append(
            {
                "date": day.isoformat(),
                "minutes": row.minutes if row else 0,
                "score": round(row.score, 2) if row else 0.0,
                "entries": row.entries if row else 0,
                "suspicious": flagged.get(day, 0),
                "proven_false": row.proven_false if row else 0,
            }
        )
        day += timedelta(days=1)
    if granularity == "month":
        months: dict[str, dict] = {}
        for p in points:
            m = months.setdefault(
                p["date"][:7],
                {"date": p["date"][:7], "minutes": 0, "score": 0.0, "entries": 0,
                 "suspicious": 0, "proven_false": 0},
            )  # fmt: skip
            for key in ("minutes", "score", "entries", "suspicious", "proven_false"):
                m[key] += p[key]
        points = [{**m, "score": round(m["score"], 2)} for m in months.values()]
    return {"user_id": user_id, "granularity": granularity, "points": points}


def period_range(period: str, day: date) -> tuple[date, date]:
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def leaderboard(db: Db, actor: Actor, metric: str, period: str, day, scope: str) -> dict:
    start, end = period_range(period, day or clock.today())
    column = Daily.minutes if metric == "diligence" else Daily.score
    with db.read() as session:
        people = people_of_scope(session, actor, scope)
        ids = [p.user_id for p in people]
        totals = dict(
            session.execute(
                select(Daily.user_id, func.sum(column))
                .where(Daily.day >= start, Daily.day <= end, Daily.user_id.in_(ids))
                .group_by(Daily.user_id)
            ).all()
        )
    names = {p.user_id: p.name for p in people}
    items = domain.rank({uid: totals.get(uid) or 0 for uid in ids}, names)
    return {
        "metric": metric,
        "period": period,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "scope": scope,
        "items": items,
    }


def totals(db: Db) -> dict:
    """Everything the aggregates say, for comparing incremental processing with a rebuild."""
    with db.read() as session:
        daily = session.execute(
            select(Daily.user_id, Daily.day, Daily.minutes, Daily.score, Daily.entries).order_by(
                Daily.user_id, Daily.day
            )
        ).all()
        entries = session.scalar(select(func.count()).select_from(ScoredEntry))
        progress = session.scalar(select(func.count()).select_from(Progress))
    return {
        "entries": entries,
        "progress": progress,
        "daily": [
            [uid, day.isoformat(), minutes, round(score, 4), n]
            for uid, day, minutes, score, n in daily
        ],
    }


def today(db: Db, actor: Actor) -> dict:
    """The caller's day so far (the workbench): minutes, score, entries, and rank by diligence
    in the team (``rank`` of ``of``)."""
    day = clock.today()
    point = curves(db, actor, actor.id, day, day, "day")["points"][0]
    board = leaderboard(db, actor, "diligence", "day", day, "team")["items"]
    rank = next((i["rank"] for i in board if i["user_id"] == actor.id), None)
    return {
        "date": point["date"],
        "minutes": point["minutes"],
        "score": point["score"],
        "entries": point["entries"],
        "rank": rank,
        "of": len(board),
    }
