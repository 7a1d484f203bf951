"""The worklog service's use cases, in this process on SQLite and PostgreSQL (tests/inprocess.py),
driven with the arguments the gateway sends; entries arriving together (a group commit, two
instances) as processes on the real RabbitMQ.

Specifications (docs/DOMAIN.md §4): three clicks record an entry linked into the author's hash
chain; every rule violation is a 422 with its code and records nothing; the database itself
refuses UPDATE and DELETE of an entry; an entry altered behind the database's back is named by
verify; the opportunity's stage and holder come from opportunity events.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from common.actor import Actor
from common.errors import BusinessRuleViolated, Forbidden, NotFound, ValidationFailed
from tests.inprocess import Services
from tests.support import (
    ServiceProcess,
    customer_for,
    discard,
    eventually,
    processes_running,
    publish_event,
    rpc,
)
from tests.support import tap as event_tap

_ids = itertools.count(random.randint(10**6, 10**7) * 100)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def new_id() -> str:
    return str(next(_ids))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request, tmp_path_factory):
    """The worklog in this process (tests/inprocess.py) on each database, with the owners an
    entry's references are confirmed with: customers are registered for real, opportunities
    come from opportunity events (their owner, asked, does not know them)."""
    # a grace hour of 24: yesterday is always still accepted (and marked late) in this module
    services = Services.create(
        tmp_path_factory.mktemp("worklog"), request.param, "worklog", "customer", "opportunity",
        BPC_GRACE_HOUR="24",
    )  # fmt: skip
    yield services
    services.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(request, tmp_path_factory):
    """The worklog (and the customer service its entries' customers are confirmed with) as
    processes on each database: requests are grouped only when one process receives them at
    the same moment, and two instances race only as two processes."""
    with processes_running(tmp_path_factory.mktemp("worklog-race"), request.param, "worklog",
                           "customer", BPC_GRACE_HOUR="24") as environment:  # fmt: skip
        yield environment


@pytest.fixture
def people():
    sup = new_id()
    owner, peer = new_id(), new_id()
    return (
        Actor(id=sup, level=4, path=["1", sup], name="王主管"),
        Actor(id=owner, level=2, path=["1", sup, owner], name="张三"),
        Actor(id=peer, level=2, path=["1", sup, peer], name="李四"),
    )


def call(env, method, actor, **kwargs):
    return rpc(env, "worklog", method, actor=actor, **kwargs)


def customer_of(env, owner: Actor) -> str:
    """A customer of ``owner``'s, registered with the customer service (one per owner)."""
    return customer_for(env, owner)


def opportunity_at(env, holder: Actor, stage: str, customer: str | None = None) -> str:
    """An opportunity the worklog learns of from an opportunity event, held by ``holder``, on
    a customer of theirs."""
    opportunity_id = new_id()
    customer = customer or customer_of(env, holder)
    publish_event(
        env,
        "opportunity",
        "registered",
        {
            "opportunity_id": opportunity_id,
            "customer_id": customer,
            "pipeline_id": "1",
            "title": "年度采购",
            "amount": "1000.00",
            "owner_id": holder.id,
            "holder_id": holder.id,
            "holder_path": holder.path,
            "status": "open",
            "stage": stage,
            "stage_index": 0,
            "probability": 10,
            "stage_deadline": None,
            "at": datetime.now(SHANGHAI).isoformat(),
            "by": holder.id,
            "feasibility_score": 1.0,
        },
    )
    return opportunity_id


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


def _engine(env):
    url = env.pg_urls.get("worklog") or f"sqlite:///{env.data_dir}/worklog.db"
    return create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))


def test_three_clicks_record_an_entry_linked_into_the_chain(env, people):
    _, owner, _ = people
    tap = event_tap(env, "worklog")
    first = call(
        env, "record", owner, customer_id=customer_of(env, owner), activities=["call"], minutes=30
    )
    assert first["author_id"] == owner.id and first["work_date"] == today()
    assert first["late"] is False and first["prev_hash"] is None and len(first["hash"]) == 64
    second = call(
        env, "record", owner, customer_id=customer_of(env, owner), activities=["visit"], minutes=90
    )
    assert second["prev_hash"] == first["hash"] and second["hash"] != first["hash"]
    assert second["points"] == 3

    event = eventually(
        lambda: next((e for e in tap.drain() if e["data"]["entry_id"] == second["id"]), None),
        message="no entry_recorded event",
    )
    assert event["type"] == "entry_recorded"
    assert event["data"]["author_path"] == owner.path and event["data"]["minutes"] == 90
    assert call(env, "verify", owner) == {
        "author_id": owner.id, "valid": True, "entries": 2, "broken_at": None
    }  # fmt: skip
    tap.close()


