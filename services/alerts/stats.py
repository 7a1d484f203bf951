"""Statistics of the alarms raised in a scope and period (docs/API.md)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from common.db import Db
from common.projection import path_list
from services.alerts import domain
from services.alerts.models import Alarm, Person
from services.alerts.shapes import as_domain, names_of


def _scope_filter(session: Session, actor: Actor, scope: str):
    """group: everyone; me: the caller; subtree: the caller's subtree; team: the caller's
    supervisor's direct reports (their own for level ≥ 4); branch: the subtree of the nearest
    level-6 (or higher) ancestor — of requesters, by their path when raised."""
    mine = path_list(actor.path_prefix)
    if scope == "group":
        return None
    if scope == "me":
        return Alarm.requester_id == actor.id
    if scope == "subtree":
        root = actor.path_prefix
    elif scope == "branch":
        levels = dict(
            session.execute(
                select(Person.user_id, Person.level).where(Person.user_id.in_(mine))
            ).all()
        )
        head = next((u for u in reversed(mine) if (levels.get(u) or 0) >= 6), None)
        root = "/" + "/".join(mine[: mine.index(head) + 1]) + "/" if head else "/"
    else:  # team
        lead = mine if actor.level >= 4 or len(mine) < 2 else mine[:-1]
        root = "/" + "/".join(lead) + "/"
        depth = len(lead) + 1
        return (Alarm.requester_path.startswith(root, autoescape=True)) & (
            func.length(Alarm.requester_path)
            - func.length(func.replace(Alarm.requester_path, "/", ""))
            <= depth + 1
        )
    return Alarm.requester_path.startswith(root, autoescape=True)


def stats(db: Db, actor: Actor, args: dict) -> dict:
    today = clock.today()
    last = args.get("to_date") or today
    first = args.get("from_date") or last - timedelta(days=29)
    start, end = domain.period_bounds(first, last, clock.org_tz())
    with db.read() as session:
        query = select(Alarm).where(Alarm.raised_at >= start, Alarm.raised_at < end)
        condition = _scope_filter(session, actor, args["scope"])
        if condition is not None:
            query = query.where(condition)
        rows = list(session.scalars(query))
        alarms = [as_domain(a) for a in rows]
        people = (
            {a.requester_id for a in rows}
            | {r.author_id for a in rows for r in a.responses}
            | {d.team_leader_id for d in alarms}
        )
        names = names_of(session, people)
    answer = domain.alarm_stats(alarms, start, end, names)
    answer.update({"scope": args["scope"], "from": first.isoformat(), "to": last.isoformat()})
    return answer
