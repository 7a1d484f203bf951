"""The run command as a new user meets it, and the gateway when a service is down."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.support import (
    ROOT,
    Api,
    ServiceProcess,
    declare_topology,
    free_port,
)


def test_run_says_in_one_line_when_rabbitmq_is_unreachable(tmp_path):
    port = free_port()  # nothing listens there
    env = {
        "PATH": "/usr/bin:/bin",
        "BPC_AMQP_URI": f"amqp://guest:guest@127.0.0.1:{port}/",
        "BPC_DATA_DIR": str(tmp_path),
    }
    run = subprocess.run(
        [sys.executable, "-m", "ops.cli", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "RabbitMQ" in lines[0] and "rabbitmq-server" in lines[0]


def test_a_service_that_is_down_gives_503_in_bounded_time(make_environment):
    env = make_environment("sqlite", BPC_RPC_TIMEOUT="2")
    declare_topology(env)
    org = ServiceProcess(env, "org").start()
    gateway = ServiceProcess(env, "gateway").start()
    try:
        org.wait_ready()
        gateway.wait_ready()
        api = Api(env.base_url).login("admin", env.admin_password)
        began = time.monotonic()
        resp = api.post("/api/v1/customers", {"name": "无人应答有限公司", "contacts": []})
        elapsed = time.monotonic() - began
        assert resp.status_code == 503
        error = resp.json()["error"]
        assert error["code"] == "service_unavailable"
        assert error["details"]["service"] == "customer"
        assert elapsed < 10
        health = Api(env.base_url).get("/healthz")
        assert health.status_code == 503
        assert health.json()["services"]["customer"] == "down"
        assert health.json()["services"]["org"] == "ok", (health.json(), gateway.tail(), org.tail())
    finally:
        gateway.stop()
        org.stop()
