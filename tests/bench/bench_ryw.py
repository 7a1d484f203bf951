"""What read-your-writes and exactly-once cost (issue 19): ``POST /api/v1/opportunities`` and
work-log ingest, on this checkout and on an earlier commit, in one run.

    .venv/bin/python tests/bench/bench_ryw.py --base 450a98a           # 2 rounds, 30 s loads
    .venv/bin/python tests/bench/bench_ryw.py --base 450a98a --quick   # a dry run

The earlier commit is checked out into a git worktree beside this one (``--base-dir``). Each
round starts BPC from each tree in turn (``python -m ops.cli run`` on PostgreSQL, a fresh
vhost and databases, ``BPC_GRACE_HOUR=24``), creates ``--clients`` salespeople (each with one
customer of their own), and measures, one after the other, for ``--duration`` seconds each:

- registration, fresh: each client registers a new customer and at once an opportunity on it,
  again and again (the opportunity service learns the customer from an event: the path that
  asks the customer service when its projection has not seen it yet). Reported: opportunities
  registered per second, the opportunity request's p50/p99, and how many answers were not 201
  (before issue 19, under load most were 404 "客户不存在" for a customer just registered);
- registration, settled: opportunities on the customers of the fresh phase, which every
  projection knows by then: what the ordinary path costs (the request's id and recorded
  answer, the caller's recent changes travelling with it);
- ingest: the load of ``bench_ingest.py`` (wrk when installed, else its Python client): each
  client posts one-minute entries on its salespeople's own customers. Reported: entries/s and
  p50/p99.

Rounds alternate the trees (base, head, base, head …) so that a machine getting slower or
faster over the run weighs on both alike. The table gives each figure's median over the rounds
and the ratio head ÷ base (for a rate above 1 is better; for a latency, below 1).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.bench_ingest import Http, create_people, run_python, run_wrk  # noqa: E402
from tests.bench.benchkit import free_metrics_offset, on_sigterm, pct, say, write_json  # noqa: E402
from tests.support import (  # noqa: E402
    SERVICES,
    Environment,
    RunningBpc,
    create_pg_database,
    create_vhost,
    delete_vhost,
    drop_pg_database,
    free_port,
)

FEASIBLE = {"budget": True, "authority": True, "need": True, "timeline": True}


def worktree(base: str, directory: Path) -> Path:
    """The checkout of ``base`` (a git worktree of this repository), made if missing."""
    if not (directory / "common" / "cli.py").exists():
        subprocess.run(["git", "worktree", "add", "-f", str(directory), base], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=directory,
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    return directory, head


class System:
    """BPC from one tree on PostgreSQL, created and removed with everything it used."""

    def __init__(self, tree: Path, start_timeout: float):
        self.tree, self.start_timeout = tree, start_timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="bpc-bench-ryw-"))
        self.env = Environment(backend="postgresql", data_dir=self.tmp)
        self.bpc: RunningBpc | None = None

    def __enter__(self) -> System:
        env = self.env
        env.vhost = create_vhost("bpc_bench_ryw")
        for service in (*SERVICES, "gateway"):
            env.pg_urls[service] = create_pg_database(f"bpc_bench_ryw_{service}")
        env.admin_password = f"Bench-{uuid.uuid4().hex}"
        env.gateway_port = free_port()
        env.metrics_offset = free_metrics_offset()
        # both trees with the pools the base had (the head's `bpc run` would otherwise share
        # BPC_DB_CONNECTIONS among its processes: a difference that is not the one measured)
        # (BPC_TOKEN_TTL: the tokens made at the start serve a run of any length)
        env.extra = {"BPC_GRACE_HOUR": "24", "BPC_LOG_LEVEL": "WARNING", "BPC_TOKEN_TTL": "86400",
                     "BPC_START_TIMEOUT": str(self.start_timeout),
                     "BPC_DB_POOL_SIZE": "8", "BPC_DB_MAX_OVERFLOW": "14"}  # fmt: skip
        self.bpc = RunningBpc(env, root=self.tree)
        self.bpc.start(timeout=self.start_timeout)
        return self

    def __exit__(self, *exc) -> None:
        if self.bpc is not None and self.bpc.proc is not None:
            self.bpc.stop()
        delete_vhost(self.env.vhost)
        for url in self.env.pg_urls.values():
            drop_pg_database(url)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- the registration load -------------------------------------------------------------------


def _registrar(port: int, token: str, tag: str, deadline: float, out: dict) -> None:
    """Fresh: a new customer, and at once an opportunity on it. Settled: opportunities on the
    customers this client registered before (``out["customers"]``), known everywhere."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    settled = list(out["customers"])
    n = 0
    while time.monotonic() < deadline:
        n += 1
        try:
            if settled:
                customer = {"id": settled[n % len(settled)]}
            else:
                body = json.dumps({"name": f"压测登记{tag}-{n}有限公司"}, ensure_ascii=False)
                conn.request("POST", "/api/v1/customers", body=body.encode(), headers=headers)
                answer = conn.getresponse()
                customer = json.loads(answer.read() or b"{}")
                if answer.status != 201:
                    out["customer_errors"] += 1
                    continue
                out["customers"].append(customer["id"])
            body = json.dumps({"customer_id": customer["id"], "title": "压测商机",
                               "amount": "1000.00", "qualification": FEASIBLE})  # fmt: skip
            started = time.perf_counter()
            conn.request("POST", "/api/v1/opportunities", body=body.encode(), headers=headers)
            answer = conn.getresponse()
            raw = answer.read()
        except (OSError, http.client.HTTPException):
            out["errors"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        out["latencies"].append(time.perf_counter() - started)
        out["statuses"][answer.status] = out["statuses"].get(answer.status, 0) + 1
        if answer.status != 201 and len(out["samples"]) < 3:
            out["samples"].append(f"{answer.status} {raw[:160].decode(errors='replace')}")
    conn.close()


def _registrars(job) -> dict:
    port, clients, start_at, duration = job  # clients: [(token, customers it registered)]
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.monotonic() + duration
    outs = [{"latencies": [], "statuses": {}, "samples": [], "errors": 0, "customer_errors": 0,
             "customers": list(customers)} for _, customers in clients]  # fmt: skip
    threads = [threading.Thread(target=_registrar,
                                args=(port, token, uuid.uuid4().hex[:8], deadline, out))
               for (token, _), out in zip(clients, outs, strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = {"latencies": [], "statuses": {}, "samples": [], "errors": 0, "customer_errors": 0,
              "customers": [out["customers"] for out in outs]}  # fmt: skip
    for out in outs:
        merged["latencies"] += out["latencies"]
        merged["samples"] += out["samples"]
        merged["errors"] += out["errors"]
        merged["customer_errors"] += out["customer_errors"]
        for code, count in out["statuses"].items():
            merged["statuses"][code] = merged["statuses"].get(code, 0) + count
    return merged


def register_load(port: int, clients: list[tuple[str, list]], duration: float) -> dict:
    """``clients``: (token, customers) each; with no customers, the fresh load."""
    procs = 2
    jobs = [(port, clients[i::procs], time.time() + 1.0, duration) for i in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        parts = pool.map(_registrars, jobs)
    latencies = sorted(x for p in parts for x in p["latencies"])
    statuses: dict[int, int] = {}
    for part in parts:
        for code, count in part["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    customers = {}
    for i, part in enumerate(parts):
        for (token, _), registered in zip(clients[i::procs], part["customers"], strict=True):
            customers[token] = registered
    return {
        "opportunities_per_s": statuses.get(201, 0) / duration,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "not_201": sum(n for code, n in statuses.items() if code != 201),
        "statuses": statuses,
        "samples": [s for p in parts for s in p["samples"]][:3],
        "customers": customers,
    }


# --- one measurement -------------------------------------------------------------------------


def measure(tree: Path, label: str, args) -> dict:
    with System(tree, args.start_timeout) as system:
        port = system.env.gateway_port
        say(f"  [{label}] BPC up in {system.bpc.started_in:.0f} s from {tree}")
        users, _ = create_people(port, system.env.admin_password, args.clients)
        tokens = [u["token"] for u in users]
        fresh = register_load(port, [(t, []) for t in tokens], args.duration)
        say(f"  [{label}] fresh customer → opportunity: {fresh['opportunities_per_s']:.1f}/s, "
            f"p50 {fresh['p50_ms']:.0f} ms, p99 {fresh['p99_ms']:.0f} ms, not 201: "
            f"{fresh['not_201']} {fresh['samples'][:1]}")  # fmt: skip
        time.sleep(3)  # every customer has reached the opportunity service's projection
        settled = register_load(port, list(fresh["customers"].items()), args.duration)
        say(f"  [{label}] settled customers → opportunity: "
            f"{settled['opportunities_per_s']:.1f}/s, p50 {settled['p50_ms']:.0f} ms, p99 "
            f"{settled['p99_ms']:.0f} ms, not 201: {settled['not_201']}")  # fmt: skip
        status, first = Http(port, users[0]["token"]).call(
            "POST", "/api/v1/worklog/entries",
            {"customer_id": users[0]["customer"], "activities": ["call"], "minutes": 1},
        )  # fmt: skip
        if status != 201:
            raise RuntimeError(f"first entry → {status} {first}")
        today = first["work_date"]
        groups = [[(u["token"], u["customer"])] for u in users]
        workdir = Path(tempfile.mkdtemp(prefix="bpc-bench-ryw-load-"))
        try:
            if shutil.which("wrk") and not args.python_client:
                ingest = run_wrk(port, groups, [today], args.duration, workdir)
            else:
                ingest = run_python(port, groups, [today], args.duration)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        entries = ingest["statuses"].get(201, 0) / ingest["seconds"]
        say(f"  [{label}] ingest: {entries:.1f} entries/s, p50 {ingest['p50_ms']:.0f} ms, p99 "
            f"{ingest['p99_ms']:.0f} ms, statuses {ingest['statuses']}")  # fmt: skip
    return {
        "fresh_per_s": fresh["opportunities_per_s"],
        "fresh_p50_ms": fresh["p50_ms"],
        "fresh_p99_ms": fresh["p99_ms"],
        "fresh_not_201": fresh["not_201"],
        "register_per_s": settled["opportunities_per_s"],
        "register_p50_ms": settled["p50_ms"],
        "register_p99_ms": settled["p99_ms"],
        "register_not_201": settled["not_201"],
        "ingest_per_s": entries,
        "ingest_p50_ms": ingest["p50_ms"],
        "ingest_p99_ms": ingest["p99_ms"],
        "ingest_not_201": sum(n for c, n in ingest["statuses"].items() if c != 201),
    }


ROWS = (
    ("fresh_per_s", "customer just registered → POST /opportunities 201/s", "rate"),
    ("fresh_p50_ms", "  its p50 (ms)", "time"),
    ("fresh_p99_ms", "  its p99 (ms)", "time"),
    ("fresh_not_201", "  answered other than 201 (count)", "count"),
    ("register_per_s", "POST /opportunities on known customers, 201/s", "rate"),
    ("register_p50_ms", "POST /opportunities p50 (ms)", "time"),
    ("register_p99_ms", "POST /opportunities p99 (ms)", "time"),
    ("register_not_201", "POST /opportunities not 201 (count)", "count"),
    ("ingest_per_s", "ingest, entries/s", "rate"),
    ("ingest_p50_ms", "ingest p50 (ms)", "time"),
    ("ingest_p99_ms", "ingest p99 (ms)", "time"),
    ("ingest_not_201", "ingest not 201 (count)", "count"),
)


def table(results: dict[str, list[dict]], labels: dict[str, str]) -> list[str]:
    base, head = results["base"], results["head"]
    lines = [
        f"| measure (median of {len(head)} rounds) | base {labels['base']} | head "
        f"{labels['head']} | head ÷ base |",
        "|---|---|---|---|",
    ]
    for key, text, _ in ROWS:
        b = statistics.median(r[key] for r in base)
        h = statistics.median(r[key] for r in head)
        ratio = f"{h / b:.3f}" if b else "—"
        lines.append(f"| {text} | {b:,.1f} | {h:,.1f} | {ratio} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="the earlier commit (e.g. 450a98a)")
    parser.add_argument("--base-dir", default="/tmp/bpc-bench-base", help="its worktree")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30, help="seconds per load (30)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--python-client", action="store_true")
    parser.add_argument("--start-timeout", type=float, default=120)
    parser.add_argument("--quick", action="store_true", help="one round of 8 s, 6 clients")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.clients = 1, 8, 6
    signal.signal(signal.SIGTERM, on_sigterm)
    base_tree, base_rev = worktree(args.base, Path(args.base_dir))
    head_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    labels = {"base": base_rev, "head": head_rev + (" (+ changes)" if dirty else "")}
    trees = {"base": base_tree, "head": ROOT}
    results: dict[str, list[dict]] = {"base": [], "head": []}
    began = time.monotonic()
    say(f"bench_ryw: {args.rounds} rounds × (base {labels['base']}, head {labels['head']}); "
        f"{args.clients} clients, {args.duration:g} s per load")  # fmt: skip
    for n in range(args.rounds):
        for which in ("base", "head"):
            say(f"· round {n + 1}/{args.rounds}, {which} ({time.monotonic() - began:.0f} s)")
            results[which].append(measure(trees[which], which, args))
    say("")
    for line in table(results, labels):
        say(line)
    say(f"· whole run: {time.monotonic() - began:.0f} s")
    write_json(args.json, {"bench": "ryw", "labels": labels, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
