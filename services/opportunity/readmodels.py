"""Read models of the opportunity service: funnel, forecast with backtest, work list, targets,
lost reasons. Queries here; the arithmetic is ``domain``'s."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import Forbidden, NotFound
from common.projection import Owners, path_list
from services.opportunity import domain, learned
from services.opportunity.core import choose_pipeline, find_person
from services.opportunity.facts import pipeline_rules, rules_by_id
from services.opportunity.models import (
    CONFISCATED,
    LOSS_PENDING,
    LOST,
    OPEN,
    WON,
    Opportunity,
    OpportunityHistory,
    Person,
    Target,
)
from services.opportunity.schemas import opportunity_out

ACTIVE = (OPEN, LOSS_PENDING, CONFISCATED)
BACKTEST_MONTHS = 6
NOT_SUPERVISOR = (
    "只有该员工的上级可以设定目标 / Only a supervisor of this person may set the target"
)
UNKNOWN_USER = "未知用户 / Unknown user"


# --- scopes and targets ----------------------------------------------------------------------


def may_set_target(actor: Actor, person: Person | None) -> bool:
    if actor.sees_everything():
        return person is not None
    return (
        person is not None
        and actor.sees_subordinates()
        and domain.is_in_subtree(path_list(person.path), actor.path)
    )


def scope_filter(actor: Actor, scope: str, column_id, column_path):
    """Rows of a scope: me, team (me and direct reports), subtree (level ≥ 4), group (≥ 8)."""
    if scope == "me":
        return column_id == actor.id
    if scope == "group":
        actor.require_level(8)
        return true()
    actor.require_level(4)
    prefix = actor.path_prefix
    if scope == "subtree":
        return column_path.startswith(prefix, autoescape=True)
    return or_(
        column_id == actor.id,
        and_(
            column_path.startswith(prefix, autoescape=True),
            ~column_path.like(prefix.replace("%", r"\%").replace("_", r"\_") + "%/%/", escape="\\"),
        ),
    )


def _in_scope(actor: Actor, scope: str):
    return scope_filter(actor, scope, Opportunity.holder_id, Opportunity.holder_path)


def _stage_times(session: Session, ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
    """Per opportunity, its stage entries in order: (when, stage key)."""
    entries: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for chunk in range(0, len(ids), 5000):
        rows = session.execute(
            select(
                OpportunityHistory.opportunity_id,
                OpportunityHistory.at,
                OpportunityHistory.to_value,
            )
            .where(
                OpportunityHistory.opportunity_id.in_(ids[chunk : chunk + 5000]),
                OpportunityHistory.action.in_(("registered", "advanced", "won")),
            )
            .order_by(
                OpportunityHistory.opportunity_id, OpportunityHistory.at, OpportunityHistory.id
            )
        )
        for opp_id, at, stage in rows:
            entries[opp_id].append((clock.as_utc(at), stage))
    return entries


# --- funnel --------------------------------------------------------------------------------


def funnel(db: Db, actor: Actor, scope: str, pipeline_id: int | None) -> dict:
    with db.read() as session:
        row = choose_pipeline(session, actor, pipeline_id)
        rules = pipeline_rules(row)
        opps = session.execute(
            select(
                Opportunity.id,
                Opportunity.stage_index,
                Opportunity.amount_fen,
                Opportunity.status,
                Opportunity.closed_at,
            ).where(Opportunity.pipeline_id == row.id, _in_scope(actor, scope))
        ).all()
        entries = _stage_times(session, [o.id for o in opps])
    now = clock.now()
    rows = []
    for opp_id, stage_index, amount, status, closed_at in opps:
        times: dict[str, float] = {}
        seq = entries.get(opp_id, [])
        for (start, key), (end, _next) in zip(seq, seq[1:], strict=False):
            times[key] = (end - start).total_seconds()
        if seq and status in ACTIVE and seq[-1][1] not in times:
            times[seq[-1][1]] = (now - seq[-1][0]).total_seconds()
        elif seq and status == LOST and closed_at is not None:
            times[seq[-1][1]] = (clock.as_utc(closed_at) - seq[-1][0]).total_seconds()
        # a lost opportunity no longer sits in its stage: it counts as reached, not current
        current = stage_index if status != LOST else -1
        rows.append(domain.FunnelRow(stage_index, amount, current, times))
    stages = domain.funnel(rules.stage_keys, rows)
    for stage, spec in zip(stages, rules.stages, strict=True):
        stage["name"] = spec.name
    return {"pipeline_id": str(row.id), "scope": scope, "stages": stages}


# --- forecast and backtest -----------------------------------------------------------------


def _closed_counts(session: Session, pipeline_id: int, before: datetime | None = None):
    """((stage index reached, won?), how many) of the pipeline's closed opportunities (closed
    before ``before``, if given): one GROUP BY, not a row per opportunity."""
    won = Opportunity.status == WON
    query = (
        select(Opportunity.stage_index, won, func.count())
        .where(Opportunity.pipeline_id == pipeline_id, Opportunity.status.in_((WON, LOST)))
        .group_by(Opportunity.stage_index, won)
    )
    if before is not None:
        query = query.where(Opportunity.closed_at < before)
    return [((index, bool(is_won)), n) for index, is_won, n in session.execute(query)]


def _current_counts(session: Session, pipeline_id: int) -> list:
    """``_closed_counts`` as of now, kept a short while (services/opportunity/learned.py)."""
    return learned.get(pipeline_id, lambda: _closed_counts(session, pipeline_id))


def _month_start(moment: datetime, months_back: int) -> datetime:
    local = clock.as_utc(moment).astimezone(clock.org_tz())
    year, month = local.year, local.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=clock.org_tz())


def _backtest(session: Session, actor: Actor, scope: str, rules, pipeline_id: int, now) -> dict:
    """For each of the last months: the forecast made on its first day (stages as they were
    then, probabilities learned from what had closed by then) against what was actually won."""
    first = _month_start(now, BACKTEST_MONTHS)
    opps = session.execute(
        select(
            Opportunity.id,
            Opportunity.amount_fen,
            Opportunity.created_at,
            Opportunity.closed_at,
            Opportunity.status,
        ).where(
            Opportunity.pipeline_id == pipeline_id,
            _in_scope(actor, scope),
            (Opportunity.closed_at.is_(None)) | (Opportunity.closed_at >= first),
        )
    ).all()
    entries = _stage_times(session, [o.id for o in opps])
    index_of = {key: i for i, key in enumerate(rules.stage_keys)}
    points, pairs = [], []
    for back in range(BACKTEST_MONTHS, 0, -1):
        start, end = _month_start(now, back), _month_start(now, back - 1)
        probabilities = domain.learned_from_counts(
            rules, _closed_counts(session, pipeline_id, before=start)
        )
        items, actual = [], 0
        for opp_id, amount, created_at, closed_at, status in opps:
            closed = clock.as_utc(closed_at) if closed_at else None
            if status == WON and closed is not None and start <= closed < end:
                actual += amount
            if clock.as_utc(created_at) >= start or (closed is not None and closed < start):
                continue  # not open on the day the forecast was made
            past = [(at, key) for at, key in entries.get(opp_id, []) if at < start]
            if not past or past[-1][1] not in index_of:
                continue
            entered, key = past[-1]
            close = domain.expected_close(rules, index_of[key], entered)
            items.append(domain.ForecastItem(key, amount, close))
        forecast = domain.forecast_by_month(items, probabilities, 1, start)[0]
        predicted = float(domain.parse_money(forecast["weighted"]))
        pairs.append((predicted, float(actual)))
        points.append(
            {
                "month": forecast["month"],
                "forecast": forecast["weighted"],
                "actual": domain.format_money(actual),
            }
        )
    return {"mape": domain.mape(pairs), "months": BACKTEST_MONTHS, "points": points}


def _forecast_items(session: Session, actor: Actor, scope: str, pipeline_id: int | None = None):
    query = select(
        Opportunity.pipeline_id,
        Opportunity.holder_id,
        Opportunity.stage_index,
        Opportunity.stage_key,
        Opportunity.amount_fen,
        Opportunity.stage_entered_at,
    ).where(Opportunity.status.in_(ACTIVE), _in_scope(actor, scope))
    if pipeline_id is not None:
        query = query.where(Opportunity.pipeline_id == pipeline_id)
    return session.execute(query).all()


def _learned(session: Session, pipeline_ids) -> dict[int, dict[str, float]]:
    return {
        pid: domain.learned_from_counts(rules_by_id(session, pid), _current_counts(session, pid))
        for pid in pipeline_ids
    }


def forecast(db: Db, actor: Actor, scope: str, months: int, backtest: bool = True) -> dict:
    """The weighted forecast of the scope's open opportunities by expected month of closing,
    with the stage probabilities learned from what has closed; ``backtest``: also how the
    forecasts of the last months compare with what was won (the forecast page; the workbench
    shows the months alone)."""
    now = clock.now()
    with db.read() as session:
        row = choose_pipeline(session, actor, None)
        rules = pipeline_rules(row)
        rows = _forecast_items(session, actor, scope)
        learned = _learned(session, {r.pipeline_id for r in rows} | {row.id})
        samples = sum(n for _, n in _current_counts(session, row.id))
        totals = None
        for pid in sorted({r.pipeline_id for r in rows}):
            pipeline_rows = [r for r in rows if r.pipeline_id == pid]
            items = [
                domain.ForecastItem(
                    r.stage_key,
                    r.amount_fen,
                    domain.expected_close(
                        rules_by_id(session, pid), r.stage_index, clock.as_utc(r.stage_entered_at)
                    ),
                )
                for r in pipeline_rows
            ]
            part = domain.forecast_by_month(items, learned[pid], months, now)
            totals = part if totals is None else _add_months(totals, part)
        if totals is None:
            totals = domain.forecast_by_month([], {}, months, now)
        tested = _backtest(session, actor, scope, rules, row.id, now) if backtest else None
    answer = {
        "scope": scope,
        "pipeline_id": str(row.id),
        "months": totals,
        "probabilities": learned[row.id],
        "configured": {s.key: s.probability / 100 for s in rules.stages},
        "samples": samples,
        "learned": samples >= domain.MIN_CLOSED_SAMPLES,
    }
    if backtest:
        answer["backtest"] = tested
    return answer


def _add_months(a: list[dict], b: list[dict]) -> list[dict]:
    return [
        {
            "month": x["month"],
            "weighted": domain.format_money(
                domain.parse_money(x["weighted"]) + domain.parse_money(y["weighted"])
            ),
            "count": x["count"] + y["count"],
        }
        for x, y in zip(a, b, strict=True)
    ]


# --- work list -----------------------------------------------------------------------------


def _in_hand(session: Session, actor: Actor) -> list:
    """The caller's opportunities in hand in work-list order (``domain.work_list_key``; the
    deadline is the stage's, or for a confiscated one the decision's) as ``(opportunity, its
    pipeline's rules, deadline or None)``, ordered before any is written out (a salesperson
    holds a hundred; the workbench shows twenty)."""
    rows = session.scalars(
        select(Opportunity).where(Opportunity.holder_id == actor.id, Opportunity.status.in_(ACTIVE))
    ).all()
    hand = []
    for opp in rows:
        rules = rules_by_id(session, opp.pipeline_id)
        stage = rules.stages[opp.stage_index] if opp.stage_index < len(rules.stages) else None
        moment = opp.stage_deadline or opp.decision_deadline
        deadline = clock.as_utc(moment) if moment else None
        key = domain.work_list_key(stage.probability if stage else None, deadline)
        hand.append((key, opp.id, opp, rules, deadline))
    hand.sort(key=lambda h: h[:2])
    return [(opp, rules, deadline) for _, _, opp, rules, deadline in hand]


def _out(opp, rules) -> dict:
    item = opportunity_out(opp, rules)
    item["deadline"] = item["stage_deadline"] or item["decision_deadline"]
    return item


def worklist(db: Db, actor: Actor, limit: int) -> dict:
    """The caller's opportunities in hand, 100% → 0%, then the nearest deadline."""
    with db.read() as session:
        return {"items": [_out(o, r) for o, r, _ in _in_hand(session, actor)[:limit]]}


