"""Scoring arithmetic as plain Python: points, daily and monthly aggregates, curves,
leaderboards, fake-report indicators, resignation early warning, trainee screening and
management responsibility (docs/DOMAIN.md §5).

Nothing here touches Nameko or the database; the service feeds these functions what it has
projected from the other services' events and returns what they answer. Every rule is tested
in microseconds in tests/unit/test_scoring_domain.py.

An *entry* below is a mapping shaped like the ``entry_recorded`` event data
(docs/INTERFACES.md, "worklog"); the functions read only these keys:

=================  =====================================================================
``entry_id``       str — the entry's id (flags and proven-false sets hold these ids)
``author_id``      str — who logged it
``work_date``      ``"YYYY-MM-DD"`` (or a ``date``) — the day the work is logged for
``late``           bool — recorded for yesterday, before the grace hour
``opportunity_id`` str | None
``stage``          str | None — the opportunity's stage when the entry was recorded
``activities``     list[str] — activity keys ticked
``points``         float — the activity points of the entry (the worklog's sum)
``minutes``        int
``expense``        decimal string in yuan (``"120.00"``); missing or unreadable counts as 0
``recorded_at``    ISO 8601 moment with offset (or an aware ``datetime``)
=================  =====================================================================

Dates are ``datetime.date`` in the organisation's time zone; user ids are strings.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from common.errors import ValidationFailed
from common.text import pinyin_key

Entry = Mapping[str, Any]

# --- points --------------------------------------------------------------------------------

# Progress points, credited to the opportunity's holder on the day of the event. ``won`` is
# its own event (the opportunity service does not also emit a stage advance into the won
# stage), so a win counts +20 once.
ENTRY_PROGRESS: dict[str, float] = {"stage_advanced": 5, "won": 20}
# Debited to ``from_holder_id`` of an ``opportunity.confiscated`` event whose action is
# ``confiscated`` (escalations, hand-overs of a leaver and flags are not the holder's fault).
CONFISCATION_PENALTY: float = -10


def entry_points(activity_points: Sequence[float]) -> float:
    """The points of one entry: the sum of the catalog points of its ticked activities.

    ``entry_points([1, 3, 0.5]) == 4.5``. Rounded to 2 decimals so that sums of halves do not
    drift (0.1 + 0.2 style)."""
    return round(math.fsum(float(p) for p in activity_points), 2)


def progress_points(kind: str) -> float:
    """Points of one opportunity fact for its holder: ``"stage_advanced"`` → 5, ``"won"`` →
    20, ``"confiscated"`` → −10, anything else → 0."""
    if kind == "confiscated":
        return CONFISCATION_PENALTY
    return ENTRY_PROGRESS.get(kind, 0)


# --- daily and monthly aggregates ----------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One user's day.

    ``minutes`` and ``score`` are *effective*: entries proven false count for neither.
    ``score`` = activity points of the effective entries + progress points of the day.
    ``entries`` counts every entry of the day (proven false included); ``suspicious`` the
    entries flagged by at least one fake-report indicator; ``proven_false`` those a
    customer-care revisit disproved."""

    user_id: str
    date: date
    minutes: int = 0
    score: float = 0.0
    entries: int = 0
    suspicious: int = 0
    proven_false: int = 0


@dataclass(frozen=True)
class Month:
    """A user's month: the sums of their ``Day`` aggregates; ``month`` is ``"YYYY-MM"``."""

    user_id: str
    month: str
    minutes: int = 0
    score: float = 0.0
    entries: int = 0
    suspicious: int = 0
    proven_false: int = 0


def as_date(value: date | str) -> date:
    """A ``date`` from a ``date``/``datetime`` or an ISO ``"YYYY-MM-DD"`` string."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_moment(value: datetime | str) -> datetime:
    """An aware UTC ``datetime`` from a ``datetime`` or an ISO 8601 string (naive = UTC)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def expense_of(entry: Entry) -> Decimal:
    """The entry's expense in yuan; missing, unreadable or negative counts as 0."""
    try:
        value = Decimal(str(entry.get("expense") or "0"))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return value if value.is_finite() and value > 0 else Decimal(0)


