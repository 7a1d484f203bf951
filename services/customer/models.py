"""Tables of the customer service alone.

Duplicate protection lives in the database as much as in code: ``customers.name_key``,
``customers.uscc`` and ``contacts.phone_key`` are UNIQUE, so of many registrations of one
company at the same instant exactly one commits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.db import service_base
from common.people import people_table

Base = service_base()


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # prefix LIKE on PostgreSQL uses the index only with the pattern operator class
        Index(
            "ix_customers_owner_path",
            "owner_path",
            postgresql_ops={"owner_path": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True, nullable=True)
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    founded_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    founded_key: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # MMDD
    referred_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("customers.id"), nullable=True, index=True
    )
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    # materialised supervisor path of the owner ("/1/5/9/"): subtree visibility by prefix
    owner_path: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="prospect")
    created_at: Mapped[datetime]
    # customer care (docs/DOMAIN.md §7): since the first won opportunity; revisits every N days
    care_since: Mapped[datetime | None] = mapped_column(nullable=True)
    revisit_interval_days: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    last_revisit_at: Mapped[datetime | None] = mapped_column(nullable=True)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", order_by="Contact.id", lazy="selectin"
    )


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # normalised digits; one phone never belongs to two customers
    phone_key: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    birthday_calendar: Mapped[str] = mapped_column(String(8), default="solar")
    # MMDD of the birthday in its own calendar (services/customer/calendar.py): reminders
    # find the few contacts whose birthday may fall in a window by index
    birthday_key: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    decision_maker: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class OwnershipHistory(Base):
    """Every change of a customer's owner, never rewritten."""

    __tablename__ = "ownership_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    at: Mapped[datetime]
    from_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_owner: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(64))


class UnmaskLog(Base):
    """One row per contact shown in full: the daily quota counts these."""

    __tablename__ = "unmask_log"
    __table_args__ = (Index("ix_unmask_log_actor_at", "actor_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


Person = people_table(Base)  # org's people (common/people.py)


class ImportantDate(Base):
    """A date that matters to a customer (签约日, 周年庆 …): once, or every year."""

    __tablename__ = "important_dates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    date: Mapped[date] = mapped_column(Date)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    date_key: Mapped[int] = mapped_column(Integer, index=True)  # MMDD
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Revisit(Base):
    """A care revisit (回访), never rewritten; it may confirm or deny a claimed visit."""

    __tablename__ = "revisits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    verifies_entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    verification: Mapped[str | None] = mapped_column(String(16), nullable=True)


class CustomerEntry(Base):
    """Projection of work-log entries about a customer (worklog.entry_recorded): the
    appointments they agreed, and which claimed visit a revisit may verify."""

    __tablename__ = "customer_entries"
    __table_args__ = (Index("ix_customer_entries_appointment", "next_appointment_at"),)

    entry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    author_id: Mapped[str] = mapped_column(String(64))
    work_date: Mapped[date] = mapped_column(Date)
    visit: Mapped[bool] = mapped_column(Boolean, default=False)
    next_appointment_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ReminderSent(Base):
    """One ``reminder_due`` event per reminder and day, whatever the number of instances."""

    __tablename__ = "reminders_sent"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent_on: Mapped[date] = mapped_column(Date, index=True)