# --- targets -------------------------------------------------------------------------------


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, mon = int(month[:4]), int(month[5:])
    start = datetime(year, mon, 1, tzinfo=clock.org_tz())
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=clock.org_tz())
    return start, end


def _months_ahead(month: str, now: datetime) -> int | None:
    local = now.astimezone(clock.org_tz())
    delta = (int(month[:4]) - local.year) * 12 + int(month[5:]) - local.month
    return delta if delta >= 0 else None


def _people_in_scope(session: Session, actor: Actor, scope: str) -> list[Person]:
    condition = scope_filter(actor, scope, Person.user_id, Person.path)
    people = session.scalars(select(Person).where(condition, Person.active.is_(True))).all()
    return sorted(people, key=lambda p: (len(path_list(p.path)), p.path))


def _proposals(session: Session, actor: Actor, scope: str, month: str, now) -> dict | None:
    """Each holder's weighted pipeline expected to close in ``month`` (learned probabilities);
    None for a past month (its proposal was stored when its target was set)."""
    ahead = _months_ahead(month, now)
    if ahead is None:
        return None
    rows = _forecast_items(session, actor, scope)
    learned = _learned(session, {r.pipeline_id for r in rows})
    result: dict[str, int] = {}
    for holder in {r.holder_id for r in rows}:
        total = 0
        for pid in {r.pipeline_id for r in rows if r.holder_id == holder}:
            rules = rules_by_id(session, pid)
            items = [
                domain.ForecastItem(
                    r.stage_key,
                    r.amount_fen,
                    domain.expected_close(rules, r.stage_index, clock.as_utc(r.stage_entered_at)),
                )
                for r in rows
                if r.holder_id == holder and r.pipeline_id == pid
            ]
            months = domain.forecast_by_month(items, learned[pid], ahead + 1, now)
            total += domain.parse_money(months[-1]["weighted"])
        result[holder] = total
    return result


