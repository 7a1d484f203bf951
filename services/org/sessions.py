"""Sessions and passwords (docs/DOMAIN.md §1 "Passwords and sessions"): a signed-in device is a
``login_sessions`` row; its access token lives minutes and its refresh token buys the next
pair; signing out ends the row, signing out everywhere raises the user's token generation
(every token of the user, on every device, is then refused by the gateway on its next
request); a new password, and an administrator's reset, do both.

Audited: ``logout``, ``logout_all``, ``password_changed``, ``password_reset``, and a reused
refresh token (``refresh_reused``: the session is ended — someone holds a copy). A refresh
itself is not audited (every device does it every quarter of an hour).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common import clock, config, tokens
from common.actor import Actor
from common.db import Db
from common.errors import NotFound, TooManyAttempts, Unauthenticated, ValidationFailed
from services.org import commands, guard, passwords
from services.org.models import LoginSession, User
from services.org.schemas import dump_user
from services.org.throttle import Rules

log = logging.getLogger(__name__)

# a refresh token used again within this many seconds of its successor's issue is a client
# that refreshed twice at once (two tabs): refused, the session kept; later, a stolen copy
RACE_GRACE = timedelta(seconds=30)

WRONG_OLD_PASSWORD = "原密码不正确 / The old password is wrong"
SIGNED_OUT = "已退出登录，请重新登录 / Signed out: please sign in again"


def open_session(session: Session, user: User, address: str | None, agent: str | None) -> dict:
    """A new session of ``user`` and its first token pair (the login's answer)."""
    now = clock.now()
    row = LoginSession(
        id=uuid.uuid4().hex, user_id=user.id, generation=user.token_generation, refresh_seq=0,
        created_at=now, refreshed_at=now, expires_at=_refresh_expiry(now),
        address=(address or None) and address[:200], agent=(agent or None) and agent[:300],
    )  # fmt: skip
    session.add(row)
    return _pair(user, row)


def _refresh_expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=config.refresh_ttl_seconds())


def _pair(user: User, row: LoginSession) -> dict:
    access, expires_at = tokens.issue(
        str(user.id), user.level, session_id=row.id, generation=row.generation
    )
    refresh, refresh_expires_at = tokens.issue(
        str(user.id), user.level, session_id=row.id, generation=row.generation,
        kind=tokens.REFRESH, seq=row.refresh_seq,
    )  # fmt: skip
    return {
        "token": access,
        "expires_at": expires_at,
        "refresh_token": refresh,
        "refresh_expires_at": refresh_expires_at,
        "session_id": row.id,
        "must_change_password": bool(user.must_change_password),
        "user": dump_user(user),
    }


def refresh(db: Db, refresh_token: str) -> dict:
    """A new token pair for a live session's current refresh token (it is then used up)."""
    claims = tokens.verified_claims(refresh_token, kind=tokens.REFRESH)
    session_id, seq = claims.get("sid"), claims.get("seq")
    if not session_id or not isinstance(seq, int):
        raise Unauthenticated("令牌无效 / Invalid token")
    with db.unit_of_work() as uow:
        session = uow.session
        row = session.get(LoginSession, str(session_id), with_for_update=True)
        user = session.get(User, row.user_id) if row is not None else None
        now = clock.now()
        if (row is None or user is None or str(user.id) != str(claims["sub"])
                or row.ended_at is not None or row.expires_at <= now or not user.active
                or row.generation != user.token_generation):  # fmt: skip
            refused = SIGNED_OUT
        elif seq == row.refresh_seq:
            row.refresh_seq += 1
            row.refreshed_at = now
            row.expires_at = _refresh_expiry(now)
            return _pair(user, row)
        elif seq == row.refresh_seq - 1 and now - row.refreshed_at <= RACE_GRACE:
            refused = "令牌刚刚更新过 / This refresh token was just replaced"
        else:  # an older refresh token: a copy is in someone else's hands
            _end(row, now, "refresh_reused")
            commands.record_audit(session, actor_id=user.id, action="refresh_reused",
                                  target_type="session", target_id=row.id,
                                  details={"seq": seq, "current": row.refresh_seq})  # fmt: skip
            refused = SIGNED_OUT
    raise Unauthenticated(refused)


def _end(row: LoginSession, now: datetime, reason: str) -> None:
    row.ended_at = now
    row.ended_reason = reason


def logout(db: Db, actor: Actor, session_id: str | None) -> dict:
    """Ends the caller's session (its tokens are refused from now on)."""
    with db.unit_of_work() as uow:
        session = uow.session
        row = session.get(LoginSession, str(session_id)) if session_id else None
        ended = row is not None and row.user_id == int(actor.id) and row.ended_at is None
        if ended:
            _end(row, clock.now(), "logout")
        commands.record_audit(session, actor_id=actor.id, action="logout", target_type="session",
                              target_id=session_id, details={"ended": ended})  # fmt: skip
        return {"ended_sessions": int(ended)}


