"""Tables of the alerts service alone.

An alarm's public id is its integer ``id``. An alarm raised from a work-log entry carries
``source_entry_id``, UNIQUE: the gateway's immediate raise and the ``entry_recorded`` event
that follows it create one alarm between them, whichever comes first.

``first_support_at``, ``status`` and ``next_escalation_at`` are kept on the row so that the
board, the statistics and the escalation sweep read one table through an index; the rules
that set them are ``services.alerts.domain``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.db import service_base
from common.people import people_table

Base = service_base()


class Category(Base):
    """The enterprise's alarm categories (configurable; docs/DOMAIN.md §6's defaults installed)."""

    __tablename__ = "alarm_categories"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Alarm(Base):
    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_status_id", "status", "id"),
        Index("ix_alarms_raised_at", "raised_at"),
        Index("ix_alarms_requester", "requester_id", "id"),
        Index("ix_alarms_next_escalation", "next_escalation_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    requester_id: Mapped[str] = mapped_column(String(64))
    # the requester's supervisor chain when raised, "/1/7/42/": the team of the statistics
    requester_path: Mapped[str] = mapped_column(String(512))
    raised_at: Mapped[datetime]
    category: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default="sales")
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    opportunity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    description: Mapped[str] = mapped_column(Text)
    analysis: Mapped[str] = mapped_column(Text, default="")
    source_entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    suggestions: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    first_support_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    effective_response_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    effective_experience_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    escalation_steps: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    responses: Mapped[list[Response]] = relationship(
        back_populates="alarm", order_by="Response.id", lazy="selectin"
    )
    escalations: Mapped[list[Escalation]] = relationship(order_by="Escalation.id", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}


class Response(Base):
    """An analysis or proposed method posted on an alarm; never edited."""

    __tablename__ = "alarm_responses"
    __table_args__ = (Index("ix_alarm_responses_author", "author_id", "posted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    author_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime]
    effective: Mapped[bool] = mapped_column(Boolean, default=False)

    alarm: Mapped[Alarm] = relationship(back_populates="responses")


class Escalation(Base):
    """One escalation step: who was notified about an alarm, when and why."""

    __tablename__ = "alarm_escalations"
    __table_args__ = (Index("ix_alarm_escalations_user", "user_id", "alarm_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    at: Mapped[datetime]


class OpportunityState(Base):
    """Projection of the opportunity service (facts.OPPORTUNITIES): stage and customer of each
    opportunity, and who may see it (holder, owner, the owner it was confiscated from)."""

    __tablename__ = "opportunity_states"

    opportunity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    holder_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    holder_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    original_owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    as_of: Mapped[datetime]


class CustomerState(Base):
    """Projection of the customer service (facts.CUSTOMERS): each customer's industry (for the
    pool) and owner (an alarm names only a customer its requester may work on)."""

    __tablename__ = "customer_states"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    as_of: Mapped[datetime | None] = mapped_column(nullable=True)


Person = people_table(Base)  # org's people (common/people.py)