def targets(db: Db, actor: Actor, scope: str, month: str | None) -> dict:
    now = clock.now()
    month = month or now.astimezone(clock.org_tz()).strftime("%Y-%m")
    start, end = _month_bounds(month)
    with db.read() as session:
        people = _people_in_scope(session, actor, scope)
        ids = [p.user_id for p in people]
        proposals = _proposals(session, actor, scope, month, now)
        won = dict(
            session.execute(
                select(Opportunity.holder_id, func.sum(Opportunity.amount_fen))
                .where(
                    Opportunity.status == WON,
                    Opportunity.closed_at >= start,
                    Opportunity.closed_at < end,
                    Opportunity.holder_id.in_(ids),
                )
                .group_by(Opportunity.holder_id)
            ).all()
        )
        stored = {
            t.user_id: t
            for t in session.scalars(
                select(Target).where(Target.month == month, Target.user_id.in_(ids))
            )
        }
    items = [_target_item(p.user_id, month, stored.get(p.user_id), proposals, won) for p in people]
    total_target = sum(domain.parse_money(i["target"]) for i in items if i["target"])
    total_won = sum(domain.parse_money(i["won"]) for i in items)
    return {
        "scope": scope,
        "month": month,
        "items": items,
        "total": {
            "target": domain.format_money(total_target),
            "proposed": domain.format_money(
                sum(domain.parse_money(i["proposed"]) for i in items if i["proposed"])
            ),
            "won": domain.format_money(total_won),
            "attainment": round(total_won / total_target, 4) if total_target else None,
        },
    }


