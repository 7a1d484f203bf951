"""The customer service's use cases, in this process (tests/inprocess.py) on SQLite (or, with
BPC_TEST_PG=1, a freshly created PostgreSQL database, dropped afterwards); what only races
between processes make real on two processes of it and the real RabbitMQ.

Specifications: a customer is never registered twice, whoever asks and however many ask at
once; contacts are masked and unmasked only by the owner's chain within a daily quota;
exports need level 6; a deactivated owner's customers pass to the supervisor exactly once.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from common.actor import Actor  # noqa: E402
from common.errors import (  # noqa: E402
    DuplicateCustomer,
    Forbidden,
    NotFound,
    QuotaExceeded,
    Unauthenticated,
    ValidationFailed,
)
from common.events import Envelope  # noqa: E402
from tests.inprocess import Services  # noqa: E402
from tests.support import (  # noqa: E402
    ServiceProcess,
    discard,
    eventually,
    processes_running,
    publish_event,
    queue_depth,
    rpc,
)
from tests.support import tap as event_tap  # noqa: E402

VALID_USCC = "91350100M000100Y43"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def fresh_uscc() -> str:
    """A valid unified social credit code never used before in this run."""
    body = "9111" + "".join(random.choice("0123456789") for _ in range(6))
    body += "".join(random.choice(USCC_ALPHABET) for _ in range(7))
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def tag() -> str:
    return uuid.uuid4().hex[:8]


_ids = itertools.count(random.randint(10**6, 10**7) * 100)


def new_id() -> str:
    return str(next(_ids))


@dataclass
class Team:
    """top (level 9 board) → director (level 5) → supervisor (level 4) → owner, peer, trainee."""

    top: Actor
    director: Actor
    supervisor: Actor
    owner: Actor
    peer: Actor
    trainee: Actor
    branch_manager: Actor


def make_team() -> Team:
    top_id, dir_id, sup_id, owner_id, peer_id, trainee_id = (new_id() for _ in range(6))
    chain = [top_id, dir_id, sup_id]
    return Team(
        top=Actor(id=top_id, level=9, path=[top_id], name="董事长"),
        director=Actor(id=dir_id, level=5, path=[top_id, dir_id], name="赵经理"),
        supervisor=Actor(id=sup_id, level=4, path=chain, name="王主管"),
        owner=Actor(id=owner_id, level=2, path=[*chain, owner_id], name="张三"),
        peer=Actor(id=peer_id, level=2, path=[*chain, peer_id], name="李四"),
        trainee=Actor(id=trainee_id, level=1, path=[*chain, trainee_id], name="欧阳明月"),
        branch_manager=Actor(id=dir_id, level=6, path=[top_id, dir_id], name="赵经理"),
    )


BACKEND = "postgresql" if os.environ.get("BPC_TEST_PG") == "1" else "sqlite"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The customer service in this process (tests/inprocess.py), with the worklog, asked of
    the entries a revisit verifies that the customer service has not seen yet."""
    services = Services.create(tmp_path_factory.mktemp("customer"), BACKEND, "customer", "worklog")
    yield services
    services.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """Two processes of the customer service on one database, as a scaled deployment runs them:
    races between processes are real (registrations at once, an event delivered twice to
    either process, reminder passes at once, its queues)."""
    tmp = tmp_path_factory.mktemp("customer-race")
    with processes_running(tmp, BACKEND, "customer") as environment:
        second = ServiceProcess(environment, "customer", BPC_INSTANCE="1")
        second.log_path = tmp / "customer-second.log"
        try:
            second.start().wait_ready()
            yield environment
        finally:
            discard(second)


@pytest.fixture(scope="module")
def events(env):
    tap = event_tap(env, "customer")
    yield tap
    tap.close()


@pytest.fixture(scope="module")
def running_events(running):
    tap = event_tap(running, "customer")
    yield tap
    tap.close()


def call(env, actor: Actor | None, method: str, **kwargs):
    return rpc(env, "customer", method, actor=actor, timeout=30, **kwargs)


def db_engine(env):
    url = env.pg_urls.get("customer") or f"sqlite:///{env.data_dir / 'customer.db'}"
    return create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))


def contact(phone: str | None = None, **extra) -> dict:
    return {
        "name": "陈采购",
        "title": "采购经理",
        "phone": phone,
        "email": "chen@example.com",
        **extra,
    }


def a_phone() -> str:
    return "139" + str(random.randint(10**7, 10**8 - 1))


# --- registration and duplicates ---------------------------------------------------------------