def _count(env, author_id) -> int:
    engine = _engine(env)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM worklog_entries WHERE author_id = :a"), {"a": author_id}
        ).scalar()
    engine.dispose()
    return n


def test_the_same_request_key_records_one_entry_and_answers_it_again(env, people):
    """The gateway passes a client's Idempotency-Key on: a retry after a lost answer (timeout,
    crash, broker restart) gets the entry already recorded, not a second one."""
    _, owner, _ = people
    tap = event_tap(env, "worklog")
    before = _count(env, owner.id)
    key, customer = f"retry-{new_id()}", customer_of(env, owner)
    entry = {"customer_id": customer, "activities": ["call"], "minutes": 12}
    first = call(env, "record", owner, **entry, request_key=key)
    again = call(env, "record", owner, **entry, request_key=key)
    assert again == first
    other = call(env, "record", owner, **entry, request_key=key + "x")
    assert other["id"] != first["id"] and other["prev_hash"] == first["hash"]
    assert _count(env, owner.id) == before + 2
    assert call(env, "verify", owner)["valid"] is True

    def recorded():
        seen = [e["data"]["entry_id"] for e in tap.drain()]
        return seen if other["id"] in seen else None

    published = [i for i in eventually(recorded, message="no entry_recorded") if i == first["id"]]
    assert len(published) <= 1  # one event for the entry (it may have come before the tap)
    tap.close()


def test_each_rule_violation_is_a_422_with_its_code_and_records_nothing(env, people):
    _, owner, peer = people
    customer = customer_of(env, owner)
    call(env, "record", owner, customer_id=customer, activities=["visit"], minutes=960)
    before = _count(env, owner.id)

    def refused(code, **kwargs):
        args = {"customer_id": customer, "activities": ["call"], "minutes": 10, **kwargs}
        kind = ValidationFailed if code == "validation_failed" else BusinessRuleViolated
        with pytest.raises(kind) as error:
            call(env, "record", owner, **args)
        assert error.value.code == code, (kwargs, error.value.code, error.value.details)
        return error.value

    assert "minutes" in refused("validation_failed", minutes=0).details
    assert "minutes" in refused("validation_failed", minutes=961).details
    refused("validation_failed", minutes="30")
    over = refused("day_limit_exceeded", minutes=481)  # 960 + 481 > 1,440
    assert over.details["limit"] == 1440
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    refused("future_date", work_date=tomorrow)
    long_ago = (datetime.now(SHANGHAI) - timedelta(days=3)).date().isoformat()
    refused("too_late", work_date=long_ago)
    refused("validation_failed", activities=["dancing"])
    refused("validation_failed", activities=[])
    refused("expense_over_cap", expense="5000.01")
    refused("validation_failed", customer_id=None)  # visiting nobody

    early = opportunity_at(env, owner, "contact", customer)
    eventually(
        lambda: _try_record(env, owner, early),
        message="the opportunity event never reached the worklog",
    )
    refused("activity_not_allowed", opportunity_id=early, activities=["contract"])
    peers = opportunity_at(env, peer, "negotiate")
    eventually(lambda: _try_record(env, peer, peers), message="peer's opportunity unknown")
    refused("opportunity_not_held", opportunity_id=peers, activities=["visit"])
    assert _count(env, owner.id) == before + 1  # only _try_record's one entry on `early`


def _try_record(env, actor, opportunity_id):
    try:
        return call(env, "record", actor, opportunity_id=opportunity_id,  # on its customer
                    activities=["call"], minutes=5)  # fmt: skip
    except ValidationFailed:
        return None  # the projection does not know it yet


def test_yesterday_is_accepted_before_the_grace_hour_and_marked_late(env, people):
    _, owner, _ = people
    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()
    entry = call(env, "record", owner, activities=["training"], minutes=60, work_date=yesterday)
    assert entry["late"] is True and entry["work_date"] == yesterday


