"""Reading alarms: one alarm, the group-wide board with its filters, the caller's workbench."""

from __future__ import annotations

from sqlalchemy import or_, select

from common.actor import Actor
from common.db import Db
from services.alerts import domain
from services.alerts.models import Alarm, Escalation
from services.alerts.shapes import alarm_out, load_alarm, names_of


def get(db: Db, actor: Actor, alarm_id: int) -> dict:
    """The board is group-wide (docs/DOMAIN.md §6: published to the whole group)."""
    with db.read() as session:
        alarm = load_alarm(session, alarm_id)
        names = names_of(session, [alarm.requester_id, *(r.author_id for r in alarm.responses)])
        answer = alarm_out(alarm, detail=True, names=names)
        for response in answer["responses"]:
            response["author_name"] = names.get(response["author_id"])
        return answer


def board(db: Db, actor: Actor, args: dict) -> dict:
    """The group-wide board, newest first, with filters; ``to_help``: open alarms whose
    escalation reached the caller or whose requester the caller supervises, not their own;
    ``subordinates``: alarms of the caller's subordinates; ``unsupported``: open alarms
    nobody but the requester has answered yet."""
    limit = args["limit"] or 50
    with db.read() as session:
        query = select(Alarm)
        if args.get("status"):
            query = query.where(Alarm.status == args["status"])
        if args.get("category"):
            query = query.where(Alarm.category == args["category"])
        if args.get("kind"):
            query = query.where(Alarm.kind == args["kind"])
        if args.get("stage"):
            query = query.where(Alarm.stage == args["stage"])
        if args.get("requester_id"):
            query = query.where(Alarm.requester_id == args["requester_id"])
        if args.get("opportunity_id"):
            query = query.where(Alarm.opportunity_id == str(args["opportunity_id"]))
        if args.get("mine"):
            query = query.where(Alarm.requester_id == actor.id)
        if args.get("to_help"):
            escalated = select(Escalation.alarm_id).where(Escalation.user_id == actor.id)
            query = query.where(
                Alarm.status == domain.OPEN,
                Alarm.requester_id != actor.id,
                or_(
                    Alarm.id.in_(escalated),
                    Alarm.requester_path.startswith(actor.path_prefix, autoescape=True),
                ),
            )
        if args.get("subordinates"):
            query = query.where(
                Alarm.requester_id != actor.id,
                Alarm.requester_path.startswith(actor.path_prefix, autoescape=True),
            )
        if args.get("unsupported"):
            query = query.where(Alarm.status == domain.OPEN, Alarm.first_support_at.is_(None))
        if args.get("cursor") is not None:
            query = query.where(Alarm.id < args["cursor"])
        rows = list(session.scalars(query.order_by(Alarm.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        names = names_of(session, [a.requester_id for a in rows])
        return {
            "items": [alarm_out(a, names=names) for a in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }


SUPERVISOR = 4  # from this level the workbench shows subordinates' unsupported alarms


def workbench(db: Db, actor: Actor, limit: int) -> dict:
    """The three lists of the caller's workbench (one RPC instead of three)."""
    lists = {"mine": {"mine": True, "status": domain.OPEN}, "to_help": {"to_help": True}}
    if actor.level >= SUPERVISOR:
        lists["unsupported"] = {"subordinates": True, "unsupported": True}
    answer = {name: board(db, actor, {**f, "limit": limit})["items"] for name, f in lists.items()}
    return {"unsupported": None, **answer}
