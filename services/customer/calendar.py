"""Yearly dates of customer care: birthdays in the solar or the lunar calendar (农历),
founding anniversaries and recurring important dates, and when they fall in a window of days.

Readings (DOMAIN.md §7):

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

from collections.abc import Iterator
from datetime import date, timedelta

from lunar_python import Lunar, LunarMonth, Solar

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


def lunar_month_day(original: date) -> tuple[int, int]:
    """The lunar month (1–12, a leap month as its number) and day of a solar date."""
    lunar = Solar.fromYmd(original.year, original.month, original.day).getLunar()
    return abs(lunar.getMonth()), lunar.getDay()


def lunar_in_year(month: int, day: int, lunar_year: int) -> date:
    """The solar date of lunar ``month``/``day`` in ``lunar_year`` (the regular month, not the
    leap one; day 30 on the 29th when that month is short)."""
    days = LunarMonth.fromYm(lunar_year, month).getDayCount()
    solar = Lunar.fromYmd(lunar_year, month, min(day, days)).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def lunar_year_of(day: date) -> int:
    return Solar.fromYmd(day.year, day.month, day.day).getLunar().getYear()


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
