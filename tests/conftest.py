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
# test files of shard i: whole files, so a module's fixtures start once, balanced by what each
# file took in a measured run (tests/durations.json: each shard writes what its files took to
# var/test-times-<shard>.json; merge them into it when the suite changes much), a new file by
# an estimate (a BPC or a service started per module, then per test).
_SETUP = {"e2e": 20.0, "integration": 3.0, "unit": 0.2}
_PER_TEST = {"e2e": 8.0, "integration": 1.0, "unit": 0.05}
_MEASURED_FILE = os.path.join(os.path.dirname(__file__), "durations.json")

# packages whose package-scoped fixture starts one BPC for all their files (the browser tests'
# BPC with the demo data), and the files that share the session's BPCs (tests/e2e/conftest.py
# SHARED_BY): each kept whole in one shard, or each shard would start its own
_PACKAGES = ("tests/e2e/web/",)
_SHARED_BPC = "tests/e2e/ (shared BPC)"


def _unit(path: str) -> str:
    """The shard's unit of ``path``: its package or group for those above, else the file
    itself, relative to the repository (``tests/…``)."""
    from tests.e2e.conftest import SHARED_BY

    path = "tests/" + path.split("/tests/", 1)[-1] if "/tests/" in path else path
    for package in _PACKAGES:
        if path.startswith(package):
            return package
    return _SHARED_BPC if path in SHARED_BY else path


def _measured() -> dict[str, float]:
    import json

    try:
        with open(_MEASURED_FILE, encoding="utf-8") as file:
            times = json.load(file)
    except (OSError, ValueError):
        return {}
    units: dict[str, float] = {}
    for path, seconds in times.items():
        units[_unit(path)] = units.get(_unit(path), 0.0) + float(seconds)
    return units


def _weight(path: str, tests: int, measured: dict[str, float]) -> float:
    if path in measured:
        return measured[path]
    kind = "e2e" if "/e2e/" in path else "integration" if "/integration/" in path else "unit"
    return _SETUP[kind] + _PER_TEST[kind] * tests


def pytest_collection_modifyitems(config, items):
    shard = os.environ.get("BPC_TEST_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    units: dict[str, int] = {}  # a test file, or a package whose fixture starts one BPC for all
    for item in items:
        units[_unit(str(item.path))] = units.get(_unit(str(item.path)), 0) + 1
    measured = _measured()
    loads, owner = [0.0] * count, {}
    heaviest_first = sorted(units, key=lambda u: (-_weight(u, units[u], measured), u))
    for unit in heaviest_first:
        lightest = loads.index(min(loads))
        owner[unit] = lightest
        loads[lightest] += _weight(unit, units[unit], measured)
    kept = [item for item in items if owner[_unit(str(item.path))] == index]
    config.hook.pytest_deselected(items=[i for i in items if owner[_unit(str(i.path))] != index])
    items[:] = kept


# --- what each shard spent where: var/test-times-<shard>.json (to balance the shards by) ------
_spent: dict[str, float] = {}


def pytest_runtest_logreport(report):
    path = str(report.fspath)
    path = "tests/" + path.split("/tests/", 1)[-1] if "/tests/" in path else path
    _spent[path] = _spent.get(path, 0.0) + report.duration


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
