"""org: org units, users, the nine levels, the supervisor chain, credentials, the audit log."""

from __future__ import annotations

import logging
from datetime import datetime

from nameko.rpc import rpc

from common import clock
from common.actor import CurrentActor, require_actor
from common.consumer import event_consumer
from common.db import Database
from common.entrypoint import entrypoint
from common.errors import Unauthenticated
from common.events import Envelope
from common.service import ServiceBase
from services.org import access, commands, guard, queries, schemas, sessions, totp
from services.org.bootstrap import AdminBootstrap
from services.org.models import Base
from services.org.throttle import Rules

log = logging.getLogger(__name__)

ADMIN_LEVEL = 9


class OrgService(ServiceBase):
    name = "org"
    db = Database(Base)
    actor = CurrentActor()
    sources = queries.SOURCES
    first_start = AdminBootstrap()
    throttle = Rules.from_env()
    load_arguments = staticmethod(schemas.load)  # org's own: an argument sent as None is absent

    @rpc
    def health(self) -> dict:
        """Anyone (the gateway's /healthz): once the first start is done (the administrator
        exists) and the database answers."""
        self.first_start.wait()
        return super().health()

    # --- identity ----------------------------------------------------------------------

    @entrypoint(caller=False, params=("login", "password", "address", "totp_code", "agent"))
    def login(self, actor, args) -> dict:
        """System call (gateway, POST /auth/login; ``address`` and ``agent``: the client's). A
        new session: access and refresh token (services/org/sessions.py). Audited as
        ``login``; failures counted per account and address (services/org/throttle.py).

        Bad credentials or an inactive user → Unauthenticated; a second factor and no code →
        Unauthenticated ``totp_required``; too many failures → TooManyAttempts (429 with
        Retry-After), the password then not checked.
        """
        credentials = schemas.load(schemas.LoginArgs, _only(args, "login", "password", "totp_code"))
        self.first_start.wait()
        return access.login(self.db, credentials["login"], credentials["password"],
                            args["address"], self.throttle, totp_code=credentials["totp_code"],
                            agent=args["agent"])  # fmt: skip

    @entrypoint(caller=False, params=("refresh_token",))
    def refresh(self, actor, args) -> dict:
        """System call (gateway, POST /auth/refresh): the next token pair of a live session.
        A refresh token is good once; an older one ends its session (``refresh_reused``)."""
        refresh_token = args["refresh_token"]
        if not isinstance(refresh_token, str) or len(refresh_token) > 4096:
            raise Unauthenticated("令牌无效 / Invalid token")
        return sessions.refresh(self.db, refresh_token)

    @entrypoint(params=("session_id",))
    def logout(self, actor, args) -> dict:
        """Any user: ends the session of the token used. Audited as ``logout``."""
        return sessions.logout(self.db, actor, args["session_id"])

    @entrypoint(params=("user_id",))  # loaded here: the caller is its default
    def logout_all(self, actor, args) -> dict:
        """Any user for themselves, level 9 for anyone: every session and token of the user
        ends. Audited as ``logout_all``."""
        args = schemas.load(schemas.UserIdArgs, {"user_id": args["user_id"] or actor.id})
        return sessions.logout_all(self.db, actor, args["user_id"])

    @entrypoint(params=("session_id",))
    def list_sessions(self, actor, args) -> dict:
        """Any user: their live sessions (``current``: the one of ``session_id``)."""
        return sessions.list_sessions(self.db, actor, args["session_id"])

    @entrypoint(params=("old_password", "new_password", "address", "agent"))
    def change_password(self, actor, args) -> dict:
        """Any user, their own: the old password and the rules (services/org/passwords.py).
        Ends every session; answers a new one for this device. Audited ``password_changed``."""
        passwords = schemas.load(
            schemas.ChangePasswordArgs, _only(args, "old_password", "new_password")
        )
        return sessions.change_password(self.db, actor, passwords["old_password"],
                                        passwords["new_password"], args["address"],
                                        args["agent"], self.throttle)  # fmt: skip

    @entrypoint(schemas.UserIdArgs, level=ADMIN_LEVEL, params=("user_id",))
    def reset_password(self, actor, args) -> dict:
        """Level 9: a temporary password (answered once), to be changed at the next sign-in.
        Audited as ``password_reset`` (without the password)."""
        return sessions.reset_password(self.db, actor, args["user_id"])

    @entrypoint(params=())
    def totp_setup(self, actor, args) -> dict:
        """Level ≥ 6: a pending TOTP secret with its QR code. Audited."""
        return totp.setup(self.db, actor)

    # the code is judged before the caller is asked for, as it always was: caller=False, and
    # the caller required in the body
    @entrypoint(schemas.TotpCodeArgs, caller=False, params=("code",))
    def totp_enable(self, actor, args) -> dict:
        """Keeps the pending secret when ``code`` is one of its current codes. Audited."""
        return totp.enable(self.db, require_actor(actor), args["code"])

    @entrypoint(schemas.TotpCodeArgs, caller=False, params=("password", "code"))
    def totp_disable(self, actor, args) -> dict:
        """Removes the caller's second factor (password and a current code). Audited."""
        return totp.disable(self.db, require_actor(actor), args["password"] or "",
                            args["code"])  # fmt: skip

    @entrypoint(level=ADMIN_LEVEL, params=())
    def login_locks(self, actor, args) -> dict:
        """Level 9: the accounts and client addresses that must wait before the next login."""
        return guard.locks(self.db)

    @entrypoint(schemas.UserIdArgs, command=True, level=ADMIN_LEVEL, params=("user_id",))
    def unlock_login(self, actor, args) -> dict:
        """Level 9: the user may sign in again at once. Audited as ``login_unlocked``."""
        return guard.unlock(self.db, actor.id, args["user_id"])

    @entrypoint(caller=False, params=("user_id", "session_id"))
    def resolve_actor(self, actor, args) -> dict:
        """System call (gateway, every request not cached): the user with their path top →
        user, token generation, whether a password change is due and whether ``session_id``
        is live.

        Unknown or inactive → Unauthenticated.
        """
        with self.db.engine.connect() as connection:
            return queries.resolve_actor(connection, args["user_id"], args["session_id"])

    # --- units and users (level 9) ----------------------------------------------------

    @entrypoint(
        schemas.CreateUnitArgs, command=True, level=ADMIN_LEVEL, params=("name", "parent_id")
    )
    def create_unit(self, actor, args) -> dict:
        """Level 9. A new org unit under ``parent_id``. Audited as ``unit_created``."""
        with self.db.unit_of_work() as uow:
            unit = commands.create_unit(uow, actor.id, args["name"], args["parent_id"])
            return uow.answer(schemas.dump_unit(unit))

    @entrypoint(schemas.ListArgs, params={"limit": 50, "cursor": None})
    def list_units(self, actor, args) -> dict:
        """Any user: the org units, oldest (parents) first."""
        with self.db.read() as session:
            return queries.list_units(session, **args)

    @entrypoint(
        schemas.CreateUserArgs,
        command=True,
        level=ADMIN_LEVEL,
        params=("login", "password", "name", "level", "org_unit_id", "supervisor_id"),
    )
    def create_user(self, actor, args) -> dict:
        """Level 9. Emits ``user_created``; audited.

        Supervisor level not higher, unknown unit or supervisor → ValidationFailed;
        login taken → Conflict ``login_taken``.
        """
        with self.db.unit_of_work() as uow:
            user = commands.create_user(uow, actor.id, **args)
            return uow.answer(schemas.dump_user(user))

    @entrypoint(level=ADMIN_LEVEL, params=("units", "users"))  # loaded here: None is no list
    def import_org(self, actor, args) -> dict:
        """Level 9: units and users in bulk (demo data, migration), by the caller's keys, in
        one transaction; each user as ``create_user`` makes it (rules, audit, event)."""
        args = schemas.load(
            schemas.ImportOrgArgs, {"units": args["units"] or [], "users": args["users"] or []}
        )
        with self.db.unit_of_work() as uow:
            return commands.import_org(uow, actor.id, args["units"], args["users"])

    @entrypoint(
        schemas.UpdateUserArgs, command=True, level=ADMIN_LEVEL, params=("user_id", "changes")
    )
    def update_user(self, actor, args) -> dict:
        """Level 9. ``changes`` ⊆ {supervisor_id, org_unit_id, level, active}; audited.

        A move emits ``user_moved`` for the user and every descendant whose path changed.
        ``active: false`` passes the user's direct reports (with their subtrees) to the user's
        supervisor (``user_moved`` each), then emits ``user_deactivated`` — all in one
        transaction. A user without a supervisor cannot be deactivated (ValidationFailed).
        """
        with self.db.unit_of_work() as uow:
            user = commands.update_user(uow, actor.id, args["user_id"], args["changes"])
            return uow.answer(schemas.dump_user(user))

    @entrypoint(params=("user_id",))
    def get_user(self, actor, args) -> dict:
        """Any user: oneself, subordinates from level 4, everyone for level 9; else NotFound."""
        with self.db.read() as session:
            return queries.get_user(session, actor, args["user_id"])

    @entrypoint(schemas.ListUsersArgs, params={"org_unit_id": None, "limit": 50, "cursor": None})
    def list_users(self, actor, args) -> dict:
        """Any user: the users they may see, in pinyin order of name."""
        with self.db.read() as session:
            return queries.list_users(session, actor, **args)

    # --- the audit log -----------------------------------------------------------------

    @entrypoint(
        schemas.ListAuditArgs,
        level=ADMIN_LEVEL,
        params={"user_id": None, "action": None, "limit": 50, "cursor": None},
    )
    def list_audit(self, actor, args) -> dict:
        """Level 9. Audit entries, newest first, by or about ``user_id`` and of ``action``."""
        with self.db.read() as session:
            return queries.list_audit(session, **args)

    @event_consumer("customer", "contact_unmasked")
    def on_contact_unmasked(self, event: Envelope) -> None:
        """Records a full read of a customer contact in the audit log (once per event)."""
        self._audit_access(event)

    @event_consumer("customer", "customers_exported")
    def on_customers_exported(self, event: Envelope) -> None:
        """Records a bulk export of customers in the audit log (once per event)."""
        self._audit_access(event)

    def _audit_access(self, event: Envelope) -> None:
        data = event.payload()
        with self.db.unit_of_work() as uow:
            if not uow.first_time(event):
                return
            commands.record_audit(
                uow.session,
                actor_id=data["actor_id"],
                action=data["action"],
                target_type=data["target_type"],
                target_id=data.get("target_id"),
                details={**data.get("details", {}), "event_id": event.event_id},
                at=_moment(data["at"]),
            )
        log.info("audited %s by %s (event %s)", data["action"], data["actor_id"], event.event_id)


def _moment(text: str) -> datetime:
    """The time an access happened; an unreadable time is replaced by the time we learnt it."""
    try:
        return clock.as_utc(datetime.fromisoformat(text))
    except (TypeError, ValueError):
        return clock.now()


def _only(args: dict, *names: str) -> dict:
    """The arguments of ``names``: those a schema judges, of an RPC that takes others too."""
    return {name: args[name] for name in names}
