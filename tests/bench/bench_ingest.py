"""Work-log ingest benchmark on PostgreSQL: entries/s through the gateway, and how soon each
entry shows in the scoring curve.

    .venv/bin/python tests/bench/bench_ingest.py                  # 20 clients, 60 s
    .venv/bin/python tests/bench/bench_ingest.py --quick          # a 10 s dry run
    .venv/bin/python tests/bench/bench_ingest.py --python-client --duration 30
    .venv/bin/python tests/bench/bench_ingest.py --profile        # + py-spy of the services

Goal (issue acceptance): 20 concurrent clients posting entries through the gateway for 60 s
reach ≥ 300 entries/s, and the p99 delay from a POST's answer to the entry being visible in
the curve is under 1 s.

It starts the whole BPC as the README says (``python -m ops.cli run``) on a fresh RabbitMQ
vhost, a temporary data dir and one fresh PostgreSQL database per service (and the gateway),
with ``BPC_GRACE_HOUR=24`` so that yesterday's log is accepted all day. As admin, through the
API, it creates one org unit, a level-4 supervisor, the load's level-2 salespeople
(``--users``, default sized so the run never meets ``day_limit_exceeded``) and one probe
salesperson, and logs each in. Then, for ``--duration`` seconds:

- load: ``--clients`` keep-alive clients, each posting as its own salespeople (client i owns
  users i, i + clients, …; no two clients ever post for the same user, so no chain races)
  ``POST /api/v1/worklog/entries {"customer_id", "activities": ["call"], "minutes": 1}`` on the
  salesperson's own customer (each registers one first: an entry's customer must exist and be
  one its author may work on),
  rotating over its users and over today / yesterday. A day holds 1,440 minutes, so each
  (user, day) slot takes 1,440 one-minute entries; a client skips a full slot. The load is
  ``wrk`` with a generated Lua script when wrk is installed (one thread per client), else a
  Python client (processes × threads, http.client keep-alive);
- probe: every ``--probe-interval`` s one entry as the probe user (its own thread, so a slow
  curve never thins the samples), while another thread reads
  ``GET /api/v1/scoring/curves?user_id=<probe>&from=<today>&to=<today>`` (as that user) back
  to back as long as entries are outstanding. An entry's delay runs from its POST's answer to
  the arrival of the first curve answer whose today's ``entries`` includes it (so it includes
  one curve request).

At the end: entries/s, p50/p99 request latency, the non-201 answers (with samples), the
probe's p50/p99 delay, the goals with PASS/FAIL, the CPU each BPC process and the PostgreSQL
server used during the load, and the resident memory of every BPC process. ``--profile``
also samples the gateway, worklog and scoring with py-spy during the load and prints where
their time goes (raw files in ``--profile-dir``).

Everything it created (processes, vhost, databases, data dir) is removed, also on failure or
Ctrl-C (``--keep`` keeps the databases and the log for a look).

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.benchkit import (  # noqa: E402
    cpu_seconds,
    free_metrics_offset,
    on_sigterm,
    pct,
    py_spy,
    say,
    server_pids,
    summarize_raw,
    write_json,
)
from tests.support import (  # noqa: E402
    SERVICES,
    Environment,
    RunningBpc,
    create_pg_database,
    create_vhost,
    delete_vhost,
    drop_pg_database,
    free_port,
    rss_mb,
)

GOAL_RATE = 300.0  # entries/s
GOAL_DELAY = 1.0  # s, p99 from the POST's answer to the entry in the curve
DAY_LIMIT = 1440  # minutes a (user, day) may hold: 1,440 one-minute entries
ENTRY_PATH = "/api/v1/worklog/entries"
PROBE_TIMEOUT = 30.0  # s a probe waits for its entry before it counts as never seen
PROBE_MAX = DAY_LIMIT - 5  # the probe posts for today only


class Http:
    """A tiny keep-alive JSON client (http.client)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return response.status, payload

    def close(self) -> None:
        self.conn.close()


def login(port: int, name: str, password: str) -> str:
    status, body = Http(port).call(
        "POST", "/api/v1/auth/login", {"login": name, "password": password}
    )
    if status != 200:
        raise RuntimeError(f"login {name} → {status} {body}")
    return body["token"]


