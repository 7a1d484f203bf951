"""Login throttling's rules in process (services/org/throttle.py): free failures, then waits
that double up to a ceiling; a quiet hour forgets; a wait is counted from the failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.org.throttle import ACCOUNT, ADDRESS, Counter, Rules, retry_after

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_waits_begin_after_the_free_failures_and_double_up_to_the_ceiling():
    rules = Rules()
    waits = [rules.delay(ACCOUNT, n) for n in range(1, 13)]
    assert waits == [0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900]
    assert rules.delay(ADDRESS, 49) == 0 and rules.delay(ADDRESS, 50) == 15


def test_a_counter_waits_from_its_last_failure_and_forgets_after_a_quiet_hour():
    rules = Rules(account_free=2, first_delay=10, max_delay=60)
    counter = Counter()
    for minute in range(2):
        counter = counter.failed(rules, ACCOUNT, T0 + timedelta(minutes=minute))
    assert counter.failures == 2
    assert counter.wait(T0 + timedelta(minutes=1, seconds=4)) == 6
    assert counter.wait(T0 + timedelta(minutes=1, seconds=10)) == 0
    later = counter.failed(rules, ACCOUNT, T0 + timedelta(minutes=2))
    assert later.failures == 3 and later.wait(T0 + timedelta(minutes=2)) == 20
    quiet = T0 + timedelta(hours=3)
    assert later.current(quiet).failures == 0
    assert later.failed(rules, ACCOUNT, quiet).failures == 1


def test_retry_after_is_whole_seconds_and_never_zero():
    assert retry_after(0.2) == 1 and retry_after(14.01) == 15 and retry_after(15) == 15
