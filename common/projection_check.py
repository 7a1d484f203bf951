"""Comparing projections with their owners, page by page, by digest; and repairing them.

Two passes per projection (``bpc check-projections``, docs/ARCHITECTURE.md):

1. the owner's records in key order, a page at a time (``fact_page``: key and digest of the
   fields the projection keeps), against the projection's digests of the same keys
   (``mirror_digests``): a key the projection lacks is **missing**, a digest that differs is
   **different**;
2. the projection's own keys, a page at a time (``mirror_keys``), against the owner
   (``fact_digests``): a key the owner does not have is **extra**.

``--repair`` hands the drifted keys to the consuming service (``mirror_repair``), which asks the
owner for their current facts and writes them through the projection's one write path (extra
rows are removed). The same comparison, one page per tick, feeds the ``bpc_projection_drift``
gauge of each consuming service (``Sampler``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

PAGE = 500


@dataclass
class Drift:
    projection: str  # "<service>.<mirror>"
    owner: str
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.different) + len(self.extra)

    def line(self) -> str:
        text = (
            f"{self.projection:<28} ← {self.owner:<24} {self.checked:>9,} checked  "
            f"missing {len(self.missing):,}  different {len(self.different):,}  "
            f"extra {len(self.extra):,}"
        )
        if self.repaired:
            text += f"  → repaired {self.repaired:,}"
        return text


def compare_page(owner_items: list[list[str]], mirror: dict[str, str]) -> tuple[list, list]:
    """(missing, different) keys of one page of the owner's (key, digest) pairs."""
    missing, different = [], []
    for key, value in owner_items:
        if key not in mirror:
            missing.append(key)
        elif mirror[key] != value:
            different.append(key)
    return missing, different


def check(
    call: Callable,
    service: str,
    name: str,
    owner: str,
    kind: str,
    fields: list[str],
    repair: bool = False,
    page: int = PAGE,
    progress: Callable[[Drift], None] | None = None,
) -> Drift:
    """Both passes over one projection; ``call(service, method, **kwargs)`` is an RPC."""
    drift = Drift(f"{service}.{name}", f"{owner}.{kind}")
    cursor = None
    while True:
        answer = call(owner, "fact_page", kind=kind, fields=fields, cursor=cursor, limit=page)
        items = answer["items"]
        if items:
            mirror = call(service, "mirror_digests", name=name, keys=[k for k, _ in items])
            missing, different = compare_page(items, mirror["items"])
            drift.missing += missing
            drift.different += different
            drift.checked += len(items)
            if progress:
                progress(drift)
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    cursor = None
    while True:
        answer = call(service, "mirror_keys", name=name, cursor=cursor, limit=page)
        keys = answer["items"]
        if keys:
            known = call(owner, "fact_digests", kind=kind, fields=fields, keys=keys)["items"]
            drift.extra += [k for k in keys if k not in known]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    if repair and drift.total:
        drifted = drift.missing + drift.different + drift.extra
        for start in range(0, len(drifted), page):
            done = call(service, "mirror_repair", name=name, keys=drifted[start : start + page])
            drift.repaired += done["written"] + done["forgotten"]
    return drift


class Sampler:
    """One page of each projection per tick, against its owner: the drift seen over the last
    full round is what ``bpc_projection_drift`` shows (a round restarts at the first key)."""

    def __init__(self):
        self.cursors: dict[str, str | None] = {}
        self.round: dict[str, int] = {}
        self.last: dict[str, int] = {}

    def tick(self, name: str, owner_page: Callable, mirror_digests: Callable) -> int:
        """Compare the next page; → the drift to show for ``name`` now."""
        answer = owner_page(self.cursors.get(name))
        items = answer["items"]
        drifted = 0
        if items:
            missing, different = compare_page(items, mirror_digests([k for k, _ in items]))
            drifted = len(missing) + len(different)
        self.round[name] = self.round.get(name, 0) + drifted
        self.cursors[name] = answer["next_cursor"]
        if answer["next_cursor"] is None:  # a round is complete
            self.last[name] = self.round.pop(name)
        return max(self.last.get(name, 0), self.round.get(name, 0))


def main(repair: bool = False, services: list[str] | None = None, page: int = PAGE) -> int:
    """``bpc check-projections [--repair] [SERVICE …]``: every projection of the services
    (all by default) against its owner; prints the drift of each, with progress. Exit 0 when
    nothing drifts (after the repair, with ``--repair``), 1 otherwise."""
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    from common import config, topology
    from common.actor import CONTEXT_KEY, SYSTEM

    context = {CONTEXT_KEY: SYSTEM.to_header()}
    drifted = 0
    with ClusterRpcProxy(config.nameko_config(), context_data=context, timeout=120) as proxy:

        def call(service: str, method: str, **kwargs):
            return getattr(getattr(proxy, service), method)(**kwargs)

        tty = sys.stdout.isatty()

        def show(drift: Drift) -> None:  # progress on a terminal; a log gets the result lines
            if tty:
                print(f"\r  {drift.projection}: {drift.checked:,} checked …", end="", flush=True)

        for service in services or config.SERVICES:
            for name, mirror in topology.service_class(service).mirrors.items():
                args = (service, name, mirror.owner, mirror.kind, list(mirror.fields))
                drift = check(call, *args, repair=repair, page=page, progress=show)
                print(("\r\033[K" if tty else "") + drift.line(), flush=True)
                if repair and drift.total:
                    drift = check(call, *args, page=page)
                    print("  after the repair: " + drift.line(), flush=True)
                drifted += drift.total
    print(f"投影偏差 projection drift: {drifted:,}", flush=True)
    return 0 if drifted == 0 else 1
