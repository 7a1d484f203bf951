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