def _end_all(session: Session, user: User, reason: str) -> int:
    """Raises ``user``'s token generation and ends every live session: every token issued to
    the user so far is refused from now on."""
    user.token_generation = (user.token_generation or 0) + 1
    return session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now(), ended_reason=reason)
    ).rowcount


def logout_all(db: Db, actor: Actor, user_id: int) -> dict:
    """Signs ``user_id`` out on every device: oneself, or anyone by level 9."""
    if str(user_id) != actor.id:
        actor.require_level(9)
    with db.unit_of_work() as uow:
        session = uow.session
        user = session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("用户不存在 / No such user", {"user_id": str(user_id)})
        ended = _end_all(session, user, "logout_all")
        commands.record_audit(session, actor_id=actor.id, action="logout_all", target_type="user",
                              target_id=user.id, details={"ended_sessions": ended})  # fmt: skip
        return {"user_id": str(user.id), "ended_sessions": ended}


def list_sessions(db: Db, actor: Actor, current: str | None) -> dict:
    """The caller's live sessions (devices), the latest used first."""
    now = clock.now()
    with db.read() as session:
        rows = session.scalars(
            select(LoginSession).where(
                LoginSession.user_id == int(actor.id),
                LoginSession.ended_at.is_(None),
                LoginSession.expires_at > now,
            ).order_by(LoginSession.refreshed_at.desc()).limit(100)
        ).all()  # fmt: skip
        user = session.get(User, int(actor.id))
        generation = user.token_generation if user else None
    items = [
        {
            "id": r.id,
            "created_at": clock.isoformat(r.created_at),
            "last_refreshed_at": clock.isoformat(r.refreshed_at),
            "address": r.address,
            "agent": r.agent,
            "current": r.id == current,
        }  # fmt: skip
        for r in rows
        if r.generation == generation
    ]
    return {"items": items}


def change_password(db: Db, actor: Actor, old: str, new: str, address: str | None,
                    agent: str | None, rules: Rules) -> dict:  # fmt: skip
    """The caller's own password: the old one checked (a wrong one counts as a failed login
    of the account), the new one by the rules. Every session ends; this device gets a new
    pair (the answer, as the login's)."""
    with db.read() as session:
        user = session.get(User, int(actor.id))
        if user is None:
            raise Unauthenticated(SIGNED_OUT)
        login_name, old_hash = user.login, user.password_hash
        keys = guard.keys_of(login_name, address)
        wait = guard.wait_of(session, keys)
    if wait > 0:
        raise TooManyAttempts(details={"retry_after": wait})
    if not guard.in_check_pool(commands.password_matches, old_hash, old):
        guard.failed(db, keys, rules, user.id, login_name, address, "bad_old_password")
        raise ValidationFailed(details={"old_password": [WRONG_OLD_PASSWORD]})
    found = passwords.problems(new, login_name, old)
    if found:
        raise ValidationFailed(
            "新密码不符合要求 / The new password does not meet the rules",
            {"new_password": found},
        )
    new_hash = guard.in_check_pool(commands.hash_password, new)
    with db.unit_of_work() as uow:
        session = uow.session
        user = session.get(User, int(actor.id), with_for_update=True)
        if user.password_hash != old_hash:  # changed meanwhile (another device, a reset)
            raise Unauthenticated(SIGNED_OUT)
        user.password_hash = new_hash
        user.must_change_password = False
        user.password_changed_at = clock.now()
        ended = _end_all(session, user, "password_changed")
        commands.record_audit(session, actor_id=actor.id, action="password_changed",
                              target_type="user", target_id=user.id,
                              details={"ended_sessions": ended, "address": address})  # fmt: skip
        return open_session(session, user, address, agent)


def reset_password(db: Db, actor: Actor, user_id: int) -> dict:
    """Level 9: a temporary password for ``user_id``, shown once. It must be changed at the
    next sign-in (nothing else works until then) and lapses after ``TEMPORARY_FOR``; every
    session of the user ends, the TOTP second factor is removed (a lost phone is the usual
    reason), and the account's login throttle is cleared."""
    actor.require_level(9)
    temporary = passwords.temporary()
    hashed = guard.in_check_pool(commands.hash_password, temporary)
    with db.unit_of_work() as uow:
        session = uow.session
        user = session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("用户不存在 / No such user", {"user_id": str(user_id)})
        user.password_hash = hashed
        user.must_change_password = True
        user.password_changed_at = clock.now()
        had_totp = user.totp_secret is not None
        user.totp_secret = user.totp_pending = None
        ended = _end_all(session, user, "password_reset")
        guard.clear_account(session, user.login)
        commands.record_audit(
            session,
            actor_id=actor.id,
            action="password_reset",
            target_type="user",
            target_id=user.id,
            details={"ended_sessions": ended, "totp_removed": had_totp},
        )
        return {
            "user_id": str(user.id),
            "temporary_password": temporary,
            "expires_at": clock.isoformat(user.password_changed_at + passwords.TEMPORARY_FOR),
            "ended_sessions": ended,
        }  # fmt: skip
