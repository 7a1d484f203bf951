"""``bpc``: run BPC on one machine, declare the topology, inspect and replay dead letters.

bpc run [--instances N | SERVICE=N …]
                          declare topology, start every service and the gateway (N processes
                          of each, or of the services named; instances share the queues,
                          the databases and the gateway's port)
bpc topology              declare exchanges and queues only
bpc migrate [service…]    upgrade databases
bpc makemigration SERVICE -m MESSAGE
bpc dlq list              dead-letter queues and their depth
bpc dlq replay QUEUE      move parked events back to their queue
bpc check-projections [--repair] [SERVICE …]
                          compare every projection with its owner's facts, page by page by
                          digest; print the drift of each; --repair rewrites what drifted
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from urllib.parse import urlparse

import requests

from common import config

PROCESSES = (*config.SERVICES, "gateway")  # what `bpc run` starts, each as its own process
RABBIT_HINT = (
    "RabbitMQ 无法连接 / RabbitMQ is not reachable at {uri} — start it with "
    "`rabbitmq-server -detached` (or `docker compose up -d rabbitmq`), or set BPC_AMQP_URI."
)


def broker_reachable(uri: str) -> bool:
    parsed = urlparse(uri)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), 3):
            return True
    except OSError:
        return False


def cmd_topology(_args) -> int:
    from common import topology

    result = topology.declare()
    print(f"topology declared: {result['exchanges']} exchanges, {result['queues']} queues")
    return 0


def cmd_migrate(args) -> int:
    from common.db import make_engine
    from common.migrations import upgrade

    for service in args.services or config.SERVICES:
        upgrade(service, make_engine(config.db_url(service)))
        print(f"migrated {service}")
    return 0


def cmd_makemigration(args) -> int:
    from common.migrations import make_migration

    make_migration(args.service, args.message)
    return 0


def _dlq_names() -> list[str]:
    from common import topology

    return [q.name for q in topology.all_queues() if q.name.endswith(".dlq")]


def cmd_dlq(args) -> int:
    import kombu

    from common.consumer import ATTEMPTS_HEADER

    with kombu.Connection(config.amqp_uri()) as conn:
        channel = conn.channel()
        if args.action == "list":
            for name in _dlq_names():
                _, depth, _ = channel.queue_declare(name, passive=True)
                print(f"{depth:6d}  {name}")
            return 0
        name = args.queue if args.queue.endswith(".dlq") else f"{args.queue}.dlq"
        target = name[: -len(".dlq")]
        moved = 0
        while True:
            message = channel.basic_get(name, no_ack=False)
            if message is None:
                break
            headers = dict(message.headers or {})
            headers[ATTEMPTS_HEADER] = 0
            channel.basic_publish(
                channel.prepare_message(
                    message.body,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    headers=headers,
                    properties={"delivery_mode": 2},
                ),
                exchange="",
                routing_key=target,
            )
            channel.basic_ack(message.delivery_tag)
            moved += 1
        print(f"replayed {moved} event(s) from {name} to {target}")
    return 0


def _wait_healthy(address: tuple[str, int], procs, timeout: float) -> bool:
    url = f"http://{address[0]}:{address[1]}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs.values()):
            return False
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def cmd_run(args) -> int:
    uri = config.amqp_uri()
    if not broker_reachable(uri):
        print(RABBIT_HINT.format(uri=uri.split("@")[-1]), file=sys.stderr)
        return 2
    config.data_dir()
    config.secret_key()  # created once, before the processes that share it start
    print("declaring broker topology …", flush=True)
    cmd_topology(args)
    counts = args.instances  # process name → how many (main() parsed --instances)
    _share_database_connections(sum(counts.get(name, 1) for name in PROCESSES))
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def spawn(label: str, name: str, k: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "ops.runner", name],
            start_new_session=True,
            env={**os.environ, "BPC_INSTANCE": str(k), "BPC_INSTANCE_LABEL": label},
        )

    plan: dict[str, tuple[str, int]] = {}  # label → (service, instance)
    for name in PROCESSES:
        for k in range(counts.get(name, 1)):
            label = f"{name}#{k + 1}" if counts.get(name, 1) > 1 else name
            plan[label] = (name, k)
            procs[label] = spawn(label, name, k)
            print(f"started {label:<12} pid {procs[label].pid}", flush=True)
    address = config.gateway_address()
    if _wait_healthy(address, procs, timeout=float(os.environ.get("BPC_START_TIMEOUT", "60"))):
        print(f"BPC is up: http://{address[0]}:{address[1]}/  (Ctrl-C stops it)", flush=True)
    elif not stopping:
        print("BPC did not become healthy; see the log above", file=sys.stderr, flush=True)
    # a process that dies (a crash, the OOM killer, kill -9) is started again, as a container
    # orchestrator would: after 1 s, doubling up to 30 s while it keeps dying within a minute
    backoff = {label: 0.0 for label in plan}
    restart_at: dict[str, float] = {}
    started_at = {label: time.monotonic() for label in plan}
    try:
        while not stopping:
            now = time.monotonic()
            for label, proc in procs.items():
                if label in restart_at or proc.poll() is None:
                    continue
                lived = now - started_at[label]
                backoff[label] = 1.0 if lived > 60 else min(30.0, max(1.0, 2 * backoff[label]))
                restart_at[label] = now + backoff[label]
                print(f"{label} exited with {proc.returncode}; restarting it in "
                      f"{backoff[label]:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
            for label, when in list(restart_at.items()):
                if now >= when and not stopping:
                    del restart_at[label]
                    procs[label] = spawn(label, *plan[label])
                    started_at[label] = time.monotonic()
                    print(f"restarted {label:<10} pid {procs[label].pid}", flush=True)
            time.sleep(0.3)
    finally:
        print("stopping BPC …", flush=True)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def _share_database_connections(processes: int) -> None:
    """On PostgreSQL, every process started gets its share of BPC_DB_CONNECTIONS as its pool
    (unless BPC_DB_POOL_SIZE / BPC_DB_MAX_OVERFLOW say otherwise)."""
    urls = [config.db_url(name) for name in PROCESSES]
    if not any(url.startswith("postgresql") for url in urls):
        return
    if "BPC_DB_POOL_SIZE" in os.environ or "BPC_DB_MAX_OVERFLOW" in os.environ:
        return
    pool, overflow = config.pool_share(processes, config.db_connections())
    os.environ["BPC_DB_POOL_SIZE"] = str(pool)
    os.environ["BPC_DB_MAX_OVERFLOW"] = str(overflow)
    print(f"database connections: {processes} processes × (pool {pool} + overflow {overflow})"
          f" ≤ {config.db_connections()}", flush=True)  # fmt: skip


def _instances(values: list[str] | None) -> dict[str, int]:
    """``--instances 2`` (every service and the gateway) and/or ``--instances worklog=3``."""
    counts: dict[str, int] = {}
    for value in values or []:
        name, _, raw = value.rpartition("=")
        try:
            count = int(raw)
        except ValueError:
            count = 0
        if not 1 <= count <= 16:
            raise argparse.ArgumentTypeError(f"1 ≤ N ≤ 16 expected, not {value!r}")
        if not name:
            counts.update(dict.fromkeys(PROCESSES, count))
        elif name in PROCESSES:
            counts[name] = count
        else:
            known = ", ".join(PROCESSES)
            raise argparse.ArgumentTypeError(f"unknown service {name!r} (one of {known})")
    return counts


def cmd_rebuild_scoring(args) -> int:
    """Drop scoring's data and replay the work log and opportunity history, with progress."""
    import eventlet

    eventlet.monkey_patch()
    from common.db import make_engine
    from common.migrations import upgrade
    from services.scoring.handlers import Rebuild
    from services.scoring.rebuild import (
        Reporter,
        SessionDb,
        claim,
        close_proxies,
        fetch_over_rpc,
        run,
        status,
    )

    engine = make_engine(config.db_url("scoring"))
    upgrade("scoring", engine)

    def report(status: dict) -> None:
        rate = (status["entries"] + status["progress"]) / max(status["seconds"], 0.001)
        print(
            f"\r重建评分 rebuilding scoring: {status['entries']:,} entries, "
            f"{status['progress']:,} history rows, {status['seconds']:.1f} s "
            f"({rate:,.0f}/s) {status['state']}",
            end="" if status["state"] == "running" else "\n",
            flush=True,
        )

    db = SessionDb(engine)
    token = claim(db)
    if token is None:
        running = status(db)
        print(
            f"另一个评分重建正在进行 / Another scoring rebuild is running "
            f"(since {running.get('started_at')}, {running['entries']:,} entries so far)",
            file=sys.stderr,
        )
        return 1
    try:
        job = Rebuild(db, fetch_over_rpc, page=args.page, report=Reporter(db, token, report))
        run(db, token, job)
    finally:
        close_proxies()
    return 0 if job.status["state"] == "done" else 1


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"0 < F ≤ 1 expected, not {text!r}")
    return value


