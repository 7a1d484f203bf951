"""Group commit: requests arriving while a transaction is in flight share the next one.

A write that costs one transaction per request pays, for every request, the transaction's
fixed price: a connection checked out, BEGIN, the statements compiled and sent one by one,
COMMIT and its WAL flush, the outbox relay woken. Under load, while one transaction runs,
others queue up behind it anyway; here they are recorded together in the next transaction,
in arrival order, so the fixed price is paid once per group (as PostgreSQL's own group commit
does for WAL flushes).

No timer and no extra thread: the first request to find no group in flight leads; it takes
what has queued (itself first, up to ``max_size``), runs the group, wakes the others with
their own answers, and hands the lead to the oldest request still queued. A lone request
therefore waits for nothing.

``run(items)`` must settle every item of the group (``item.succeed`` / ``item.fail``); an
item it leaves unsettled, or a group that raises, fails with that error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from common.errors import ServiceUnavailable

UNSETTLED = "未能记录，请重试 / Not recorded; please try again"


class Pending:
    """One request waiting for its group: its input, then its answer or its error."""

    __slots__ = ("payload", "result", "error", "settled", "lead", "_wake")

    def __init__(self, payload: Any):
        self.payload = payload
        self.result: Any = None
        self.error: BaseException | None = None
        self.settled = False
        self.lead = False
        self._wake = threading.Event()  # green under eventlet's monkey patch

    def succeed(self, result: Any) -> None:
        self.result, self.settled = result, True

    def fail(self, error: BaseException) -> None:
        self.error, self.settled = error, True

    def answer(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Runs ``run(group)`` for the requests of one process that arrive together."""

    def __init__(self, run: Callable[[list[Pending]], None], max_size: int = 64):
        self.run = run
        self.max_size = max_size
        self._queue: list[Pending] = []
        self._leading = False
        self.groups = 0  # groups run, and requests in them (for tests and metrics)
        self.requests = 0

    def submit(self, payload: Any) -> Any:
        """The answer ``run`` gave this payload (or its error, raised here)."""
        item = Pending(payload)
        self._queue.append(item)
        if self._leading:
            try:
                item._wake.wait()
            except BaseException:  # this caller is going away (its worker was killed)
                self._abandon(item)
                raise
            if not item.lead:
                return item.answer()
        else:
            self._leading = True
        self._lead()
        return item.answer()

    def _lead(self) -> None:
        """Run one group (the leader's own request first) and pass the lead on."""
        group, self._queue = self._queue[: self.max_size], self._queue[self.max_size :]
        try:
            self.run(group)
        except BaseException as exc:  # noqa: BLE001 - every caller of the group hears of it
            for item in group:
                if not item.settled:
                    item.fail(exc if isinstance(exc, Exception) else ServiceUnavailable(UNSETTLED))
            if not isinstance(exc, Exception):
                raise
        finally:
            self.groups += 1
            self.requests += len(group)
            for item in group:
                if not item.settled:
                    item.fail(ServiceUnavailable(UNSETTLED))
                item._wake.set()
            self._hand_over()

    def _hand_over(self) -> None:
        if self._queue:
            nxt = self._queue[0]
            nxt.lead = True
            nxt._wake.set()
        else:
            self._leading = False

    def _abandon(self, item: Pending) -> None:
        if item in self._queue:
            self._queue.remove(item)  # never run: its caller will not hear the answer
        if item.lead and not item.settled:
            self._hand_over()  # it was given the lead and cannot take it