def test_yesterday_after_the_grace_hour_is_too_late_and_records_nothing(tmp_path, people):
    # BPC_GRACE_HOUR=0: yesterday's log closed at midnight, so whatever the time of day the
    # test runs, yesterday is past its grace hour (today is still accepted).
    environment = Services.create(tmp_path, "sqlite", "worklog", BPC_GRACE_HOUR="0")
    try:
        _, owner, _ = people
        yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()
        with pytest.raises(BusinessRuleViolated) as error:
            call(environment, "record", owner, activities=["training"], minutes=60,
                 work_date=yesterday)  # fmt: skip
        assert error.value.code == "too_late"
        assert call(environment, "list", owner, author_id=owner.id)["items"] == []
        entry = call(environment, "record", owner, activities=["training"], minutes=60)
        assert entry["late"] is False and entry["work_date"] == today()
    finally:
        environment.close()


def test_the_database_refuses_update_and_delete_and_verify_names_a_tampered_entry(env, people):
    _, owner, _ = people
    ids = [
        call(
            env,
            "record",
            owner,
            customer_id=customer_of(env, owner),
            activities=["call"],
            minutes=m,
        )["id"]
        for m in (10, 20, 30)
    ]
    engine = _engine(env)
    for statement in (
        "UPDATE worklog_entries SET minutes = 600 WHERE id = :id",
        "DELETE FROM worklog_entries WHERE id = :id",
    ):
        with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
            conn.execute(text(statement), {"id": int(ids[1])})
        assert "immutable" in str(refused.value) or "不可修改" in str(refused.value)
    assert call(env, "get", owner, entry_id=ids[1])["minutes"] == 20

    # an operator with the keys disables the guard and inflates an entry: verify names it
    with engine.begin() as conn:
        if env.backend == "postgresql":
            conn.execute(
                text("ALTER TABLE worklog_entries DISABLE TRIGGER worklog_entries_append_only")
            )
            conn.execute(
                text("UPDATE worklog_entries SET minutes = 600 WHERE id = :id"), {"id": int(ids[1])}
            )
            conn.execute(
                text("ALTER TABLE worklog_entries ENABLE TRIGGER worklog_entries_append_only")
            )
        else:
            conn.execute(text("DROP TRIGGER worklog_entries_no_update"))
            conn.execute(
                text("UPDATE worklog_entries SET minutes = 600 WHERE id = :id"), {"id": int(ids[1])}
            )
    engine.dispose()
    checked = call(env, "verify", owner)
    assert checked["valid"] is False and checked["broken_at"] == ids[1]
    assert checked["entries"] == 3


def test_notes_append_and_visibility_follows_the_chain_of_command(env, people):
    supervisor, owner, peer = people
    entry = call(
        env, "record", owner, customer_id=customer_of(env, owner), activities=["call"], minutes=15
    )
    with pytest.raises(NotFound):
        call(env, "get", peer, entry_id=entry["id"])
    with pytest.raises(NotFound):
        call(env, "add_note", peer, entry_id=entry["id"], text="不是我的")
    note = call(env, "add_note", owner, entry_id=entry["id"], text="客户改约到下周三")
    again = call(env, "get", owner, entry_id=entry["id"])
    assert again["notes"][0]["text"] == "客户改约到下周三" and again["hash"] == entry["hash"]
    assert note["entry_id"] == entry["id"]
    call(env, "record", supervisor, activities=["meeting"], minutes=30)  # the projection knows him
    seen = call(env, "list", supervisor, author_id=owner.id)["items"]
    assert entry["id"] in {e["id"] for e in seen}
    with pytest.raises(Forbidden):
        call(env, "add_note", supervisor, entry_id=entry["id"], text="主管备注")
    assert call(env, "list", peer, author_id=owner.id)["items"] == []


