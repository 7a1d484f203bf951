"""The activity catalog: listing it, and adding or replacing an activity (level ≥ 6)."""

from __future__ import annotations

from sqlalchemy import func, select

from common import clock
from common.actor import Actor
from common.db import Db
from services.worklog import domain
from services.worklog.models import Activity
from services.worklog.shapes import catalog_cache


def _activity_out(row: Activity) -> dict:
    return {
        "key": row.key,
        "name": row.name,
        "points": row.points,
        "stages": list(row.stages or []),
        "needs_customer": bool(row.needs_customer),
    }


def activities(db: Db) -> dict:
    with db.read() as session:
        rows = session.scalars(select(Activity).order_by(Activity.position, Activity.key)).all()
        return {"items": [_activity_out(r) for r in rows]}


def put_activity(db: Db, actor: Actor, fields: dict) -> dict:
    actor.require_level(6)
    activity = domain.parse_activity(fields)
    with db.unit_of_work() as uow:
        session = uow.session
        row = session.get(Activity, activity.key)
        if row is None:
            position = session.scalar(select(func.coalesce(func.max(Activity.position), 0)))
            row = Activity(key=activity.key, position=position + 1)
            session.add(row)
        row.name, row.points = activity.name, activity.points
        row.stages, row.needs_customer = list(activity.stages), activity.needs_customer
        row.updated_by, row.updated_at = actor.id, clock.now()
        session.flush()
        catalog_cache["items"] = None
        return _activity_out(row)
