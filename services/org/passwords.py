"""Password rules (docs/DOMAIN.md §1 "Passwords and sessions"), pure: what a new password must
be, and the temporary password an administrator's reset hands out.

A new password: 10–128 characters, at least two kinds of letters, digits and other signs, not
containing the login, not one of the passwords every attacker tries first, and not the
password it replaces. Each refusal says which rule, in Chinese and English.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

MIN_LENGTH, MAX_LENGTH = 10, 128
# a temporary password (administrator's reset) is good this long, and only for its change
TEMPORARY_FOR = timedelta(hours=72)

# the passwords tried first by every guesser (lower case; compared without case)
COMMON = frozenset(
    """123456789a 1234567890 0123456789 1q2w3e4r5t qwertyuiop 1qaz2wsx3edc password123
    password1234 admin12345 admin123456 abc1234567 a123456789 aa12345678 zxcvbnm123
    qwerty1234 iloveyou123 woaini1314 woaini520 5201314520 11223344556 abcd123456
    1234qwer!@#$ p@ssw0rd123 passw0rd12""".split()
)  # fmt: skip

TOO_SHORT = f"密码至少 {MIN_LENGTH} 个字符 / A password needs at least {MIN_LENGTH} characters"
TOO_LONG = f"密码最多 {MAX_LENGTH} 个字符 / A password has at most {MAX_LENGTH} characters"
ONE_KIND = (
    "密码须包含字母、数字、符号中的至少两类 / "
    "A password needs at least two of: letters, digits, other signs"
)
HAS_LOGIN = "密码不能包含登录名 / A password must not contain the login"
TOO_COMMON = "密码过于常见，容易被猜中 / This password is too common to be safe"
SAME_AS_OLD = "新密码不能与原密码相同 / The new password must differ from the old one"


def problems(password: str, login: str, old_password: str | None = None) -> list[str]:
    """Why ``password`` may not become ``login``'s password (empty: it may)."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(TOO_SHORT)
    if len(password) > MAX_LENGTH:
        found.append(TOO_LONG)
    kinds = (
        any(c.isalpha() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(kinds) < 2:
        found.append(ONE_KIND)
    if login and len(login) >= 3 and login.casefold() in password.casefold():
        found.append(HAS_LOGIN)
    if password.casefold() in COMMON:
        found.append(TOO_COMMON)
    if old_password is not None and password == old_password:
        found.append(SAME_AS_OLD)
    return found


# no 0/O, 1/l/I: a temporary password is read out over the phone or copied by hand
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def temporary() -> str:
    """A random temporary password that passes ``problems`` (letters, digits and hyphens):
    three groups of four, about 68 bits."""
    while True:
        groups = ["".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3)]
        candidate = "-".join(groups)
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate
