"""Gateway benchmark: what BPC's HTTP front door serves, next to a bare Nameko "ceiling".

    .venv/bin/python tests/bench/bench_gateway.py                  # 20 clients, 30 s each
    .venv/bin/python tests/bench/bench_gateway.py --duration 5 --clients 8
    .venv/bin/python tests/bench/bench_gateway.py --ceiling-only   # no BPC: ceiling alone

It starts its own BPC (``python -m ops.cli run``) on a fresh RabbitMQ vhost and a
temporary data dir, creates a unit and a level-2 salesperson through the API, and drives
with N concurrent keep-alive clients for D seconds each:

    me         GET  /api/v1/me                  (bearer; exactly one resolve_actor RPC to org
                                               per request: /me never uses the actor cache)
    customers  POST /api/v1/customers            (bearer; a new company name every time)
    ceiling    GET  /ceiling on a bare Nameko @http service in its own process

The load generator is ``wrk`` (with Lua scripts counting statuses) when it is installed,
else a Python client (processes × threads, http.client keep-alive). At the end: req/s, p50,
p99, non-2xx count per target, the gateway/ceiling ratio for /me, and the resident memory of
every BPC process at rest. Everything it started is stopped, the vhost and data removed.

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BPC_ROOT = ROOT  # the checkout whose BPC is measured (--root: an older one, in a worktree)
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
BROKER = os.environ.get("BPC_BENCH_BROKER", "amqp://guest:guest@127.0.0.1:5672")
RABBITMQCTL = os.environ.get("RABBITMQCTL", "rabbitmqctl")
SERVICES = ("org", "customer", "opportunity", "worklog", "alerts", "experience", "scoring")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.bench.benchkit import cpu_seconds, write_json  # noqa: E402


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_metrics_offset() -> int:
    """An offset so that 9101+offset … 9107+offset are all free."""
    for offset in range(2000, 20000, 100):
        if all(port_free(9101 + offset + i) for i in range(len(SERVICES))):
            return offset
    raise RuntimeError("no free range of metrics ports")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(
        [RABBITMQCTL, *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
    )


class Http:
    """A tiny JSON client (keep-alive) for the set-up calls."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=30)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return response.status, payload


def wait_http(url_host: str, port: int, path: str, timeout: float, proc=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            status, _ = Http(url_host, port).call("GET", path)
            if status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.5)
    return False


