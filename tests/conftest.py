"""Root test configuration: eventlet first (nameko runs on it), then shared fixtures."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402

import pytest  # noqa: E402

from tests.support import Environment, amqp_uri, create_vhost, delete_vhost  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def session_vhost():
    """A RabbitMQ vhost of this test session; BPC_AMQP_URI points at it for every test."""
    name = create_vhost("bpc_session")
    previous = os.environ.get("BPC_AMQP_URI")
    os.environ["BPC_AMQP_URI"] = amqp_uri(name)
    yield name
    if previous is None:
        os.environ.pop("BPC_AMQP_URI", None)
    else:
        os.environ["BPC_AMQP_URI"] = previous
    delete_vhost(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def make_environment(tmp_path_factory):
    """Factory for isolated BPC environments, destroyed after the test."""
    created = []

    def factory(backend: str = "sqlite", **extra: str) -> Environment:
        env = Environment.create(tmp_path_factory.mktemp("bpc"), backend, **extra)
        created.append(env)
        return env

    yield factory
    for env in created:
        env.destroy()


# --- shards: ./bpc test runs the suite as two pytest processes side by side -------------------
# (pytest-xdist's workers hang under eventlet's monkey patch.) BPC_TEST_SHARD=i/n keeps the
# test files of shard i: whole files, so a module's fixtures start once, balanced by an
# estimate of each file's time (a BPC or a service started per module, then per test).
_SETUP = {"e2e": 20.0, "integration": 6.0, "unit": 0.2}
_PER_TEST = {"e2e": 8.0, "integration": 3.0, "unit": 0.05}
# seconds beyond the estimate, from --durations on a 2-core machine (a load, a property-based
# run, a second BPC): without them one shard ran 17 min and the other 11
_EXTRA = {
    "test_acceptance.py": 140.0,
    "test_scoring_service.py": 120.0,
    "test_instances.py": 90.0,
    "test_reliability.py": 60.0,
    "test_read_your_writes.py": 130.0,
    "test_demo.py": 30.0,
    "test_accounts.py": 15.0,
}


def _weight(path: str, tests: int) -> float:
    kind = "e2e" if "/e2e/" in path else "integration" if "/integration/" in path else "unit"
    return _SETUP[kind] + _PER_TEST[kind] * tests + _EXTRA.get(os.path.basename(path), 0.0)


def pytest_collection_modifyitems(config, items):
    shard = os.environ.get("BPC_TEST_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    files: dict[str, int] = {}
    for item in items:
        files[str(item.path)] = files.get(str(item.path), 0) + 1
    loads, owner = [0.0] * count, {}
    for path in sorted(files, key=lambda p: (-_weight(p, files[p]), p)):  # heaviest first
        lightest = loads.index(min(loads))
        owner[path] = lightest
        loads[lightest] += _weight(path, files[path])
    kept = [item for item in items if owner[str(item.path)] == index]
    config.hook.pytest_deselected(items=[i for i in items if owner[str(i.path)] != index])
    items[:] = kept
