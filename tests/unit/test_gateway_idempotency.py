"""Idempotency-Key: the store on a real SQLite file, and the behaviour through the HTTP layer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from common import clock, tokens
from common.db import make_engine
from common.migrations import upgrade
from gateway.app import Gateway
from gateway.idempotency import IdempotencyStore
from gateway.models import IdempotencyKey
from tests.doubles import FakeRpc, client

REP = {
    "id": "42",
    "login": "li",
    "name": "李雷",
    "level": 1,
    "org_unit_id": "3",
    "supervisor_id": "7",
    "active": True,
    "path": ["1", "7", "42"],
}


@pytest.fixture(autouse=True)
def _secret(monkeypatch, tmp_path):
    monkeypatch.setenv("BPC_SECRET", "gateway-unit-test-secret")
    monkeypatch.setenv("BPC_DATA_DIR", str(tmp_path))


@pytest.fixture
def store(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    upgrade("gateway", engine)
    return IdempotencyStore(engine)


def test_first_claim_is_new_then_in_progress_then_replayed(store):
    assert store.claim("42", "k1", "POST", "/api/v1/customers").outcome == "new"
    assert store.claim("42", "k1", "POST", "/api/v1/customers").outcome == "in_progress"
    store.complete("42", "k1", 201, '{"id":"9"}')
    again = store.claim("42", "k1", "POST", "/api/v1/customers")
    assert (again.outcome, again.status, again.body) == ("replay", 201, '{"id":"9"}')


def test_keys_belong_to_one_user(store):
    assert store.claim("42", "k1", "POST", "/a").outcome == "new"
    assert store.claim("43", "k1", "POST", "/a").outcome == "new"


def test_same_key_on_another_request_is_refused(store):
    store.claim("42", "k1", "POST", "/api/v1/customers")
    store.complete("42", "k1", 201, "{}")
    assert store.claim("42", "k1", "POST", "/api/v1/users").outcome == "mismatch"


def test_released_claim_may_be_retried(store):
    store.claim("42", "k1", "POST", "/a")
    store.release("42", "k1")
    assert store.claim("42", "k1", "POST", "/a").outcome == "new"


def test_key_older_than_a_day_starts_afresh(store):
    store.claim("42", "k1", "POST", "/a")
    store.complete("42", "k1", 201, '{"id":"1"}')
    with store.engine.begin() as conn:
        conn.execute(update(IdempotencyKey).values(created_at=clock.now() - timedelta(hours=25)))
    assert store.claim("42", "k1", "POST", "/a").outcome == "new"


@pytest.fixture
def http_and_rpc(store):
    counter = iter(range(1, 100))
    rpc = FakeRpc(
        {
            ("org", "resolve_actor"): lambda user_id: REP,
            ("customer", "register"): lambda **kw: {"id": str(next(counter)), "name": kw["name"]},
        }
    )
    gateway = Gateway(cache_ttl=2)
    gateway.store = store
    return client(gateway, rpc), rpc


def _headers(key: str) -> dict:
    token = tokens.issue("42", 1)[0]
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


def test_repeated_post_returns_the_first_answer_and_registers_once(http_and_rpc):
    http, rpc = http_and_rpc
    first = http.post("/api/v1/customers", json={"name": "华为"}, headers=_headers("abc"))
    second = http.post("/api/v1/customers", json={"name": "华为"}, headers=_headers("abc"))
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json() == {"id": "1", "name": "华为"}
    assert second.headers["Idempotent-Replayed"] == "true"
    assert rpc.methods_called().count("customer.register") == 1


def test_duplicate_still_in_flight_is_409_request_in_progress(http_and_rpc, store):
    http, rpc = http_and_rpc
    store.claim("42", "busy", "POST", "/api/v1/customers")  # the first is still running
    response = http.post("/api/v1/customers", json={"name": "华为"}, headers=_headers("busy"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "request_in_progress"
    assert "customer.register" not in rpc.methods_called()


def test_without_a_key_every_post_is_performed(http_and_rpc):
    http, rpc = http_and_rpc
    token = {"Authorization": _headers("x")["Authorization"]}
    http.post("/api/v1/customers", json={"name": "甲"}, headers=token)
    http.post("/api/v1/customers", json={"name": "甲"}, headers=token)
    assert rpc.methods_called().count("customer.register") == 2


def test_a_log_entry_retried_after_a_503_is_recorded_under_its_key(store):
    """The answer of a work-log POST was lost (the worklog did not answer in time: 503, the
    claim released); the retry with the same key reaches the worklog with that key, which
    records the entry once (tests/integration/test_worklog_service.py)."""
    from common.errors import ServiceUnavailable

    sent = []

    def record(**kw):
        sent.append(kw)
        if len(sent) == 1:
            raise ServiceUnavailable()
        return {"id": "31", "author_id": "42", "work_date": "2025-07-01"}

    rpc = FakeRpc({("org", "resolve_actor"): lambda user_id: REP, ("worklog", "record"): record})
    gateway = Gateway(cache_ttl=2)
    gateway.store = store
    http = client(gateway, rpc)
    body = {"activities": ["call"], "minutes": 5}
    lost = http.post("/api/v1/worklog/entries", json=body, headers=_headers("entry-7"))
    again = http.post("/api/v1/worklog/entries", json=body, headers=_headers("entry-7"))
    assert (lost.status_code, again.status_code) == (503, 201)
    assert [kw["request_key"] for kw in sent] == ["entry-7", "entry-7"]
    plain = http.post("/api/v1/worklog/entries", json=body, headers=_headers("x")
                      | {"Idempotency-Key": ""})  # fmt: skip
    assert plain.status_code == 422  # an empty key is refused, not ignored


def test_the_gateways_own_database_down_is_503_not_500(http_and_rpc, store, monkeypatch):
    """PostgreSQL restarting under the gateway's Idempotency-Key store: retry later (503)."""
    from sqlalchemy.exc import OperationalError

    def down(*_args, **_kwargs):
        raise OperationalError("INSERT …", {}, Exception("server closed the connection"))

    http, rpc = http_and_rpc
    monkeypatch.setattr(store, "claim", down)
    response = http.post("/api/v1/customers", json={"name": "华为"}, headers=_headers("pg"))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert "customer.register" not in rpc.methods_called()