def _target_item(user_id, month, stored: Target | None, proposals, won) -> dict:
    proposed = None if proposals is None else proposals.get(user_id, 0)
    if proposed is None and stored is not None:
        proposed = stored.proposed_fen
    target = stored.target_fen if stored and stored.target_fen is not None else proposed
    won_fen = int(won.get(user_id) or 0)
    return {
        "user_id": user_id,
        "month": month,
        "target": domain.format_money(target) if target is not None else None,
        "proposed": domain.format_money(proposed) if proposed is not None else None,
        "set_by": stored.set_by if stored else None,
        "won": domain.format_money(won_fen),
        "attainment": round(won_fen / target, 4) if target else None,
    }


def set_target(
    db: Db, actor: Actor, user_id: str, month: str, target_fen: int, owners: Owners
) -> dict:
    now = clock.now()
    find_person(db, owners, user_id)  # a person the projection has not seen yet is asked of org
    with db.unit_of_work() as uow:
        session = uow.session
        person = session.get(Person, user_id)
        if person is None:
            raise NotFound(UNKNOWN_USER)
        if not may_set_target(actor, person):
            raise Forbidden(NOT_SUPERVISOR)
        start, end = _month_bounds(month)
        holder_scope = Actor(id=user_id, level=1, path=path_list(person.path))
        proposals = _proposals(session, holder_scope, "me", month, now)
        row = session.scalar(select(Target).where(Target.user_id == user_id, Target.month == month))
        if row is None:
            row = Target(user_id=user_id, month=month)
            session.add(row)
        row.target_fen, row.set_by, row.set_at = target_fen, actor.id, now
        if proposals is not None:
            row.proposed_fen = proposals.get(user_id, 0)
        won = session.scalar(
            select(func.sum(Opportunity.amount_fen)).where(
                Opportunity.status == WON,
                Opportunity.closed_at >= start,
                Opportunity.closed_at < end,
                Opportunity.holder_id == user_id,
            )
        )
        session.flush()
        return uow.answer(_target_item(user_id, month, row, proposals, {user_id: won or 0}))


