"""Customer care rules without a database (docs/DOMAIN.md §7): which reminders fall in a window of
days, and when a care customer's revisit is due.

A reminder is ``{"kind", "date", "customer_id", "contact_id"?, "label", …}`` (docs/API.md
``GET /reminders``), with a ``key`` naming it uniquely (the ``reminder_due`` event is sent once
per key and day). Kinds:

- ``birthday``: a decision maker's birthday, solar or lunar (services/customer/calendar.py);
  the contact's name is shown masked, as everywhere else until it is unmasked;
- ``anniversary``: the company's founding day, with the number of years;
- ``important_date``: once on its date, or every year when recurring;
- ``appointment``: agreed in a work-log entry (its next appointment), on that local day;
- ``revisit``: a care customer's revisit, due ``revisit_interval`` after the last revisit (or
  after becoming a care customer); an overdue one is listed on its due date with
  ``overdue: true`` whatever the window, until it is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from common import clock
from services.customer.calendar import LUNAR, lunar_month_day, returns_between
from services.customer.domain import mask_person_name

KINDS = ("birthday", "anniversary", "important_date", "appointment", "revisit")
DEFAULT_REVISIT_DAYS = 15
CHINESE_MONTHS = "正二三四五六七八九十冬腊"
CHINESE_DAYS = ["初" + d for d in "一二三四五六七八九十"] + [
    "十一", "十二", "十三", "十四", "十五", "十六", "十七", "十八", "十九", "二十",
    "廿一", "廿二", "廿三", "廿四", "廿五", "廿六", "廿七", "廿八", "廿九", "三十",
]  # fmt: skip


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in local days."""

    start: date
    end: date

    @classmethod
    def of(cls, start: date, days: int) -> Window:
        return cls(start, start + timedelta(days=days))

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end


def lunar_label(day: date) -> str:
    month, lunar_day = lunar_month_day(day)
    return f"农历{CHINESE_MONTHS[month - 1]}月{CHINESE_DAYS[lunar_day - 1]}"


def birthdays(contacts: Iterable, window: Window) -> Iterator[dict]:
    """Decision makers' birthdays (objects with id, customer_id, name, birthday,
    birthday_calendar, decision_maker)."""
    for contact in contacts:
        if not contact.decision_maker or contact.birthday is None:
            continue
        calendar = contact.birthday_calendar or "solar"
        for day in returns_between(contact.birthday, calendar, window.start, window.end):
            name = mask_person_name(contact.name)
            if calendar == LUNAR:
                label = f"{name} 生日（{lunar_label(contact.birthday)}） / Birthday (lunar)"
            else:
                label = f"{name} 生日 / Birthday"
            yield {
                "kind": "birthday",
                "date": day,
                "customer_id": contact.customer_id,
                "contact_id": contact.id,
                "label": label,
                "calendar": calendar,
                "key": f"birthday:{contact.id}:{day.isoformat()}",
            }


def anniversaries(customers: Iterable, window: Window) -> Iterator[dict]:
    """Founding anniversaries (objects with id, name, founded_on)."""
    for customer in customers:
        if customer.founded_on is None:
            continue
        for day in returns_between(customer.founded_on, "solar", window.start, window.end):
            years = day.year - customer.founded_on.year
            yield {
                "kind": "anniversary",
                "date": day,
                "customer_id": customer.id,
                "label": f"{customer.name} 成立{years}周年 / Founded {years} years ago",
                "years": years,
                "key": f"anniversary:{customer.id}:{day.isoformat()}",
            }


def important_dates(dates: Iterable, window: Window) -> Iterator[dict]:
    """Important dates (objects with id, customer_id, label, date, recurring)."""
    for item in dates:
        if item.recurring:
            days = list(returns_between(item.date, "solar", window.start, window.end))
            if item.date in window:
                days.insert(0, item.date)
        else:
            days = [item.date] if item.date in window else []
        for day in days:
            yield {
                "kind": "important_date",
                "date": day,
                "customer_id": item.customer_id,
                "label": item.label,
                "recurring": bool(item.recurring),
                "key": f"important_date:{item.id}:{day.isoformat()}",
            }


def appointments(entries: Iterable, window: Window) -> Iterator[dict]:
    """Appointments agreed in work-log entries (objects with entry_id, customer_id,
    author_id, next_appointment_at)."""
    for entry in entries:
        if entry.next_appointment_at is None:
            continue
        local = clock.as_utc(entry.next_appointment_at).astimezone(clock.org_tz())
        if local.date() in window:
            yield {
                "kind": "appointment",
                "date": local.date(),
                "customer_id": entry.customer_id,
                "label": f"约见 {local:%H:%M} / Appointment at {local:%H:%M}",
                "at": clock.isoformat(entry.next_appointment_at),
                "entry_id": entry.entry_id,
                "user_id": entry.author_id,
                "key": f"appointment:{entry.entry_id}",
            }


def revisit_due(care_since: datetime | None, last_revisit_at: datetime | None, days: int):
    """The local day a care customer's next revisit is due; None if not a care customer."""
    since = last_revisit_at or care_since
    if since is None:
        return None
    local = clock.as_utc(since).astimezone(clock.org_tz()).date()
    return local + timedelta(days=days)


def revisits(customers: Iterable, window: Window) -> Iterator[dict]:
    """Due and overdue revisits (objects with id, name, care_since, last_revisit_at,
    revisit_interval_days)."""
    for customer in customers:
        due = revisit_due(
            customer.care_since, customer.last_revisit_at, customer.revisit_interval_days
        )
        if due is None or due >= window.end:
            continue
        overdue = due < window.start
        yield {
            "kind": "revisit",
            "date": due,
            "customer_id": customer.id,
            "label": (
                f"{customer.name} 回访已逾期 / Revisit overdue"
                if overdue
                else f"{customer.name} 回访到期 / Revisit due"
            ),
            "overdue": overdue,
            "key": f"revisit:{customer.id}:{due.isoformat()}",
        }


def ordered(items: Iterable[dict]) -> list[dict]:
    """By date, then kind (in ``KINDS`` order), then customer."""
    return sorted(
        items, key=lambda r: (r["date"], KINDS.index(r["kind"]), r["customer_id"], r["key"])
    )
