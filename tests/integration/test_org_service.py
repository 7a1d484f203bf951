"""The org service's use cases, in this process on SQLite (and PostgreSQL) (tests/inprocess.py),
called with the arguments the gateway sends, as the actor the gateway names.

A first start by two org processes at once starts them as ``python -m ops.runner org`` on the
vhost of ``BPC_AMQP_URI``. Set ``BPC_TEST_PG=1`` to run everything on PostgreSQL as well.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from common import tokens
from common.actor import Actor
from common.db import make_engine
from common.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from common.events import Envelope
from tests.inprocess import Services
from tests.support import (
    Environment,
    ServiceProcess,
    create_pg_database,
    discard,
    drop_pg_database,
    eventually,
    publish_event,
    rpc,
)
from tests.support import tap as event_tap

ADMIN_PASSWORD = "Admin-Pass-2026"
SECRET = "test-secret-org-" + uuid.uuid4().hex  # the tokens' signing key (BPC_SECRET)
PASSWORD = "Passw0rd-org"
PASSWORD_LINE = re.compile(r"initial admin password: (\S+)")

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("BPC_TEST_PG") == "1" else [])


class OrgEnvironment(Environment):
    """The broker vhost of ``BPC_AMQP_URI`` (not a new one), a data dir, maybe PostgreSQL."""

    @classmethod
    def on_current_vhost(cls, tmp: Path, backend: str, **extra: str) -> OrgEnvironment:
        env = cls(backend=backend, admin_password=ADMIN_PASSWORD, extra=dict(extra))
        env.vhost = os.environ["BPC_AMQP_URI"]
        env.data_dir = tmp
        env.metrics_offset = 0
        env.extra.setdefault("BPC_METRICS_PORT_ORG", "0")
        if backend == "postgresql":
            prefix = os.environ.get("BPC_TEST_PG_PREFIX", "bpc_test")
            env.pg_urls["org"] = create_pg_database(f"{prefix}_org")
        return env

    @property
    def amqp_uri(self) -> str:
        return self.vhost

    def destroy(self) -> None:
        for url in self.pg_urls.values():
            drop_pg_database(url)

    def org_db_url(self) -> str:
        return org_db_url(self)


def org_db_url(env) -> str:
    """The org database of ``env`` (an Environment, or the services run here)."""
    return env.pg_urls.get("org") or f"sqlite:///{env.data_dir / 'org.db'}"


class EventTap:
    """Every event org publishes from now on (``tests.support.tap``), read as they arrive."""

    def __init__(self, env):
        self.tap = event_tap(env, "org")
        self.seen: list[dict] = []

    def _drain(self) -> None:
        self.seen = self.tap.drain()

    def events(self, event_type: str, **data_match) -> list[dict]:
        self._drain()
        return [
            event["data"]
            for event in self.seen
            if event["type"] == event_type
            and all(event["data"].get(k) == v for k, v in data_match.items())
        ]

    def types_about(self, user_ids: set[str]) -> list[tuple[str, str]]:
        self._drain()
        return [
            (e["type"], e["data"]["user_id"])
            for e in self.seen
            if e["data"].get("user_id") in user_ids
        ]

    def close(self) -> None:
        self.tap.close()


@pytest.fixture(scope="module", params=BACKENDS)
def org(request, tmp_path_factory):
    """org in this process (tests/inprocess.py) on each database: (services, tap, None).
    Password checks are not paced here (``BPC_PASSWORD_CHECK_RATE``, services/org/guard.py: a
    process's protection of its other requests, not a rule these tests prove)."""
    env = Services.create(
        tmp_path_factory.mktemp("org"), request.param, "org", BPC_ADMIN_PASSWORD=ADMIN_PASSWORD,
        BPC_LOGIN_DELAY="1", BPC_LOGIN_MAX_DELAY="2", BPC_SECRET=SECRET,
        BPC_PASSWORD_CHECK_RATE="1000",
    )  # fmt: skip
    tap = EventTap(env)
    try:
        yield env, tap, None
    finally:
        tap.close()
        env.close()


def call(env: Environment, method: str, actor: Actor | None = None, **kwargs):
    return rpc(env, "org", method, actor=actor, **kwargs)


def admin_of(env: Environment) -> Actor:
    answer = call(env, "login", login="admin", password=ADMIN_PASSWORD)
    return Actor.from_header(call(env, "resolve_actor", user_id=answer["user"]["id"]))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def new_user(env, admin, level: int, supervisor_id: str | None, name: str | None = None):
    login = unique("u")
    return call(
        env,
        "create_user",
        admin,
        login=login,
        password=PASSWORD,
        name=name or login,
        level=level,
        org_unit_id=admin.org_unit_id,
        supervisor_id=supervisor_id,
    )


def as_actor(env, user: dict) -> Actor:
    return Actor.from_header(call(env, "resolve_actor", user_id=user["id"]))


def audit(env, admin, **filters) -> list[dict]:
    return call(env, "list_audit", admin, limit=500, **filters)["items"]


# --- first start -------------------------------------------------------------------------------


def test_first_start_creates_the_administrator_in_the_head_office(org):
    env, tap, _ = org
    admin = admin_of(env)
    assert admin.level == 9
    assert admin.path == [admin.id]
    me = call(env, "get_user", admin, user_id=admin.id)
    assert me["login"] == "admin" and me["supervisor_id"] is None and me["active"]
    assert me["name"] == "管理员 Administrator"
    units = audit(env, admin, action="unit_created")
    head_office = [e for e in units if e["target_id"] == admin.org_unit_id]
    assert head_office and head_office[0]["details"]["name"] == "集团总部 Head office"
    created = eventually(lambda: tap.events("user_created", user_id=admin.id), timeout=10)
    assert created[0]["level"] == 9 and created[0]["path"] == [admin.id]


def test_without_a_configured_password_one_is_generated_and_logged_once(org, tmp_path):
    base, _, _ = org
    env = OrgEnvironment.on_current_vhost(tmp_path, base.backend)
    env.admin_password = ""
    # two org processes start at once on a new database: exactly one creates the admin
    first = ServiceProcess(env, "org", BPC_ADMIN_PASSWORD="")
    second = ServiceProcess(env, "org", BPC_ADMIN_PASSWORD="")
    second.log_path = tmp_path / "org-second.log"
    logs: list[str] = []
    try:
        first.start()
        second.start()

        def both_past_bootstrap():
            for process in (first, second):
                if process.proc.poll() is not None:
                    raise RuntimeError(f"org exited {process.proc.returncode}: {process.tail()}")
            logs = [p.log_path.read_text(errors="replace") for p in (first, second)]
            done = ("initial admin password", "another org instance", "administrator already")
            return all(any(mark in log for mark in done) for log in logs) and logs

        logs = eventually(both_past_bootstrap, timeout=60, message="org did not start")
        assert first.proc.poll() is None and second.proc.poll() is None, "both keep running"
    finally:
        discard(first, second)  # killed at once: what they committed is what is read
        try:
            passwords = PASSWORD_LINE.findall("".join(logs))
            engine = make_engine(env.org_db_url())
            with engine.connect() as conn:
                admins = conn.execute(
                    text("SELECT password_hash, level FROM users WHERE login = 'admin'")
                ).all()
                offices = conn.execute(text("SELECT count(*) FROM org_units")).scalar()
            engine.dispose()
        finally:
            env.destroy()
    assert len(passwords) == 1, "the generated password is logged exactly once"
    assert len(admins) == 1 and admins[0].level == 9
    assert offices == 1
    assert PasswordHasher().verify(admins[0].password_hash, passwords[0])


# --- login ---------------------------------------------------------------------------------------


def test_login_with_the_right_password_gives_a_token_and_is_audited(org, monkeypatch):
    env, _, _ = org
    admin = admin_of(env)
    user = new_user(env, admin, 3, admin.id, name="赵客服")
    answer = call(env, "login", login=user["login"], password=PASSWORD)
    assert answer["user"] == user
    monkeypatch.setenv("BPC_SECRET", SECRET)
    assert tokens.verify(answer["token"]) == user["id"]
    assert answer["expires_at"]
    logins = audit(env, admin, user_id=user["id"], action="login")
    assert [e["actor_id"] for e in logins] == [user["id"]]


def test_login_with_a_wrong_password_is_refused_and_audited(org):
    env, _, _ = org
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    with pytest.raises(Unauthenticated):
        call(env, "login", login=user["login"], password="wrong-password")
    with pytest.raises(Unauthenticated):
        call(env, "login", login=unique("nobody"), password="whatever")
    failed = audit(env, admin, user_id=user["id"], action="login_failed")
    assert failed and failed[0]["details"]["reason"] == "bad_password"


def test_repeated_failures_make_an_account_wait_even_for_the_right_password(org):
    """Five free failures, then 429 with the seconds to wait (BPC_LOGIN_DELAY=1 here), the
    right password refused as well; the administrator sees the lock and lifts it; a lock
    also ends by itself. The audit log holds the first failure and each wait, not every try."""
    env, _, _ = org
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    login = {"login": user["login"], "address": "203.0.113.9"}
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            call(env, "login", password="wrong-password", **login)
    for password in ("wrong-password", PASSWORD):
        with pytest.raises(TooManyAttempts) as refused:
            call(env, "login", password=password, **login)
        assert refused.value.details["retry_after"] == 1
    locks = call(env, "login_locks", admin)["items"]
    mine = [lock for lock in locks if lock["user_id"] == user["id"]]
    assert mine and mine[0]["scope"] == "account" and mine[0]["failures"] == 5
    with pytest.raises(Forbidden):
        call(env, "login_locks", as_actor(env, user))
    assert call(env, "unlock_login", admin, user_id=user["id"])["unlocked"] is True
    assert call(env, "login", password=PASSWORD, **login)["user"]["id"] == user["id"]

    for _ in range(5):
        with pytest.raises(Unauthenticated):
            call(env, "login", password="wrong-password", **login)
    time.sleep(1.1)  # the wait ended; one more failure makes the next one twice as long
    with pytest.raises(Unauthenticated):
        call(env, "login", password="wrong-password", **login)
    with pytest.raises(TooManyAttempts) as refused:
        call(env, "login", password=PASSWORD, **login)
    assert refused.value.details["retry_after"] == 2
    time.sleep(2.1)
    assert call(env, "login", password=PASSWORD, **login)["user"]["id"] == user["id"]
    failed = audit(env, admin, user_id=user["id"], action="login_failed")
    throttled = audit(env, admin, user_id=user["id"], action="login_throttled")
    assert len(failed) == 2  # the first failure of each run, not each of the 11
    assert sorted(e["details"]["failures"] for e in throttled) == [5, 5, 6]


# --- sessions, passwords, second factor -------------------------------------------------------


def test_a_refresh_token_is_good_once_and_a_reused_one_ends_its_session(org, monkeypatch):
    env, _, _ = org
    monkeypatch.setenv("BPC_SECRET", SECRET)
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    first = call(env, "login", login=user["login"], password=PASSWORD, agent="Phone")
    claims = tokens.verified_claims(first["token"])
    assert claims["sid"] == first["session_id"] and claims["gen"] == 0
    with pytest.raises(Unauthenticated):  # a refresh token is no access token
        tokens.verified_claims(first["refresh_token"])
    second = call(env, "refresh", refresh_token=first["refresh_token"])
    assert second["session_id"] == first["session_id"] and second["token"] != first["token"]
    third = call(env, "refresh", refresh_token=second["refresh_token"])
    with pytest.raises(Unauthenticated):  # the first one, again: a copy — the session ends
        call(env, "refresh", refresh_token=first["refresh_token"])
    with pytest.raises(Unauthenticated):
        call(env, "refresh", refresh_token=third["refresh_token"])
    resolved = call(env, "resolve_actor", user_id=user["id"], session_id=first["session_id"])
    assert resolved["session_live"] is False
    assert [e["target_id"] for e in audit(env, admin, action="refresh_reused")
            if e["actor_id"] == user["id"]] == [first["session_id"]]  # fmt: skip


def test_signing_out_ends_one_session_and_everywhere_ends_every_token(org, monkeypatch):
    env, _, _ = org
    monkeypatch.setenv("BPC_SECRET", SECRET)
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    me = as_actor(env, user)
    phone, laptop, tablet = (
        call(env, "login", login=user["login"], password=PASSWORD, agent=agent)
        for agent in ("Phone", "Laptop", "Tablet")
    )
    listed = call(env, "list_sessions", me, session_id=phone["session_id"])["items"]
    assert {i["agent"] for i in listed} == {"Phone", "Laptop", "Tablet"}
    assert [i["agent"] for i in listed if i["current"]] == ["Phone"]

    assert call(env, "logout", me, session_id=phone["session_id"]) == {"ended_sessions": 1}
    live = {
        name: call(env, "resolve_actor", user_id=user["id"], session_id=s["session_id"])
        for name, s in (("phone", phone), ("laptop", laptop))
    }
    assert live["phone"]["session_live"] is False and live["laptop"]["session_live"] is True

    answer = call(env, "logout_all", me)
    assert answer == {"user_id": user["id"], "ended_sessions": 2}
    resolved = call(env, "resolve_actor", user_id=user["id"], session_id=tablet["session_id"])
    assert resolved["session_live"] is False
    assert resolved["generation"] == tokens.verified_claims(tablet["token"])["gen"] + 1
    with pytest.raises(Unauthenticated):
        call(env, "refresh", refresh_token=laptop["refresh_token"])
    with pytest.raises(Forbidden):  # another user's sessions: the administrator's only
        call(env, "logout_all", me, user_id=admin.id)
    actions = [e["action"] for e in audit(env, admin, user_id=user["id"])]
    assert actions.count("logout") == 1 and actions.count("logout_all") == 1


def test_changing_a_password_asks_the_old_one_and_keeps_the_rules(org):
    env, _, _ = org
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    before = call(env, "login", login=user["login"], password=PASSWORD)
    me = as_actor(env, user)
    with pytest.raises(ValidationFailed) as wrong:
        call(env, "change_password", me, old_password="not-it", new_password="Good-pass-2027")
    assert "old_password" in wrong.value.details
    for weak in ("short1!", "onlyletterslong", user["login"] + "-2027x", PASSWORD):
        with pytest.raises(ValidationFailed) as refused:
            call(env, "change_password", me, old_password=PASSWORD, new_password=weak)
        assert refused.value.details["new_password"], weak
    answer = call(env, "change_password", me, old_password=PASSWORD, new_password="新的密码-2027ab")
    assert answer["must_change_password"] is False and answer["token"]
    resolved = call(env, "resolve_actor", user_id=user["id"], session_id=before["session_id"])
    assert resolved["session_live"] is False  # every earlier session ended
    with pytest.raises(Unauthenticated):
        call(env, "login", login=user["login"], password=PASSWORD)
    assert call(env, "login", login=user["login"], password="新的密码-2027ab")["token"]
    assert audit(env, admin, user_id=user["id"], action="password_changed")


def test_a_reset_password_is_temporary_and_must_be_changed_first(org):
    env, _, _ = org
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    old = call(env, "login", login=user["login"], password=PASSWORD)
    with pytest.raises(Forbidden):
        call(env, "reset_password", as_actor(env, user), user_id=admin.id)
    reset = call(env, "reset_password", admin, user_id=user["id"])
    temporary = reset["temporary_password"]
    assert reset["ended_sessions"] == 1 and len(temporary) == 14
    assert call(env, "resolve_actor", user_id=user["id"], session_id=old["session_id"])[
        "session_live"] is False  # fmt: skip
    with pytest.raises(Unauthenticated):
        call(env, "login", login=user["login"], password=PASSWORD)
    signed_in = call(env, "login", login=user["login"], password=temporary)
    assert signed_in["must_change_password"] is True
    assert call(env, "resolve_actor", user_id=user["id"])["must_change_password"] is True
    me = as_actor(env, user)
    call(env, "change_password", me, old_password=temporary, new_password="Mine-again-2027")
    assert call(env, "resolve_actor", user_id=user["id"])["must_change_password"] is False
    entries = audit(env, admin, user_id=user["id"], action="password_reset")
    assert entries and temporary not in str(entries)


def test_a_second_factor_for_level_6_is_enrolled_with_a_code_and_asked_at_login(org):
    import pyotp

    env, _, _ = org
    admin = admin_of(env)
    manager = new_user(env, admin, 6, admin.id)
    rep = new_user(env, admin, 2, manager["id"])
    with pytest.raises(Forbidden):
        call(env, "totp_setup", as_actor(env, rep))
    me = as_actor(env, manager)
    setup = call(env, "totp_setup", me)
    assert setup["otpauth_uri"].startswith("otpauth://totp/BPC:")
    assert setup["qr_svg"].startswith("data:image/svg+xml")
    totp = pyotp.TOTP(setup["secret"])
    with pytest.raises(ValidationFailed):
        call(env, "totp_enable", me, code="000000" if totp.now() != "000000" else "111111")
    assert call(env, "totp_enable", me, code=totp.now()) == {"enabled": True}
    assert call(env, "resolve_actor", user_id=manager["id"])["totp_enabled"] is True

    with pytest.raises(Unauthenticated) as asked:
        call(env, "login", login=manager["login"], password=PASSWORD)
    assert asked.value.code == "totp_required"
    code = totp.at(time.time() + 30)  # the next step's code: the enrolment used this one
    answer = call(env, "login", login=manager["login"], password=PASSWORD, totp_code=code)
    assert answer["user"]["id"] == manager["id"]
    with pytest.raises(Unauthenticated):  # a code is good once
        call(env, "login", login=manager["login"], password=PASSWORD, totp_code=code)
    with pytest.raises(ValidationFailed):
        call(env, "totp_disable", me, password="wrong", code=totp.now())
    call(env, "unlock_login", admin, user_id=manager["id"])
    assert call(env, "totp_disable", me, password=PASSWORD, code=totp.now()) == {"enabled": False}
    assert call(env, "login", login=manager["login"], password=PASSWORD)["token"]
    actions = {e["action"] for e in audit(env, admin, user_id=manager["id"])}
    assert {"totp_setup_started", "totp_enabled", "totp_disabled"} <= actions


# --- creating users ---------------------------------------------------------------------------


def test_supervisor_of_equal_level_is_refused(org):
    env, _, _ = org
    admin = admin_of(env)
    manager = new_user(env, admin, 5, admin.id)
    with pytest.raises(ValidationFailed) as caught:
        new_user(env, admin, 5, manager["id"])
    assert "supervisor_id" in caught.value.details


def test_taken_login_is_a_conflict(org):
    env, _, _ = org
    admin = admin_of(env)
    user = new_user(env, admin, 2, admin.id)
    with pytest.raises(Conflict) as caught:
        call(
            env,
            "create_user",
            admin,
            login=user["login"],
            password=PASSWORD,
            name="另一个",
            level=1,
            org_unit_id=None,
            supervisor_id=admin.id,
        )
    assert caught.value.code == "login_taken"


def test_bad_arguments_are_validation_failures_with_field_messages(org):
    env, _, _ = org
    admin = admin_of(env)
    with pytest.raises(ValidationFailed) as caught:
        call(
            env,
            "create_user",
            admin,
            login="",
            password="1",
            name="",
            level="九",
            org_unit_id="nine",
            supervisor_id=admin.id,
        )
    assert {"login", "password", "name", "level", "org_unit_id"} <= set(caught.value.details)
    with pytest.raises(ValidationFailed) as caught:
        call(
            env,
            "create_user",
            admin,
            login=unique("u"),
            password=PASSWORD,
            name="新人",
            level=2,
            org_unit_id="99999",
            supervisor_id=admin.id,
        )
    assert "org_unit_id" in caught.value.details
    with pytest.raises(ValidationFailed):
        call(env, "update_user", admin, user_id=admin.id, changes={"password": "x"})
    with pytest.raises(NotFound):
        call(env, "update_user", admin, user_id="99999", changes={"level": 3})


def test_only_level_9_manages_users_and_reads_the_audit_log(org):
    env, _, _ = org
    admin = admin_of(env)
    executive = as_actor(env, new_user(env, admin, 8, admin.id))
    with pytest.raises(Forbidden):
        new_user(env, executive, 2, executive.id)
    with pytest.raises(Forbidden):
        call(env, "list_audit", executive)
    with pytest.raises(Unauthenticated):
        call(env, "create_unit", None, name="无名", parent_id=None)


def test_the_administrator_refreshes_planner_statistics_after_an_import(org):
    """``refresh_statistics`` (every service has it: ``common.service.ServiceBase``) runs
    ANALYZE for level 9 only; the demo calls it on each service when it is done."""
    env, _, _ = org
    admin = admin_of(env)
    answer = call(env, "refresh_statistics", admin)
    assert answer["service"] == "org" and answer["seconds"] >= 0
    executive = as_actor(env, new_user(env, admin, 8, admin.id))
    with pytest.raises(Forbidden):
        call(env, "refresh_statistics", executive)
    with pytest.raises(Unauthenticated):
        call(env, "refresh_statistics", None)


def test_unit_creation_is_audited(org):
    env, _, _ = org
    admin = admin_of(env)
    unit = call(env, "create_unit", admin, name="华南区 South", parent_id=admin.org_unit_id)
    assert unit["name"] == "华南区 South" and unit["parent_id"] == admin.org_unit_id
    entries = audit(env, admin, action="unit_created")
    assert any(e["target_id"] == unit["id"] and e["actor_id"] == admin.id for e in entries)


# --- moving and deactivating -------------------------------------------------------------------


def test_deactivation_hands_reports_to_the_supervisor_and_emits_user_deactivated(org):
    env, tap, _ = org
    admin = admin_of(env)
    director = new_user(env, admin, 7, admin.id)
    manager = new_user(env, admin, 5, director["id"])
    rep = new_user(env, admin, 2, manager["id"])
    trainee = new_user(env, admin, 1, rep["id"])

    answer = call(env, "update_user", admin, user_id=manager["id"], changes={"active": False})

    assert answer["active"] is False
    assert call(env, "get_user", admin, user_id=rep["id"])["supervisor_id"] == director["id"]
    assert as_actor(env, trainee).path == [admin.id, director["id"], rep["id"], trainee["id"]]
    with pytest.raises(Unauthenticated):
        call(env, "login", login=manager["login"], password=PASSWORD)
    with pytest.raises(Unauthenticated):
        call(env, "resolve_actor", user_id=manager["id"])

    ids = {manager["id"], rep["id"], trainee["id"]}
    expected = [
        ("user_moved", rep["id"]),
        ("user_moved", trainee["id"]),
        ("user_deactivated", manager["id"]),
    ]
    eventually(
        lambda: [t for t in tap.types_about(ids) if t[0] != "user_created"] == expected,
        timeout=10,
        message="user_moved ×2 then user_deactivated",
    )
    (moved_trainee,) = tap.events("user_moved", user_id=trainee["id"])
    assert moved_trainee["old_path"] == [
        admin.id,
        director["id"],
        manager["id"],
        rep["id"],
        trainee["id"],
    ]
    assert moved_trainee["new_path"] == [admin.id, director["id"], rep["id"], trainee["id"]]
    (gone,) = tap.events("user_deactivated", user_id=manager["id"])
    assert gone == {
        "user_id": manager["id"],
        "supervisor_id": director["id"],
        "supervisor_path": [admin.id, director["id"]],
        "path": [admin.id, director["id"], manager["id"]],
    }
    entries = audit(env, admin, user_id=manager["id"], action="user_deactivated")
    assert entries[0]["details"]["reports_moved"] == [rep["id"]]


def test_top_user_cannot_be_deactivated(org):
    env, _, _ = org
    admin = admin_of(env)
    with pytest.raises(ValidationFailed) as caught:
        call(env, "update_user", admin, user_id=admin.id, changes={"active": False})
    assert "active" in caught.value.details
    assert admin_of(env).id == admin.id


def test_moving_a_user_moves_the_whole_subtree(org):
    env, tap, _ = org
    admin = admin_of(env)
    east, west = new_user(env, admin, 7, admin.id), new_user(env, admin, 7, admin.id)
    manager = new_user(env, admin, 4, east["id"])
    rep = new_user(env, admin, 2, manager["id"])

    call(env, "update_user", admin, user_id=manager["id"], changes={"supervisor_id": west["id"]})

    assert as_actor(env, rep).path == [admin.id, west["id"], manager["id"], rep["id"]]
    moved = eventually(lambda: tap.events("user_moved", user_id=rep["id"]), timeout=10)
    assert moved[0]["new_path"] == [admin.id, west["id"], manager["id"], rep["id"]]
    assert tap.events("user_moved", user_id=manager["id"])[0]["supervisor_id"] == west["id"]


def test_a_move_that_would_break_the_chain_is_refused(org):
    env, _, _ = org
    admin = admin_of(env)
    manager = new_user(env, admin, 5, admin.id)
    rep = new_user(env, admin, 3, manager["id"])
    with pytest.raises(ValidationFailed) as caught:  # under their own subordinate
        call(env, "update_user", admin, user_id=manager["id"], changes={"supervisor_id": rep["id"]})
    assert "supervisor_id" in caught.value.details
    with pytest.raises(ValidationFailed) as caught:  # not above the direct report any more
        call(env, "update_user", admin, user_id=manager["id"], changes={"level": 3})
    assert "level" in caught.value.details


# --- who sees whom -------------------------------------------------------------------------------


def test_users_see_themselves_and_from_level_4_their_subordinates(org):
    env, _, _ = org
    admin = admin_of(env)
    boss = new_user(env, admin, 4, admin.id, name="周主管")
    zhang = new_user(env, admin, 2, boss["id"], name="张伟")
    li = new_user(env, admin, 2, boss["id"], name="李娜")
    zhang_actor = as_actor(env, zhang)
    with pytest.raises(NotFound):
        call(env, "get_user", zhang_actor, user_id=li["id"])
    assert call(env, "get_user", zhang_actor, user_id=zhang["id"]) == zhang
    assert call(env, "list_users", zhang_actor)["items"] == [zhang]

    boss_actor = as_actor(env, boss)
    assert call(env, "get_user", boss_actor, user_id=li["id"]) == li
    first = call(env, "list_users", boss_actor, limit=2)
    rest = call(env, "list_users", boss_actor, limit=2, cursor=first["next_cursor"])
    names = [u["name"] for u in first["items"] + rest["items"]]
    assert names == ["李娜", "张伟", "周主管"]  # pinyin order: li, zhang, zhou
    assert rest["next_cursor"] is None


# --- audited reads from the customer service ---------------------------------------------------


def test_unmasked_contacts_and_exports_land_in_the_audit_log_once(org):
    env, _, _ = org
    admin = admin_of(env)
    actor_id = unique("9")
    unmasked = Envelope.new(
        "customer",
        "contact_unmasked",
        {
            "actor_id": actor_id,
            "action": "contact_unmasked",
            "target_type": "contact",
            "target_id": "c-17",
            "details": {"customer_id": "42"},
            "at": "2026-03-01T09:30:00+08:00",
        },
    )
    publish_event(env, "customer", "contact_unmasked", unmasked.data, envelope=unmasked)
    publish_event(env, "customer", "contact_unmasked", unmasked.data, envelope=unmasked)
    publish_event(
        env,
        "customer",
        "customers_exported",
        {
            "actor_id": actor_id,
            "action": "customers_exported",
            "target_type": "customer",
            "target_id": None,
            "details": {"count": 3},
            "at": "2026-03-01T10:00:00+08:00",
        },
    )

    entries = eventually(
        lambda: (
            len(audit(env, admin, user_id=actor_id)) >= 2 and audit(env, admin, user_id=actor_id)
        ),
        timeout=15,
    )
    time.sleep(1.0)  # give a redelivered duplicate the time to show up if it were kept
    entries = audit(env, admin, user_id=actor_id)
    assert sorted(e["action"] for e in entries) == ["contact_unmasked", "customers_exported"]
    read = next(e for e in entries if e["action"] == "contact_unmasked")
    assert read["target_type"] == "contact" and read["target_id"] == "c-17"
    assert read["details"]["customer_id"] == "42"
    assert read["at"].startswith("2026-03-01T09:30:00")


def test_the_audit_log_refuses_changes_in_the_database_itself(org):
    env, _, _ = org
    engine = make_engine(org_db_url(env))
    try:
        for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def test_a_bulk_import_builds_the_tree_by_keys_in_one_transaction(org):
    """Demo data and migrations: units and users by the caller's keys, every rule of a single
    creation, one user_created each, all or nothing."""
    env, tap, _ = org
    admin = admin_of(env)
    region, branch = unique("region"), unique("branch")
    units = [
        {"key": "east", "name": f"华东大区{region}", "parent_id": admin.org_unit_id},
        {"key": "sh", "name": f"上海分公司{branch}", "parent_key": "east"},
    ]
    people = [
        {"key": "gm", "login": unique("gm"), "name": "上海总经理", "level": 6, "unit_key": "sh",
         "supervisor_id": admin.id},
        {"key": "sup", "login": unique("sup"), "name": "王主管", "level": 4, "unit_key": "sh",
         "supervisor_key": "gm"},
        {"key": "rep1", "login": unique("rep"), "name": "张三", "level": 2, "unit_key": "sh",
         "supervisor_key": "sup"},
        {"key": "rep2", "login": unique("rep"), "name": "李四", "level": 1, "unit_key": "sh",
         "supervisor_key": "sup"},
    ]  # fmt: skip
    for person in people:
        person["password"] = "Demo-Passw0rd"
    made = call(env, "import_org", admin, units=units, users=people)
    assert set(made["units"]) == {"east", "sh"} and set(made["users"]) == {
        "gm",
        "sup",
        "rep1",
        "rep2",
    }
    rep = call(env, "get_user", admin, user_id=made["users"]["rep1"])
    assert (
        rep["supervisor_id"] == made["users"]["sup"] and rep["org_unit_id"] == made["units"]["sh"]
    )
    logged_in = call(env, "login", login=people[2]["login"], password="Demo-Passw0rd")
    assert logged_in["user"]["id"] == made["users"]["rep1"]
    created = eventually(
        lambda: (
            [u for u in made["users"].values() if tap.events("user_created", user_id=u)]
            == list(made["users"].values())
        ),
        timeout=10,
    )
    assert created
    path = tap.events("user_created", user_id=made["users"]["rep2"])[0]["path"]
    assert path == [admin.id, made["users"]["gm"], made["users"]["sup"], made["users"]["rep2"]]

    def again(person: dict, **changes) -> dict:  # placed by ids, as a second import would
        placed = {"unit_key": None, "org_unit_id": made["units"]["sh"],
                  "supervisor_key": None, "supervisor_id": made["users"]["gm"]}  # fmt: skip
        return {**person, **placed, **changes}

    # a supervisor of a level not above → the whole import is refused, nothing is created
    first = again(people[1], key="a", login=unique("a"))
    bad = [first, again(people[2], key="b", login=unique("b"), level=7, supervisor_key="a",
                        supervisor_id=None)]  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        call(env, "import_org", admin, units=[], users=bad)
    assert "level" in str(caught.value.details)
    assert not [u for u in call(env, "list_users", admin, limit=500)["items"]
                if u["login"] == first["login"]]  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:  # a key used before it is defined
        call(env, "import_org", admin, users=[again(people[3], key="x", supervisor_key="later")])
    assert "users" in caught.value.details
    with pytest.raises(Conflict):  # a login taken
        call(env, "import_org", admin, users=[again(people[1], key="y")])
    rep1 = Actor.from_header(call(env, "resolve_actor", user_id=made["users"]["rep1"]))
    with pytest.raises(Forbidden):
        call(env, "import_org", rep1, units=[], users=[])
