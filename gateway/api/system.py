"""The gateway's own routes, added to every route table it serves: health, metrics, the OpenAPI
document."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from werkzeug.wrappers import Response

from gateway import schemas as s
from gateway.routing import Call, Route


def _healthz(call: Call):
    return call.gateway.health(call.rpc)


def _metrics(call: Call) -> Response:
    return Response(generate_latest(REGISTRY), status=200, content_type=CONTENT_TYPE_LATEST)


def _openapi(call: Call) -> Response:
    return Response(
        call.gateway.openapi_text(), status=200, content_type="application/json; charset=utf-8"
    )


def system_routes() -> list[Route]:
    return [
        Route(
            "GET",
            "/healthz",
            _healthz,
            "健康检查 / All seven services answer",
            response=s.Health,
            auth=False,
            errors=(503,),
            tag="system",
        ),
        Route(
            "GET",
            "/metrics",
            _metrics,
            "Prometheus metrics",
            auth=False,
            tag="system",
            content_type="text/plain",
        ),
        Route(
            "GET", "/api/v1/openapi.json", _openapi, "OpenAPI 3 document", auth=False, tag="system"
        ),
    ]
