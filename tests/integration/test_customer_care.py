"""Customer care in the customer service, in this process or on two processes and the real
RabbitMQ, SQLite or PostgreSQL, as tests/integration/test_customer_service.py runs it.

Specifications (docs/DOMAIN.md §7, docs/API.md "Customers"): a won opportunity makes its customer a
care customer whose revisit falls due after the interval (P15D by default); reminders for a window
return exactly the decision makers' birthdays (solar, lunar, 29 February on the 28th), founding
anniversaries, important dates, appointments agreed in work logs and due revisits of the customers
the caller sees; a revisit by the owner's chain or customer service of the branch may deny a claimed
visit — once, never one's own — and the denial is published for scoring; the referral graph gives
referrers, signed customers who never referred, and chain depths, and a referral cycle is refused.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import random  # noqa: E402
import uuid  # noqa: E402
from datetime import date, timedelta  # noqa: E402

import pytest  # noqa: E402
from lunar_python import Lunar, Solar  # noqa: E402

from common import clock  # noqa: E402
from common.actor import Actor  # noqa: E402
from common.errors import Conflict, Forbidden, NotFound, ValidationFailed  # noqa: E402
from tests.integration import test_customer_service as customer_it  # noqa: E402
from tests.integration.test_customer_service import (  # noqa: E402
    call,
    contact,
    make_team,
    new_id,
    tag,
)
from tests.support import eventually, publish_event  # noqa: E402

# the customer service of tests/integration/test_customer_service.py, in this process and as two
# processes, and their event taps
env = customer_it.env
events = customer_it.events
running = customer_it.running
running_events = customer_it.running_events


def register(env, actor: Actor, **fields) -> dict:
    return call(env, actor, "register", name=f"{tag()}精密机械有限公司", **fields)


def solar_of(lunar: Lunar) -> date:
    day = lunar.getSolar()
    return date(day.getYear(), day.getMonth(), day.getDay())


def won(env, customer_id: str, owner: Actor, at: str) -> None:
    publish_event(env, "opportunity", "won", {
        "opportunity_id": new_id(), "customer_id": customer_id, "pipeline_id": "1",
        "title": "数控机床", "amount": "800000.00", "owner_id": owner.id,
        "holder_id": owner.id, "holder_path": owner.path, "status": "won", "stage": "won",
        "stage_index": 6, "probability": 100, "stage_deadline": None, "at": at, "by": owner.id,
        "reason": None, "analysis": None, "approved_by": None,
    })  # fmt: skip


def entry(env, customer_id: str, author: Actor, activities: list[str], appointment=None) -> str:
    entry_id = str(uuid.uuid4())
    publish_event(env, "worklog", "entry_recorded", {
        "entry_id": entry_id, "author_id": author.id, "author_path": author.path,
        "work_date": "2026-11-20", "recorded_at": "2026-11-20T18:00:00+08:00", "late": False,
        "customer_id": customer_id, "opportunity_id": None, "stage": None,
        "activities": activities, "points": 3.0, "minutes": 90, "expense": "0.00",
        "next_appointment_at": appointment, "difficulty": None,
    })  # fmt: skip
    return entry_id


def reminders(env, actor: Actor, start: str, days: int) -> list[tuple]:
    answer = call(env, actor, "reminders", **{"from": start, "days": days})
    return [(i["kind"], i["date"], i["customer_id"], i.get("contact_id")) for i in answer["items"]]


def test_reminders_of_a_window_are_exactly_the_expected_items(env):
    team = make_team()
    # the window: 26 February to 2 March 2027 (five days)
    lunar_day = Solar.fromYmd(2027, 3, 1).getLunar()
    born_lunar = solar_of(Lunar.fromYmd(1985, lunar_day.getMonth(), lunar_day.getDay()))
    customer = register(env, team.owner, founded_on="2010-03-02", contacts=[
        contact(None, name="王建国", birthday="1980-02-27", decision_maker=True),
        contact(None, name="李春花", birthday=born_lunar.isoformat(), birthday_calendar="lunar",
                decision_maker=True),
        contact(None, name="赵闰年", birthday="1992-02-29", decision_maker=True),
        contact(None, name="钱不决策", birthday="1980-02-27", decision_maker=False),
        contact(None, name="孙窗外", birthday="1980-03-05", decision_maker=True),
    ])  # fmt: skip
    cid = customer["id"]
    solar_dm, lunar_dm, leap_dm = (c["id"] for c in customer["contacts"][:3])
    call(env, team.owner, "add_important_date", customer_id=cid, label="新厂投产",
         date="2027-02-26", recurring=False)  # fmt: skip
    call(env, team.owner, "add_important_date", customer_id=cid, label="签约纪念日",
         date="2020-03-01", recurring=True)  # fmt: skip
    call(env, team.owner, "add_important_date", customer_id=cid, label="去年的展会",
         date="2026-02-27", recurring=False)  # fmt: skip
    entry(env, cid, team.owner, ["call"], appointment="2027-02-28T10:00:00+08:00")
    entry(env, cid, team.owner, ["call"], appointment="2027-03-03T10:00:00+08:00")  # after
    won(env, cid, team.owner, "2027-02-12T09:00:00+08:00")  # revisit due 15 days later
    expected = [
        ("important_date", "2027-02-26", cid, None),
        ("birthday", "2027-02-27", cid, solar_dm),
        ("revisit", "2027-02-27", cid, None),
        ("birthday", "2027-02-28", cid, leap_dm),
        ("appointment", "2027-02-28", cid, None),
        ("birthday", "2027-03-01", cid, lunar_dm),
        ("important_date", "2027-03-01", cid, None),
        ("anniversary", "2027-03-02", cid, None),
    ]
    eventually(lambda: reminders(env, team.owner, "2027-02-26", 5) == expected, timeout=30)
    # the supervisor sees them too; a peer sees none of them
    assert reminders(env, team.supervisor, "2027-02-26", 5) == expected
    assert reminders(env, team.peer, "2027-02-26", 5) == []
    # the lunar birthday moves with the lunar calendar: in 2028 it is where the library says
    in_2028 = solar_of(Lunar.fromYmd(2028, lunar_day.getMonth(), lunar_day.getDay()))
    assert in_2028 != date(2028, 3, 1)
    birthdays_2028 = [
        r for r in reminders(env, team.owner, (in_2028 - timedelta(days=1)).isoformat(), 3)
        if r[0] == "birthday"
    ]  # fmt: skip
    assert birthdays_2028 == [("birthday", in_2028.isoformat(), cid, lunar_dm)]
    # 29 February in a leap year is itself
    assert ("birthday", "2028-02-29", cid, leap_dm) in reminders(env, team.owner, "2028-02-28", 2)
    assert ("birthday", "2028-02-28", cid, leap_dm) not in reminders(
        env, team.owner, "2028-02-28", 2
    )


def test_a_revisit_is_due_fifteen_days_after_the_win_and_moves_with_each_revisit(env):
    team = make_team()
    cid = register(env, team.owner)["id"]
    won(env, cid, team.owner, "2026-11-01T09:00:00+08:00")
    due = ("revisit", "2026-11-16", cid, None)
    eventually(lambda: due in reminders(env, team.owner, "2026-11-16", 1))
    seen = call(env, team.owner, "get", customer_id=cid)
    assert (seen["status"], seen["last_revisit_at"]) == ("customer", None)
    assert seen["next_revisit_on"] == "2026-11-16"  # the customer's own answer says so too
    # overdue revisits stay listed until done
    assert reminders(env, team.owner, "2026-11-20", 3) == [due]
    call(env, team.owner, "record_revisit", customer_id=cid, outcome="设备运行正常")
    today = clock.today()
    again = (today + timedelta(days=15)).isoformat()
    assert reminders(env, team.owner, today.isoformat(), 3) == []
    assert ("revisit", again, cid, None) in reminders(env, team.owner, again, 1)
    seen = call(env, team.owner, "get", customer_id=cid)
    assert seen["last_revisit_at"] is not None and seen["next_revisit_on"] == again
    care = call(env, team.owner, "set_care", customer_id=cid, revisit_interval="P30D")
    assert care["revisit_interval"] == "P30D"
    assert care["next_revisit_on"] == (today + timedelta(days=30)).isoformat()


def branch_with_service(env, team):
    """A branch: its manager (level 6) over a supervisor over a salesperson ``owner``, and a
    customer-service rep (level 3) under the same manager; another branch's service rep."""
    top = team.top.id
    manager = Actor(id=new_id(), level=6, path=[top], name="分公司总经理")
    manager = Actor(id=manager.id, level=6, path=[top, manager.id], name=manager.name)
    supervisor = Actor(id=new_id(), level=4, path=[], name="王主管")
    supervisor = Actor(
        id=supervisor.id, level=4, path=[*manager.path, supervisor.id], name="王主管"
    )
    owner = Actor(id=new_id(), level=2, path=[*supervisor.path], name="张三")
    owner = Actor(id=owner.id, level=2, path=[*supervisor.path, owner.id], name="张三")
    rep = Actor(id=new_id(), level=3, path=[], name="客服小周")
    rep = Actor(id=rep.id, level=3, path=[*manager.path, rep.id], name="客服小周")
    elsewhere = Actor(id=new_id(), level=3, path=[], name="别处客服")
    elsewhere = Actor(id=elsewhere.id, level=3, path=[top, elsewhere.id], name="别处客服")
    for actor in (team.top, manager, supervisor):  # the service learns people as they call
        call(env, actor, "list", limit=1)
    return SimpleNamespace(manager=manager, supervisor=supervisor, owner=owner, rep=rep,
                           elsewhere=elsewhere)  # fmt: skip


