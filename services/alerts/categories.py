"""The categories of alarms: the list, and adding, renaming or retiring one."""

from __future__ import annotations

from sqlalchemy import func, select

from common import clock
from common.actor import Actor
from common.db import Db
from services.alerts.models import Category
from services.alerts.shapes import category_rows


def categories(db: Db) -> dict:
    with db.read() as session:
        return {"items": [{"key": c.key, "name": c.name} for c in category_rows(session)]}


def put_category(db: Db, actor: Actor, args: dict) -> dict:
    """Level ≥ 6: add or rename a category, or retire it (``active: false``); alarms already
    raised keep theirs."""
    actor.require_level(6)
    with db.unit_of_work() as uow:
        category = uow.session.get(Category, args["key"])
        if category is None:
            position = uow.session.scalar(select(func.coalesce(func.max(Category.position), 0)))
            category = Category(key=args["key"], position=int(position) + 1)
            uow.session.add(category)
        category.name = args["name"]
        category.active = args["active"]
        category.updated_by, category.updated_at = actor.id, clock.now()
        uow.publish(
            "category_changed",
            {"key": category.key, "name": category.name, "active": category.active},
        )
        return uow.answer({"key": category.key, "name": category.name, "active": category.active})
