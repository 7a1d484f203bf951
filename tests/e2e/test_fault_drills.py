"""Fault drills (issue 8) on the real broker and PostgreSQL, BPC started by the run command.

Each drill runs a sustained work-log ingest through the HTTP API — a client per salesperson,
each entry under its own Idempotency-Key and retried with it until the API acknowledges it
(201) — and does one fault in the middle: RabbitMQ restarted, each service (and the gateway)
killed with SIGKILL in turn, PostgreSQL restarted, a poison event published into the stream.

Then a checker, like the RabbitMQ Jepsen checker, compares what was acknowledged with what the
system holds: **lost** (acknowledged, not stored), **duplicated** (stored twice), **unexpected**
(stored, never acknowledged). After each drill: 0 lost, 0 duplicated, 0 unexpected; every
salesperson's hash chain verifies; the scoring curve counts each acknowledged entry once and
equals what a rebuild from the work log gives; no answer was a 5xx other than 503; every
projection matches its owner (``bpc check-projections`` at zero); and the system answers again
by itself (``bpc run`` starts a killed process again; services reconnect
to the broker and the database on their own). The counts are printed and kept in
``var/drills/<drill>.json``.

These drills stop and start the machine's RabbitMQ and PostgreSQL: the suite runs its tests
one at a time, so nothing else is using them meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from common import config
from tests.support import (
    ROOT,
    Api,
    Environment,
    bpc_running,
    eventually,
    projections_in_step,
    publish_event,
)

# they restart the machine's RabbitMQ and PostgreSQL: run alone, after the others (./bpc test)
pytestmark = pytest.mark.serial

PASSWORD = "Passw0rd!x"
CLIENTS = 6
GIVE_UP = 120  # seconds one entry is retried before it counts as indeterminate
DRILLS = ROOT / "var" / "drills"


@pytest.fixture(scope="module")
def bpc(tmp_path_factory):
    env = Environment.create(
        tmp_path_factory.mktemp("bpc-drills"),
        "postgresql",
        BPC_RPC_TIMEOUT="3",
        BPC_HANDLER_MAX_ATTEMPTS="3",
        BPC_HANDLER_RETRY_DELAY_MS="200",
        BPC_IDEMPOTENCY_ABANDONED="8",  # a claim of a killed gateway is taken over soon
    )
    with bpc_running(env) as running:
        yield running


@pytest.fixture(scope="module")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)


class Ingest:
    """The load and its history: per client, each entry's note (its identity) and the answers
    it got until acknowledged."""

    def __init__(self, base: str, admin: Api, drill: str):
        self.base, self.drill = base, drill
        self.tag = f"{drill}-{uuid.uuid4().hex[:6]}"
        me = admin.get("/api/v1/me").json()
        self.reps = []
        for i in range(CLIENTS):
            login = f"drill_{self.tag}_{i}".replace("-", "_")
            made = admin.post("/api/v1/users", {
                "login": login, "password": PASSWORD, "name": f"演练员{i}", "level": 2,
                "org_unit_id": me["org_unit_id"], "supervisor_id": me["id"],
            })  # fmt: skip
            assert made.status_code == 201, made.text
            api = Api(base).login(login, PASSWORD)
            customer = api.post("/api/v1/customers", {"name": f"演练客户{self.tag}{i}有限公司"})
            assert customer.status_code == 201, customer.text
            self.reps.append((api, made.json()["id"], customer.json()["id"]))
        self.acked: dict[str, str] = {}  # note → entry id
        self.sent = 0
        self.answers: Counter = Counter()  # status code (or "connection") → count
        self.bad: list[str] = []  # 5xx other than 503, and refusals (4xx) of a valid entry
        self.indeterminate: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> Ingest:
        for i in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> Ingest:
        self._stop.set()
        for thread in self._threads:
            thread.join(GIVE_UP + 30)
        return self

    def _client(self, i: int) -> None:
        api, _, customer = self.reps[i]
        session = requests.Session()
        bearer = f"Bearer {api.fresh_token()}"
        headers = {"Authorization": bearer, "Content-Type": "application/json"}
        seq = 0
        while not self._stop.is_set():
            note = f"{self.tag}-{i}-{seq}"
            body = {"customer_id": customer, "activities": ["call"], "minutes": 1, "note": note}
            with self._lock:
                self.sent += 1
            began = time.monotonic()
            while True:
                try:
                    answer = session.post(
                        f"{self.base}/api/v1/worklog/entries", json=body,
                        headers={**headers, "Idempotency-Key": note}, timeout=10,
                    )  # fmt: skip
                    status = answer.status_code
                except requests.RequestException:
                    answer, status = None, "connection"
                with self._lock:
                    self.answers[status] += 1
                if status == 201:
                    with self._lock:
                        self.acked[note] = answer.json()["id"]
                    break
                if status not in (503, 409, "connection"):
                    with self._lock:
                        self.bad.append(f"{status}: {answer.text[:300]}")
                    if status < 500:
                        break  # a refusal: this entry is not retried
                if time.monotonic() - began > GIVE_UP:
                    with self._lock:
                        self.indeterminate.append(note)
                    break
                time.sleep(0.2)
            seq += 1


def stored_notes(admin: Api, ingest: Ingest) -> Counter:
    """Every drill entry the work log holds, by note (read back as a supervisor would)."""
    notes: Counter = Counter()
    for _, author, _ in ingest.reps:
        cursor = None
        while True:
            params = {"author_id": author, "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = admin.get("/api/v1/worklog/entries", params=params).json()
            notes.update(e["note"] for e in page["items"] if (e.get("note") or "").startswith(
                ingest.tag))  # fmt: skip
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return notes


def curves(admin: Api, ingest: Ingest) -> list[tuple[int, int]]:
    today = admin.get("/api/v1/me").json()["today"]
    found = []
    for _, author, _ in ingest.reps:
        query = {"user_id": author, "from": today, "to": today, "granularity": "day"}
        points = admin.get("/api/v1/scoring/curves", params=query).json()["points"]
        found.append((sum(p["entries"] for p in points), sum(p["minutes"] for p in points)))
    return found


def rebuild(admin: Api) -> None:
    started = admin.post("/api/v1/admin/scoring/rebuild")
    assert started.status_code == 200, started.text

    def done():
        state = admin.get("/api/v1/admin/scoring/rebuild").json()["state"]
        assert state != "failed", "the rebuild failed"
        return state == "done"

    eventually(done, timeout=120, interval=0.5, message="the rebuild never finished")


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def check(bpc, admin: Api, ingest: Ingest, fault: dict) -> dict:
    """The checker: what was acknowledged against what is stored and derived."""
    base = bpc.env.base_url
    eventually(lambda: healthy(base), timeout=90, message="BPC did not recover by itself")
    admin = Api(base).login("admin", bpc.env.admin_password)  # (a gateway may have restarted)
    stored = stored_notes(admin, ingest)
    acked = set(ingest.acked)
    report = {
        "drill": ingest.drill,
        **fault,
        "sent": ingest.sent,
        "acknowledged": len(acked),
        "lost": len(acked - set(stored)),
        "duplicated": sum(n - 1 for n in stored.values() if n > 1),
        "unexpected": len(set(stored) - acked),
        "indeterminate": len(ingest.indeterminate),
        "answers": {str(k): v for k, v in sorted(ingest.answers.items(), key=str)},
        "other_5xx_or_refused": ingest.bad[:5],
    }
    per_rep = Counter(note.split("-")[-2] for note in acked)
    expected = [(per_rep[str(i)], per_rep[str(i)]) for i in range(CLIENTS)]  # 1 minute each
    seen = []

    def counted() -> bool:
        seen[:] = [curves(admin, ingest)]
        return seen[0] == expected

    eventually(counted, timeout=90, interval=1,
               message=lambda: f"scoring never counted each entry once: {seen} ≠ {expected}",
               )  # fmt: skip
    chains = [admin.get("/api/v1/worklog/verify", params={"author_id": author}).json()
              for _, author, _ in ingest.reps]  # fmt: skip
    rebuild(admin)
    report["curve_equals_rebuild"] = curves(admin, ingest) == expected
    report["chains_valid"] = all(c["valid"] for c in chains)
    DRILLS.mkdir(parents=True, exist_ok=True)
    (DRILLS / f"{ingest.drill}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(f"\n{ingest.drill}: " + json.dumps(report, ensure_ascii=False))
    assert report["acknowledged"] > 0 and report["indeterminate"] == 0, report
    assert (report["lost"], report["duplicated"], report["unexpected"]) == (0, 0, 0), report
    assert report["other_5xx_or_refused"] == [], report
    assert report["chains_valid"] and report["curve_equals_rebuild"], report
    projections = projections_in_step(bpc.env, timeout=120)
    report["projection_drift"] = 0
    print(projections)
    (DRILLS / f"{ingest.drill}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return report


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=180)


def test_rabbitmq_restarted_during_sustained_ingest(bpc, admin):
    ingest = Ingest(bpc.env.base_url, admin, "rabbitmq-restart").start()
    time.sleep(4)
    _run("rabbitmqctl", "stop_app")  # every connection drops; durable queues and messages stay
    time.sleep(3)
    _run("rabbitmqctl", "start_app")
    _run("rabbitmqctl", "await_startup")
    time.sleep(6)
    report = check(bpc, admin, ingest.stop(), {"fault": "rabbitmqctl stop_app, 3 s, start_app"})
    assert report["answers"].get("503", 0) + report["answers"].get("connection", 0) > 0


def test_each_service_killed_in_turn_under_load(bpc, admin):
    ingest = Ingest(bpc.env.base_url, admin, "sigkill-each").start()
    killed = []
    for name in [*config.SERVICES, "gateway"]:
        time.sleep(2)
        pid = dict(bpc.children_all())[name]
        os.kill(pid, signal.SIGKILL)
        killed.append(name)

        def restarted(name=name, pid=pid):  # bpc run starts it again by itself
            now = dict(bpc.children_all()).get(name)
            return now is not None and now != pid

        eventually(restarted, timeout=30, message=f"{name} was not started again")
    eventually(lambda: healthy(bpc.env.base_url), timeout=90)
    time.sleep(3)
    check(bpc, admin, ingest.stop(), {"fault": "SIGKILL " + ", ".join(killed)})


def test_postgresql_restarted_under_load(bpc, admin):
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    ingest = Ingest(bpc.env.base_url, admin, "postgresql-restart").start()
    time.sleep(4)
    _run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast")
    time.sleep(6)
    check(bpc, admin, ingest.stop(), {"fault": f"pg_ctlcluster {version} main restart -m fast"})


def _queue_depths(vhost: str, suffix: str) -> dict[str, int]:
    answer = requests.get(
        f"http://127.0.0.1:15672/api/queues/{requests.utils.quote(vhost, safe='')}",
        auth=("guest", "guest"), timeout=10,
    )  # fmt: skip
    answer.raise_for_status()
    return {q["name"]: q.get("messages", 0) for q in answer.json() if q["name"].endswith(suffix)}


def test_a_poison_event_in_the_middle_of_the_stream(bpc, admin):
    ingest = Ingest(bpc.env.base_url, admin, "poison").start()
    time.sleep(3)
    # an entry_recorded event that every consumer refuses (minutes is not a number): it must be
    # retried, then parked in each consumer's dead-letter queue, and stop nothing behind it
    poison = publish_event(bpc.env, "worklog", "entry_recorded", {
        "entry_id": f"poison-{uuid.uuid4().hex[:8]}", "author_id": ingest.reps[0][1],
        "author_path": ["1", ingest.reps[0][1]], "work_date": "2026-01-01",
        "recorded_at": "2026-01-01T18:00:00+08:00", "late": False, "customer_id": None,
        "opportunity_id": None, "stage": None, "activities": ["call"], "points": "x",
        "minutes": "not a number", "expense": "0.00", "note": "毒药 poison",
    })  # fmt: skip
    time.sleep(6)
    report = check(bpc, admin, ingest.stop(), {"fault": f"poison event {poison.event_id}"})

    def parked():
        depths = _queue_depths(bpc.env.vhost, ".dlq")
        return {q: n for q, n in depths.items() if "entry_recorded" in q and n} or None

    dead = eventually(parked, timeout=60, message="the poison was never parked")
    print(f"parked: {dead}")
    assert set(dead.values()) == {1}, dead  # the poison alone, in each consumer that refused it
    report["parked"] = dead
    (DRILLS / "poison.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))


WRITERS = 8


def test_worklog_killed_under_writers_without_idempotency_keys(bpc, admin):
    """Eight writers post entries without an Idempotency-Key, each request once (a retry
    without a key is a new entry), while the worklog is killed (SIGKILL) again and again: the
    requests it had taken are delivered again when it comes back. Every request answered 201 is
    recorded exactly once; one answered 503 (or cut off) at most once — the worklog recognises
    the gateway's id of a request it already recorded."""
    tag = f"nokey-{uuid.uuid4().hex[:6]}"
    me = admin.get("/api/v1/me").json()
    writers = []
    for i in range(WRITERS):
        login = f"drill_{tag}_{i}".replace("-", "_")
        made = admin.post("/api/v1/users", {
            "login": login, "password": PASSWORD, "name": f"无键{i}", "level": 2,
            "org_unit_id": me["org_unit_id"], "supervisor_id": me["id"],
        })  # fmt: skip
        assert made.status_code == 201, made.text
        api = Api(bpc.env.base_url).login(login, PASSWORD)
        customer = api.post("/api/v1/customers", {"name": f"无键客户{tag}{i}有限公司"})
        assert customer.status_code == 201, customer.text
        writers.append((api, made.json()["id"], customer.json()["id"]))
    answered: dict[str, object] = {}  # note → status (or "connection")
    stop, lock = threading.Event(), threading.Lock()

    def write(i: int) -> None:
        api, _, customer = writers[i]
        session = requests.Session()
        bearer = f"Bearer {api.fresh_token()}"
        headers = {"Authorization": bearer, "Content-Type": "application/json"}
        seq = 0
        while not stop.is_set():
            note = f"{tag}-{i}-{seq}"
            body = {"customer_id": customer, "activities": ["call"], "minutes": 1, "note": note}
            try:
                status = session.post(f"{bpc.env.base_url}/api/v1/worklog/entries", json=body,
                                      headers=headers, timeout=10).status_code  # fmt: skip
            except requests.RequestException:
                status = "connection"
                time.sleep(0.2)
            with lock:
                answered[note] = status
            seq += 1

    threads = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    kills = 0
    for _ in range(3):
        time.sleep(3)
        pid = dict(bpc.children_all())["worklog"]
        os.kill(pid, signal.SIGKILL)
        kills += 1
        eventually(lambda pid=pid: dict(bpc.children_all()).get("worklog") not in (None, pid),
                   timeout=30, message="the worklog was not started again")  # fmt: skip
        eventually(lambda: healthy(bpc.env.base_url), timeout=60)
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(30)
    eventually(lambda: healthy(bpc.env.base_url), timeout=60)
    time.sleep(3)  # redelivered requests settle
    stored: Counter = Counter()
    for _, author, _ in writers:
        cursor = None
        while True:
            params = {"author_id": author, "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = admin.get("/api/v1/worklog/entries", params=params).json()
            stored.update(e["note"] for e in page["items"] if (e.get("note") or "").startswith(tag))
            cursor = page.get("next_cursor")
            if not cursor:
                break
    ok = {n for n, s in answered.items() if s == 201}
    failed = {n for n, s in answered.items() if s != 201}
    report = {
        "drill": "worklog-sigkill-no-key",
        "kills": kills,
        "sent": len(answered),
        "answered_201": len(ok),
        "answered_201_recorded_once": sum(1 for n in ok if stored[n] == 1),
        "answered_201_not_recorded": sum(1 for n in ok if stored[n] == 0),
        "answered_503_or_cut": len(failed),
        "answered_503_or_cut_recorded": sum(1 for n in failed if stored[n] >= 1),
        "duplicates": sum(n - 1 for n in stored.values() if n > 1),
        "unexpected": len(set(stored) - set(answered)),
        "answers": {str(k): v for k, v in sorted(Counter(answered.values()).items(), key=str)},
    }
    DRILLS.mkdir(parents=True, exist_ok=True)
    (DRILLS / "worklog-sigkill-no-key.json").write_text(json.dumps(report, indent=1))
    print(f"\nworklog-sigkill-no-key: {json.dumps(report)}")
    assert report["answered_201"] > 0 and report["answered_503_or_cut"] > 0, report
    assert report["answered_201_recorded_once"] == report["answered_201"], report
    assert (report["duplicates"], report["unexpected"]) == (0, 0), report
    print(projections_in_step(bpc.env, timeout=120))
