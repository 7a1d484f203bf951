"""Prometheus metrics shared by every service (docs/ARCHITECTURE.md "Observability")."""

from __future__ import annotations

import logging
import os
import time
import weakref

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

ENTRYPOINT_CALLS = Counter(
    "bpc_entrypoint_calls_total", "Entrypoint calls", ["service", "entrypoint", "outcome"]
)
ENTRYPOINT_LATENCY = Histogram(
    "bpc_entrypoint_seconds",
    "Entrypoint latency",
    ["service", "entrypoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("bpc_events_published_total", "Events relayed", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "bpc_events_consumed_total", "Events handled", ["service", "handler", "outcome"]
)
EVENTS_FAILED = Counter("bpc_events_failed_total", "Handler failures", ["service", "handler"])
EVENTS_DEAD_LETTERED = Counter(
    "bpc_events_dead_lettered_total", "Events parked in a dead-letter queue", ["service", "queue"]
)
OUTBOX_BACKLOG = Gauge("bpc_outbox_backlog", "Unpublished outbox rows", ["service"])
PROJECTION_DRIFT = Gauge(
    "bpc_projection_drift",
    "Rows of a projection that differ from their owner's facts, in the last sampled round",
    ["service", "projection"],
)
OUTBOX_AGE = Gauge(
    "bpc_outbox_oldest_age_seconds", "Age of the oldest unpublished row", ["service"]
)


class EntrypointMetrics(DependencyProvider):
    """Counts and times every entrypoint of the service it is declared on."""

    def setup(self):
        # keyed by worker: worker_ctx.data would travel on as RPC headers
        self._started = weakref.WeakKeyDictionary()

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        name = worker_ctx.entrypoint.method_name
        service = self.container.service_name
        outcome = "ok" if exc_info is None else type(exc_info[1]).__name__
        ENTRYPOINT_CALLS.labels(service, name, outcome).inc()
        if started is not None:
            ENTRYPOINT_LATENCY.labels(service, name).observe(time.perf_counter() - started)


def serve_metrics(port: int | None) -> None:
    if port:
        try:
            start_http_server(port, addr=os.environ.get("BPC_METRICS_HOST", "127.0.0.1"))
        except OSError as exc:  # a second instance on one host: metrics of the first win
            log.warning("metrics port %s unavailable: %s", port, exc)


SWEEP_ACTIONS = Counter("bpc_sweep_actions_total", "What the opportunity sweep did", ["action"])
SWEEP_LAG = Gauge(
    "bpc_sweep_lag_seconds",
    "After a sweep: how long the most overdue opportunity still on the clock has been overdue",
)
SWEEP_LAST_RUN = Gauge(
    "bpc_sweep_last_run_timestamp_seconds",
    "When this instance's opportunity sweep last finished (Unix time): a stopped timer shows",
)
SWEEP_SECONDS = Histogram(
    "bpc_sweep_seconds",
    "Time of one opportunity sweep (warnings, confiscations, escalations)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


SEARCH_SECONDS = Histogram(
    "bpc_experience_search_seconds",
    "Time of one experience-pool search, by step (embed: the query's embedding; lexical: BM25;"
    " dense: the cosines; total: the whole ranking)",
    ["step"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1.0),
)
INDEX_ROWS = Gauge(
    "bpc_experience_index_rows",
    "Embedded problem wordings in this instance's index (loaded), and how many of them are in"
    " its clustering (indexed; 0 while the pool is small enough to search exactly)",
    ["part"],
)
