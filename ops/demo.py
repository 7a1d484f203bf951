"""Demo data: a realistic corporate group filled through each service's own bulk import RPC
(never by writing another service's tables), then scoring rebuilt from the history.

    ./bpc demo            # 2,000 users, 100,000 customers, 200,000 opportunities,
                          # 2,000,000 log entries over a year, alarms and experience
    ./bpc demo --small    # the same shape in seconds: 40 users, 400 customers …
    ./bpc demo --scale 0.1  # a tenth of the full size (200 users, 10,000 customers …)

Run it against a running BPC (``./bpc run`` in another terminal): it speaks to the services
over the broker as the administrator, with the password in ``BPC_ADMIN_PASSWORD`` (or
``--admin-password``; a first start without one logged the generated password). Everything
is generated from a seed, so two runs on two empty systems give the same group. Demo users
log in with the password ``Demo-2026!`` (some logins are printed at the end).

The shape: regions → branches → departments → teams; per branch a manager (6), customer
service (3), per department a manager (5), per team a supervisor (4) and salespeople (3, 2,
and trainees at 1); executives (8) and regional directors (7) above. Customers belong to
salespeople, with decision makers (some birthdays lunar), founding days and referral chains;
opportunities move through the default pipeline over the past year (won, lost or open on the
clock); each salesperson logs about five entries a working day on their own customers and
opportunities; alarms with responses and resolutions; an experience pool of solved problems.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from common import clock

PASSWORD = "Demo-2026!"
SEED = 20261127
ENTRY_PAGE = 10_000  # the work log's import takes pages of up to 10,000 entries
CUSTOMER_PAGE = 2_000
OPPORTUNITY_PAGE = 1_000  # the opportunity service's import takes up to 1,000
GROUPS = 8  # groups of salespeople whose records flow through the three services in turn
STAGES = ("customers", "opportunities", "entries")


@dataclass(frozen=True)
class Size:
    regions: int
    branches: int  # per region
    departments: int  # per branch
    teams: int  # per department
    users: int
    customers: int
    opportunities: int
    entries: int
    alarms: int
    experience: int


FULL = Size(4, 5, 2, 4, 2_000, 100_000, 200_000, 2_000_000, 6_000, 3_000)
SMALL = Size(1, 2, 1, 2, 40, 400, 600, 6_000, 60, 150)


def scaled(share: float) -> Size:
    """The full shape with a share of its people and records (``--scale``)."""
    if share >= 1:
        return FULL
    return Size(
        FULL.regions, FULL.branches, FULL.departments, FULL.teams,
        *(max(1, round(n * share)) for n in (FULL.users, FULL.customers, FULL.opportunities,
                                             FULL.entries, FULL.alarms, FULL.experience)),
    )  # fmt: skip


CITIES = (
    "上海 北京 广州 深圳 杭州 苏州 南京 成都 武汉 西安 "
    "重庆 天津 青岛 厦门 宁波 长沙 郑州 合肥 福州 济南"
).split()
BRANDS = list("华瑞恒鑫达盛宏泰丰信安嘉博源通新创联东海金明德正中天祥和利康")
TRADES = {
    "manufacturing": ("精密机械", "智能装备", "汽车零部件", "模具", "电子科技"),
    "software": ("软件", "信息技术", "数据科技", "网络科技"),
    "medical": ("医疗器械", "生物科技", "健康管理"),
    "retail": ("商贸", "连锁超市", "电子商务"),
    "construction": ("建设工程", "建材", "装饰工程"),
    "logistics": ("物流", "供应链管理", "冷链运输"),
}
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红梅文博宇浩然子轩欣怡"
TITLES = ("总经理", "采购经理", "技术总监", "财务总监", "董事长", "厂长", "IT经理")
ACTIVITIES_BY_STAGE = {  # keys of the default catalog (services/worklog/domain.py)
    None: (["call"], ["visit"], ["call", "visit"], ["revisit"]),
    "contact": (["call"], ["visit"], ["call", "visit"]),
    "needs": (["visit"], ["call", "demo"], ["proposal"]),
    "demo": (["demo"], ["visit", "demo"], ["call"]),
    "quote": (["proposal"], ["call", "negotiation"], ["visit"]),
    "negotiate": (["negotiation"], ["call", "negotiation"], ["visit", "contract"]),
    "payment": (["collection"], ["call", "collection"], ["contract"]),
}


class _Beside(threading.Thread):
    """``target`` in a thread of its own (a green thread under the demo's eventlet), its
    exception raised again by ``join``."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target, self.error = target, None
        self.start()

    def run(self):
        try:
            self.target()
        except BaseException as exc:  # noqa: BLE001 - handed to join
            self.error = exc

    def join(self, timeout=None):
        super().join(timeout)
        if self.error is not None:
            raise self.error


@dataclass
class _Group:
    """One group of salespeople with its share of the records, and what was stored of them.
    Each stage of each group draws from a random sequence of its own, so the data is the same
    however the stages interleave."""

    index: int
    reps: list
    first_customer: int  # the group's customers are numbered from here (company names)
    customers: int
    opportunities: int
    entries_per_rep: list
    seed: int
    lanes: dict  # stage → call_async on a connection of that stage's own
    stored_customers: list = field(default_factory=list)
    stored_opportunities: list = field(default_factory=list)

    def rng(self, stage: str) -> random.Random:
        return random.Random(f"{self.seed}/{stage}/{self.index}")

    def lane(self, stage: str):
        return self.lanes[stage]


class _Done:
    def __init__(self, answer):
        self.answer = answer

    def result(self):
        return self.answer


_line = {"open": False}  # a progress line is being rewritten in place (\r)


def say(text: str) -> None:
    if _line["open"]:  # a line of its own, not in the middle of the progress
        print(flush=True)
        _line["open"] = False
    print(text, flush=True)


def progress_line(text: str, done: bool = False) -> None:
    print(f"\r  {text}", end="\n" if done else "", flush=True)
    _line["open"] = not done


def progress(label: str, done: int, total: int, began: float) -> None:
    rate = done / max(time.monotonic() - began, 0.001)
    progress_line(f"{label}: {done:,}/{total:,} ({rate:,.0f}/s)", done >= total)


class Demo:
    def __init__(
        self, call, size: Size, seed: int = SEED, call_async=None, call_beside=None, lanes=None
    ):
        """``call(service, method, **kwargs)`` → the answer, as the administrator;
        ``call_async`` (same arguments) → a reply whose ``result()`` is the answer, so that the
        next page is generated while the service stores the last (default: ``call``);
        ``lanes``: a ``call_async`` on a connection of its own for each of ``STAGES``, which
        run at once (default: ``call_async``)."""
        self.call = call
        self.call_async = call_async or (lambda *a, **k: _Done(call(*a, **k)))
        self.lanes = lanes or dict.fromkeys(STAGES, self.call_async)
        self.counts = dict.fromkeys(STAGES, 0)
        # the pool's calls, from another thread: a connection of their own
        self.call_beside = call_beside or call
        self.size = size
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = clock.now()
        self.users: dict[str, dict] = {}  # key → {id, level, path, unit}
        self.reps: list[dict] = []
        self.customers: list[dict] = []  # {id, owner, industry}

    def pipelined(
        self, call_async, service: str, method: str, pages, on_answer, depth: int = 2
    ) -> None:
        """Send each ``(items, meta)`` of ``pages`` to ``service.method`` with up to ``depth``
        pages in flight (the next page is generated while the service stores them; a page is
        sent once fewer than ``depth`` are unanswered), and hand each answer with its meta to
        ``on_answer``, in order."""
        in_flight: list = []
        for items, meta in pages:
            while len(in_flight) >= depth:
                reply, done = in_flight.pop(0)
                on_answer(reply.result(), done)
            in_flight.append((call_async(service, method, items=items), meta))
        for reply, done in in_flight:
            on_answer(reply.result(), done)

    # --- people ---------------------------------------------------------------------------

    def person_name(self, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))

    def org(self, admin: dict) -> None:
        size, rng = self.size, self.rng
        units, users = [], []

        def user(key, level, unit, supervisor, name=None):
            users.append(
                {
                    "key": key,
                    "login": f"demo_{key}",
                    "password": PASSWORD,
                    "name": name or self.person_name(),
                    "level": level,
                    "unit_key": unit,
                    "supervisor_key": supervisor if supervisor != "admin" else None,
                    "supervisor_id": admin["id"] if supervisor == "admin" else None,
                    "org_unit_id": admin["org_unit_id"] if unit is None else None,
                }
            )

        for n in range(min(3, max(1, size.regions))):
            user(f"exec{n}", 8, None, "admin")
        teams, fixed = [], []
        for r in range(size.regions):
            region = f"r{r}"
            units.append(
                {"key": region, "name": f"{CITIES[r]}大区", "parent_id": admin["org_unit_id"]}
            )
            user(f"dir{r}", 7, region, f"exec{r % min(3, max(1, size.regions))}")
            for b in range(size.branches):
                branch = f"{region}b{b}"
                city = CITIES[(r * size.branches + b) % len(CITIES)]
                units.append({"key": branch, "name": f"{city}分公司", "parent_key": region})
                user(f"gm{branch}", 6, branch, f"dir{r}")
                for s in range(3 if size.users > 100 else 1):
                    fixed.append((f"cs{branch}_{s}", 3, branch, f"gm{branch}"))
                for d in range(size.departments):
                    dept = f"{branch}d{d}"
                    units.append(
                        {"key": dept, "name": f"{city}销售{d + 1}部", "parent_key": branch}
                    )
                    user(f"dm{dept}", 5, dept, f"gm{branch}")
                    for t in range(size.teams):
                        team = f"{dept}t{t}"
                        units.append(
                            {
                                "key": team,
                                "name": f"{city}销售{d + 1}部{t + 1}组",
                                "parent_key": dept,
                            }
                        )
                        user(f"sup{team}", 4, team, f"dm{dept}")
                        teams.append(team)
        for key, level, unit, supervisor in fixed:
            user(key, level, unit, supervisor)
        reps_total = max(len(teams), size.users - len(users) - 1)
        for n in range(reps_total):
            team = teams[n % len(teams)]
            level = 1 if n % 10 in (7, 8) else 3 if n % 10 == 9 else 2
            user(f"rep{n}", level, team, f"sup{team}")
        say(f"· 组织 org: {len(units)} units, {len(users):,} users")
        began, made = time.monotonic(), {"units": {}, "users": {}}
        first = self.call("org", "import_org", units=units, users=[])
        made["units"].update(first["units"])
        for start in range(0, len(users), 500):
            page = []
            for item in users[start : start + 500]:
                item = dict(item)
                if item["unit_key"] in made["units"]:
                    item["org_unit_id"], item["unit_key"] = made["units"][item["unit_key"]], None
                if item["supervisor_key"] in made["users"]:
                    item["supervisor_id"] = made["users"][item["supervisor_key"]]
                    item["supervisor_key"] = None
                page.append(item)
            made["users"].update(self.call("org", "import_org", units=[], users=page)["users"])
            progress("users", min(start + 500, len(users)), len(users), began)
        by_key = {u["key"]: u for u in users}
        for key, user_id in made["users"].items():
            chain, cursor = [], key
            while cursor is not None:
                chain.append(made["users"][cursor])
                cursor = by_key[cursor]["supervisor_key"]
            path = [admin["id"], *reversed(chain)]
            self.users[key] = {
                "id": user_id,
                "level": by_key[key]["level"],
                "path": path,
                "login": by_key[key]["login"],
            }
        self.reps = [u for k, u in self.users.items() if k.startswith("rep")]
        rng.shuffle(self.reps)

    # --- customers ------------------------------------------------------------------------

    def company(self, n: int) -> tuple[str, str]:
        industry = sorted(TRADES)[n % len(TRADES)]
        trades = TRADES[industry]
        k = n // len(TRADES)
        city = CITIES[k % len(CITIES)]
        k //= len(CITIES)
        first, second = BRANDS[k % len(BRANDS)], BRANDS[(k // len(BRANDS)) % len(BRANDS)]
        trade = trades[(k // len(BRANDS) ** 2) % len(trades)]
        serial = k // (len(BRANDS) ** 2 * len(trades))
        suffix = f"第{serial + 1}" if serial else ""
        return f"{city}{first}{second}{trade}{suffix}有限公司", industry

    def records(self) -> None:
        """Customers, opportunities and log entries by groups of salespeople, through the
        three services at once: while the customer service imports one group, the opportunity
        service imports the group before and the work log the one before that. Each service
        process keeps about one core busy, so one stage after another left the other core
        idle; a group's entries need its opportunities, which need its customers."""
        size, reps = self.size, self.reps
        k = max(1, min(GROUPS, len(reps), size.customers))
        per_rep = max(1, size.entries // len(reps))
        entries = [per_rep] * len(reps)
        entries[-1] = max(0, size.entries - per_rep * (len(reps) - 1))

        def share(total: int, g: int) -> int:
            return total * (g + 1) // k - total * g // k

        groups = []
        for g in range(k):
            lo, hi = g * len(reps) // k, (g + 1) * len(reps) // k
            groups.append(_Group(
                g, reps[lo:hi], sum(share(size.customers, i) for i in range(g)),
                share(size.customers, g), share(size.opportunities, g), entries[lo:hi],
                self.seed, self.lanes,
            ))  # fmt: skip
        say(
            f"· 客户、商机、日志 {size.customers:,} customers, {size.opportunities:,} "
            f"opportunities, {size.entries:,} log entries over a year: {k} groups of "
            "salespeople through the customer, opportunity and work-log services at once"
        )
        began, finished = time.monotonic(), {}
        handoffs = [queue.Queue() for _ in STAGES]  # handoffs[i]: groups done by stage i - 1
        for _ in groups:
            handoffs[0].put(True)
        work = {"customers": self.customers_, "opportunities": self.opportunities_,
                "entries": self.entries_}  # fmt: skip

        def stage(i: int, name: str):
            def run():
                ok = True
                try:
                    for group in groups:
                        ok = handoffs[i].get()
                        if not ok:  # a stage before failed: its error is raised by its join
                            return
                        work[name](group)
                        if i + 1 < len(STAGES):
                            handoffs[i + 1].put(True)
                    finished[name] = time.monotonic() - began
                except BaseException:
                    ok = False
                    raise
                finally:
                    if not ok and i + 1 < len(STAGES):
                        handoffs[i + 1].put(False)

            return _Beside(run)

        threads = [stage(i, name) for i, name in enumerate(STAGES)]
        totals = {"customers": size.customers, "opportunities": size.opportunities,
                  "entries": sum(entries)}  # fmt: skip
        while True:
            line = " · ".join(f"{n} {self.counts[n]:,}/{totals[n]:,}" for n in STAGES)
            alive = any(t.is_alive() for t in threads)
            progress_line(f"{line} ({time.monotonic() - began:.0f} s)", done=not alive)
            if not alive:
                break
            for t in threads:
                t.join(timeout=2 / len(threads))
        for t in threads:
            t.join()
        for name, label in zip(STAGES, ("客户", "商机", "日志"), strict=True):
            seconds = finished.get(name, time.monotonic() - began)
            say(f"· {label} {name}: {self.counts[name]:,} by {seconds:.0f} s "
                f"({self.counts[name] / max(seconds, 0.001):,.0f}/s)")  # fmt: skip

    def customers_(self, group: _Group) -> None:
        """The group's customers: its salespeople own them in turn; some were referred by a
        customer stored earlier (of this group or one before)."""
        rng, won_share = group.rng("customers"), 0.15

        def pages():
            for start in range(0, group.customers, CUSTOMER_PAGE):
                yield page(start)

        def page(start: int):
            items, meta = [], []
            for j in range(start, min(start + CUSTOMER_PAGE, group.customers)):
                n = group.first_customer + j
                owner = group.reps[j % len(group.reps)]
                name, industry = self.company(n)
                created = self.now - timedelta(days=rng.randrange(30, 900))
                care = created + timedelta(days=rng.randrange(20, 200))
                signed = rng.random() < won_share and care < self.now
                contacts = []
                for c in range(rng.choice((1, 1, 2, 3))):
                    born = date(
                        rng.randrange(1960, 1995), rng.randrange(1, 13), rng.randrange(1, 29)
                    )
                    contacts.append(
                        {
                            "name": self.person_name(rng),
                            "title": rng.choice(TITLES),
                            "phone": f"1{rng.choice('3589')}{n:05d}{c}{rng.randrange(100, 999)}",
                            "birthday": born.isoformat(),
                            "birthday_calendar": "lunar" if rng.random() < 0.3 else "solar",
                            "decision_maker": c == 0,
                        }
                    )
                referred = None
                if self.customers and rng.random() < 0.3:
                    referred = rng.choice(self.customers[-5000:])["id"]
                items.append(
                    {
                        "name": name,
                        "industry": industry,
                        "region": name[:2],
                        "founded_on": date(
                            rng.randrange(1990, 2022), rng.randrange(1, 13), rng.randrange(1, 29)
                        ).isoformat(),
                        "referred_by": referred,
                        "owner_id": owner["id"],
                        "owner_path": owner["path"],
                        "created_at": created.isoformat(),
                        "care_since": care.isoformat() if signed else None,
                        # most care customers were revisited lately; some are overdue
                        "last_revisit_at": (
                            (self.now - timedelta(days=rng.uniform(0, 17))).isoformat()
                            if signed and rng.random() < 0.9
                            else None
                        ),
                        "contacts": contacts,
                    }
                )
                meta.append((owner, industry, created, signed))
            return items, meta

        def stored(answer: dict, meta: list) -> None:
            for cid, (owner, industry, created, signed) in zip(answer["ids"], meta, strict=True):
                customer = {
                    "id": cid,
                    "owner": owner,
                    "industry": industry,
                    "created": created,
                    "signed": signed,
                }
                self.customers.append(customer)
                group.stored_customers.append(customer)
            self.counts["customers"] += len(answer["ids"])

        # a referrer is a customer of a page already stored (``self.customers``)
        self.pipelined(group.lane("customers"), "customer", "import_customers", pages(), stored)

    # --- opportunities --------------------------------------------------------------------

    def opportunities_(self, group: _Group) -> None:
        """The group's opportunities, on its customers in turn: a signed customer's first one
        won; the others open on the clock now, or lost."""
        rng, customers = group.rng("opportunities"), group.stored_customers
        stages = [(s["key"], s.get("time_limit")) for s in self.pipeline["stages"]]
        limits = [clock.parse_duration(t) if t else None for _, t in stages]
        won_index = len(stages) - 1

        def pages():
            for start in range(0, group.opportunities, OPPORTUNITY_PAGE):
                yield page(start)

        def page(start: int):
            items, meta = [], []
            for n in range(start, min(start + OPPORTUNITY_PAGE, group.opportunities)):
                customer = customers[n % len(customers)]
                owner = customer["owner"]
                fate = (
                    "won"
                    if customer["signed"] and n < len(customers)
                    else rng.choice(("open", "open", "open", "lost", "lost"))
                )
                reach = won_index - 1 if fate == "won" else rng.randrange(0, won_index)
                if fate == "open":  # on the clock now: the last stage entered recently
                    at = self.now - sum((limits[i] for i in range(reach)), timedelta()) * 0.6
                    at -= timedelta(days=rng.random())
                else:
                    at = self.now - timedelta(days=rng.randrange(40, 330))
                created, advances, entered = at, [], at
                for index in range(1, reach + 1):
                    entered = entered + limits[index - 1] * rng.uniform(0.3, 0.6)
                    advances.append({"stage": stages[index][0], "at": entered.isoformat()})
                closed = entered + timedelta(days=rng.randrange(1, 10))
                item = {
                    "customer_id": customer["id"],
                    "title": f"{self.trade(customer)}项目",
                    "amount": f"{rng.randrange(5, 500) * 1000}.00",
                    "owner_id": owner["id"],
                    "owner_path": owner["path"],
                    "created_at": created.isoformat(),
                    "advances": advances,
                    "status": fate,
                    "closed_at": closed.isoformat() if fate != "open" else None,
                }
                if fate == "lost":
                    item["loss_reason"] = rng.choice(
                        ("price", "competitor", "no_budget", "no_need")
                    )
                    item["loss_analysis"] = "客户预算收紧，竞品报价更低，我方未能及时调整方案"
                items.append(item)
                meta.append(
                    (
                        customer,
                        owner,
                        [(stages[0][0], created)]
                        + [(a["stage"], datetime.fromisoformat(a["at"])) for a in advances],
                        fate,
                        closed,
                    )
                )
            return items, meta

        def stored(answer: dict, meta: list) -> None:
            for oid, (customer, owner, path, fate, closed) in zip(answer["ids"], meta, strict=True):
                group.stored_opportunities.append(
                    {
                        "id": oid,
                        "customer": customer,
                        "owner": owner,
                        "stages": path,
                        "fate": fate,
                        "closed": closed,
                    }
                )
            self.counts["opportunities"] += len(answer["ids"])

        self.pipelined(
            group.lane("opportunities"), "opportunity", "import_opportunities", pages(), stored
        )

    def trade(self, customer: dict) -> str:
        return TRADES[customer["industry"]][0]

    # --- the work log ---------------------------------------------------------------------

    def entries_(self, group: _Group) -> None:
        """About five entries a working day over the past year for each of the group's
        salespeople, on their own customers and opportunities."""
        rng = group.rng("entries")
        by_owner: dict[str, list] = {}
        for customer in group.stored_customers:
            by_owner.setdefault(customer["owner"]["id"], []).append(customer)
        opps: dict[str, list] = {}
        for opp in group.stored_opportunities:
            opps.setdefault(opp["owner"]["id"], []).append(opp)
        today = clock.today()
        days = [today - timedelta(days=d) for d in range(365, 0, -1)]
        workdays = [d for d in days if d.weekday() < 5]
        counts = group.entries_per_rep
        # an author's chain must not be in two pages at once: whole salespeople per page, and
        # one page at a time if one salesperson can fill more than a page
        depth = 2 if max(counts) + len(group.reps) <= ENTRY_PAGE else 1

        def pages():
            page = []
            for rep, count in zip(group.reps, counts, strict=True):
                mine, my_opps = by_owner.get(rep["id"], []), opps.get(rep["id"], [])
                if page and len(page) + count > ENTRY_PAGE:
                    yield page, None
                    page = []
                for day in sorted(rng.choices(workdays, k=count)):
                    page.append(self.entry(rng, rep, day, mine, my_opps))
                    if len(page) == ENTRY_PAGE:  # one author over pages: depth 1
                        yield page, None
                        page = []
            if page:
                yield page, None

        def stored(answer: dict, _meta) -> None:
            self.counts["entries"] += answer["imported"]

        self.pipelined(group.lane("entries"), "worklog", "import_entries", pages(), stored, depth)

    def entry(self, rng, rep: dict, day: date, mine: list, my_opps: list) -> dict:
        """One of ``rep``'s log entries on ``day``: half of them on an opportunity of theirs
        that was open then (its stage that day), the rest on a customer of theirs."""
        opp = rng.choice(my_opps) if my_opps and rng.random() < 0.5 else None
        stage = None
        if opp is not None:
            moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            passed = [k for k, at in opp["stages"] if at <= moment]
            closed = opp["fate"] != "open" and opp["closed"] <= moment
            if not passed or closed:
                opp = None
            else:
                stage = passed[-1]
        customer = opp["customer"] if opp else (rng.choice(mine) if mine else None)
        activities = list(rng.choice(ACTIVITIES_BY_STAGE.get(stage, ACTIVITIES_BY_STAGE[None])))
        if customer is None:
            activities = ["training"]
        recorded = datetime.combine(day, datetime.min.time(), tzinfo=clock.org_tz()) + timedelta(
            hours=rng.uniform(17, 21)
        )
        appointment = None
        if customer is not None and rng.random() < 0.1:
            appointment = (recorded + timedelta(days=rng.randrange(1, 6))).isoformat()
        return {
            "author_id": rep["id"],
            "work_date": day.isoformat(),
            "recorded_at": recorded.isoformat(),
            "customer_id": customer["id"] if customer else None,
            "opportunity_id": opp["id"] if opp else None,
            "stage": stage,
            "activities": activities,
            "minutes": rng.randrange(15, 120),
            "expense": f"{rng.randrange(0, 300)}.00" if "visit" in activities else None,
            "next_appointment_at": appointment,
        }

    # --- alarms and experience ------------------------------------------------------------

    def pool(self) -> None:
        """Solved problems, then alarms: they need only the people, so they are imported while
        customers and opportunities are (their own random sequence keeps the data the same
        whatever the interleaving); one line each when done."""
        from ops.demo_texts import generate

        size, rng = self.size, random.Random(self.seed + 1)
        texts = generate(size.experience + size.alarms, seed=SEED)
        began, done = time.monotonic(), 0
        for start in range(0, size.experience, 500):
            items = []
            for t in texts[start : min(start + 500, size.experience)]:
                author = rng.choice(self.reps)
                items.append(
                    {
                        "problem": t["problem"],
                        "method": t["method"],
                        "stage": t["stage"],
                        "category": t["category"],
                        "kind": t["kind"],
                        "industry": t["industry"],
                        "requester_id": author["id"],
                        "method_author_id": rng.choice(self.reps)["id"],
                        "source_alarm_id": f"demo-{t['id']}",
                        "reuse_count": rng.randrange(0, 6),
                    }
                )
            answer = self.call_beside("experience", "import_entries", items=items)
            done += answer["created"] + answer["skipped"]
        say(
            f"· 经验池 experience: {done:,} solved problems embedded and filed in "
            f"{time.monotonic() - began:.0f} s (beside the customers and opportunities)"
        )
        began, done = time.monotonic(), 0
        rest = texts[size.experience :]
        for start in range(0, len(rest), 1000):
            items = []
            for t in rest[start : start + 1000]:
                requester = rng.choice(self.reps)
                raised = self.now - timedelta(days=rng.uniform(0.2, 200))
                responses, resolved = [], None
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    posted = raised + timedelta(hours=rng.uniform(0.2, 30))
                    if posted < self.now:
                        responses.append(
                            {
                                "author_id": rng.choice(self.reps)["id"],
                                "body": t["method"],
                                "posted_at": posted.isoformat(),
                            }
                        )
                if responses and rng.random() < 0.6:
                    responses[0]["effective"] = True
                    resolved = max(datetime.fromisoformat(r["posted_at"]) for r in responses)
                    resolved = min(resolved + timedelta(hours=2), self.now).isoformat()
                items.append(
                    {
                        "requester_id": requester["id"],
                        "requester_path": requester["path"],
                        "raised_at": raised.isoformat(),
                        "category": t["category"],
                        "kind": t["kind"],
                        "stage": t["stage"],
                        "industry": t["industry"],
                        "description": t["problem"],
                        "analysis": "",
                        "responses": responses,
                        "resolved_at": resolved,
                    }
                )
            done += self.call_beside("alerts", "import_alarms", items=items)["created"]
        say(f"· 报警 alarms: {done:,} with their responses in {time.monotonic() - began:.0f} s")

    # --- scoring --------------------------------------------------------------------------

    def rebuild(self) -> None:
        say("· 重建评分 rebuilding scoring from the history")
        status = self.call("scoring", "rebuild")
        while status.get("state") not in ("done", "failed"):
            time.sleep(1)
            status = self.call("scoring", "rebuild_status")
            progress_line(
                f"{status.get('entries', 0):,} entries, {status.get('progress', 0):,} "
                f"history rows, {status.get('seconds', 0):.0f} s"
            )
        say(f"  {status.get('entries', 0):,} entries and {status.get('progress', 0):,} history "
            f"rows in {status.get('seconds', 0):.0f} s")  # fmt: skip
        if status["state"] == "failed":
            raise RuntimeError(f"scoring rebuild failed: {status}")

    def refresh_statistics(self) -> None:
        """ANALYZE in every service's database: the workbench's queries are planned on the
        imported rows at once, not when autovacuum reaches them."""
        from common import config

        began = time.monotonic()
        for service in config.SERVICES:
            self.call(service, "refresh_statistics")
        say(f"· 统计 planner statistics refreshed in {time.monotonic() - began:.0f} s")

    def run(self, admin: dict) -> None:
        began = time.monotonic()
        self.pipeline = next(
            p for p in self.call("opportunity", "list_pipelines")["items"] if p["is_default"]
        )
        self.org(admin)
        beside = _Beside(self.pool)  # the experience service embeds while the others import
        self.records()
        beside.join()
        self.rebuild()
        self.refresh_statistics()
        say(f"· 完成 done in {time.monotonic() - began:.0f} s. Log in as, for example:")
        for key in ("exec0", "dir0", "gmr0b0", "supr0b0d0t0", "rep0", "rep1"):
            if key in self.users:
                user = self.users[key]
                say(f"    {user['login']} / {PASSWORD}  (level {user['level']})")


def main(small: bool, password: str | None = None, scale: float | None = None) -> int:
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    from common import config
    from common.actor import Actor

    password = password or os.environ.get("BPC_ADMIN_PASSWORD")
    if not password:
        say(
            "需要管理员密码 / The administrator's password is needed: set BPC_ADMIN_PASSWORD or "
            "pass --admin-password (a first start without one logged the generated password)"
        )
        return 2
    nameko = {"AMQP_URI": config.amqp_uri(), "serializer": "json"}
    with ClusterRpcProxy(nameko, timeout=600) as anonymous:
        login = anonymous.org.login(login="admin", password=password)
        actor = Actor.from_header(anonymous.org.resolve_actor(user_id=login["user"]["id"]))
    admin = {"id": actor.id, "org_unit_id": actor.org_unit_id}
    context = {"bpc_actor": actor.to_header()}
    with contextlib.ExitStack() as stack:
        proxy, beside, *connections = (
            stack.enter_context(ClusterRpcProxy(nameko, context_data=context, timeout=600))
            for _ in range(2 + len(STAGES))
        )

        def call(service: str, method: str, **kwargs):
            return getattr(getattr(proxy, service), method)(**kwargs)

        def call_beside(service: str, method: str, **kwargs):
            return getattr(getattr(beside, service), method)(**kwargs)

        def lane(connection):
            def call_async(service: str, method: str, **kwargs):
                return getattr(getattr(connection, service), method).call_async(**kwargs)

            return call_async

        size = SMALL if small else scaled(scale) if scale else FULL
        lanes = dict(zip(STAGES, map(lane, connections), strict=True))
        Demo(call, size, call_async=lane(proxy), call_beside=call_beside, lanes=lanes).run(admin)
    return 0