def test_registered_customer_belongs_to_caller_and_shows_contacts_masked(env, events):
    team = make_team()
    phone = a_phone()
    name = f"福州{tag()}软件有限公司"
    created = call(
        env,
        team.owner,
        "register",
        name=name,
        uscc=fresh_uscc().lower(),
        industry="软件",
        region="福州",
        founded_on="2001-05-20",
        contacts=[
            contact(
                "+86 " + phone,
                birthday="1980-02-29",
                birthday_calendar="lunar",
                decision_maker=True,
            )
        ],
    )
    assert created["owner_id"] == team.owner.id
    assert created["status"] == "prospect"
    assert created["uscc"] == created["uscc"].upper()
    assert created["founded_on"] == "2001-05-20"
    shown = call(env, team.owner, "get", customer_id=created["id"])
    [person] = shown["contacts"]
    assert person["phone"] == phone[:3] + "****" + phone[-4:]
    assert person["email"] == "c***@example.com"
    assert person["birthday_calendar"] == "lunar" and person["decision_maker"] is True
    registered = eventually(
        lambda: [
            e
            for e in events.of_type("customer_registered")
            if e["data"]["customer_id"] == created["id"]
        ]
    )
    assert registered[0]["data"]["owner_id"] == team.owner.id


def test_same_uscc_is_refused_to_anyone_naming_only_the_masked_owner(env):
    team = make_team()
    uscc = fresh_uscc()
    first = call(env, team.owner, "register", name=f"厦门{tag()}贸易有限公司", uscc=uscc)
    with pytest.raises(DuplicateCustomer) as caught:
        call(env, team.peer, "register", name=f"完全不同{tag()}有限公司", uscc=uscc)
    assert caught.value.details == {
        "customer_id": first["id"],
        "owner": {"level": 2, "masked_name": "张*"},
        "matched_on": "uscc",
        "yours": False,
    }
    assert caught.value.code == "duplicate_customer"


@pytest.mark.parametrize(
    "variant",
    ["{t}华为技术 （有限公司）", "{t}华为技术集团有限公司", " {t}华为技术公司 ", "{T}华为技术"],
)
def test_name_variants_of_a_registered_company_are_duplicates(env, variant):
    team = make_team()
    t = tag()
    first = call(env, team.owner, "register", name=f"{t}华为技术有限公司")
    with pytest.raises(DuplicateCustomer) as caught:
        call(env, team.peer, "register", name=variant.format(t=t, T=t.upper()))
    assert caught.value.details["customer_id"] == first["id"]
    assert caught.value.details["matched_on"] == "name"


def test_owner_registering_again_is_told_it_is_already_theirs(env):
    team = make_team()
    name = f"Acme {tag()} Co., Ltd."
    first = call(env, team.owner, "register", name=name)
    with pytest.raises(DuplicateCustomer) as caught:
        call(env, team.owner, "register", name=name.upper().replace(" CO., LTD.", " Inc"))
    assert caught.value.details["yours"] is True
    assert caught.value.details["customer_id"] == first["id"]
    assert caught.value.message == "该客户已是您的客户 / This customer is already yours"


def test_a_contact_phone_belongs_to_one_customer_only(env):
    team = make_team()
    phone = a_phone()
    first = call(
        env, team.owner, "register", name=f"南京{tag()}有限公司", contacts=[contact(phone)]
    )
    with pytest.raises(DuplicateCustomer) as caught:
        call(
            env,
            team.peer,
            "register",
            name=f"苏州{tag()}有限公司",
            contacts=[contact(f"+86-{phone[:3]}-{phone[3:7]}-{phone[7:]}")],
        )
    assert caught.value.details["customer_id"] == first["id"]
    assert caught.value.details["matched_on"] == "phone"


def test_check_lists_near_duplicates_before_the_form_is_filled(env):
    team = make_team()
    t = tag()
    phone = a_phone()
    first = call(
        env, team.owner, "register", name=f"深圳市{t}计算机系统有限公司", contacts=[contact(phone)]
    )
    by_name = call(env, team.peer, "check", name=f"深圳{t}计算机系统有限公司")
    [match] = [m for m in by_name["matches"] if m["customer_id"] == first["id"]]
    assert match["similarity"] >= 0.85 and match["matched_on"] == "name"
    assert match["owner"] == {"level": 2, "masked_name": "张*"}
    by_phone = call(env, team.peer, "check", phone=phone)
    assert [m["customer_id"] for m in by_phone["matches"]] == [first["id"]]
    assert by_phone["matches"][0]["matched_on"] == "phone"
    unrelated = call(env, team.peer, "check", name=f"完全无关的名字{tag()}{tag()}")
    assert first["id"] not in [m["customer_id"] for m in unrelated["matches"]]


