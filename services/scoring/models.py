"""Tables of the scoring service alone: derived data, rebuilt at will from the other services.

Every row here comes from an event (or, in a rebuild, from the same facts read back through the
other services' export RPCs); nothing is typed in. ``daily`` is the incremental aggregate the
curves and leaderboards read; the other tables keep the facts the analyses need.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import service_base
from common.people import people_table

Base = service_base()


class ScoredEntry(Base):
    """One work-log entry as scoring sees it (worklog.entry_recorded)."""

    __tablename__ = "scored_entries"
    __table_args__ = (
        Index("ix_scored_entries_author_date", "author_id", "work_date"),
        Index("ix_scored_entries_date", "work_date"),
        Index("ix_scored_entries_opportunity", "opportunity_id"),
    )

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    author_id: Mapped[str] = mapped_column(String(64))
    work_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opportunity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    activities: Mapped[list] = mapped_column(JSON)
    points: Mapped[float] = mapped_column(Float)
    minutes: Mapped[int] = mapped_column(Integer)
    expense_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    proven_false: Mapped[bool] = mapped_column(Boolean, default=False)


class Daily(Base):
    """Per person and day: effective minutes (diligence) and effective score (ability)."""

    __tablename__ = "daily"
    __table_args__ = (Index("ix_daily_day", "day"),)

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    proven_false: Mapped[int] = mapped_column(Integer, default=0)


class Progress(Base):
    """A point-bearing opportunity fact: registered (0), stage advanced (+5), won (+20),
    confiscated or escalated away from the person (−10); ``key`` names the fact so that the
    event and the history row it came from count once."""

    __tablename__ = "progress"
    __table_args__ = (Index("ix_progress_user_day", "user_id", "day"),)

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[float] = mapped_column(Float)
    opportunity_id: Mapped[int] = mapped_column(Integer, index=True)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # for a confiscation: who received it (the deciding supervisor)
    counterpart_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Access(Base):
    """Contact unmasks and exports per person and day (resignation early warning)."""

    __tablename__ = "access"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unmasks: Mapped[int] = mapped_column(Integer, default=0)
    exports: Mapped[int] = mapped_column(Integer, default=0)


Person = people_table(Base)  # org's people (common/people.py)


class AlarmSupport(Base):
    """Someone's first response to another person's alarm (alerts.response_posted): the
    managers' "alarms supported". Not replayed by a rebuild, so a rebuild keeps it."""

    __tablename__ = "alarm_supports"
    __table_args__ = (Index("ix_alarm_supports_supporter", "supporter_id"),)

    alarm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supporter_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requester_id: Mapped[str] = mapped_column(String(64))
    requester_path: Mapped[str] = mapped_column(String(512))
    first_at: Mapped[datetime]


class RebuildRun(Base):
    """The scoring rebuild, as every instance (and ``bpc rebuild-scoring``) sees it: one row
    (id 1). An instance claims it to run a rebuild, writes its progress and a heartbeat into
    it; a claim whose heartbeat stopped (its process died) counts as failed and may be taken."""

    __tablename__ = "rebuild_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16))  # idle, running, done, failed
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    progress: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    runner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
