"""Customer care reminders without a database (services/customer/care.py).

Specifications (docs/DOMAIN.md §7, docs/API.md GET /reminders): for a window of days, decision
makers' birthdays (solar or lunar; others' birthdays are not reminded), founding anniversaries with
the number of years, important dates once or yearly, appointments agreed in work logs on their local
day, and revisits due ``interval`` after the last revisit or the win — overdue ones stay listed
until done. Contact names stay masked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace as Obj

from lunar_python import Lunar

from services.customer import care

WINDOW = care.Window.of(date(2026, 12, 1), 3)  # 1, 2 and 3 December 2026


def contact(n, birthday, calendar="solar", decision_maker=True, name="王建国"):
    return Obj(id=n, customer_id=100 + n, name=name, birthday=birthday,
               birthday_calendar=calendar, decision_maker=decision_maker)  # fmt: skip


def test_the_window_holds_its_first_day_and_not_the_day_after_its_last():
    assert date(2026, 12, 1) in WINDOW and date(2026, 12, 3) in WINDOW
    assert date(2026, 12, 4) not in WINDOW and date(2026, 11, 30) not in WINDOW


def test_only_decision_makers_birthdays_are_reminded_with_the_name_masked():
    items = list(care.birthdays([
        contact(1, date(1980, 12, 2)),
        contact(2, date(1980, 12, 2), decision_maker=False),
        contact(3, date(1980, 12, 9)),
        contact(4, None),
    ], WINDOW))  # fmt: skip
    assert [(i["contact_id"], i["date"]) for i in items] == [(1, date(2026, 12, 2))]
    assert items[0]["label"].startswith("王*国 生日") and "建" not in items[0]["label"]


def test_a_lunar_birthday_is_reminded_on_the_day_the_library_gives_and_says_so():
    born = Lunar.fromYmd(1975, 10, 22).getSolar()
    when = Lunar.fromYmd(2026, 10, 22).getSolar()
    expected = date(when.getYear(), when.getMonth(), when.getDay())
    window = care.Window.of(expected, 1)
    items = list(care.birthdays(
        [contact(1, date(born.getYear(), born.getMonth(), born.getDay()), "lunar")], window
    ))  # fmt: skip
    assert [i["date"] for i in items] == [expected]
    assert "农历十月廿二" in items[0]["label"] and items[0]["calendar"] == "lunar"


def test_an_anniversary_counts_the_years():
    company = Obj(id=7, name="华东精工", founded_on=date(2006, 12, 3))
    (item,) = care.anniversaries([company], WINDOW)
    assert (item["date"], item["years"]) == (date(2026, 12, 3), 20)
    assert "成立20周年" in item["label"]


def test_important_dates_once_or_every_year():
    dates = [
        Obj(id=1, customer_id=5, label="签约纪念日", date=date(2024, 12, 1), recurring=True),
        Obj(id=2, customer_id=5, label="新厂投产", date=date(2026, 12, 2), recurring=False),
        Obj(id=3, customer_id=5, label="去年的展会", date=date(2025, 12, 2), recurring=False),
        Obj(id=4, customer_id=5, label="今年首次", date=date(2026, 12, 3), recurring=True),
    ]
    items = [(i["label"], i["date"]) for i in care.important_dates(dates, WINDOW)]
    assert items == [
        ("签约纪念日", date(2026, 12, 1)),
        ("新厂投产", date(2026, 12, 2)),
        ("今年首次", date(2026, 12, 3)),
    ]


def test_an_appointment_falls_on_its_local_day(monkeypatch):
    monkeypatch.setenv("BPC_TZ", "Asia/Shanghai")
    # 16:30 UTC on 30 November is 00:30 on 1 December in Shanghai
    entry = Obj(entry_id="e1", customer_id=9, author_id="u1",
                next_appointment_at=datetime(2026, 11, 30, 16, 30, tzinfo=UTC))  # fmt: skip
    (item,) = care.appointments([entry], WINDOW)
    assert item["date"] == date(2026, 12, 1) and "00:30" in item["label"]


def test_a_revisit_is_due_after_the_interval_and_stays_listed_when_overdue(monkeypatch):
    monkeypatch.setenv("BPC_TZ", "Asia/Shanghai")
    won = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    due_now = Obj(id=1, name="甲", care_since=won, last_revisit_at=None, revisit_interval_days=15)
    overdue = Obj(
        id=2, name="乙", care_since=datetime(2026, 9, 1, tzinfo=UTC),
        last_revisit_at=datetime(2026, 10, 1, 3, tzinfo=UTC), revisit_interval_days=15,
    )  # fmt: skip
    later = Obj(id=3, name="丙", care_since=won, last_revisit_at=None, revisit_interval_days=30)
    prospect = Obj(id=4, name="丁", care_since=None, last_revisit_at=None, revisit_interval_days=15)
    items = list(care.revisits([due_now, overdue, later, prospect], WINDOW))
    assert [(i["customer_id"], i["date"], i["overdue"]) for i in items] == [
        (1, date(2026, 12, 1), False),
        (2, date(2026, 10, 16), True),
    ]


def test_reminders_are_ordered_by_date_then_kind():
    items = [
        {"kind": "revisit", "date": date(2026, 12, 2), "customer_id": 1, "key": "a"},
        {"kind": "birthday", "date": date(2026, 12, 2), "customer_id": 2, "key": "b"},
        {"kind": "appointment", "date": date(2026, 12, 1), "customer_id": 3, "key": "c"},
    ]
    assert [i["key"] for i in care.ordered(items)] == ["c", "b", "a"]


def test_birthday_labels_are_chinese_then_english_split_by_a_spaced_slash():
    """Every label reads "中文 / English", as the API's texts do: clients show one part."""
    born = Lunar.fromYmd(1980, 10, 22).getSolar()
    items = list(care.birthdays([
        contact(1, date(1980, 12, 2)),
        contact(2, date(born.getYear(), born.getMonth(), born.getDay()), "lunar"),
    ], care.Window.of(date(2026, 11, 25), 40)))  # fmt: skip
    labels = {i["calendar"]: i["label"] for i in items}
    for label in labels.values():
        chinese, english = label.rsplit(" / ", 1)
        assert "生日" in chinese and english.startswith("Birthday"), label
    assert labels["lunar"].endswith("） / Birthday (lunar)"), labels["lunar"]