def test_the_export_pages_the_log_in_id_order_in_either_shape(env, people):
    # A rebuild (scoring) pages through export_entries: level 9 only; "items" are the
    # entry_recorded data, "columns" the same values as rows.
    _, owner, _ = people
    top = Actor(id="1", level=9, path=["1"], name="董事长")
    recorded = [
        call(
            env,
            "record",
            owner,
            customer_id=customer_of(env, owner),
            activities=["call"],
            minutes=m,
        )
        for m in (10, 20, 30)
    ]
    first = int(recorded[0]["id"]) - 1
    with pytest.raises(Forbidden):
        call(env, "export_entries", owner, after_id=first, limit=2)
    page = call(env, "export_entries", top, after_id=first, limit=2)
    assert [i["entry_id"] for i in page["items"]] == [r["id"] for r in recorded[:2]]
    assert page["next_after_id"] == recorded[1]["id"]
    item = page["items"][0]
    assert (item["author_id"], item["minutes"], item["activities"]) == (owner.id, 10, ["call"])
    assert item["author_path"] == owner.path and item["expense"] == "0.00"
    assert item["recorded_at"] == recorded[0]["recorded_at"]
    columns = call(env, "export_entries", top, after_id=first, limit=2, format="columns")
    rows = [dict(zip(columns["columns"], row, strict=True)) for row in columns["rows"]]
    assert rows == page["items"]
    assert columns["next_after_id"] == page["next_after_id"]
    rest = call(env, "export_entries", top, after_id=int(page["next_after_id"]), limit=2)
    assert [i["entry_id"] for i in rest["items"]] == [recorded[2]["id"]]
    with pytest.raises(ValidationFailed):
        call(env, "export_entries", top, format="csv")


def test_a_bulk_import_chains_past_entries_as_recording_would(env, people):
    """Demo data and migrations: imported history joins each author's hash chain, so verify
    holds for it, and an entry recorded afterwards links onto the imported head."""
    sup, owner, peer = people
    admin = Actor(id="1", level=9, path=["1"], name="管理员")
    items = [
        {"author_id": author.id, "work_date": f"2026-10-{day:02d}",
         "recorded_at": f"2026-10-{day:02d}T18:00:00+08:00", "customer_id": new_id(),
         "activities": ["visit", "call"] if day % 2 else ["call"], "minutes": 30 + day,
         "expense": "12.50" if day == 3 else None,
         "next_appointment_at": "2026-11-02T10:00:00+08:00" if day == 5 else None}
        for day in range(1, 11) for author in (owner, peer)
    ]  # fmt: skip
    assert call(env, "import_entries", admin, items=items[:8]) == {"imported": 8}
    assert call(env, "import_entries", admin, items=items[8:]) == {"imported": 12}
    for author in (owner, peer):
        assert call(env, "verify", author) == {
            "author_id": author.id, "valid": True, "entries": 10, "broken_at": None
        }  # fmt: skip
    listed = call(env, "list", owner, author_id=owner.id, limit=50)["items"]
    by_date = {e["work_date"]: e for e in listed}
    assert by_date["2026-10-03"]["points"] == 3 + 1 and by_date["2026-10-03"]["minutes"] == 33
    assert by_date["2026-10-03"]["expense"] == "12.50"
    head = max(listed, key=lambda e: int(e["id"]))
    after = call(
        env, "record", owner, customer_id=customer_of(env, owner), activities=["call"], minutes=20
    )
    assert after["prev_hash"] == head["hash"]
    assert call(env, "verify", owner)["valid"] is True
    with pytest.raises(ValidationFailed) as caught:
        call(env, "import_entries", admin, items=[{**items[0], "activities": ["teleport"]}])
    assert "activities" in caught.value.details
    with pytest.raises(ValidationFailed):
        call(env, "import_entries", admin, items=[{**items[0], "minutes": 961}])
    with pytest.raises(Forbidden):
        call(env, "import_entries", sup, items=items[:1])
    assert call(env, "verify", peer)["entries"] == 10


