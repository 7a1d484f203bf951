"""Configuration from environment variables, with safe defaults (docs/ARCHITECTURE.md "Running")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SERVICES = ("org", "customer", "opportunity", "worklog", "alerts", "experience", "scoring")

# Each service exposes Prometheus metrics on its own port: 9101 + its index.
METRICS_BASE_PORT = 9101


def amqp_uri() -> str:
    return os.environ.get("BPC_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def data_dir() -> Path:
    path = Path(os.environ.get("BPC_DATA_DIR", "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_url(service: str) -> str:
    url = os.environ.get(f"BPC_DB_URL_{service.upper()}")
    if url:
        # SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3; we ship psycopg2
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg2://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{(data_dir() / f'{service}.db').resolve()}"


def tz_name() -> str:
    return os.environ.get("BPC_TZ", "Asia/Shanghai")


def gateway_address() -> tuple[str, int]:
    host, _, port = os.environ.get("BPC_GATEWAY_ADDRESS", "127.0.0.1:8000").rpartition(":")
    return host or "127.0.0.1", int(port)


METRICS_INSTANCE_STRIDE = 10  # instance k of a service serves /metrics k × 10 ports higher


def instance() -> int:
    """Which instance of its service this process is (0, 1, …; ``bpc run --instances``)."""
    return int(os.environ.get("BPC_INSTANCE", "0") or 0)


def metrics_port(service: str) -> int | None:
    """Port of a service's /metrics (9101 + the service's index, + 10 per instance after the
    first); BPC_METRICS_PORT_<SERVICE>=0 switches it off."""
    raw = os.environ.get(f"BPC_METRICS_PORT_{service.upper()}")
    if raw is not None:
        return (int(raw) + METRICS_INSTANCE_STRIDE * instance()) if int(raw) else None
    offset = int(os.environ.get("BPC_METRICS_PORT_OFFSET", "0"))
    if service in SERVICES:
        return (
            METRICS_BASE_PORT
            + SERVICES.index(service)
            + offset
            + METRICS_INSTANCE_STRIDE * instance()
        )
    if service == "gateway":
        return None  # the gateway serves /metrics on its HTTP port
    return None


def rpc_timeout() -> float:
    return float(os.environ.get("BPC_RPC_TIMEOUT", "5"))


def projection_ask_timeout() -> float:
    """Seconds a service waits for the owner of a fact its projection has not seen yet (or
    whose refusal it confirms): past it the request answers 503, to be retried."""
    return float(os.environ.get("BPC_PROJECTION_ASK_TIMEOUT", "2"))


def projection_sample_interval() -> float:
    """Seconds between two samples of a service's projections against their owners (one page
    of each; ``bpc_projection_drift``); 0 switches sampling off."""
    return float(os.environ.get("BPC_PROJECTION_SAMPLE_INTERVAL", "300"))


def sweep_interval() -> float:
    """Seconds between two runs of the opportunity sweep's timer (each instance)."""
    return max(0.05, float(os.environ.get("BPC_SWEEP_INTERVAL", "5")))


def escalation_interval() -> float:
    """Seconds between two runs of the alarm escalation sweep's timer (each instance)."""
    return max(0.05, float(os.environ.get("BPC_ESCALATION_INTERVAL", "5")))


def workbench_timeout() -> float:
    """Seconds the workbench waits for its sections; a section later than that is null."""
    return max(0.05, float(os.environ.get("BPC_WORKBENCH_TIMEOUT", "1.5")))


def reminder_interval() -> float:
    """Seconds between two passes of each customer instance over today's reminders."""
    return max(0.05, float(os.environ.get("BPC_REMINDER_INTERVAL", "60")))


def alarm_no_response_limit() -> str:
    """ISO 8601 duration: no response within it → the next supervisor is notified."""
    return os.environ.get("BPC_ALARM_NO_RESPONSE", "P1D")


