"""The sweep's claim, on a real database: SQLite, and PostgreSQL when it answers.

Specifications: two sweepers running at the same time in separate processes confiscate each
overdue opportunity exactly once and touch nothing else; the opportunity history refuses
UPDATE and DELETE in the database itself; a warning is claimed once per stage entry; a missed
decision escalates and keeps the original owner.

The PostgreSQL database is created with a unique name (prefix ``BPC_TEST_DB_PREFIX``, default
``bpc_test``) and dropped afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from common import clock
from common.db import make_engine
from common.migrations import upgrade
from services.opportunity.models import (
    CONFISCATED,
    LOSS_PENDING,
    OPEN,
    WON,
    Opportunity,
    OpportunityHistory,
    Pipeline,
)
from services.opportunity.sweep import (
    claim_due_warnings,
    claim_overdue,
    claim_overdue_decisions,
    confiscate,
    mark_warned,
)

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BPC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
SUPERVISOR, SUPERVISOR_PATH = "2", "/1/2/"
OVERDUE = 1000
NOT_OVERDUE = 3000


def _pg_admin():
    import psycopg2

    # no skip: the suite runs on PostgreSQL too, and `./bpc test` starts it when it is down
    conn = psycopg2.connect(f"{PG}/postgres", connect_timeout=3)
    conn.autocommit = True
    return conn


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bpc-opp-sweep-") as folder:
            yield f"sqlite:///{folder}/opportunity.db"
        return
    prefix = os.environ.get("BPC_TEST_DB_PREFIX", "bpc_test")
    name = f"{prefix}_opp_sweep_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    admin = _pg_admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade("opportunity", engine)
    yield engine
    engine.dispose()


def _pipeline(engine) -> int:
    with sessionmaker(engine)() as session:
        pipeline = Pipeline(
            name="default",
            definition={"name": "default", "stages": []},
            scope_path="/",
            is_default=True,
            created_by="system",
            created_at=clock.now(),
        )
        session.add(pipeline)
        session.commit()
        return pipeline.id


def _row(pipeline_id: int, n: int, now, **overrides) -> dict:
    row = {
        "customer_id": n,
        "title": f"商机 {n}",
        "amount_fen": 100_000 + n,
        "pipeline_id": pipeline_id,
        "owner_id": "9",
        "owner_path": "/1/2/9/",
        "holder_id": "9",
        "holder_path": "/1/2/9/",
        "original_owner_id": None,
        "status": OPEN,
        "stage_key": "needs",
        "stage_index": 1,
        "stage_entered_at": now - timedelta(days=20),
        "stage_deadline": now + timedelta(days=3),
        "warn_at": None,
        "warned_at": None,
        "followup_deadline": None,
        "decision_deadline": None,
        "flagged": False,
        "feasibility_score": 0.75,
        "created_at": now - timedelta(days=30),
        "closed_at": None,
        "version": 1,
    }
    row.update(overrides)
    return row


def _seed(engine, now) -> tuple[set[int], dict[int, str]]:
    """1,000 overdue among 3,000 that are not; returns the overdue ids and everyone's status."""
    pipeline_id = _pipeline(engine)
    rng = random.Random(7)
    rows = []
    for n in range(OVERDUE):
        past = now - timedelta(minutes=rng.randint(1, 10_000))
        if n % 10 == 0:  # the follow-up limit passed, the stage deadline not yet
            rows.append(_row(pipeline_id, n, now, followup_deadline=past))
        elif n % 10 == 1:  # a pending loss stays on the clock
            rows.append(_row(pipeline_id, n, now, status=LOSS_PENDING, stage_deadline=past))
        else:
            rows.append(_row(pipeline_id, n, now, stage_deadline=past))
    for n in range(OVERDUE, OVERDUE + NOT_OVERDUE):
        past = now - timedelta(minutes=rng.randint(1, 10_000))
        future = now + timedelta(minutes=rng.randint(1, 10_000))
        kind = n % 4
        if kind == 0:
            rows.append(_row(pipeline_id, n, now, stage_deadline=future))
        elif kind == 1:
            rows.append(_row(pipeline_id, n, now, stage_deadline=future, followup_deadline=future))
        elif kind == 2:  # already confiscated; its decision deadline is still ahead
            rows.append(
                _row(
                    pipeline_id,
                    n,
                    now,
                    status=CONFISCATED,
                    stage_deadline=past,
                    holder_id=SUPERVISOR,
                    holder_path=SUPERVISOR_PATH,
                    original_owner_id="9",
                    decision_deadline=future,
                )
            )
        else:  # closed long ago
            rows.append(_row(pipeline_id, n, now, status=WON, stage_deadline=past, closed_at=past))
    rng.shuffle(rows)
    with engine.begin() as conn:
        conn.execute(insert(Opportunity.__table__), rows)
        found = conn.execute(
            select(Opportunity.id, Opportunity.customer_id, Opportunity.status)
        ).all()
    overdue = {r.id for r in found if r.customer_id < OVERDUE}
    return overdue, {r.id: r.status for r in found}


