"""common.groupcommit: requests arriving while a group runs share the next group; each caller
gets its own answer or error, and the lead always passes on."""

from __future__ import annotations

import eventlet
import pytest

from common.errors import ServiceUnavailable, ValidationFailed
from common.groupcommit import GroupCommit


def doubling(groups: list):
    """A group runner that takes a little time (as a transaction does) and doubles each
    number; a negative number is refused on its own."""

    def run(items):
        groups.append([item.payload for item in items])
        eventlet.sleep(0.01)
        for item in items:
            if item.payload < 0:
                item.fail(ValidationFailed(details={"n": ["negative"]}))
            else:
                item.succeed(item.payload * 2)

    return run


def test_a_lone_request_runs_at_once_in_a_group_of_its_own():
    groups = []
    commit = GroupCommit(doubling(groups))
    assert commit.submit(21) == 42
    assert groups == [[21]]
    assert commit.submit(5) == 10 and groups == [[21], [5]]


def test_requests_arriving_together_share_groups_in_arrival_order_each_with_its_answer():
    groups = []
    commit = GroupCommit(doubling(groups), max_size=4)
    pool = eventlet.GreenPool()
    threads = [pool.spawn(commit.submit, n) for n in range(10)]
    assert [t.wait() for t in threads] == [n * 2 for n in range(10)]
    # the first ran alone; the rest queued behind it and went in groups of at most 4
    assert groups[0] == [0]
    assert [n for group in groups for n in group] == list(range(10))
    assert len(groups) < 10 and max(len(g) for g in groups) <= 4
    assert (commit.groups, commit.requests) == (len(groups), 10)


def test_a_refused_request_refuses_nothing_else_of_its_group():
    commit = GroupCommit(doubling([]))
    pool = eventlet.GreenPool()
    threads = [pool.spawn(commit.submit, n) for n in (1, -1, 2, 3)]
    assert threads[0].wait() == 2
    with pytest.raises(ValidationFailed):
        threads[1].wait()
    assert [threads[2].wait(), threads[3].wait()] == [4, 6]


def test_a_group_that_fails_fails_each_of_its_callers_and_the_next_group_still_runs():
    calls = []

    def run(items):
        calls.append([i.payload for i in items])
        eventlet.sleep(0.01)
        if "boom" in [i.payload for i in items]:
            raise RuntimeError("database gone")
        for item in items:
            item.succeed(item.payload.upper())

    commit = GroupCommit(run)
    pool = eventlet.GreenPool()
    first = pool.spawn(commit.submit, "a")
    eventlet.sleep(0)  # "a" leads; the next two queue behind it and share the second group
    doomed = [pool.spawn(commit.submit, p) for p in ("b", "boom")]
    with pytest.raises(RuntimeError):
        doomed[0].wait()
    with pytest.raises(RuntimeError):
        doomed[1].wait()
    assert first.wait() == "A"
    assert commit.submit("c") == "C"
    assert calls == [["a"], ["b", "boom"], ["c"]]


def test_an_item_the_runner_leaves_unsettled_is_a_503_not_a_hang():
    commit = GroupCommit(lambda items: None)
    with pytest.raises(ServiceUnavailable):
        commit.submit(1)


def test_a_caller_killed_while_queued_is_dropped_and_the_lead_passes_on():
    groups = []
    commit = GroupCommit(doubling(groups))
    pool = eventlet.GreenPool()
    leader = pool.spawn(commit.submit, 1)
    eventlet.sleep(0)
    gone = pool.spawn(commit.submit, 2)
    after = pool.spawn(commit.submit, 3)
    eventlet.sleep(0)
    gone.kill()  # its worker killed while it waits in the queue
    assert leader.wait() == 2 and after.wait() == 6
    assert [n for g in groups for n in g] == [1, 3]
    assert commit.submit(4) == 8  # the lead was not lost


def test_a_caller_killed_just_as_it_is_handed_the_lead_passes_it_on():
    groups, doomed = [], []

    class KillsTheHeir(GroupCommit):
        def _hand_over(self):
            super()._hand_over()
            while doomed:  # the heir has the lead but has not run yet
                doomed.pop().kill()

    commit = KillsTheHeir(doubling(groups), max_size=1)
    pool = eventlet.GreenPool()
    leader = pool.spawn(commit.submit, 1)
    eventlet.sleep(0)
    heir = pool.spawn(commit.submit, 2)
    last = pool.spawn(commit.submit, 3)
    eventlet.sleep(0)
    doomed.append(heir)
    assert leader.wait() == 2 and last.wait() == 6
    assert [n for g in groups for n in g] == [1, 3]  # 2 never ran: its caller was gone
    assert heir.dead
    assert commit.submit(4) == 8  # the lead was not lost
