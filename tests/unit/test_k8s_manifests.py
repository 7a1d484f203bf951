"""deploy/k8s, offline: rendered by ``kubectl kustomize`` (by ``render_without_kubectl`` on a
machine without kubectl), every core resource validated against
the Kubernetes OpenAPI schemas (kubernetes-validate, pinned version), every operator resource
against tests/data/crd-schemas.yaml, and the checks a deployment relies on: one Deployment and
HPA per service, requests set, env references that resolve, probes on ports the processes
really open, the RabbitMQ policy on the queues BPC really declares, and alert rules on metrics
the code really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from common import config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest Kubernetes the manifests are meant for
CRD_SCHEMAS = ROOT / "tests" / "data" / "crd-schemas.yaml"
CRD_GROUPS = ("rabbitmq.com", "postgresql.cnpg.io", "monitoring.coreos.com")
NAMES = list(config.SERVICES) + ["gateway"]
KUBERNETES_ERRORS = (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError)


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "StorageClass", "PriorityClass", "IngressClass"}  # fmt: skip


def render_without_kubectl(directory: Path) -> list[dict]:
    """What ``kubectl kustomize`` does with this kustomization (its resources in order, the
    namespace set on namespaced ones, the image renamed), for machines without kubectl."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images"}, (
        "the kustomization uses more than this fallback renders: install kubectl"
    )
    images = {i["name"]: i for i in kustomization.get("images", [])}
    docs = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / name).read_text()):
            if not doc:
                continue
            if "namespace" in kustomization and doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            for container in _containers(doc):
                image, _, _ = container["image"].partition(":")
                if image in images:
                    new = images[image]
                    container["image"] = f"{new.get('newName', image)}:{new['newTag']}"
            docs.append(doc)
    return docs


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec") or {}
    template = (spec.get("jobTemplate", {}).get("spec", spec)).get("template", {}).get("spec", {})
    return [*template.get("initContainers", []), *template.get("containers", [])]


def render(directory: Path = K8S) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return render_without_kubectl(directory)
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return render()


