"""Tables of the worklog service alone.

``worklog_entries`` and ``entry_notes`` are append-only in the database itself (triggers refuse
UPDATE and DELETE on SQLite and PostgreSQL). Each author's entries form a hash chain:
``prev_hash`` is the author's previous entry's ``hash`` ("" for the first), and
UNIQUE(author_id, prev_hash) makes two entries recorded at once by one author unable to both
follow the same link: one of them retries on the new head, so the chain never forks and the
day's total is checked against everything committed before it.

The entry table holds no supervisor path (it could never be rewritten when people move);
visibility joins the people projection instead.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from common.db import service_base
from common.people import people_table

Base = service_base()


class Activity(Base):
    """The enterprise's activity catalog (group-wide)."""

    __tablename__ = "activities"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    points: Mapped[float] = mapped_column(Float)
    stages: Mapped[list] = mapped_column(JSON, default=list)  # empty: plausible everywhere
    needs_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Entry(Base):
    __tablename__ = "worklog_entries"
    __table_args__ = (
        UniqueConstraint("author_id", "prev_hash", name="uq_worklog_entries_chain"),
        Index("ix_worklog_entries_author_date", "author_id", "work_date"),
        Index("ix_worklog_entries_author_id", "author_id", "id"),  # the head of a chain
        Index("ix_worklog_entries_opportunity", "opportunity_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    author_id: Mapped[str] = mapped_column(String(64))
    work_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opportunity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    activities: Mapped[list] = mapped_column(JSON)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    minutes: Mapped[int] = mapped_column(Integer)
    expense_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_appointment_at: Mapped[datetime | None] = mapped_column(nullable=True)
    difficulty: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))  # "" for an author's first entry
    hash: Mapped[str] = mapped_column(String(64))


class EntryRequest(Base):
    """The Idempotency-Key an entry was recorded under (the gateway passes it on): the same
    request again — its answer lost to a crash, a timeout or a broker restart — gets the same
    entry back, never a second one."""

    __tablename__ = "entry_requests"

    author_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer)


class EntryNote(Base):
    """A note appended to an entry by its author; the entry itself stays as it was."""

    __tablename__ = "entry_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("worklog_entries.id"), index=True)
    author_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class EntryAlarm(Base):
    """The alarm raised from an entry's difficulty (alerts.alarm_raised): shown with the entry,
    which itself never changes."""

    __tablename__ = "entry_alarms"

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    alarm_id: Mapped[str] = mapped_column(String(64))


class OpportunityState(Base):
    """Projection of the opportunity service: who holds each opportunity and at which stage.

    Fed by opportunity events; ``as_of`` (the event's time) keeps a late, retried event from
    overwriting a newer state.
    """

    __tablename__ = "opportunity_states"

    opportunity_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    holder_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime]


class CustomerState(Base):
    """Projection of the customer service (facts.CUSTOMERS): who owns each customer, on which
    supervisor chain — an entry's customer must be one its author may work on."""

    __tablename__ = "customer_states"

    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_path: Mapped[str] = mapped_column(String(512))
    as_of: Mapped[datetime | None] = mapped_column(nullable=True)


Person = people_table(Base)  # org's people (common/people.py)
