"""Two instances of the opportunity service sweeping the same 1,000 overdue opportunities at
the same time (issue acceptance): each is confiscated exactly once — one history row and one
``confiscated`` event per opportunity — and, on PostgreSQL, both instances took part.

Both instances run their sweep timer every 0.1 s with small batches (20), so their claims
interleave for the whole sweep; 1,000 overdue opportunities arrive in one import transaction.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from common.actor import Actor
from tests.support import Environment, EventTap, ServiceProcess, discard, eventually, rpc

OVERDUE = 1000
TOP, SUP, REP = "9001", "9002", "9003"


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path_factory):
    environment = Environment.create(tmp_path_factory.mktemp("sweepers"), request.param)
    from common import topology

    topology.declare(services=("opportunity",), uri=environment.amqp_uri)
    try:
        yield environment
    finally:
        environment.destroy()


def _engine(env: Environment):
    url = env.pg_urls.get("opportunity") or f"sqlite:///{env.data_dir}/opportunity.db"
    return create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))


def test_two_instances_confiscate_each_overdue_opportunity_exactly_once(env):
    fast = {"BPC_SWEEP_INTERVAL": "0.1", "BPC_SWEEP_BATCH": "20"}
    instances = [ServiceProcess(env, "opportunity", **fast).start() for _ in range(2)]
    tap = EventTap(env.amqp_uri, "opportunity")
    try:
        for instance in instances:
            instance.wait_ready()
        top = Actor(id=TOP, level=9, path=[TOP], name="董事长")
        long_ago = datetime.now(UTC) - timedelta(days=30)
        items = [
            {
                "customer_id": str(100_000 + n),
                "title": f"逾期商机 {n}",
                "amount": "1000",
                "owner_id": REP,
                "owner_path": [TOP, SUP, REP],
                "created_at": long_ago.isoformat(),  # P7D in "contact": 23 days overdue
            }
            for n in range(OVERDUE)
        ]
        answer = rpc(env, "opportunity", "import_opportunities", actor=top, items=items, timeout=60)
        ids = set(answer["ids"])
        assert len(ids) == OVERDUE

        engine = _engine(env)

        def all_confiscated():
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM opportunities WHERE status = 'open'")
                ).scalar()
            return left == 0

        eventually(all_confiscated, timeout=120, message="the sweepers did not finish")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT opportunity_id, count(*) FROM opportunity_history "
                    "WHERE action = 'confiscated' GROUP BY opportunity_id"
                )
            ).all()
            holders = conn.execute(
                text("SELECT DISTINCT holder_id, holder_path FROM opportunities")
            ).all()
        engine.dispose()
        assert {str(opp_id) for opp_id, _ in rows} == ids
        assert {count for _, count in rows} == {1}
        assert holders == [(SUP, f"/{TOP}/{SUP}/")]

        def events_in():
            events = [e for e in tap.drain() if e["type"] == "confiscated"]
            return len(events) >= OVERDUE and events

        events = eventually(events_in, timeout=60, message="events missing")
        per_opportunity = Counter(e["data"]["opportunity_id"] for e in events)
        assert set(per_opportunity) == ids and set(per_opportunity.values()) == {1}

        log = (env.data_dir / "opportunity.log").read_text(errors="replace")
        by_process: Counter = Counter()
        for pid, counts in re.findall(r"sweep by process (\d+): (\{.*?\})", log):
            by_process[pid] += json.loads(counts)["confiscated"]
        print(f"\nconfiscations per instance: {dict(by_process)}")
        assert sum(by_process.values()) == OVERDUE
        if env.backend == "postgresql":  # rows are claimed side by side (SKIP LOCKED)
            assert len([n for n in by_process.values() if n > 0]) == 2, by_process
        # SQLite has one writer: the instances take turns on its write lock, and the one that
        # just committed usually takes it again, so one instance may do all the work there
    finally:
        tap.close()
        discard(*instances)