def alarm_unresolved_limit() -> str:
    """ISO 8601 duration: still unresolved after it (answered) → the next level up."""
    return os.environ.get("BPC_ALARM_UNRESOLVED", "P7D")


def suggestion_timeout() -> float:
    """Seconds the alerts service waits for the experience pool's suggestions on a raise;
    past it the alarm is raised without them."""
    return float(os.environ.get("BPC_SUGGESTION_TIMEOUT", "2"))


def expense_cap() -> str:
    """The largest expense one work-log entry may claim (yuan)."""
    return os.environ.get("BPC_EXPENSE_CAP", "5000.00")


def grace_hour() -> int:
    """Until this hour (organisation's time) yesterday's log is still accepted, marked late."""
    return int(os.environ.get("BPC_GRACE_HOUR", "10"))


def sweep_batch() -> int:
    """Opportunities one sweep transaction claims at most (several instances share the rest)."""
    return max(1, int(os.environ.get("BPC_SWEEP_BATCH", "500")))


def handler_max_attempts() -> int:
    return int(os.environ.get("BPC_HANDLER_MAX_ATTEMPTS", "5"))


def handler_retry_delay_ms() -> int:
    return int(os.environ.get("BPC_HANDLER_RETRY_DELAY_MS", "500"))


def token_ttl_seconds() -> int:
    """An access token's life: a lost device is cut off this soon after its sessions end."""
    return int(os.environ.get("BPC_TOKEN_TTL", str(15 * 60)))


def refresh_ttl_seconds() -> int:
    """A refresh token's life, renewed at each refresh: a session unused this long ends."""
    return int(os.environ.get("BPC_REFRESH_TTL", str(12 * 3600)))


_secret_cache: dict[tuple, str] = {}


def secret_key() -> str:
    """Signing key for tokens: BPC_SECRET, else one generated once and kept in the data dir."""
    key = (os.environ.get("BPC_SECRET"), os.environ.get("BPC_DATA_DIR"))
    if key not in _secret_cache:
        _secret_cache[key] = _load_secret()
    return _secret_cache[key]


def _load_secret() -> str:
    secret = os.environ.get("BPC_SECRET")
    if secret:
        return secret
    path = data_dir() / "secret.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def max_workers() -> int:
    """Concurrent workers per service process (nameko's ``max_workers``)."""
    return int(os.environ.get("BPC_MAX_WORKERS", "20"))


def db_pool_size() -> int:
    """Database connections a service process keeps open between requests (PostgreSQL): eight
    processes keep 64 of a default server's 100, so a burst in one still finds room."""
    return int(os.environ.get("BPC_DB_POOL_SIZE", "8"))


def db_connections() -> int:
    """Connections one ``bpc run`` may open on its PostgreSQL server, all its processes together
    (BPC_DB_CONNECTIONS; default 80 of a default server's 100, the rest left to operators'
    tools and migrations): ``bpc run`` gives each process its share (``pool_share``), so that
    a burst on several instances waits for a connection of its own pool instead of being
    refused by the server ("too many clients")."""
    return int(os.environ.get("BPC_DB_CONNECTIONS", "80"))


def pool_share(processes: int, budget: int) -> tuple[int, int]:
    """(pool size, overflow) of each of ``processes`` sharing ``budget`` connections: at least
    two each (a worker's and the outbox relay's), at most the defaults."""
    share = max(2, budget // max(processes, 1))
    pool = max(1, min(8, share // 2))
    return pool, min(share - pool, max(0, max_workers() + 2 - pool))


def db_max_overflow() -> int:
    """Connections opened beyond the kept ones in a burst, and closed after it: up to one per
    worker, plus the outbox relay and a background job, in all."""
    default = max(0, max_workers() + 2 - db_pool_size())
    return int(os.environ.get("BPC_DB_MAX_OVERFLOW", str(default)))


def nameko_config() -> dict:
    return {
        "AMQP_URI": amqp_uri(),
        "max_workers": max_workers(),
        "parent_calls_tracked": 10,
        "serializer": "json",
    }