def group(doc: dict) -> str:
    return doc["apiVersion"].rpartition("/")[0]


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def containers(doc: dict) -> list[dict]:
    spec = doc["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def main_container(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]["containers"][0]


# ---- schema validation -----------------------------------------------------------------


def schema_errors(docs: list[dict]) -> list[str]:
    crd = yaml.safe_load(CRD_SCHEMAS.read_text())["schemas"]
    errors = []
    for doc in docs:
        where = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        if group(doc) in CRD_GROUPS:
            schema = crd.get(f"{doc['apiVersion']}/{doc['kind']}")
            if schema is None:
                errors.append(f"{where}: no schema for {doc['apiVersion']} {doc['kind']}")
                continue
            for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
                path = ".".join(str(p) for p in error.absolute_path)
                errors.append(f"{where}: {path}: {error.message}")
        else:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except KUBERNETES_ERRORS as exc:
                errors.append(f"{where}: {exc}")
    return errors


def test_every_resource_validates_against_its_schema(docs):
    assert schema_errors(docs) == []
    validated = {(d["apiVersion"], d["kind"]) for d in docs}
    assert ("networking.k8s.io/v1", "Ingress") in validated
    assert ("rabbitmq.com/v1beta1", "RabbitmqCluster") in validated
    assert ("postgresql.cnpg.io/v1", "Cluster") in validated


def test_validation_catches_a_misspelt_field(docs):
    """The validators are strict: an unknown field fails, for core and custom resources."""
    deployment = one(docs, "Deployment", "bpc-org")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    main_container(broken)["resoures"] = main_container(broken).pop("resources")
    rabbit = yaml.safe_load(yaml.safe_dump(one(docs, "RabbitmqCluster", "bpc-rabbitmq")))
    rabbit["spec"]["replica"] = rabbit["spec"].pop("replicas")
    policy = yaml.safe_load(yaml.safe_dump(one(docs, "Policy", "bpc-event-queues")))
    policy["spec"]["definition"]["dead-letter-exhange"] = "bpc.dlx"
    errors = schema_errors([broken, rabbit, policy])
    assert len(errors) == 3, errors


def test_every_file_is_in_the_kustomization():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk


def test_generated_manifests_are_up_to_date():
    """30-postgres, 40-init-job and 50-services are render.py's output: edit it, re-run it."""
    sys.path.insert(0, str(K8S))
    try:
        import render
    finally:
        sys.path.remove(str(K8S))
    expected = {
        "30-postgres.yaml": render.postgres(),
        "40-init-job.yaml": render.init_job(),
        "50-services.yaml": [d for n in NAMES for d in render.service(n)],
    }
    for filename, generated in expected.items():
        on_disk = [d for d in yaml.safe_load_all((K8S / filename).read_text()) if d]
        assert on_disk == generated, f"{filename} is stale: run .venv/bin/python {K8S}/render.py"


# ---- workloads ----------------------------------------------------------------------------


def test_every_service_has_a_deployment_with_an_hpa(docs):
    deployments = {d["metadata"]["name"] for d in find(docs, "Deployment")}
    assert deployments == {f"bpc-{n}" for n in NAMES}
    hpas = find(docs, "HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in hpas}
    for name in NAMES:
        hpa = targets.get(f"bpc-{name}")
        assert hpa, f"no HorizontalPodAutoscaler targets bpc-{name}"
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["spec"]["minReplicas"] >= 2, f"{name}: one replica is not highly available"
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
        # a Utilization target needs the CPU request it is a percentage of
        assert any(m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])


def test_every_container_has_requests_and_limits(docs):
    for doc in find(docs, "Deployment") + find(docs, "Job"):
        for c in containers(doc):
            res = c.get("resources", {})
            where = f"{doc['metadata']['name']}/{c['name']}"
            assert {"cpu", "memory"} <= set(res.get("requests", {})), where
            assert "memory" in res.get("limits", {}), where


def test_pods_of_each_deployment_are_selected_by_its_service_pdb_and_monitor(docs):
    for name in NAMES:
        deployment = one(docs, "Deployment", f"bpc-{name}")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        service = one(docs, "Service", f"bpc-{name}")
        assert service["spec"]["selector"].items() <= pod_labels.items()
        pdb = one(docs, "PodDisruptionBudget", f"bpc-{name}")
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        port_names = {p["name"] for p in main_container(deployment)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
        monitors = [
            m
            for m in find(docs, "ServiceMonitor")
            if m["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        ]
        assert len(monitors) == 1, f"bpc-{name}: scraped by {len(monitors)} ServiceMonitors"
        scraped = {e["port"] for e in monitors[0]["spec"]["endpoints"]}
        assert scraped <= {p["name"] for p in service["spec"]["ports"]}


def test_ports_and_probes_are_those_the_processes_open(docs):
    for name in NAMES:
        deployment = one(docs, "Deployment", f"bpc-{name}")
        c = main_container(deployment)
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert c["command"] == ["python", "-m", "ops.runner", name]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        if name == "gateway":
            assert ports == {"http": int(env["BPC_GATEWAY_ADDRESS"].rpartition(":")[2])}
            assert env["BPC_GATEWAY_ADDRESS"].startswith("0.0.0.0:")
        else:
            assert ports == {"metrics": config.METRICS_BASE_PORT + config.SERVICES.index(name)}
            assert env["BPC_SERVICE"] == name  # the health RPC of the startup probe reads it
            startup = c["startupProbe"]["exec"]["command"]
            assert "health()" in startup[-1] and "BPC_SERVICE" in startup[-1]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            http = c[probe].get("httpGet")
            if http:
                assert http["port"] in ports, f"{name} {probe}: no port {http['port']}"
                assert http["path"] == "/metrics", f"{name} {probe}: only /metrics is local"
    # metrics must listen beyond loopback for the probes and Prometheus
    config_map = one(docs, "ConfigMap", "bpc-config")
    assert config_map["data"]["BPC_METRICS_HOST"] == "0.0.0.0"


def test_every_env_reference_resolves(docs):
    config_maps = {d["metadata"]["name"]: set(d.get("data", {})) for d in find(docs, "ConfigMap")}
    secrets = {
        d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {}))
        for d in find(docs, "Secret")
    }
    for doc in find(docs, "Deployment") + find(docs, "Job"):
        for c in containers(doc):
            where = f"{doc['metadata']['name']}/{c['name']}"
            defined: set[str] = set()
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    defined |= config_maps[source["configMapRef"]["name"]]
                if "secretRef" in source:
                    defined |= secrets[source["secretRef"]["name"]]
            for var in c.get("env", []):
                ref = var.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    key = ref["secretKeyRef"]
                    assert key["key"] in secrets.get(key["name"], ()), f"{where}: {key}"
                if "configMapKeyRef" in ref:
                    key = ref["configMapKeyRef"]
                    assert key["key"] in config_maps.get(key["name"], ()), f"{where}: {key}"
                # $(VAR) is expanded only from variables defined before it
                for used in re.findall(r"\$\(([A-Z0-9_]+)\)", var.get("value", "")):
                    assert used in defined, f"{where}: {var['name']} uses undefined $({used})"
                defined.add(var["name"])
            for required in ("BPC_AMQP_URI", "BPC_SECRET"):
                assert required in defined, f"{where}: no {required}"


def test_each_service_reads_only_its_own_database(docs):
    databases = {d["spec"]["name"]: d for d in find(docs, "Database")}
    pg = one(docs, "Cluster", "bpc-pg")
    roles = {r["name"]: r for r in pg["spec"]["managed"]["roles"]}
    for name in NAMES:
        c = main_container(one(docs, "Deployment", f"bpc-{name}"))
        urls = {e["name"]: e["value"] for e in c["env"] if e["name"].startswith("BPC_DB_URL_")}
        assert list(urls) == [f"BPC_DB_URL_{name.upper()}"]
        url = urls[f"BPC_DB_URL_{name.upper()}"]
        assert url.startswith(f"postgresql://{name}:$(") and url.endswith(f"/{name}"), url
        assert databases[name]["spec"]["owner"] == name
        assert databases[name]["spec"]["cluster"]["name"] == "bpc-pg"
        assert roles[name]["login"] is True
        assert roles[name]["passwordSecret"]["name"] == f"bpc-db-{name}"
    job = one(docs, "Job", "bpc-init")
    command = " ".join(main_container(job)["command"])
    assert "ops.cli topology" in command
    migrated = command.split("ops.cli migrate", 1)[1].split()
    assert migrated == NAMES, "bpc-init must migrate every database"


def test_gateway_is_reachable_through_service_and_ingress(docs):
    ingress = one(docs, "Ingress", "bpc-gateway")
    paths = {}
    for rule in ingress["spec"]["rules"]:
        for p in rule["http"]["paths"]:
            backend = p["backend"]["service"]
            assert backend == {"name": "bpc-gateway", "port": {"name": "http"}}
            paths[p["path"]] = p["pathType"]
    assert paths["/api"] == "Prefix" and paths["/assets"] == "Prefix" and paths["/"] == "Exact"
    # /metrics is unauthenticated: never routed from outside
    assert not any(
        "/metrics".startswith(path) and kind == "Prefix" for path, kind in paths.items()
    ), paths
    service = one(docs, "Service", "bpc-gateway")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


# ---- RabbitMQ -----------------------------------------------------------------------------


def test_queues_are_quorum_and_the_dead_letter_policy_matches_bpc_queues(docs):
    from common import consumer, topology

    vhost = one(docs, "Vhost", "bpc-vhost")["spec"]
    assert vhost["defaultQueueType"] == "quorum"
    assert one(docs, "RabbitmqCluster", "bpc-rabbitmq")["spec"]["replicas"] >= 3
    secret_uri = one(docs, "Secret", "bpc-secrets")["stringData"]["BPC_AMQP_URI"]
    assert secret_uri.endswith("/" + vhost["name"]), "BPC must use the quorum-default vhost"

    policy = one(docs, "Policy", "bpc-event-queues")["spec"]
    assert policy["vhost"] == vhost["name"] and policy["applyTo"] == "queues"
    pattern = re.compile(policy["pattern"])
    names = [q.name for q in topology.all_queues()]
    main = [n for n in names if not n.endswith((".retry", ".dlq"))]
    assert main, "no event queue found in common.topology"
    assert all(pattern.search(n) for n in main), [n for n in main if not pattern.search(n)]
    assert not any(pattern.search(n) for n in names if n.endswith((".retry", ".dlq")))

    definition = policy["definition"]
    assert definition["dead-letter-exchange"] == consumer.DLX
    if definition.get("dead-letter-strategy") == "at-least-once":
        assert definition["overflow"] == "reject-publish"  # RabbitMQ requires it
    exchange = one(docs, "Exchange", "bpc-dlx")["spec"]
    assert exchange["name"] == consumer.DLX and exchange["type"] == "direct"
    bindings = [
        b["spec"]
        for b in find(docs, "Binding")
        if b["spec"]["source"] == consumer.DLX
        and b["spec"]["routingKey"] == definition["dead-letter-routing-key"]
    ]
    assert len(bindings) == 1
    queues = {q["spec"]["name"]: q["spec"] for q in find(docs, "Queue")}
    poison = [queues[bindings[0]["destination"]]]
    assert poison and poison[0]["type"] == "quorum"


# ---- Prometheus -----------------------------------------------------------------------------

# Metrics of other exporters that the rules may name: Prometheus itself, and RabbitMQ's
# rabbitmq_prometheus plugin (per-queue family served on /metrics/detailed).
EXTERNAL_METRICS = {"up": set(), "rabbitmq_detailed_queue_messages": {"queue", "vhost"}}
TARGET_LABELS = {"job", "instance", "service", "namespace", "pod"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "by", "without", "on",
    "ignoring", "or", "and", "unless", "offset", "absent", "histogram_quantile", "le", "bool",
    "group_left", "group_right", "time", "delta", "deriv", "clamp_min", "clamp_max",
}  # fmt: skip


def exported_metrics() -> dict[str, set[str]]:
    """Every metric family BPC's code registers: name → label names."""
    from prometheus_client import REGISTRY

    import common.metrics  # noqa: F401 - registers the services' metrics
    import gateway.app  # noqa: F401 - registers the gateway's HTTP metrics

    found: dict[str, set[str]] = {}
    for collector in list(REGISTRY._names_to_collectors.values()):
        name = getattr(collector, "_name", None)
        if name and name.startswith("bpc_"):
            labels = set(getattr(collector, "_labelnames", ()))
            kind = getattr(collector, "_type", "")
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
            for suffix in suffixes.get(kind, [""]):
                found[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return found


def metric_uses(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names in its matchers) of every selector in a PromQL expression."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings out of the way
    uses = []
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\{[^}]*\})?", text):
        name, matchers = match.group(1), match.group(2) or ""
        if name in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]?", name):
            continue
        # a word after `by (`/`without (` is a label, not a metric
        before = text[: match.start()].rstrip()
        if re.search(r"\b(by|without|on|ignoring)\s*\([^)]*$", before):
            continue
        uses.append((name, set(re.findall(r"([a-zA-Z_]\w*)\s*[!=]~?", matchers))))
    return uses


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for inner in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in inner.split(",") if x.strip()}
    return labels