def test_customer_service_sees_and_reads_its_branchs_due_revisits(env):
    team = make_team()
    branch = branch_with_service(env, team)
    cid = register(env, branch.owner)["id"]
    prospect = register(env, branch.owner)["id"]  # not a care customer: not theirs to serve
    won(env, cid, branch.owner, "2026-11-01T09:00:00+08:00")
    due = ("revisit", "2026-11-16", cid, None)
    eventually(lambda: due in reminders(env, branch.owner, "2026-11-16", 1))
    assert reminders(env, branch.rep, "2026-11-16", 1) == [due]  # the revisit only
    assert reminders(env, branch.elsewhere, "2026-11-16", 1) == []
    seen = call(env, branch.rep, "get", customer_id=cid)
    assert seen["name"] and seen["next_revisit_on"] == "2026-11-16"
    for who, which in ((branch.elsewhere, cid), (branch.rep, prospect), (team.peer, cid)):
        with pytest.raises(NotFound):
            call(env, who, "get", customer_id=which)
    assert call(env, branch.rep, "list", limit=50)["items"] == []  # lists stay the owner chain's


def test_a_denied_visit_is_published_once_for_scoring(env, events):
    team = make_team()
    branch = branch_with_service(env, team)
    supervisor, owner = branch.supervisor, branch.owner
    rep, elsewhere = branch.rep, branch.elsewhere
    cid = register(env, owner)["id"]
    visit = entry(env, cid, owner, ["visit", "call"])
    phone_only = entry(env, cid, owner, ["call"])

    def verify(actor, entry_id, verdict="denied"):
        return call(env, actor, "record_revisit", customer_id=cid, outcome="客户说没人来过",
                    verifies_entry_id=entry_id, verification=verdict)  # fmt: skip

    def own_visit_refused():  # ValidationFailed until the service has the entry
        try:
            verify(owner, visit)
        except Forbidden:
            return True
        except ValidationFailed:
            return False
        raise AssertionError("the owner verified their own visit")

    eventually(own_visit_refused)
    with pytest.raises(Forbidden):  # customer service of another branch
        verify(elsewhere, visit)
    with pytest.raises(ValidationFailed) as caught:
        verify(rep, phone_only)
    assert "verifies_entry_id" in caught.value.details
    with pytest.raises(NotFound):
        verify(team.peer, visit)
    # customer service sees the claimed visit (not the phone call) awaiting verification
    before = call(env, rep, "revisits", customer_id=cid)
    assert before["items"] == []
    assert [
        (v["entry_id"], v["author_id"], v["author_name"], v["verification"])
        for v in before["visits"]
    ] == [(visit, owner.id, "张三", None)]
    with pytest.raises(Forbidden):
        call(env, elsewhere, "revisits", customer_id=cid)
    revisit = verify(rep, visit)
    assert revisit["verification"] == "denied" and revisit["verifies_entry_id"] == visit
    after = call(env, owner, "revisits", customer_id=cid)  # the owner sees it too
    assert [(r["id"], r["by_name"]) for r in after["items"]] == [(revisit["id"], "客服小周")]
    assert [v["verification"] for v in after["visits"]] == ["denied"]
    with pytest.raises(Conflict) as conflict:
        verify(supervisor, visit, "confirmed")
    assert conflict.value.code == "already_verified"
    denied = eventually(
        lambda: [e for e in events.of_type("visit_denied") if e["data"]["entry_id"] == visit]
    )
    assert len(denied) == 1
    assert denied[0]["data"]["author_id"] == owner.id
    assert denied[0]["data"]["denied_by"] == rep.id