def day_totals(
    entries: Iterable[Entry],
    *,
    progress: Mapping[tuple[str, date | str], float] | None = None,
    suspicious: set[str] | frozenset[str] = frozenset(),
    proven_false: set[str] | frozenset[str] = frozenset(),
) -> list[Day]:
    """Build ``Day`` aggregates from raw entries, sorted by (user_id, date).

    - ``progress``: (user_id, day) → progress points of that day (the sum of
      ``progress_points`` over the holder's opportunity facts); a day with progress but no
      entry still gets a ``Day``.
    - ``suspicious``: ids flagged by any indicator (the union of ``all_flags`` values).
    - ``proven_false``: ids disproved by a revisit; they count in ``entries`` and
      ``proven_false`` but add neither minutes nor points.

    Rebuilding from history and processing incrementally call this with the same inputs, so
    they give the same numbers."""
    totals: dict[tuple[str, date], dict[str, float]] = defaultdict(
        lambda: {"minutes": 0, "points": 0.0, "entries": 0, "suspicious": 0, "proven_false": 0}
    )
    for entry in entries:
        key = (str(entry["author_id"]), as_date(entry["work_date"]))
        entry_id = str(entry["entry_id"])
        bucket = totals[key]
        bucket["entries"] += 1
        bucket["suspicious"] += entry_id in suspicious
        if entry_id in proven_false:
            bucket["proven_false"] += 1
            continue
        bucket["minutes"] += int(entry.get("minutes") or 0)
        bucket["points"] += float(entry.get("points") or 0)
    extra: dict[tuple[str, date], float] = defaultdict(float)
    for (user_id, day), points in (progress or {}).items():
        extra[(str(user_id), as_date(day))] += float(points or 0)
    days = []
    for user_id, day in sorted(set(totals) | set(extra)):
        bucket = totals[(user_id, day)]
        score = bucket["points"] + extra.get((user_id, day), 0.0)
        days.append(
            Day(
                user_id=user_id,
                date=day,
                minutes=int(bucket["minutes"]),
                score=round(score, 2),
                entries=int(bucket["entries"]),
                suspicious=int(bucket["suspicious"]),
                proven_false=int(bucket["proven_false"]),
            )
        )
    return days


def month_key(day: date) -> str:
    """``date(2026, 3, 9)`` → ``"2026-03"``."""
    return f"{day.year:04d}-{day.month:02d}"