def children(pid: int) -> list[int]:
    """Every descendant of pid (from /proc)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …  — comm may contain spaces and parentheses
        parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parent_of.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def process_label(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    argv = [a.decode(errors="replace") for a in argv if a]
    for tools in ("ops", "common"):
        if f"{tools}.runner" in argv:
            return argv[argv.index(f"{tools}.runner") + 1]
        if f"{tools}.cli" in argv:
            return "bpc run (supervisor)"
    return " ".join(Path(a).name for a in argv[:3])


# --------------------------------------------------------------------------- BPC under test


class Bpc:
    """A private BPC: own vhost, data dir, gateway port and metrics ports."""

    def __init__(
        self, admin_password: str, start_timeout: float, extra_env: dict[str, str] | None = None
    ):
        self.vhost = f"bpc_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="bpc-bench-"))
        self.port = free_port()
        self.admin_password = admin_password
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "bpc.log"
        self.vhost_created = False
        self.extra_env = extra_env or {}

    @property
    def amqp_uri(self) -> str:
        return f"{BROKER}/{self.vhost}"

    def start(self) -> None:
        say(f"· creating vhost {self.vhost}, data dir {self.data_dir}")
        rabbitmqctl("add_vhost", self.vhost)
        self.vhost_created = True
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        env = {
            **os.environ,
            "BPC_AMQP_URI": self.amqp_uri,
            "BPC_DATA_DIR": str(self.data_dir),
            "BPC_GATEWAY_ADDRESS": f"127.0.0.1:{self.port}",
            "BPC_METRICS_PORT_OFFSET": str(free_metrics_offset()),
            "BPC_ADMIN_PASSWORD": self.admin_password,
            # the tokens made at the start serve a run of any length (throughput, not sign-ins)
            "BPC_TOKEN_TTL": "86400",
            "BPC_LOG_LEVEL": os.environ.get("BPC_LOG_LEVEL", "WARNING"),
            "BPC_START_TIMEOUT": str(self.start_timeout),
            **self.extra_env,
        }
        for key in [k for k in env if k.startswith("BPC_DB_URL_")]:
            del env[key]  # SQLite files in the private data dir
        # (a tree older than the ops package kept its tools in common/)
        tools = "ops" if (BPC_ROOT / "ops" / "cli.py").exists() else "common"
        say(f"· starting BPC ({BPC_ROOT}: python -m {tools}.cli run) on 127.0.0.1:{self.port}, "
            f"log {self.log_path}")  # fmt: skip
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", f"{tools}.cli", "run"],
            cwd=BPC_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        started = time.monotonic()
        if not wait_http("127.0.0.1", self.port, "/healthz", self.start_timeout, self.proc):
            tail = self.log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"BPC did not become healthy; log tail:\n{tail}")
        say(f"· BPC healthy after {time.monotonic() - started:.1f} s")

    def rss(self) -> list[tuple[str, int, float]]:
        assert self.proc is not None
        pids = [self.proc.pid, *children(self.proc.pid)]
        rows = []
        for pid in pids:
            mb = rss_mb(pid)
            if mb is not None:
                rows.append((process_label(pid), pid, mb))
        return rows

    def stop(self, keep: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            say("· stopping BPC (SIGTERM)")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                say("  BPC did not stop in 30 s; killing its process group")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.vhost_created:
            try:
                rabbitmqctl("delete_vhost", self.vhost)
                say(f"· deleted vhost {self.vhost}")
            except (subprocess.SubprocessError, OSError) as exc:
                say(f"  could not delete vhost {self.vhost}: {exc}")
        if keep:
            say(f"· kept {self.data_dir}")
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class Ceiling:
    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        say(f"· starting the ceiling (bare Nameko @http) on 127.0.0.1:{self.port}")
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / "ceiling_service.py"), f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_http("127.0.0.1", self.port, "/ceiling", 30, self.proc):
            raise RuntimeError("the ceiling service did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def prepare_user(client: Http, admin_login: str, admin_password: str) -> str:
    """Admin logs in, creates a unit and a level-2 user; returns that user's token."""
    status, body = client.call(
        "POST", "/api/v1/auth/login", {"login": admin_login, "password": admin_password}
    )
    if status != 200:
        raise RuntimeError(f"admin login → {status} {body}")
    admin_token = body["token"]
    admin = body["user"]
    suffix = uuid.uuid4().hex[:6]
    status, unit = client.call(
        "POST",
        "/api/v1/org/units",
        {"name": f"压测分公司 {suffix}", "parent_id": admin.get("org_unit_id")},
        admin_token,
    )
    if status != 201:
        raise RuntimeError(f"create unit → {status} {unit}")
    login = f"bench_{suffix}"
    password = f"Bench-{uuid.uuid4().hex}"
    status, user = client.call(
        "POST",
        "/api/v1/users",
        {
            "login": login,
            "password": password,
            "name": "压测销售 Bench Sales",
            "level": 2,
            "org_unit_id": unit["id"],
            "supervisor_id": admin["id"],
        },
        admin_token,
    )
    if status != 201:
        raise RuntimeError(f"create user → {status} {user}")
    status, body = client.call("POST", "/api/v1/auth/login", {"login": login, "password": password})
    if status != 200:
        raise RuntimeError(f"user login → {status} {body}")
    say(f"· created unit {unit['id']} and level-2 user {login} ({user['id']})")
    return body["token"]


def wait_customer_ready(client: Http, token: str, timeout: float = 30) -> None:
    """The customer service learns the new owner from org.user_created: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = client.call(
            "POST",
            "/api/v1/customers",
            {
                "name": f"预热客户 warm-up {uuid.uuid4().hex}",
                "contacts": [{"name": "预热"}],
            },
            token,
        )
        if status == 201:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"POST /api/v1/customers never succeeded: {status} {body}")
        time.sleep(0.5)


# --------------------------------------------------------------------------- load: wrk

WRK_LUA = r"""
-- generated by bench_gateway.py
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  mode = args[1]
  token = args[2]
  run = args[3]
  wrk.headers["Accept"] = "application/json"
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  if mode == "post" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
  fixed = wrk.format()
end

function request()
  if mode ~= "post" then
    return fixed
  end
  counter = counter + 1
  -- a distinct company every time: thread id, counter and a scrambled hex tag
  local tag = string.format("%08x", (tid * 7919 + counter * 2654435761) % 4294967296)
  local body = string.format(
    '{"name":"压测客户%s-%s-%d-%d","contacts":[{"name":"联系人"}]}', tag, run, tid, counter)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do agg[tostring(k)] = (agg[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(agg) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write, e.timeout, table.concat(parts, ",")))
