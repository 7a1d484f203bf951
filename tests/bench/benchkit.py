"""What the benchmark scripts share: output, Ctrl-C/SIGTERM, free ports, py-spy summaries."""

from __future__ import annotations

import math
import os
import shutil
import socket
import sys
from collections import Counter
from pathlib import Path

from tests.support import SERVICES

OURS = ("services/", "common/", "gateway/")  # the project's own code in a py-spy frame


def say(message: str = "") -> None:
    print(message, flush=True)


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or Ctrl-C) during a bench: its cleanup still runs."""


def on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Interrupted()


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_metrics_offset(start: int = 3000) -> int:
    """An offset so that every service's metrics port (9101 + index + offset) is free."""
    for offset in range(start, 20000, 100):
        if all(port_free(9101 + offset + i) for i in range(len(SERVICES))):
            return offset
    raise RuntimeError("no free range of metrics ports")


def py_spy() -> str:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else (shutil.which("py-spy") or "")


def summarize_raw(path: Path, top: int = 12) -> list[str]:
    """The functions with the most samples in a py-spy raw (collapsed) file: self time,
    inclusive time, and the project's own functions inclusive."""
    self_: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return [f"  (no profile at {path})"]
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")"
                  if " (" in f else f for f in stack.split(";")]  # fmt: skip
        self_[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return [f"  (no samples in {path})"]
    out = [f"  {total:,} samples; self time:"]
    out += [f"    {n / total:6.1%}  {frame}" for frame, n in self_.most_common(top)]
    out.append("  inclusive (the function and what it calls):")
    out += [f"    {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    ours = [(f, n) for f, n in inclusive.most_common() if f.split("(")[-1].startswith(OURS)]
    out.append("  the project's own functions, inclusive:")
    out += [f"    {n / total:6.1%}  {frame}" for frame, n in ours[:top]]
    return out


def write_json(path: str | None, result: dict) -> None:
    """A bench's results as JSON (``--json PATH``, read by bench_all.py); nothing without a
    path. Infinity/NaN are written as JSON's extensions (Python reads them back)."""
    if not path:
        return
    import json

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))


def pct(sorted_values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of an ascending list; nan when empty."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(len(sorted_values), rank) - 1]


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of one process (from /proc; 0 when it is gone or unknown)."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids(names: tuple[str, ...] = ("postgres", "postmaster")) -> list[int]:
    """The processes of a server on this machine by their command name: PostgreSQL's by
    default, ``("beam.smp",)`` for RabbitMQ's."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids
