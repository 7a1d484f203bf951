"""The shape of a route and of one call to it; the werkzeug map built from the route table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema
from werkzeug.routing import BaseConverter, Map, Rule, ValidationError

from common.actor import Actor
from gateway.schemas import ID_REGEX, MONTH_REGEX, is_valid_id

_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Route:
    """One row of the route table: dispatch and the OpenAPI document are both made from it."""

    method: str
    path: str  # OpenAPI template, e.g. /api/v1/customers/{id}
    handler: Callable[[Call], Any]
    summary: str
    request: type[Schema] | None = None
    response: type[Schema] | None = None
    query: type[Schema] | None = None
    min_level: int = 1
    auth: bool = True
    # resolve the caller afresh from org instead of the short-lived actor cache
    fresh_actor: bool = False
    status: int = 200
    errors: tuple[int, ...] = ()
    tag: str = "default"
    content_type: str = "application/json"  # a text route may name several, comma-separated
    description: str = ""
    # the kind of fact a successful call changes (its answer's "id" names the record): the
    # caller's next requests tell the services, whose projections may not have it yet
    changes: str | None = None
    # answered while the caller must change a reset password (everything else: 403
    # ``password_change_required``)
    before_password_change: bool = False

    @property
    def path_params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def idempotent_post(self) -> bool:
        return self.method == "POST" and self.auth


@dataclass
class Call:
    """Everything a handler needs: validated input, the caller, and the RPC client."""

    rpc: Any
    actor: Actor | None
    path: dict[str, str] = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    body: dict = field(default_factory=dict)
    resolved: dict | None = None  # org's resolve_actor answer for the caller
    gateway: Any = None
    idempotency_key: str | None = None  # the request's Idempotency-Key, on an idempotent POST
    client: str | None = None  # the client's address (login throttling)
    agent: str | None = None  # the client's User-Agent (the list of one's sessions)
    session_id: str | None = None  # the session of the caller's token


class IdConverter(BaseConverter):
    """Path ids that cannot name a row do not match: the answer is a plain 404."""

    regex = ID_REGEX.strip("^$")

    def to_python(self, value: str) -> str:
        if not is_valid_id(value):
            raise ValidationError()
        return value


class MonthConverter(BaseConverter):
    """A path ``{month}`` is ``YYYY-MM`` (01–12); anything else does not match: a plain 404."""

    regex = MONTH_REGEX.strip("^$")


# path parameters are ids, except those named here
PATH_CONVERTERS = {"month": "month"}
PATH_PATTERNS = {"id": ID_REGEX, "month": MONTH_REGEX}


def path_pattern(name: str) -> str:
    """The regular expression a path parameter must match (for the OpenAPI document)."""
    return PATH_PATTERNS[PATH_CONVERTERS.get(name, "id")]


def werkzeug_rule(route: Route) -> Rule:
    template = _PARAM.sub(
        lambda m: f"<{PATH_CONVERTERS.get(m.group(1), 'id')}:{m.group(1)}>", route.path
    )
    return Rule(template, methods=[route.method], endpoint=route)


def url_map(routes: list[Route]) -> Map:
    return Map(
        [werkzeug_rule(r) for r in routes],
        converters={"id": IdConverter, "month": MonthConverter},
        strict_slashes=False,
        merge_slashes=False,
    )
