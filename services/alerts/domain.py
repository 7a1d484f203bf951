"""Difficulty-alarm rules as plain Python: the category list, what a raise request may say, who
resolves an alarm and how, the escalation up the supervisor chain, and the statistics of the
alarm board (docs/DOMAIN.md §6, docs/API.md "Alarms and experience").

Nothing here touches Nameko or the database; every rule is tested in microseconds in
tests/unit/test_alerts_domain.py. Times are aware datetimes, durations ``timedelta``, money
integer fen (decimal strings at the edges), user ids strings.

Readings of docs/DOMAIN.md §6 chosen here:

- *Support* is a response by anyone but the requester; the requester's own notes on their
  alarm neither stop the no-response clock nor count in the statistics or the ranking.
- The requester may still mark their own response effective: they found the method
  themselves and the alarm resolves, but that response is not support and earns no
  "effective" in the supporter ranking.
- A resolved alarm takes no more responses (409 ``already_resolved``): its clock has stopped
  and its method has gone to the experience pool.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from common.money import parse_money
from common.text import pinyin_key

# --- categories ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    key: str
    name: str


# docs/DOMAIN.md §6's default keys; opportunity's loss reasons are these plus no_budget, no_need.
DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("price", "价格 Price"),
    Category("competitor", "竞争对手 Competitor"),
    Category("technical", "技术 Technical"),
    Category("decision_chain", "决策链 Decision chain"),
    Category("payment", "回款 Payment collection"),
    Category("relationship", "客户关系 Customer relationship"),
    Category("service", "售后服务 After-sales service"),
    Category("other", "其他 Other"),
)

# --- raising an alarm ----------------------------------------------------------------------

KINDS = ("sales", "service")  # service: a customer-service problem (客服经验库)
MAX_DESCRIPTION = 2000
MAX_TEXT = 5000  # analysis and response bodies; the work log's difficulty analysis allows 5000
MAX_ID = 64
RAISE_FIELDS = (
    "category",
    "description",
    "analysis",
    "opportunity_id",
    "customer_id",
    "amount",
    "kind",
)

REQUIRED = "必填 / Required"
NOT_OBJECT = "须为对象 / Must be an object"
UNKNOWN_FIELD = "未知字段 / Unknown field"
UNKNOWN_CATEGORY = "未知的报警类别 / Unknown alarm category"
BAD_DESCRIPTION = "须为非空文本（最多 2000 字） / Must be non-blank text (at most 2000 characters)"
BAD_TEXT = "须为文本（最多 5000 字） / Must be text (at most 5000 characters)"
BAD_BODY = "须为非空文本（最多 5000 字） / Must be non-blank text (at most 5000 characters)"
BAD_KIND = "类型须为 sales 或 service / Kind must be sales or service"
BAD_ID = "须为编号文本 / Must be an id (text)"


@dataclass(frozen=True)
class RaiseRequest:
    """A validated alarm request; the service adds requester, time and the opportunity's
    stage."""

    category: str
    description: str
    analysis: str
    amount_fen: int | None
    kind: str
    opportunity_id: str | None
    customer_id: str | None


def _text(
    data: Mapping[str, Any],
    name: str,
    limit: int,
    message: str,
    errors: dict[str, list[str]],
    prefix: str,
    *,
    optional: bool = False,
) -> str:
    """A stripped text field of at most ``limit`` characters (blank allowed when optional)."""
    value = data.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or len(value.strip()) > limit or not (value.strip() or optional):
        errors[prefix + name] = [REQUIRED if value is None else message]
        return ""
    return value.strip()


def _optional_id(value: Any, path: str, errors: dict[str, list[str]]) -> str | None:
    """Ids are strings (docs/API.md); an integer is read as its text."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_ID:
        errors[path] = [BAD_ID]
        return None
    return value.strip()


