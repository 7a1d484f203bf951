"""The scoring analyses (docs/DOMAIN.md §5): fake-report analysis, resignation early warnings,
trainee screening and management responsibility.

Each use case reads scoring's own tables (the facts projected from the other services' events)
and hands plain values to the arithmetic of ``services.scoring.domain``; nothing is asked of
another service at query time.

Who is analysed: the people of the caller's scope (``handlers.people_of_scope``) whom the
caller may see — analyses are not public like the boards. ``group`` needs level 8 (group-wide
analytics, docs/DOMAIN.md §1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from common.db import Db
from common.errors import ValidationFailed
from common.money import format_money
from common.projection import path_list
from common.text import pinyin_key
from services.scoring import domain
from services.scoring.handlers import people_of_scope
from services.scoring.models import Access, AlarmSupport, Daily, Person, Progress, ScoredEntry

# The plausible stages of each activity of the default catalog (activity key → stage keys;
# empty: plausible everywhere). Scoring keeps no catalog of its own, so this is a copy of
# DEFAULT_CATALOG in services/worklog/migrations/versions/baa1c631a407_activities_entries_
# with_hash_chain_.py — keep the two in step. An activity unknown here is not judged.
CATALOG_STAGES: dict[str, tuple[str, ...]] = {
    "call": (),
    "visit": (),
    "demo": ("needs", "demo", "quote"),
    "proposal": ("needs", "demo", "quote", "negotiate"),
    "negotiation": ("quote", "negotiate"),
    "contract": ("negotiate", "payment"),
    "collection": ("payment", "won"),
    "revisit": (),
    "meeting": (),
    "training": (),
}
# The default pipeline's stages (services/opportunity/domain.py DEFAULT_PIPELINE), the order
# of ``by_stage``; stages of other pipelines follow alphabetically.
STAGE_ORDER = ("contact", "needs", "demo", "quote", "negotiate", "payment", "won")

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 731
EARLY_WARNING_DAYS = domain.TREND_DAYS + domain.BASELINE_DAYS  # 74 days of minutes
EARLY_WARNING_WEEKS = domain.RECENT_WEEKS + domain.BASELINE_WEEKS  # 12 completed weeks
ACCESS_DAYS = domain.UNMASK_DAYS + domain.BASELINE_DAYS  # 67 days of unmasks and exports
TEAM_DAYS = 30
SUPERVISOR_LEVEL = 4
TRAINEE_LEVEL = 1
GROUP_LEVEL = 8

BAD_RANGE = "开始日期不能晚于结束日期 / The start date must not be after the end date"
RANGE_TOO_LONG = (
    f"时间范围最长 {MAX_RANGE_DAYS} 天 / The range may span at most {MAX_RANGE_DAYS} days"
)


# --- who is analysed -------------------------------------------------------------------------


def analysed_people(session: Session, actor: Actor, scope: str) -> list[Person]:
    """The active people of ``scope`` the caller may see; ``group`` needs level 8 (403)."""
    if scope == "group":
        actor.require_level(GROUP_LEVEL)
        return list(session.scalars(select(Person).where(Person.active.is_(True))))
    return [
        p for p in people_of_scope(session, actor, scope) if actor.may_see_owner(p.user_id, p.path)
    ]


def _names(people: Iterable[Person]) -> dict[str, str]:
    return {p.user_id: p.name for p in people}


def _by_name(names: dict[str, str]):
    """Sort key: the name in pinyin order, then the user id."""
    return lambda user_id: (pinyin_key(names.get(user_id) or ""), user_id)


# --- fake-report analysis (虚假日报分析) -------------------------------------------------------


def _range(from_date: date | None, to_date: date | None) -> tuple[date, date]:
    end = to_date or clock.today()
    start = from_date or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise ValidationFailed(details={"from_date": [BAD_RANGE]})
    if (end - start).days >= MAX_RANGE_DAYS:
        raise ValidationFailed(details={"from_date": [RANGE_TOO_LONG]})
    return start, end


def _entry(row: ScoredEntry) -> dict[str, Any]:
    """A stored entry in the shape ``domain`` reads (the entry_recorded data)."""
    return {
        "entry_id": str(row.entry_id),
        "author_id": row.author_id,
        "work_date": row.work_date,
        "late": bool(row.late),
        "opportunity_id": str(row.opportunity_id) if row.opportunity_id else None,
        "stage": row.stage,
        "activities": list(row.activities or ()),
        "points": row.points,
        "minutes": row.minutes,
        "expense": format_money(row.expense_fen or 0),
        "recorded_at": row.recorded_at,
    }


def implausible_without_opportunity(entries: Iterable[dict]) -> set[str]:
    """Entries without an opportunity (stage None) claiming an activity that is plausible only
    at some stages. ``domain.implausible_activity`` leaves stage-less entries alone; but the
    worklog refuses an implausible activity when the opportunity is known, so logging a
    contract signing against no opportunity at all is how such claims get in."""
    return {
        str(e["entry_id"])
        for e in entries
        if not e.get("stage") and any(CATALOG_STAGES.get(k) for k in e.get("activities") or ())
    }


def peer_p90_by_stage(session: Session, start: date, end: date) -> dict[str, float]:
    """Per stage, the 90th percentile of the group's entries per opportunity-stage in the
    range (what ``domain.stage_entry_counts`` counts, grouped in the database)."""
    rows = session.execute(
        select(ScoredEntry.stage, func.count())
        .where(
            ScoredEntry.work_date >= start,
            ScoredEntry.work_date <= end,
            ScoredEntry.opportunity_id.is_not(None),
            ScoredEntry.stage.is_not(None),
        )
        .group_by(ScoredEntry.opportunity_id, ScoredEntry.stage)
    ).all()
    counts: dict[str, list[int]] = defaultdict(list)
    for stage, n in rows:
        counts[stage].append(n)
    return {stage: domain.percentile(values, 90) for stage, values in counts.items()}


def confiscations_with_stage(session: Session, opportunity_ids: set[int]) -> list[dict]:
    """The confiscations of these opportunities, each with the stage it was taken at.

    Confiscation facts carry no stage (the history rows name holders only), so the stage is
    the latest one known at that moment: from the opportunity's registered/advanced facts and
    from the stage of the entries logged on it (the entries alone would miss an advance made
    after the last entry). A confiscation whose stage is unknown is left out."""
    if not opportunity_ids:
        return []
    ids = sorted(opportunity_ids)
    known: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    taken: list[tuple[int, datetime]] = []
    for opp, kind, at, stage in session.execute(
        select(Progress.opportunity_id, Progress.kind, Progress.at, Progress.stage).where(
            Progress.opportunity_id.in_(ids),
            Progress.kind.in_(("registered", "advanced", "confiscated")),
        )
    ):
        if kind == "confiscated":
            taken.append((opp, domain.as_moment(at)))
        elif stage:
            known[opp].append((domain.as_moment(at), stage))
    for opp, at, stage in session.execute(
        select(ScoredEntry.opportunity_id, ScoredEntry.recorded_at, ScoredEntry.stage).where(
            ScoredEntry.opportunity_id.in_(ids), ScoredEntry.stage.is_not(None)
        )
    ):
        known[opp].append((domain.as_moment(at), stage))
    confiscations = []
    for opp, at in taken:
        before = [item for item in known.get(opp, ()) if item[0] <= at]
        if before:
            stage = max(before, key=lambda item: item[0])[1]
            confiscations.append({"opportunity_id": str(opp), "stage": stage, "at": at})
    return confiscations


def fake_reports(db: Db, actor: Actor, scope: str, from_date, to_date) -> dict:
    """The fake-report analysis of the scope's entries in the range (default: the last 30
    days): per stage and per person, plus how many entries each indicator flagged.

    The peers the scope is measured against are the whole group's entries of the range: the
    expense outlier compares against every priced entry, the confiscation indicator against
    the per-stage 90th percentile of entries per opportunity-stage."""
    start, end = _range(from_date, to_date)
    in_range = (ScoredEntry.work_date >= start, ScoredEntry.work_date <= end)
    with db.read() as session:
        people = analysed_people(session, actor, scope)
        ids = [p.user_id for p in people]
        rows = (
            session.scalars(
                select(ScoredEntry).where(ScoredEntry.author_id.in_(ids), *in_range)
            ).all()
            if ids
            else []
        )
        entries = [_entry(r) for r in rows]
        mine = {e["entry_id"] for e in entries}
        priced = [
            _entry(r)
            for r in session.scalars(
                select(ScoredEntry).where(ScoredEntry.expense_fen > 0, *in_range)
            )
            if str(r.entry_id) not in mine
        ]
        peer_p90 = peer_p90_by_stage(session, start, end)
        confiscations = confiscations_with_stage(
            session, {int(e["opportunity_id"]) for e in entries if e["opportunity_id"]}
        )
        proven = {str(r.entry_id) for r in rows if r.proven_false}
    # every indicator over the scope's entries and the group's priced ones (the expense
    # outlier's peers); only the scope's entries are reported
    flags = domain.all_flags(
        entries + priced,
        catalog_stages=CATALOG_STAGES,
        confiscations=confiscations,
        peer_p90=peer_p90,
    )
    flags["implausible_activity"] |= implausible_without_opportunity(entries)
    flags = {indicator: flagged & mine for indicator, flagged in flags.items()}
    report = domain.fake_report(entries, flags, proven, STAGE_ORDER)
    names = _names(people)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "scope": scope,
        "by_stage": report["by_stage"],
        "by_user": [{**row, "name": names.get(row["user_id"])} for row in report["by_user"]],
        "indicators": {indicator: len(flags[indicator]) for indicator in domain.INDICATORS},
    }


# --- resignation early warning (离职预警) ----------------------------------------------------


def _weekly(days: Iterable[date], first_monday: date, weeks: int) -> list[int]:
    """Counts per week from ``first_monday`` on, ``weeks`` of them, oldest first."""
    counts = [0] * weeks
    for day in days:
        index = (day - first_monday).days // 7
        if 0 <= index < weeks:
            counts[index] += 1
    return counts


def early_warnings(db: Db, actor: Actor, scope: str) -> dict:
    """Resignation risk of each person of the scope, highest first: daily minutes of the last
    74 days, new opportunities per week over the last 12 completed weeks (Monday–Sunday),
    contact unmasks and exports per day over the last 67 days."""
    today = clock.today()
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=EARLY_WARNING_WEEKS)
    with db.read() as session:
        people = analysed_people(session, actor, scope)
        ids = [p.user_id for p in people]
        minutes: dict[str, dict[date, int]] = defaultdict(dict)
        registered: dict[str, list[date]] = defaultdict(list)
        access: dict[str, dict[date, int]] = defaultdict(dict)
        if ids:
            for user_id, day, value in session.execute(
                select(Daily.user_id, Daily.day, Daily.minutes).where(
                    Daily.user_id.in_(ids),
                    Daily.day >= today - timedelta(days=EARLY_WARNING_DAYS),
                    Daily.day <= today,
                )
            ):
                minutes[user_id][day] = value
            for user_id, day in session.execute(
                select(Progress.user_id, Progress.day).where(
                    Progress.user_id.in_(ids),
                    Progress.kind == "registered",
                    Progress.day >= first_monday,
                    Progress.day < this_monday,
                )
            ):
                registered[user_id].append(day)
            for user_id, day, unmasks, exports in session.execute(
                select(Access.user_id, Access.day, Access.unmasks, Access.exports).where(
                    Access.user_id.in_(ids),
                    Access.day >= today - timedelta(days=ACCESS_DAYS - 1),
                    Access.day <= today,
                )
            ):
                access[user_id][day] = (unmasks or 0) + (exports or 0)
    names = _names(people)
    items = []
    for user_id in ids:
        risk, reasons = domain.early_warning(
            minutes.get(user_id, {}),
            today,
            _weekly(registered.get(user_id, ()), first_monday, EARLY_WARNING_WEEKS),
            access.get(user_id, {}),
        )
        items.append({"user_id": user_id, "name": names[user_id], "risk": risk, "reasons": reasons})
    by_name = _by_name(names)
    items.sort(key=lambda i: (-i["risk"], *by_name(i["user_id"])))
    return {"scope": scope, "items": items}


# --- trainee screening -----------------------------------------------------------------------


def trainees(db: Db, actor: Actor, scope: str) -> dict:
    """Keep / watch / let-go for the level-1 people of the scope. The cohort is every active
    level-1 person of the group; each is measured over their active days (days with at least
    one entry): diligence = mean daily minutes, ability = mean daily score."""
    with db.read() as session:
        people = analysed_people(session, actor, scope)
        cohort = list(
            session.scalars(
                select(Person.user_id).where(Person.active.is_(True), Person.level == TRAINEE_LEVEL)
            )
        )
        stats = session.execute(
            select(Daily.user_id, func.count(), func.sum(Daily.minutes), func.sum(Daily.score))
            .join(Person, Person.user_id == Daily.user_id)
            .where(Person.active.is_(True), Person.level == TRAINEE_LEVEL, Daily.entries > 0)
            .group_by(Daily.user_id)
        ).all()
    days = {user_id: n for user_id, n, _, _ in stats}
    values = {user_id: (0.0, 0.0) for user_id in cohort}
    for user_id, n, total_minutes, total_score in stats:
        values[user_id] = (float(total_minutes or 0) / n, float(total_score or 0) / n)
    names = {p.user_id: p.name for p in people if p.level == TRAINEE_LEVEL}
    items = [
        {**item, "name": names[item["user_id"]]}
        for item in domain.trainee_screening(values, days)
        if item["user_id"] in names
    ]
    return {"scope": scope, "items": items}


# --- management responsibility ---------------------------------------------------------------


def decision_hours(session: Session, supervisor_ids: list[str]) -> dict[str, list[float]]:
    """Per supervisor, for each decision they took on a confiscated opportunity, the hours
    since the opportunity came to them: its latest confiscation (or escalation) to them before
    the decision. A decision without such a fact (history lost) is left out."""
    hours: dict[str, list[float]] = defaultdict(list)
    if not supervisor_ids:
        return hours
    decided = session.execute(
        select(Progress.user_id, Progress.opportunity_id, Progress.at).where(
            Progress.kind == "decided", Progress.user_id.in_(supervisor_ids)
        )
    ).all()
    if not decided:
        return hours
    received: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for opp, to, at in session.execute(
        select(Progress.opportunity_id, Progress.counterpart_id, Progress.at).where(
            Progress.kind.in_(("confiscated", "escalated")),
            Progress.opportunity_id.in_(sorted({opp for _, opp, _ in decided})),
            Progress.counterpart_id.in_(supervisor_ids),
        )
    ):
        received[(opp, to)].append(domain.as_moment(at))
    for user_id, opp, at in decided:
        moment = domain.as_moment(at)
        before = [t for t in received.get((opp, user_id), ()) if t <= moment]
        if before:
            hours[user_id].append((moment - max(before)).total_seconds() / 3600)
    return hours


def alarms_supported(session: Session, supervisors) -> dict[str, int]:
    """Per supervisor: the alarms of people below them (by the requester's path when raised)
    that they answered (all history)."""
    if not supervisors:
        return {}
    paths = {p.user_id: p.path for p in supervisors}
    counts: dict[str, int] = defaultdict(int)
    for supporter, requester, requester_path in session.execute(
        select(
            AlarmSupport.supporter_id, AlarmSupport.requester_id, AlarmSupport.requester_path
        ).where(AlarmSupport.supporter_id.in_(sorted(paths)))
    ):
        if requester != supporter and requester_path.startswith(paths[supporter]):
            counts[supporter] += 1
    return counts


def managers(db: Db, actor: Actor, scope: str) -> dict:
    """Responsibility figures of each supervisor (level ≥ 4) of the scope: decisions on
    confiscated opportunities and the mean hours they took (all history), alarms supported,
    and the mean daily minutes and score of their direct reports' days of the last 30 days."""
    today = clock.today()
    with db.read() as session:
        people = analysed_people(session, actor, scope)
        supervisors = [p for p in people if (p.level or 0) >= SUPERVISOR_LEVEL]
        reports: dict[str, list[str]] = defaultdict(list)
        if supervisors:
            # direct reports: the active people whose supervisor (second-last on the path) is
            # one of the supervisors
            wanted = {p.user_id for p in supervisors}
            for person in session.scalars(select(Person).where(Person.active.is_(True))):
                chain = path_list(person.path)
                if len(chain) >= 2 and chain[-2] in wanted:
                    reports[chain[-2]].append(person.user_id)
        team_of = {uid: boss for boss, uids in reports.items() for uid in uids}
        team_days: dict[str, list[tuple[int, float]]] = defaultdict(list)
        if team_of:
            for user_id, value, score in session.execute(
                select(Daily.user_id, Daily.minutes, Daily.score).where(
                    Daily.user_id.in_(sorted(team_of)),
                    Daily.day > today - timedelta(days=TEAM_DAYS),
                    Daily.day <= today,
                )
            ):
                team_days[team_of[user_id]].append((value, score))
        hours = decision_hours(session, [p.user_id for p in supervisors])
        supported = alarms_supported(session, supervisors)
    names = _names(supervisors)
    items = []
    for user_id in sorted(names, key=_by_name(names)):
        days = team_days.get(user_id, [])
        figures = domain.manager_figures(
            hours.get(user_id, []),
            supported.get(user_id, 0),
            [m for m, _ in days],
            [s for _, s in days],
        )
        items.append({"user_id": user_id, "name": names[user_id], **figures})
    return {"scope": scope, "items": items}
