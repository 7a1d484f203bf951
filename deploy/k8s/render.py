"""Writes the per-service manifests (30-postgres, 40-init-job, 50-services) from
``common.config.SERVICES``, so that a new service gets its database, Deployment, Service and
HPA by re-running ``.venv/bin/python deploy/k8s/render.py``. The output is committed."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from common import config  # noqa: E402

NS = "bpc"
UID = 10001  # the `bpc` user of the Dockerfile
IMAGE = "registry.example.com/bpc:0.1.0"  # overridden by kustomization.yaml `images:`
PG_CLUSTER = "bpc-pg"
PG_HOST = "bpc-pg-pooler-rw"  # PgBouncer (transaction mode) in front of the primary
DATABASES = list(config.SERVICES) + ["gateway"]
PART_OF = {"app.kubernetes.io/part-of": "bpc"}

HEALTH_RPC = (
    "import os, sys\n"
    "from nameko.standalone.rpc import ClusterRpcProxy\n"
    "from common import config\n"
    "with ClusterRpcProxy(config.nameko_config(), timeout=8) as rpc:\n"
    "    ok = getattr(rpc, os.environ['BPC_SERVICE']).health()['status'] == 'ok'\n"
    "sys.exit(0 if ok else 1)\n"
)


def labels(name: str, component: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component, **PART_OF}


def db_env(service: str) -> list[dict]:
    """BPC_DB_URL_<SERVICE> built from the role's password Secret (Kubernetes $(VAR) syntax)."""
    return [
        {
            "name": "BPC_DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": f"bpc-db-{service}", "key": "password"}},
        },
        {
            "name": f"BPC_DB_URL_{service.upper()}",
            "value": f"postgresql://{service}:$(BPC_DB_PASSWORD)@{PG_HOST}.{NS}.svc:5432/{service}",
        },
    ]


COMMON_ENV_FROM = [{"configMapRef": {"name": "bpc-config"}}, {"secretRef": {"name": "bpc-secrets"}}]
SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
VOLUMES = [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
MOUNTS = [{"name": "data", "mountPath": "/var/lib/bpc"}, {"name": "tmp", "mountPath": "/tmp"}]


# Requests size the HPAs' CPU percentage and the scheduling; limits stop a runaway process.
# experience holds the sentence-embedding model (int8, ~120 MB) and its vector index in
# memory; scoring's rebuild pages through the history; the gateway parses every request.
RESOURCES = {
    "default": {
        "requests": {"cpu": "100m", "memory": "192Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "experience": {
        "requests": {"cpu": "250m", "memory": "640Mi"},
        "limits": {"cpu": "2", "memory": "1536Mi"},
    },
    "scoring": {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
    "gateway": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
}


def topology_init_container() -> dict:
    return {
        "name": "topology",
        "image": IMAGE,
        "command": ["python", "-m", "ops.cli", "topology"],
        "envFrom": COMMON_ENV_FROM,
        "securityContext": SECURITY,
        "volumeMounts": MOUNTS,
        "resources": {
            "requests": {"cpu": "50m", "memory": "96Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    }


def postgres() -> list[dict]:
    docs: list[dict] = []
    for db in DATABASES:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"bpc-db-{db}", "namespace": NS, "labels": PART_OF},
                "type": "kubernetes.io/basic-auth",
                "stringData": {"username": db, "password": f"CHANGE-ME-{db}-db-password"},
            }
        )
    docs.append(
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": PG_CLUSTER, "namespace": NS, "labels": PART_OF},
            "spec": {
                "instances": 3,
                "imageName": "ghcr.io/cloudnative-pg/postgresql:15",
                "primaryUpdateStrategy": "unsupervised",
                "storage": {"size": "50Gi"},
                "walStorage": {"size": "10Gi"},
                "resources": {
                    "requests": {"cpu": "1", "memory": "2Gi"},
                    "limits": {"cpu": "4", "memory": "4Gi"},
                },
                "postgresql": {
                    "parameters": {
                        "max_connections": "300",
                        "shared_buffers": "512MB",
                        "timezone": "UTC",
                    }
                },
                "affinity": {
                    "enablePodAntiAffinity": True,
                    "topologyKey": "kubernetes.io/hostname",
                },
                "managed": {
                    "roles": [
                        {
                            "name": db,
                            "ensure": "present",
                            "login": True,
                            "inherit": True,
                            "passwordSecret": {"name": f"bpc-db-{db}"},
                        }
                        for db in DATABASES
                    ]
                },
            },
        }
    )
    for db in DATABASES:
        docs.append(
            {
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Database",
                "metadata": {"name": f"bpc-{db}", "namespace": NS, "labels": PART_OF},
                "spec": {
                    "name": db,
                    "owner": db,
                    "cluster": {"name": PG_CLUSTER},
                    "ensure": "present",
                },
            }
        )
    docs.append(
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Pooler",
            "metadata": {"name": PG_HOST, "namespace": NS, "labels": PART_OF},
            "spec": {
                "cluster": {"name": PG_CLUSTER},
                "instances": 2,
                "type": "rw",
                "pgbouncer": {
                    "poolMode": "transaction",
                    "parameters": {
                        "max_client_conn": "4000",
                        # per (database, role) pair and pooler instance: 8 databases x 15 x 2
                        # instances = 240 server connections, under max_connections 300
                        "default_pool_size": "15",
                    },
                },
            },
        }
    )
    return docs


INIT_COMMAND = "python -m ops.cli topology && python -m ops.cli migrate " + " ".join(DATABASES)


def init_job() -> list[dict]:
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "bpc-init", "namespace": NS, "labels": labels("bpc-init", "init")},
            "spec": {
                "backoffLimit": 6,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": labels("bpc-init", "init")},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "securityContext": {"runAsNonRoot": True, "runAsUser": UID},
                        "volumes": VOLUMES,
                        "containers": [
                            {
                                "name": "init",
                                "image": IMAGE,
                                # declare exchanges/queues, then upgrade every database to head
                                "command": ["sh", "-c", INIT_COMMAND],
                                "envFrom": COMMON_ENV_FROM,
                                "env": _job_env(),
                                "securityContext": SECURITY,
                                "volumeMounts": MOUNTS,
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "128Mi"},
                                    "limits": {"cpu": "1", "memory": "512Mi"},
                                },
                            }
                        ],
                    },
                },
            },
        }
    ]


