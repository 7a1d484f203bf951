"""What a flood of wrong passwords does to everyone else (issue 20): ``GET /api/v1/me`` of a
signed-in user, idle and while 60 clients post wrong passwords as fast as they are answered.

    .venv/bin/python tests/bench/bench_login.py                 # 3 rounds, 20 s each phase
    .venv/bin/python tests/bench/bench_login.py --quick         # a dry run

BPC is started on SQLite (the README's run command, ``python -m ops.cli run``) with the
login throttle opened wide (BPC_LOGIN_FREE_FAILURES, BPC_LOGIN_ADDRESS_FREE_FAILURES: a
million), so that every wrong login costs its full password check — the worst case; with the
throttle as shipped, the attackers are answered 429 before any check after a few tries. Each
round measures ``--probes`` clients calling ``GET /api/v1/me`` back to back, first idle, then
during the attack. The table gives the medians over the rounds of p50 and p99 and the ratio
attack ÷ idle, and what the attackers were answered (401: checked and refused; 503: the
gateway's or org's bounded share of sign-ins was full, retry).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.bench_ingest import create_people  # noqa: E402
from tests.bench.benchkit import free_metrics_offset, on_sigterm, pct, say, write_json  # noqa: E402
from tests.support import Environment, RunningBpc, create_vhost, delete_vhost, free_port  # noqa: E402

ATTACKERS = 60


def _probe(port: int, token: str, deadline: float, out: list[float], errors: Counter) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            conn.request("GET", "/api/v1/me", headers=headers)
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException):
            errors["connection"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if answer.status == 200:
            out.append((time.perf_counter() - began) * 1000)
        else:
            errors[answer.status] += 1
    conn.close()


def _attacker(port: int, login: str, stop: threading.Event, answers: Counter) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"login": login, "password": f"wrong-{uuid.uuid4().hex}"}).encode()
    headers = {"Content-Type": "application/json"}
    while not stop.is_set():
        try:
            conn.request("POST", "/api/v1/auth/login", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            answers[answer.status] += 1
        except (OSError, http.client.HTTPException):
            answers["connection"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def measure(port: int, tokens: list[str], seconds: float, logins: list[str] | None) -> dict:
    """The probes' latencies for ``seconds``; with ``logins``, under that many attackers."""
    stop, answers = threading.Event(), Counter()
    attackers = [
        threading.Thread(target=_attacker, args=(port, login, stop, answers), daemon=True)
        for login in logins or []
    ]
    for thread in attackers:
        thread.start()
    if attackers:
        time.sleep(2)  # the attack under way before the probes start
    samples: list[float] = []
    errors: Counter = Counter()
    deadline = time.monotonic() + seconds
    probes = [
        threading.Thread(target=_probe, args=(port, t, deadline, samples, errors), daemon=True)
        for t in tokens
    ]
    for thread in probes:
        thread.start()
    for thread in probes:
        thread.join()
    stop.set()
    for thread in attackers:
        thread.join(timeout=30)
    ordered = sorted(samples)
    return {
        "requests": len(ordered),
        "p50_ms": round(pct(ordered, 0.50), 1) if ordered else None,
        "p99_ms": round(pct(ordered, 0.99), 1) if ordered else None,
        "probe_errors": dict(errors),
        "attack_answers": {str(k): v for k, v in answers.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase")
    parser.add_argument("--probes", type=int, default=4, help="clients calling /me")
    parser.add_argument("--attackers", type=int, default=ATTACKERS)
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s")
    parser.add_argument("--json", help="write the figures here as well")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 5.0
    signal.signal(signal.SIGTERM, on_sigterm)

    tmp = Path(tempfile.mkdtemp(prefix="bpc-bench-login-"))
    env = Environment(backend="sqlite", data_dir=tmp)
    env.vhost = create_vhost("bpc_bench_login")
    env.admin_password = f"Bench-{uuid.uuid4().hex}"
    env.gateway_port = free_port()
    env.metrics_offset = free_metrics_offset()
    env.extra = {"BPC_LOG_LEVEL": "WARNING", "BPC_LOGIN_FREE_FAILURES": "1000000",
                 "BPC_LOGIN_ADDRESS_FREE_FAILURES": "1000000"}  # fmt: skip
    bpc = RunningBpc(env)
    started = time.monotonic()
    try:
        say(f"bench_login: {args.rounds} rounds × (idle, {args.attackers} attackers), "
            f"{args.probes} probes, {args.seconds:.0f} s per phase (SQLite)")  # fmt: skip
        bpc.start(timeout=120)
        say(f"· BPC up in {time.monotonic() - started:.0f} s")
        users, probe = create_people(env.gateway_port, env.admin_password, args.probes - 1)
        tokens = [probe["token"], *(u["token"] for u in users)]
        logins = [u["login"] for u in users] + [f"nobody_{i}" for i in range(args.attackers)]
        logins = logins[: args.attackers]
        rounds = []
        for r in range(args.rounds):
            idle = measure(env.gateway_port, tokens, args.seconds, None)
            say(f"· round {r + 1}/{args.rounds} idle:   /me p50 {idle['p50_ms']} ms, "
                f"p99 {idle['p99_ms']} ms, {idle['requests']} requests")  # fmt: skip
            attack = measure(env.gateway_port, tokens, args.seconds, logins)
            say(f"  round {r + 1}/{args.rounds} attack: /me p50 {attack['p50_ms']} ms, "
                f"p99 {attack['p99_ms']} ms, {attack['requests']} requests; attackers "
                f"answered {attack['attack_answers']}")  # fmt: skip
            if attack["probe_errors"]:
                say(f"  probe errors: {attack['probe_errors']}")
            rounds.append({"idle": idle, "attack": attack})

        def median(phase: str, key: str) -> float:
            return statistics.median(r[phase][key] for r in rounds)

        say("")
        say("| GET /api/v1/me (median of rounds) | idle | 60 wrong logins | attack ÷ idle |")
        say("|---|---|---|---|")
        for key in ("p50_ms", "p99_ms"):
            idle, attack = median("idle", key), median("attack", key)
            say(f"| {key.replace('_ms', '')} (ms) | {idle:.1f} | {attack:.1f} | "
                f"{attack / idle:.2f} |")  # fmt: skip
        say(f"· whole run: {time.monotonic() - started:.0f} s")
        write_json(args.json, {"rounds": rounds})
        return 0
    finally:
        bpc.stop()
        delete_vhost(env.vhost)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