def month_of(days: Iterable[Day]) -> list[Month]:
    """Roll ``Day`` aggregates up into one ``Month`` per (user, month), every field summed;
    sorted by (user_id, month)."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0, 0, 0])
    for d in days:
        row = sums[(d.user_id, month_key(d.date))]
        row[0] += d.minutes
        row[1] += d.score
        row[2] += d.entries
        row[3] += d.suspicious
        row[4] += d.proven_false
    return [
        Month(user_id, month, int(r[0]), round(r[1], 2), int(r[2]), int(r[3]), int(r[4]))
        for (user_id, month), r in sorted(sums.items())
    ]


GRANULARITIES = ("day", "month")
MAX_CURVE_DAYS = 1096  # three years of daily points
MAX_CURVE_MONTHS = 120  # ten years of monthly points
BAD_GRANULARITY = "粒度须为 day 或 month / Granularity must be day or month"
BAD_RANGE = "开始日期不能晚于结束日期 / The start date must not be after the end date"
RANGE_TOO_LONG = (
    "时间范围过长：按日最多 1096 天，按月最多 120 个月 / "
    "Range too long: at most 1096 days by day or 120 months by month"
)


def _months_between(first: date, last: date) -> list[str]:
    year, month, keys = first.year, first.month, []
    while (year, month) <= (last.year, last.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def curve(
    days: Iterable[Day], granularity: str, from_date: date, to_date: date
) -> list[dict[str, Any]]:
    """API curve points for ``from_date``..``to_date`` (both inclusive), oldest first.

    ``granularity="day"``: one point per calendar day, dated ``"YYYY-MM-DD"``;
    ``"month"``: one point per month touched by the range, dated ``"YYYY-MM"`` (days outside
    the range do not count, so the first and last months may be partial). Periods without
    data are zero-filled. ``days`` of several users are summed (a team curve); pass one
    user's days for a personal curve. Point: ``{"date", "minutes", "score", "entries",
    "suspicious", "proven_false"}`` with ``score`` rounded to 2 decimals.

    Raises ``ValidationFailed`` (422) for an unknown granularity, ``from_date > to_date`` or
    a range over ``MAX_CURVE_DAYS`` days / ``MAX_CURVE_MONTHS`` months."""
    if granularity not in GRANULARITIES:
        raise ValidationFailed(details={"granularity": [BAD_GRANULARITY]})
    if from_date > to_date:
        raise ValidationFailed(details={"from": [BAD_RANGE]})
    if granularity == "day":
        count = (to_date - from_date).days + 1
        if count > MAX_CURVE_DAYS:
            raise ValidationFailed(details={"from": [RANGE_TOO_LONG]})
        keys = [(from_date + timedelta(days=i)).isoformat() for i in range(count)]
    else:
        keys = _months_between(from_date, to_date)
        if len(keys) > MAX_CURVE_MONTHS:
            raise ValidationFailed(details={"from": [RANGE_TOO_LONG]})
    sums: dict[str, list[float]] = {k: [0, 0.0, 0, 0, 0] for k in keys}
    for d in days:
        if not from_date <= d.date <= to_date:
            continue
        row = sums[d.date.isoformat() if granularity == "day" else month_key(d.date)]
        row[0] += d.minutes
        row[1] += d.score
        row[2] += d.entries
        row[3] += d.suspicious
        row[4] += d.proven_false
    return [
        {
            "date": key,
            "minutes": int(r[0]),
            "score": round(r[1], 2),
            "entries": int(r[2]),
            "suspicious": int(r[3]),
            "proven_false": int(r[4]),
        }
        for key, r in sums.items()
    ]


# --- leaderboards --------------------------------------------------------------------------

PERIODS = ("day", "week", "month")
BAD_PERIOD = "周期须为 day、week 或 month / Period must be day, week or month"


def rank(values: Mapping[str, float], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """A leaderboard: ``[{"rank", "user_id", "name", "value"}]``, value descending.

    Values are rounded to 2 decimals first (so float noise does not split a tie); equal values
    share a rank and the next rank skips (competition ranking: 1, 2, 2, 4). Within a tie the
    order is the name in pinyin order, then user_id. A user missing from ``names`` gets
    ``"name": None`` and sorts after the named users of the same value."""

    rounded = {str(u): round(float(v), 2) for u, v in values.items()}
    name_of = {str(u): n for u, n in names.items()}

    def order(user_id: str) -> tuple:
        name = name_of.get(user_id)
        return (-rounded[user_id], name is None, pinyin_key(name or ""), name or "", user_id)

    items: list[dict[str, Any]] = []
    previous: float | None = None
    current_rank = 0
    for position, user_id in enumerate(sorted(rounded, key=order), start=1):
        value = rounded[user_id]
        if value != previous:
            current_rank, previous = position, value
        items.append(
            {"rank": current_rank, "user_id": user_id, "name": name_of.get(user_id), "value": value}
        )
    return items


def period_range(period: str, day: date) -> tuple[date, date]:
    """The period containing ``day`` as (first day, last day), both inclusive: ``"day"`` →
    the day; ``"week"`` → its ISO week, Monday..Sunday; ``"month"`` → the calendar month.
    Raises ``ValidationFailed`` (422) for another period."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    raise ValidationFailed(details={"period": [BAD_PERIOD]})


