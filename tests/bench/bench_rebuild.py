"""Scoring rebuild benchmark on PostgreSQL: ``bpc rebuild-scoring`` replaying 1,000,000 entries.

    .venv/bin/python tests/bench/bench_rebuild.py                    # 1,000,000 entries
    .venv/bin/python tests/bench/bench_rebuild.py --quick            # 20,000: a dry run
    .venv/bin/python tests/bench/bench_rebuild.py --profile          # + py-spy of CLI, worklog

Goal (issue acceptance): a rebuild replays 1,000,000 entries at ≥ 20,000 entries/s.

It starts the worklog, opportunity and scoring services (``python -m ops.runner <name>``)
on a fresh RabbitMQ vhost with the topology declared, each on a fresh PostgreSQL database
(they migrate them at start-up). Then it fills the worklog's ``worklog_entries`` straight
with COPY (the append-only triggers allow INSERT): ``--entries`` entries over ``--authors``
salespeople and the 365 days up to yesterday, each author's entries a valid hash chain
(``prev_hash``/``hash`` from ``services.worklog.domain.chain_hash`` over exactly what
``services/worklog/shapes.py`` ``hashed_fields`` covers), and the authors in the worklog's
``people`` projection; VACUUM ANALYZE. It times ``python -m ops.cli rebuild-scoring``
(wall time of the whole command, start-up included, also split into start-up, the replay of
the entries and what follows; its progress is shown every few seconds and its final line
kept), then checks through scoring's ``totals`` RPC (as a level-9 actor)
that entries == N, and the sum of ``daily.entries`` in scoring's database, and one author's
chain through worklog's ``verify`` RPC.

Where the time goes: the CPU seconds of the CLI, the worklog service and the PostgreSQL
server during the rebuild are always reported. ``--profile`` also runs the CLI under
``py-spy record`` and samples the worklog service with py-spy at the same time, and prints
the functions with the most samples (self and inclusive); the raw files are kept in
``--profile-dir``.

Everything it created (processes, vhost, databases, temporary dir) is removed, also on
failure or Ctrl-C (``--keep`` keeps the databases and the logs).

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402
import eventlet.hubs  # noqa: E402
import greenlet  # noqa: E402

# nameko's standalone RPC proxy runs on eventlet; psycopg2 stays blocking (COPY needs that)
eventlet.monkey_patch(psycopg=False)

import argparse  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from services.worklog.domain import chain_hash  # noqa: E402
from tests.bench.benchkit import (  # noqa: E402
    Interrupted,
    cpu_seconds,
    free_metrics_offset,
    py_spy,
    say,
    server_pids,
    summarize_raw,
    write_json,
)
from tests.support import (  # noqa: E402
    Environment,
    ServiceProcess,
    create_pg_database,
    create_vhost,
    declare_topology,
    delete_vhost,
    drop_pg_database,
    free_port,
)

GOAL_RATE = 20_000.0  # entries/s
NEEDED = ("worklog", "opportunity", "scoring")
COPY_CHUNK = 50_000
DAYS = 365
CHAIR, SUPERVISOR = "1", "2"
FIRST_AUTHOR = 1000  # author ids 1000, 1001, …
# (activities, points) as the default catalog has them (call 1, visit 3, revisit 2, meeting 0.5)
ACTIVITY_SETS = (
    (["call"], 1.0),
    (["visit"], 3.0),
    (["call", "visit"], 4.0),
    (["revisit"], 2.0),
    (["visit", "meeting"], 3.5),
)
COLUMNS = (
    "author_id",
    "work_date",
    "recorded_at",
    "late",
    "customer_id",
    "opportunity_id",
    "stage",
    "activities",
    "points",
    "minutes",
    "expense_fen",
    "note",
    "next_appointment_at",
    "difficulty",
    "prev_hash",
    "hash",
)


_MAIN = greenlet.getcurrent()


def _on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
    """SIGINT/SIGTERM → Interrupted in the main greenlet, whichever greenlet (the eventlet hub,
    the CPU sampler) the signal happens to land in."""
    if greenlet.getcurrent() is _MAIN:
        raise Interrupted()
    eventlet.hubs.get_hub().schedule_call_global(0, _MAIN.throw, Interrupted())


def postgres_cpu() -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in server_pids()}


def descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parent_of.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class CpuSampler:
    """CPU seconds per group of processes from now on. The processes are sampled every 0.5 s,
    so a process that exits (the CLI, its PostgreSQL backend) still counts up to its last
    sample. ``groups``: name → a function giving that group's pids now."""

    def __init__(self, groups):
        self.groups = groups
        self.before = {name: self._read(pids()) for name, pids in groups.items()}
        self.latest = {name: dict(seen) for name, seen in self.before.items()}
        self.running = True
        self.thread = eventlet.spawn(self._sample)

    @staticmethod
    def _read(pids) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in pids}

    def _update(self) -> None:
        for name, pids in self.groups.items():
            for pid, seconds in self._read(pids()).items():
                if seconds:
                    self.latest[name][pid] = seconds

    def _sample(self) -> None:
        while self.running:
            self._update()
            eventlet.sleep(0.5)

    def stop(self) -> dict[str, float]:
        self.running = False
        self._update()
        self.thread.kill()
        return {
            name: sum(t - self.before[name].get(pid, 0.0) for pid, t in seen.items())
            for name, seen in self.latest.items()
        }


