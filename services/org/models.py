"""Tables of the org service: the org-unit tree, users with their supervisor chain, the audit log.

``users.path`` materialises the supervisor chain from the top down to the user itself
(``/1/5/9/``): "is X a subordinate of Y" is a prefix test, and a subtree is one range query.
``audit_log`` is append-only; the migration adds database triggers refusing UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import service_base

Base = service_base()


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # pinyin of the name: lists sort the way a Chinese reader expects (张 after 李)
    sort_key: Mapped[str] = mapped_column(String(600), index=True)
    level: Mapped[int] = mapped_column(Integer)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1000), index=True)
    created_at: Mapped[datetime]
    # every token carries the generation it was issued in: raising it ends every session of
    # the user at once (sign out everywhere, a new or reset password, docs/DOMAIN.md §1)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    # set by an administrator's reset: the temporary password buys nothing but its change
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # TOTP second factor (level ≥ 6, optional): the secret once confirmed; one being enrolled;
    # the last time step accepted (a code is good once)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_pending: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)


class LoginSession(Base):
    """One signed-in device: its refresh tokens rotate (``refresh_seq``; each is good once,
    a reused one ends the session), and it ends on sign-out, sign-out everywhere, a password
    change or reset, or ``expires_at`` passing unrefreshed."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    refresh_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    refreshed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(300), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[str | None] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(80), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginThrottle(Base):
    """Failed logins of one account (its login name) or one client address
    (services/org/throttle.py): how many, the last, and until when the next try waits."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # account | address
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