def validate_raise(
    data: Any,
    categories: Iterable[Category] = DEFAULT_CATEGORIES,
    field_prefix: str = "",
) -> RaiseRequest:
    """An alarm request (docs/DOMAIN.md §6): a known category, a non-blank description of at most
    2000 characters, an optional analysis of at most 5000, an optional amount at stake (money
    ≥ 0, two decimals at most), kind ``sales`` (default) or ``service``, optional opportunity
    and customer ids. Unknown fields are refused. Every problem is listed in one 422, under
    ``field_prefix`` + field name (``"difficulty."`` when the request comes from a work-log
    entry)."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(details={field_prefix + "_schema": [NOT_OBJECT]})
    errors: dict[str, list[str]] = {}
    for name in data:
        if name not in RAISE_FIELDS:
            errors[f"{field_prefix}{name}"] = [UNKNOWN_FIELD]

    category = data.get("category")
    if category is None:
        errors[field_prefix + "category"] = [REQUIRED]
    elif not isinstance(category, str) or category not in {c.key for c in categories}:
        errors[field_prefix + "category"] = [UNKNOWN_CATEGORY]

    description = _text(data, "description", MAX_DESCRIPTION, BAD_DESCRIPTION, errors, field_prefix)
    analysis = _text(data, "analysis", MAX_TEXT, BAD_TEXT, errors, field_prefix, optional=True)

    amount_fen = None
    if data.get("amount") is not None:
        try:
            amount_fen = parse_money(data["amount"], field_prefix + "amount")
        except ValidationFailed as failed:
            errors.update(failed.details)

    kind = data.get("kind")
    if kind is None:
        kind = "sales"
    elif kind not in KINDS:
        errors[field_prefix + "kind"] = [BAD_KIND]

    opportunity_id = _optional_id(
        data.get("opportunity_id"), field_prefix + "opportunity_id", errors
    )
    customer_id = _optional_id(data.get("customer_id"), field_prefix + "customer_id", errors)
    if errors:
        raise ValidationFailed(details=errors)
    return RaiseRequest(
        category=category,
        description=description,
        analysis=analysis,
        amount_fen=amount_fen,
        kind=kind,
        opportunity_id=opportunity_id,
        customer_id=customer_id,
    )


def check_response_body(body: Any) -> str:
    """A response (analysis or proposed method) is non-blank text of at most 5000 characters."""
    if not isinstance(body, str) or not body.strip() or len(body.strip()) > MAX_TEXT:
        raise ValidationFailed(details={"body": [REQUIRED if body is None else BAD_BODY]})
    return body.strip()


# --- the alarm and its resolution ----------------------------------------------------------

OPEN = "open"
RESOLVED = "resolved"

NOT_REQUESTER = "只有报警人可以标记“方法有效” / Only the requester may mark a method effective"
ALREADY_RESOLVED = "该报警已解决 / This alarm is already resolved"
UNKNOWN_RESPONSE = "该报警没有这条回复 / No such response on this alarm"
NOT_SUGGESTED = "该经验未推荐给此报警 / This experience was not suggested for this alarm"


@dataclass(frozen=True)
class Response:
    id: str
    author_id: str
    posted_at: datetime
    effective: bool = False


@dataclass(frozen=True)
class Alarm:
    """An alarm as the rules see it. ``requester_path`` is the supervisor chain top →
    requester when raised (``author_path`` of the events); ``suggestion_ids`` the experience
    entries offered when it was raised."""

    id: str
    requester_id: str
    raised_at: datetime
    category: str
    stage: str | None = None
    requester_path: tuple[str, ...] = ()
    responses: tuple[Response, ...] = ()
    suggestion_ids: tuple[str, ...] = ()
    resolved_at: datetime | None = None
    effective_response_id: str | None = None
    effective_experience_id: str | None = None

    @property
    def status(self) -> str:
        return RESOLVED if self.resolved_at is not None else OPEN

    @property
    def team_leader_id(self) -> str:
        """The requester's team is their supervisor's direct reports (as the other services'
        ``team`` scope), named by that supervisor; the top of the chain leads their own."""
        path = self.requester_path
        return str(path[-2]) if len(path) >= 2 else str(self.requester_id)


def supports(alarm: Alarm) -> list[Response]:
    """The responses that count as support: those by anyone but the requester."""
    return [r for r in alarm.responses if str(r.author_id) != str(alarm.requester_id)]


def first_support_at(alarm: Alarm) -> datetime | None:
    return min((r.posted_at for r in supports(alarm)), default=None)


def check_may_respond(alarm: Alarm) -> None:
    """Anyone may respond while the alarm is open; a resolved alarm answers 409."""
    if alarm.status == RESOLVED:
        raise Conflict(ALREADY_RESOLVED, {"alarm_id": str(alarm.id)}, code="already_resolved")


def _check_may_resolve(alarm: Alarm, actor_id: str) -> None:
    """Only the requester marks 方法有效 (others 403, whatever the state); once only (409)."""
    if str(actor_id) != str(alarm.requester_id):
        raise Forbidden(NOT_REQUESTER)
    check_may_respond(alarm)


def mark_response_effective(alarm: Alarm, actor_id: str, response_id: str, now: datetime) -> Alarm:
    """The requester marks one response of the alarm 方法有效: the alarm is resolved at ``now``
    with that response as its method, which stops its clock (docs/DOMAIN.md §6)."""
    _check_may_resolve(alarm, actor_id)
    if str(response_id) not in {str(r.id) for r in alarm.responses}:
        raise NotFound(UNKNOWN_RESPONSE, {"response_id": str(response_id)})
    responses = tuple(
        replace(r, effective=True) if str(r.id) == str(response_id) else r for r in alarm.responses
    )
    return replace(
        alarm, responses=responses, resolved_at=now, effective_response_id=str(response_id)
    )


def mark_suggestion_effective(
    alarm: Alarm, actor_id: str, experience_id: str, now: datetime
) -> Alarm:
    """The requester marks one of the experience entries suggested at raise time 方法有效: the
    alarm is resolved at ``now`` and the entry counts one reuse (docs/DOMAIN.md §6)."""
    _check_may_resolve(alarm, actor_id)
    if str(experience_id) not in {str(s) for s in alarm.suggestion_ids}:
        raise NotFound(NOT_SUGGESTED, {"experience_id": str(experience_id)})
    return replace(alarm, resolved_at=now, effective_experience_id=str(experience_id))


# --- escalation ----------------------------------------------------------------------------

NO_RESPONSE = "no_response"
UNRESOLVED = "unresolved"
TOP_ESCALATION_LEVEL = 8  # docs/DOMAIN.md §6: "and so on to level 8"


@dataclass(frozen=True)
class EscalationLimits:
    no_response: timedelta = timedelta(days=1)
    unresolved: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class EscalationStep:
    """Step ``number`` notifies the ``number``-th person above the requester."""

    number: int
    user_id: str
    level: int
    due_at: datetime
    reason: str  # NO_RESPONSE | UNRESOLVED


def _escalation_schedule(
    alarm: Alarm, chain: Sequence[tuple[str, int]], limits: EscalationLimits
) -> Iterator[EscalationStep]:
    """Every step the alarm's history calls for, in order, whether due yet or not.

    Each step gives the person just notified one period to act, counted from the previous
    step (the raise for the first): the next step falls due ``limits.no_response`` later if
    no one but the requester has answered by then, otherwise ``limits.unresolved`` later.
    A resolved alarm has stopped its clock: it has no (further) steps at all. So an
    unanswered alarm climbs one level a day; an answered but stuck one, one level a week.
    Steps climb ``chain`` (top → requester) from the supervisor up, stopping at its top or
    at anyone above level 8.
    """
    if alarm.resolved_at is not None:
        return
    supported = first_support_at(alarm)
    above = [(str(uid), int(level)) for uid, level in reversed(chain[:-1])]
    previous = alarm.raised_at
    for number, (user_id, level) in enumerate(above, start=1):
        if level > TOP_ESCALATION_LEVEL:
            return
        due, reason = previous + limits.no_response, NO_RESPONSE
        if supported is not None and supported <= due:
            due, reason = previous + limits.unresolved, UNRESOLVED
        yield EscalationStep(number, user_id, level, due, reason)
        previous = due


def due_escalations(
    alarm: Alarm,
    chain: Sequence[tuple[str, int]],
    steps_done: int,
    now: datetime,
    limits: EscalationLimits = EscalationLimits(),
) -> list[EscalationStep]:
    """The escalation steps due at ``now`` beyond the ``steps_done`` already notified, in
    order (several when the sweep ran late). A step is due once ``now`` is past its due time,
    as a stage deadline (docs/DOMAIN.md §3, §6)."""
    due = []
    for step in _escalation_schedule(alarm, chain, limits):
        if step.due_at >= now:
            break
        if step.number > steps_done:
            due.append(step)
    return due


def next_escalation_at(
    alarm: Alarm,
    chain: Sequence[tuple[str, int]],
    steps_done: int,
    limits: EscalationLimits = EscalationLimits(),
) -> datetime | None:
    """When the next step beyond ``steps_done`` falls due if nothing else happens (None: the
    alarm will not be escalated further), for the sweep to select only the alarms due."""
    for step in _escalation_schedule(alarm, chain, limits):
        if step.number > steps_done:
            return step.due_at
    return None


# --- statistics ----------------------------------------------------------------------------

# docs/DOMAIN.md §6: "support rate (share with a response within a day)"
SUPPORT_WINDOW = timedelta(days=1)
RATE_DIGITS = 4
HOURS_DIGITS = 2
_HOUR_US = 3600 * 10**6
BAD_PERIOD = "结束日期不能早于开始日期 / The end date must not be before the start date"


def period_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``from``..``to`` (both inclusive, days in the organisation's time zone) → the half-open
    range [start, end) of raise times."""
    if last < first:
        raise ValidationFailed(details={"to": [BAD_PERIOD]})
    start = datetime.combine(first, time(), tz)
    return start, datetime.combine(last + timedelta(days=1), time(), tz)