# --------------------------------------------------------------------------- the entries


class Filler:
    """Generates the log in id order: entry k is author ``k % authors``'s (k // authors)-th,
    so each author's chain runs in id order, over the 365 days up to yesterday."""

    def __init__(self, total: int, authors: int, today: date):
        self.total, self.authors = total, authors
        self.per_author = math.ceil(total / authors)
        self.first_day = today - timedelta(days=DAYS)
        self.heads: dict[str, str] = {}  # author → hash of their last entry
        self.minutes = 0
        self.days: set[tuple[str, date]] = set()

    def rows(self, first: int, count: int) -> str:
        lines = []
        append = lines.append
        heads = self.heads
        for k in range(first, first + count):
            author = str(FIRST_AUTHOR + k % self.authors)
            nth = k // self.authors
            work_date = self.first_day + timedelta(days=nth * DAYS // self.per_author)
            recorded_at = datetime(
                work_date.year, work_date.month, work_date.day, 9, 0, tzinfo=UTC
            ) + timedelta(minutes=37 * (nth % 20), seconds=k % 60, microseconds=k % 997)
            activities, points = ACTIVITY_SETS[k % len(ACTIVITY_SETS)]
            minutes = 15 + (k * 7919) % 106  # ≤ 120: a day of ≤ 2 entries stays far below 1,440
            customer_id = 1 + (k * 31) % 50_000
            recorded = recorded_at.isoformat()
            day = work_date.isoformat()
            prev = heads.get(author, "")
            # exactly what shapes.hashed_fields covers, as it reads from a stored row
            digest = chain_hash(
                prev or None,
                {
                    "author_id": author,
                    "work_date": day,
                    "recorded_at": recorded,
                    "late": False,
                    "customer_id": customer_id,
                    "opportunity_id": None,
                    "stage": None,
                    "activities": activities,
                    "minutes": minutes,
                    "expense_fen": 0,
                    "note": None,
                    "next_appointment_at": None,
                    "difficulty": None,
                },
            )
            heads[author] = digest
            self.minutes += minutes
            self.days.add((author, work_date))
            acts = "[" + ",".join(f'"{a}"' for a in activities) + "]"
            append(
                f"{author}\t{day}\t{recorded}\tf\t{customer_id}\t\\N\t\\N\t{acts}\t{points}\t"
                f"{minutes}\t0\t\\N\t\\N\t\\N\t{prev}\t{digest}"
            )
        return "\n".join(lines) + "\n"


def fill_worklog(url: str, total: int, authors: int, today: date) -> Filler:
    filler = Filler(total, authors, today)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            people = [(CHAIR, "董事长 Bench Chair", 9, f"/{CHAIR}/")]
            people.append((SUPERVISOR, "主管 Bench Supervisor", 5, f"/{CHAIR}/{SUPERVISOR}/"))
            people += [
                (str(FIRST_AUTHOR + a), f"销售 Bench {a}", 2,
                 f"/{CHAIR}/{SUPERVISOR}/{FIRST_AUTHOR + a}/")
                for a in range(authors)
            ]  # fmt: skip
            cur.executemany(
                "INSERT INTO people (user_id, name, level, path, active) "
                "VALUES (%s, %s, %s, %s, true) ON CONFLICT (user_id) DO NOTHING",
                people,
            )
            say(f"  people projection: {len(people):,} rows")
            done, started = 0, time.monotonic()
            columns = ", ".join(COLUMNS)
            while done < total:
                n = min(COPY_CHUNK, total - done)
                data = filler.rows(done, n)
                cur.copy_expert(f"COPY worklog_entries ({columns}) FROM STDIN", io.StringIO(data))
                done += n
                elapsed = time.monotonic() - started
                if done == total or done % (COPY_CHUNK * 4) == 0:
                    say(
                        f"  COPY worklog_entries: {done:>9,} / {total:,} "
                        f"({done / elapsed:,.0f} rows/s, hashing included)"
                    )
            started = time.monotonic()
            cur.execute("VACUUM (ANALYZE) worklog_entries")
            cur.execute("ANALYZE people")
            say(f"  VACUUM ANALYZE: {time.monotonic() - started:.1f} s")
            cur.execute("SELECT count(*), pg_size_pretty(pg_total_relation_size('worklog_entries'))"
                        " FROM worklog_entries")  # fmt: skip
            count, size = cur.fetchone()
            if count != total:
                raise RuntimeError(f"worklog_entries holds {count:,} rows, not {total:,}")
            say(f"  worklog_entries: {count:,} rows, {size}")
    finally:
        conn.close()
    return filler


# --------------------------------------------------------------------------- py-spy


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bpc-bench-rebuild-"))
        self.env = Environment(backend="postgresql", data_dir=self.tmp)
        self.services: dict[str, ServiceProcess] = {}
        self.proxy_cm = None
        self.proxy = None
        self.children: list[subprocess.Popen] = []

    def start(self) -> None:
        env = self.env
        env.vhost = create_vhost("bpc_bench_rebuild")
        say(f"· vhost {env.vhost}, temporary dir {self.tmp}")
        for service in NEEDED:
            env.pg_urls[service] = create_pg_database(f"bpc_bench_rebuild_{service}")
            say(f"· database {env.pg_urls[service]}")
        env.gateway_port = free_port()
        env.metrics_offset = free_metrics_offset()
        env.extra = {"BPC_LOG_LEVEL": os.environ.get("BPC_LOG_LEVEL", "WARNING")}
        declare_topology(env)
        say("· topology declared (exchanges and queues of every service)")
        started = time.monotonic()
        for name in NEEDED:
            self.services[name] = ServiceProcess(env, name).start()
        for name in NEEDED:
            self.services[name].wait_ready(timeout=self.args.start_timeout)
        say(f"· {', '.join(NEEDED)} ready after {time.monotonic() - started:.1f} s (migrated)")

        from nameko.standalone.rpc import ClusterRpcProxy

        from common.actor import Actor

        actor = Actor(id=CHAIR, level=9, path=[CHAIR], name="Bench Chair")
        self.proxy_cm = ClusterRpcProxy(
            env.nameko_config(),
            context_data={"bpc_actor": actor.to_header()},
            timeout=self.args.rpc_timeout,
        )
        self.proxy = self.proxy_cm.start()

    def today(self) -> date:
        """The organisation's today, as the services see it."""
        from common import clock

        return clock.today()

    def rebuild(self) -> dict:
        """Run ``python -m ops.cli rebuild-scoring`` (under py-spy with --profile)."""
        args, env = self.args, self.env
        cmd = [sys.executable, "-m", "ops.cli", "rebuild-scoring"]
        if args.page:
            cmd += ["--page", str(args.page)]
        spy = py_spy() if args.profile else ""
        if args.profile and not spy:
            raise RuntimeError("--profile needs py-spy (pip install py-spy)")
        profile_dir = Path(args.profile_dir)
        worklog_spy = None
        if spy:
            profile_dir.mkdir(parents=True, exist_ok=True)
            cmd = [
                spy, "record", "--nonblocking", "-r", "100", "-f", "raw",
                "-o", str(profile_dir / "cli.txt"), "--", *cmd,
            ]  # fmt: skip
            worklog_spy = subprocess.Popen(
                [
                    spy, "record", "--nonblocking", "-r", "100", "-f", "raw",
                    "-o", str(profile_dir / "worklog.txt"),
                    "--pid", str(self.services["worklog"].proc.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.children.append(worklog_spy)
        say(f"→ {' '.join(Path(c).name if c == sys.executable else c for c in cmd)}")
        worklog_pid = self.services["worklog"].proc.pid
        scoring_pid = self.services["scoring"].proc.pid
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env.vars(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.children.append(proc)
        sampler = CpuSampler(
            {
                "cli": lambda: [p for p in descendants(proc.pid) if comm(p) != "py-spy"],
                "worklog": lambda: [worklog_pid],
                "scoring": lambda: [scoring_pid],
                "postgres": server_pids,
            }
        )
        buffer, last, shown = "", "", time.monotonic()
        marks: dict[str, float] = {}  # seconds after the start: first page, last entry page
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk.decode(errors="replace")
            *lines, buffer = buffer.replace("\r", "\n").split("\n")
            for line in lines:
                if "rebuilding" in line:
                    last = line.strip()
                    now = time.monotonic() - started
                    marks.setdefault("first page", now)
                    counted = re.search(r"([\d,]+) entries", line)
                    if counted and int(counted.group(1).replace(",", "")) >= self.args.entries:
                        marks.setdefault("last entry page", now)
                elif line.strip():
                    say(f"  | {line.strip()}")  # anything but progress (errors, py-spy's notes)
            if last and time.monotonic() - shown >= args.progress_every:
                say(f"  {time.monotonic() - started:6.1f} s  {last}")
                shown = time.monotonic()
        if "rebuilding" in buffer:
            last = buffer.strip()
        code = proc.wait()
        wall = time.monotonic() - started
        cpu = sampler.stop()
        if worklog_spy is not None:
            worklog_spy.send_signal(signal.SIGINT)
            try:
                worklog_spy.wait(30)
            except subprocess.TimeoutExpired:
                worklog_spy.kill()
        if code != 0:
            raise RuntimeError(f"rebuild-scoring exited {code}; last line: {last}")
        say(f"  final line: {last}")
        return {"wall": wall, "last": last, "cpu": cpu, "profiled": bool(spy), "marks": marks}

    def check(self, total: int, filler: Filler) -> dict:
        started = time.monotonic()
        totals = self.proxy.scoring.totals()
        rpc_seconds = time.monotonic() - started
        conn = psycopg2.connect(self.env.pg_urls["scoring"])
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT coalesce(sum(entries), 0), coalesce(sum(minutes), 0), "
                            "count(*) FROM daily")  # fmt: skip
                daily_entries, daily_minutes, daily_rows = cur.fetchone()
        finally:
            conn.close()
        author = str(FIRST_AUTHOR)
        chain = self.proxy.worklog.verify(author_id=author)
        return {
            "rpc_entries": totals["entries"],
            "rpc_daily_rows": len(totals["daily"]),
            "rpc_seconds": rpc_seconds,
            "daily_entries": int(daily_entries),
            "daily_minutes": int(daily_minutes),
            "daily_rows": daily_rows,
            "expected_minutes": filler.minutes,
            "expected_days": len(filler.days),
            "chain": chain,
        }

    def stop(self, keep: bool) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        if self.proxy_cm is not None:
            try:
                self.proxy_cm.stop()
            except Exception as exc:  # noqa: BLE001 - best effort while cleaning up
                say(f"  could not close the RPC proxy: {exc}")
        for name, service in self.services.items():
            say(f"· stopping {name}")
            service.stop()
        if self.env.vhost:
            delete_vhost(self.env.vhost)
            say(f"· deleted vhost {self.env.vhost}")
        if keep:
            say(f"· kept the databases {sorted(self.env.pg_urls.values())} and {self.tmp}")
            return
        for url in self.env.pg_urls.values():
            try:
                drop_pg_database(url)
                say(f"· dropped database {url.rsplit('/', 1)[1]}")
            except psycopg2.Error as exc:
                say(f"  could not drop {url}: {exc}")
        shutil.rmtree(self.tmp, ignore_errors=True)


def report(total: int, run: dict, checks: dict, args, pg_version: str) -> bool:
    rate = total / run["wall"]
    ok = rate >= GOAL_RATE and checks["rpc_entries"] == total
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say("")
    say(
        f"=== scoring rebuild: {total:,} entries of {args.authors:,} authors over {DAYS} days, "
        f"page {args.page or 'default'}, PostgreSQL {pg_version}, {os.cpu_count()} CPUs, "
        f"load average {load}{', under py-spy' if run['profiled'] else ''} ==="
    )

    def row(label: str, value: str, goal: str = "", result: str = "") -> None:
        say(f"{label:<46}{value:>16}   {goal:<18}{result}".rstrip())

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    row("measure", "value", "goal", "result")
    row("rebuild-scoring wall time (s)", f"{run['wall']:.1f}")
    marks = run["marks"]
    if "first page" in marks and "last entry page" in marks:
        first, done = marks["first page"], marks["last entry page"]
        row("  start-up until the first page is stored", f"{first:.1f}")
        row("  replaying the entries (first → last page)", f"{done - first:.1f}")
        row("  after the last entry page (history, days)", f"{run['wall'] - done:.1f}")
    at = f" (at {total:,})" if total != 1_000_000 else ""
    row("entries/s (N ÷ wall time)", f"{rate:,.0f}", f"≥ {GOAL_RATE:,.0f}",
        verdict(rate >= GOAL_RATE) + at)  # fmt: skip
    row("scoring totals RPC: entries", f"{checks['rpc_entries']:,}", f"= {total:,}",
        verdict(checks["rpc_entries"] == total))  # fmt: skip
    row("  its answer: daily rows / seconds",
        f"{checks['rpc_daily_rows']:,} / {checks['rpc_seconds']:.1f}")  # fmt: skip
    row("scoring daily: sum(entries)", f"{checks['daily_entries']:,}", f"= {total:,}",
        verdict(checks["daily_entries"] == total))  # fmt: skip
    expected = checks["expected_minutes"]
    row("scoring daily: sum(minutes)", f"{checks['daily_minutes']:,}", f"= {expected:,}",
        verdict(checks["daily_minutes"] == expected))  # fmt: skip
    days = checks["expected_days"]
    row("scoring daily: (user, day) rows", f"{checks['daily_rows']:,}", f"= {days:,}",
        verdict(checks["daily_rows"] == days))  # fmt: skip
    chain = checks["chain"]
    row(f"worklog verify, author {chain['author_id']}",
        f"{chain['entries']:,} entries", "valid", verdict(chain["valid"]))  # fmt: skip
    say(f"CLI final line: {run['last']}")
    cpu = run["cpu"]
    say(
        f"CPU seconds during the rebuild: CLI {cpu['cli']:.1f}, worklog service "
        f"{cpu['worklog']:.1f}, scoring service {cpu['scoring']:.1f}, PostgreSQL "
        f"{cpu['postgres']:.1f} (wall {run['wall']:.1f} s, {os.cpu_count()} CPUs)"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries (1,000,000)")
    parser.add_argument("--authors", type=int, default=2000, help="authors (2,000)")
    parser.add_argument(
        "--page", type=int, default=None, help="rebuild-scoring --page (default: the CLI's)"
    )
    parser.add_argument("--quick", action="store_true", help="a dry run: 20,000 entries")
    parser.add_argument("--profile", action="store_true", help="py-spy the CLI and worklog")
    parser.add_argument("--profile-dir", default="/tmp/bpc-bench-rebuild-profile")
    parser.add_argument("--progress-every", type=float, default=10.0, help="seconds (10)")
    parser.add_argument("--rpc-timeout", type=float, default=600)
    parser.add_argument("--start-timeout", type=float, default=90)
    parser.add_argument("--keep", action="store_true", help="keep the databases and the logs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.authors = min(args.entries, 20_000), min(args.authors, 200)
    if args.entries < 1 or args.authors < 1:
        parser.error("--entries and --authors must be at least 1")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    logging.getLogger("amqp").setLevel(logging.ERROR)
    began = time.monotonic()
    bench = Bench(args)
    failed, passed = True, False
    try:
        bench.start()
        url = bench.env.pg_urls["worklog"]
        say(f"→ filling worklog_entries: {args.entries:,} entries, {args.authors:,} authors")
        filler = fill_worklog(url, args.entries, args.authors, bench.today())
        run = bench.rebuild()
        checks = bench.check(args.entries, filler)
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            pg_version = cur.fetchone()[0].split()[0]
        conn.close()
        passed = report(args.entries, run, checks, args, pg_version)
        write_json(
            args.json,
            {
                "bench": "rebuild",
                "entries": args.entries,
                "authors": args.authors,
                "wall_s": run["wall"],
                "entries_per_s": args.entries / run["wall"],
                "rebuilt_entries": checks["rpc_entries"],
                "chain_valid": bool(checks["chain"]["valid"]),
                "cpu_s": run["cpu"],
                "passed": passed,
            },
        )
        if run["profiled"]:
            for name in ("cli", "worklog"):
                path = Path(args.profile_dir) / f"{name}.txt"
                say("")
                say(f"py-spy, {name} ({path}):")
                for line in summarize_raw(path):
                    say(line)
        failed = False
    except KeyboardInterrupt:
        say("!! interrupted")
    except Exception as exc:  # noqa: BLE001 - report any failure, then clean up
        say(f"!! benchmark failed: {type(exc).__name__}: {exc}")
        for name, service in bench.services.items():
            say(f"   {name} log tail:\n{service.tail(15)}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        bench.stop(keep=args.keep)
        say(f"· whole run: {time.monotonic() - began:.0f} s")
    if failed:
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
