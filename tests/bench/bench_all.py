"""Every benchmark in one run, in one table: each measure beside its goal and beside a ceiling
measured in the same run (issue 8).

    .venv/bin/python tests/bench/bench_all.py            # demo scale (long: fills included)
    .venv/bin/python tests/bench/bench_all.py --quick    # small sizes: a dry run of minutes
    .venv/bin/python tests/bench/bench_all.py --only ceilings,ingest
    .venv/bin/python tests/bench/bench_all.py --bench-args "workbench:--reuse /tmp/wb.json"

First the ceilings, on what BPC is built from, with nothing of BPC running:

- bare Nameko HTTP: ``ceiling_service.py`` (one ``@http`` entrypoint returning a constant) —
  20 concurrent keep-alive clients back to back (requests/s, p50/p95/p99), and one client
  (p50/p95/p99: the latency of a request that waits for nothing);
- bare Nameko RPC: a service whose one ``@rpc`` method returns its argument, called back to
  back by one ``ClusterRpcProxy`` caller (round trip p50/p95/p99);
- raw RabbitMQ publish with publisher confirms (kombu, one channel in confirm mode): persistent
  JSON messages the size of an ``entry_recorded`` event to a durable queue of a fresh vhost,
  the confirms awaited after every 200 (as the outbox relay does) and after every one;
- raw PostgreSQL inserts (psycopg2) into the worklog service's own tables (created from its
  SQLAlchemy metadata in a fresh database): (1) as the worklog records an entry — one
  transaction per entry holding the entry row (``INSERT … RETURNING id``, a hash chain per
  author) and its outbox row, from as many connections as the ingest has clients; (2) in bulk
  — 1,000 entry rows per multi-row ``INSERT`` and commit, one connection.

Then the benchmarks, each as its own process with ``--json`` (their printed output passed
through, prefixed with the step and the elapsed time): bench_ingest, bench_sweep,
bench_workbench (the resident memory of every BPC process is taken at its end, the demo
loaded), bench_suggest, bench_rebuild. ``--quick`` gives each small sizes (see ``SIZES``).

At the end one table — metric | measured | goal | met? | ceiling | ratio (measured ÷ ceiling) —
with the machine (cores, CPU model, memory), the date, the git commit and the PostgreSQL and
RabbitMQ versions, printed and written as Markdown to ``var/bench/bench-all-<date>-<time>.md``
(the whole output beside it, ``.log``).

Everything it creates (processes, vhost, database) is removed, also on failure, Ctrl-C or
SIGTERM: a running benchmark gets one SIGINT and cleans up after itself as it does when run
alone (it runs in a session of its own, so a terminal's Ctrl-C reaches it only through here).

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import multiprocessing
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from tests.bench.benchkit import pct, say  # noqa: E402
from tests.support import (  # noqa: E402
    MANAGEMENT,
    SERVICES,
    amqp_uri,
    create_pg_database,
    create_vhost,
    delete_vhost,
    drop_pg_database,
    free_port,
    rss_mb,
)

STEPS = ("ceilings", "ingest", "sweep", "workbench", "suggest", "rebuild")
SCRIPTS = {
    "ingest": "bench_ingest.py",
    "sweep": "bench_sweep.py",
    "workbench": "bench_workbench.py",
    "suggest": "bench_suggest.py",
    "rebuild": "bench_rebuild.py",
}
# each benchmark's options: demo scale (its defaults: the sizes of the goals) and --quick
SIZES = {
    "full": {
        "ingest": [],  # 20 clients × 60 s
        "sweep": [],  # 10,000 and 1,000,000 open, 5 runs each
        "workbench": [],  # the full demo (2,000 users, 2,000,000 entries), 20 users × 60 s
        "suggest": [],  # quality over 2,000, latency over 100,000
        "rebuild": [],  # 1,000,000 entries
    },
    "quick": {
        "ingest": ["--duration", "10", "--clients", "4"],
        "sweep": [
            "--small-total",
            "2000",
            "--large-total",
            "20000",
            "--runs",
            "2",
            "--no-explain",
        ],
        "workbench": ["--small", "--seconds", "10", "--warmup", "3"],
        "suggest": ["--pool", "2000", "--rounds", "1"],
        "rebuild": ["--quick"],  # 20,000 entries
    },
}
CEILING_SECONDS = {"full": 15.0, "quick": 4.0}
HTTP_CLIENTS = 20  # as the workbench's users and the ingest's clients at demo scale
CONFIRM_BATCH = 200  # the outbox relay's batch (common.db.OutboxRelay.batch_size)
PG_BATCH = 1000
SERVICE_LABELS = ("gateway", *SERVICES)


class Stop(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: stop after cleaning up."""


