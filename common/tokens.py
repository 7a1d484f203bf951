"""Expiring signed bearer tokens (JWT, HS256): issued by org at login, verified by the gateway.

Two kinds (docs/DOMAIN.md §1 "Sessions"): a short-lived *access* token sent with every request
(``BPC_TOKEN_TTL``, 15 min), and a *refresh* token that only buys a new pair from
``POST /auth/refresh`` (``BPC_REFRESH_TTL``, 12 h, renewed at each refresh). Both name the
session (``sid``) and the user's token generation (``gen``): ending a session or every
session of a user makes its tokens worthless at once.

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


ACCESS, REFRESH = "access", "refresh"


def issue(
    user_id: str,
    level: int,
    ttl_seconds: int | None = None,
    *,
    session_id: str | None = None,
    generation: int = 0,
    kind: str = ACCESS,
    seq: int | None = None,
) -> tuple[str, str]:
    """A token for ``user_id`` and its expiry (RFC 3339). ``seq``: a refresh token's place in
    its session's rotation (each refresh token is good once)."""
    issued = clock.now()
    default = config.token_ttl_seconds() if kind == ACCESS else config.refresh_ttl_seconds()
    expires = issued + timedelta(seconds=ttl_seconds or default)
    claims = {"sub": str(user_id), "lvl": level, "iat": issued, "exp": expires,
              "jti": uuid.uuid4().hex, "typ": kind, "gen": int(generation)}  # fmt: skip
    if session_id:
        claims["sid"] = session_id
    if seq is not None:
        claims["seq"] = int(seq)
    token = jwt.encode(claims, config.secret_key(), algorithm=ALGORITHM)
    return token, clock.isoformat(expires)


# a token issued by a process whose clock runs this much ahead is still accepted (several
# machines: their clocks are never exactly together)
ISSUED_AHEAD_TOLERANCE = 60


def verify(token: str) -> str:
    """The user id a valid token was issued to; expired (by the one clock) → Unauthenticated."""
    return str(verified_claims(token)["sub"])


def verified_claims(token: str, kind: str = ACCESS) -> dict:
    """The claims of a token of ``kind`` whose signature holds and which is current by
    ``clock.now()`` (a refresh token is no access token, nor the other way round)."""
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
    if claims.get("typ", ACCESS) != kind:
        raise Unauthenticated("令牌无效 / Invalid token")
    now = clock.now().timestamp()
    if now >= expires:
        raise Unauthenticated("登录已过期 / Token expired")
    if issued > now + ISSUED_AHEAD_TOLERANCE:
        raise Unauthenticated("令牌无效 / Invalid token")
    return claims
