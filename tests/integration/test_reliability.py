"""No data is lost: each of Nameko's three ways of losing messages, closed and shown.

(a) commit-then-crash: a service killed after committing and before publishing delivers the
    event after restart (transactional outbox);
(b) an event delivered twice has one effect (processed event ids);
(c) a handler that keeps failing is retried a bounded number of times, parked in a
    dead-letter queue that a metric counts, and replayed by the admin command;
(d) an event published while its consumer is stopped is processed when it starts
    (topology declared before services start);
(e) events waiting in durable queues and the services themselves survive a broker restart.
All against the real RabbitMQ, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests

from common import clock
from common.events import Envelope
from tests.support import (
    ROOT,
    ServiceProcess,
    actor_of,
    admin_actor,
    declare_topology,
    discard,
    eventually,
    make_user,
    metric_value,
    publish_event,
    queue_depth,
    rpc,
)


@pytest.fixture
def cluster(make_environment, backend):
    env = make_environment(backend, BPC_HANDLER_MAX_ATTEMPTS="3", BPC_HANDLER_RETRY_DELAY_MS="100")
    declare_topology(env)
    procs = {name: ServiceProcess(env, name).start() for name in ("org", "customer")}
    for proc in procs.values():
        proc.wait_ready()
    yield env, procs
    discard(*procs.values())


def _team(env):
    """admin → a level-4 supervisor → a level-2 salesperson who owns one customer."""
    admin = admin_actor(env)
    suffix = str(time.monotonic_ns())[-6:]
    boss = make_user(env, admin, f"boss{suffix}", 4, admin.id, name="王主管")
    rep = make_user(env, admin, f"rep{suffix}", 2, boss["id"], name="李业务")
    customer = rpc(
        env,
        "customer",
        "register",
        actor=actor_of(env, rep["id"]),
        name=f"杭州示例{suffix}科技有限公司",
        contacts=[],
    )
    return admin, boss, rep, customer


def _owner(env, viewer, customer_id):
    return rpc(env, "customer", "get", actor=viewer, customer_id=customer_id)["owner_id"]


def _outbox_drained(env, service):
    text = requests.get(env.metrics_url(service), timeout=5).text
    return metric_value(text, "bpc_outbox_backlog", service=service) == 0 and (
        "bpc_outbox_backlog" in text
    )


def test_event_committed_before_a_crash_is_published_after_restart(cluster):
    env, procs = cluster
    admin, boss, rep, customer = _team(env)
    boss_actor = actor_of(env, boss["id"])
    eventually(lambda: _outbox_drained(env, "org"))
    org = procs["org"]
    org.stop()
    org.start(BPC_FAULT="kill_before_publish")
    org.wait_ready()

    try:  # org dies right after committing, perhaps before it can even answer
        rpc(
            env,
            "org",
            "update_user",
            actor=admin,
            user_id=rep["id"],
            changes={"active": False},
            timeout=5,
        )
    except Exception:  # noqa: BLE001 - the reply may be lost with the process
        pass
    org.proc.wait(30)
    assert org.proc.returncode == -9, "org was to be SIGKILLed between commit and publish"
    time.sleep(1)
    assert _owner(env, boss_actor, customer["id"]) == rep["id"], (
        "nothing published before the crash"
    )

    org.start()  # no fault this time: the relay finds the committed event and publishes it
    org.wait_ready()
    eventually(lambda: _owner(env, boss_actor, customer["id"]) == boss["id"], timeout=30)


def test_event_delivered_twice_has_one_effect(cluster):
    env, _ = cluster
    admin = admin_actor(env)
    envelope = Envelope.new(
        "customer",
        "contact_unmasked",
        {
            "actor_id": admin.id,
            "action": "contact_unmasked",
            "target_type": "contact",
            "target_id": "twice-" + str(time.monotonic_ns()),
            "details": {"customer_id": "1"},
            "at": clock.now().isoformat(),
        },
    )
    publish_event(env, "customer", "contact_unmasked", {}, envelope=envelope)
    publish_event(env, "customer", "contact_unmasked", {}, envelope=envelope)

    def entries():
        items = rpc(env, "org", "list_audit", actor=admin, action="contact_unmasked", limit=500)[
            "items"
        ]
        return [e for e in items if e["target_id"] == envelope.data["target_id"]]

    eventually(lambda: len(entries()) >= 1)
    time.sleep(1.5)  # give the second delivery every chance to land
    assert len(entries()) == 1


def test_failing_handler_is_retried_then_dead_lettered_and_replayed(cluster):
    env, _ = cluster
    fail_until = clock.now() + timedelta(seconds=4)
    envelope = publish_event(
        env, "org", "probe", {"probe_id": "dlq", "fail_until": fail_until.isoformat()}
    )
    queue = "evt.org.probe--customer.on_probe"
    eventually(lambda: queue_depth(env, queue + ".dlq") == 1, timeout=15)

    text = requests.get(env.metrics_url("customer"), timeout=5).text
    assert (
        metric_value(text, "bpc_events_failed_total", service="customer", handler="on_probe") == 3
    )  # bounded: BPC_HANDLER_MAX_ATTEMPTS=3
    assert (
        metric_value(text, "bpc_events_dead_lettered_total", service="customer", queue=queue) == 1
    )
    assert rpc(env, "customer", "probe_seen", event_id=envelope.event_id) == 0

    time.sleep(max(0.0, (fail_until - clock.now()).total_seconds()) + 0.2)
    replay = subprocess.run(
        [sys.executable, "-m", "ops.cli", "dlq", "replay", queue],
        cwd=ROOT,
        env=env.vars(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    assert "replayed 1" in replay.stdout
    eventually(lambda: rpc(env, "customer", "probe_seen", event_id=envelope.event_id) == 1)
    assert queue_depth(env, queue + ".dlq") == 0


def test_an_outage_is_waited_out_however_long_and_never_parks_the_event(cluster):
    """A handler failing because what it depends on is down (its database restarting, another
    service unavailable) is not a poison event: it is retried past BPC_HANDLER_MAX_ATTEMPTS
    for as long as the outage lasts, then handled once."""
    env, _ = cluster
    outage_until = clock.now() + timedelta(seconds=3)  # 3 attempts x 100 ms would be 0.3 s
    envelope = publish_event(
        env, "org", "probe", {"probe_id": "outage", "outage_until": outage_until.isoformat()}
    )
    queue = "evt.org.probe--customer.on_probe"
    eventually(
        lambda: rpc(env, "customer", "probe_seen", event_id=envelope.event_id) == 1, timeout=30
    )
    text = requests.get(env.metrics_url("customer"), timeout=5).text
    assert metric_value(text, "bpc_events_failed_total", service="customer", handler="on_probe") > 3
    assert queue_depth(env, queue + ".dlq") == 0


def test_a_message_that_is_not_an_event_is_parked_at_once(cluster):
    # Not an envelope (no event_id, type, …): no handler could ever take it, so it goes to the
    # dead-letter queue on first sight, and the events after it are handled as usual.
    import kombu

    env, _ = cluster
    queue = "evt.org.probe--customer.on_probe"
    with kombu.Connection(env.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer(serializer="json").publish(
            {"hello": "world"},
            exchange=kombu.Exchange("org.events", type="topic", durable=True),
            routing_key="probe",
            delivery_mode=2,
        )
    after = publish_event(env, "org", "probe", {"probe_id": "after-malformed"})
    eventually(lambda: queue_depth(env, queue + ".dlq") == 1, timeout=15)
    eventually(lambda: rpc(env, "customer", "probe_seen", event_id=after.event_id) == 1)
    text = requests.get(env.metrics_url("customer"), timeout=5).text
    assert metric_value(text, "bpc_events_failed_total", service="customer") == 0


def test_event_published_while_consumer_is_stopped_is_processed_when_it_starts(cluster):
    env, procs = cluster
    admin, boss, rep, customer = _team(env)
    eventually(lambda: _outbox_drained(env, "org"))
    procs["customer"].stop()

    rpc(env, "org", "update_user", actor=admin, user_id=rep["id"], changes={"active": False})
    eventually(lambda: _outbox_drained(env, "org"))  # published while customer is down

    procs["customer"].start()
    procs["customer"].wait_ready()
    boss_actor = actor_of(env, boss["id"])
    eventually(lambda: _owner(env, boss_actor, customer["id"]) == boss["id"], timeout=30)


def _restart_broker() -> None:
    """Stop and start RabbitMQ's application: every connection drops, durable state stays."""
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)