def test_twenty_simultaneous_registrations_of_one_company_make_one_customer(running):
    env = running
    name = f"成都{tag()}智能科技有限公司"
    uscc = fresh_uscc()
    actors = [make_team().owner for _ in range(20)]
    replies = []
    proxies = []
    for actor in actors:
        proxy = ClusterRpcProxy(
            env.nameko_config(), context_data={"bpc_actor": actor.to_header()}, timeout=60
        )
        proxies.append(proxy)
    started = [p.start() for p in proxies]
    try:
        for cluster in started:
            replies.append(cluster.customer.register.call_async(name=name, uscc=uscc))
        won, refused = [], []
        for reply in replies:
            try:
                won.append(reply.result())
            except DuplicateCustomer as exc:
                refused.append(exc)
    finally:
        for proxy in proxies:
            proxy.stop()
    assert len(won) == 1, [e.details for e in refused]
    assert len(refused) == 19
    assert {e.details["customer_id"] for e in refused} == {won[0]["id"]}


# --- visibility --------------------------------------------------------------------------------


def test_owner_and_supervisor_chain_see_a_customer_and_peers_do_not(env):
    team = make_team()
    created = call(
        env, team.owner, "register", name=f"武汉{tag()}有限公司", contacts=[contact(a_phone())]
    )
    for viewer in (team.owner, team.supervisor, team.director, team.top):
        assert call(env, viewer, "get", customer_id=created["id"])["id"] == created["id"]
    with pytest.raises(NotFound):
        call(env, team.peer, "get", customer_id=created["id"])
    assert created["id"] not in [c["id"] for c in call(env, team.peer, "list", limit=500)["items"]]
    listed = call(env, team.supervisor, "list", owner_id=team.owner.id)
    assert [c["id"] for c in listed["items"]] == [created["id"]]
    assert "****" in listed["items"][0]["contacts"][0]["phone"]


def test_list_searches_names_and_pages_by_cursor(env):
    team = make_team()
    t = tag()
    ids = [
        call(env, team.owner, "register", name=f"{t}青岛第{i}号有限公司")["id"] for i in range(5)
    ]
    seen, cursor = [], None
    while True:
        page = call(env, team.owner, "list", q=t, limit=2, cursor=cursor)
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen, key=int) == sorted(ids, key=int)
    assert len(seen) == 5
    [only] = call(env, team.owner, "list", q=f"{t}青岛第3号")["items"]
    assert only["id"] == ids[3]


def test_unknown_customer_is_not_found(env):
    with pytest.raises(NotFound):
        call(env, make_team().owner, "get", customer_id="2147483000")


# --- unmask ------------------------------------------------------------------------------------


def test_supervisor_unmasks_a_contact_and_the_access_is_audited(env, events):
    team = make_team()
    phone = a_phone()
    created = call(
        env, team.owner, "register", name=f"长沙{tag()}有限公司", contacts=[contact(phone)]
    )
    contact_id = created["contacts"][0]["id"]
    full = call(env, team.supervisor, "unmask", customer_id=created["id"], contact_id=contact_id)
    assert full["phone"] == phone and full["email"] == "chen@example.com"
    with pytest.raises(Forbidden):
        call(env, team.peer, "unmask", customer_id=created["id"], contact_id=contact_id)
    audited = eventually(
        lambda: [
            e
            for e in events.of_type("contact_unmasked")
            if e["data"]["actor_id"] == team.supervisor.id
        ]
    )
    assert audited[0]["data"]["target_type"] == "contact"
    assert audited[0]["data"]["target_id"] == contact_id
    assert audited[0]["data"]["details"] == {"customer_id": created["id"]}


def test_trainee_twenty_first_unmask_of_the_day_is_refused(env):
    team = make_team()
    created = call(
        env, team.trainee, "register", name=f"西安{tag()}有限公司", contacts=[contact(a_phone())]
    )
    contact_id = created["contacts"][0]["id"]
    for _ in range(20):
        call(env, team.trainee, "unmask", customer_id=created["id"], contact_id=contact_id)
    with pytest.raises(QuotaExceeded) as caught:
        call(env, team.trainee, "unmask", customer_id=created["id"], contact_id=contact_id)
    assert caught.value.details == {"limit": 20, "used": 20}
    assert caught.value.status == 429
    # a supervisor has no quota
    for _ in range(3):
        call(env, team.supervisor, "unmask", customer_id=created["id"], contact_id=contact_id)


# --- export ------------------------------------------------------------------------------------


def test_branch_manager_exports_visible_customers_masked_and_audited(env, events):
    team = make_team()
    phone = a_phone()
    name = f"郑州{tag()}有限公司"
    call(env, team.owner, "register", name=name, contacts=[contact(phone)])
    with pytest.raises(Forbidden):
        call(env, team.director, "export")
    exported = call(env, team.branch_manager, "export")
    assert exported["filename"].endswith(".csv")
    assert exported["csv"].startswith("\ufeff")
    assert name in exported["csv"]
    assert phone not in exported["csv"] and phone[:3] + "****" + phone[-4:] in exported["csv"]
    audited = eventually(
        lambda: [
            e
            for e in events.of_type("customers_exported")
            if e["data"]["actor_id"] == team.branch_manager.id
        ]
    )
    assert audited[0]["data"]["details"]["count"] >= 1