def run_sweeper(url: str, start_at: float, batch: int) -> None:
    """One sweeping process: claim and confiscate batch after batch until nothing is due."""
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    while time.time() < start_at:
        time.sleep(0.005)
    started = time.perf_counter()
    now = clock.now()
    confiscated = batches = 0
    while True:
        with factory() as session:
            opps = claim_overdue(session, now, batch)
            if not opps:
                session.rollback()
                break
            for opp in opps:
                confiscate(
                    session,
                    opp,
                    SUPERVISOR,
                    SUPERVISOR_PATH,
                    now + timedelta(days=3),
                    now,
                    "阶段超时 / stage deadline passed",
                )
            session.commit()
            confiscated += len(opps)
            batches += 1
    elapsed = time.perf_counter() - started
    engine.dispose()
    sys.stdout.write(json.dumps({"confiscated": confiscated, "batches": batches, "s": elapsed}))


def _sweep_in_two_processes(url: str) -> tuple[list[dict], float]:
    start_at = time.time() + 2.0  # both processes start sweeping at the same instant
    code = (
        "from tests.integration.test_opportunity_sweep import run_sweeper; "
        f"run_sweeper({url!r}, {start_at!r}, 100)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results, max(r["s"] for r in results)


def test_two_concurrent_sweepers_confiscate_each_overdue_opportunity_exactly_once(
    engine, db_url, record_property
):
    now = clock.now()
    overdue, before = _seed(engine, now)
    assert len(overdue) == OVERDUE

    results, seconds = _sweep_in_two_processes(db_url)
    log.info(
        "%s: 2 sweepers, %d overdue: %.3f s %s", engine.dialect.name, OVERDUE, seconds, results
    )
    record_property("sweep_seconds", round(seconds, 3))
    record_property("per_sweeper", results)

    assert sum(r["confiscated"] for r in results) == OVERDUE
    with engine.connect() as conn:
        per_opportunity = dict(
            conn.execute(
                select(OpportunityHistory.opportunity_id, func.count())
                .where(OpportunityHistory.action == "confiscated")
                .group_by(OpportunityHistory.opportunity_id)
            ).all()
        )
        after = {
            r.id: r
            for r in conn.execute(
                select(
                    Opportunity.id,
                    Opportunity.status,
                    Opportunity.holder_id,
                    Opportunity.original_owner_id,
                    Opportunity.version,
                )
            )
        }
    assert set(per_opportunity) == overdue
    assert set(per_opportunity.values()) == {1}
    for opp_id, row in after.items():
        if opp_id in overdue:
            assert (row.status, row.holder_id, row.original_owner_id) == (CONFISCATED, "2", "9")
            assert row.version == 2
        else:
            assert row.status == before[opp_id] and row.version == 1

    # nothing is left to claim
    with sessionmaker(engine)() as session:
        assert claim_overdue(session, clock.now(), 100) == []
        session.rollback()


def test_opportunity_history_refuses_update_and_delete(engine):
    now = clock.now()
    pipeline_id = _pipeline(engine)
    with engine.begin() as conn:
        conn.execute(insert(Opportunity.__table__), [_row(pipeline_id, 1, now)])
        opp_id = conn.execute(select(Opportunity.id)).scalar_one()
        conn.execute(
            insert(OpportunityHistory.__table__),
            [{"opportunity_id": opp_id, "at": now, "action": "registered", "by": "9"}],
        )
    for statement in (
        "UPDATE opportunity_history SET reason = 'rewritten'",
        "DELETE FROM opportunity_history",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(select(OpportunityHistory.action, OpportunityHistory.reason)).all() == [
            ("registered", None)
        ]


def test_warning_is_claimed_once_per_stage_entry_and_missed_decision_escalates(engine):
    now = clock.now()
    pipeline_id = _pipeline(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Opportunity.__table__),
            [
                _row(pipeline_id, 1, now, warn_at=now - timedelta(seconds=1)),
                _row(pipeline_id, 2, now, warn_at=now + timedelta(days=1)),
                _row(
                    pipeline_id,
                    3,
                    now,
                    status=CONFISCATED,
                    holder_id=SUPERVISOR,
                    holder_path=SUPERVISOR_PATH,
                    original_owner_id="9",
                    decision_deadline=now - timedelta(seconds=1),
                ),
            ],
        )
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        due = claim_due_warnings(session, now, 10)
        assert [o.customer_id for o in due] == [1]
        mark_warned(session, due[0], now)
        session.commit()
    with factory() as session:
        assert claim_due_warnings(session, now + timedelta(hours=1), 10) == []
        session.rollback()

    with factory() as session:
        missed = claim_overdue_decisions(session, now, 10)
        assert [o.customer_id for o in missed] == [3]
        changes = confiscate(
            session, missed[0], "1", "/1/", now + timedelta(days=3), now, "决定超时 / decision late"
        )
        session.commit()
    assert changes["action"] == "escalated"
    assert (changes["from_holder_id"], changes["to_holder_id"]) == (SUPERVISOR, "1")
    assert changes["original_owner_id"] == "9"
    with factory() as session:
        assert claim_overdue_decisions(session, now + timedelta(days=1), 10) == []
        session.rollback()