def _us(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds


def _mean_hours(deltas: Sequence[timedelta]) -> float | None:
    """Exact mean in hours (one rounding from integer microseconds), to 2 decimals."""
    if not deltas:
        return None
    return round(sum(_us(d) for d in deltas) / (len(deltas) * _HOUR_US), HOURS_DIGITS)


def _median_hours(deltas: Sequence[timedelta]) -> float | None:
    if not deltas:
        return None
    return round(statistics.median(_us(d) for d in deltas) / _HOUR_US, HOURS_DIGITS)


def _rate(count: int, total: int) -> float | None:
    return round(count / total, RATE_DIGITS) if total else None


def _supported_in_time(alarm: Alarm, window: timedelta) -> bool:
    first = first_support_at(alarm)
    return first is not None and first - alarm.raised_at <= window


def _distribution(
    alarms: Sequence[Alarm],
    key_of: Callable[[Alarm], str | None],
    field: str,
    window: timedelta,
    names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Per key: raised, supported (within the window) and resolved, the most raised first;
    ties by name in pinyin order (or by key), a missing key (no stage) last."""
    rows: dict[str | None, dict[str, Any]] = {}
    for alarm in alarms:
        key = key_of(alarm)
        row = rows.get(key)
        if row is None:
            row = rows[key] = {field: key, "raised": 0, "supported": 0, "resolved": 0}
            if names is not None:
                row["name"] = names.get(key)
        row["raised"] += 1
        row["supported"] += _supported_in_time(alarm, window)
        row["resolved"] += alarm.resolved_at is not None

    def order(row: dict[str, Any]) -> tuple:
        label = row.get("name") or row[field] or ""
        return (-row["raised"], row[field] is None, pinyin_key(label), label, row[field] or "")

    return sorted(rows.values(), key=order)


def supporter_ranking(alarms: Iterable[Alarm], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Who helps with others' alarms (docs/DOMAIN.md §6: enthusiasm, ability, speed).

    Per supporter: ``responses`` — distinct alarms of others they answered (several
    responses on one alarm count once, so chatter earns nothing); ``effective`` — their
    responses marked 方法有效; ``median_hours_to_respond`` — median, over those alarms, of
    the time from the raise to their first response there. Ordered by responses, then
    effective (most first), then speed (fastest first), then name in pinyin order, then id.
    """
    first: dict[str, dict[str, datetime]] = defaultdict(dict)
    effective: dict[str, int] = defaultdict(int)
    raised_at: dict[str, datetime] = {}
    for alarm in alarms:
        raised_at[str(alarm.id)] = alarm.raised_at
        for response in supports(alarm):
            mine = first[str(response.author_id)]
            known = mine.get(str(alarm.id))
            if known is None or response.posted_at < known:
                mine[str(alarm.id)] = response.posted_at
            effective[str(response.author_id)] += response.effective
    items = [
        {
            "user_id": user_id,
            "name": names.get(user_id),
            "responses": len(answered),
            "effective": effective[user_id],
            "median_hours_to_respond": _median_hours(
                [at - raised_at[alarm_id] for alarm_id, at in answered.items()]
            ),
        }
        for user_id, answered in first.items()
    ]

    def order(item: dict[str, Any]) -> tuple:
        name = item["name"]
        speed = item["median_hours_to_respond"]
        return (
            -item["responses"],
            -item["effective"],
            math.inf if speed is None else speed,
            name is None,
            pinyin_key(name or ""),
            name or "",
            item["user_id"],
        )

    return sorted(items, key=order)


def alarm_stats(
    alarms: Iterable[Alarm],
    start: datetime,
    end: datetime,
    names: Mapping[str, str] | None = None,
    support_window: timedelta = SUPPORT_WINDOW,
) -> dict[str, Any]:
    """GET /alarms/stats for the alarms of a scope raised in [start, end) (docs/DOMAIN.md §6).

    - ``raised``: alarms raised in the period.
    - ``support_rate``: share of them first supported within ``support_window`` (a day).
    - ``mean_hours_to_first_support``: over the alarms supported at all, raise → first
      support.
    - ``resolution_rate``: share resolved; ``mean_hours_to_resolution``: over those, raise →
      resolution.
    - ``by_stage``, ``by_category``, ``by_person`` (requester), ``by_team`` (the requester's
      supervisor, ``leader_id``): raised, supported (within the window), resolved.
    - ``supporters``: see ``supporter_ranking``.

    Responses and resolutions count whenever they happened (the period selects alarms by
    their raise). Rates are rounded to 4 decimals, hours to 2; over no alarms they are None.
    """
    names = names or {}
    chosen = [a for a in alarms if start <= a.raised_at < end]
    supported = [a for a in chosen if first_support_at(a) is not None]
    resolved = [a for a in chosen if a.resolved_at is not None]
    in_time = sum(_supported_in_time(a, support_window) for a in chosen)
    return {
        "raised": len(chosen),
        "support_rate": _rate(in_time, len(chosen)),
        "mean_hours_to_first_support": _mean_hours(
            [first_support_at(a) - a.raised_at for a in supported]
        ),
        "resolution_rate": _rate(len(resolved), len(chosen)),
        "mean_hours_to_resolution": _mean_hours([a.resolved_at - a.raised_at for a in resolved]),
        "by_stage": _distribution(chosen, lambda a: a.stage, "stage", support_window),
        "by_category": _distribution(chosen, lambda a: a.category, "category", support_window),
        "by_person": _distribution(
            chosen, lambda a: str(a.requester_id), "user_id", support_window, names
        ),
        "by_team": _distribution(
            chosen, lambda a: a.team_leader_id, "leader_id", support_window, names
        ),
        "supporters": supporter_ranking(chosen, names),
    }