# --------------------------------------------------------------------------- BPC under test


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bpc-bench-ingest-"))
        self.env = Environment(backend="postgresql", data_dir=self.tmp)
        self.bpc: RunningBpc | None = None
        # service → an existing database to run it on (kept when the bench ends)
        self.reuse: dict[str, str] = dict(getattr(args, "reuse", None) or {})

    def start(self) -> None:
        env = self.env
        env.vhost = create_vhost("bpc_bench_ingest")
        say(f"· vhost {env.vhost}, data dir {self.tmp}")
        for service in (*SERVICES, "gateway"):
            env.pg_urls[service] = self.reuse.get(service) or create_pg_database(
                f"bpc_bench_ingest_{service}"
            )
        say(f"· {len(env.pg_urls)} PostgreSQL databases bpc_bench_ingest_<service>_…")
        env.admin_password = f"Bench-{uuid.uuid4().hex}"
        env.gateway_port = free_port()
        env.metrics_offset = free_metrics_offset()
        env.extra = {
            "BPC_GRACE_HOUR": "24",
            # the tokens made at the start serve a run of any length (throughput, not sign-ins)
            "BPC_TOKEN_TTL": "86400",
            "BPC_LOG_LEVEL": os.environ.get("BPC_LOG_LEVEL", "WARNING"),
            "BPC_START_TIMEOUT": str(self.args.start_timeout),
        }
        for setting in self.args.set:
            name, _, value = setting.partition("=")
            env.extra[name] = value
        if os.environ.get("BPC_PROFILE_DIR"):  # cProfile of every service (ops.runner)
            env.extra["BPC_PROFILE_DIR"] = os.environ["BPC_PROFILE_DIR"]
        self.bpc = RunningBpc(env, root=Path(self.args.root).resolve() if self.args.root else ROOT)
        say(
            f"· starting BPC (python -m ops.cli run) on 127.0.0.1:{env.gateway_port}, "
            f"log {self.bpc.log_path}"
        )
        self.bpc.start(timeout=self.args.start_timeout)
        say(f"· BPC healthy after {self.bpc.started_in:.1f} s")

    def rss(self) -> list[tuple[str, int, float]]:
        if self.bpc is None or self.bpc.proc is None or self.bpc.proc.poll() is not None:
            return []
        rows = []
        for label, pid in [
            ("bpc run (supervisor)", self.bpc.proc.pid),
            *self.bpc.children().items(),
        ]:
            try:
                rows.append((label, pid, rss_mb(pid)))
            except OSError:
                pass
        return rows

    def pids(self) -> list[tuple[str, int]]:
        if self.bpc is None or self.bpc.proc is None or self.bpc.proc.poll() is not None:
            return []
        return [("bpc run (supervisor)", self.bpc.proc.pid), *self.bpc.children().items()]

    def cpu_snapshot(self) -> dict:
        return {
            "bpc": {(label, pid): cpu_seconds(pid) for label, pid in self.pids()},
            "postgres": {pid: cpu_seconds(pid) for pid in server_pids()},
            "rabbitmq": {pid: cpu_seconds(pid) for pid in server_pids(("beam.smp",))},
        }

    def cpu_delta(self, before: dict) -> list[tuple[str, float]]:
        """CPU seconds per BPC process and for the PostgreSQL and RabbitMQ servers since
        ``before``."""
        after = self.cpu_snapshot()
        rows = [(label, after["bpc"][(label, pid)] - seconds)
                for (label, pid), seconds in before["bpc"].items()
                if (label, pid) in after["bpc"]]  # fmt: skip
        pg = sum(t - before["postgres"].get(pid, 0.0) for pid, t in after["postgres"].items())
        mq = sum(t - before["rabbitmq"].get(pid, 0.0) for pid, t in after["rabbitmq"].items())
        return [*rows, ("PostgreSQL (all processes)", pg), ("RabbitMQ", mq)]

    def stop(self, keep: bool) -> None:
        if self.bpc is not None and self.bpc.proc is not None:
            say("· stopping BPC (SIGTERM)")
            try:
                self.bpc.stop()
            except Exception as exc:  # noqa: BLE001 - best effort while cleaning up
                say(f"  could not stop BPC: {exc}")
        if self.env.vhost:
            delete_vhost(self.env.vhost)
            say(f"· deleted vhost {self.env.vhost}")
        if keep:
            say(f"· kept the databases {sorted(self.env.pg_urls.values())} and {self.tmp}")
            return
        dropped = 0
        for url in self.env.pg_urls.values():
            if url in self.reuse.values():
                say(f"· kept {url} (reused)")
                continue
            try:
                drop_pg_database(url)
                dropped += 1
            except Exception as exc:  # noqa: BLE001 - best effort while cleaning up
                say(f"  could not drop {url}: {exc}")
        say(f"· dropped {dropped} databases")
        shutil.rmtree(self.tmp, ignore_errors=True)


