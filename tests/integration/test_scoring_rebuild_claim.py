"""One scoring rebuild at a time across every instance and the CLI (services.scoring.rebuild),
on the real databases: the claim is a row that every instance reads and writes.

A second claim while one runs is refused; every instance answers the same status; a runner
whose heartbeat stopped (its process died) reads as failed and its claim may be taken, after
which the old runner can no longer write its progress over the new one's.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from common.db import make_engine
from common.migrations import upgrade
from services.scoring import rebuild
from services.scoring.models import RebuildRun
from services.scoring.rebuild import SessionDb
from tests.support import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scoring.db'}"
    else:
        url = create_pg_database("bpc_test_rebuild_claim")
    engine = make_engine(url)
    upgrade("scoring", engine)  # the migration creates the row, idle
    try:
        yield engine
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_pg_database(url)


def test_one_rebuild_runs_at_a_time_and_every_instance_sees_its_progress(engine):
    one, other = SessionDb(engine), SessionDb(engine)  # two instances on one database
    assert rebuild.status(other)["state"] == "idle"
    token = rebuild.claim(one)
    assert token
    assert rebuild.claim(other) is None  # running: not started a second time
    assert rebuild.claim(one) is None
    seen = rebuild.status(other)
    assert seen["state"] == "running" and seen["entries"] == 0 and seen["started_at"]

    assert rebuild.save(one, token, {"state": "running", "entries": 20_000, "progress": 3,
                                     "seconds": 1.5})  # fmt: skip
    assert rebuild.status(other) == {**seen, "entries": 20_000, "progress": 3, "seconds": 1.5}
    rebuild.save(one, token, {"state": "done", "entries": 25_000, "progress": 4, "seconds": 2.0})
    assert rebuild.status(other)["state"] == "done"
    again = rebuild.claim(other)  # a finished rebuild may be run again, by any instance
    assert again and again != token
    assert rebuild.status(one)["entries"] == 0


def test_a_runner_whose_heartbeat_stopped_reads_as_failed_and_may_be_replaced(engine):
    first, second = SessionDb(engine), SessionDb(engine)
    dead = rebuild.claim(first)
    with engine.begin() as conn:  # its process died: the last heartbeat is a minute old
        conn.execute(update(RebuildRun).values(heartbeat_at=_minutes_ago(1)))
    status = rebuild.status(second)
    assert status["state"] == "failed" and "interrupted" in status["error"]
    taken = rebuild.claim(second)
    assert taken and taken != dead
    # the old runner, had it only stalled, may not write over the new run
    assert not rebuild.save(first, dead, {"state": "done", "entries": 9, "progress": 9,
                                          "seconds": 9.0})  # fmt: skip
    assert rebuild.status(second)["state"] == "running"
    assert rebuild.status(second)["entries"] == 0


def test_a_failed_rebuild_keeps_its_reason_and_may_be_run_again(engine):
    db = SessionDb(engine)
    token = rebuild.claim(db)

    class Broken:
        status = {"state": "running", "entries": 10, "progress": 0, "seconds": 0.1}

        def run(self):
            raise ConnectionError("worklog unreachable")

    rebuild.run(db, token, Broken())
    status = rebuild.status(db)
    assert status["state"] == "failed" and "worklog unreachable" in status["error"]
    assert status["entries"] == 10
    assert rebuild.claim(db)


def _minutes_ago(n: int):
    from datetime import timedelta

    from common import clock

    return clock.now() - timedelta(minutes=n)
