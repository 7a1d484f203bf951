"""Work-log rules as plain Python: the activity catalog, the work date and its grace hour, the
limits on minutes and expense, who may log on an opportunity, the difficulty report and the
per-author hash chain that makes entries tamper-evident.

Nothing here touches Nameko or the database (docs/DOMAIN.md §4); every rule is tested in
microseconds in tests/unit/test_worklog_domain.py. Times are aware datetimes, money integer
fen (decimal strings at the edges).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from common import clock
from common.errors import BusinessRuleViolated, ValidationFailed
from common.money import BAD_MONEY, MAX_FEN, format_money, parse_money  # noqa: F401

REQUIRED = "必填 / Required"
NOT_OBJECT = "须为对象 / Must be an object"
NOT_LIST = "须为列表 / Must be a list"

# --- the activity catalog ------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    key: str
    name: str
    points: float
    stages: tuple[str, ...] = ()  # empty: plausible at every stage
    needs_customer: bool = True

    def allowed_at(self, stage: str | None) -> bool:
        """Whether the activity may be logged on an opportunity at ``stage`` (None: no
        opportunity, so no stage to object to)."""
        return not self.stages or stage is None or stage in self.stages


# Stages use the default pipeline's keys (contact, needs, demo, quote, negotiate, payment,
# won). docs/DOMAIN.md §4 only says call and visit fit every stage; the rest is our reading of the
# sales process: a demo or proposal makes sense once the need is known and until the quote is
# negotiated, negotiation follows a quote, a contract is signed while negotiating or when
# payment starts, and money is collected from the payment stage on. Revisits (after-sales
# care) and internal work are not tied to a stage. Admins replace entries with put_activity.
DEFAULT_CATALOG: tuple[Activity, ...] = (
    Activity("call", "电话联系 Call", 1),
    Activity("visit", "拜访客户 Customer visit", 3),
    Activity("demo", "产品演示 Product demo", 5, ("needs", "demo", "quote")),
    Activity("proposal", "提交方案 Proposal", 5, ("needs", "demo", "quote", "negotiate")),
    Activity("negotiation", "商务谈判 Negotiation", 5, ("quote", "negotiate")),
    Activity("contract", "签订合同 Contract signing", 10, ("negotiate", "payment")),
    Activity("collection", "催收回款 Payment collection", 3, ("payment", "won")),
    Activity("revisit", "客户回访 Revisit", 2),
    Activity("meeting", "内部会议 Internal meeting", 0.5, needs_customer=False),
    Activity("training", "培训学习 Training", 0.5, needs_customer=False),
)

KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")  # as the opportunity service's
MAX_NAME = 100
MAX_POINTS = 1000

BAD_KEY = (
    "键须以字母开头，仅含字母、数字、_ 和 -，最多 40 个字符 / "
    "Key must start with a letter and use letters, digits, _ and - (at most 40 characters)"
)
BAD_NAME = "须为非空文本（最多 100 字） / Must be non-blank text (at most 100 characters)"
BAD_POINTS = "分值须为 0 到 1000 之间的数 / Points must be a number from 0 to 1000"
DUPLICATE_KEY = "键重复 / Duplicate key"
NOT_BOOL = "须为 true 或 false / Must be true or false"


def _is_number(value: Any) -> bool:
    """A finite JSON number (not a bool, not an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_key(value: Any) -> bool:
    return isinstance(value, str) and bool(KEY_PATTERN.match(value))


def parse_activity(data: Any) -> Activity:
    """Validate an admin's catalog entry; every problem is listed in one 422."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(details={"_schema": [NOT_OBJECT]})
    errors: dict[str, list[str]] = {}

    key = data.get("key")
    if not _is_key(key):
        errors["key"] = [REQUIRED if key is None else BAD_KEY]

    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        errors["name"] = [REQUIRED if name is None else BAD_NAME]

    points = data.get("points")
    if not _is_number(points) or not (0 <= points <= MAX_POINTS):
        errors["points"] = [REQUIRED if points is None else BAD_POINTS]

    stages = data.get("stages")
    if stages is None:
        stages = []
    if not isinstance(stages, list | tuple):
        errors["stages"] = [NOT_LIST]
        stages = []
    seen: set[str] = set()
    for i, stage in enumerate(stages):
        if not _is_key(stage):
            errors.setdefault(f"stages.{i}", []).append(BAD_KEY)
        elif stage in seen:
            errors.setdefault(f"stages.{i}", []).append(DUPLICATE_KEY)
        else:
            seen.add(stage)

    needs_customer = data.get("needs_customer", True)
    if needs_customer is None:
        needs_customer = True
    if not isinstance(needs_customer, bool):
        errors["needs_customer"] = [NOT_BOOL]

    if errors:
        raise ValidationFailed(details=errors)
    return Activity(
        key=key,
        name=name.strip(),
        points=float(points),
        stages=tuple(stages),
        needs_customer=needs_customer,
    )


def activity_to_dict(activity: Activity) -> dict:
    """The API shape of a catalog entry; parse_activity's inverse."""
    return {
        "key": activity.key,
        "name": activity.name,
        "points": activity.points,
        "stages": list(activity.stages),
        "needs_customer": activity.needs_customer,
    }


# --- the work date -------------------------------------------------------------------------

MIN_MINUTES = 1
MAX_MINUTES = 960
DAY_LIMIT = 1440
DEFAULT_GRACE_HOUR = 10

FUTURE_DATE = "不能为将来的日期记录工作 / Work cannot be logged for a future date"
TOO_LATE = (
    "只能记录今天的工作；昨天的工作须在宽限时间前补记 / "
    "Only today's work can be logged; yesterday's only before the grace hour"
)
BAD_DATE = "日期格式须为 YYYY-MM-DD / Date must be YYYY-MM-DD"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _as_date(value: Any, field_name: str) -> date:
    """A calendar date, or an ISO ``YYYY-MM-DD`` string; a datetime has no single date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationFailed(details={field_name: [BAD_DATE]})


def resolve_work_date(
    requested: date | str | None,
    now: datetime,
    tz: ZoneInfo,
    grace_hour: int = DEFAULT_GRACE_HOUR,
) -> tuple[date, bool]:
    """(work date, late): today in the organisation's time zone, or yesterday until the grace
    hour (marked late). Older dates are ``too_late``, later ones ``future_date`` (both 422)."""
    local = clock.as_utc(now).astimezone(tz)
    today = local.date()
    work_date = today if requested is None else _as_date(requested, "work_date")
    if work_date == today:
        return work_date, False
    details = {"work_date": work_date.isoformat(), "today": today.isoformat()}
    if work_date > today:
        raise BusinessRuleViolated(FUTURE_DATE, details, code="future_date")
    if work_date == today - timedelta(days=1) and local.hour < grace_hour:
        return work_date, True
    raise BusinessRuleViolated(TOO_LATE, {**details, "grace_hour": grace_hour}, code="too_late")


# --- minutes and money ---------------------------------------------------------------------

BAD_MINUTES = (
    f"分钟数须为 {MIN_MINUTES} 到 {MAX_MINUTES} 之间的整数 / "
    f"Minutes must be a whole number from {MIN_MINUTES} to {MAX_MINUTES}"
)
DAY_LIMIT_EXCEEDED = (
    f"当天累计时长不能超过 {DAY_LIMIT} 分钟 / A day's total may not exceed {DAY_LIMIT} minutes"
)
EXPENSE_OVER_CAP = "费用超过上限 / The expense is over the cap"


def check_minutes(minutes: Any) -> int:
    """Minutes of one entry: a whole number from 1 to 960."""
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not (MIN_MINUTES <= minutes <= MAX_MINUTES)
    ):
        raise ValidationFailed(details={"minutes": [BAD_MINUTES]})
    return minutes


def check_day_total(already: int, minutes: int) -> None:
    """A day's minutes (those already logged plus this entry's) stay within 1,440."""
    if already + minutes > DAY_LIMIT:
        raise BusinessRuleViolated(
            DAY_LIMIT_EXCEEDED,
            {"already": already, "minutes": minutes, "limit": DAY_LIMIT},
            code="day_limit_exceeded",
        )


def check_expense(fen: int, cap_fen: int) -> None:
    """An entry's expense may not exceed the configured cap (both in fen)."""
    if fen > cap_fen:
        raise BusinessRuleViolated(
            EXPENSE_OVER_CAP,
            {"expense": format_money(fen), "cap": format_money(cap_fen)},
            code="expense_over_cap",
        )


