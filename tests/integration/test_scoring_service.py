"""Scoring beside the worklog, opportunity and customer services, fed only by their events: its
rules in this process on SQLite and PostgreSQL (tests/inprocess.py); what only processes on the
broker make real — a killed and restarted scoring, two instances, the dead-letter queue — with
each service as its own process (RabbitMQ, SQLite and PostgreSQL).

Specifications (docs/DOMAIN.md §5): a day of entries gives the hand-computed curve points and
leaderboard order; entries posted while scoring is killed (SIGKILL) twice and restarted are
each counted once, and the aggregates equal those of a full rebuild from the other services.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from common.actor import Actor
from tests.inprocess import Services
from tests.support import (
    ROOT,
    Environment,
    ServiceProcess,
    customer_for,
    discard,
    eventually,
    publish_event,
    rpc,
)

_ids = itertools.count(random.randint(10**6, 10**7) * 100)
SHANGHAI = ZoneInfo("Asia/Shanghai")
TOP = Actor(id="1", level=9, path=["1"], name="董事长")


def new_id() -> str:
    return str(next(_ids))


class Running:
    def __init__(self, env):
        self.env = env
        self.processes = {
            # a failing handler retried after 100 ms, doubling (the poison entry is parked in
            # seconds, not the default 7.5 s)
            name: ServiceProcess(
                env, name, BPC_SWEEP_INTERVAL="0.3", BPC_HANDLER_RETRY_DELAY_MS="100"
            )
            for name in ("worklog", "opportunity", "scoring", "customer")
        }

    def start(self, *names):
        for name in names or self.processes:
            self.processes[name].start()
        for name in names or self.processes:
            self.processes[name].wait_ready()

    def stop(self):
        for process in self.processes.values():
            process.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request, tmp_path_factory):
    """The four services in this process (tests/inprocess.py) on each database; the
    opportunity sweep's timer every 0.3 s."""
    services = Services.create(
        tmp_path_factory.mktemp("scoring-rules"), request.param,
        "worklog", "opportunity", "scoring", "customer", BPC_SWEEP_INTERVAL="0.3",
    )  # fmt: skip
    yield services
    services.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def system(request, tmp_path_factory):
    """Each service as its own process on each database: for scoring killed and restarted, a
    second instance, and the dead-letter queue."""
    env = Environment.create(tmp_path_factory.mktemp("scoring"), request.param)
    from common import topology

    # the customer service too: an entry's customer must be one its author may work on
    topology.declare(services=("worklog", "opportunity", "scoring", "customer"), uri=env.amqp_uri)
    running = Running(env)
    try:
        running.start()
        yield running
    finally:
        discard(*running.processes.values())
        env.destroy()


FAST = {
    "name": "快速流程",
    "stages": [
        {"key": "contact", "name": "接触", "time_limit": "PT60S", "probability": 10},
        {"key": "needs", "name": "需求", "time_limit": "PT2S", "probability": 30},
        {"key": "won", "name": "成交", "time_limit": None, "probability": 100},
    ],
    "remind_before": "PT1S",
    "qualification": [],
    "qualification_threshold": 0,
}


def _register(env, actor, customer, pipeline):
    from common.errors import NotFound

    try:
        return rpc(
            env, "opportunity", "register", actor=actor, customer_id=customer,
            title="项目", amount="1000", pipeline_id=pipeline,
        )  # fmt: skip
    except NotFound:
        return None


def record(env, actor, **kwargs):
    return rpc(env, "worklog", "record", actor=actor, **kwargs)


def scoring(env, method, actor, **kwargs):
    return rpc(env, "scoring", method, actor=actor, timeout=30, **kwargs)


def _now_iso() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