def rule_groups_compose() -> list[dict]:
    return yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"]


def test_alert_rules_are_the_same_for_compose_and_kubernetes(docs):
    rule = one(docs, "PrometheusRule", "bpc")
    assert rule["spec"]["groups"] == rule_groups_compose()


def test_alert_rules_name_metrics_the_code_exports():
    exported = exported_metrics()
    assert "bpc_outbox_oldest_age_seconds" in exported  # the import registered them
    known = {**exported, **EXTERNAL_METRICS}
    for g in rule_groups_compose():
        for rule in g["rules"]:
            expr = rule["expr"]
            uses = metric_uses(expr)
            assert uses, f"{rule['alert']}: no metric found in {expr!r}"
            labels_available: set[str] = set(TARGET_LABELS)
            for name, matcher_labels in uses:
                assert name in known, f"{rule['alert']}: {name} is not exported by BPC"
                allowed = known[name] | TARGET_LABELS
                assert matcher_labels <= allowed, f"{rule['alert']}: {name}{matcher_labels}"
                labels_available |= known[name]
            assert grouping_labels(expr) <= labels_available, f"{rule['alert']}: {expr}"
            # annotations may only use labels the result keeps
            for text in rule.get("annotations", {}).values():
                for label in re.findall(r"\$labels\.(\w+)", text):
                    assert label in labels_available, f"{rule['alert']}: $labels.{label}"


def test_the_example_alerts_cover_outbox_dead_letters_sweep_and_5xx():
    exprs = " ".join(r["expr"] for g in rule_groups_compose() for r in g["rules"])
    for metric in (
        "bpc_outbox_oldest_age_seconds",
        "bpc_events_dead_lettered_total",
        "bpc_sweep_lag_seconds",
        "bpc_http_requests_total",
    ):
        assert metric in exprs
    assert 'status=~"5.."' in exprs


def test_rule_groups_validate():
    crd = yaml.safe_load(CRD_SCHEMAS.read_text())["schemas"]
    schema = crd["monitoring.coreos.com/v1/PrometheusRule"]["properties"]["spec"]
    jsonschema.Draft7Validator(schema).validate({"groups": rule_groups_compose()})


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="compares with kubectl's rendering")
def test_the_fallback_renders_what_kubectl_does():
    def key(doc):  # kubectl orders resources by kind; the fallback keeps the files' order
        return (doc["kind"], doc["metadata"]["name"])

    assert sorted(render_without_kubectl(K8S), key=key) == sorted(render(K8S), key=key)
