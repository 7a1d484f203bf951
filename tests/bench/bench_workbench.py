"""The workbench (``GET /api/v1/workbench``) under 20 concurrent users, on PostgreSQL, on the
demo data (issue 6).

    .venv/bin/python tests/bench/bench_workbench.py            # full demo size (long: the fill)
    .venv/bin/python tests/bench/bench_workbench.py --small    # the small demo, in a minute

Goal (issue 6): p95 under 150 ms with 20 concurrent users on the demo-scale data (2,000 users,
100,000 customers, 200,000 opportunities, 2,000,000 entries).

It starts the whole BPC as the README says (``python -m ops.cli run``) on a fresh RabbitMQ
vhost and fresh PostgreSQL databases, fills it with ``bpc demo`` (the same command a user runs,
progress shown), logs in ``--users`` demo users of every level that has a workbench of its own
(salespeople, supervisors, managers), each on a keep-alive connection of its own, for
``--seconds`` twice: first as people use it (each opens the workbench, reads it for ``--think``
seconds on average, and opens it again: the load the goal is judged at), then with no reading
time at all (each opens it again the moment it arrives: what the machine can serve). For each:
p50, p95, p99, requests per second, and any answer other than 200 or with a section
``unavailable``. Everything it created is removed.
``--keep FILE`` keeps the filled databases and writes their addresses to FILE; ``--reuse FILE``
runs on them again without filling (the full fill takes most of a quarter of an hour). Not a
pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.bench_ingest import Bench, Http, login, pct  # noqa: E402
from tests.bench.benchkit import on_sigterm, say, write_json  # noqa: E402

GOAL_P95_MS = 150.0
PASSWORD = "Demo-2026!"


def fill(env, small: bool) -> float:
    """Run ``bpc demo`` against the running BPC, its progress passed through; seconds taken."""
    command = [sys.executable, "-m", "ops.cli", "demo"] + (["--small"] if small else [])
    environ = {**os.environ, "BPC_AMQP_URI": env.amqp_uri,
               "BPC_ADMIN_PASSWORD": env.admin_password}  # fmt: skip
    began = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=environ, check=True)
    return time.monotonic() - began


def logins(count: int) -> list[str]:
    """Mostly salespeople, some supervisors and managers, as a working morning has them."""
    people = [f"demo_rep{n}" for n in range(count)]
    for n, key in enumerate(("demo_supr0b0d0t0", "demo_supr0b0d0t1", "demo_dmr0b0d0")):
        if n * 6 < count:
            people[n * 6] = key
    return people


def hammer(
    port: int, tokens: list[str], seconds: float, think: float = 0.0
) -> tuple[list[float], dict, int]:
    """Each user opens the workbench, reads it for ``think`` seconds on average (uniformly
    between half and one and a half times that; 0: opens it again at once), and again."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    degraded = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user(token: str) -> None:
        http = Http(port, token)
        mine, codes, partial = [], {}, 0
        rng = random.Random(token)
        if think:
            time.sleep(rng.uniform(0, think))  # users arrive spread out, not in step
        while time.monotonic() < deadline:
            began = time.perf_counter()
            status, body = http.call("GET", "/api/v1/workbench")
            mine.append((time.perf_counter() - began) * 1000)
            codes[status] = codes.get(status, 0) + 1
            if status == 200 and body.get("unavailable"):
                partial += 1
            if think:
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))
        http.close()
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n
            degraded[0] += partial

    threads = [threading.Thread(target=user, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), statuses, degraded[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="the small demo instead")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument(
        "--think", type=float, default=2.0,
        help="seconds a user reads the workbench before opening it again (mean; the goal is "
        "judged at this load, the capacity is shown with none)",
    )  # fmt: skip
    parser.add_argument("--start-timeout", type=float, default=120)
    parser.add_argument("--keep", metavar="FILE", help="keep the databases, listed in FILE")
    parser.add_argument("--reuse", metavar="FILE", help="the databases kept with --keep FILE")
    parser.add_argument("--set", action="append", default=[], metavar="BPC_NAME=VALUE")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    args.reuse = json.loads(Path(args.reuse).read_text()) if args.reuse else {}
    bench = Bench(args)
    out = {"bench": "workbench", "small": args.small, "users": args.users,
           "seconds": args.seconds, "think": args.think, "phases": {}}  # fmt: skip
    try:
        bench.start()
        env = bench.env
        if args.keep:
            Path(args.keep).write_text(json.dumps(env.pg_urls, indent=1))
        if args.reuse:
            say(f"· on the databases of {sorted(set(args.reuse.values()))} (no fill)")
        else:
            say(f"· filling with bpc demo{' --small' if args.small else ''}")
            filled_in = fill(env, args.small)
            say(f"  filled in {filled_in:.0f} s")
            out["fill_s"] = filled_in
        port = env.gateway_port
        tokens = [login(port, name, PASSWORD) for name in logins(args.users)]
        say(f"· {len(tokens)} users logged in; warming up {args.warmup:.0f} s")
        hammer(port, tokens, args.warmup)
        verdict = "PASS"
        for label, think in (
            (f"read it for {args.think:.1f} s on average, then open it again", args.think),
            ("open it again at once (no reading time: the capacity)", 0.0),
        ):
            say(f"· {len(tokens)} users open the workbench, {label}, for {args.seconds:.0f} s")
            latencies, statuses, degraded = hammer(port, tokens, args.seconds, think)
            p50, p95, p99 = (pct(latencies, q) for q in (0.5, 0.95, 0.99))
            judged = think == args.think
            ok = p95 < GOAL_P95_MS and set(statuses) == {200}
            if judged and not ok:
                verdict = "FAIL"
            goal = f"(goal p95 < {GOAL_P95_MS:.0f} ms: {'PASS' if ok else 'FAIL'})"
            say(f"  requests {len(latencies):,} ({len(latencies) / args.seconds:.1f}/s): "
                f"p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  "
                f"{goal if judged else '(not judged)'}")  # fmt: skip
            say(f"  statuses {statuses}; answers with a section unavailable: {degraded}")
            out["phases"]["think" if judged else "back_to_back"] = {
                "requests": len(latencies),
                "per_s": len(latencies) / args.seconds,
                "p50_ms": p50,
                "p95_ms": p95,
                "p99_ms": p99,
                "statuses": statuses,
                "degraded": degraded,
                "passed": ok,
            }
        rss_rows = bench.rss()
        for label, pid, rss in rss_rows:
            say(f"  RSS {label} (pid {pid}): {rss:.0f} MB")
        out["rss_mb"] = {label: rss for label, _, rss in rss_rows}
        out["passed"] = verdict == "PASS"
        write_json(args.json, out)
        return 0 if verdict == "PASS" else 1
    finally:
        bench.stop(bool(args.keep))


if __name__ == "__main__":
    sys.exit(main())
