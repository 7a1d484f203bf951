"""Money as every service handles it: integer fen inside, decimal strings at the edges
(docs/API.md: at most two decimals; numbers are accepted too)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from common.errors import ValidationFailed

MAX_FEN = 10**14 - 1  # 999,999,999,999.99 yuan, comfortably inside a BIGINT
BAD_MONEY = (
    "金额须为不小于 0、最多两位小数的数 / Amount must be a number ≥ 0 with at most two decimals"
)


def parse_money(value: Any, field_name: str = "amount") -> int:
    """``"120000.00"`` | ``120000`` | ``1.5`` → integer fen; anything else is a 422 on
    ``field_name``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValidationFailed(details={field_name: [BAD_MONEY]})
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(details={field_name: [BAD_MONEY]}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(details={field_name: [BAD_MONEY]})
    fen = amount * 100
    if fen != fen.to_integral_value() or fen > MAX_FEN:
        raise ValidationFailed(details={field_name: [BAD_MONEY]})
    return int(fen)


def format_money(fen: int) -> str:
    """Integer fen → ``"120000.00"``."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan}.{cents:02d}"