@pytest.mark.serial  # restarts the machine's RabbitMQ
def test_events_and_services_survive_a_broker_restart(make_environment):
    env = make_environment("sqlite")
    declare_topology(env)
    procs = {name: ServiceProcess(env, name).start() for name in ("org", "customer")}
    try:
        for proc in procs.values():
            proc.wait_ready()
        admin, boss, rep, customer = _team(env)
        eventually(lambda: _outbox_drained(env, "org"))
        procs["customer"].stop()
        rpc(env, "org", "update_user", actor=admin, user_id=rep["id"], changes={"active": False})
        eventually(lambda: _outbox_drained(env, "org"))  # waiting in customer's durable queue

        _restart_broker()

        def org_answers() -> bool:
            try:
                return rpc(env, "org", "health", timeout=3)["status"] == "ok"
            except Exception:  # noqa: BLE001 - the broker may still be coming up
                return False

        eventually(org_answers, timeout=60)  # org reconnects by itself and answers again
        procs["customer"].start()
        procs["customer"].wait_ready(timeout=60)
        boss_actor = actor_of(env, boss["id"])
        eventually(lambda: _owner(env, boss_actor, customer["id"]) == boss["id"], timeout=30)
    finally:
        discard(*procs.values())


def test_entries_reach_only_the_consumers_that_act_on_them(make_environment):
    # Routing facets: a log entry is routed as entry_recorded.<opportunity>.<difficulty>.
    # <appointment>. Scoring's queue takes every entry; the opportunity service's queue only
    # those on an opportunity. A queue declared before the facets (bound by the bare type)
    # loses that binding when the topology is declared again.
    import kombu

    from common import topology
    from common.consumer import queue_name
    from common.events import routing_key

    env = make_environment("sqlite")
    scoring_q = queue_name("worklog", "entry_recorded", "scoring", "on_entry_recorded")
    opportunity_q = queue_name("worklog", "entry_recorded", "opportunity", "on_entry_recorded")
    exchange = kombu.Exchange("worklog.events", type="topic", durable=True)
    with kombu.Connection(env.amqp_uri) as conn:  # the old topology: bound by the bare type
        exchange(conn.default_channel).declare()
        kombu.Queue(opportunity_q, exchange, routing_key="entry_recorded", durable=True)(
            conn.default_channel
        ).declare()
    topology.declare(uri=env.amqp_uri)
    base = {"opportunity_id": None, "difficulty": None, "next_appointment_at": None}
    published = [
        {**base},
        {**base, "opportunity_id": "7"},
        {**base, "difficulty": {"category": "price"}},
        {**base, "opportunity_id": "8", "next_appointment_at": "2026-12-01T10:00:00+08:00"},
    ]
    keys = [routing_key("worklog", "entry_recorded", data) for data in published]
    assert keys == [
        "entry_recorded.-.-.-",
        "entry_recorded.opportunity.-.-",
        "entry_recorded.-.difficulty.-",
        "entry_recorded.opportunity.-.appointment",
    ]
    with kombu.Connection(env.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer(serializer="json")
        for key in [*keys, "entry_recorded"]:  # and one from before the facets
            producer.publish({"key": key}, exchange=exchange, routing_key=key, delivery_mode=2)
    assert queue_depth(env, scoring_q) == 5
    assert queue_depth(env, opportunity_q) == 2
