"""BPC for the end-to-end tests, started by the README's run command.

Starting BPC (eight processes, their migrations, the broker's topology) costs a test file more
than most of its tests, so the files whose tests only add data of their own (a unit, users and
records under a fresh tag) and change no group-wide setting share one BPC per database for the
whole session: ``shared_bpc``. Its clocks are those of seconds every such file needs: the
opportunity sweep and the alarm escalation every 0.3 s, an alarm with no response for 2 s
climbs to the next supervisor, one unresolved for 4 s too. A file that changes what others
read (the fuzz of every route, the demo's clock moved forward, login throttling, a short token
life, two instances) starts its own (``bpc_running``). Read-your-writes and the two-instance
comparison once shared them too, with projections sampled every second: three BPCs kept busy
side by side for the whole run timed out each other's calls on a machine the other shard
loads as well.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.support import Api, Environment, RunningBpc, bpc_running

SHARED_SETTINGS = {
    "BPC_SWEEP_INTERVAL": "0.3",
    "BPC_ESCALATION_INTERVAL": "0.3",
    "BPC_ALARM_NO_RESPONSE": "PT2S",
    "BPC_ALARM_UNRESOLVED": "PT4S",
}

# the files that use shared_bpc: the test shards keep them together (tests/conftest.py)
SHARED_BY = (
    "tests/e2e/test_opportunities.py",
    "tests/e2e/test_worklog.py",
    "tests/e2e/test_alarms.py",
    "tests/e2e/test_every_answer.py",
)


@pytest.fixture(scope="session")
def shared_bpc(tmp_path_factory):
    """``shared_bpc(backend)``: the session's BPC on ``backend`` ("sqlite" or "postgresql"),
    started at its first use, stopped and removed when the session ends."""
    running: dict[str, RunningBpc] = {}
    with contextlib.ExitStack() as stack:

        def get(backend: str) -> RunningBpc:
            if backend not in running:
                env = Environment.create(
                    tmp_path_factory.mktemp(f"bpc-shared-{backend}"), backend, **SHARED_SETTINGS
                )
                running[backend] = stack.enter_context(bpc_running(env))
            return running[backend]

        yield get


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bpc(request, shared_bpc):
    """The whole of BPC, shared with the other files of SHARED_BY, on each database backend."""
    return shared_bpc(request.param)


@pytest.fixture(scope="module")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)