# --- org events --------------------------------------------------------------------------------


def test_deactivated_owner_customers_pass_to_the_supervisor_once(running, running_events):
    env, events = running, running_events
    team = make_team()
    ids = [call(env, team.owner, "register", name=f"合肥{tag()}有限公司")["id"] for _ in range(2)]
    data = {
        "user_id": team.owner.id,
        "supervisor_id": team.supervisor.id,
        "supervisor_path": team.supervisor.path,
        "path": team.owner.path,
    }
    envelope = Envelope.new("org", "user_deactivated", data)
    publish_event(env, "org", "user_deactivated", data, envelope=envelope)
    publish_event(env, "org", "user_deactivated", data, envelope=envelope)  # delivered twice

    def handed_over():
        mine = call(env, team.supervisor, "list", owner_id=team.supervisor.id)["items"]
        return sorted(c["id"] for c in mine) == sorted(ids)

    eventually(handed_over, message="customers did not pass to the supervisor")
    queue = "evt.org.user_deactivated--customer.on_user_deactivated"
    eventually(lambda: queue_depth(env, queue) == 0 and queue_depth(env, queue + ".retry") == 0)
    time.sleep(1.5)  # let the duplicate delivery finish its (empty) work
    announced = [
        e for e in events.of_type("customer_handed_over") if e["data"]["customer_id"] in ids
    ]
    assert sorted(e["data"]["customer_id"] for e in announced) == sorted(ids)
    assert {e["data"]["to_owner_id"] for e in announced} == {team.supervisor.id}
    with db_engine(env).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT customer_id, from_owner, to_owner FROM ownership_history "
                "WHERE reason = 'owner_deactivated' AND from_owner = :u"
            ),
            {"u": team.owner.id},
        ).all()
    assert sorted(str(r.customer_id) for r in rows) == sorted(ids)
    assert {r.to_owner for r in rows} == {team.supervisor.id}
    with pytest.raises(NotFound):  # the former owner is no longer the owner, nor in the chain
        call(env, team.peer, "get", customer_id=ids[0])


def test_moved_supervisor_takes_the_subtree_customers_along(env):
    team = make_team()
    created = call(env, team.owner, "register", name=f"昆明{tag()}有限公司")
    director_id = new_id()
    new_director = Actor(id=director_id, level=5, path=[team.top.id, director_id], name="孙总监")
    publish_event(
        env,
        "org",
        "user_moved",
        {
            "user_id": team.supervisor.id,
            "old_path": team.supervisor.path,
            "new_path": [*new_director.path, team.supervisor.id],
            "level": 4,
            "org_unit_id": None,
            "supervisor_id": new_director.id,
        },
    )
    eventually(lambda: call(env, new_director, "get", customer_id=created["id"]))
    with pytest.raises(NotFound):
        call(env, team.director, "get", customer_id=created["id"])


def test_user_created_event_fills_the_owner_projection(env):
    team = make_team()
    created = call(env, team.owner, "register", name=f"贵阳{tag()}有限公司")
    publish_event(
        env,
        "org",
        "user_created",
        {
            "user_id": team.owner.id,
            "login": "ouyang",
            "name": "欧阳明月",
            "level": 3,
            "org_unit_id": None,
            "supervisor_id": team.supervisor.id,
            "path": team.owner.path,
        },
    )

    def renamed():
        [m] = [
            m
            for m in call(env, team.peer, "check", name=created["name"])["matches"]
            if m["customer_id"] == created["id"]
        ]
        return m["owner"] == {"level": 3, "masked_name": "欧**月"}

    eventually(renamed)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, kwargs, field",
    [
        ("register", {"name": 5}, "name"),
        ("register", {"name": "ﷺ" * 20}, "name"),
        ("register", {"name": "Acme", "uscc": "91350100M000100Y44"}, "uscc"),
        ("register", {"name": "Acme", "colour": "red"}, "colour"),
        ("register", {"name": "Acme", "contacts": [{"phone": "x"}]}, "contacts"),
        ("get", {"customer_id": "abc"}, "customer_id"),
        ("get", {}, "customer_id"),
        ("unmask", {"customer_id": "1", "contact_id": None}, "contact_id"),
        ("list", {"limit": 0}, "limit"),
        ("list", {"cursor": "not-a-cursor"}, "cursor"),
        ("check", {"uscc": "123"}, "uscc"),
        ("export", {"format": "xlsx"}, "format"),
    ],
)
def test_bad_arguments_are_validation_failures(env, method, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        call(env, make_team().branch_manager, method, **kwargs)
    assert field in caught.value.details


def test_a_call_without_an_actor_is_unauthenticated(env):
    with pytest.raises(Unauthenticated):
        call(env, None, "list")