end
"""


def run_wrk(url: str, mode: str, token: str, clients: int, duration: float, workdir: Path) -> dict:
    script = workdir / "bench.lua"
    script.write_text(WRK_LUA)
    threads = max(1, min(clients, os.cpu_count() or 1))
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(clients),
        "-d",
        f"{max(1, int(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        mode,
        token or "",
        uuid.uuid4().hex[:6],
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line[len("BENCH_JSON ") :])
            statuses = {int(k): v for k, v in raw["statuses"].items()}
            return {
                "requests": raw["requests"],
                "seconds": raw["duration_us"] / 1e6,
                "p50_ms": raw["p50_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "statuses": statuses,
                "errors": raw["socket_errors"] + raw["timeouts"],
            }
    raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")


# --------------------------------------------------------------------------- load: Python


def _client_thread(host, port, path, mode, token, deadline, tag, latencies, statuses, errors):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if mode == "post":
        headers["Content-Type"] = "application/json"
    counter = 0
    while time.monotonic() < deadline:
        body = None
        if mode == "post":
            counter += 1
            body = json.dumps(
                {
                    "name": f"压测客户{uuid.uuid4().hex[:8]}-{tag}-{counter}",
                    "contacts": [{"name": "联系人"}],
                },
                ensure_ascii=False,
            ).encode()
        started = time.perf_counter()
        try:
            conn.request("POST" if mode == "post" else "GET", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors[0] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
            continue
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    conn.close()


def _client_process(args) -> dict:
    host, port, path, mode, token, n_threads, start_at, duration, index = args
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.monotonic() + duration
    results = [([], {}, [0]) for _ in range(n_threads)]
    threads = [
        threading.Thread(
            target=_client_thread,
            args=(host, port, path, mode, token, deadline, f"{index}.{i}", *results[i]),
        )
        for i in range(n_threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [x for r in results for x in r[0]]
    statuses: dict[int, int] = {}
    for r in results:
        for code, n in r[1].items():
            statuses[code] = statuses.get(code, 0) + n
    return {"latencies": latencies, "statuses": statuses, "errors": sum(r[2][0] for r in results)}


def run_python(url: str, mode: str, token: str, clients: int, duration: float) -> dict:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    n_procs = max(1, min(clients, os.cpu_count() or 1))
    per_proc = [clients // n_procs + (1 if i < clients % n_procs else 0) for i in range(n_procs)]
    start_at = time.time() + 1.0
    jobs = [
        (host, int(port), "/" + path, mode, token, n, start_at, duration, i)
        for i, n in enumerate(per_proc)
        if n
    ]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        parts = pool.map(_client_process, jobs)
    latencies = sorted(x for p in parts for x in p["latencies"])
    statuses: dict[int, int] = {}
    for p in parts:
        for code, n in p["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "seconds": duration,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": statuses,
        "errors": sum(p["errors"] for p in parts),
    }


# --------------------------------------------------------------------------- main


def gateway_pid(bpc) -> int | None:
    if bpc is None or bpc.proc is None:
        return None
    return next((p for p in children(bpc.proc.pid) if process_label(p) == "gateway"), None)


def drive(name: str, url: str, mode: str, token: str, args, workdir: Path, bpc=None) -> dict:
    """``args.clients`` clients on ``url`` for ``args.duration`` s; with ``bpc``, also the
    CPU its gateway process spent per answered request (``gateway_cpu_ms``)."""
    say(
        f"→ {name}: {args.clients} clients for {args.duration:g} s "
        f"({'wrk' if args.use_wrk else 'python client'}) {url}"
    )
    pid = gateway_pid(bpc)
    cpu_before = cpu_seconds(pid)
    if args.use_wrk:
        result = run_wrk(url, mode, token, args.clients, args.duration, workdir)
    else:
        result = run_python(url, mode, token, args.clients, args.duration)
    spent = cpu_seconds(pid) - cpu_before
    result["gateway_cpu_ms"] = (
        1000 * spent / result["requests"] if pid and result["requests"] else None
    )
    result["gateway_cpu_share"] = spent / result["seconds"] if pid and result["seconds"] else None
    result["rps"] = result["requests"] / result["seconds"] if result["seconds"] else 0.0
    result["non_2xx"] = sum(n for code, n in result["statuses"].items() if not 200 <= code < 300)
    say(
        f"  {result['requests']} requests, {result['rps']:.0f} req/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"statuses {dict(sorted(result['statuses'].items()))}, socket errors {result['errors']}"
        + (
            f", gateway CPU {result['gateway_cpu_ms']:.2f} ms a request "
            f"({result['gateway_cpu_share']:.0%} of a core)"
            if result["gateway_cpu_ms"] is not None
            else ""
        )
    )
    return result


def report(results: dict[str, dict], rss_rows, args) -> None:
    say("")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    say(
        f"=== results: {args.clients} clients × {args.duration:g} s, "
        f"{'wrk' if args.use_wrk else 'python client'}, {os.cpu_count()} CPUs, "
        f"load average {load} ==="
    )
    say(
        f"{'target':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'errors':>8}"
        f"{'gw CPU ms/req':>15}"
    )
    labels = {
        "me": "GET /api/v1/me",
        "customers": "POST /api/v1/customers",
        "ceiling": "GET /ceiling (bare nameko)",
    }
    for key, r in results.items():
        say(
            f"{labels[key]:<34}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['non_2xx']:>9}{r['errors']:>8}"
            + (f"{r['gateway_cpu_ms']:>15.2f}" if r.get("gateway_cpu_ms") is not None else "")
        )
    if "me" in results and results.get("ceiling", {}).get("rps"):
        ratio = results["me"]["rps"] / results["ceiling"]["rps"]
        say(
            f"gateway /me ÷ ceiling: {ratio:.2f}  ({ratio * 100:.0f}% of a bare Nameko HTTP "
            f"process)"
        )
    if rss_rows:
        say("")
        say("BPC processes at rest (RSS):")
        for label, pid, mb in rss_rows:
            say(f"  {label:<22} pid {pid:<8} {mb:7.1f} MB")
        say(f"  {'total':<22} {'':<12} {sum(mb for *_, mb in rss_rows):7.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30, help="seconds per target (30)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (20)")
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="use the Python load generator even when wrk is installed",
    )
    parser.add_argument(
        "--ceiling-only", action="store_true", help="do not start BPC; measure the ceiling alone"
    )
    parser.add_argument(
        "--targets",
        default="me,customers,ceiling",
        help="comma-separated subset of me,customers,ceiling",
    )
    parser.add_argument("--admin-login", default=os.environ.get("BPC_ADMIN_LOGIN", "admin"))
    parser.add_argument(
        "--admin-password",
        default=os.environ.get("BPC_ADMIN_PASSWORD", f"bench-{uuid.uuid4().hex}"),
    )
    parser.add_argument("--start-timeout", type=float, default=90)
    parser.add_argument(
        "--actor-cache-ttl",
        type=float,
        default=None,
        help="BPC_ACTOR_CACHE_TTL for the gateway (default: its own, 2 s); it affects "
        "POST /customers (its caller lookup), never /me",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the data dir and log")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--root",
        help="the checkout whose BPC to measure (e.g. an older commit in a git worktree); "
        "this one by default",
    )
    global BPC_ROOT
    args = parser.parse_args(argv)
    if args.root:
        BPC_ROOT = Path(args.root).resolve()
    args.use_wrk = shutil.which("wrk") is not None and not args.python_client
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.ceiling_only:
        targets = ["ceiling"]
    unknown = set(targets) - {"me", "customers", "ceiling"}
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")

    workdir = Path(tempfile.mkdtemp(prefix="bpc-bench-load-"))
    extra_env = {}
    if args.actor_cache_ttl is not None:
        extra_env["BPC_ACTOR_CACHE_TTL"] = f"{args.actor_cache_ttl:g}"
    bpc = (
        None if targets == ["ceiling"] else Bpc(args.admin_password, args.start_timeout, extra_env)
    )
    ceiling = Ceiling() if "ceiling" in targets else None
    results: dict[str, dict] = {}
    rss_rows = []
    failed = False
    try:
        token = ""
        if bpc is not None:
            bpc.start()
            client = Http("127.0.0.1", bpc.port)
            token = prepare_user(client, args.admin_login, args.admin_password)
            if "customers" in targets:
                wait_customer_ready(client, token)
            time.sleep(2)  # settle before measuring memory at rest
            rss_rows = bpc.rss()
        if ceiling is not None:
            ceiling.start()
        for target in targets:
            if target == "me":
                results["me"] = drive(
                    "GET /api/v1/me",
                    f"http://127.0.0.1:{bpc.port}/api/v1/me",
                    "get",
                    token,
                    args,
                    workdir,
                    bpc,
                )
            elif target == "customers":
                results["customers"] = drive(
                    "POST /api/v1/customers",
                    f"http://127.0.0.1:{bpc.port}/api/v1/customers",
                    "post",
                    token,
                    args,
                    workdir,
                    bpc,
                )
            else:
                results["ceiling"] = drive(
                    "GET /ceiling",
                    f"http://127.0.0.1:{ceiling.port}/ceiling",
                    "get",
                    "",
                    args,
                    workdir,
                )
        report(results, rss_rows, args)
        if args.json:
            write_json(args.json, {"bench": "gateway", "clients": args.clients, **results})
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        failed = True
        say(f"!! benchmark failed: {exc}")
    except KeyboardInterrupt:
        failed = True
        say("!! interrupted")
    finally:
        if ceiling is not None:
            ceiling.stop()
        if bpc is not None:
            bpc.stop(keep=args.keep_data or failed)
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
