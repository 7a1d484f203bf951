"""Expiring signed bearer tokens (JWT, HS256): issued by org at login, verified by the gateway."""

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


def verify(token: str) -> str:
    """The user id a valid, unexpired token was issued to."""
    try:
        claims = jwt.decode(
            token,
            config.secret_key(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("登录已过期 / Token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("令牌无效 / Invalid token") from exc
    return str(claims["sub"])
