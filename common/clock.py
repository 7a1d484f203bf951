"""The one clock: every rule that involves time takes "now" from here.

Durations are ISO 8601 (``P14D``, ``PT2S``) so tests run real, short deadlines instead of
patching time. ``BPC_CLOCK_OFFSET`` (an ISO 8601 duration, may start with ``-``) shifts the
clock for demo data and manual trials.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from common import config

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class InvalidDuration(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration of weeks, days, hours, minutes and seconds.

    Years and months have no fixed length and are refused: a stage clock must be exact.
    """
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidDuration(f"not an ISO 8601 duration such as P14D or PT2S: {text!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    delta = timedelta(**parts)
    return -delta if match.group("sign") else delta


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{sign}P" + (f"{days}D" if days else "")
    if hours or minutes or secs or not days:
        out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        out += f"{secs}S" if secs or not (hours or minutes) else ""
    return out


def _offset() -> timedelta:
    raw = os.environ.get("BPC_CLOCK_OFFSET")
    return parse_duration(raw) if raw else timedelta(0)


def now() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC) + _offset()


_zones: dict[str, ZoneInfo] = {}


def org_tz() -> ZoneInfo:
    """The organisation's time zone (BPC_TZ), one ZoneInfo per name (hot in formatting)."""
    name = config.tz_name()
    zone = _zones.get(name)
    if zone is None:
        zone = _zones[name] = ZoneInfo(name)
    return zone


def today() -> date:
    """The organisation's calendar date (work dates, quotas, birthdays)."""
    return now().astimezone(org_tz()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """UTC start and end of one organisation-time-zone day."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=org_tz())
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """RFC 3339 with offset, in the organisation's time zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite returns naive datetimes; we always store UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(org_tz()).isoformat(timespec="seconds")


def isoformat_exact(moment: datetime) -> str:
    """RFC 3339 in the organisation's time zone to the microsecond: the time of a change, which
    projections order by and compare with a caller's own later change (``isoformat`` keeps
    whole seconds, and two changes within one second would look alike)."""
    return as_utc(moment).astimezone(org_tz()).isoformat(timespec="microseconds")


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