def cmd_check_projections(args) -> int:
    from common import projection_check

    return projection_check.main(args.repair, args.services or None)


def cmd_demo(args) -> int:
    """Fill a running BPC with a realistic group through the services' bulk imports."""
    from ops import demo

    return demo.main(args.small, args.admin_password, args.scale)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    parser = argparse.ArgumentParser(
        prog="bpc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start BPC: every service and the gateway")
    run.add_argument(
        "--instances", action="append", metavar="N|SERVICE=N",
        help="processes per service: N for all, or SERVICE=N (repeatable), e.g. worklog=3",
    )  # fmt: skip
    run.set_defaults(func=cmd_run)
    sub.add_parser("topology").set_defaults(func=cmd_topology)
    demo = sub.add_parser("demo", help="fill a running BPC with demo data (--small: in seconds)")
    demo.add_argument("--small", action="store_true")
    demo.add_argument(
        "--scale", type=_fraction, default=None, metavar="F",
        help="a share of the full size (0 < F ≤ 1; 0.1: 200 users, 10,000 customers …)",
    )  # fmt: skip
    demo.add_argument("--admin-password", default=None)
    demo.set_defaults(func=cmd_demo)
    migrate = sub.add_parser("migrate")
    migrate.add_argument("services", nargs="*")
    migrate.set_defaults(func=cmd_migrate)
    mk = sub.add_parser("makemigration")
    mk.add_argument("service")
    mk.add_argument("-m", "--message", required=True)
    mk.set_defaults(func=cmd_makemigration)
    rebuild = sub.add_parser("rebuild-scoring")
    rebuild.add_argument("--page", type=int, default=10000)
    rebuild.set_defaults(func=cmd_rebuild_scoring)
    check = sub.add_parser(
        "check-projections", help="compare every service's projections with their owners"
    )
    check.add_argument("--repair", action="store_true", help="rewrite what drifted")
    check.add_argument("services", nargs="*", metavar="SERVICE", help="only these services")
    check.set_defaults(func=cmd_check_projections)
    dlq = sub.add_parser("dlq")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("queue", nargs="?")
    dlq.set_defaults(func=cmd_dlq)
    args = parser.parse_args(argv)
    if getattr(args, "action", None) == "replay" and not args.queue:
        parser.error("dlq replay needs a QUEUE")
    unknown = set(getattr(args, "services", None) or ()) - set(config.SERVICES)
    if args.command == "check-projections" and unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    if args.command == "run":
        try:
            args.instances = _instances(args.instances or os.environ.get(
                "BPC_INSTANCES", "").replace(",", " ").split())  # fmt: skip
        except argparse.ArgumentTypeError as exc:
            parser.error(str(exc))
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
