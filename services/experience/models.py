"""Tables of the experience service alone: the pool (经验池).

An entry's searchable texts are rows of ``experience_texts``, append-only: the problem and its
method when the entry is made, and later the wording of each new alarm that the entry solved
(a reuse), so that the pool learns how people describe the same problem. Every instance keeps
its own in-memory search index and brings it up to date from this table by id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import service_base

Base = service_base()


class Entry(Base):
    __tablename__ = "experience_entries"
    __table_args__ = (
        Index("ix_experience_entries_stage", "stage", "category"),
        Index("ix_experience_entries_kind", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    analysis: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    category: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default="sales")
    industry: Mapped[str | None] = mapped_column(String(100), nullable=True)
    requester_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method_author_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contributors: Mapped[list] = mapped_column(JSON, default=list)
    source_alarm_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_at: Mapped[datetime]
    reuse_count: Mapped[int] = mapped_column(Integer, default=0)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)


class Text_(Base):
    """A searchable wording of an entry (append-only)."""

    __tablename__ = "experience_texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("experience_entries.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # problem | method | reuse
    added_at: Mapped[datetime]
    # its sentence embedding (float32 × 384, services/experience/semantic.py) for problem and
    # reuse wordings; None for methods and when embeddings are off
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Reuse(Base):
    """An alarm solved by an existing entry (方法有效 on a suggestion): counted once."""

    __tablename__ = "experience_reuses"

    alarm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("experience_entries.id"), index=True)
    at: Mapped[datetime]


class HelpfulVote(Base):
    """One "helpful" vote per user and entry."""

    __tablename__ = "experience_helpful_votes"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("experience_entries.id"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime]