def create_people(port: int, admin_password: str, n_users: int) -> tuple[list[dict], dict]:
    """A unit, a level-4 supervisor, n level-2 salespeople and a probe salesperson, each
    logged in: ([{"id", "token"}] of the load users, the probe's {"id", "token"})."""
    admin = Http(port)
    status, body = admin.call(
        "POST", "/api/v1/auth/login", {"login": "admin", "password": admin_password}
    )
    if status != 200:
        raise RuntimeError(f"admin login → {status} {body}")
    admin.token, me = body["token"], body["user"]
    suffix = uuid.uuid4().hex[:6]
    status, unit = admin.call(
        "POST",
        "/api/v1/org/units",
        {"name": f"压测分公司 Bench {suffix}", "parent_id": me.get("org_unit_id")},
    )
    if status != 201:
        raise RuntimeError(f"create unit → {status} {unit}")

    def user(login_: str, name: str, level: int, supervisor: str) -> dict:
        password = f"Bench-{uuid.uuid4().hex}"
        status, body = admin.call(
            "POST",
            "/api/v1/users",
            {
                "login": login_,
                "password": password,
                "name": name,
                "level": level,
                "org_unit_id": unit["id"],
                "supervisor_id": supervisor,
            },
        )
        if status != 201:
            raise RuntimeError(f"create user {login_} → {status} {body}")
        token = login(port, login_, password)
        status, customer = Http(port, token).call(
            "POST", "/api/v1/customers", {"name": f"压测客户 Bench {login_} 有限公司"}
        )
        if status != 201:
            raise RuntimeError(f"register {login_}'s customer → {status} {customer}")
        return {"id": body["id"], "login": login_, "token": token, "customer": customer["id"]}

    boss = user(f"bench_sup_{suffix}", "压测主管 Bench Supervisor", 4, me["id"])
    users = []
    for i in range(n_users):
        users.append(user(f"bench_{suffix}_{i}", f"压测销售 Bench Sales {i}", 2, boss["id"]))
        if (i + 1) % 20 == 0 or i + 1 == n_users:
            say(f"  salespeople created and logged in: {i + 1} / {n_users}")
    probe = user(f"bench_probe_{suffix}", "压测探针 Bench Probe", 2, boss["id"])
    say(f"· unit {unit['id']}, supervisor {boss['id']} (level 4), {n_users} + 1 probe users")
    admin.close()
    return users, probe


# --------------------------------------------------------------------------- the probe


