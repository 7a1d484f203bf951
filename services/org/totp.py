"""The optional second factor (docs/DOMAIN.md §1 "Second factor"): TOTP (RFC 6238, 6 digits,
30 s — what every authenticator app shows), for users of level 6 and above.

Enrolment is two steps: ``setup`` makes a secret and its QR code (the secret is pending), and
``enable`` keeps it once the user types a code it produced — so nobody is locked out by a
mistyped scan. Disabling asks for the password and a current code. A code is accepted in the
step before, at, or after now (clock drift of the phone), and only once: the last accepted step
is kept. Codes follow the real time, not ``BPC_CLOCK_OFFSET``: the phone knows no offset.

pyotp computes and checks the codes; segno draws the QR code as an SVG data URI (no image
library, and the web page's CSP allows ``data:`` images).
"""

from __future__ import annotations

import time

import pyotp
import segno
from sqlalchemy import update

from common.actor import Actor
from common.db import Db
from common.errors import BusinessRuleViolated, Forbidden, ValidationFailed
from services.org import commands
from services.org.guard import in_check_pool
from services.org.models import User

MIN_LEVEL = 6
ISSUER = "BPC"
WRONG_CODE = "动态码不正确 / The code is not right"


def _step(totp: pyotp.TOTP, code: str, now: float) -> int | None:
    """The time step ``code`` belongs to, within one step of ``now``; else None."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == totp.digits and code.isdigit()):
        return None
    current = int(now // totp.interval)
    for step in (current, current - 1, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def accept(db: Db, user_id: int, code: str) -> bool:
    """Whether ``code`` is a current code of the user's enabled secret, used for the first
    time (it is then used up)."""
    with db.unit_of_work() as uow:
        session = uow.session
        user = session.get(User, user_id, with_for_update=True)
        if user is None or not user.totp_secret:
            return False
        step = _step(pyotp.TOTP(user.totp_secret), code, time.time())
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            return False
        # compare-and-set: two logins with one code at the same moment, one wins
        unused = User.totp_last_step.is_(None) | (User.totp_last_step < step)
        won = session.execute(
            update(User).where(User.id == user_id, unused).values(totp_last_step=step)
        ).rowcount
        return bool(won)


def setup(db: Db, actor: Actor) -> dict:
    """A new pending secret for the caller (level ≥ 6), with its otpauth URI and QR code."""
    if actor.level < MIN_LEVEL:
        raise Forbidden(
            f"动态码仅适用于 {MIN_LEVEL} 级及以上 / "
            f"A second factor is for level {MIN_LEVEL} and above",
            {"required_level": MIN_LEVEL, "level": actor.level},
        )
    secret = pyotp.random_base32()
    with db.unit_of_work() as uow:
        user = uow.session.get(User, int(actor.id), with_for_update=True)
        user.totp_pending = secret
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name=ISSUER)
        commands.record_audit(uow.session, actor_id=actor.id, action="totp_setup_started",
                              target_type="user", target_id=user.id)  # fmt: skip
    qr = segno.make(uri, error="m")
    return {
        "secret": secret,
        "otpauth_uri": uri,
        "qr_svg": qr.svg_data_uri(scale=5, border=2),
        "enabled": False,
    }


def enable(db: Db, actor: Actor, code: str) -> dict:
    """Keeps the pending secret once ``code`` proves the app holds it."""
    with db.unit_of_work() as uow:
        user = uow.session.get(User, int(actor.id), with_for_update=True)
        if not user.totp_pending:
            raise BusinessRuleViolated(
                "请先生成二维码 / Start the enrolment first (POST /auth/totp/setup)",
                code="totp_not_started",
            )
        step = _step(pyotp.TOTP(user.totp_pending), code, time.time())
        if step is None:
            raise ValidationFailed(details={"code": [WRONG_CODE]})
        user.totp_secret, user.totp_pending, user.totp_last_step = user.totp_pending, None, step
        commands.record_audit(uow.session, actor_id=actor.id, action="totp_enabled",
                              target_type="user", target_id=user.id)  # fmt: skip
    return {"enabled": True}


def disable(db: Db, actor: Actor, password: str, code: str) -> dict:
    """Removes the caller's second factor: the password and a current code are both asked."""
    with db.read() as session:
        user = session.get(User, int(actor.id))
        secret, password_hash = user.totp_secret, user.password_hash
    if not secret:
        return {"enabled": False}
    problems = {}
    if not in_check_pool(commands.password_matches, password_hash, password or ""):
        problems["password"] = ["密码不正确 / The password is wrong"]
    if _step(pyotp.TOTP(secret), code, time.time()) is None:
        problems["code"] = [WRONG_CODE]
    if problems:
        raise ValidationFailed(details=problems)
    with db.unit_of_work() as uow:
        user = uow.session.get(User, int(actor.id), with_for_update=True)
        user.totp_secret = user.totp_pending = user.totp_last_step = None
        commands.record_audit(uow.session, actor_id=actor.id, action="totp_disabled",
                              target_type="user", target_id=user.id)  # fmt: skip
    return {"enabled": False}