def test_a_day_of_entries_gives_the_expected_curve_points_and_leaderboard(env):
    sup = new_id()
    lead = Actor(id=sup, level=4, path=["1", sup], name="王主管")
    a, b, c, d = (new_id() for _ in range(4))
    zhang = Actor(id=a, level=2, path=["1", sup, a], name="张伟")
    li = Actor(id=b, level=2, path=["1", sup, b], name="李娜")
    wang = Actor(id=c, level=2, path=["1", sup, c], name="王芳")
    an = Actor(id=d, level=2, path=["1", sup, d], name="安然")
    for actor in (lead, zhang, li, wang, an):  # org tells every service of new users
        publish_event(
            env, "org", "user_created",
            {"user_id": actor.id, "login": f"u{actor.id}", "name": actor.name,
             "level": actor.level, "org_unit_id": None, "supervisor_id": actor.path[-2],
             "path": actor.path},
        )  # fmt: skip

    record(
        env, zhang, customer_id=customer_for(env, zhang), activities=["visit"], minutes=120
    )  # 3 points
    record(
        env, zhang, customer_id=customer_for(env, zhang), activities=["call"], minutes=30
    )  # 1 point
    record(
        env, li, customer_id=customer_for(env, li), activities=["call", "visit"], minutes=200
    )  # 4
    record(env, wang, activities=["meeting"], minutes=60)  # 0.5
    record(
        env, an, customer_id=customer_for(env, an), activities=["call"], minutes=150
    )  # 1, ties 张伟
    # wang advances an opportunity (+5); the sweep confiscates it two seconds later (−10)
    customer = new_id()
    publish_event(
        env, "customer", "customer_registered",
        {"customer_id": customer, "name": f"客户{customer}", "owner_id": c, "referred_by": None},
    )  # fmt: skip
    pipeline = rpc(env, "opportunity", "create_pipeline", actor=TOP, **FAST)["id"]
    registered = eventually(
        lambda: _register(env, wang, customer, pipeline), message="customer never known"
    )
    rpc(env, "opportunity", "advance", actor=wang, opportunity_id=registered["id"])

    today = datetime.now(SHANGHAI).date().isoformat()

    def point(actor):
        points = scoring(env, "curves", actor, from_date=today, to_date=today)["points"]
        return points[0]

    eventually(lambda: point(wang)["score"] == -4.5, timeout=20,
               message=lambda: f"events not scored: {point(wang)}")  # fmt: skip
    eventually(
        lambda: len(scoring(env, "leaderboard", lead, scope="team")["items"]) == 5,
        message="the people never reached scoring",
    )
    assert point(zhang) | {"date": today} == {
        "date": today, "minutes": 150, "score": 4.0, "entries": 2, "suspicious": 0,
        "proven_false": 0,
    }  # fmt: skip
    assert point(li)["minutes"] == 200 and point(li)["score"] == 4.0
    assert point(wang)["minutes"] == 60 and point(wang)["score"] == 0.5 + 5 - 10

    diligence = scoring(env, "leaderboard", lead, metric="diligence", period="day", scope="team")
    assert [(i["rank"], i["user_id"], i["value"]) for i in diligence["items"]] == [
        (1, b, 200.0),
        (2, d, 150.0),
        (2, a, 150.0),
        (4, c, 60.0),
        (5, sup, 0.0),
    ]  # fmt: skip — 安然 (an) before 张伟 (zhang) in pinyin order within the tie
    ability = scoring(env, "leaderboard", lead, metric="ability", period="week", scope="team")
    assert [i["user_id"] for i in ability["items"]] == [b, a, d, sup, c]  # 李 before 张
    assert [i["value"] for i in ability["items"]] == [4.0, 4.0, 1.0, 0.0, -4.5]
    assert [i["rank"] for i in ability["items"]] == [1, 1, 3, 4, 5]


def _post_entries(env, authors, stop, cap):
    """One-minute entries, one client per author, each on its own connection (as the gateway
    keeps its own), until ``stop`` is set (or ``cap`` entries in all): (entry, when posted)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    def share(worker):
        author = authors[worker]
        mine = customer_for(env, author)
        context = {"bpc_actor": author.to_header()}
        posted = []
        with ClusterRpcProxy(env.nameko_config(), context_data=context, timeout=30) as proxy:
            for _ in range(worker, cap, len(authors)):
                if stop.is_set():
                    break
                entry = proxy.worklog.record(customer_id=mine, activities=["call"], minutes=1)
                posted.append((entry, time.monotonic()))
        return posted

    with ThreadPoolExecutor(len(authors)) as pool:
        return [entry for part in pool.map(share, range(len(authors))) for entry in part]


def test_entries_posted_while_scoring_is_killed_twice_are_counted_once(system):
    """Eight clients post entries from before the first kill of the scoring service until
    after its second restart; each is counted once, incrementally and by a rebuild."""
    import threading

    env = system.env
    ids = [new_id() for _ in range(8)]  # eight clients
    authors = [Actor(id=i, level=2, path=["1", "2", i], name=f"员工{i}") for i in ids]
    before = scoring(env, "totals", TOP)["entries"]
    scorer = system.processes["scoring"]
    stop = threading.Event()
    kills, restarts = [], []
    with ThreadPoolExecutor(1) as background:
        began = time.monotonic()
        future = background.submit(_post_entries, env, authors, stop, 10_000)
        for _ in range(2):
            time.sleep(4)
            kills.append(time.monotonic())
            scorer.kill()  # SIGKILL mid-stream: unacked events are redelivered
            time.sleep(1)
            scorer.start()
            scorer.wait_ready()
            restarts.append(time.monotonic())
        time.sleep(3)  # and entries go on a while after the second restart
        stop.set()
        timed = future.result(timeout=900)
    posted = [entry for entry, _ in timed]
    count = len(posted)
    print(f"\n{count} entries posted in {time.monotonic() - began:.0f} s across two kills")
    assert len({e["id"] for e in posted}) == count
    assert any(at < kills[0] for _, at in timed)  # before the first kill
    assert any(at > restarts[1] for _, at in timed)  # after the second restart

    def caught_up():
        return scoring(env, "totals", TOP)["entries"] == before + count

    eventually(caught_up, timeout=300, interval=1, message="scoring did not catch up")
    incremental = scoring(env, "totals", TOP)

    run = subprocess.run(
        [sys.executable, "-m", "ops.cli", "rebuild-scoring"],
        cwd=ROOT, env=env.vars(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    print("\n" + run.stdout.strip().splitlines()[-1])
    rebuilt = scoring(env, "totals", TOP)
    assert rebuilt["entries"] == incremental["entries"]
    assert rebuilt["progress"] == incremental["progress"]
    assert rebuilt["daily"] == incremental["daily"]
    minutes = {row[0]: 0 for row in rebuilt["daily"]}
    for uid, _day, m, _score, _n in rebuilt["daily"]:
        minutes[uid] += m
    assert sum(minutes[a.id] for a in authors) == count  # each 1-minute entry once


def test_two_scoring_instances_run_one_rebuild_and_answer_the_same_status(system):
    """Two rebuild requests at once, answered by two instances: one rebuild runs; each
    instance answers its progress (the claim and the progress are a row in the database)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    env = system.env
    second = ServiceProcess(env, "scoring").start()
    try:
        second.wait_ready()
        before = scoring(env, "totals", TOP)
        context = {"bpc_actor": TOP.to_header()}
        with ClusterRpcProxy(env.nameko_config(), context_data=context, timeout=30) as proxy:
            asked = [proxy.scoring.rebuild.call_async() for _ in range(2)]
            answers = [reply.result() for reply in asked]
            assert {a["state"] for a in answers} == {"running"}
            assert len({a["started_at"] for a in answers}) == 1, answers  # one rebuild
            seen = []

            def finished():
                status = proxy.scoring.rebuild_status()  # from either instance
                seen.append(status)
                assert status["state"] != "failed", status
                return status if status["state"] == "done" else None

            done = eventually(finished, timeout=300, interval=0.2, message="never finished")
        assert {s["started_at"] for s in seen} == {answers[0]["started_at"]}
        assert done["entries"] == before["entries"]
        assert scoring(env, "totals", TOP)["daily"] == before["daily"]
    finally:
        discard(second)


