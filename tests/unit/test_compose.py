"""docker-compose.yml, offline (no Docker engine here): valid against the compose-spec JSON
schema (vendored by check-jsonschema), and what a user of ``docker compose up`` relies on: one
image for every BPC process, a database per service, the topology declared and the databases
migrated before any service starts, Prometheus scraping every service and loading the alerts."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

from common import config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"
NAMES = list(config.SERVICES) + ["gateway"]
INIT = "init"  # the one-shot job: topology, then migrations


def compose_schema() -> dict:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def interpolate(value):
    """Compose's ${VAR:-default} / ${VAR-default} / ${VAR} / $$, with no variable set."""
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if not isinstance(value, str):
        return value
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", "", value)
    return value.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return interpolate(compose["services"])


def schema_errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_matches_the_compose_spec(compose):
    assert schema_errors(compose) == []
    assert schema_errors(interpolate(compose)) == []


def test_the_schema_check_catches_mistakes(compose):
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["org"]["depends_on"]["init"]["condition"] = "service_finished"
    broken["services"]["customer"]["helthcheck"] = broken["services"]["customer"].pop("healthcheck")
    assert len(schema_errors(broken)) >= 2


def test_every_bpc_process_runs_from_the_one_image(services):
    bpc = {name: services[name] for name in NAMES + [INIT]}
    images = {s["image"] for s in bpc.values()}
    builds = {json.dumps(s.get("build"), sort_keys=True) for s in bpc.values()}
    assert len(images) == 1 and len(builds) == 1, (images, builds)
    assert json.loads(builds.pop())["context"] == "."
    for name in NAMES:
        assert services[name]["command"] == ["python", "-m", "ops.runner", name]
    # nothing else claims to be a BPC service
    others = set(services) - set(bpc)
    assert others == {"rabbitmq", "postgres", "prometheus"}


def test_each_service_has_its_own_database(services):
    created = re.findall(r"CREATE DATABASE (\w+);", INIT_SQL.read_text())
    assert sorted(created) == sorted(NAMES)
    for name in NAMES:
        env = services[name]["environment"]
        urls = {k: v for k, v in env.items() if k.startswith("BPC_DB_URL_")}
        assert list(urls) == [f"BPC_DB_URL_{name.upper()}"], f"{name} sees {list(urls)}"
        url = urlparse(urls[f"BPC_DB_URL_{name.upper()}"])
        assert url.scheme == "postgresql" and url.hostname == "postgres"
        assert url.path == f"/{name}"
    init_urls = {k for k in services[INIT]["environment"] if k.startswith("BPC_DB_URL_")}
    assert init_urls == {f"BPC_DB_URL_{n.upper()}" for n in NAMES}
    # the PostgreSQL healthcheck waits for the database init.sql creates last
    assert created[-1] in " ".join(services["postgres"]["healthcheck"]["test"])


def test_services_start_after_the_topology_and_migrations(services):
    init = services[INIT]
    command = " ".join(init["command"])
    assert "ops.cli topology" in command
    assert command.index("ops.cli topology") < command.index("ops.cli migrate")
    assert command.split("ops.cli migrate", 1)[1].split() == NAMES
    assert init["restart"] == "no"
    assert init["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert init["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in NAMES:
        depends = services[name]["depends_on"]
        assert depends[INIT]["condition"] == "service_completed_successfully", name
        assert depends["rabbitmq"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert "test" in services[name]["healthcheck"], name
    for infra in ("rabbitmq", "postgres", "prometheus"):
        assert "test" in services[infra]["healthcheck"], infra


def test_every_process_gets_the_settings_it_needs(services):
    for name in NAMES + [INIT]:
        env = services[name]["environment"]
        assert urlparse(env["BPC_AMQP_URI"]).hostname == "rabbitmq", name
        assert env["BPC_SECRET"] and env["BPC_ADMIN_PASSWORD"], name
        assert env["BPC_METRICS_HOST"] == "0.0.0.0", name  # Prometheus scrapes from outside
    for name in config.SERVICES:
        assert services[name]["environment"]["BPC_SERVICE"] == name  # the healthcheck reads it
    assert services["gateway"]["environment"]["BPC_GATEWAY_ADDRESS"] == "0.0.0.0:8000"
    assert services["gateway"]["ports"][0].endswith(":8000")
    # the broker credentials are the ones RabbitMQ is started with
    amqp = urlparse(services["org"]["environment"]["BPC_AMQP_URI"])
    rabbit = services["rabbitmq"]["environment"]
    assert (amqp.username, amqp.password) == (
        rabbit["RABBITMQ_DEFAULT_USER"],
        rabbit["RABBITMQ_DEFAULT_PASS"],
    )
    db = urlparse(services["org"]["environment"]["BPC_DB_URL_ORG"])
    pg = services["postgres"]["environment"]
    assert (db.username, db.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])


def test_every_bpc_setting_is_one_the_code_reads(services):
    """A misspelt BPC_* variable would be silently ignored: each must appear in the code."""
    code = "\n".join(
        p.read_text()
        for folder in ("common", "services", "gateway", "ops")
        for p in (ROOT / folder).rglob("*.py")
    )
    # the healthchecks' own scripts read some (BPC_SERVICE)
    code += "\n".join(
        "\n".join(s.get("healthcheck", {}).get("test", [])) for s in services.values()
    )
    for name in NAMES + [INIT]:
        for var in services[name]["environment"]:
            if var.startswith("BPC_DB_URL_"):
                assert "BPC_DB_URL_" in code
            elif var.startswith("BPC_"):
                assert f'"{var}"' in code or f"'{var}'" in code, f"{name}: {var} is never read"


def test_prometheus_scrapes_every_service_and_the_gateway(services):
    prometheus = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    for name in NAMES:
        job = jobs[f"bpc-{name}"]
        (sd,) = job["dns_sd_configs"]
        if name == "gateway":
            port = 8000
        else:
            port = config.METRICS_BASE_PORT + config.SERVICES.index(name)
        assert sd["names"] == [name] and sd["type"] == "A" and sd["port"] == port, name
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert job["honor_labels"] is True  # keeps the metrics' own `service` label
    assert "rabbitmq:15692" in jobs["rabbitmq"]["static_configs"][0]["targets"]
    # the rule file Prometheus loads is the one compose mounts
    mounts = {
        v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"] if ":" in v
    }
    for rule_file in prometheus["rule_files"]:
        assert (ROOT / mounts[rule_file]).is_file(), rule_file
    assert (ROOT / mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS
