"""Who is calling: passed on every RPC as a nameko context header (``nameko.bpc_actor``).

The gateway authenticates the request, asks org for the caller's level and supervisor path,
and puts the actor into the worker context; nameko copies context data into the headers of
every RPC it makes, and services read it back with the ``CurrentActor`` dependency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from nameko.extensions import DependencyProvider

from common.clock import as_utc
from common.errors import Forbidden, Unauthenticated

CONTEXT_KEY = "bpc_actor"
# the other context headers: the id the gateway gives each write request (common.db
# ``command``), and what the caller changed in the last seconds (``Freshness``)
REQUEST_KEY = "bpc_request"
FRESH_KEY = "bpc_fresh"
REDELIVERED_KEY = "bpc_redelivered"  # set by a service on a request the broker redelivered


@dataclass(frozen=True)
class Actor:
    id: str
    level: int
    org_unit_id: str | None = None
    # supervisor chain from the top down to and including this user, e.g. ["1", "7", "42"]
    path: list[str] = field(default_factory=list)
    name: str = ""

    @property
    def path_prefix(self) -> str:
        """Materialised path of this user's subtree: ``/1/7/42/``."""
        return "/" + "/".join(self.path) + "/" if self.path else f"/{self.id}/"

    def sees_subordinates(self) -> bool:
        return self.level >= 4

    def sees_everything(self) -> bool:
        return self.level >= 9

    def may_see_owner(self, owner_id: str, owner_path: str) -> bool:
        """Own records always; subordinates' from level 4; the board/admin everything."""
        if owner_id == self.id or self.sees_everything():
            return True
        return self.sees_subordinates() and owner_path.startswith(self.path_prefix)

    def require_level(self, minimum: int) -> None:
        if self.level < minimum:
            raise Forbidden(
                f"需要 {minimum} 级及以上权限 / Requires level {minimum} or above",
                {"required_level": minimum, "level": self.level},
            )

    def to_header(self) -> str:
        return self._header

    @cached_property
    def _header(self) -> str:
        # built once per actor (the gateway keeps actors cached and sends one per RPC);
        # cached_property writes the instance dict, which a frozen dataclass allows
        return json.dumps(
            {
                "id": self.id,
                "level": self.level,
                "org_unit_id": self.org_unit_id,
                "path": list(self.path),
                "name": self.name,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_header(cls, raw: str | dict) -> Actor:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return cls(
            id=str(data["id"]),
            level=int(data["level"]),
            org_unit_id=data.get("org_unit_id"),
            path=[str(p) for p in data.get("path", [])],
            name=data.get("name", ""),
        )


# A branch (分公司) is the subtree of the nearest manager of level ≥ 6 above a user (or the top
# of a smaller chain): the org has no unit kinds. Customer service — users of level ≥ 3 — works
# on any customer of its own branch (docs/DOMAIN.md §1, §7; docs/DOMAIN.md).
BRANCH_LEVEL = 6
SERVICE_LEVEL = 3


def branch_head(chain: list[str], levels: Mapping[str, int | None]) -> str | None:
    """The nearest user of level ≥ 6 on a supervisor chain (top → user), else its top."""
    if not chain:
        return None
    for user_id in reversed(chain):
        if (levels.get(user_id) or 0) >= BRANCH_LEVEL:
            return user_id
    return chain[0]


def may_work_on(actor: Actor, owner_id: str, owner_path: str, levels: Mapping) -> bool:
    """Whether ``actor`` may work on (log work on, revisit, raise an alarm about) a customer of
    ``owner_id`` on ``owner_path``: its owner, the owner's supervisors (level ≥ 4), level 9, or
    customer service (level ≥ 3) of the owner's branch. ``levels``: user id → level of the
    people on both chains."""
    if actor.may_see_owner(owner_id, owner_path):
        return True
    if actor.level < SERVICE_LEVEL or not actor.path:
        return False
    owner_chain = [p for p in owner_path.split("/") if p]
    if not owner_chain or owner_chain[-1] != owner_id:
        owner_chain.append(owner_id)
    return branch_head(list(actor.path), levels) == branch_head(owner_chain, levels)


def path_prefix_of(path: list[str]) -> str:
    return "/" + "/".join(path) + "/"


SYSTEM = Actor(id="system", level=9, path=[], name="system")


class CurrentActor(DependencyProvider):
    """Injects the calling ``Actor`` (or None for system calls) into a worker."""

    def get_dependency(self, worker_ctx):
        raw = worker_ctx.data.get(CONTEXT_KEY)
        return Actor.from_header(raw) if raw else None


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated()
    return actor


class Freshness:
    """What the caller changed in the last seconds, as the gateway saw it: (fact kind, record
    id) → when the change was sent. A projection row of such a record that is older than that
    may not show the change yet: the owner is asked (read-your-writes, common.projection)."""

    def __init__(self, changes: list | None = None):
        self._at = {}
        for kind, record_id, at in changes or ():
            try:
                self._at[(str(kind), str(record_id))] = datetime.fromisoformat(at)
            except (TypeError, ValueError):
                continue

    def __bool__(self) -> bool:
        return bool(self._at)

    def stale(self, kind: str, record_id, as_of) -> bool:
        """Whether a projection row of the record, as of ``as_of``, may predate the caller's
        own change of it."""
        changed = self._at.get((kind, str(record_id)))
        if changed is None:
            return False
        if as_of is None:
            return True
        return as_utc(as_of) < as_utc(changed)


class CurrentFreshness(DependencyProvider):
    """Injects the caller's recent changes (``Freshness``) into a worker."""

    def get_dependency(self, worker_ctx):
        raw = worker_ctx.data.get(FRESH_KEY)
        if not raw:
            return Freshness()
        try:
            return Freshness(json.loads(raw) if isinstance(raw, str) else raw)
        except ValueError:
            return Freshness()
