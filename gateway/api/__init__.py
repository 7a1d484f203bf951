"""The HTTP API, one module per capability: each holds its handlers and, beside them, its routes
(method, path, handler, schemas, minimum level); ``ROUTES`` here is the whole table.

Handlers parse nothing (the routes' schemas did) and decide nothing (the services do): each
makes one RPC and hands back its answer. The gateway's own routes (health, metrics, the OpenAPI
document) are in ``system`` and are added by ``gateway.app.Gateway`` to any table it serves.

The table's order is the published one: the OpenAPI document lists the paths in it.
"""

from __future__ import annotations

from gateway.api import (
    accounts,
    alarms,
    customers,
    experience,
    opportunities,
    org,
    scoring,
    workbench,
    worklog,
)
from gateway.routing import Route

# the workbench's route has always stood among the customers', after the revisits
_BEFORE_WORKBENCH = [r.handler for r in customers.ROUTES].index(customers.record_revisit) + 1

ROUTES: list[Route] = [
    *accounts.ROUTES,
    *org.ROUTES,
    *customers.ROUTES[:_BEFORE_WORKBENCH],
    *workbench.ROUTES,
    *customers.ROUTES[_BEFORE_WORKBENCH:],
    *opportunities.ROUTES,
    *worklog.ROUTES,
    *scoring.ROUTES,
    *alarms.ROUTES,
    *experience.ROUTES,
]
