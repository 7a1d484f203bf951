"""Yearly care dates (services/customer/calendar.py): solar and lunar (农历) birthdays, 29
February, and windows across a year's end.

Specifications (docs/DOMAIN.md §7): birthdays of decision makers in the solar or the lunar calendar,
29 February on 28 February in other years, founding anniversaries; reminders for a window of
days. The lunar dates are checked against the lunar library itself, for several years.
"""

from __future__ import annotations

from datetime import date

import pytest
from lunar_python import Lunar, LunarMonth, Solar

from services.customer.calendar import LUNAR, SOLAR, lunar_month_day, returns_between


def between(original, calendar, start, end):
    return list(returns_between(original, calendar, start, end))


def test_a_solar_birthday_returns_on_its_month_and_day():
    assert between(date(1980, 5, 12), SOLAR, date(2026, 5, 10), date(2026, 5, 13)) == [
        date(2026, 5, 12)
    ]
    assert between(date(1980, 5, 12), SOLAR, date(2026, 5, 13), date(2026, 5, 16)) == []


def test_29_february_falls_on_28_february_in_other_years_only():
    born = date(1992, 2, 29)
    assert between(born, SOLAR, date(2026, 2, 26), date(2026, 3, 1)) == [date(2026, 2, 28)]
    assert between(born, SOLAR, date(2028, 2, 27), date(2028, 3, 2)) == [date(2028, 2, 29)]
    assert between(born, SOLAR, date(2028, 2, 27), date(2028, 2, 29)) == []


@pytest.mark.parametrize("year", [2026, 2027, 2031])
def test_a_lunar_birthday_falls_where_the_lunar_library_puts_that_month_and_day(year):
    born = date(1985, 9, 28)  # 农历乙丑年八月十四
    lunar = Solar.fromYmd(1985, 9, 28).getLunar()
    assert (lunar.getMonth(), lunar.getDay()) == (8, 14)
    solar = Lunar.fromYmd(year, 8, 14).getSolar()
    expected = date(solar.getYear(), solar.getMonth(), solar.getDay())
    assert between(born, LUNAR, date(year, 1, 1), date(year + 1, 1, 1)) == [expected]
    assert between(born, LUNAR, expected, date.fromordinal(expected.toordinal() + 1)) == [expected]
    assert between(born, SOLAR, expected, date.fromordinal(expected.toordinal() + 1)) == []


def test_lunar_new_year_birthday_in_a_window_across_the_solar_new_year():
    born = date(1990, 1, 27)  # 农历正月初一
    assert lunar_month_day(born) == (1, 1)
    # 2028's 春节 is 26 January 2028; a window from 30 Dec 2027 over 40 days contains it
    assert between(born, LUNAR, date(2027, 12, 30), date(2028, 2, 8)) == [date(2028, 1, 26)]


def test_born_in_a_leap_month_celebrates_in_the_month_of_that_number():
    born = date(2023, 4, 1)  # 农历闰二月十一
    lunar = Solar.fromYmd(2023, 4, 1).getLunar()
    assert (lunar.getMonth(), lunar.getDay()) == (-2, 11)
    solar = Lunar.fromYmd(2024, 2, 11).getSolar()
    assert between(born, LUNAR, date(2024, 1, 1), date(2025, 1, 1)) == [
        date(solar.getYear(), solar.getMonth(), solar.getDay())
    ]


def solar(lunar: Lunar) -> date:
    day = lunar.getSolar()
    return date(day.getYear(), day.getMonth(), day.getDay())


def test_the_thirtieth_falls_on_the_last_day_of_a_short_month():
    long_year = next(y for y in range(1980, 2000) if LunarMonth.fromYm(y, 8).getDayCount() == 30)
    born = solar(Lunar.fromYmd(long_year, 8, 30))
    short_year = next(y for y in range(2026, 2040) if LunarMonth.fromYm(y, 8).getDayCount() == 29)
    assert between(born, LUNAR, date(short_year, 1, 1), date(short_year + 1, 1, 1)) == [
        solar(Lunar.fromYmd(short_year, 8, 29))
    ]


def test_nothing_returns_before_the_original_date():
    founded = date(2026, 5, 20)
    assert between(founded, SOLAR, date(2026, 5, 1), date(2026, 6, 1)) == []
    assert between(founded, SOLAR, date(2027, 5, 19), date(2027, 5, 22)) == [date(2027, 5, 20)]


def test_the_fast_conversion_agrees_with_the_library_over_two_centuries():
    """calendar.py reads the library's month starts once per year instead of asking it per
    date (10 ms each); both must give the same lunar dates, leap months included."""
    import random
    from datetime import timedelta

    from services.customer.calendar import lunar_in_year, lunar_year_of

    rng = random.Random(20261127)
    for _ in range(250):
        day = date(1901, 3, 1) + timedelta(days=rng.randrange(0, 72_000))
        lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
        assert lunar_month_day(day) == (abs(lunar.getMonth()), lunar.getDay()), day
        assert lunar_year_of(day) == lunar.getYear(), day
    for _ in range(100):
        year, month, day = rng.randrange(1902, 2098), rng.randrange(1, 13), rng.randrange(1, 31)
        last = LunarMonth.fromYm(year, month).getDayCount()
        assert lunar_in_year(month, day, year) == solar(Lunar.fromYmd(year, month, min(day, last)))
