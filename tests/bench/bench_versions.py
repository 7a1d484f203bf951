"""Two versions of BPC measured in one run: a benchmark run alternately against an older
checkout and this one, its figures' medians side by side with their ratio.

    git worktree add /tmp/bpc-old <commit>
    .venv/bin/python tests/bench/bench_versions.py --old /tmp/bpc-old                  # both
    .venv/bin/python tests/bench/bench_versions.py --old /tmp/bpc-old --only gateway --rounds 3

Each round runs, for the old checkout and then this one (the order alternating from round to
round, so that neither always meets the warmer machine), this checkout's ``bench_gateway.py``
(``GET /api/v1/me`` and the bare-Nameko ceiling) and ``bench_ingest.py`` (work-log entries on
PostgreSQL) with ``--root`` set to the checkout measured and ``--json``. The benchmarks start
that checkout's BPC (``bpc run``); the load, the ceiling and the measuring are the same code for
both. Printed at the end, per figure: the median of each version, new ÷ old, and the figures'
ratios to the ceiling measured in the same round.

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# figure → (bench, how to read it from the bench's JSON, unit)
FIGURES = {
    "/me req/s": ("gateway", lambda r: r["me"]["rps"], "req/s"),
    "/me p50 ms": ("gateway", lambda r: r["me"]["p50_ms"], "ms"),
    "gateway CPU per /me": ("gateway", lambda r: r["me"]["gateway_cpu_ms"], "ms"),
    "/me ÷ ceiling": ("gateway", lambda r: r["me"]["rps"] / r["ceiling"]["rps"], ""),
    "ceiling req/s": ("gateway", lambda r: r["ceiling"]["rps"], "req/s"),
    "entries/s": ("ingest", lambda r: r["entries_per_s"], "/s"),
    "entry p50 ms": ("ingest", lambda r: r["p50_ms"], "ms"),
    "gateway CPU per entry": (
        "ingest",
        lambda r: 1000 * r["cpu_s"].get("gateway", 0.0) / max(1, r["entries"]),
        "ms",
    ),
    "busy (BPC+servers)": ("ingest", lambda r: 100 * r["bpc_busy"], "%"),
    "busy (/proc/stat)": ("ingest", lambda r: 100 * r["machine_busy"], "%"),
}


def say(text: str) -> None:
    print(text, flush=True)


def run(bench: str, root: Path, args, out: Path) -> dict | None:
    cmd = [sys.executable, str(HERE / f"bench_{bench}.py"), "--root", str(root), "--json", str(out)]
    if bench == "gateway":
        cmd += ["--targets", "me,ceiling", "--duration", str(args.gateway_seconds)]
    else:
        cmd += ["--duration", str(args.ingest_seconds)]
    began = time.monotonic()
    say(f"· {bench} on {root} …")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-14:]
    for line in tail:
        say(f"    {line}")
    say(f"  ({time.monotonic() - began:.0f} s, exit {done.returncode})")
    if not out.exists():
        say(done.stderr[-2000:])
        return None
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", required=True, help="the older checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="gateway,ingest")
    parser.add_argument("--gateway-seconds", type=float, default=15)
    parser.add_argument("--ingest-seconds", type=float, default=30)
    args = parser.parse_args()
    versions = {"old": Path(args.old).resolve(), "new": ROOT}
    benches = [b.strip() for b in args.only.split(",") if b.strip()]
    found: dict[str, dict[str, list[float]]] = {v: {} for v in versions}
    scratch = Path(tempfile.mkdtemp(prefix="bpc-bench-versions-"))
    for round_no in range(args.rounds):
        order = list(versions) if round_no % 2 == 0 else list(reversed(versions))
        say(f"=== round {round_no + 1} of {args.rounds}: {' then '.join(order)} ===")
        for bench in benches:
            for version in order:
                out = scratch / f"{bench}-{version}-{round_no}.json"
                result = run(bench, versions[version], args, out)
                if result is None:
                    continue
                for name, (source, read, _) in FIGURES.items():
                    if source == bench:
                        try:
                            value = read(result)
                        except (KeyError, TypeError, ZeroDivisionError):
                            continue
                        if value is not None:
                            found[version].setdefault(name, []).append(value)
    say("")
    say(f"=== medians of {args.rounds} rounds: old {versions['old']} · new {ROOT} ===")
    say(f"{'figure':<24}{'old':>12}{'new':>12}{'new ÷ old':>12}   runs")
    for name, (_, _, unit) in FIGURES.items():
        old, new = found["old"].get(name), found["new"].get(name)
        if not old or not new:
            continue
        a, b = statistics.median(old), statistics.median(new)
        ratio = f"{b / a:.2f}" if a else "-"
        say(f"{name:<24}{a:>10.2f}{unit[:2]:>2}{b:>10.2f}{unit[:2]:>2}{ratio:>12}   "
            f"{len(old)}/{len(new)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
