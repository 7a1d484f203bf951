"""What the capabilities' routes share: the API's path prefix and a list's page parameters."""

from __future__ import annotations

from gateway.routing import Call

API = "/api/v1"


def _page(call: Call, *names: str) -> dict:
    return {name: call.query.get(name) for name in (*names, "limit", "cursor")}
