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
    "test_every_answer.py": 40.0,
    "web": 100.0,  # its BPC filled with the demo data, once
}


# packages whose package-scoped fixture starts one BPC for all their files (the browser tests'
# BPC with the demo data): kept whole in one shard, or each shard would start its own
_PACKAGES = ("/tests/e2e/web/",)


def _unit(path: str) -> str:
    for package in _PACKAGES:
        if package in path:
            return path[: path.index(package) + len(package)]
    return path


def _weight(path: str, tests: int) -> float:
    kind = "e2e" if "/e2e/" in path else "integration" if "/integration/" in path else "unit"
    name = os.path.basename(path.rstrip("/"))
    return _SETUP[kind] + _PER_TEST[kind] * tests + _EXTRA.get(name, 0.0)


def pytest_collection_modifyitems(config, items):
    shard = os.environ.get("BPC_TEST_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    units: dict[str, int] = {}  # a test file, or a package whose fixture starts one BPC for all
    for item in items:
        units[_unit(str(item.path))] = units.get(_unit(str(item.path)), 0) + 1
    loads, owner = [0.0] * count, {}
    for unit in sorted(units, key=lambda u: (-_weight(u, units[u]), u)):  # heaviest first
        lightest = loads.index(min(loads))
        owner[unit] = lightest
        loads[lightest] += _weight(unit, units[unit])
    kept = [item for item in items if owner[_unit(str(item.path))] == index]
    config.hook.pytest_deselected(items=[i for i in items if owner[_unit(str(i.path))] != index])
    items[:] = kept


# --- what each shard spent where: var/test-times-<shard>.json (to balance the shards by) ------
_spent: dict[str, float] = {}


def pytest_runtest_logreport(report):
    unit = _unit(str(report.fspath)).split("/tests/", 1)[-1]
    _spent[unit] = _spent.get(unit, 0.0) + report.duration


def pytest_sessionfinish(session):
    shard = os.environ.get("BPC_TEST_SHARD")
    if not shard or not _spent:
        return
    import json
    from pathlib import Path

    out = Path(__file__).resolve().parents[1] / "var" / f"test-times-{shard.split('/')[0]}.json"
    out.parent.mkdir(exist_ok=True)
    ranked = dict(sorted(((k, round(v, 1)) for k, v in _spent.items()), key=lambda kv: -kv[1]))
    out.write_text(json.dumps(ranked, indent=1, ensure_ascii=False))