# --- activities, customer and opportunity --------------------------------------------------

NO_ACTIVITIES = "至少勾选一项活动 / Tick at least one activity"
NOT_KEY_LIST = "须为活动键的列表 / Must be a list of activity keys"
DUPLICATE_ACTIVITY = "活动重复 / Activities must be distinct"
UNKNOWN_ACTIVITY = "未知活动 / Unknown activity"
CUSTOMER_NEEDED = "这些活动须选择客户 / These activities need a customer"
NOT_ALLOWED = (
    "商机当前阶段不适合这些活动 / These activities do not fit the opportunity's current stage"
)
UNKNOWN_OPPORTUNITY = "未知商机 / Unknown opportunity"
NOT_HELD = "只能为自己持有的商机记录工作 / Work can only be logged on an opportunity you hold"


def check_activities(
    keys: Any,
    catalog: Mapping[str, Activity],
    stage: str | None,
    has_customer: bool,
) -> list[Activity]:
    """The ticked activities, in the order given: a non-empty list of distinct known keys,
    each with a customer if it needs one and plausible at the opportunity's stage."""
    if not isinstance(keys, list | tuple) or any(not isinstance(k, str) for k in keys):
        raise ValidationFailed(details={"activities": [NOT_KEY_LIST]})
    if not keys:
        raise ValidationFailed(details={"activities": [NO_ACTIVITIES]})
    errors: dict[str, list[str]] = {}
    if len(set(keys)) != len(keys):
        errors.setdefault("activities", []).append(DUPLICATE_ACTIVITY)
    unknown = [k for k in dict.fromkeys(keys) if k not in catalog]
    if unknown:
        errors.setdefault("activities", []).append(f"{UNKNOWN_ACTIVITY}: {', '.join(unknown)}")
    chosen = [catalog[k] for k in dict.fromkeys(keys) if k in catalog]
    needing = [a.key for a in chosen if a.needs_customer]
    if needing and not has_customer:
        errors["customer_id"] = [f"{CUSTOMER_NEEDED}: {', '.join(needing)}"]
    if errors:
        raise ValidationFailed(details=errors)
    refused = [a.key for a in chosen if not a.allowed_at(stage)]
    if refused:
        raise BusinessRuleViolated(
            NOT_ALLOWED, {"activities": refused, "stage": stage}, code="activity_not_allowed"
        )
    return chosen


