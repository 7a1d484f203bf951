"""Expiring signed bearer tokens (JWT, HS256): issued by org at login, verified by the gateway.

Issue and expiry are both read from the one clock (``common.clock``), never from the machine's:
with ``BPC_CLOCK_OFFSET`` every service and every token move together (a token PyJWT checked
against the machine's time was "issued in the future" under a positive offset)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt

from common import clock, config
from common.errors import Unauthenticated

ALGORITHM = "HS256"


def issue(user_id: str, level: int, ttl_seconds: int | None = None) -> tuple[str, str]:
    """A token for ``user_id`` and its expiry (RFC 3339)."""
    issued = clock.now()
    expires = issued + timedelta(seconds=ttl_seconds or config.token_ttl_seconds())
    token = jwt.encode(
        {"sub": str(user_id), "lvl": level, "iat": issued, "exp": expires, "jti": uuid.uuid4().hex},
        config.secret_key(),
        algorithm=ALGORITHM,
    )
    return token, clock.isoformat(expires)


# a token issued by a process whose clock runs this much ahead is still accepted (several
# machines: their clocks are never exactly together)
ISSUED_AHEAD_TOLERANCE = 60


def verify(token: str) -> str:
    """The user id a valid token was issued to; expired (by the one clock) → Unauthenticated."""
    return str(verified_claims(token)["sub"])


def verified_claims(token: str) -> dict:
    """The claims of a token whose signature holds and which is current by ``clock.now()``."""
    try:
        claims = jwt.decode(
            token,
            config.secret_key(),
            algorithms=[ALGORITHM],
            # the times are checked below against the one clock, not the machine's
            options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )  # fmt: skip
        expires, issued = float(claims["exp"]), float(claims.get("iat") or 0)
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise Unauthenticated("令牌无效 / Invalid token") from exc
    now = clock.now().timestamp()
    if now >= expires:
        raise Unauthenticated("登录已过期 / Token expired")
    if issued > now + ISSUED_AHEAD_TOLERANCE:
        raise Unauthenticated("令牌无效 / Invalid token")
    return claims