class Probe:
    """Every ``interval`` s the poster records one entry as the probe user; the poller reads
    the probe's curve for today back to back while entries are outstanding. The k-th entry
    posted counts as visible at the first curve answer whose "entries" reaches k (the count
    cannot say which entry scoring took first; if two overtake each other, the earlier one's
    delay is attributed to the later — the p99 barely moves)."""

    def __init__(self, port: int, user: dict, today: str, interval: float):
        token, user_id = user["token"], user["id"]
        self.port, self.token, self.customer = port, token, user["customer"]
        self.user_id, self.today, self.interval = user_id, today, interval
        self.curve = f"/api/v1/scoring/curves?user_id={user_id}&from={today}&to={today}"
        self.reader = Http(port, token, timeout=PROBE_TIMEOUT)
        self.lock = threading.Condition()
        self.posting = threading.Event()  # set: stop posting
        self.stopping = threading.Event()  # set: stop polling too
        self.pending: list[tuple[int, float]] = []  # (curve count that shows it, answered at)
        self.delays: list[float] = []  # s; math.inf when never seen within PROBE_TIMEOUT
        self.polls = 0
        self.errors: list[str] = []
        self.base = 0
        self.threads = [
            threading.Thread(target=self._post, name="probe-post", daemon=True),
            threading.Thread(target=self._poll, name="probe-poll", daemon=True),
        ]

    def entries_today(self) -> int:
        status, body = self.reader.call("GET", self.curve)
        if status != 200:
            raise RuntimeError(f"curves → {status} {body}")
        return sum(p["entries"] for p in body["points"] if p["date"] == self.today)

    def start(self) -> None:
        self.base = self.entries_today()
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Stop posting, wait (≤ PROBE_TIMEOUT) for the outstanding entries, stop polling."""
        self.posting.set()
        self.threads[0].join(PROBE_TIMEOUT)
        with self.lock:
            self.lock.notify_all()
        deadline = time.monotonic() + PROBE_TIMEOUT + 2
        while self.pending and time.monotonic() < deadline and self.threads[1].is_alive():
            time.sleep(0.05)
        self.stopping.set()
        self.threads[1].join(PROBE_TIMEOUT)

    def _post(self) -> None:
        poster = Http(self.port, self.token, timeout=PROBE_TIMEOUT)
        posted = 0
        try:
            while not self.posting.is_set() and posted < PROBE_MAX:
                began = time.monotonic()
                body = {"customer_id": self.customer, "activities": ["call"], "minutes": 1}
                status, answer = poster.call("POST", ENTRY_PATH, body)
                answered = time.monotonic()
                if status == 201:
                    posted += 1
                    with self.lock:
                        self.pending.append((self.base + posted, answered))
                        self.lock.notify_all()
                else:
                    self.errors.append(f"POST {status}: {str(answer)[:200]}")
                self.posting.wait(max(0.0, self.interval - (time.monotonic() - began)))
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"poster stopped: {type(exc).__name__}: {exc}")
        finally:
            poster.close()

    def _poll(self) -> None:
        try:
            while not self.stopping.is_set():
                with self.lock:
                    if not self.pending:
                        self.lock.wait(0.1)
                        continue
                seen = self.entries_today()
                self.polls += 1
                now = time.monotonic()
                with self.lock:
                    while self.pending and (
                        self.pending[0][0] <= seen or now - self.pending[0][1] > PROBE_TIMEOUT
                    ):
                        target, answered = self.pending.pop(0)
                        self.delays.append(now - answered if target <= seen else math.inf)
                time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"poller stopped: {type(exc).__name__}: {exc}")
        finally:
            self.reader.close()


# --------------------------------------------------------------------------- load: wrk

WRK_LUA = r"""
-- generated by bench_ingest.py: thread t is client t, one connection, its own users
local threads = {}
TOKENS = __TOKENS__
DATES = __DATES__
DAY_LIMIT = __DAY_LIMIT__

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  statuses = {}
  samples = {}
  nsamples = 0
  full = 0
  slots = {}
  for _, user in ipairs(TOKENS[tid]) do
    for _, day in ipairs(DATES) do
      table.insert(slots, {token = user[1], customer = user[2], day = day, accepted = 0})
    end
  end
  slot = 0
  last = nil
  counter = 0
end

function request()
  -- the next (user, day) slot that is not full yet
  for _ = 1, #slots do
    slot = slot % #slots + 1
    if slots[slot].accepted < DAY_LIMIT then break end
  end
  if slots[slot].accepted >= DAY_LIMIT then full = full + 1 end
  last = slots[slot]
  counter = counter + 1
  local body = string.format(
    '{"customer_id":"%s","activities":["call"],"minutes":1,"work_date":"%s"}',
    last.customer, last.day)
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. last.token,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    if last then last.accepted = last.accepted + 1 end
  elseif nsamples < 5 then
    nsamples = nsamples + 1
    samples[nsamples] = tostring(status) .. " " .. string.sub(body or "", 1, 200)
  end
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local agg, texts, nfull = {}, {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do agg[tostring(k)] = (agg[tostring(k)] or 0) + v end
    for _, s in pairs(t:get("samples")) do
      if #texts < 10 then table.insert(texts, quote(s)) end
    end
    nfull = nfull + t:get("full")
  end
  local parts = {}
  for k, v in pairs(agg) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"over_capacity":%d,"statuses":{%s},"samples":[%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write, e.timeout, nfull, table.concat(parts, ","),
    table.concat(texts, ",")))