UNKNOWN_CUSTOMER = (
    "客户不存在，或不是你可以记录工作的客户 / Unknown customer, or not one you may log work on"
)
OTHER_CUSTOMER = "客户与商机不符 / The customer is not the opportunity's customer"


def check_customer(known: bool, may_work_on: bool) -> None:
    """An entry's customer must exist and be one its author may work on (their own, the
    customer of an opportunity they hold, or — from level 3 — one of their branch). A customer
    that does not exist and one the author may not see are refused alike."""
    if not (known and may_work_on):
        raise ValidationFailed(details={"customer_id": [UNKNOWN_CUSTOMER]})


def check_opportunity_customer(given: str | None, opportunity_customer: str | None) -> None:
    """An entry that names both must name the opportunity's own customer."""
    if (
        given is not None
        and opportunity_customer is not None
        and str(given) != str(opportunity_customer)
    ):
        raise ValidationFailed(details={"customer_id": [OTHER_CUSTOMER]})


def check_holder(holder_id: str | None, author_id: str) -> None:
    """Work on an opportunity is logged only by its holder (None: the opportunity is unknown
    to the worklog's projection)."""
    if holder_id is None:
        raise ValidationFailed(details={"opportunity_id": [UNKNOWN_OPPORTUNITY]})
    if str(holder_id) != str(author_id):
        raise BusinessRuleViolated(NOT_HELD, code="opportunity_not_held")


# --- the difficulty report -----------------------------------------------------------------

MAX_CATEGORY = 64
MAX_DESCRIPTION = 2000
MAX_ANALYSIS = 5000
DIFFICULTY_FIELDS = ("category", "description", "analysis", "amount")
BAD_CATEGORY = "须为非空文本（最多 64 字） / Must be non-blank text (at most 64 characters)"
BAD_DESCRIPTION = "须为非空文本（最多 2000 字） / Must be non-blank text (at most 2000 characters)"
BAD_ANALYSIS = "须为文本（最多 5000 字） / Must be text (at most 5000 characters)"
UNKNOWN_FIELD = "未知字段 / Unknown field"


