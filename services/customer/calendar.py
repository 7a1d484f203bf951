"""Yearly dates of customer care: birthdays in the solar or the lunar calendar (农历),
founding anniversaries and recurring important dates, and when they fall in a window of days.

Readings (docs/DOMAIN.md §7):

- A birthday is stored as the real (solar) date of birth. ``solar``: celebrated on the same
  month and day every year; 29 February on 28 February in years without it. ``lunar``: on the
  solar date that carries the lunar month and day of birth that year (the lunar library
  ``lunar-python`` converts, over 1900–2100; no hand-made table). A person born in a leap month
  (闰月) celebrates in the month of that number, the usual custom; one born on the 30th of a
  lunar month celebrates on its last day in a year when it has 29 days.
- A founding anniversary or a recurring important date is solar, as a birthday.
- A window is ``[start, start + days)``: ``days`` = 3 from today gives today and the next two.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache

from lunar_python import Lunar, LunarMonth, LunarYear, Solar

SOLAR = "solar"
LUNAR = "lunar"
CALENDARS = (SOLAR, LUNAR)


def solar_in_year(original: date, year: int) -> date:
    """The yearly return of ``original`` in ``year`` (29 February → 28 February)."""
    if original.month == 2 and original.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return original.replace(year=year)


# lunar-python builds a whole lunar year (solar terms included) for each conversion: about 10 ms
# a date. Its month starts and lengths are read once per lunar year instead (cached), and a date
# is then placed by bisection — the library's own calendar, at a few microseconds a date.
JULIAN_DAY_OF_ORDINAL_0 = 1721425  # lunar-python's integer Julian day of date.fromordinal(0)


@lru_cache(maxsize=1024)
def _listed_months(year: int) -> tuple[tuple[int, int, int, int], ...]:
    """(first day as an ordinal, lunar year, month (negative: leap), days) of every month the
    library lists for lunar year ``year`` (it includes the last months of the year before)."""
    return tuple(
        (m.getFirstJulianDay() - JULIAN_DAY_OF_ORDINAL_0, m.getYear(), m.getMonth(),
         m.getDayCount())
        for m in LunarYear.fromYear(year).getMonths()
    )  # fmt: skip


@lru_cache(maxsize=1024)
def _months_around(year: int) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """The months covering solar year ``year``, by first day: (first days, months)."""
    months = sorted(set(_listed_months(year - 1) + _listed_months(year) + _listed_months(year + 1)))
    return [m[0] for m in months], months


def _lunar_month_of(day: date) -> tuple[int, int, int, int]:
    starts, months = _months_around(day.year)
    return months[bisect_right(starts, day.toordinal()) - 1]


def lunar_month_day(original: date) -> tuple[int, int]:
    """The lunar month (1–12, a leap month as its number) and day of a solar date."""
    try:
        first, _, month, _ = _lunar_month_of(original)
    except Exception:  # noqa: BLE001 - outside the years the month lists cover: ask directly
        lunar = Solar.fromYmd(original.year, original.month, original.day).getLunar()
        return abs(lunar.getMonth()), lunar.getDay()
    return abs(month), original.toordinal() - first + 1


def lunar_in_year(month: int, day: int, lunar_year: int) -> date:
    """The solar date of lunar ``month``/``day`` in ``lunar_year`` (the regular month, not the
    leap one; day 30 on the 29th when that month is short)."""
    for first, year, number, days in _listed_months(lunar_year) + _listed_months(lunar_year + 1):
        if year == lunar_year and number == month:
            return date.fromordinal(first + min(day, days) - 1)
    days = LunarMonth.fromYm(lunar_year, month).getDayCount()
    solar = Lunar.fromYmd(lunar_year, month, min(day, days)).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def lunar_year_of(day: date) -> int:
    return _lunar_month_of(day)[1]


def returns_between(original: date, calendar: str, start: date, end: date) -> Iterator[date]:
    """Each yearly return of ``original`` on or after ``start`` and before ``end``, in order,
    never before the original itself (a company is not founded before its founding)."""
    if calendar == LUNAR:
        month, day = lunar_month_day(original)
        years = range(lunar_year_of(start) - 1, lunar_year_of(end) + 1)
        found = (lunar_in_year(month, day, year) for year in years)
    else:
        found = (solar_in_year(original, year) for year in range(start.year, end.year + 1))
    for when in sorted(set(found)):
        if start <= when < end and when > original:
            yield when


def window(start: date, days: int) -> tuple[date, date]:
    return start, start + timedelta(days=days)


def month_day(day: date) -> int:
    """``MMDD`` of a solar date, the key a yearly date is found by."""
    return day.month * 100 + day.day


def lunar_month_day_key(day: date) -> int:
    """``MMDD`` of the lunar month and day of a solar date (a leap month as its number)."""
    month, lunar_day = lunar_month_day(day)
    return month * 100 + lunar_day


def candidate_keys(start: date, end: date, calendar: str) -> set[int]:
    """Every ``MMDD`` key whose yearly return may fall in ``[start, end)``: a superset that
    a query narrows by index before ``returns_between`` decides (29 February and lunar 30ths
    falling on a shorter month's last day included)."""
    keys: set[int] = set()
    day = start
    while day < end:
        if calendar == LUNAR:
            key = lunar_month_day_key(day)
            keys.add(key)
            if key % 100 == 29:  # a 29-day month: the 30th is celebrated on its last day
                keys.add(key + 1)
        else:
            keys.add(month_day(day))
            if day.month == 2 and day.day == 28:
                keys.add(229)
        day += timedelta(days=1)
    return keys


def yearly_key(day: date | None, calendar: str = SOLAR) -> int | None:
    """The ``MMDD`` key of a yearly date in its calendar (None for no date)."""
    if day is None:
        return None
    return lunar_month_day_key(day) if calendar == LUNAR else month_day(day)
