"""Test harness: isolated broker vhosts, databases, service processes and an HTTP client.

Everything talks to the real RabbitMQ and PostgreSQL of the machine. Each test session gets
its own RabbitMQ vhost so it never meets the queues of a BPC running beside it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import kombu
import requests

ROOT = Path(__file__).resolve().parent.parent
RABBIT = os.environ.get("BPC_TEST_RABBIT", "amqp://guest:guest@127.0.0.1:5672")
PG = os.environ.get("BPC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
SERVICES = ("org", "customer", "opportunity", "worklog", "alerts", "experience", "scoring")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_handed_out: set[int] = set()  # ports this process gave a system that may not listen yet


def free_port_range(count: int = 8) -> int:
    """The first of ``count`` consecutive free ports below the kernel's ephemeral range
    (32768–60999): a port picked inside it may be taken a moment later as the local end of an
    outgoing connection (to RabbitMQ, PostgreSQL), and a server would then fail to bind.

    Each test process of ``./bpc test`` (BPC_TEST_SHARD=i/n) draws from its own slice of
    20000–32000, and never hands out a port twice: a port is free until the system it was
    given to starts listening, seconds later, and another process must not take it meanwhile.
    """
    low, high = 20_000, 32_000
    shard = os.environ.get("BPC_TEST_SHARD", "")
    if "/" in shard:
        index, total = (int(part) for part in shard.split("/", 1))
        width = (high - low) // max(total, 1)
        low, high = low + index * width, low + (index + 1) * width
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, high - count)
        ports = range(base, base + count)
        if _handed_out.intersection(ports):
            continue
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.update(ports)
        return base
    raise RuntimeError("no free range of ports")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


MANAGEMENT = os.environ.get("BPC_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
_management: list[bool] = []  # [answers?], learnt once per test session


def _management_api() -> bool:
    """Vhosts through the management plugin's HTTP API (milliseconds) when it answers (the
    test command enables it), else through rabbitmqctl (an Erlang start, half a second a
    call, three calls per test system)."""
    if not _management:
        try:
            requests.get(f"{MANAGEMENT}/overview", auth=("guest", "guest"), timeout=2)
            _management.append(True)
        except requests.RequestException:
            _management.append(False)
    return _management[0]


def _api(method: str, path: str, **kwargs) -> None:
    answer = requests.request(
        method, f"{MANAGEMENT}{path}", auth=("guest", "guest"), timeout=30, **kwargs
    )
    if answer.status_code >= 400 and not (method == "DELETE" and answer.status_code == 404):
        raise RuntimeError(f"RabbitMQ API {method} {path}: {answer.status_code} {answer.text}")


def create_vhost(prefix: str = "bpc_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if _management_api():
        _api("PUT", f"/vhosts/{quote(name, safe='')}")
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        _api("PUT", f"/permissions/{quote(name, safe='')}/guest", json=permissions)
    else:
        _rabbitmqctl("add_vhost", name)
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def delete_vhost(name: str) -> None:
    try:
        if _management_api():
            _api("DELETE", f"/vhosts/{quote(name, safe='')}")
        else:
            _rabbitmqctl("delete_vhost", name)
    except (subprocess.SubprocessError, OSError, RuntimeError, requests.RequestException):
        pass


def amqp_uri(vhost: str) -> str:
    return f"{RABBIT}/{quote(vhost, safe='')}"


def create_pg_database(prefix: str) -> str:
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"{PG}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def unmeasured(environ) -> dict[str, str]:
    """``environ`` for a process coverage does not measure (./bpc test starts coverage in every
    Python process whose environment carries its COVERAGE_PROCESS_* variables)."""
    return {k: v for k, v in environ.items() if not k.startswith("COVERAGE_PROCESS")}


@dataclass
class Environment:
    """One isolated BPC: a vhost, a data dir, ports, and (optionally) PostgreSQL databases."""

    backend: str = "sqlite"
    admin_password: str = "Admin-Pass-2026"
    vhost: str = ""
    data_dir: Path = field(default_factory=Path)
    gateway_port: int = 0
    metrics_offset: int = 0
    pg_urls: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    # whether coverage (./bpc test) measures the processes started on it: a load test's BPC,
    # whose lines the functional tests already reach, runs a third faster unmeasured
    measured: bool = True

    @classmethod
    def create(
        cls, tmp: Path, backend: str = "sqlite", measured: bool = True, **extra: str
    ) -> Environment:
        env = cls(backend=backend, extra=dict(extra), measured=measured)
        env.vhost = create_vhost()
        env.data_dir = tmp
        # a distinct, free range of ports: the metrics' (10 apart for each of up to 3
        # instances a service), then the gateway's
        base = free_port_range(31)
        env.metrics_offset = base - 9101
        env.gateway_port = base + 30
        if backend == "postgresql":
            for service in (*SERVICES, "gateway"):
                env.pg_urls[service] = create_pg_database(f"bpc_t_{service}")
        return env

    def destroy(self) -> None:
        delete_vhost(self.vhost)
        for url in self.pg_urls.values():
            drop_pg_database(url)
        if not os.environ.get("BPC_TEST_KEEP_LOGS"):  # set it to read the services' logs after
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def amqp_uri(self) -> str:
        return amqp_uri(self.vhost)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{9101 + SERVICES.index(service) + self.metrics_offset}/metrics"

    def vars(self, measured: bool | None = None, **overrides: str) -> dict[str, str]:
        """The environment of a process run on it (``measured``: by coverage; the
        environment's own choice unless given)."""
        measured = self.measured if measured is None else measured
        base = os.environ if measured else unmeasured(os.environ)
        env = {k: v for k, v in base.items() if not k.startswith("BPC_")}
        env.update(
            BPC_AMQP_URI=self.amqp_uri,
            BPC_DATA_DIR=str(self.data_dir),
            BPC_GATEWAY_ADDRESS=f"127.0.0.1:{self.gateway_port}",
            BPC_METRICS_PORT_OFFSET=str(self.metrics_offset),
            BPC_ADMIN_PASSWORD=self.admin_password,
            BPC_SECRET="test-secret-" + self.vhost,
            PYTHONUNBUFFERED="1",
        )
        for service, url in self.pg_urls.items():
            env[f"BPC_DB_URL_{service.upper()}"] = url
        if self.pg_urls:  # two test processes may each run a BPC on the one server (100)
            env["BPC_DB_CONNECTIONS"] = "40"
        env.update(self.extra)
        env.update(overrides)
        return env

    def nameko_config(self) -> dict:
        return {"AMQP_URI": self.amqp_uri, "serializer": "json"}


class ServiceProcess:
    """One service (or the gateway) as its own OS process, as the run command starts it."""

    def __init__(self, env: Environment, name: str, **overrides: str):
        self.env, self.name, self.overrides = env, name, overrides
        self.proc: subprocess.Popen | None = None
        self.log_path = env.data_dir / f"{name}.log"

    def start(self, **overrides: str) -> ServiceProcess:
        env = self.env.vars(**{**self.overrides, **overrides})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ops.runner", self.name],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 40) -> None:
        """Ready when its health RPC answers (the gateway: when its port accepts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.tail()}")
            if self.name == "gateway":
                try:
                    requests.get(f"{self.env.base_url}/api/v1/openapi.json", timeout=1)
                    return
                except requests.RequestException:
                    pass
            else:
                try:
                    rpc(self.env, self.name, "health", timeout=2)
                    return
                except Exception:  # noqa: BLE001 - not up yet
                    pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready: {self.tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def processes_running(tmp: Path, backend: str, *names: str, **overrides: str):
    """``names`` each as its own process (as ``bpc run`` starts them) on a fresh environment of
    ``backend``: for what only separate workers on a broker make real — requests racing one
    another, delivery across processes. Yields the environment."""
    from common import topology

    env = Environment.create(tmp, backend)
    topology.declare(services=names, uri=env.amqp_uri)
    started = [ServiceProcess(env, name, **overrides).start() for name in names]
    try:
        for process in started:
            process.wait_ready()
        yield env
    finally:
        discard(*started)
        env.destroy()


def discard(*processes: ServiceProcess) -> None:
    """A fixture's teardown: the test is over and its system is about to be destroyed, so its
    processes are killed at once (a graceful stop waits about 2 s on nameko's consumer loops,
    one process after another). Tests of stopping use ``stop``."""
    for process in processes:
        if process.proc and process.proc.poll() is None:
            process.proc.send_signal(signal.SIGKILL)
    for process in processes:
        if process.proc:
            process.proc.wait()
        if getattr(process, "log", None):
            process.log.close()


def declare_topology(env: Environment) -> None:
    """What the run command declares before any service starts (in this process: the
    ``bpc topology`` command would cost a Python start-up each time)."""
    from common import topology

    topology.declare(uri=env.amqp_uri)


def rpc(env: Environment, service: str, method: str, actor=None, timeout: float = 10, **kwargs):
    """Call a service over RPC as ``actor`` (an Actor), the way the gateway does (or, on
    services run in this process, tests/inprocess.py, the same call here)."""
    if getattr(env, "in_process", False):
        return env.call(service, method, actor, **kwargs)
    from nameko.standalone.rpc import ClusterRpcProxy

    context = {"bpc_actor": actor.to_header()} if actor is not None else {}
    with ClusterRpcProxy(env.nameko_config(), context_data=context, timeout=timeout) as proxy:
        return getattr(getattr(proxy, service), method)(**kwargs)


def publish_event(env: Environment, producer: str, event_type: str, data: dict, envelope=None):
    """Publish an event as a producer's relay would; returns the envelope published."""
    from common.events import Envelope, routing_key

    envelope = envelope or Envelope.new(producer, event_type, data)
    if getattr(env, "in_process", False):
        return env.publish(envelope)
    with kombu.Connection(env.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer_ = conn.Producer(serializer="json")
        producer_.publish(
            envelope.to_message(),
            exchange=kombu.Exchange(f"{producer}.events", type="topic", durable=True),
            routing_key=routing_key(producer, event_type, envelope.data),
            delivery_mode=2,
        )
    return envelope


def queue_depth(env: Environment, queue: str) -> int:
    with kombu.Connection(env.amqp_uri) as conn:
        _, depth, _ = conn.default_channel.queue_declare(queue, passive=True)
        return depth


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus sample's values whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def eventually(check, timeout: float = 20, interval: float = 0.2, message=""):
    """Poll ``check`` until it returns a truthy value; its last value or an AssertionError
    (``message``, or a callable giving it, says what was last seen)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except AssertionError as exc:
            last_exc = exc
        time.sleep(interval)
    if last_exc:
        raise last_exc
    if callable(message):
        message = message()
    raise AssertionError(message or f"condition not met within {timeout}s")


class Api:
    """A small HTTP client for the gateway (nameko's web_session breaks on Werkzeug 3). Signed
    in, it behaves as every client must: an access token lives minutes, and on a 401 it buys
    the next pair with its refresh token once and sends the request again."""

    def __init__(self, base_url: str, token: str | None = None, refresh_token: str | None = None):
        self.base_url, self.token, self.refresh_token = base_url, token, refresh_token
        self.session = requests.Session()

    def request(self, method: str, path: str, *, json_body=None, headers=None, data=None, **kwargs):
        headers = dict(headers or {})
        own_token = "Authorization" not in headers and bool(self.token)
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json")
        for attempt in (1, 2):
            if own_token:
                headers["Authorization"] = f"Bearer {self.token}"
            resp = self.session.request(
                method, self.base_url + path, data=data, headers=headers, timeout=30, **kwargs
            )
            if not (resp.status_code == 401 and own_token and self.refresh_token and attempt == 1
                    and self._refreshed()):  # fmt: skip
                return resp
        return resp

    def fresh_token(self) -> str:
        """The access token, just renewed (for requests sent without this client, e.g. by
        threads or another program): good for a whole ``BPC_TOKEN_TTL`` from now."""
        if self.refresh_token:
            assert self._refreshed(), "the session of this client has ended"
        return self.token

    def _refreshed(self) -> bool:
        body = {"refresh_token": self.refresh_token}
        resp = self.session.post(self.base_url + "/api/v1/auth/refresh", json=body, timeout=30)
        if resp.status_code != 200:
            return False
        self.token, self.refresh_token = resp.json()["token"], resp.json()["refresh_token"]
        return True

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json_body=body if body is not None else {}, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, json_body=body, **kw)

    def login(self, login: str, password: str) -> Api:
        resp = self.post("/api/v1/auth/login", {"login": login, "password": password})
        assert resp.status_code == 200, resp.text
        return Api(self.base_url, resp.json()["token"], resp.json().get("refresh_token"))


def actor_of(env: Environment, user_id: str):
    """The Actor the gateway would build for ``user_id``."""
    from common.actor import Actor

    return Actor.from_header(rpc(env, "org", "resolve_actor", user_id=user_id))


def admin_actor(env: Environment):
    answer = rpc(env, "org", "login", login="admin", password=env.admin_password)
    return actor_of(env, answer["user"]["id"])


_customers: dict[tuple[str, str], str] = {}


def customer_for(env: Environment, owner) -> str:
    """A customer of ``owner`` (an Actor), registered with the customer service — one per owner
    and system: an entry's customer must be one its author may work on."""
    key = (getattr(env, "system_id", None) or env.vhost, owner.id)  # (tests/inprocess.py)
    if key not in _customers:
        made = rpc(env, "customer", "register", actor=owner, name=f"客户{owner.id}有限公司")
        _customers[key] = made["id"]
    return _customers[key]


def make_user(
    env: Environment,
    admin,
    login: str,
    level: int,
    supervisor_id: str,
    name: str | None = None,
    org_unit_id: str | None = None,
) -> dict:
    return rpc(
        env,
        "org",
        "create_user",
        actor=admin,
        login=login,
        password="Passw0rd!" + login,
        name=name or login,
        level=level,
        org_unit_id=org_unit_id,
        supervisor_id=supervisor_id,
    )


@contextmanager
def bpc_running(env: Environment, args: list[str] = ()) -> Iterator[RunningBpc]:
    """BPC started by the run command on ``env`` (``args``: ``["--instances", "2"]``) until
    the block ends; then stopped, and ``env``'s vhost, databases and files removed."""
    running = RunningBpc(env)
    try:
        running.start(args=args)
        yield running
    finally:
        if running.proc is not None:
            running.stop()
        env.destroy()


class RunningBpc:
    """BPC started exactly as the README says (``python -m ops.cli run``)."""

    def __init__(self, env: Environment, root: Path = ROOT):
        self.env = env
        self.root = root  # the checkout it runs from (a benchmark may run an older one)
        self.proc: subprocess.Popen | None = None
        self.started_in: float | None = None
        self.log_path = env.data_dir / "bpc-run.log"

    def start(self, timeout: float = 90, args: list[str] = ()) -> RunningBpc:
        """``bpc run`` with ``args`` (``["--instances", "2"]``), until /healthz answers ok."""
        began = time.monotonic()
        self.log = open(self.log_path, "ab")
        # (a tree older than the ops package kept its tools in common/)
        tools = "ops" if (self.root / "ops" / "cli.py").exists() else "common"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"{tools}.cli", "run", *args],
            cwd=self.root,
            env=self.env.vars(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bpc run exited {self.proc.returncode}: {self.tail()}")
            try:
                if requests.get(self.env.base_url + "/healthz", timeout=2).status_code == 200:
                    self.started_in = time.monotonic() - began
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"BPC not healthy within {timeout}s: {self.tail()}")

    def children(self) -> dict[str, int]:
        """service name → pid of the processes the run command started (one per service)."""
        return dict(self.children_all())

    def children_all(self) -> list[tuple[str, int]]:
        """(service name, pid) of every process the run command started, instances included."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
            runner = next((part for part in cmd if part.endswith(b".runner")), None)
            if ppid == self.proc.pid and runner is not None:
                found.append((cmd[cmd.index(runner) + 1].decode(), int(entry.name)))
        return sorted(found)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def check_projections(env: Environment, *args: str) -> tuple[int, str]:
    """``bpc check-projections`` against ``env``: (exit code, what it printed)."""
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "check-projections", *args],
        cwd=ROOT, env=env.vars(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def projections_in_step(env: Environment, timeout: float = 60) -> str:
    """Wait until every projection matches its owner (events still in flight settle first);
    the check's last report. Fails with it if they do not."""
    report = {}

    def clean() -> bool:
        code, report["text"] = check_projections(env)
        return code == 0

    drift = "projections drift from their owners:\n"
    eventually(clean, timeout=timeout, interval=2,
               message=lambda: drift + report.get("text", ""))  # fmt: skip
    return report["text"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tap(env, producer: str):
    """Everything ``producer`` publishes from now on: an ``EventTap`` on the broker, or on
    services run in this process (tests/inprocess.py) the events delivered there."""
    if getattr(env, "in_process", False):
        from tests.inprocess import LocalTap

        return LocalTap(env, producer)
    return EventTap(env.amqp_uri, producer)


class EventTap:
    """Everything a producer publishes from now on, caught on a queue of the test's own."""

    def __init__(self, uri: str, producer: str):
        self.connection = kombu.Connection(uri)
        exchange = kombu.Exchange(f"{producer}.events", type="topic", durable=True)
        self.queue = kombu.Queue(
            f"test.{producer}-events.{uuid.uuid4().hex[:8]}",
            exchange=exchange,
            routing_key="#",
            exclusive=True,
            auto_delete=True,
        )(self.connection.default_channel)
        self.queue.declare()
        self.seen: list[dict] = []

    def drain(self) -> list[dict]:
        while True:
            message = self.queue.get(no_ack=True)
            if message is None:
                return self.seen
            self.seen.append(message.decode() if hasattr(message, "decode") else message.payload)

    def of_type(self, event_type: str) -> list[dict]:
        return [e for e in self.drain() if e["type"] == event_type]

    def close(self) -> None:
        self.connection.release()
