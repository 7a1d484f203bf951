"""The guards of every password check (docs/DOMAIN.md §1 "Signing in"): the bounded, paced
pool of OS threads the checks run in, and the failure counters of the login throttle
(``login_throttle``; the rules are services/org/throttle.py) — used by signing in, changing a
password and the second factor alike.

A password check costs about 100–150 ms of CPU (argon2id). It runs in an OS thread of
eventlet's pool, one at a time per process (``BPC_PASSWORD_CHECKS``) and at most
``BPC_PASSWORD_CHECK_RATE`` (4) a second: the process's green threads — every other RPC,
``resolve_actor`` above all — keep being served while logins are checked, and a flood of
logins queues for its turn instead of taking the CPU from everything else (four sign-ins a
second an org process is 14,400 an hour). The check's OS thread runs at a lower CPU priority
(``nice`` 10 for that thread alone): on a busy machine the requests of signed-in users go
first. No database connection is held during a check.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime

import eventlet
from eventlet import patcher, tpool
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common import clock
from common.db import Db
from common.errors import NotFound
from common.projection import upsert
from services.org import commands
from services.org.models import LoginThrottle, User
from services.org.throttle import ACCOUNT, ADDRESS, FORGET_AFTER, Counter, Rules, retry_after

log = logging.getLogger(__name__)

_slots: list = []  # the process's semaphore of password checks, made on first use
_last_start = [0.0]  # when the latest check began (monotonic)


def in_check_pool(fn, *args):
    """``fn(*args)`` (a password hash or check) in a bounded, paced pool of OS threads."""
    if not patcher.is_monkey_patched("thread"):  # a plain process (tools, unit tests)
        return fn(*args)
    if not _slots:
        _slots.append(eventlet.semaphore.Semaphore(int(os.environ.get("BPC_PASSWORD_CHECKS", "1"))))
    gap = 1.0 / float(os.environ.get("BPC_PASSWORD_CHECK_RATE", "4"))
    with _slots[0]:
        wait = _last_start[0] + gap - time.monotonic()
        if wait > 0:
            eventlet.sleep(wait)
        _last_start[0] = time.monotonic()
        return tpool.execute(_niced, fn, *args)


_nice = threading.local()


def _niced(fn, *args):
    """``fn(*args)`` in this OS thread, lowered once to CPU priority nice 10 (Linux schedules
    threads one by one; elsewhere it runs as it is)."""
    if not getattr(_nice, "done", False):
        _nice.done = True
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
    return fn(*args)


def keys_of(login: str, address: str | None) -> list[tuple[str, str]]:
    keys = [(ACCOUNT, login[:200])]
    if address:
        keys.append((ADDRESS, address[:200]))
    return keys


def _counters(session: Session, keys, lock: bool = False) -> dict[tuple[str, str], Counter]:
    query = select(LoginThrottle).where(
        LoginThrottle.scope.in_({k[0] for k in keys}), LoginThrottle.key.in_({k[1] for k in keys})
    )
    if lock:
        query = query.with_for_update()
    rows = {(r.scope, r.key): r for r in session.scalars(query)}
    return {
        key: Counter(rows[key].failures, rows[key].last_failure_at, rows[key].locked_until)
        if key in rows else Counter()
        for key in keys
    }  # fmt: skip


def wait_of(session: Session, keys) -> int:
    """Seconds before the next password of these counters may be checked (0: now)."""
    now = clock.now()
    wait = max(c.current(now).wait(now) for c in _counters(session, keys).values())
    return retry_after(wait) if wait > 0 else 0


def clear_account(session: Session, login_name: str) -> int:
    """Forget the failures of an account (a successful login, an unlock, a reset)."""
    account = (LoginThrottle.scope == ACCOUNT, LoginThrottle.key == login_name[:200])
    return session.execute(delete(LoginThrottle).where(*account)).rowcount


def failed(db: Db, keys, rules: Rules, user_id, login_name: str, address, reason: str) -> None:
    """Count the failure on the account and the address. Audited: the first failure of a
    run, and each time a counter starts to wait — not every repeat, so that a flood of wrong
    passwords cannot fill the audit log (the counter holds how many)."""
    with db.unit_of_work() as uow:
        session = uow.session
        now = clock.now()
        before = _counters(session, keys, lock=True)
        after = {key: before[key].failed(rules, key[0], now) for key in keys}
        for (scope, key), counter in after.items():
            values = {"scope": scope, "key": key, "failures": counter.failures,
                      "last_failure_at": counter.last_failure_at,
                      "locked_until": counter.locked_until}  # fmt: skip
            upsert(session, LoginThrottle, "key", values,
                   ("failures", "last_failure_at", "locked_until"),
                   index_elements=("scope", "key"))  # fmt: skip
        account = after[keys[0]]
        details = {"login": login_name[:80], "reason": reason, "address": address,
                   "failures": account.failures}  # fmt: skip
        if account.failures == 1:
            commands.record_audit(
                session, actor_id=user_id, action="login_failed", target_type="user",
                target_id=user_id, details=details,
            )  # fmt: skip
        for (scope, _), counter in after.items():
            if counter.locked_until is None:
                continue
            commands.record_audit(
                session, actor_id=user_id, action="login_throttled", target_type=scope,
                target_id=user_id if scope == ACCOUNT else None,
                details={**details, "scope": scope, "failures": counter.failures,
                         "locked_until": clock.isoformat(counter.locked_until)},
            )  # fmt: skip
        # counters quiet for a day are gone (a flood of made-up logins leaves no lasting rows)
        session.execute(
            delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER * 24)
        )


def locks(db: Db, now: datetime | None = None) -> dict:
    """Level 9: the accounts and addresses that wait now, longest wait first."""
    now = now or clock.now()
    with db.read() as session:
        rows = session.scalars(select(LoginThrottle).where(LoginThrottle.locked_until > now)).all()
        logins = {r.key for r in rows if r.scope == ACCOUNT}
        users = {
            u.login: u for u in session.scalars(select(User).where(User.login.in_(logins)))
        } if logins else {}  # fmt: skip
        items = [
            {
                "scope": r.scope, "key": r.key, "failures": r.failures,
                "locked_until": clock.isoformat(r.locked_until),
                "retry_after": retry_after((r.locked_until - now).total_seconds()),
                "user_id": str(users[r.key].id) if r.key in users else None,
                "name": users[r.key].name if r.key in users else None,
            }
            for r in rows
        ]  # fmt: skip
    items.sort(key=lambda i: i["locked_until"], reverse=True)
    return {"items": items}


def unlock(db: Db, actor_id: str, user_id: int) -> dict:
    """Level 9: the user's account may try again at once (its failures forgotten)."""
    with db.unit_of_work() as uow:
        session = uow.session
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("用户不存在 / User not found", {"user_id": str(user_id)})
        cleared = clear_account(session, user.login)
        commands.record_audit(session, actor_id=actor_id, action="login_unlocked",
                              target_type="user", target_id=user.id,
                              details={"was_locked": bool(cleared)})  # fmt: skip
        return uow.answer({"user_id": str(user.id), "unlocked": bool(cleared)})
