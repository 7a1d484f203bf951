"""org: org units, users, the nine levels, the supervisor chain, credentials, the audit log."""

from __future__ import annotations

import logging
from datetime import datetime

from nameko.rpc import rpc

from common import clock
from common.actor import CurrentActor, require_actor
from common.consumer import event_consumer
from common.db import Database, command
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

    @rpc
    def health(self) -> dict:
        """Anyone (the gateway's /healthz): once the first start is done (the administrator
        exists) and the database answers."""
        self.first_start.wait()
        return super().health()

    # --- identity ----------------------------------------------------------------------

    @rpc
    def login(
        self,
        login: str | None = None,
        password: str | None = None,
        address: str | None = None,
        totp_code: str | None = None,
        agent: str | None = None,
    ) -> dict:
        """System call (gateway, POST /auth/login; ``address`` and ``agent``: the client's). A
        new session: access and refresh token (services/org/sessions.py). Audited as
        ``login``; failures counted per account and address (services/org/throttle.py).

        Bad credentials or an inactive user → Unauthenticated; a second factor and no code →
        Unauthenticated ``totp_required``; too many failures → TooManyAttempts (429 with
        Retry-After), the password then not checked.
        """
        args = schemas.load(
            schemas.LoginArgs, {"login": login, "password": password, "totp_code": totp_code}
        )
        self.first_start.wait()
        return access.login(self.db, args["login"], args["password"], address, self.throttle,
                            totp_code=args["totp_code"], agent=agent)  # fmt: skip

    @rpc
    def refresh(self, refresh_token: str | None = None) -> dict:
        """System call (gateway, POST /auth/refresh): the next token pair of a live session.
        A refresh token is good once; an older one ends its session (``refresh_reused``)."""
        if not isinstance(refresh_token, str) or len(refresh_token) > 4096:
            raise Unauthenticated("令牌无效 / Invalid token")
        return sessions.refresh(self.db, refresh_token)

    @rpc
    def logout(self, session_id: str | None = None) -> dict:
        """Any user: ends the session of the token used. Audited as ``logout``."""
        return sessions.logout(self.db, require_actor(self.actor), session_id)

    @rpc
    def logout_all(self, user_id: str | None = None) -> dict:
        """Any user for themselves, level 9 for anyone: every session and token of the user
        ends. Audited as ``logout_all``."""
        actor = require_actor(self.actor)
        args = schemas.load(schemas.UserIdArgs, {"user_id": user_id or actor.id})
        return sessions.logout_all(self.db, actor, args["user_id"])

    @rpc
    def list_sessions(self, session_id: str | None = None) -> dict:
        """Any user: their live sessions (``current``: the one of ``session_id``)."""
        return sessions.list_sessions(self.db, require_actor(self.actor), session_id)

    @rpc
    def change_password(
        self,
        old_password: str | None = None,
        new_password: str | None = None,
        address: str | None = None,
        agent: str | None = None,
    ) -> dict:
        """Any user, their own: the old password and the rules (services/org/passwords.py).
        Ends every session; answers a new one for this device. Audited ``password_changed``."""
        actor = require_actor(self.actor)
        args = schemas.load(
            schemas.ChangePasswordArgs, {"old_password": old_password, "new_password": new_password}
        )
        return sessions.change_password(self.db, actor, args["old_password"], args["new_password"],
                                        address, agent, self.throttle)  # fmt: skip

    @rpc
    def reset_password(self, user_id: str | None = None) -> dict:
        """Level 9: a temporary password (answered once), to be changed at the next sign-in.
        Audited as ``password_reset`` (without the password)."""
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(schemas.UserIdArgs, {"user_id": user_id})
        return sessions.reset_password(self.db, actor, args["user_id"])

    @rpc
    def totp_setup(self) -> dict:
        """Level ≥ 6: a pending TOTP secret with its QR code. Audited."""
        return totp.setup(self.db, require_actor(self.actor))

    @rpc
    def totp_enable(self, code: str | None = None) -> dict:
        """Keeps the pending secret when ``code`` is one of its current codes. Audited."""
        args = schemas.load(schemas.TotpCodeArgs, {"code": code})
        return totp.enable(self.db, require_actor(self.actor), args["code"])

    @rpc
    def totp_disable(self, password: str | None = None, code: str | None = None) -> dict:
        """Removes the caller's second factor (password and a current code). Audited."""
        args = schemas.load(schemas.TotpCodeArgs, {"code": code, "password": password})
        return totp.disable(self.db, require_actor(self.actor), args["password"] or "",
                            args["code"])  # fmt: skip

    @rpc
    def login_locks(self) -> dict:
        """Level 9: the accounts and client addresses that must wait before the next login."""
        require_actor(self.actor).require_level(ADMIN_LEVEL)
        return guard.locks(self.db)

    @rpc
    @command
    def unlock_login(self, user_id: str | None = None) -> dict:
        """Level 9: the user may sign in again at once. Audited as ``login_unlocked``."""
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(schemas.UserIdArgs, {"user_id": user_id})
        return guard.unlock(self.db, actor.id, args["user_id"])

    @rpc
    def resolve_actor(self, user_id: str | None = None, session_id: str | None = None) -> dict:
        """System call (gateway, every request not cached): the user with their path top →
        user, token generation, whether a password change is due and whether ``session_id``
        is live.

        Unknown or inactive → Unauthenticated.
        """
        with self.db.engine.connect() as connection:
            return queries.resolve_actor(connection, user_id, session_id)

    # --- units and users (level 9) ----------------------------------------------------

    @rpc
    @command
    def create_unit(self, name: str | None = None, parent_id: str | None = None) -> dict:
        """Level 9. A new org unit under ``parent_id``. Audited as ``unit_created``."""
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(schemas.CreateUnitArgs, {"name": name, "parent_id": parent_id})
        with self.db.unit_of_work() as uow:
            unit = commands.create_unit(uow, actor.id, args["name"], args["parent_id"])
            return uow.answer(schemas.dump_unit(unit))

    @rpc
    def list_units(self, limit: int = 50, cursor: str | None = None) -> dict:
        """Any user: the org units, oldest (parents) first."""
        require_actor(self.actor)
        args = schemas.load(schemas.ListArgs, {"limit": limit, "cursor": cursor})
        with self.db.read() as session:
            return queries.list_units(session, **args)

    @rpc
    @command
    def create_user(
        self,
        login: str | None = None,
        password: str | None = None,
        name: str | None = None,
        level: int | None = None,
        org_unit_id: str | None = None,
        supervisor_id: str | None = None,
    ) -> dict:
        """Level 9. Emits ``user_created``; audited.

        Supervisor level not higher, unknown unit or supervisor → ValidationFailed;
        login taken → Conflict ``login_taken``.
        """
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(
            schemas.CreateUserArgs,
            {
                "login": login,
                "password": password,
                "name": name,
                "level": level,
                "org_unit_id": org_unit_id,
                "supervisor_id": supervisor_id,
            },
        )
        with self.db.unit_of_work() as uow:
            user = commands.create_user(uow, actor.id, **args)
            return uow.answer(schemas.dump_user(user))

    @rpc
    def import_org(self, units: list | None = None, users: list | None = None) -> dict:
        """Level 9: units and users in bulk (demo data, migration), by the caller's keys, in
        one transaction; each user as ``create_user`` makes it (rules, audit, event)."""
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(schemas.ImportOrgArgs, {"units": units or [], "users": users or []})
        with self.db.unit_of_work() as uow:
            return commands.import_org(uow, actor.id, args["units"], args["users"])

    @rpc
    @command
    def update_user(self, user_id: str | None = None, changes: dict | None = None) -> dict:
        """Level 9. ``changes`` ⊆ {supervisor_id, org_unit_id, level, active}; audited.

        A move emits ``user_moved`` for the user and every descendant whose path changed.
        ``active: false`` passes the user's direct reports (with their subtrees) to the user's
        supervisor (``user_moved`` each), then emits ``user_deactivated`` — all in one
        transaction. A user without a supervisor cannot be deactivated (ValidationFailed).
        """
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(schemas.UpdateUserArgs, {"user_id": user_id, "changes": changes})
        with self.db.unit_of_work() as uow:
            user = commands.update_user(uow, actor.id, args["user_id"], args["changes"])
            return uow.answer(schemas.dump_user(user))

    @rpc
    def get_user(self, user_id: str | None = None) -> dict:
        """Any user: oneself, subordinates from level 4, everyone for level 9; else NotFound."""
        actor = require_actor(self.actor)
        with self.db.read() as session:
            return queries.get_user(session, actor, user_id)

    @rpc
    def list_users(
        self, org_unit_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict:
        """Any user: the users they may see, in pinyin order of name."""
        actor = require_actor(self.actor)
        args = schemas.load(
            schemas.ListUsersArgs, {"org_unit_id": org_unit_id, "limit": limit, "cursor": cursor}
        )
        with self.db.read() as session:
            return queries.list_users(session, actor, **args)

    # --- the audit log -----------------------------------------------------------------

    @rpc
    def list_audit(
        self,
        user_id: str | None = None,
        action: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict:
        """Level 9. Audit entries, newest first, by or about ``user_id`` and of ``action``."""
        actor = require_actor(self.actor)
        actor.require_level(ADMIN_LEVEL)
        args = schemas.load(
            schemas.ListAuditArgs,
            {"user_id": user_id, "action": action, "limit": limit, "cursor": cursor},
        )
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