# --- statistics helpers --------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0 ≤ q ≤ 100) with linear interpolation between closest ranks
    (numpy's default): position (n − 1)·q/100 in the sorted values. ``None`` when empty.

    ``percentile([1, 2, 3, 4], 90) == 3.7``."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


ROBUST_Z_FACTOR = 0.6745  # makes the MAD comparable to a standard deviation for normal data
ROBUST_Z_LIMIT = 3.0


def robust_z_scores(values: Sequence[float]) -> list[float] | None:
    """Robust z = 0.6745 × (x − median) / MAD for each value, in input order, where MAD is the
    median absolute deviation. ``None`` when the values are empty or the MAD is 0 (more than
    half the values equal: no spread to measure against, so nothing is an outlier)."""
    if not values:
        return None
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    if mad == 0:
        return None
    return [ROBUST_Z_FACTOR * (v - median) / mad for v in values]


# --- fake-report indicators ----------------------------------------------------------------

DAY_MINUTES_LIMIT = 960  # 16 h
INDICATORS = (
    "over_16h",
    "implausible_activity",
    "late",
    "confiscated_without_progress",
    "expense_outlier",
)


def over_16h(entries: Iterable[Entry]) -> set[str]:
    """All entries of every (author, work day) whose total minutes exceed 960 (16 h)."""
    by_day: dict[tuple[str, date], list[Entry]] = defaultdict(list)
    for entry in entries:
        by_day[(str(entry["author_id"]), as_date(entry["work_date"]))].append(entry)
    flagged: set[str] = set()
    for day_entries in by_day.values():
        if sum(int(e.get("minutes") or 0) for e in day_entries) > DAY_MINUTES_LIMIT:
            flagged.update(str(e["entry_id"]) for e in day_entries)
    return flagged


def implausible_activity(
    entries: Iterable[Entry], catalog_stages: Mapping[str, Sequence[str]]
) -> set[str]:
    """Entries claiming an activity at a stage outside that activity's plausible stages.

    ``catalog_stages``: activity key → plausible stage keys (the catalog's ``stages``; empty
    means plausible everywhere). Entries without a stage (no opportunity) and activities
    unknown to the catalog are not judged."""
    flagged: set[str] = set()
    for entry in entries:
        stage = entry.get("stage")
        if not stage:
            continue
        for key in entry.get("activities") or ():
            plausible = catalog_stages.get(key)
            if plausible and stage not in plausible:
                flagged.add(str(entry["entry_id"]))
                break
    return flagged


def late(entries: Iterable[Entry]) -> set[str]:
    """Entries recorded for yesterday (the worklog marks them ``late``; after the grace hour it
    refuses them outright)."""
    return {str(e["entry_id"]) for e in entries if e.get("late")}


def stage_entry_counts(entries: Iterable[Entry]) -> dict[tuple[str, str], int]:
    """Entries per (opportunity_id, stage); entries without an opportunity or stage are left
    out. Feed ``.values()`` of the peers' counts to ``percentile(..., 90)`` to get the
    ``peer_p90`` of ``confiscated_without_progress``."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for entry in entries:
        if entry.get("opportunity_id") and entry.get("stage"):
            counts[(str(entry["opportunity_id"]), str(entry["stage"]))] += 1
    return dict(counts)


def confiscated_without_progress(
    entries: Iterable[Entry],
    confiscations: Iterable[Mapping[str, Any]],
    peer_p90: float | Mapping[str, float] | None,
) -> set[str]:
    """Entries on an opportunity later confiscated at the very stage they were logged at (so
    no stage advance came between them and the confiscation), when that opportunity-stage had
    more such entries than the peers' 90th percentile of entries per opportunity-stage.

    - ``confiscations``: ``{"opportunity_id", "stage", "at"}`` per confiscation — the stage
      the opportunity was in and the moment (ISO string or aware datetime) it was taken.
    - ``peer_p90``: one threshold for every stage, or stage key → threshold (a stage missing
      from the mapping is not judged); ``None`` (no peers) flags nothing.

    An entry counts when its ``recorded_at`` is not after the confiscation's ``at``."""
    if peer_p90 is None:
        return set()
    by_opportunity_stage: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.get("opportunity_id") and entry.get("stage"):
            key = (str(entry["opportunity_id"]), str(entry["stage"]))
            by_opportunity_stage[key].append(entry)
    flagged: set[str] = set()
    for confiscation in confiscations:
        stage = str(confiscation["stage"])
        if isinstance(peer_p90, Mapping):
            if stage not in peer_p90:
                continue
            threshold = float(peer_p90[stage])
        else:
            threshold = float(peer_p90)
        at = as_moment(confiscation["at"])
        before = [
            e
            for e in by_opportunity_stage.get((str(confiscation["opportunity_id"]), stage), ())
            if as_moment(e["recorded_at"]) <= at
        ]
        if len(before) > threshold:
            flagged.update(str(e["entry_id"]) for e in before)
    return flagged


def expense_outlier(entries: Iterable[Entry]) -> set[str]:
    """Entries whose expense is an outlier against the peers passed in: robust z > 3.

    The sample is the entries *with a positive expense*: most entries (calls, meetings) cost
    nothing, and letting their zeros in would make the median and MAD 0 and hide every
    outlier. Fewer than two such entries, or a MAD of 0, flag nothing. Only the high side is
    flagged (a cheap visit is not a fake one)."""
    priced = [(str(e["entry_id"]), float(expense_of(e))) for e in entries]
    priced = [(entry_id, amount) for entry_id, amount in priced if amount > 0]
    scores = robust_z_scores([amount for _, amount in priced])
    if scores is None:
        return set()
    return {entry_id for (entry_id, _), z in zip(priced, scores, strict=True) if z > ROBUST_Z_LIMIT}


def all_flags(
    entries: Sequence[Entry],
    *,
    catalog_stages: Mapping[str, Sequence[str]],
    confiscations: Iterable[Mapping[str, Any]],
    peer_p90: float | Mapping[str, float] | None,
) -> dict[str, set[str]]:
    """Every indicator over the same entries: ``{indicator: flagged entry ids}`` with the keys
    of ``INDICATORS``. ``entries`` are the peer group (e.g. the scope's entries of the
    period), which the expense outlier compares against."""
    return {
        "over_16h": over_16h(entries),
        "implausible_activity": implausible_activity(entries, catalog_stages),
        "late": late(entries),
        "confiscated_without_progress": confiscated_without_progress(
            entries, confiscations, peer_p90
        ),
        "expense_outlier": expense_outlier(entries),
    }


def _report_row(ids: list[str], suspicious: set[str], proven: set[str]) -> dict[str, Any]:
    flagged = sum(1 for i in ids if i in suspicious)
    disproved = sum(1 for i in ids if i in proven)
    either = sum(1 for i in ids if i in suspicious or i in proven)
    return {
        "entries": len(ids),
        "suspicious": flagged,
        "proven_false": disproved,
        "share": round(either / len(ids), 4) if ids else 0.0,
    }


def fake_report(
    entries: Iterable[Entry],
    flags: Mapping[str, set[str]],
    proven_false: set[str],
    stage_order: Sequence[str] = (),
) -> dict[str, list[dict[str, Any]]]:
    """The fake-report analysis (虚假日报分析) of ``entries``.

    ``{"by_stage": [{"stage", "entries", "suspicious", "proven_false", "share"}],
    "by_user": [{"user_id", "entries", "suspicious", "proven_false", "share"}]}`` where
    ``suspicious`` counts entries flagged by at least one indicator of ``flags`` (indicator →
    ids, as ``all_flags`` gives), ``proven_false`` those in ``proven_false``, and ``share`` =
    |suspicious ∪ proven false| / entries, rounded to 4 decimals.

    ``by_stage`` follows ``stage_order`` (e.g. the pipeline's stage keys), then other stages
    alphabetically, then ``"stage": None`` (entries without an opportunity). ``by_user`` lists
    the highest share first, then more entries, then user_id."""
    suspicious = set().union(*flags.values()) if flags else set()
    proven = {str(i) for i in proven_false}
    suspicious = {str(i) for i in suspicious}
    by_stage: dict[str | None, list[str]] = defaultdict(list)
    by_user: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        entry_id = str(entry["entry_id"])
        by_stage[entry.get("stage") or None].append(entry_id)
        by_user[str(entry["author_id"])].append(entry_id)

    position = {stage: i for i, stage in enumerate(stage_order)}

    def stage_sort(stage: str | None) -> tuple:
        if stage is None:
            return (2, 0, "")
        if stage in position:
            return (0, position[stage], "")
        return (1, 0, stage)

    stage_rows = [
        {"stage": stage, **_report_row(by_stage[stage], suspicious, proven)}
        for stage in sorted(by_stage, key=stage_sort)
    ]
    user_rows = [
        {"user_id": user_id, **_report_row(ids, suspicious, proven)}
        for user_id, ids in by_user.items()
    ]
    user_rows.sort(key=lambda r: (-r["share"], -r["entries"], r["user_id"]))
    return {"by_stage": stage_rows, "by_user": user_rows}


# --- resignation early warning (离职预警) ---------------------------------------------------

# Weights (sum 100). Each component earns a share of its weight that rises linearly between
# a "normal" and an "alarming" level, so a steady person scores 0 and the reasons explain
# every point:
#   diligence trend  35  daily minutes of the last 14 days vs the 60 days before:
#                        0 at a 10 % drop, full at 50 %
#   missing logs     20  working days (Mon–Fri) without a log among the last 14:
#                        0 at 1 missing day, full at 7
#   new opportunities 15 weekly new opportunities, last 4 weeks vs the 8 before:
#                        0 at a 25 % drop, full at 75 %
#   unmask / export  30  daily contact unmasks + exports, last 7 days vs the 60 before:
#                        0 at 2×, full at 5× (and at least 5 in the week)
WEIGHT_DILIGENCE = 35
WEIGHT_MISSING_LOGS = 20
WEIGHT_OPPORTUNITIES = 15
WEIGHT_UNMASK = 30
TREND_DAYS = 14
BASELINE_DAYS = 60
WORKING_DAYS = 14
RECENT_WEEKS = 4
BASELINE_WEEKS = 8
UNMASK_DAYS = 7
MIN_UNMASK_SPIKE = 5


def _ramp(value: float, normal: float, alarming: float) -> float:
    """0 at or below ``normal``, 1 at or above ``alarming``, linear in between."""
    if value <= normal:
        return 0.0
    if value >= alarming:
        return 1.0
    return (value - normal) / (alarming - normal)


def _window_sum(by_day: Mapping[date, int], first: date, last: date) -> int:
    return sum(int(v or 0) for d, v in by_day.items() if first <= d <= last)


def _working_days(first: date, last: date) -> int:
    return sum(1 for i in range((last - first).days + 1) if (first + timedelta(i)).weekday() < 5)


def _diligence_trend(minutes: Mapping[date, int], today: date) -> tuple[float, str | None]:
    """Mean minutes per working day, the 14 days up to yesterday vs the 60 days before
    (weekend work counts in the sum; today is left out because it is still being logged)."""
    recent_last = today - timedelta(days=1)
    recent_first = today - timedelta(days=TREND_DAYS)
    base_last = recent_first - timedelta(days=1)
    base_first = recent_first - timedelta(days=BASELINE_DAYS)
    base_days = _working_days(base_first, base_last)
    baseline = _window_sum(minutes, base_first, base_last) / base_days
    if baseline <= 0:
        return 0.0, None
    recent = _window_sum(minutes, recent_first, recent_last) / _working_days(
        recent_first, recent_last
    )
    drop = 1 - recent / baseline
    points = WEIGHT_DILIGENCE * _ramp(drop, 0.10, 0.50)
    if points <= 0:
        return 0.0, None
    pct = round(drop * 100)
    return points, (
        f"近14天日均工时较个人基线下降 {pct}%（{recent:.0f} 分钟，基线 {baseline:.0f} 分钟） / "
        f"Daily minutes over 14 days {pct}% below own baseline "
        f"({recent:.0f} min against {baseline:.0f} min)"
    )


def _missing_logs(minutes: Mapping[date, int], today: date) -> tuple[float, str | None]:
    """Working days without a log among the last 14 before today; days before the first
    logged day are not counted (a newcomer has not missed them)."""
    logged = [d for d, v in minutes.items() if v and d < today]
    if not logged:
        return 0.0, None
    first_log = min(logged)
    days, day = [], today - timedelta(days=1)
    while len(days) < WORKING_DAYS and day >= first_log:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    missing = sum(1 for d in days if not minutes.get(d))
    points = WEIGHT_MISSING_LOGS * _ramp(missing, 1, 7)
    if points <= 0:
        return 0.0, None
    return points, (
        f"近{len(days)}个工作日中有 {missing} 天未填日报 / "
        f"No log on {missing} of the last {len(days)} working days"
    )


def _opportunities_drying(weekly: Sequence[int]) -> tuple[float, str | None]:
    """Weekly new opportunities (oldest first): the last 4 weeks against the 8 before."""
    recent_weeks = list(weekly[-RECENT_WEEKS:])
    base_weeks = list(weekly[-(RECENT_WEEKS + BASELINE_WEEKS) : -RECENT_WEEKS])
    if len(recent_weeks) < RECENT_WEEKS or not base_weeks:
        return 0.0, None
    baseline = sum(base_weeks) / len(base_weeks)
    if baseline <= 0:
        return 0.0, None
    recent = sum(recent_weeks) / len(recent_weeks)
    drop = 1 - recent / baseline
    points = WEIGHT_OPPORTUNITIES * _ramp(drop, 0.25, 0.75)
    if points <= 0:
        return 0.0, None
    pct = round(drop * 100)
    n = len(base_weeks)
    return points, (
        f"近4周新商机周均 {recent:.1f} 个，此前{n}周为 {baseline:.1f} 个（下降 {pct}%） / "
        f"New opportunities {recent:.1f} a week over 4 weeks against {baseline:.1f} over the "
        f"{n} before ({pct}% fewer)"
    )


def _unmask_spike(unmasks: Mapping[date, int], today: date) -> tuple[float, str | None]:
    """Contact unmasks + exports a day, the last 7 days (today included) vs the 60 before;
    the baseline is at least one a week, so a first burst from nothing still has a ratio."""
    recent_first = today - timedelta(days=UNMASK_DAYS - 1)
    base_last = recent_first - timedelta(days=1)
    base_first = recent_first - timedelta(days=BASELINE_DAYS)
    recent_total = _window_sum(unmasks, recent_first, today)
    if recent_total < MIN_UNMASK_SPIKE:
        return 0.0, None
    baseline = max(_window_sum(unmasks, base_first, base_last) / BASELINE_DAYS, 1 / 7)
    ratio = (recent_total / UNMASK_DAYS) / baseline
    points = WEIGHT_UNMASK * _ramp(ratio, 2, 5)
    if points <= 0:
        return 0.0, None
    return points, (
        f"近7天查看/导出客户联系方式 {recent_total} 次，为基线日均的 {ratio:.1f} 倍 / "
        f"{recent_total} contact unmasks or exports in 7 days, {ratio:.1f}× the baseline "
        f"daily rate"
    )


def early_warning(
    daily_minutes: Mapping[date, int],
    today: date,
    new_opportunities_by_week: Sequence[int],
    unmask_by_day: Mapping[date, int],
) -> tuple[int, list[str]]:
    """Resignation risk (离职预警) of one person: ``(risk 0..100, reasons)``.

    - ``daily_minutes``: day → the person's effective minutes (days without a log may be
      absent); at least the last 74 days before ``today`` for a full baseline.
    - ``today``: the day of the assessment, in the organisation's time zone.
    - ``new_opportunities_by_week``: new opportunities registered per week, oldest first, the
      last item the most recent completed week (12 weeks give the full comparison).
    - ``unmask_by_day``: day → contact unmasks + exports by the person.

    The risk is the rounded sum of four weighted components (see the WEIGHT_* constants:
    diligence trend 35, missing logs 20, new opportunities 15, unmask/export spike 30); each
    component that adds points adds one bilingual reason, in that order. No history means no
    component fires: a person is never at risk for lack of data."""
    minutes = {as_date(d): int(v or 0) for d, v in daily_minutes.items()}
    unmasks = {as_date(d): int(v or 0) for d, v in unmask_by_day.items()}
    parts = [
        _diligence_trend(minutes, today),
        _missing_logs(minutes, today),
        _opportunities_drying([int(n or 0) for n in new_opportunities_by_week]),
        _unmask_spike(unmasks, today),
    ]
    risk = max(0, min(100, round(sum(points for points, _ in parts))))
    return risk, [reason for _, reason in parts if reason]


# --- trainee screening ---------------------------------------------------------------------

KEEP_PERCENTILE = 50
LET_GO_PERCENTILE = 20
RECOMMENDATION_ORDER = {"let_go": 0, "watch": 1, "keep": 2}


def percentile_rank(value: float, cohort: Sequence[float]) -> float:
    """Where ``value`` stands in ``cohort`` (which includes it), 0..100: the share of the
    cohort below it plus half the share equal to it (mid-rank), rounded to 1 decimal. Five
    distinct values rank 10, 30, 50, 70, 90; a cohort of one ranks 50."""
    if not cohort:
        return 50.0
    below = sum(1 for v in cohort if v < value)
    equal = sum(1 for v in cohort if v == value)
    return round(100 * (below + 0.5 * equal) / len(cohort), 1)


def _ordinal(p: float) -> str:
    if p != int(p):
        return f"{p:g}th"
    n = int(p)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _screen(days: int, diligence: float, ability: float, min_days: int) -> tuple[str, list[str]]:
    reasons = [
        f"勤奋度位于同批第 {diligence:g} 百分位 / "
        f"Diligence at the {_ordinal(diligence)} percentile of the cohort",
        f"能力位于同批第 {ability:g} 百分位 / "
        f"Ability at the {_ordinal(ability)} percentile of the cohort",
    ]
    if days < min_days:
        reasons.insert(
            0,
            f"仅有 {days} 天数据，不足 {min_days} 天，继续观察 / "
            f"Only {days} days observed, fewer than {min_days}: watch",
        )
        return "watch", reasons
    if diligence >= KEEP_PERCENTILE and ability >= KEEP_PERCENTILE:
        reasons.append(
            "两项均不低于第 50 百分位，建议留用 / Both at or above the 50th percentile: keep"
        )
        return "keep", reasons
    if diligence < LET_GO_PERCENTILE and ability < LET_GO_PERCENTILE:
        reasons.append("两项均低于第 20 百分位，建议劝退 / Both below the 20th percentile: let go")
        return "let_go", reasons
    weak = [
        (zh, en)
        for zh, en, p in (("勤奋度", "Diligence", diligence), ("能力", "Ability", ability))
        if p < KEEP_PERCENTILE
    ]
    zh = "、".join(z for z, _ in weak)
    en = " and ".join(e for _, e in weak)
    reasons.append(f"{zh}低于第 50 百分位，继续观察 / {en} below the 50th percentile: watch")
    return "watch", reasons


def trainee_screening(
    user_values: Mapping[str, tuple[float, float]],
    days: Mapping[str, int],
    min_days: int = 30,
) -> list[dict[str, Any]]:
    """Keep / watch / let-go recommendations for a cohort of level-1 users.

    - ``user_values``: user_id → (mean daily diligence minutes, mean daily ability score)
      over the observed days; the cohort is every user given here.
    - ``days``: user_id → days observed (absent = 0).
    - ``min_days``: fewer observed days always give ``watch``.

    Each user's percentiles are ``percentile_rank`` within the cohort. With enough days:
    ``keep`` when both are ≥ 50, ``let_go`` when both are < 20, ``watch`` otherwise.
    Answers ``[{"user_id", "days", "diligence_percentile", "ability_percentile",
    "recommendation", "reasons"}]``, let_go first, then watch, then keep, then user_id."""
    values = {str(u): (float(v[0] or 0), float(v[1] or 0)) for u, v in user_values.items()}
    days_of = {str(u): int(n or 0) for u, n in days.items()}
    diligences = [v[0] for v in values.values()]
    abilities = [v[1] for v in values.values()]
    items = []
    for user_id, (diligence, ability) in values.items():
        d_pct = percentile_rank(diligence, diligences)
        a_pct = percentile_rank(ability, abilities)
        observed = days_of.get(user_id, 0)
        recommendation, reasons = _screen(observed, d_pct, a_pct, min_days)
        items.append(
            {
                "user_id": user_id,
                "days": observed,
                "diligence_percentile": d_pct,
                "ability_percentile": a_pct,
                "recommendation": recommendation,
                "reasons": reasons,
            }
        )
    items.sort(key=lambda i: (RECOMMENDATION_ORDER[i["recommendation"]], i["user_id"]))
    return items


# --- management responsibility -------------------------------------------------------------


def _mean(values: Sequence[float], digits: int) -> float | None:
    return round(math.fsum(values) / len(values), digits) if values else None


def manager_figures(
    decision_hours: Sequence[float],
    alarms_supported: int,
    team_minutes: Sequence[int],
    team_scores: Sequence[float],
) -> dict[str, Any]:
    """One supervisor's responsibility figures (the caller adds ``user_id``/name).

    - ``decision_hours``: per confiscated opportunity the supervisor decided, the hours from
      confiscation to decision.
    - ``alarms_supported``: responses the supervisor gave to subordinates' alarms.
    - ``team_minutes`` / ``team_scores``: the team's daily effective minutes / scores (one
      value per member-day, or per member — the mean is taken as given).

    Answers ``{"decisions", "mean_hours_to_decide", "alarms_supported", "team_mean_minutes",
    "team_mean_score"}``; a mean over nothing is ``None``; hours and score are rounded to
    2 decimals, minutes to 1."""
    return {
        "decisions": len(decision_hours),
        "mean_hours_to_decide": _mean([float(h) for h in decision_hours], 2),
        "alarms_supported": int(alarms_supported),
        "team_mean_minutes": _mean([float(m) for m in team_minutes], 1),
        "team_mean_score": _mean([float(s) for s in team_scores], 2),
    }
