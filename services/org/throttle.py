"""Login throttling (docs/DOMAIN.md §1 "Signing in"): who may try a password now.

Two counters of failed logins are kept: one per account (the login name, known or not, so a
429 tells nothing about which names exist) and one per client address. Each has a number of
free failures; the last of them makes the next try wait, and every failure after a wait makes
the next wait twice as long (``delay``), up to a ceiling. While a counter waits, a login
answers 429 with ``Retry-After`` — before any password is checked, so waiting costs the server
nothing and the right password is refused as well. A successful login clears its account's
counter; a counter whose last failure is older than ``FORGET_AFTER`` starts again from zero.
The administrator sees the accounts that wait and can clear one (``unlock``).

Pure rules here; ``services/org/guard.py`` keeps the counters in the ``login_throttle`` table.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

ACCOUNT, ADDRESS = "account", "address"
FORGET_AFTER = timedelta(hours=1)  # a counter quiet this long starts again


@dataclass(frozen=True, slots=True)
class Rules:
    account_free: int = 5  # failures after which an account waits
    address_free: int = 50  # failures after which a client address waits (a NAT: many people)
    first_delay: float = 15.0  # seconds, after the last free failure
    max_delay: float = 900.0  # seconds: no wait is longer

    @classmethod
    def from_env(cls) -> Rules:
        return cls(
            account_free=int(os.environ.get("BPC_LOGIN_FREE_FAILURES", "5")),
            address_free=int(os.environ.get("BPC_LOGIN_ADDRESS_FREE_FAILURES", "50")),
            first_delay=float(os.environ.get("BPC_LOGIN_DELAY", "15")),
            max_delay=float(os.environ.get("BPC_LOGIN_MAX_DELAY", "900")),
        )

    def free(self, scope: str) -> int:
        return self.account_free if scope == ACCOUNT else self.address_free

    def delay(self, scope: str, failures: int) -> float:
        """Seconds the next try waits after ``failures`` failures (0: it need not wait)."""
        beyond = failures - self.free(scope)
        if beyond < 0:
            return 0.0
        return min(self.max_delay, self.first_delay * 2 ** min(beyond, 30))


@dataclass(slots=True)
class Counter:
    """One counter as stored: failures so far, the last one, and until when the next waits."""

    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None

    def current(self, now: datetime) -> Counter:
        """The counter as it stands at ``now``: forgotten after a quiet hour."""
        if self.last_failure_at is not None and now - self.last_failure_at > FORGET_AFTER:
            return Counter()
        return self

    def wait(self, now: datetime) -> float:
        """Seconds until a try is allowed (0: now)."""
        if self.locked_until is None or self.locked_until <= now:
            return 0.0
        return (self.locked_until - now).total_seconds()

    def failed(self, rules: Rules, scope: str, now: datetime) -> Counter:
        """The counter after one more failure at ``now``."""
        before = self.current(now)
        failures = before.failures + 1
        delay = rules.delay(scope, failures)
        return Counter(failures, now, now + timedelta(seconds=delay) if delay else None)


def retry_after(seconds: float) -> int:
    """Whole seconds for a ``Retry-After`` header (at least 1)."""
    return max(1, math.ceil(seconds))
