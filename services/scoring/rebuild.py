"""Running a rebuild: in the service (background, ``rebuild`` RPC) or from the CLI
(``bpc rebuild-scoring``, with progress), both through ``handlers.Rebuild``.

One rebuild at a time across every instance and the CLI: the runner claims the one
``rebuild_runs`` row (a conditional UPDATE, atomic on either database), writes its progress
there as it goes and a heartbeat every few seconds. Any instance answers the status from that
row; a claim whose heartbeat has stopped (its process died) reads as failed and may be taken.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import eventlet
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from common import clock, config
from common.actor import SYSTEM
from services.scoring.models import RebuildRun

log = logging.getLogger(__name__)
PAGE_TIMEOUT = 60.0
HEARTBEAT = 5.0  # seconds between a running rebuild's heartbeats
STALE = 30.0  # seconds without a heartbeat after which a running rebuild counts as dead
SAVE_EVERY = 0.5  # seconds between progress writes (the last one is always written)
INTERRUPTED = "重建中断（进程已退出）/ Rebuild interrupted (its process stopped)"
ROW = 1


def _fresh(now):
    return {"state": "running", "entries": 0, "progress": 0, "seconds": 0.0,
            "started_at": now, "heartbeat_at": now, "error": None}  # fmt: skip


def claim(db) -> str | None:
    """Take the rebuild for this process: its claim token, or None while another runs."""
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    now = clock.now()
    with db.unit_of_work() as uow:
        taken = uow.session.execute(
            update(RebuildRun)
            .where(
                RebuildRun.id == ROW,
                or_(
                    RebuildRun.state != "running",
                    RebuildRun.heartbeat_at < now - timedelta(seconds=STALE),
                ),
            )
            .values(runner=token, **_fresh(now))
            .execution_options(synchronize_session=False)
        ).rowcount
    if taken:
        return token
    try:  # a database from before the row existed (the migration inserts it)
        with db.unit_of_work() as uow:
            if uow.session.get(RebuildRun, ROW) is not None:
                return None
            uow.session.add(RebuildRun(id=ROW, runner=token, **_fresh(now)))
    except IntegrityError:
        return None  # another instance inserted it first, and runs
    return token


def status(db) -> dict:
    """The rebuild's state as any instance sees it (API: state, entries, progress, seconds)."""
    with db.unit_of_work() as uow:
        run_ = uow.session.scalar(select(RebuildRun).where(RebuildRun.id == ROW))
        if run_ is None:
            return {"state": "idle", "entries": 0, "progress": 0, "seconds": 0.0}
        answer = {
            "state": run_.state,
            "entries": run_.entries,
            "progress": run_.progress,
            "seconds": run_.seconds,
            "started_at": clock.isoformat(run_.started_at),
        }
        if run_.error:
            answer["error"] = run_.error
        beat = run_.heartbeat_at
        if (
            run_.state == "running"
            and beat
            and clock.as_utc(beat) < clock.now() - timedelta(seconds=STALE)
        ):
            answer.update(state="failed", error=INTERRUPTED)
        return answer


def save(db, token: str, progress: dict, error: str | None = None) -> bool:
    """Write the claimant's progress (False: the claim was lost to another runner)."""
    values = {k: progress[k] for k in ("state", "entries", "progress", "seconds") if k in progress}
    return _write(db, token, **values, error=error)


def _write(db, token: str, *where, **values) -> bool:
    """Update the row while ``token`` holds the claim (and ``where``), with a heartbeat."""
    with db.unit_of_work() as uow:
        return bool(
            uow.session.execute(
                update(RebuildRun)
                .where(RebuildRun.id == ROW, RebuildRun.runner == token, *where)
                .values(**values, heartbeat_at=clock.now())
                .execution_options(synchronize_session=False)
            ).rowcount
        )


class Reporter:
    """``handlers.Rebuild``'s progress callback: into the shared row (at most every
    ``SAVE_EVERY`` s while running, always at the end), then to ``echo`` if given."""

    def __init__(self, db, token: str, echo=None):
        self.db, self.token, self.echo = db, token, echo
        self._saved = float("-inf")

    def __call__(self, progress: dict) -> None:
        if self.echo:
            self.echo(progress)
        if progress["state"] != "running" or time.monotonic() - self._saved >= SAVE_EVERY:
            self._saved = time.monotonic()
            save(self.db, self.token, progress)


def run(db, token: str, job) -> None:
    """Run a claimed rebuild to its end, with a heartbeat, recording how it ended."""
    beating = eventlet.spawn(_heartbeat, db, token)
    try:
        job.run()
    except Exception as exc:  # noqa: BLE001 - reported in the status, the service stays up
        log.exception("scoring rebuild failed")
        job.status["state"] = "failed"
        save(db, token, job.status, error=f"重建失败 / Rebuild failed: {exc!r}"[:500])
    finally:
        beating.kill()
        close_proxies()


def _heartbeat(db, token: str) -> None:
    while True:
        eventlet.sleep(HEARTBEAT)
        try:
            _write(db, token, RebuildRun.state == "running")
        except Exception:  # noqa: BLE001 - a missed beat; the next one may get through
            log.warning("the rebuild's heartbeat was not written", exc_info=True)


_proxies: dict = {}


def fetch_over_rpc(service: str, method: str, after_id: int, limit: int, **options) -> dict:
    """One page of another service's export, as the system (level 9), bounded in time. One
    RPC proxy (a connection and a reply queue) serves every page of a rebuild."""
    from nameko.standalone.rpc import ClusterRpcProxy

    proxy = _proxies.get("proxy")
    if proxy is None:
        context = {"bpc_actor": SYSTEM.to_header()}
        runner = ClusterRpcProxy(config.nameko_config(), context_data=context, timeout=PAGE_TIMEOUT)
        proxy = _proxies["proxy"] = runner.start()
        _proxies["runner"] = runner
    try:
        return getattr(getattr(proxy, service), method)(after_id=after_id, limit=limit, **options)
    except BaseException:
        close_proxies()  # a broken connection is not reused
        raise


def close_proxies() -> None:
    runner = _proxies.pop("runner", None)
    _proxies.pop("proxy", None)
    if runner is not None:
        try:
            runner.stop()
        except Exception:  # noqa: BLE001 - closing a broken connection
            log.debug("closing the rebuild's RPC proxy failed", exc_info=True)


class SessionDb:
    """The unit-of-work interface ``handlers.Rebuild`` needs, on a bare engine (the CLI)."""

    def __init__(self, engine):
        from sqlalchemy.orm import sessionmaker

        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self):
        session = self._sessions()

        class _Uow:
            pass

        uow = _Uow()
        uow.session = session
        try:
            yield uow
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
