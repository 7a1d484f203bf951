import pytest

from tests.support import Api, Environment, bpc_running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bpc(request, tmp_path_factory):
    """The whole of BPC started by the README's run command, on each database backend."""
    # the opportunity sweep's timer every 0.3 s, so PT2S stage clocks run out within a test
    env = Environment.create(
        tmp_path_factory.mktemp("bpc-e2e"), request.param, BPC_SWEEP_INTERVAL="0.3"
    )
    with bpc_running(env) as running:
        yield running


@pytest.fixture(scope="module")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)