# --- lost reasons --------------------------------------------------------------------------


def lost_reasons(db: Db, actor: Actor, scope: str) -> dict:
    with db.read() as session:
        rows = session.execute(
            select(Opportunity.loss_reason, func.count(), func.sum(Opportunity.amount_fen))
            .where(Opportunity.status == LOST, _in_scope(actor, scope))
            .group_by(Opportunity.loss_reason)
        ).all()
    items = [
        {"reason": reason, "count": count, "amount": domain.format_money(int(amount or 0))}
        for reason, count, amount in rows
    ]
    items.sort(key=lambda i: (-i["count"], i["reason"] or ""))
    return {"scope": scope, "items": items}


WORKBENCH_LIMIT = 20


def workbench(db: Db, actor: Actor, days: int) -> dict:
    """What the caller's workbench shows of opportunities (docs/DOMAIN.md §8): those in hand whose
    deadline comes within ``days`` (nearest first), the 100%→0% work list, the caller's own
    weighted forecast, and for a supervisor (level ≥ 4) the confiscated opportunities awaiting
    their decision (nearest decision deadline first)."""
    horizon = clock.now() + timedelta(days=days)
    with db.read() as session:
        hand = _in_hand(session, actor)
        near = sorted(
            (h for h in hand if h[0].status == OPEN and h[2] and h[2] <= horizon),
            key=lambda h: h[2],
        )[:WORKBENCH_LIMIT]
        pending = None
        if actor.level >= 4:
            pending = sorted(
                (h for h in hand if h[0].status == CONFISCATED), key=lambda h: h[2] or clock.now()
            )[:WORKBENCH_LIMIT]
        written: dict[int, dict] = {}

        def out(part):  # each opportunity written out once, however many lists show it
            for opp, rules, _ in part:
                if opp.id not in written:
                    written[opp.id] = _out(opp, rules)
            return [written[opp.id] for opp, _, _ in part]

        near, work = out(near), out(hand[:WORKBENCH_LIMIT])
        pending = out(pending) if pending is not None else None
    own = forecast(db, actor, "me", 3, backtest=False)
    return {
        "near_deadline": near,
        "worklist": work,
        "forecast": {"months": own["months"], "probabilities": own["probabilities"]},
        "decisions_pending": pending,
    }
