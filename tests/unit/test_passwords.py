"""The password rules (services/org/passwords.py): what a new password must be, and why not."""

from __future__ import annotations

import pytest

from services.org import passwords
from services.org.passwords import HAS_LOGIN, ONE_KIND, SAME_AS_OLD, TOO_COMMON, TOO_SHORT


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Good-pass-2027", []),
        ("销售过程控制2027", []),  # Chinese letters count as letters
        ("short-1", [TOO_SHORT]),
        ("onlyletterslong", [ONE_KIND]),
        ("12345678901234", [ONE_KIND]),
        ("zhangwei-2027", [HAS_LOGIN]),
        ("Password123", [TOO_COMMON]),
        ("x" * 129 + "1", [passwords.TOO_LONG]),
    ],
)
def test_each_refusal_names_its_rule(password, problems):
    assert passwords.problems(password, "zhangwei") == problems


def test_the_new_password_differs_from_the_old():
    assert passwords.problems("Good-pass-2027", "li", "Good-pass-2027") == [SAME_AS_OLD]


def test_every_message_is_chinese_then_english():
    for message in (TOO_SHORT, ONE_KIND, HAS_LOGIN, TOO_COMMON, SAME_AS_OLD, passwords.TOO_LONG):
        chinese, english = message.split(" / ")
        assert any("\u4e00" <= c <= "\u9fff" for c in chinese) and english.isascii()


def test_temporary_passwords_are_random_readable_and_pass_the_rules():
    made = {passwords.temporary() for _ in range(200)}
    assert len(made) == 200
    for password in made:
        assert len(password) == 14 and password.count("-") == 2
        assert not set(password) & set("0O1lI")
        assert passwords.problems(password, "someone") == []
