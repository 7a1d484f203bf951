"""Signing in (docs/DOMAIN.md §1 "Signing in", "Passwords and sessions", "Second factor"):
the password checked behind the throttle (services/org/guard.py), the second factor, and a new
session (services/org/sessions.py).
"""

from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.db import Db
from common.errors import TooManyAttempts, Unauthenticated
from services.org import commands, passwords, sessions, totp
from services.org.guard import clear_account, failed, in_check_pool, keys_of, wait_of
from services.org.models import User
from services.org.throttle import Rules

TOTP_REQUIRED = "totp_required"


def login(
    db: Db,
    login_name: str,
    password: str,
    address: str | None,
    rules: Rules,
    totp_code: str | None = None,
    agent: str | None = None,
) -> dict:
    """A new session (token pair and user) for good credentials; Unauthenticated, or
    TooManyAttempts while the account or the address must wait (the password is then not
    even checked). With a second factor, the password alone answers 401 ``totp_required``;
    a wrong code counts as a failure like a wrong password."""
    keys = keys_of(login_name, address)
    with db.read() as session:
        user = session.scalars(select(User).where(User.login == login_name)).first()
        known = (user.id, user.password_hash, user.active) if user is not None else None
        wait = wait_of(session, keys)  # (one read for the user and the counters)
    if wait > 0:
        raise TooManyAttempts(details={"retry_after": wait})
    matches = in_check_pool(commands.password_matches,
                            known[1] if known else commands.DUMMY_HASH, password)  # fmt: skip
    reason = (
        "unknown_login" if known is None else "bad_password" if not matches
        else "inactive" if not known[2] else None
    )  # fmt: skip
    if reason is None and user.totp_secret:
        if not totp_code:
            raise Unauthenticated(
                "请输入身份验证器中的 6 位动态码 / Enter the 6-digit code from your authenticator",
                code=TOTP_REQUIRED,
            )
        if not totp.accept(db, user.id, totp_code):
            reason = "bad_totp"
    if reason is not None:
        failed(db, keys, rules, known[0] if known else None, login_name, address, reason)
        if reason == "bad_totp":
            raise Unauthenticated("动态码错误 / Wrong code", code=TOTP_REQUIRED)
        raise commands.unauthenticated_login()
    if (
        user.must_change_password
        and user.password_changed_at is not None
        and clock.now() - user.password_changed_at > passwords.TEMPORARY_FOR
    ):
        raise Unauthenticated(
            "临时密码已过期，请联系管理员重新设置 / The temporary password has expired: "
            "ask an administrator for a new one",
            code="temporary_password_expired",
        )
    rehash = None
    if commands.needs_rehash(known[1]):
        rehash = in_check_pool(commands.hash_password, password)
    with db.unit_of_work() as uow:
        session = uow.session
        user = session.get(User, known[0])
        if rehash:
            user.password_hash = rehash
        clear_account(session, login_name)
        answer = sessions.open_session(session, user, address, agent)
        commands.record_audit(session, actor_id=user.id, action="login", target_type="user",
                              target_id=user.id,
                              details={"address": address, "session_id": answer["session_id"],
                                       "second_factor": bool(user.totp_secret)})  # fmt: skip
        return answer
