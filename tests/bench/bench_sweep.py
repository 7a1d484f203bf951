"""Opportunity sweep benchmark on PostgreSQL: 1,000 overdue among 10,000 and 1,000,000 open.

    .venv/bin/python tests/bench/bench_sweep.py                        # 10,000 and 1,000,000
    .venv/bin/python tests/bench/bench_sweep.py --large-total 100000   # a quick dry run
    .venv/bin/python tests/bench/bench_sweep.py --runs 3 --no-explain

Goal (issue acceptance): the sweep takes under 1 s with 1,000,000 open opportunities, and the
1,000,000 / 10,000 time ratio is at most 1.5 (its cost grows with the due set, not the table).

It starts ONE real opportunity service (``python -m ops.runner opportunity``) on a fresh
RabbitMQ vhost and a fresh PostgreSQL database (the service migrates it at start-up and
installs the default pipeline), with ``BPC_SWEEP_INTERVAL=3600`` so its own timer stays quiet.
The topology is declared first (every exchange and queue, as ``bpc run`` does), so the outbox
relay publishes the sweep's events for real (nothing consumes them). Then, per size (small
first; the large one adds rows to the same table):

- COPY the open opportunities: ``total - 1,000`` whose stage deadline (and warning time) is
  ahead, and — once — 1,000 whose stage deadline has passed (warning already sent), all held
  by salespeople under supervisor "2" (the overdue ones by "3", path ``/1/2/3/``); VACUUM
  ANALYZE;
- one uncounted warm-up sweep, then ``--runs`` timed ``sweep`` RPCs as a level-9 actor; each
  must confiscate exactly the 1,000 (else the benchmark fails). The time is the RPC's round
  trip, client side. Between runs, outside the timing: wait for the outbox relay to publish
  the run's events, put the same 1,000 rows back to overdue-open with one UPDATE (the history
  table is append-only and keeps growing), VACUUM the table (the server runs without
  autovacuum; ``--no-vacuum`` to skip);
- EXPLAIN ANALYZE of the claim queries exactly as ``services/opportunity/sweep.py`` issues them
  (``--no-explain`` to skip).

At the end: median and every run per size, the ratio, the goals. Everything it created (the
process, the vhost, the database, the temporary dir) is removed, also on failure or Ctrl-C
(``--keep`` keeps the database and the service log for a look). ``--service-env
BPC_SWEEP_BATCH=1000`` (repeatable) passes settings to the service for experiments.

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

# nameko's standalone RPC proxy runs on eventlet; psycopg2 stays blocking (COPY needs that)
eventlet.monkey_patch(psycopg=False)

import argparse  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from tests.bench.benchkit import on_sigterm, say, write_json  # noqa: E402
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

OVERDUE = 1000
SUPERVISOR, SUPERVISOR_PATH = "2", "/1/2/"
OVERDUE_HOLDER, OVERDUE_HOLDER_PATH = "3", "/1/2/3/"
SALESPEOPLE = 100  # the not-yet-due opportunities are spread over users 3 … 102 under "2"
GOAL_SECONDS = 1.0
GOAL_RATIO = 1.5
COPY_CHUNK = 100_000
STAGES = [("contact", 0), ("needs", 1), ("demo", 2), ("quote", 3), ("negotiate", 4)]
COLUMNS = (
    "customer_id",
    "title",
    "amount_fen",
    "pipeline_id",
    "owner_id",
    "owner_path",
    "holder_id",
    "holder_path",
    "original_owner_id",
    "status",
    "stage_key",
    "stage_index",
    "stage_entered_at",
    "stage_deadline",
    "warn_at",
    "warned_at",
    "followup_deadline",
    "decision_deadline",
    "flagged",
    "feasibility_score",
    "last_followup_at",
    "loss_reason",
    "loss_analysis",
    "created_at",
    "closed_at",
    "version",
)
# how far in the past the stage deadline of overdue row k (its customer_id) lies: 1 min … 7 days;
# used by the loader (Python) and the reset (SQL) alike
OVERDUE_MINUTES_SQL = "(1 + (customer_id * 7919) %% 10080)"


def overdue_minutes(customer_id: int) -> int:
    return 1 + (customer_id * 7919) % 10080


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def _rows_text(
    pipeline_id: int, first_customer: int, count: int, now: datetime, overdue: bool
) -> str:
    """COPY text of ``count`` open opportunities, customer ids from ``first_customer``."""
    lines = []
    append = lines.append
    for customer_id in range(first_customer, first_customer + count):
        key, index = STAGES[customer_id % len(STAGES)]
        if overdue:
            holder, holder_path = OVERDUE_HOLDER, OVERDUE_HOLDER_PATH
            deadline = now - timedelta(minutes=overdue_minutes(customer_id))
            warn_at, warned_at = r"\N", _ts(deadline - timedelta(days=2))
        else:
            person = 3 + customer_id % SALESPEOPLE
            holder, holder_path = str(person), f"{SUPERVISOR_PATH}{person}/"
            # 3 … 30 days ahead, so the warning (2 days before) is ahead too
            deadline = now + timedelta(days=3, minutes=(customer_id * 7919) % (27 * 1440))
            warn_at, warned_at = _ts(deadline - timedelta(days=2)), r"\N"
        entered = deadline - timedelta(days=14)
        append(
            "\t".join(
                (
                    str(customer_id),
                    f"商机 bench {customer_id}",
                    str(100_000 + customer_id % 9_000_000),
                    str(pipeline_id),
                    holder,
                    holder_path,
                    holder,
                    holder_path,
                    r"\N",
                    "open",
                    key,
                    str(index),
                    _ts(entered),
                    _ts(deadline),
                    warn_at,
                    warned_at,
                    r"\N",
                    r"\N",
                    "f",
                    "0.75",
                    _ts(entered + timedelta(days=1)),
                    r"\N",
                    r"\N",
                    _ts(entered - timedelta(days=7)),
                    r"\N",
                    "1",
                )
            )
        )
    return "\n".join(lines) + "\n"


class Database:
    """The opportunity service's database, filled and reset behind the service's back."""

    def __init__(self, url: str):
        self.url = url
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        self.pipeline_id = self.scalar("SELECT id FROM pipelines WHERE is_default")
        self.overdue_ids: list[int] = []
        self.loaded = 0  # open opportunities loaded so far (overdue included)

    def close(self) -> None:
        self.conn.close()

    def scalar(self, sql: str, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def execute(self, sql: str, params=None) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def _copy(self, first_customer: int, count: int, overdue: bool, label: str) -> None:
        now = datetime.now(UTC)
        done, started = 0, time.monotonic()
        columns = ", ".join(COLUMNS)
        with self.conn.cursor() as cur:
            while done < count:
                n = min(COPY_CHUNK, count - done)
                data = _rows_text(self.pipeline_id, first_customer + done, n, now, overdue)
                cur.copy_expert(f"COPY opportunities ({columns}) FROM STDIN", io.StringIO(data))
                done += n
                elapsed = time.monotonic() - started
                say(
                    f"  {label}: {done:>9,} / {count:,} rows  "
                    f"({done / elapsed if elapsed else 0:,.0f} rows/s)"
                )

    def load_people(self) -> None:
        """The people projection: "1" on top, supervisor "2", salespeople 3 … 102."""
        rows = [("1", "董事长 Bench Chair", 9, "/1/"), ("2", "主管 Bench Supervisor", 5, "/1/2/")]
        rows += [
            (str(p), f"销售 Bench {p}", 2, f"{SUPERVISOR_PATH}{p}/")
            for p in range(3, 3 + SALESPEOPLE)
        ]
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO people (user_id, name, level, path, active) "
                "VALUES (%s, %s, %s, %s, true) ON CONFLICT (user_id) DO NOTHING",
                rows,
            )

    def grow_to(self, total: int) -> None:
        """COPY rows until ``total`` open opportunities exist, the 1,000 overdue first."""
        if not self.overdue_ids:
            self._copy(1, OVERDUE, True, "overdue")
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT id FROM opportunities WHERE customer_id BETWEEN 1 AND %s ORDER BY id",
                    (OVERDUE,),
                )
                self.overdue_ids = [r[0] for r in cur.fetchall()]
            if len(self.overdue_ids) != OVERDUE:
                raise RuntimeError(f"loaded {len(self.overdue_ids)} overdue rows, not {OVERDUE}")
            self.loaded = OVERDUE
        if total > self.loaded:
            self._copy(self.loaded + 1, total - self.loaded, False, "not due")
            self.loaded = total
        started = time.monotonic()
        self.execute("VACUUM (ANALYZE) opportunities")
        self.execute("ANALYZE")
        say(f"  VACUUM ANALYZE: {time.monotonic() - started:.1f} s")

    def counts(self) -> dict[str, int]:
        with self.conn.cursor() as cur:
            cur.execute(
                """
                SELECT
                  count(*) FILTER (WHERE status IN ('open', 'loss_pending')),
                  count(*) FILTER (WHERE status IN ('open', 'loss_pending')
                                   AND (stage_deadline < now() OR followup_deadline < now())),
                  count(*) FILTER (WHERE status = 'confiscated')
                FROM opportunities
                """
            )
            open_, overdue, confiscated = cur.fetchone()
        return {"open": open_, "overdue": overdue, "confiscated": confiscated}

    def overdue_now(self) -> int:
        """Rows the sweep would confiscate now (both claim ranges, via their indexes)."""
        return self.scalar(
            "SELECT count(*) FROM opportunities WHERE status IN ('open', 'loss_pending') "
            "AND (stage_deadline < now() OR followup_deadline < now())"
        )

    def reset_overdue(self) -> int:
        """Put the same 1,000 back to overdue and open, as before the first sweep."""
        return self.execute(
            f"""
            UPDATE opportunities SET
              status = 'open',
              holder_id = %s,
              holder_path = %s,
              original_owner_id = NULL,
              stage_deadline = now() - {OVERDUE_MINUTES_SQL} * interval '1 minute',
              warned_at = now() - {OVERDUE_MINUTES_SQL} * interval '1 minute'
                          - interval '2 days',
              warn_at = NULL,
              followup_deadline = NULL,
              decision_deadline = NULL,
              flagged = false
            WHERE id = ANY(%s)
            """,
            (OVERDUE_HOLDER, OVERDUE_HOLDER_PATH, self.overdue_ids),
        )

    def unpublished(self) -> int:
        return self.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    def wait_outbox_drained(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while self.unpublished():
            if time.monotonic() - started > timeout:
                raise RuntimeError(
                    f"the outbox relay left {self.unpublished()} events unpublished "
                    f"for {timeout:.0f} s"
                )
            time.sleep(0.1)
        return time.monotonic() - started

    def history_rows(self) -> int:
        return self.scalar("SELECT count(*) FROM opportunity_history")


def explain_claims(url: str) -> None:
    """EXPLAIN ANALYZE the SQL that sweep.py's claims issue (in a transaction rolled back)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from common import clock
    from common.db import make_engine
    from services.opportunity import sweep
    from services.opportunity.models import ON_THE_CLOCK, Opportunity

    engine = make_engine(url)
    captured: list[tuple[str, str, object]] = []
    label = [""]

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        if statement.lstrip().upper().startswith("SELECT") and "opportunities" in statement:
            captured.append((label[0], statement, parameters))

    try:
        with Session(engine) as session:
            now = clock.now()
            for name, call in (
                ("claim_overdue (stage_deadline)", lambda: sweep.claim_overdue(session, now, 200)),
                (
                    "claim_overdue (followup_deadline)",
                    lambda: sweep._claim(
                        session, ON_THE_CLOCK, (Opportunity.followup_deadline,), now, 200
                    ),
                ),
                ("claim_due_warnings", lambda: sweep.claim_due_warnings(session, now, 200)),
                (
                    "claim_overdue_decisions",
                    lambda: sweep.claim_overdue_decisions(session, now, 200),
                ),
            ):
                label[0] = name
                call()
            event.remove(engine, "before_cursor_execute", _capture)
            raw = session.connection().connection.dbapi_connection
            with raw.cursor() as cur:
                for name, statement, parameters in captured:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                    plan = "\n".join("    " + r[0] for r in cur.fetchall())
                    say(f"  -- {name}\n{plan}")
            session.rollback()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the service


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bpc-bench-sweep-"))
        self.env: Environment | None = None
        self.service: ServiceProcess | None = None
        self.db: Database | None = None
        self.proxy_cm = None
        self.proxy = None

    def start(self) -> None:
        vhost = create_vhost("bpc_bench_sweep")
        self.env = Environment(backend="postgresql", vhost=vhost, data_dir=self.tmp)
        say(f"· vhost {vhost}")
        url = create_pg_database("bpc_bench_sweep")
        self.env.pg_urls["opportunity"] = url
        say(f"· database {url}")
        self.env.gateway_port = free_port()
        self.env.metrics_offset = free_port() - 9103  # 9101 + 2 (opportunity) + offset is free
        self.env.extra = {
            "BPC_SWEEP_INTERVAL": "3600",
            "BPC_LOG_LEVEL": os.environ.get("BPC_LOG_LEVEL", "WARNING"),
            **self.args.service_env,
        }
        if self.args.service_env:
            say(f"· service environment: {self.args.service_env}")
        declare_topology(self.env)  # the relay publishes the sweep's events to real queues
        say("· topology declared (exchanges and queues of every service)")
        self.service = ServiceProcess(self.env, "opportunity")
        say(f"· starting the opportunity service (log {self.service.log_path})")
        started = time.monotonic()
        self.service.start()
        self.service.wait_ready(timeout=self.args.start_timeout)
        say(f"· service ready after {time.monotonic() - started:.1f} s (migrated)")
        self.db = Database(url)
        say(f"· default pipeline id {self.db.pipeline_id}")
        self.db.load_people()

        from nameko.standalone.rpc import ClusterRpcProxy

        from common.actor import Actor

        actor = Actor(id="1", level=9, path=["1"], name="Bench Admin")
        self.proxy_cm = ClusterRpcProxy(
            self.env.nameko_config(),
            context_data={"bpc_actor": actor.to_header()},
            timeout=self.args.rpc_timeout,
        )
        self.proxy = self.proxy_cm.start()

    def sweep_once(self, label: str) -> float:
        """One timed sweep; checks it confiscated the 1,000 and left nothing due."""
        db = self.db
        due = db.overdue_now()
        if due != OVERDUE:
            raise RuntimeError(f"{label}: {due} rows overdue before the sweep, not {OVERDUE}")
        history_before = db.history_rows()
        started = time.perf_counter()
        result = self.proxy.opportunity.sweep()
        seconds = time.perf_counter() - started
        if not isinstance(result, dict) or result.get("confiscated") != OVERDUE:
            raise RuntimeError(
                f"{label}: sweep returned {result!r}, expected confiscated={OVERDUE}"
            )
        left = db.overdue_now()
        if left:
            raise RuntimeError(f"{label}: {left} rows still overdue after the sweep")
        written = db.history_rows() - history_before
        drained = db.wait_outbox_drained()
        others = {k: v for k, v in result.items() if k != "confiscated" and v}
        say(
            f"  {label}: {seconds:.3f} s  {result}  (history +{written}, "
            f"outbox drained {drained:.1f} s later)"
            + (f"  !! unexpected {others}" if others else "")
        )
        started = time.monotonic()
        reset = db.reset_overdue()
        if reset != OVERDUE:
            raise RuntimeError(f"reset touched {reset} rows, not {OVERDUE}")
        if self.args.vacuum:
            db.execute("VACUUM opportunities")
        reset_s = time.monotonic() - started
        if self.args.verbose:
            say(f"    reset{' + VACUUM' if self.args.vacuum else ''}: {reset_s:.2f} s")
        return seconds

    def measure(self, total: int) -> list[float]:
        say(f"→ {total:,} open opportunities ({OVERDUE:,} overdue)")
        self.db.grow_to(total)
        counts = self.db.counts()
        say(f"  table: {counts}")
        if counts["open"] != total or counts["overdue"] != OVERDUE:
            raise RuntimeError(f"expected {total} open and {OVERDUE} overdue, found {counts}")
        for i in range(self.args.warmup):
            self.sweep_once(f"warm-up {i + 1}")
        times = [self.sweep_once(f"run {i + 1}/{self.args.runs}") for i in range(self.args.runs)]
        if self.args.explain:
            say(f"  EXPLAIN ANALYZE of the claims at {total:,} (1,000 overdue, rolled back):")
            explain_claims(self.env.pg_urls["opportunity"])
        return times

    def stop(self, keep: bool) -> None:
        if self.proxy_cm is not None:
            try:
                self.proxy_cm.stop()
            except Exception as exc:  # noqa: BLE001 - best effort while cleaning up
                say(f"  could not close the RPC proxy: {exc}")
        if self.db is not None:
            try:
                self.db.close()
            except psycopg2.Error:
                pass
        if self.service is not None:
            say("· stopping the opportunity service")
            self.service.stop()
        if self.env is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.env.vhost:
            delete_vhost(self.env.vhost)
            say(f"· deleted vhost {self.env.vhost}")
        if keep:
            say(f"· kept database {self.env.pg_urls.get('opportunity')} and {self.tmp}")
            return
        for url in self.env.pg_urls.values():
            try:
                drop_pg_database(url)
                say(f"· dropped database {url.rsplit('/', 1)[1]}")
            except psycopg2.Error as exc:
                say(f"  could not drop {url}: {exc}")
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- report