def test_entries_sent_at_the_same_moment_are_each_answered_on_one_chain(running, people):
    """Entries arriving together are recorded together (a group commit), yet each request gets
    its own answer or refusal, as if it had come alone: every chain stays whole, a day's limit
    refuses exactly the entry past it, a repeated Idempotency-Key gets the first entry back,
    and one refused entry refuses nothing else of its group."""
    from nameko.standalone.rpc import ClusterRpcProxy

    env = running
    sup = people[0]
    a, b, c, d = (
        Actor(id=i, level=2, path=["1", sup.id, i], name=f"销售{n}")
        for n, i in enumerate(new_id() for _ in range(4))
    )

    def plain(who):  # an entry on the author's own customer
        return {"customer_id": customer_of(env, who), "activities": ["call"]}

    asks = [(a, {**plain(a), "minutes": 100}) for _ in range(15)]  # 1,400 fits, 1,500 does not
    keys = [f"same-{new_id()}" for _ in range(5)]
    asks += [(b, {**plain(b), "minutes": 10, "request_key": k}) for k in keys * 2]
    asks += [(who, {**plain(who), "minutes": 15}) for _ in range(8) for who in (c, d)]
    asks.insert(20, (c, {**plain(c), "minutes": 15, "activities": ["dancing"]}))

    runners = {
        who.id: ClusterRpcProxy(
            env.nameko_config(), context_data={"bpc_actor": who.to_header()}, timeout=30
        )
        for who in (a, b, c, d)
    }
    proxies = {uid: runner.start() for uid, runner in runners.items()}  # connected first
    try:  # then every request sent before any answer is read
        replies = [proxies[who.id].worklog.record.call_async(**args) for who, args in asks]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except (BusinessRuleViolated, ValidationFailed) as refusal:
                outcomes.append(refusal)
    finally:
        for runner in runners.values():
            runner.stop()

    def answers(actor):
        return [o for (who, _), o in zip(asks, outcomes, strict=True) if who is actor]

    refusals = [o for o in answers(a) if isinstance(o, Exception)]
    assert [r.code for r in refusals] == ["day_limit_exceeded"]
    assert _count(env, a.id) == 14
    by_key = {}
    for (who, args), outcome in zip(asks, outcomes, strict=True):
        if who is b:
            assert not isinstance(outcome, Exception), outcome
            by_key.setdefault(args["request_key"], []).append(outcome["id"])
    assert all(len(set(ids)) == 1 for ids in by_key.values()) and len(by_key) == 5
    assert _count(env, b.id) == 5
    wrong = [o for o in answers(c) if isinstance(o, Exception)]
    assert [w.code for w in wrong] == ["validation_failed"] and "activities" in wrong[0].details
    assert _count(env, c.id) == 8 and _count(env, d.id) == 8
    for actor in (a, b, c, d):
        entries = sorted(
            {o["id"]: o for o in answers(actor) if not isinstance(o, Exception)}.values(),
            key=lambda e: int(e["id"]),
        )
        assert [e["prev_hash"] for e in entries] == [None] + [e["hash"] for e in entries[:-1]]
        assert call(env, "verify", actor)["valid"] is True
    if env.backend == "postgresql":  # entries of one transaction share its xmin
        engine = _engine(env)
        with engine.connect() as conn:
            transactions = conn.execute(
                text(
                    "SELECT count(DISTINCT xmin::text) FROM worklog_entries "
                    "WHERE author_id IN (:a, :b, :c, :d)"
                ),
                {"a": a.id, "b": b.id, "c": c.id, "d": d.id},
            ).scalar()
        engine.dispose()
        assert transactions < 14 + 5 + 8 + 8, "no two entries shared a transaction"


def test_two_instances_appending_to_one_chain_at_once_keep_it_whole(running, people):
    """Two worklog instances share the database: entries of one salesperson answered by both at
    the same moment cannot both follow the same link; the group that loses is recorded again
    entry by entry on the new head. Every answered entry is stored once, on one whole chain."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from common.errors import Conflict

    env = running
    sup = people[0]
    uid = new_id()
    rep = Actor(id=uid, level=2, path=["1", sup.id, uid], name="赵六")
    second = ServiceProcess(env, "worklog", BPC_GRACE_HOUR="24").start()
    try:
        second.wait_ready()
        context = {"bpc_actor": rep.to_header()}
        answered = []
        with ClusterRpcProxy(env.nameko_config(), context_data=context, timeout=60) as proxy:
            entry = {"customer_id": customer_of(env, rep), "activities": ["call"], "minutes": 5}
            for _ in range(3):  # waves of entries, spread by the broker over both instances
                replies = [proxy.worklog.record.call_async(**entry) for _ in range(24)]
                for reply in replies:
                    try:
                        answered.append(reply.result())
                    except Conflict:  # 409 "try again": still busy after the retries
                        pass
        assert len(answered) >= 36
        assert len({e["id"] for e in answered}) == len(answered)
        assert _count(env, rep.id) == len(answered)  # a refused one left nothing behind
        assert call(env, "verify", rep)["valid"] is True
    finally:
        discard(second)