def _job_env() -> list[dict]:
    """Every service's password under its own name, then every BPC_DB_URL_<SERVICE>."""
    env: list[dict] = []
    for s in DATABASES:
        env.append(
            {
                "name": f"BPC_DB_PASSWORD_{s.upper()}",
                "valueFrom": {"secretKeyRef": {"name": f"bpc-db-{s}", "key": "password"}},
            }
        )
    for s in DATABASES:
        env.append(
            {
                "name": f"BPC_DB_URL_{s.upper()}",
                "value": f"postgresql://{s}:$(BPC_DB_PASSWORD_{s.upper()})"
                f"@{PG_HOST}.{NS}.svc:5432/{s}",
            }
        )
    return env


def service(name: str) -> list[dict]:
    gateway = name == "gateway"
    app = f"bpc-{name}"
    lab = labels(app, "gateway" if gateway else "service")
    if gateway:
        ports = [{"name": "http", "containerPort": 8000}]
        env = [{"name": "BPC_GATEWAY_ADDRESS", "value": "0.0.0.0:8000"}]
        # /healthz is 200 only when all seven services answer: probing it would take every
        # gateway pod out of the Service when one service is down (no partial service), so the
        # probes ask the gateway's own HTTP server (/metrics, served locally, no RPC)
        startup = {
            "httpGet": {"path": "/metrics", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 60,
        }
        readiness = {
            "httpGet": {"path": "/metrics", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
        liveness = {
            "httpGet": {"path": "/metrics", "port": "http"},
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
        replicas, max_replicas = 2, 20
    else:
        port = config.metrics_port(name)
        ports = [{"name": "metrics", "containerPort": port}]
        env = [{"name": "BPC_SERVICE", "value": name}]
        # Started = the service answers its `health` RPC over the broker (which reads its
        # database, migrated at start-up): a rolling update waits for it. Run until it
        # succeeds once only: each call creates an RPC reply queue (a quorum queue on the
        # `bpc` vhost), too costly to repeat every few seconds on every pod.
        startup = {
            "exec": {"command": ["python", "-c", HEALTH_RPC]},
            "periodSeconds": 10,
            "timeoutSeconds": 10,
            "failureThreshold": 30,
        }
        # Then: the process's metrics server answers (a green thread of the service's own
        # eventlet hub, so a blocked hub fails it too)
        readiness = {
            "httpGet": {"path": "/metrics", "port": "metrics"},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
        liveness = {
            "httpGet": {"path": "/metrics", "port": "metrics"},
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
        replicas, max_replicas = 2, 10
    resources = RESOURCES.get(name, RESOURCES["default"])
    env += db_env(name)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": NS, "labels": lab},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": lab},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": UID},
                    # Nameko finishes running workers on SIGTERM
                    "terminationGracePeriodSeconds": 30,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
                        }
                    ],
                    "volumes": VOLUMES,
                    "initContainers": [topology_init_container()],
                    "containers": [
                        {
                            "name": name,
                            "image": IMAGE,
                            "command": ["python", "-m", "ops.runner", name],
                            "ports": ports,
                            "envFrom": COMMON_ENV_FROM,
                            "env": env,
                            "startupProbe": startup,
                            "readinessProbe": readiness,
                            "livenessProbe": liveness,
                            "resources": resources,
                            "securityContext": SECURITY,
                            "volumeMounts": MOUNTS,
                        }
                    ],
                },
            },
        },
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app, "namespace": NS, "labels": lab},
        "spec": {
            "selector": {"app.kubernetes.io/name": app},
            "ports": [
                {"name": p["name"], "port": p["containerPort"], "targetPort": p["name"]}
                for p in ports
            ],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": app, "namespace": NS, "labels": lab},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app, "namespace": NS, "labels": lab},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app}}},
    }
    return [deployment, svc, hpa, pdb]


class _Dumper(yaml.SafeDumper):
    """No &anchors/*aliases; multi-line strings as | blocks."""

    def ignore_aliases(self, data) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def write(filename: str, header: str, docs: list[dict]) -> None:
    body = "---\n".join(
        yaml.dump(d, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100) for d in docs
    )
    (HERE / filename).write_text(
        f"# GENERATED by deploy/k8s/render.py — edit that, not this.\n# {header}\n{body}"
    )


def main() -> None:
    write(
        "30-postgres.yaml",
        "CloudNativePG: one 3-instance cluster, one role + database per service, PgBouncer.",
        postgres(),
    )
    write(
        "40-init-job.yaml",
        "Declares the broker topology and migrates every database; run before 50-services.",
        init_job(),
    )
    write(
        "50-services.yaml",
        "Deployment + Service + HPA + PodDisruptionBudget for every service and the gateway.",
        [d for name in list(config.SERVICES) + ["gateway"] for d in service(name)],
    )


if __name__ == "__main__":
    main()
