"""Who is calling: passed on every RPC as a nameko context header (``nameko.bpc_actor``).

The gateway authenticates the request, asks org for the caller's level and supervisor path,
and puts the actor into the worker context; nameko copies context data into the headers of
every RPC it makes, and services read it back with the ``CurrentActor`` dependency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

from nameko.extensions import DependencyProvider

from common.errors import Forbidden, Unauthenticated

CONTEXT_KEY = "bpc_actor"


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