def difficulty_in(data: Any) -> dict | None:
    """An optional difficulty report → ``{"category", "description", "analysis", "amount"}``
    (texts stripped, amount a decimal string or None); every problem is listed in one 422."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ValidationFailed(details={"difficulty": [NOT_OBJECT]})
    errors: dict[str, list[str]] = {}
    for name in data:
        if name not in DIFFICULTY_FIELDS:
            errors[f"difficulty.{name}"] = [UNKNOWN_FIELD]

    def text(name: str, limit: int, message: str, *, blank_ok: bool = False) -> str:
        value = data.get(name)
        if value is None and blank_ok:
            return ""
        if (
            not isinstance(value, str)
            or (not value.strip() and not blank_ok)
            or len(value.strip()) > limit
        ):
            errors[f"difficulty.{name}"] = [REQUIRED if value is None else message]
            return ""
        return value.strip()

    category = text("category", MAX_CATEGORY, BAD_CATEGORY)
    description = text("description", MAX_DESCRIPTION, BAD_DESCRIPTION)
    analysis = text("analysis", MAX_ANALYSIS, BAD_ANALYSIS, blank_ok=True)
    amount = None
    if data.get("amount") is not None:
        try:
            amount = format_money(parse_money(data["amount"], "difficulty.amount"))
        except ValidationFailed as failed:
            errors.update(failed.details)
    if errors:
        raise ValidationFailed(details=errors)
    return {
        "category": category,
        "description": description,
        "analysis": analysis,
        "amount": amount,
    }


# --- the hash chain ------------------------------------------------------------------------

# What an entry was when recorded. Appended notes, the alarm raised from it and the chain
# fields themselves stay outside, so adding a note never breaks the chain.
# the entry's id is not hashed: the hash is computed before the database numbers the row (an
# INSERT-only table cannot be updated with it afterwards); the chain link orders the entries
CANONICAL_FIELDS = (
    "author_id",
    "work_date",
    "recorded_at",
    "late",
    "customer_id",
    "opportunity_id",
    "stage",
    "activities",
    "minutes",
    "expense_fen",
    "note",
    "next_appointment_at",
    "difficulty",
)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _moment(value: Any) -> str | None:
    """RFC 3339 in UTC with microseconds, whether given a datetime or its text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if not isinstance(value, datetime):
        raise ValueError(f"not a moment: {value!r}")
    return clock.as_utc(value).isoformat(timespec="microseconds")


def _day(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        raise ValueError(f"a work date is a date, not a moment: {value!r}")
    if isinstance(value, str):
        value = date.fromisoformat(value.strip())
    if not isinstance(value, date):
        raise ValueError(f"not a date: {value!r}")
    return value.isoformat()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def canonical(entry: Mapping[str, Any]) -> str:
    """The canonical JSON of an entry's immutable fields: the same entry always gives the same
    text, whether its values come from the request (datetimes, ints) or from storage (text).

    Ids are text, times UTC with microseconds, a missing expense is 0 fen; ValueError when a
    date or time cannot be read.
    """
    expense = entry.get("expense_fen")
    activities = entry.get("activities")
    canonical_entry = {
        "author_id": _id(entry.get("author_id")),
        "work_date": _day(entry.get("work_date")),
        "recorded_at": _moment(entry.get("recorded_at")),
        "late": bool(entry.get("late")),
        "customer_id": _id(entry.get("customer_id")),
        "opportunity_id": _id(entry.get("opportunity_id")),
        "stage": entry.get("stage"),
        "activities": [str(a) for a in activities] if activities is not None else [],
        "minutes": int(entry["minutes"]) if entry.get("minutes") is not None else None,
        "expense_fen": int(expense) if expense is not None else 0,
        "note": entry.get("note"),
        "next_appointment_at": _moment(entry.get("next_appointment_at")),
        "difficulty": entry.get("difficulty") or None,
    }
    return json.dumps(
        canonical_entry,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=_json_default,
    )


def chain_hash(prev_hash: str | None, entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the previous entry's hash (empty for the first) and this entry."""
    text = (prev_hash or "") + "\n" + canonical(entry)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def first_broken(
    entries: Iterable[tuple[Mapping[str, Any], str, str | None]],
) -> int | str | None:
    """The id of the first broken link of ONE author's chain, given in chain order as
    (entry fields, stored hash, stored prev_hash); None when the chain is whole.

    A link is broken when its prev_hash is not the previous entry's hash (the first entry has
    none) or its hash is not the hash of its own content on that prev_hash.
    """
    previous: str | None = None
    for fields, stored_hash, stored_prev in entries:
        if (stored_prev or None) != previous:
            return fields.get("id")
        try:
            expected = chain_hash(previous, fields)
        except (ValueError, TypeError):  # unreadable content is tampered content
            return fields.get("id")
        if stored_hash != expected:
            return fields.get("id")
        previous = stored_hash
    return None