def test_the_referral_graph_of_a_generated_set(env):
    """A few hundred customers in referral trees up to depth 4; some signed."""
    team = make_team()
    rng = random.Random(20261127)
    ids: list[str] = []
    parent: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    for _ in range(240):
        candidates = [i for i in ids if depth[i] < 4]
        referrer = rng.choice(candidates) if candidates and rng.random() < 0.7 else None
        created = register(env, team.owner, referred_by=referrer)
        ids.append(created["id"])
        parent[created["id"]] = referrer
        depth[created["id"]] = depth[referrer] + 1 if referrer else 0
    signed = set(rng.sample(ids, 60))
    for cid in signed:
        won(env, cid, team.owner, "2026-11-01T09:00:00+08:00")
    counts: dict[str, int] = {}
    for referrer in parent.values():
        if referrer:
            counts[referrer] = counts.get(referrer, 0) + 1

    def graph():
        answer = call(env, team.owner, "referrals")
        mine = {n["customer_id"] for n in answer["nodes"]} >= set(ids)
        done = len(answer["non_referrers"]) == len(signed - set(counts))
        return answer if mine and done else None

    answer = eventually(graph, timeout=30)
    nodes = {n["customer_id"]: n for n in answer["nodes"]}
    assert {i: nodes[i]["depth"] for i in ids} == depth
    assert max(depth.values()) == 4
    edges = {(e["from"], e["to"]) for e in answer["edges"]}
    assert edges == {(p, c) for c, p in parent.items() if p}
    assert {r["customer_id"]: r["referred_count"] for r in answer["referrers"]} == counts
    non_referrers = {r["customer_id"] for r in answer["non_referrers"]}
    assert non_referrers == signed - set(counts)
    # a cycle is refused: the root of a depth-4 chain cannot be referred by its descendant
    leaf = next(i for i in ids if depth[i] == 4)
    root = leaf
    while parent[root]:
        root = parent[root]
    with pytest.raises(ValidationFailed) as caught:
        call(env, team.owner, "set_referrer", customer_id=root, referred_by=leaf)
    assert caught.value.code == "referral_cycle"
    with pytest.raises(ValidationFailed):
        call(env, team.owner, "set_referrer", customer_id=root, referred_by=root)
    assert call(env, team.owner, "referrals")["nodes"] == answer["nodes"]
    # a legal change is taken: a root referred by another tree's leaf deepens its tree
    other_root = next(i for i in ids if parent[i] is None and i != root)
    moved = call(env, team.owner, "set_referrer", customer_id=other_root, referred_by=leaf)
    assert moved == {"customer_id": other_root, "referred_by": leaf}