def _on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Stop()


class Clock:
    def __init__(self):
        self.began = time.monotonic()

    def __str__(self) -> str:
        seconds = int(time.monotonic() - self.began)
        return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Log:
    """Everything said, also kept for the .log file."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.lines: list[str] = []

    def __call__(self, message: str = "") -> None:
        self.lines.append(message)
        say(message)

    def step(self, message: str) -> None:
        self(f"[{self.clock}] {message}")


# --------------------------------------------------------------------------- the machine


def machine() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory": memory,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": sys.version.split()[0],
        "commit": git_commit(),
        "postgresql": postgres_version(),
        "rabbitmq": rabbitmq_version(),
    }


def git_commit() -> str:
    """HEAD's commit, read from .git (no git process)."""
    git = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: …"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        common = git / "commondir"
        bases = [git] + ([git / common.read_text().strip()] if common.exists() else [])
        for base in bases:
            if (base / ref).exists():
                return (base / ref).read_text().strip()
            packed = base / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
    except OSError:
        pass
    return "?"


def postgres_version() -> str:
    import psycopg2

    from tests.support import PG

    try:
        conn = psycopg2.connect(f"{PG}/postgres")
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0].split()[0]
        conn.close()
        return version
    except psycopg2.Error:
        return "?"


def rabbitmq_version() -> str:
    import requests

    try:
        answer = requests.get(f"{MANAGEMENT}/overview", auth=("guest", "guest"), timeout=5)
        return answer.json().get("rabbitmq_version", "?")
    except (requests.RequestException, ValueError):
        return "?"


# --------------------------------------------------------------------------- ceilings

RPC_SERVICE = r"""
import warnings; warnings.filterwarnings("ignore")
import eventlet; eventlet.monkey_patch()
import logging, sys
from nameko.cli.run import run
from nameko.rpc import rpc

class CeilingRpc:
    name = "bench_ceiling_rpc"

    @rpc
    def echo(self, value=None):
        return value

logging.basicConfig(level=logging.WARNING)
run([CeilingRpc], {"AMQP_URI": sys.argv[1], "serializer": "json", "max_workers": 20})
"""

RPC_CLIENT = r"""
import warnings; warnings.filterwarnings("ignore")
import eventlet; eventlet.monkey_patch()
import json, math, sys, time
from nameko.standalone.rpc import ClusterRpcProxy

uri, seconds = sys.argv[1], float(sys.argv[2])
payload = {"user_id": "1234", "from": "2026-11-01", "to": "2026-11-27"}
with ClusterRpcProxy({"AMQP_URI": uri, "serializer": "json"}, timeout=30) as proxy:
    deadline = time.monotonic() + 90
    while True:  # UnknownService until the service has declared its queue
        try:
            proxy.bench_ceiling_rpc.echo(payload)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    for _ in range(100):
        proxy.bench_ceiling_rpc.echo(payload)
    latencies, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        proxy.bench_ceiling_rpc.echo(payload)
        latencies.append((time.perf_counter() - began) * 1000)
latencies.sort()
pct = lambda q: latencies[min(len(latencies), max(1, math.ceil(q * len(latencies)))) - 1]
print("BENCH_JSON " + json.dumps({"calls": len(latencies), "per_s": len(latencies) / seconds,
      "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}), flush=True)
"""