end
"""


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(port: int, groups: list[list[str]], dates: list[str], duration: float, workdir: Path):
    tokens = (
        "{"
        + ", ".join(
            "{" + ", ".join("{" + ", ".join(map(lua_string, user)) + "}" for user in g) + "}"
            for g in groups
        )
        + "}"
    )
    script = workdir / "ingest.lua"
    script.write_text(
        WRK_LUA.replace("__TOKENS__", tokens)
        .replace("__DATES__", "{" + ", ".join(map(lua_string, dates)) + "}")
        .replace("__DAY_LIMIT__", str(DAY_LIMIT))
    )
    clients = len(groups)
    cmd = [
        "wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(duration))}s",
        "--timeout", "10s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}{ENTRY_PATH}",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    try:
        out, err = proc.communicate(timeout=duration + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line[len("BENCH_JSON ") :])
            return {
                "requests": raw["requests"],
                "seconds": raw["duration_us"] / 1e6,
                "p50_ms": raw["p50_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "statuses": {int(k): v for k, v in raw["statuses"].items()},
                "errors": raw["socket_errors"] + raw["timeouts"],
                "over_capacity": raw["over_capacity"],
                "samples": raw["samples"],
            }
    raise RuntimeError(f"wrk gave no result:\n{out}\n{err}")


# --------------------------------------------------------------------------- load: Python


def _client_thread(port, tokens, dates, deadline, tid, out):
    """One client: its own users, rotating over (user, day) slots; keep-alive."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    slots = [[token, day, 0, customer] for token, customer in tokens for day in dates]
    latencies, statuses, samples = out["latencies"], out["statuses"], out["samples"]
    slot, counter = -1, 0
    while time.monotonic() < deadline:
        for _ in range(len(slots)):
            slot = (slot + 1) % len(slots)
            if slots[slot][2] < DAY_LIMIT:
                break
        token, day, accepted, customer = slots[slot]
        if accepted >= DAY_LIMIT:
            out["over_capacity"] += 1
        counter += 1
        body = (
            f'{{"customer_id":"{customer}","activities":["call"],"minutes":1,"work_date":"{day}"}}'
        ).encode()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        started = time.perf_counter()
        try:
            conn.request("POST", ENTRY_PATH, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            out["errors"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status == 201:
            slots[slot][2] += 1
        elif len(samples) < 5:
            samples.append(f"{response.status} {raw[:200].decode(errors='replace')}")
    conn.close()


def _client_process(job) -> dict:
    port, groups, first_tid, dates, start_at, duration = job
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.monotonic() + duration
    outs = []
    threads = []
    for i, tokens in enumerate(groups):
        out = {"latencies": [], "statuses": {}, "samples": [], "errors": 0, "over_capacity": 0}
        outs.append(out)
        threads.append(
            threading.Thread(
                target=_client_thread, args=(port, tokens, dates, deadline, first_tid + i, out)
            )
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses: dict[int, int] = {}
    for out in outs:
        for code, n in out["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "latencies": [x for out in outs for x in out["latencies"]],
        "statuses": statuses,
        "samples": [s for out in outs for s in out["samples"]][:10],
        "errors": sum(out["errors"] for out in outs),
        "over_capacity": sum(out["over_capacity"] for out in outs),
    }


def run_python(port: int, groups: list[list[str]], dates: list[str], duration: float) -> dict:
    n_procs = max(1, min(len(groups), os.cpu_count() or 1))
    start_at = time.time() + 1.0
    jobs, first = [], 0
    for i in range(n_procs):
        n = len(groups) // n_procs + (1 if i < len(groups) % n_procs else 0)
        jobs.append((port, groups[first : first + n], first + 1, dates, start_at, duration))
        first += n
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        parts = pool.map(_client_process, jobs)
    latencies = sorted(x for p in parts for x in p["latencies"])
    statuses: dict[int, int] = {}
    for p in parts:
        for code, n in p["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "requests": len(latencies),
        "seconds": duration,
        "p50_ms": pct(latencies, 0.50) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "statuses": statuses,
        "errors": sum(p["errors"] for p in parts),
        "over_capacity": sum(p["over_capacity"] for p in parts),
        "samples": [s for p in parts for s in p["samples"]][:10],
    }


def machine_cpu() -> tuple[float, float]:
    """(all, idle) jiffies of the machine's cores so far (/proc/stat: every process counts)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]  # idle + iowait


def client_cpu_seconds() -> float:
    """CPU time of this process and its finished children (wrk, the client pool)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# --------------------------------------------------------------------------- py-spy

PROFILED = ("gateway", "worklog", "scoring")


def start_profiles(bench, seconds: float, directory: Path) -> list[subprocess.Popen]:
    """py-spy record (raw, 100 Hz, non-blocking) of the gateway, worklog and scoring."""
    spy = py_spy()
    if not spy:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    pids = dict(bench.pids())
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--nonblocking",
                "-r",
                "100",
                "-f",
                "raw",
                "-d",
                str(round(seconds)),
                "-o",
                str(directory / f"{name}.txt"),
                "--pid",
                str(pids[name]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for name in PROFILED
        if name in pids
    ]


def users_needed(args) -> int:
    """Enough (user, day) slots that the run never meets day_limit_exceeded at --max-rate."""
    per_client = args.max_rate * args.duration / args.clients  # entries one client may post
    users_per_client = max(1, math.ceil(per_client / (2 * DAY_LIMIT)))
    return users_per_client * args.clients


def report(
    result: dict, probe: Probe, rss_rows, bpc_cpu, args, loader: str, cpu: float, pg: str
) -> bool:
    created = result["statuses"].get(201, 0)
    rate = created / result["seconds"] if result["seconds"] else 0.0
    non_201 = sum(n for code, n in result["statuses"].items() if code != 201)
    delays = sorted(probe.delays)
    d50, d99 = pct(delays, 0.50), pct(delays, 0.99)
    never = sum(1 for d in delays if math.isinf(d))
    rate_ok = rate >= GOAL_RATE
    delay_ok = len(delays) > 0 and d99 < GOAL_DELAY
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say("")
    say(
        f"=== work-log ingest: {args.clients} clients × {result['seconds']:.0f} s over "
        f"{args.users} users (today + yesterday), load by {loader}, PostgreSQL {pg}, "
        f"{os.cpu_count()} CPUs, load average {load} ==="
    )
    say(f"{'measure':<44}{'value':>14}   {'goal':<16}result")
    say(f"{'entries/s (201 answers ÷ seconds)':<44}{rate:>14,.0f}   {'≥ 300':<16}"
        f"{'PASS' if rate_ok else 'FAIL'}")  # fmt: skip
    say(f"{'entries recorded (201)':<44}{created:>14,}")
    say(f"{'request latency p50 (ms)':<44}{result['p50_ms']:>14.1f}")
    say(f"{'request latency p99 (ms)':<44}{result['p99_ms']:>14.1f}")
    say(f"{'non-201 answers':<44}{non_201:>14,}")
    say(f"{'socket errors / timeouts':<44}{result['errors']:>14,}")
    say(f"{'POST → visible in curve p50 (s)':<44}{d50:>14.3f}")
    say(f"{'POST → visible in curve p99 (s)':<44}{d99:>14.3f}   {'< 1 s':<16}"
        f"{'PASS' if delay_ok else 'FAIL'}")  # fmt: skip
    say(f"{'probe samples (never seen in 30 s)':<44}{len(delays):>10,} ({never})")
    if delays:
        say(f"{'curve requests during the run':<44}{probe.polls:>14,}")
    say(f"{'load client CPU (s) over the run':<44}{cpu:>14.1f}")
    statuses = dict(sorted(result["statuses"].items()))
    say(f"statuses: {statuses}")
    if result["over_capacity"]:
        say(
            f"!! {result['over_capacity']} requests went to full (user, day) slots: "
            f"raise --users or --max-rate"
        )
    for sample in result["samples"]:
        say(f"  non-201 sample: {sample}")
    for error in probe.errors[:10]:
        say(f"  probe: {error}")
    if len(delays) < 60:
        say(f"!! only {len(delays)} probe samples (≥ 60 wanted for a p99)")
    if bpc_cpu:
        say("")
        say(f"CPU during the load ({result['seconds']:.0f} s; 100% = one core):")
        for label, seconds in bpc_cpu:
            say(f"  {label:<26} {seconds:7.1f} s  {seconds / result['seconds']:6.0%}")
        say(f"  {'load generator':<26} {cpu:7.1f} s  {cpu / result['seconds']:6.0%}")
        busy = sum(seconds for _, seconds in bpc_cpu) + cpu  # (the servers included)
        cores = os.cpu_count() or 1
        say(
            f"  share of the machine ({cores} cores) kept busy by BPC, its servers and the load: "
            f"{busy / (cores * result['seconds']):.0%}; of every process (/proc/stat): "
            f"{result.get('machine_busy', float('nan')):.0%}"
        )
    if rss_rows:
        say("")
        say("BPC processes at the end (RSS):")
        for label, pid, mb in rss_rows:
            say(f"  {label:<22} pid {pid:<8} {mb:7.1f} MB")
        say(f"  {'total':<22} {'':<12} {sum(mb for *_, mb in rss_rows):7.1f} MB")
    return rate_ok and delay_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (60)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (20)")
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="load users (default: enough for --max-rate; a multiple of --clients)",
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        default=2000,
        help="entries/s the default --users must be able to absorb (2000)",
    )
    parser.add_argument("--probe-interval", type=float, default=0.5, help="seconds (0.5)")
    parser.add_argument(
        "--python-client", action="store_true", help="the Python load even when wrk is installed"
    )
    parser.add_argument("--start-timeout", type=float, default=120)
    parser.add_argument("--quick", action="store_true", help="a dry run: 10 s, 4 clients")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the log")
    parser.add_argument(
        "--set", action="append", default=[], metavar="BPC_NAME=VALUE",
        help="a setting for every BPC process (e.g. BPC_MAX_WORKERS=10); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the gateway, worklog and scoring"
    )
    parser.add_argument("--profile-dir", default="/tmp/bpc-bench-ingest-profile")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--root",
        help="the checkout whose BPC to measure (e.g. an older commit in a git worktree); "
        "this one by default",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.clients = min(args.duration, 10), min(args.clients, 4)
    if args.clients < 1 or args.duration < 1:
        parser.error("--clients and --duration must be at least 1")
    if args.users is None:
        args.users = users_needed(args)
    args.users = max(args.clients, math.ceil(args.users / args.clients) * args.clients)
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    loader = "wrk (Lua, 1 thread per client)" if use_wrk else "python client (processes × threads)"

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    began = time.monotonic()
    bench = Bench(args)
    workdir = Path(tempfile.mkdtemp(prefix="bpc-bench-ingest-load-"))
    probe: Probe | None = None
    spies: list[subprocess.Popen] = []
    failed, passed = True, False
    try:
        bench.start()
        port = bench.env.gateway_port
        users, probe_user = create_people(port, bench.env.admin_password, args.users)
        # the probe's first entry says what "today" is in the organisation's time zone
        status, first = Http(port, probe_user["token"]).call(
            "POST",
            ENTRY_PATH,
            {"customer_id": probe_user["customer"], "activities": ["call"], "minutes": 1},
        )
        if status != 201:
            raise RuntimeError(f"first probe entry → {status} {first}")
        today = first["work_date"]
        yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
        dates = [today, yesterday]
        groups = [
            [(users[i]["token"], users[i]["customer"]) for i in range(c, args.users, args.clients)]
            for c in range(args.clients)
        ]
        capacity = args.users * len(dates) * DAY_LIMIT
        say(
            f"· organisation's today {today}; capacity {capacity:,} entries "
            f"({capacity / args.duration:,.0f}/s over {args.duration:g} s)"
        )
        probe = Probe(port, probe_user, today, args.probe_interval)
        # the first entry must show before the probe starts counting
        deadline = time.monotonic() + 30
        while probe.entries_today() < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the probe's first entry never reached the curve")
            time.sleep(0.1)
        say(f"→ load: {args.clients} clients × {args.duration:g} s by {loader}; probe every "
            f"{args.probe_interval:g} s")  # fmt: skip
        cpu_before = client_cpu_seconds()
        bpc_before = bench.cpu_snapshot()
        machine_before = machine_cpu()
        spies = start_profiles(bench, args.duration, Path(args.profile_dir)) if args.profile else []
        probe.start()
        ticker_stop = threading.Event()
        started = time.monotonic()

        def ticker() -> None:
            while not ticker_stop.wait(10):
                say(f"  … {time.monotonic() - started:4.0f} s, probe samples "
                    f"{len(probe.delays)}, last delay "
                    f"{probe.delays[-1] if probe.delays else float('nan'):.3f} s")  # fmt: skip

        tick = threading.Thread(target=ticker, daemon=True)
        tick.start()
        try:
            if use_wrk:
                result = run_wrk(port, groups, dates, args.duration, workdir)
            else:
                result = run_python(port, groups, dates, args.duration)
            bpc_cpu = bench.cpu_delta(bpc_before)
            machine_after = machine_cpu()
            result["machine_busy"] = 1 - (machine_after[1] - machine_before[1]) / max(
                1e-9, machine_after[0] - machine_before[0]
            )
            cpu = client_cpu_seconds() - cpu_before  # wrk or the pool; not py-spy (not reaped)
        finally:
            ticker_stop.set()
            probe.stop()
            for spy in spies:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
        say(f"  load done: {result['requests']:,} requests, statuses {result['statuses']}")
        rss_rows = bench.rss()
        import psycopg2

        with psycopg2.connect(bench.env.pg_urls["worklog"]) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            pg = cur.fetchone()[0].split()[0]
        conn.close()
        passed = report(result, probe, rss_rows, bpc_cpu, args, loader, cpu, pg)
        delays = sorted(probe.delays)
        write_json(
            args.json,
            {
                "bench": "ingest",
                "clients": args.clients,
                "seconds": result["seconds"],
                "users": args.users,
                "loader": loader,
                "entries": result["statuses"].get(201, 0),
                "entries_per_s": result["statuses"].get(201, 0) / result["seconds"]
                if result["seconds"]
                else 0.0,
                "p50_ms": result["p50_ms"],
                "p99_ms": result["p99_ms"],
                "non_201": sum(n for c, n in result["statuses"].items() if c != 201),
                "delay_p50_s": pct(delays, 0.50),
                "delay_p99_s": pct(delays, 0.99),
                "probe_samples": len(delays),
                "rss_mb": {label: mb for label, _, mb in rss_rows},
                # the share of the machine's cores kept busy by BPC, its servers and the load
                "bpc_busy": (sum(sec for _, sec in bpc_cpu) + cpu)
                / ((os.cpu_count() or 1) * result["seconds"])
                if result["seconds"]
                else 0.0,
                # … and by every process (/proc/stat)
                "machine_busy": result.get("machine_busy", 0.0),
                "cpu_s": {label: sec for label, sec in bpc_cpu},
                "load_cpu_s": cpu,
                "passed": passed,
            },
        )
        if args.profile:
            for name in PROFILED:
                path = Path(args.profile_dir) / f"{name}.txt"
                say("")
                say(f"py-spy, {name} during the load ({path}):")
                for line in summarize_raw(path):
                    say(line)
        failed = False
    except KeyboardInterrupt:
        say("!! interrupted")
    except Exception as exc:  # noqa: BLE001 - report any failure, then clean up
        say(f"!! benchmark failed: {type(exc).__name__}: {exc}")
        if bench.bpc is not None:
            say(f"   BPC log tail:\n{bench.bpc.tail(30)}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if probe is not None:
            probe.posting.set()
            probe.stopping.set()
        for spy in spies:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        bench.stop(keep=args.keep)
        shutil.rmtree(workdir, ignore_errors=True)
        say(f"· whole run: {time.monotonic() - began:.0f} s")
    if failed:
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
