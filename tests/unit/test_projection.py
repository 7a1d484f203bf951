"""Projections (common.projection, common.projection_check) in process: a mirror keeps the latest
state of each record whatever order its facts arrive in; owner and mirror digest a fact alike;
the check finds what is missing, different or extra and repairs exactly that; the caller's
recent changes make an older row doubtful; the branch rule of who may work on a customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.actor import Actor, Freshness, branch_head, may_work_on
from common.db import make_engine, service_base
from common.projection import (
    Mirror,
    digest,
    fact_time,
    path_list,
    upsert,
    user_path,
    write_latest,
)
from common.projection_check import Sampler, check, compare_page

Base = service_base()


class Holder(Base):
    __tablename__ = "holders"

    opportunity_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[datetime | None]


def _row(fact: dict) -> dict:
    return {"opportunity_id": int(fact["opportunity_id"]), "holder_id": fact["holder_id"],
            "stage": fact["stage"], "as_of": fact_time(fact)}  # fmt: skip


def _write(session, facts, force):
    write_latest(session, Holder, "opportunity_id", facts, _row, force)


MIRROR = Mirror(
    "holders", "opportunity", "opportunity", Holder, "opportunity_id", ("holder_id", "stage"),
    _write, lambda r: {"holder_id": r.holder_id, "stage": r.stage}, key_type=int,
)  # fmt: skip

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def fact(oid: int, stage: str, minutes: int, holder: str = "7") -> dict:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"opportunity_id": str(oid), "holder_id": holder, "stage": stage, "at": at}


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mirror.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def stored(session, oid: int) -> tuple[str, str]:
    row = session.scalar(select(Holder).where(Holder.opportunity_id == oid))
    return row.holder_id, row.stage


def test_a_late_event_never_overwrites_a_later_state(session):
    MIRROR.apply(session, [fact(1, "contact", 0)])
    MIRROR.apply(session, [fact(1, "demo", 2)])
    MIRROR.apply(session, [fact(1, "needs", 1)])  # redelivered late: older than what is stored
    assert stored(session, 1) == ("7", "demo")


def test_the_statement_itself_keeps_a_later_row_written_after_the_check(session):
    """Two instances writing one record's facts at once: each reads the row's time before the
    other commits. The upsert tests the time again against the row it finds, so the older
    fact cannot win by committing last."""
    MIRROR.apply(session, [fact(4, "demo", 5)])  # committed by the other instance meanwhile
    older = _row(fact(4, "needs", 1))  # checked against what this one read before: passed
    upsert(session, Holder, "opportunity_id", older, ["holder_id", "stage", "as_of"],
           unless_later="as_of")  # fmt: skip
    assert stored(session, 4) == ("7", "demo")
    newer = _row(fact(4, "quote", 6))
    upsert(session, Holder, "opportunity_id", newer, ["holder_id", "stage", "as_of"],
           unless_later="as_of")  # fmt: skip
    assert stored(session, 4) == ("7", "quote")


def test_the_last_fact_of_a_record_in_one_page_wins_and_a_repair_overwrites(session):
    MIRROR.apply(session, [fact(2, "contact", 0), fact(2, "needs", 1), fact(3, "quote", 0)])
    assert stored(session, 2) == ("7", "needs") and stored(session, 3) == ("7", "quote")
    MIRROR.apply(session, [fact(2, "contact", -5, holder="9")], force=True)
    assert stored(session, 2) == ("9", "contact")


def test_owner_and_mirror_digest_a_fact_alike_whatever_its_representation():
    fields = ("customer_id", "owner_path", "at")
    owner = {"customer_id": "12", "owner_path": ["1", "7"], "at": "2026-12-07T17:00:00+08:00"}
    mirror = {"customer_id": 12, "owner_path": ["1", "7"], "at": "2026-12-07T09:00:00+00:00"}
    assert digest(owner, fields) == digest(mirror, fields)
    assert digest(owner, fields) != digest({**owner, "owner_path": ["1", "8"]}, fields)
    assert digest(owner, ("owner_id",)) == digest({}, ("owner_id",))  # absent is None


def test_the_check_finds_missing_different_and_extra_rows_and_repairs_only_them():
    owner = {str(i): f"d{i}" for i in range(1, 8)}  # records 1..7
    mirror = {**{k: v for k, v in owner.items() if k not in ("3", "5")}, "4": "old", "9": "d9"}
    repaired = []

    def call(service, method, **kw):
        keys = sorted(owner, key=int)
        if method == "fact_page":
            start = 0 if kw["cursor"] is None else keys.index(kw["cursor"]) + 1
            page = keys[start : start + kw["limit"]]
            following = page[-1] if start + kw["limit"] < len(keys) else None
            return {"items": [[k, owner[k]] for k in page], "next_cursor": following}
        if method == "mirror_digests":
            return {"items": {k: mirror[k] for k in kw["keys"] if k in mirror}}
        if method == "mirror_keys":
            mine = sorted(mirror, key=int)
            start = 0 if kw["cursor"] is None else mine.index(kw["cursor"]) + 1
            page = mine[start : start + kw["limit"]]
            return {"items": page, "next_cursor": page[-1] if len(page) == kw["limit"] else None}
        if method == "fact_digests":
            return {"items": {k: owner[k] for k in kw["keys"] if k in owner}}
        if method == "mirror_repair":
            repaired.extend(kw["keys"])
            return {"written": len([k for k in kw["keys"] if k in owner]),
                    "forgotten": len([k for k in kw["keys"] if k not in owner])}  # fmt: skip
        raise AssertionError(method)

    drift = check(call, "worklog", "opportunities", "opportunity", "opportunity", ["stage"],
                  repair=True, page=3)  # fmt: skip
    assert (drift.checked, drift.missing, drift.different, drift.extra) == (
        7,
        ["3", "5"],
        ["4"],
        ["9"],
    )
    assert sorted(repaired, key=int) == ["3", "4", "5", "9"] and drift.repaired == 4
    assert compare_page([["1", "a"], ["2", "b"]], {"1": "a"}) == (["2"], [])


def test_the_sampler_shows_the_drift_of_the_last_full_round():
    pages = {None: ([["1", "a"], ["2", "b"]], "2"), "2": ([["3", "c"]], None)}
    mirror = {"1": "a", "2": "x", "3": "c"}
    sampler = Sampler()

    def tick():
        return sampler.tick(
            "p",
            lambda cursor: {"items": pages[cursor][0], "next_cursor": pages[cursor][1]},
            lambda keys: {k: mirror[k] for k in keys if k in mirror},
        )

    assert tick() == 1  # round one, first page: "2" differs
    assert tick() == 1  # round one done: 1
    mirror["2"] = "b"
    assert tick() == 1  # round two under way: the last full round still shows
    assert tick() == 0  # round two done: nothing drifts


def test_a_row_older_than_the_callers_own_change_is_doubtful():
    changed = (T0 + timedelta(seconds=5)).isoformat()
    fresh = Freshness([["opportunity", "42", changed]])
    assert fresh and fresh.stale("opportunity", 42, T0)  # the row predates the change
    assert not fresh.stale("opportunity", 42, T0 + timedelta(seconds=6))
    assert fresh.stale("opportunity", "42", None)
    assert not fresh.stale("opportunity", 43, T0) and not fresh.stale("customer", 42, T0)
    assert not Freshness() and not Freshness([["x", "1", "not a time"]])


def test_customer_service_works_on_its_branch_and_no_further():
    levels = {"1": 9, "6": 6, "60": 6, "40": 4, "2": 2, "3": 3, "30": 3, "22": 2}
    # branch of manager 6: supervisor 40 → rep 2; customer service 3 under 6
    owner_path = "/1/6/40/2/"
    rep = Actor(id="2", level=2, path=["1", "6", "40", "2"])
    service = Actor(id="3", level=3, path=["1", "6", "3"])
    elsewhere = Actor(id="30", level=3, path=["1", "60", "30"])
    peer = Actor(id="22", level=2, path=["1", "6", "40", "22"])
    supervisor = Actor(id="40", level=4, path=["1", "6", "40"])
    assert branch_head(["1", "6", "40", "2"], levels) == "6"
    assert branch_head(["1", "60", "30"], levels) == "60"
    assert may_work_on(rep, "2", owner_path, levels)
    assert may_work_on(supervisor, "2", owner_path, levels)
    assert may_work_on(service, "2", owner_path, levels)
    assert not may_work_on(elsewhere, "2", owner_path, levels)
    assert not may_work_on(peer, "2", owner_path, levels)  # level 2: own customers only


def test_a_path_that_stops_above_its_user_gets_the_user():
    assert user_path(["1", "7"], "42") == "/1/7/42/"
    assert user_path(["1", "7", "42"], "42") == "/1/7/42/"
    assert user_path([], "42") == "/42/" and path_list("/1/7/42/") == ["1", "7", "42"]


def test_two_changes_within_one_second_are_told_apart(session):
    """``at`` keeps whole seconds (scoring keys facts by it); ``changed_at`` orders a record's
    changes, and is what a caller's own change is compared with."""
    second = T0.isoformat()
    early = {**fact(4, "needs", 0), "at": second, "changed_at": T0.replace(microsecond=200_000)
             .isoformat()}  # fmt: skip
    late = {**fact(4, "demo", 0), "at": second, "changed_at": T0.replace(microsecond=700_000)
            .isoformat()}  # fmt: skip
    MIRROR.apply(session, [late])
    MIRROR.apply(session, [early])  # redelivered after the later change: ignored
    assert stored(session, 4) == ("7", "demo")
    told = Freshness([["opportunity", "4", T0.replace(microsecond=650_000).isoformat()]])
    assert told.stale("opportunity", 4, fact_time(early))
    assert not told.stale("opportunity", 4, fact_time(late))
