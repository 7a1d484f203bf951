"""GET /api/v1/org/units: the org units for the administration screen's tree — the gateway's
route (fake RPC) and the org service's query (SQLite in memory)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common import tokens
from common.errors import Unauthenticated, ValidationFailed
from gateway.app import Gateway
from services.org import queries
from services.org.models import Base, OrgUnit
from tests.doubles import FakeRpc, client

REP = {
    "id": "42",
    "login": "li",
    "name": "李雷",
    "level": 2,
    "org_unit_id": "3",
    "supervisor_id": None,
    "active": True,
    "path": ["42"],
}


@pytest.fixture(autouse=True)
def _secret(monkeypatch, tmp_path):
    monkeypatch.setenv("BPC_SECRET", "gateway-unit-test-secret")
    monkeypatch.setenv("BPC_DATA_DIR", str(tmp_path))


def _resolve(user_id):
    if user_id != REP["id"]:
        raise Unauthenticated()
    return REP


def test_the_gateway_lists_org_units_with_paging_arguments():
    units = {"items": [{"id": "1", "name": "总部", "parent_id": None}], "next_cursor": None}
    rpc = FakeRpc({("org", "resolve_actor"): _resolve, ("org", "list_units"): units})
    http = client(Gateway(cache_ttl=2), rpc)
    token, _ = tokens.issue(REP["id"], REP["level"])
    answer = http.get("/api/v1/org/units?limit=500", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == units
    assert ("org", "list_units", {"limit": 500, "cursor": None}) in rpc.calls
    assert http.get("/api/v1/org/units").status_code == 401


def test_units_come_parents_first_a_page_at_a_time():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        now = datetime(2026, 1, 1)
        top = OrgUnit(name="总部", parent_id=None, created_at=now)
        session.add(top)
        session.flush()
        for name in ("华东大区", "华南大区", "华北大区"):
            session.add(OrgUnit(name=name, parent_id=top.id, created_at=now))
        session.flush()
        first = queries.list_units(session, limit=2, cursor=None)
        assert [u["name"] for u in first["items"]] == ["总部", "华东大区"]
        assert first["items"][0] == {"id": str(top.id), "name": "总部", "parent_id": None}
        assert first["items"][1]["parent_id"] == str(top.id)
        rest = queries.list_units(session, limit=2, cursor=first["next_cursor"])
        assert [u["name"] for u in rest["items"]] == ["华南大区", "华北大区"]
        assert rest["next_cursor"] is None
        with pytest.raises(ValidationFailed):
            queries.list_units(session, limit=2, cursor="bm90LWEtbGlzdA")