@pytest.mark.parametrize(
    "method, kwargs, field",
    [
        ("set_care", {"customer_id": "1", "revisit_interval": "15 days"}, "revisit_interval"),
        ("set_care", {"customer_id": "1", "revisit_interval": "PT5H"}, "revisit_interval"),
        ("set_care", {"customer_id": "1", "revisit_interval": "P999999999D"}, "revisit_interval"),
        ("add_important_date", {"customer_id": "1", "label": "", "date": "2027-01-01"}, "label"),
        ("add_important_date", {"customer_id": "1", "label": "x", "date": "2027-13-01"}, "date"),
        ("record_revisit", {"customer_id": "1", "outcome": "ok", "verification": "denied"},
         "verification"),
        ("record_revisit", {"customer_id": "1", "outcome": "ok", "verifies_entry_id": "e",
                            "verification": "maybe"}, "verification"),
        ("reminders", {"days": 0}, "days"),
        ("reminders", {"from": "2027-02-30"}, "from"),
        ("set_referrer", {"customer_id": "1", "referred_by": "x"}, "referred_by"),
    ],
)  # fmt: skip
def test_bad_care_arguments_are_validation_failures(env, method, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        call(env, make_team().owner, method, **kwargs)
    assert field in caught.value.details


def test_reminders_due_today_are_published_once_however_many_instances_send(
    running, running_events
):
    env, events = running, running_events
    team = make_team()
    today = clock.today()
    cid = register(env, team.owner, contacts=[
        contact(None, name="周到", birthday=date(1980, today.month, today.day).isoformat(),
                decision_maker=True),
    ])["id"]  # fmt: skip
    call(env, team.owner, "add_important_date", customer_id=cid, label="今日开业",
         date=today.isoformat(), recurring=False)  # fmt: skip

    def sent() -> list[dict]:
        return [e["data"] for e in events.of_type("reminder_due")
                if e["data"]["customer_id"] == cid]  # fmt: skip

    call(env, team.top, "list", limit=1)  # the service learns the top (level 9)
    pool = eventlet.GreenPool()  # six passes at once, spread over both instances
    answers = list(pool.imap(lambda _: call(env, team.top, "send_reminders"), range(6)))
    assert sum(a["published"] for a in answers) >= 2
    eventually(lambda: len(sent()) >= 2)
    call(env, team.top, "send_reminders")  # again the same day: nothing new
    eventlet.sleep(1.5)  # anything published twice would have arrived by now
    mine = sent()
    assert sorted(d["kind"] for d in mine) == ["birthday", "important_date"]
    assert {d["user_id"] for d in mine} == {team.owner.id}
    assert {d["sent_on"] for d in mine} == {today.isoformat()}
    with pytest.raises(Forbidden):
        call(env, team.owner, "send_reminders")


def test_a_bulk_import_brings_customers_contacts_owners_and_care(env):
    team = make_team()
    when = "2026-03-01T09:00:00+08:00"
    first = call(env, team.top, "import_customers", items=[
        {"name": f"导入{tag()}有限公司", "owner_id": team.owner.id, "owner_path": team.owner.path,
         "created_at": when, "founded_on": "2016-11-30", "care_since": when,
         "contacts": [contact(None, name="郑总", birthday="1970-12-01", decision_maker=True)]},
        {"name": f"导入{tag()}有限公司", "owner_id": team.peer.id, "owner_path": team.peer.path,
         "created_at": when},
    ])  # fmt: skip
    assert first["imported"] == 2
    signed, other = first["ids"]
    second = call(env, team.top, "import_customers", items=[
        {"name": f"导入{tag()}有限公司", "owner_id": team.owner.id, "owner_path": team.owner.path,
         "created_at": when, "referred_by": signed},
    ])  # fmt: skip
    shown = call(env, team.owner, "get", customer_id=signed)
    assert shown["status"] == "customer" and shown["contacts"][0]["name"] == "郑总"
    with pytest.raises(NotFound):  # owned by the peer
        call(env, team.owner, "get", customer_id=other)
    kinds = {(r[0], r[1]) for r in reminders(env, team.owner, "2026-11-30", 2)
             if r[2] == signed}  # fmt: skip
    # care since March with no revisit: overdue since 15 days later
    assert kinds == {
        ("anniversary", "2026-11-30"),
        ("birthday", "2026-12-01"),
        ("revisit", "2026-03-16"),
    }
    graph = call(env, team.owner, "referrals")
    assert {"from": signed, "to": second["ids"][0]} in graph["edges"]
    with pytest.raises(Conflict):  # a name already registered: the whole page is refused
        call(env, team.top, "import_customers", items=[
            {"name": f"新{tag()}公司", "owner_id": team.owner.id, "owner_path": team.owner.path,
             "created_at": when},
            {"name": shown["name"], "owner_id": team.owner.id, "owner_path": team.owner.path,
             "created_at": when},
        ])  # fmt: skip
    with pytest.raises(ValidationFailed):
        call(env, team.top, "import_customers", items=[
            {"name": f"新{tag()}公司", "owner_id": team.owner.id, "owner_path": team.owner.path,
             "created_at": when, "referred_by": "999999999"},
        ])  # fmt: skip
    with pytest.raises(Forbidden):
        call(env, team.owner, "import_customers", items=[
            {"name": f"新{tag()}公司", "owner_id": team.owner.id, "owner_path": team.owner.path,
             "created_at": when},
        ])  # fmt: skip