def wait_http(port: int, path: str, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the ceiling service exited {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    raise RuntimeError("the ceiling service did not start")


def http_one_client(port: int, seconds: float) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        conn.request("GET", "/ceiling", headers={"Accept": "application/json"})
        conn.getresponse().read()
        latencies.append((time.perf_counter() - began) * 1000)
    conn.close()
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / seconds,
        "p50_ms": pct(latencies, 0.5),
        "p95_ms": pct(latencies, 0.95),
        "p99_ms": pct(latencies, 0.99),
    }


def http_many_clients(port: int, clients: int, seconds: float) -> dict:
    """bench_gateway's Python load (processes × threads, keep-alive), with the p95 too."""
    from tests.bench.bench_gateway import _client_process

    n_procs = max(1, min(clients, os.cpu_count() or 1))
    per_proc = [clients // n_procs + (1 if i < clients % n_procs else 0) for i in range(n_procs)]
    start_at = time.time() + 1.0
    jobs = [
        ("127.0.0.1", port, "/ceiling", "get", "", n, start_at, seconds, i)
        for i, n in enumerate(per_proc)
        if n
    ]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        parts = pool.map(_client_process, jobs)
    latencies = sorted(x * 1000 for p in parts for x in p["latencies"])
    statuses: dict[int, int] = {}
    for p in parts:
        for code, n in p["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "clients": clients,
        "requests": len(latencies),
        "per_s": len(latencies) / seconds,
        "p50_ms": pct(latencies, 0.5),
        "p95_ms": pct(latencies, 0.95),
        "p99_ms": pct(latencies, 0.99),
        "non_200": sum(n for code, n in statuses.items() if code != 200),
        "errors": sum(p["errors"] for p in parts),
    }


def entry_event(n: int) -> dict:
    """An ``entry_recorded`` envelope as the worklog publishes it (about 700 bytes of JSON)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "entry_recorded",
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "worklog",
        "data": {
            "entry_id": str(n),
            "author_id": str(1000 + n % 2000),
            "author_path": ["1", "2", "17", str(1000 + n % 2000)],
            "work_date": date.today().isoformat(),
            "recorded_at": datetime.now(UTC).isoformat(),
            "late": False,
            "customer_id": str(1 + n % 100_000),
            "opportunity_id": None,
            "stage": None,
            "activities": ["call", "visit"],
            "points": 4.0,
            "minutes": 45,
            "expense": "0.00",
            "next_appointment_at": None,
            "difficulty": None,
        },
    }


def rabbit_publish(uri: str, seconds: float, batch: int) -> dict:
    """Persistent messages to a durable queue, confirms awaited after every ``batch``."""
    import kombu

    exchange = kombu.Exchange("bench_ceiling", type="topic", durable=True)
    queue = kombu.Queue("bench_ceiling", exchange=exchange, routing_key="#", durable=True)
    connection = kombu.Connection(uri)
    connection.ensure_connection(max_retries=1)
    try:
        channel = connection.channel()
        queue(channel).declare()
        queue(channel).purge()
        channel.confirm_select()
        pending: set[int] = set()
        nacked = [0]

        def settle(tag: int, multiple: bool) -> None:
            if multiple:
                pending.difference_update([t for t in pending if t <= tag])
            else:
                pending.discard(tag)

        def on_nack(tag, multiple) -> None:
            nacked[0] += 1
            settle(tag, multiple)

        channel.events["basic_ack"].add(settle)
        channel.events["basic_nack"].add(on_nack)
        producer = kombu.Producer(channel, serializer="json")
        bodies = [entry_event(n) for n in range(1000)]
        size = len(json.dumps(bodies[0]).encode())
        tag = published = 0
        began = time.monotonic()
        end = began + seconds
        while time.monotonic() < end:
            for _ in range(batch):
                tag += 1
                pending.add(tag)
                body = bodies[tag % len(bodies)]
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key="worklog.entry_recorded",
                    delivery_mode=2,
                    retry=False,
                    message_id=body["event_id"],
                )
            while pending:
                connection.drain_events(timeout=10)
            published += batch
        elapsed = time.monotonic() - began
        depth = queue(channel).queue_declare(passive=True).message_count
        queue(channel).purge()
        return {
            "batch": batch,
            "messages": published,
            "per_s": published / elapsed,
            "bytes": size,
            "nacked": nacked[0],
            "in_queue": depth,
        }
    finally:
        connection.release()


def pg_tables(url: str) -> None:
    """The worklog service's tables (entries, outbox, …), from its own metadata."""
    from sqlalchemy import create_engine

    from services.worklog.models import Base

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


ENTRY_SQL = (
    "INSERT INTO worklog_entries (author_id, work_date, recorded_at, late, customer_id, "
    "opportunity_id, stage, activities, points, minutes, expense_fen, note, "
    "next_appointment_at, difficulty, prev_hash, hash) VALUES "
)
ENTRY_ROW = "(%s, %s, %s, false, %s, NULL, NULL, %s, 4.0, %s, 0, NULL, NULL, NULL, %s, %s)"
OUTBOX_SQL = (
    "INSERT INTO outbox (event_id, type, version, payload, created_at) "
    "VALUES (%s, 'entry_recorded', 1, %s, %s)"
)


def _entry_values(author: str, n: int, prev: str) -> tuple:
    now = datetime.now(UTC)
    digest = hashlib.sha256(f"{prev}|{author}|{n}|{now.isoformat()}".encode()).hexdigest()
    return (
        author,
        now.date(),
        now,
        1 + n % 100_000,
        '["call", "visit"]',
        15 + n % 100,
        prev,
        digest,
    )


def pg_per_entry(url: str, connections: int, seconds: float) -> dict:
    """One transaction per entry (the entry row, then its outbox row), ``connections`` at once,
    each with its own authors (so no chain conflicts)."""
    import psycopg2

    counts = [0] * connections
    errors: list[str] = []
    start = threading.Barrier(connections + 1)
    end = [0.0]

    def worker(i: int) -> None:
        conn = psycopg2.connect(url)
        try:
            heads: dict[str, str] = {}
            start.wait()
            n = 0
            with conn.cursor() as cur:
                while time.monotonic() < end[0]:
                    author = f"{i}-{n % 50}"
                    values = _entry_values(author, n, heads.get(author, ""))
                    cur.execute(ENTRY_SQL + ENTRY_ROW + " RETURNING id", values)
                    entry_id = cur.fetchone()[0]
                    event = entry_event(entry_id)
                    cur.execute(OUTBOX_SQL, (event["event_id"], json.dumps(event), values[2]))
                    conn.commit()
                    heads[author] = values[-1]
                    n += 1
            counts[i] = n
        except Exception as exc:  # noqa: BLE001 - reported with the result
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    end[0] = time.monotonic() + seconds
    began = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = max(seconds, time.monotonic() - began)
    if errors:
        raise RuntimeError(f"raw inserts failed: {errors[:3]}")
    return {"connections": connections, "entries": sum(counts), "per_s": sum(counts) / elapsed}


def pg_bulk(url: str, seconds: float, batch: int) -> dict:
    """``batch`` entry rows per multi-row INSERT and commit, one connection."""
    import psycopg2
    from psycopg2.extras import execute_values

    conn = psycopg2.connect(url)
    heads: dict[str, str] = {}
    n = 0
    try:
        with conn.cursor() as cur:
            began = time.monotonic()
            end = began + seconds
            while time.monotonic() < end:
                rows = []
                for _ in range(batch):
                    author = f"bulk-{n % 2000}"
                    values = _entry_values(author, n, heads.get(author, ""))
                    heads[author] = values[-1]
                    rows.append(values)
                    n += 1
                execute_values(cur, ENTRY_SQL + "%s", rows, template=ENTRY_ROW, page_size=batch)
                conn.commit()
            elapsed = time.monotonic() - began
    finally:
        conn.close()
    return {"batch": batch, "entries": n, "per_s": n / elapsed}


class Ceilings:
    """The ceiling processes, vhost and database; all removed by ``stop``."""

    def __init__(self, log: Log, seconds: float, pg_connections: int):
        self.log, self.seconds, self.pg_connections = log, seconds, pg_connections
        self.vhost = ""
        self.db_url = ""
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def run(self) -> dict:
        log, seconds = self.log, self.seconds
        out: dict = {}
        self.vhost = create_vhost("bpc_bench_all")
        uri = amqp_uri(self.vhost)
        log.step(f"ceilings: vhost {self.vhost}, {seconds:g} s per measure")
        environ = {**os.environ, "BPC_AMQP_URI": uri}

        port = free_port()
        http_proc = self._spawn(
            [sys.executable, str(HERE / "ceiling_service.py"), f"127.0.0.1:{port}"],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(port, "/ceiling", 60, http_proc)
        http_one_client(port, 1.0)  # warm-up
        r = out["http_1"] = http_one_client(port, seconds)
        log.step(
            f"  bare Nameko HTTP, 1 client: {r['per_s']:,.0f} req/s, p50 "
            f"{r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
        )
        r = out["http_n"] = http_many_clients(port, HTTP_CLIENTS, seconds)
        log.step(
            f"  bare Nameko HTTP, {HTTP_CLIENTS} clients: {r['per_s']:,.0f} req/s, p50 "
            f"{r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"non-200 {r['non_200']}, errors {r['errors']}"
        )
        out["http_rss_mb"] = rss_mb(http_proc.pid)

        rpc_proc = self._spawn(
            [sys.executable, "-c", RPC_SERVICE, uri],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        client = subprocess.run(
            [sys.executable, "-c", RPC_CLIENT, uri, str(seconds)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=seconds + 180,
        )
        line = next((x for x in client.stdout.splitlines() if x.startswith("BENCH_JSON ")), "")
        if not line:
            raise RuntimeError(f"the RPC ceiling gave no result: {client.stderr[-2000:]}")
        r = out["rpc_1"] = json.loads(line[len("BENCH_JSON ") :])
        log.step(
            f"  bare Nameko RPC round trip, 1 caller: {r['per_s']:,.0f} calls/s, p50 "
            f"{r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
        )
        out["rpc_rss_mb"] = rss_mb(rpc_proc.pid)
        log.step(
            f"  bare Nameko process RSS: HTTP-only {out['http_rss_mb']:.1f} MB, "
            f"RPC (AMQP connected) {out['rpc_rss_mb']:.1f} MB"
        )
        self._stop_procs()

        for batch in (CONFIRM_BATCH, 1):
            r = out[f"publish_{batch}"] = rabbit_publish(uri, seconds, batch)
            log.step(
                f"  raw RabbitMQ publish, persistent, confirms every {batch}: "
                f"{r['per_s']:,.0f} msg/s ({r['messages']:,} × {r['bytes']} B, "
                f"nacked {r['nacked']}, in queue {r['in_queue']:,})"
            )

        self.db_url = create_pg_database("bpc_bench_all_ceiling")
        pg_tables(self.db_url)
        log.step(f"  database {self.db_url.rsplit('/', 1)[1]} with the worklog's tables")
        r = out["pg_entry"] = pg_per_entry(self.db_url, self.pg_connections, seconds)
        log.step(
            f"  raw PostgreSQL, 1 commit per entry (+ outbox row), {r['connections']} "
            f"connections: {r['per_s']:,.0f} entries/s ({r['entries']:,})"
        )
        r = out["pg_bulk"] = pg_bulk(self.db_url, seconds, PG_BATCH)
        log.step(
            f"  raw PostgreSQL, {PG_BATCH:,} rows per INSERT and commit, 1 connection: "
            f"{r['per_s']:,.0f} entries/s ({r['entries']:,})"
        )
        return out

    def _stop_procs(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(5)  # the HTTP-only ceiling may ignore SIGTERM: it holds nothing
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    def stop(self) -> None:
        self._stop_procs()
        if self.vhost:
            delete_vhost(self.vhost)
            self.log.step(f"  deleted vhost {self.vhost}")
            self.vhost = ""
        if self.db_url:
            try:
                drop_pg_database(self.db_url)
                self.log.step(f"  dropped database {self.db_url.rsplit('/', 1)[1]}")
            except Exception as exc:  # noqa: BLE001 - best effort while cleaning up
                self.log(f"  !! could not drop {self.db_url}: {exc}")
            self.db_url = ""


# --------------------------------------------------------------------------- the benchmarks


class Runner:
    """One benchmark as a process of its own session: its output passed through, one SIGINT
    on Ctrl-C/SIGTERM (it cleans up as when run alone), its --json result read back."""

    def __init__(self, log: Log, workdir: Path):
        self.log, self.workdir = log, workdir
        self.proc: subprocess.Popen | None = None

    def run(self, step: str, args: list[str]) -> tuple[int, dict | None]:
        result = self.workdir / f"{step}.json"
        cmd = [sys.executable, str(HERE / SCRIPTS[step]), *args, "--json", str(result)]
        self.log.step(f"{step}: {' '.join(shlex.quote(c) for c in cmd[1:])}")
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        try:
            for line in self.proc.stdout:
                line = line.rstrip()
                if line:
                    self.log.step(f"  {step} | {line}")
            code = self.proc.wait()
        except KeyboardInterrupt:
            self.interrupt()
            raise
        self.proc = None
        if not result.exists():
            return code, None
        return code, json.loads(result.read_text())

    def interrupt(self) -> None:
        """One SIGINT to the running benchmark; wait for it to clean up."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let its clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.log.step("  interrupting the running benchmark (it cleans up; please wait)")
        proc.send_signal(signal.SIGINT)
        try:
            for line in proc.stdout:
                if line.strip():
                    self.log.step(f"  | {line.rstrip()}")
            proc.wait(300)
        except subprocess.TimeoutExpired:
            self.log.step("  !! it did not stop within 300 s: killed (check for leftovers)")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --------------------------------------------------------------------------- the table


def fmt(value, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"
    if unit == "s":
        return f"{value:,.3f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.3f}" if isinstance(value, float) else str(value)


def met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "NO")


def ratio(measured, ceiling) -> str:
    try:
        value = measured / ceiling
    except (TypeError, ZeroDivisionError):
        return "—"
    if math.isnan(value) or math.isinf(value):
        return "—"
    return f"{value:.3f}" if value < 1 else f"{value:,.1f}×" if value >= 10 else f"{value:.2f}×"


def build_rows(mode: str, r: dict, failed: dict[str, str]) -> list[list[str]]:
    """metric | measured | goal | met? | ceiling | ratio."""
    rows: list[list[str]] = []
    c = r.get("ceilings") or {}
    http_n, http_1, rpc_1 = c.get("http_n", {}), c.get("http_1", {}), c.get("rpc_1", {})
    pg_entry, pg_bulk_ = c.get("pg_entry", {}), c.get("pg_bulk", {})
    pub = c.get(f"publish_{CONFIRM_BATCH}", {})

    def row(metric, measured, unit, goal="", ok=None, ceiling_label="", ceiling=None,
            ceiling_unit=None):  # fmt: skip
        rows.append(
            [
                metric,
                fmt(measured, unit),
                goal,
                met(ok),
                f"{fmt(ceiling, ceiling_unit or unit)} {ceiling_label}".strip()
                if ceiling is not None
                else "—",
                ratio(measured, ceiling) if ceiling is not None else "—",
            ]
        )

    def missing(step: str, metric: str) -> None:
        rows.append([metric, f"not measured ({failed.get(step, 'skipped')})", "", "", "", ""])

    if c:
        rows.append(["*ceilings*", "", "", "", "", ""])
        for label, value, unit in (
            (f"bare Nameko HTTP GET, {HTTP_CLIENTS} clients", http_n.get("per_s"), "/s"),
            (f"bare Nameko HTTP GET p99, {HTTP_CLIENTS} clients", http_n.get("p99_ms"), "ms"),
            ("bare Nameko HTTP GET p99, 1 client", http_1.get("p99_ms"), "ms"),
            ("bare Nameko RPC round trip p99, 1 caller", rpc_1.get("p99_ms"), "ms"),
            (f"raw RabbitMQ publish, confirms every {CONFIRM_BATCH}", pub.get("per_s"), "/s"),
            ("raw RabbitMQ publish, confirm each", c.get("publish_1", {}).get("per_s"), "/s"),
            (f"raw PostgreSQL insert, 1 commit/entry, {pg_entry.get('connections')} conns",
             pg_entry.get("per_s"), "/s"),
            (f"raw PostgreSQL insert, {PG_BATCH:,} rows/commit", pg_bulk_.get("per_s"), "/s"),
            ("bare Nameko process RSS (RPC)", c.get("rpc_rss_mb"), "MB"),
        ):  # fmt: skip
            row(label, value, unit)
        rows.append(["*BPC*", "", "", "", "", ""])

    ing = r.get("ingest")
    if ing:
        size = f"{ing['clients']} clients × {ing['seconds']:.0f} s"
        rate = ing["entries_per_s"]
        row(
            f"ingest entries/s ({size})",
            rate,
            "/s",
            "≥ 300/s",
            rate >= 300,
            "raw PG 1 commit/entry",
            pg_entry.get("per_s") if c else None,
        )
        if c:
            row(
                "  the same, against publishing",
                rate,
                "/s",
                "",
                None,
                f"raw publish, confirms/{CONFIRM_BATCH}",
                pub.get("per_s"),
            )
        row(
            "ingest request p99",
            ing["p99_ms"],
            "ms",
            "",
            None,
            f"bare HTTP p99, {HTTP_CLIENTS} clients",
            http_n.get("p99_ms") if c else None,
        )
        d99 = ing["delay_p99_s"]
        row(
            f"entry → curve delay p99 ({ing['probe_samples']} samples)",
            d99,
            "s",
            "< 1 s",
            ing["probe_samples"] > 0 and d99 < 1.0,
            "",
            None,
        )
    else:
        missing("ingest", "ingest")

    sw = r.get("sweep")
    if sw:
        large = sw["large_total"]
        at = "1M" if large == 1_000_000 else f"{large:,}"
        row(
            f"sweep, median at {at} open ({sw['overdue']:,} overdue)",
            sw["median_large_s"],
            "s",
            "< 1 s at 1M",
            sw["median_large_s"] < 1.0,
            "",
            None,
        )
        row(
            f"sweep ratio {at} ÷ {sw['small_total']:,}",
            sw["ratio"],
            "",
            "≤ 1.5",
            sw["ratio"] <= 1.5,
            "",
            None,
        )
    else:
        missing("sweep", "sweep")

    wb = r.get("workbench")
    if wb:
        demo = "small demo" if wb["small"] else "demo"
        think = wb["phases"].get("think", {})
        b2b = wb["phases"].get("back_to_back", {})
        ok = think.get("passed")
        row(
            f"workbench p95, {wb['users']} users, {wb['think']:g} s reading, {demo}",
            think.get("p95_ms"),
            "ms",
            "< 150 ms",
            ok,
            f"bare HTTP p99, {HTTP_CLIENTS} clients",
            http_n.get("p99_ms") if c else None,
        )
        row(
            f"workbench, {wb['users']} users back to back, {demo}",
            b2b.get("per_s"),
            "/s",
            "",
            None,
            f"bare HTTP, {HTTP_CLIENTS} clients",
            http_n.get("per_s") if c else None,
        )
    else:
        missing("workbench", "workbench")

    sg = r.get("suggest")
    if sg:
        row(
            f"suggest p95, pool {sg['pool']:,}, 1 client",
            sg["p95_ms"],
            "ms",
            "< 50 ms",
            sg["p95_ms"] < 50,
            "bare HTTP p99, 1 client",
            http_1.get("p99_ms") if c else None,
        )
        if c:
            row(
                "  the same, against an RPC round trip",
                sg["p95_ms"],
                "ms",
                "",
                None,
                "bare RPC p99",
                rpc_1.get("p99_ms"),
            )
        top3 = sg.get("top3_2000")
        if top3 is not None:
            row("suggest top-3 hit rate, pool 2,000", top3, "", "≥ 0.85", top3 >= 0.85, "", None)
    else:
        missing("suggest", "suggest")

    rb = r.get("rebuild")
    if rb:
        at = "1M" if rb["entries"] == 1_000_000 else f"{rb['entries']:,}"
        ok = rb["entries_per_s"] >= 20_000 and rb["rebuilt_entries"] == rb["entries"]
        row(
            f"rebuild entries/s at {at}",
            rb["entries_per_s"],
            "/s",
            "≥ 20,000/s",
            ok,
            f"raw PG {PG_BATCH:,} rows/commit",
            pg_bulk_.get("per_s") if c else None,
        )
    else:
        missing("rebuild", "rebuild")

    rss = (wb or {}).get("rss_mb") or {}
    if rss:
        bare = c.get("rpc_rss_mb") if c else None
        for label in SERVICE_LABELS:
            if label in rss:
                row(
                    f"RSS {label} (end of workbench)",
                    rss[label],
                    "MB",
                    "",
                    None,
                    "bare Nameko RPC",
                    bare,
                )
        total = sum(v for k, v in rss.items() if k in SERVICE_LABELS)
        row("RSS, the eight processes together", total, "MB", "", None, "", None)
    elif "workbench" not in r:
        missing("workbench", "RSS per service")
    return rows


def markdown(rows: list[list[str]]) -> list[str]:
    head = ["metric", "measured", "goal", "met?", "ceiling", "ratio"]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [
        line(head),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(line(x) for x in rows),
    ]


LEGEND = (
    "ratio = measured ÷ ceiling: for a rate, the share of the ceiling reached (higher is "
    "better); for a time or a memory, how many times the bare baseline (lower is better). "
    "Ceilings are measured first in the same run, with nothing of BPC running."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a dry run")
    parser.add_argument("--only", default=",".join(STEPS), help=f"steps ({','.join(STEPS)})")
    parser.add_argument("--skip", default="", help="steps to leave out")
    parser.add_argument(
        "--ceiling-seconds", type=float, default=None, help="seconds per ceiling (15; quick 4)"
    )
    parser.add_argument(
        "--bench-args",
        action="append",
        default=[],
        metavar="STEP:ARGS",
        help='more options for one benchmark, e.g. "workbench:--reuse /tmp/wb.json" '
        "(repeatable; after the sizes, so they can override them)",
    )
    parser.add_argument("--out-dir", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    steps = [s for s in STEPS if s in args.only.split(",") and s not in args.skip.split(",")]
    unknown = (set(args.only.split(",")) | set(filter(None, args.skip.split(",")))) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    extra: dict[str, list[str]] = {}
    for item in args.bench_args:
        step, sep, rest = item.partition(":")
        if not sep or step not in SCRIPTS:
            parser.error(f"--bench-args takes STEP:ARGS with STEP one of {', '.join(SCRIPTS)}")
        extra.setdefault(step, []).extend(shlex.split(rest))
    seconds = args.ceiling_seconds or CEILING_SECONDS[mode]
    ingest_args = SIZES[mode]["ingest"] + extra.get("ingest", [])
    clients = argparse.ArgumentParser(add_help=False)
    clients.add_argument("--clients", type=int, default=HTTP_CLIENTS)
    pg_connections = clients.parse_known_args(ingest_args)[0].clients  # as the ingest's clients

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    clock = Clock()
    log = Log(clock)
    started_at = datetime.now().astimezone()
    workdir = Path(tempfile.mkdtemp(prefix="bpc-bench-all-"))
    about = machine()
    log.step(
        f"bench_all ({mode}): steps {', '.join(steps)}; {about['cores']} cores, "
        f"{about['cpu']}, load {about['load']}; commit {about['commit'][:12]}"
    )
    results: dict[str, dict] = {}
    failed: dict[str, str] = {}
    timings: dict[str, float] = {}
    ceilings = Ceilings(log, seconds, pg_connections)
    runner = Runner(log, workdir)
    interrupted = False
    step = steps[0] if steps else ""
    try:
        for n, step in enumerate(steps, 1):
            began = time.monotonic()
            log.step(f"== step {n}/{len(steps)}: {step} ==")
            try:
                if step == "ceilings":
                    try:
                        results["ceilings"] = ceilings.run()
                    finally:
                        ceilings.stop()
                else:
                    code, result = runner.run(step, SIZES[mode][step] + extra.get(step, []))
                    if result is None:
                        failed[step] = f"failed, exit {code}"
                    else:
                        results[step] = result
            except Stop:
                raise
            except Exception as exc:  # noqa: BLE001 - one failed step does not stop the rest
                failed[step] = f"failed: {type(exc).__name__}"
                log.step(f"  !! {step} failed: {type(exc).__name__}: {exc}")
            timings[step] = time.monotonic() - began
            log.step(
                f"== {step} done in {timings[step]:.0f} s"
                f"{' (' + failed[step] + ')' if step in failed else ''} =="
            )
    except Stop:
        interrupted = True
        failed.setdefault(step, "interrupted")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.step("!! interrupted: cleaning up")
        runner.interrupt()
        ceilings.stop()
    finally:
        for path in workdir.glob("*"):
            path.unlink()
        workdir.rmdir()

    total = time.monotonic() - clock.began
    rows = build_rows(mode, results, failed)
    table = markdown(rows)
    sizes = "quick (small sizes: not the goals' sizes)" if args.quick else "demo scale"
    header = [
        f"# BPC benchmarks, {started_at:%Y-%m-%d %H:%M %Z}"
        + (" (interrupted)" if interrupted else ""),
        "",
        f"- sizes: {sizes}; `tests/bench/bench_all.py{' --quick' if args.quick else ''}`, "
        f"{total / 60:.1f} min in all ("
        + ", ".join(f"{s} {t:.0f} s" for s, t in timings.items())
        + ")",
        f"- machine: {about['cores']} cores, {about['cpu']}, {about['memory']} RAM, load "
        f"average at the start {about['load']}",
        f"- software: Python {about['python']}, PostgreSQL {about['postgresql']}, RabbitMQ "
        f"{about['rabbitmq']}; commit {about['commit']}",
        "",
    ]
    footer = ["", LEGEND]
    if failed:
        footer.append("Not measured: " + "; ".join(f"{k} {v}" for k, v in failed.items()))
    document = [*header, *table, *footer]
    log("")
    for line in document:
        log(line)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"bench-all-{started_at:%Y-%m-%d-%H%M}{'-quick' if args.quick else ''}"
    (out_dir / f"{stem}.md").write_text("\n".join(document) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.log").write_text("\n".join(log.lines) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.json").write_text(
        json.dumps(
            {"machine": about, "mode": mode, "results": results, "failed": failed},
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    say(f"· written {out_dir / stem}.md (and .log, .json)")
    if interrupted or failed:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
