"""Tables of the opportunity service alone.

The sweep reads only what is due: every deadline the sweep looks at is a column indexed
together with ``status`` (``stage_deadline``, ``followup_deadline``, ``warn_at``,
``decision_deadline``), so its cost grows with the due set, not with all opportunities.
Deadlines that depend on the pipeline (the warning time ``stage_deadline - remind_before``,
the follow-up deadline ``last_followup_at + followup_limit``) are therefore stored, computed
when the stage is entered or work is logged, and cleared when they no longer apply.

``opportunity_history`` is append-only in the database itself (triggers refuse UPDATE and
DELETE), and ``opportunities.version`` is SQLAlchemy's version counter: an ORM update of a
row changed meanwhile by another transaction raises ``StaleDataError`` instead of
overwriting it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

# statuses of an opportunity; the first two are on the stage clock (a pending loss stays on it)
OPEN = "open"
CONFISCATED = "confiscated"
LOSS_PENDING = "loss_pending"
WON = "won"
LOST = "lost"
STATUSES = (OPEN, CONFISCATED, LOSS_PENDING, WON, LOST)
ON_THE_CLOCK = (OPEN, LOSS_PENDING)


class Pipeline(Base):
    """An enterprise's ordered stages; ``definition`` is the API-shaped dict.

    ``definition`` = ``{"name", "stages": [{"key", "name", "time_limit", "probability"}],
    "remind_before", "followup_limit", "decision_limit", "qualification": [{"key",
    "question", "weight"}], "qualification_threshold"}``.
    """

    __tablename__ = "pipelines"
    __table_args__ = (
        Index(
            "ix_pipelines_scope_path",
            "scope_path",
            postgresql_ops={"scope_path": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict] = mapped_column(JSON)
    # org subtree the pipeline applies to ("/1/5/"); "/" for the whole group
    scope_path: Mapped[str] = mapped_column(String(512), default="/")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]


class Opportunity(Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        # the sweep's ranges: status equality, then the deadline up to "now"
        Index("ix_opportunities_status_stage_deadline", "status", "stage_deadline"),
        Index("ix_opportunities_status_followup_deadline", "status", "followup_deadline"),
        Index("ix_opportunities_status_warn_at", "status", "warn_at"),
        Index("ix_opportunities_status_decision_deadline", "status", "decision_deadline"),
        # what each holder has in hand (the workbench, the work list, the own forecast)
        Index("ix_opportunities_holder_id_status", "holder_id", "status"),
        Index(
            "ix_opportunities_holder_path",
            "holder_path",
            postgresql_ops={"holder_path": "varchar_pattern_ops"},
        ),
        Index(
            "ix_opportunities_owner_path",
            "owner_path",
            postgresql_ops={"owner_path": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), index=True)
    # the salesperson who registered it; the holder is who has it now (a supervisor after
    # a confiscation); paths are materialised supervisor chains ("/1/5/9/")
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    owner_path: Mapped[str] = mapped_column(String(512))
    holder_id: Mapped[str] = mapped_column(String(64))  # indexed with status (below)
    holder_path: Mapped[str] = mapped_column(String(512))
    # the holder it was confiscated from (who "return" gives it back to)
    original_owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    stage_key: Mapped[str] = mapped_column(String(64))
    stage_index: Mapped[int] = mapped_column(Integer, default=0)
    stage_entered_at: Mapped[datetime]
    stage_deadline: Mapped[datetime | None] = mapped_column(nullable=True)
    # when the warning falls due (stage_deadline - remind_before); NULL once sent
    warn_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # when the warning for the current stage entry was sent; NULL on entering a stage
    warned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # last_followup_at (or registration) + the pipeline's followup_limit; NULL without a limit
    followup_deadline: Mapped[datetime | None] = mapped_column(nullable=True)
    decision_deadline: Mapped[datetime | None] = mapped_column(nullable=True)
    # the top of the chain keeps an overdue opportunity, flagged
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    feasibility_score: Mapped[float] = mapped_column(Float, default=0.0)
    last_followup_at: Mapped[datetime | None] = mapped_column(nullable=True)
    loss_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loss_analysis: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class OpportunityHistory(Base):
    """Every change of holder, stage or status; never rewritten (database triggers)."""

    __tablename__ = "opportunity_history"
    __table_args__ = (Index("ix_opportunity_history_opportunity_at", "opportunity_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    at: Mapped[datetime]
    # registered, advanced, warned, confiscated, escalated, decided, won, loss_requested, ...
    action: Mapped[str] = mapped_column(String(32), index=True)
    by: Mapped[str] = mapped_column(String(64))  # a user id, or "system" for the sweep
    from_value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    to_value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Target(Base):
    """A person's monthly target: proposed from the forecast, set by the supervisor."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("user_id", "month", name="uq_targets_user_id_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    target_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    proposed_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    set_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    set_at: Mapped[datetime | None] = mapped_column(nullable=True)


Person = people_table(Base)  # org's people (common/people.py)


class CustomerOwner(Base):
    """Projection of the customer service (facts.CUSTOMERS): who owns each customer.

    Registration refuses an opportunity on a customer owned by another salesperson without an
    RPC on the write path (the customer service is asked only when this has not seen the
    customer, or says another owns it); ``owner_id`` NULL means nobody owns it (the registrant
    takes it).
    """

    __tablename__ = "customer_owners"

    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    as_of: Mapped[datetime | None] = mapped_column(nullable=True)  # when it last changed hands