def report(results: dict[int, list[float]], args, pg_version: str) -> bool:
    small, large = args.small_total, args.large_total
    med = {n: statistics.median(t) for n, t in results.items()}
    ratio = med[large] / med[small]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say("")
    say(
        f"=== opportunity sweep: {OVERDUE:,} overdue, median of {args.runs} runs "
        f"(+{args.warmup} warm-up), PostgreSQL {pg_version}, {os.cpu_count()} CPUs, "
        f"load {load} ==="
    )
    say(f"{'open opportunities':>18}  {'median s':>9}  {'runs (s)':<42}  goal")
    for n in (small, large):
        runs = " ".join(f"{t:.3f}" for t in results[n])
        goal = ""
        if n == large:
            ok = med[n] < GOAL_SECONDS
            goal = f"< {GOAL_SECONDS:g} s at 1,000,000: {'PASS' if ok else 'FAIL'}"
            if large != 1_000_000:
                goal += f" (measured at {large:,})"
        say(f"{n:>18,}  {med[n]:>9.3f}  {runs:<42}  {goal}".rstrip())
    ratio_ok = ratio <= GOAL_RATIO
    say(
        f"ratio {large:,} / {small:,}: {ratio:.2f}   goal ≤ {GOAL_RATIO:g}: "
        f"{'PASS' if ratio_ok else 'FAIL'}"
    )
    return med[large] < GOAL_SECONDS and ratio_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small-total", type=int, default=10_000, help="open, overdue included")
    parser.add_argument("--large-total", type=int, default=1_000_000, help="open, overdue incl.")
    parser.add_argument("--runs", type=int, default=5, help="timed sweeps per size (5)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted sweeps per size (1)")
    parser.add_argument("--rpc-timeout", type=float, default=60)
    parser.add_argument("--start-timeout", type=float, default=90)
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--no-vacuum", dest="vacuum", action="store_false")
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the service, e.g. BPC_SWEEP_BATCH=1000 (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the log")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    if not OVERDUE < args.small_total < args.large_total:
        parser.error(f"need {OVERDUE} < --small-total < --large-total")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    pairs = [item.partition("=") for item in args.service_env]
    if any(not name or not sep for name, sep, _ in pairs):
        parser.error("--service-env takes NAME=VALUE")
    args.service_env = {name: value for name, _, value in pairs}

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    # "Received method (60, 80) during closing channel": the readiness probes' proxies closing
    logging.getLogger("amqp").setLevel(logging.ERROR)
    began = time.monotonic()
    bench = Bench(args)
    failed = True
    passed = False
    try:
        bench.start()
        pg_version = bench.db.scalar("SHOW server_version")
        results = {}
        for total in (args.small_total, args.large_total):
            results[total] = bench.measure(total)
        passed = report(results, args, pg_version)
        medians = {n: statistics.median(t) for n, t in results.items()}
        write_json(
            args.json,
            {
                "bench": "sweep",
                "overdue": OVERDUE,
                "small_total": args.small_total,
                "large_total": args.large_total,
                "runs": {str(n): t for n, t in results.items()},
                "median_small_s": medians[args.small_total],
                "median_large_s": medians[args.large_total],
                "ratio": medians[args.large_total] / medians[args.small_total],
                "passed": passed,
            },
        )
        failed = False
    except KeyboardInterrupt:
        say("!! interrupted")
    except Exception as exc:  # noqa: BLE001 - report any failure, then clean up
        say(f"!! benchmark failed: {type(exc).__name__}: {exc}")
        if bench.service is not None:
            say(f"   service log tail:\n{bench.service.tail(20)}")
    finally:
        bench.stop(keep=args.keep)
        say(f"· whole run: {time.monotonic() - began:.0f} s")
    if failed:
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