def test_a_denied_visit_proves_its_entry_false_and_removes_its_minutes(env):
    uid = new_id()
    rep = Actor(id=uid, level=2, path=["1", "2", uid], name="赵六")
    customer = customer_for(env, rep)
    kept = record(env, rep, customer_id=customer, activities=["call"], minutes=30)
    claimed = record(env, rep, customer_id=customer, activities=["visit"], minutes=90)
    today = datetime.now(SHANGHAI).date().isoformat()

    def today_point():
        return scoring(env, "curves", rep, from_date=today, to_date=today)["points"][0]

    eventually(lambda: today_point()["minutes"] == 120, message="entries not scored")
    denial = {
        "entry_id": claimed["id"], "customer_id": customer, "author_id": uid,
        "denied_by": "7", "revisit_id": "1", "at": _now_iso(),
    }  # fmt: skip
    envelope = publish_event(env, "customer", "visit_denied", denial)
    publish_event(env, "customer", "visit_denied", denial, envelope=envelope)  # twice
    eventually(lambda: today_point()["proven_false"] == 1, message="denial not applied")
    point = today_point()
    assert point["minutes"] == 30 and point["score"] == 1.0  # the visit's 90 min and 3 points
    assert point["entries"] == 2 and kept["id"] != claimed["id"]


def _entry_event(author: str, entry_id: str, minutes) -> dict:
    today = datetime.now(SHANGHAI).date().isoformat()
    return {
        "entry_id": entry_id, "author_id": author, "author_path": ["1", author],
        "work_date": today, "recorded_at": _now_iso(), "late": False, "customer_id": new_id(),
        "opportunity_id": None, "stage": None, "activities": ["call"], "points": 1.0,
        "minutes": minutes, "expense": "0.00", "next_appointment_at": None, "difficulty": None,
    }  # fmt: skip


def test_a_poison_entry_is_parked_alone_while_its_batch_counts(system):
    # Scoring takes log entries in batches (one transaction for those that arrive together).
    # One event it can never handle (minutes that are not a number) among 40 published in one
    # burst: the other 39 count once each, and only the poison one ends in the dead-letter
    # queue after its retries.
    import kombu

    from common.consumer import queue_name
    from common.events import Envelope
    from tests.support import queue_depth

    env = system.env
    author = new_id()
    events = [_entry_event(author, new_id(), 1) for _ in range(40)]
    events[17]["minutes"] = "许多"
    dlq = queue_name("worklog", "entry_recorded", "scoring", "on_entry_recorded") + ".dlq"
    parked_before = queue_depth(env, dlq)
    with kombu.Connection(env.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer(serializer="json")
        exchange = kombu.Exchange("worklog.events", type="topic", durable=True)
        for data in events:
            envelope = Envelope.new("worklog", "entry_recorded", data)
            producer.publish(
                envelope.to_message(), exchange=exchange, routing_key="entry_recorded",
                delivery_mode=2,
            )  # fmt: skip

    def day_of_author():
        rows = [r for r in scoring(env, "totals", TOP)["daily"] if r[0] == author]
        return rows if rows and rows[0][4] == 39 else None

    (row,) = eventually(day_of_author, timeout=20)
    assert (row[2], row[4]) == (39, 39)  # minutes, entries: each good entry once
    eventually(lambda: queue_depth(env, dlq) == parked_before + 1, timeout=30)
    (row,) = day_of_author()
    assert (row[2], row[4]) == (39, 39)
