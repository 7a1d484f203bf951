"""The OpenAPI document is generated from the same route table and schemas that serve."""

from __future__ import annotations

import json

import eventlet
import pytest
from nameko.exceptions import RemoteError, serialize

from common.errors import DuplicateCustomer, ServiceUnavailable
from common.rpc import PendingCall, RpcClient, remote_exception
from gateway.api import ROUTES
from gateway.app import Gateway


@pytest.fixture(scope="module")
def spec():
    return json.loads(Gateway().openapi_text())


def test_every_route_is_documented_with_its_method(spec):
    assert spec["openapi"].startswith("3.")
    for route in ROUTES:
        assert route.method.lower() in spec["paths"][route.path], route.path


def test_path_parameters_and_bearer_auth_are_declared(spec):
    unmask = spec["paths"]["/api/v1/customers/{id}/contacts/{contact_id}/unmask"]["post"]
    names = {p["name"] for p in unmask["parameters"] if p["in"] == "path"}
    assert names == {"id", "contact_id"}
    assert unmask["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/auth/login"]["post"]["security"] == []


def test_request_bodies_refuse_unknown_fields_and_errors_have_one_shape(spec):
    register = spec["paths"]["/api/v1/customers"]["post"]
    ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name"]
    for status in ("400", "401", "409", "422"):
        content = register["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"] == "#/components/schemas/Error"


def test_query_parameters_are_expanded_with_their_limits(spec):
    params = {p["name"]: p for p in spec["paths"]["/api/v1/customers"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 500
    assert params["status"]["schema"]["enum"][:2] == ["prospect", "customer"]


# ---- remote errors and the time bound -----------------------------------------------------


def test_remote_errors_come_back_as_their_types():
    error = remote_exception(serialize(DuplicateCustomer(details={"customer_id": "3"})))
    assert isinstance(error, DuplicateCustomer)
    assert error.details == {"customer_id": "3"} and error.status == 409


def test_unknown_remote_error_stays_a_remote_error():
    assert isinstance(remote_exception(serialize(KeyError("x"))), RemoteError)


def test_a_database_refusing_connections_behind_a_service_is_503_not_500():
    import psycopg2
    from sqlalchemy.exc import OperationalError, ProgrammingError

    refused = psycopg2.OperationalError("FATAL:  sorry, too many clients already")
    error = remote_exception(serialize(OperationalError("SELECT 1", {}, refused)))
    assert error.status == 503 and error.code == "service_unavailable"
    # a mistake in a statement stays what it is: a server error to fix, not a retry
    bad = ProgrammingError("SELEC 1", {}, Exception("syntax error"))
    assert isinstance(remote_exception(serialize(bad)), RemoteError)


class _Listener:
    routing_key = "reply"

    def __init__(self):
        self._reply_events = {}

    def get_reply_event(self, correlation_id):
        self._reply_events[correlation_id] = eventlet.event.Event()
        return self._reply_events[correlation_id]


class _Provider:
    def __init__(self, listener, timeout):
        self.reply_listener = listener
        self.timeout = timeout


def test_a_service_that_never_answers_is_unavailable_within_the_bound():
    listener = _Listener()
    event = listener.get_reply_event("c1")
    client = RpcClient(worker_ctx=None, provider=_Provider(listener, 0.05))
    with pytest.raises(ServiceUnavailable) as raised:
        client._finish(PendingCall("customer", "get", "c1", event), 0.05)
    assert raised.value.details == {"service": "customer"}
    assert listener._reply_events == {}  # the abandoned reply is forgotten
