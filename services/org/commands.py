"""The write side of org: each function does one business step inside a caller's unit of work.

Entrypoints open the unit of work and hand it here, so the change, its audit entry and its
events (outbox) commit together or not at all.
"""

from __future__ import annotations

import logging
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock
from common.db import UnitOfWork, is_unique_violation
from common.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from services.org import domain
from services.org.models import AuditEntry, OrgUnit, User
from services.org.schemas import dump_user, user_created_payload, user_moved_payload

log = logging.getLogger(__name__)

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
# verified against when the login is unknown, so both failures take the same time
DUMMY_HASH = _hasher.hash("bpc-no-such-user")

LOGIN_TAKEN = "login_taken"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Hashed with parameters weaker than today's (hashed again at the next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def record_audit(
    session: Session,
    *,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    details: dict[str, Any] | None = None,
    at=None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at or clock.now(),
        actor_id=None if actor_id is None else str(actor_id),
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
    )
    session.add(entry)
    return entry


def _lock_tree(session: Session) -> None:
    """Serialise changes of the supervisor tree (a cycle could slip between two moves)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('bpc-org-tree'))"))


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details={field: [message]})


def _existing_unit(session: Session, field: str, unit_id: int | None) -> OrgUnit | None:
    if unit_id is None:
        return None
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise _invalid(field, "组织单元不存在 / Unknown org unit")
    return unit


def _existing_supervisor(session: Session, supervisor_id: int | None) -> User | None:
    if supervisor_id is None:
        return None
    supervisor = session.get(User, supervisor_id)
    if supervisor is None:
        raise _invalid("supervisor_id", "上级用户不存在 / Unknown supervisor")
    return supervisor


def _placement(user: User | None) -> domain.Placement | None:
    if user is None:
        return None
    return domain.Placement(id=user.id, level=user.level, path=user.path, active=user.active)


# --- login -------------------------------------------------------------------------------


# --- units -------------------------------------------------------------------------------


def create_unit(uow: UnitOfWork, actor_id: str, name: str, parent_id: int | None) -> OrgUnit:
    session = uow.session
    _existing_unit(session, "parent_id", parent_id)
    unit = OrgUnit(name=name.strip(), parent_id=parent_id, created_at=clock.now())
    session.add(unit)
    session.flush()
    record_audit(
        session,
        actor_id=actor_id,
        action="unit_created",
        target_type="org_unit",
        target_id=unit.id,
        details={"name": unit.name, "parent_id": None if parent_id is None else str(parent_id)},
    )
    return unit


# --- users -------------------------------------------------------------------------------


def create_user(
    uow: UnitOfWork,
    actor_id: str | None,
    *,
    login: str,
    password: str,
    name: str,
    level: int,
    org_unit_id: int | None,
    supervisor_id: int | None,
    bootstrap: bool = False,
    password_hash: str | None = None,
) -> User:
    """A new user under ``supervisor_id``; emits ``user_created``.

    ``bootstrap`` creates the first administrator, the one user nobody else could create.
    """
    session = uow.session
    _lock_tree(session)
    _existing_unit(session, "org_unit_id", org_unit_id)
    supervisor = _existing_supervisor(session, supervisor_id)
    errors = domain.placement_errors(
        user_id=None, level=level, supervisor=_placement(supervisor), bootstrap=bootstrap
    )
    if errors:
        raise ValidationFailed(details=errors)
    if session.scalars(select(User.id).where(User.login == login)).first() is not None:
        raise _login_taken(login)
    user = User(
        login=login,
        name=name.strip(),
        sort_key=domain.name_sort_key(name.strip()),
        level=level,
        org_unit_id=org_unit_id,
        supervisor_id=supervisor_id,
        active=True,
        password_hash=password_hash or hash_password(password),
        path="/",
        created_at=clock.now(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise _login_taken(login) from exc
        raise
    user.path = domain.compute_path(supervisor.path if supervisor else None, user.id)
    session.flush()
    uow.publish("user_created", user_created_payload(user))
    record_audit(
        session,
        actor_id=actor_id if actor_id is not None else user.id,
        action="user_created",
        target_type="user",
        target_id=user.id,
        details={k: v for k, v in dump_user(user).items() if k != "id"},
    )
    return user


def _login_taken(login: str) -> Conflict:
    return Conflict(
        "登录名已被占用 / This login is already taken", {"login": login}, code=LOGIN_TAKEN
    )


def get_user_for_update(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在 / No such user", {"user_id": str(user_id)})
    return user


def _move_subtree(session: Session, root: User, new_path: str, moved: dict[int, tuple]) -> None:
    """Give ``root`` a new path and rebase every descendant's path onto it."""
    old_prefix = root.path
    if new_path == old_prefix:
        return
    descendants = session.scalars(
        select(User).where(User.path.startswith(old_prefix), User.id != root.id)
    ).all()
    for user in [root, *descendants]:
        old = user.path
        user.path = domain.rebase_path(old, old_prefix, new_path)
        # keep the path from before this unit of work when a user moves twice in it
        moved.setdefault(user.id, (user, old))


def update_user(uow: UnitOfWork, actor_id: str, user_id: int, changes: dict[str, Any]) -> User:
    """Move, re-level, deactivate or reactivate a user (see ``OrgService.update_user``)."""
    session = uow.session
    _lock_tree(session)
    user = get_user_for_update(session, user_id)
    moved: dict[int, tuple[User, str]] = {}
    placement_changes = {
        key: changes[key]
        for key in ("supervisor_id", "org_unit_id", "level")
        if key in changes and changes[key] != getattr(user, key)
    }
    reactivating = changes.get("active") is True and not user.active
    deactivating = changes.get("active") is False and user.active
    if placement_changes and not user.active and not reactivating:
        raise _invalid("active", "用户已停用，不能调整 / The user is inactive and cannot be moved")
    if reactivating:
        _reactivate(session, actor_id, user)
    if placement_changes:
        _place(session, actor_id, user, placement_changes, moved)
        if user.id not in moved:
            moved[user.id] = (user, user.path)  # level or unit changed: the path did not
    if deactivating:
        _deactivate(uow, actor_id, user, moved)
        return user
    if reactivating and user.id not in moved:
        moved[user.id] = (user, user.path)  # projections learn the user is back
    _publish_moves(uow, moved)
    return user


def _reactivate(session: Session, actor_id: str, user: User) -> None:
    supervisor = _existing_supervisor(session, user.supervisor_id)
    if supervisor is not None and not supervisor.active:
        raise _invalid(
            "supervisor_id",
            "原上级已停用，请同时指定新上级 / The former supervisor is inactive: give a new one",
        )
    user.active = True
    record_audit(
        session, actor_id=actor_id, action="user_reactivated", target_type="user", target_id=user.id
    )


def _place(
    session: Session,
    actor_id: str,
    user: User,
    changes: dict[str, Any],
    moved: dict[int, tuple],
) -> None:
    if "org_unit_id" in changes:
        _existing_unit(session, "org_unit_id", changes["org_unit_id"])
    supervisor_id = changes.get("supervisor_id", user.supervisor_id)
    supervisor = _existing_supervisor(session, supervisor_id)
    level = changes.get("level", user.level)
    report_levels = session.scalars(
        select(User.level).where(User.supervisor_id == user.id, User.active.is_(True))
    ).all()
    errors = domain.placement_errors(
        user_id=user.id,
        level=level,
        supervisor=_placement(supervisor),
        report_levels=list(report_levels),
    )
    if errors:
        raise ValidationFailed(details=errors)
    before = {key: getattr(user, key) for key in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    _move_subtree(
        session, user, domain.compute_path(supervisor.path if supervisor else None, user.id), moved
    )
    session.flush()
    record_audit(
        session,
        actor_id=actor_id,
        action="user_updated",
        target_type="user",
        target_id=user.id,
        details={
            "changes": {
                key: {"from": _wire(before[key], key), "to": _wire(value, key)}
                for key, value in changes.items()
            }
        },
    )


def _wire(value: Any, key: str) -> Any:
    return None if value is None else (str(value) if key.endswith("_id") else value)


def _deactivate(uow: UnitOfWork, actor_id: str, user: User, moved: dict[int, tuple]) -> None:
    """The user leaves; their reports (with their subtrees) pass to the user's supervisor."""
    session = uow.session
    problems = domain.may_be_deactivated(user.supervisor_id)
    if problems:
        raise ValidationFailed(details={"active": problems})
    supervisor = _existing_supervisor(session, user.supervisor_id)
    reports = session.scalars(
        select(User).where(User.supervisor_id == user.id).order_by(User.id)
    ).all()
    for report in reports:
        report.supervisor_id = supervisor.id
        _move_subtree(session, report, domain.compute_path(supervisor.path, report.id), moved)
    user.active = False
    session.flush()
    _publish_moves(uow, moved)
    uow.publish(
        "user_deactivated",
        {
            "user_id": str(user.id),
            "supervisor_id": str(supervisor.id),
            "supervisor_path": domain.path_ids(supervisor.path),
            "path": domain.path_ids(user.path),
        },
    )
    record_audit(
        session,
        actor_id=actor_id,
        action="user_deactivated",
        target_type="user",
        target_id=user.id,
        details={
            "supervisor_id": str(supervisor.id),
            "reports_moved": [str(report.id) for report in reports],
        },
    )


def _publish_moves(uow: UnitOfWork, moved: dict[int, tuple[User, str]]) -> None:
    # top of the tree first, so a consumer never sees a child under an unknown parent path
    for user, old_path in sorted(moved.values(), key=lambda pair: len(pair[0].path)):
        uow.publish("user_moved", user_moved_payload(user, old_path))


# --- first start -------------------------------------------------------------------------

ADMIN_LOGIN = "admin"
ADMIN_NAME = "管理员 Administrator"
HEAD_OFFICE = "集团总部 Head office"


def admin_exists(session: Session) -> bool:
    return session.scalars(select(User.id).where(User.login == ADMIN_LOGIN)).first() is not None


def create_first_admin(uow: UnitOfWork, password: str) -> User:
    """The head office and its administrator: the one user nobody else could create."""
    session = uow.session
    unit = OrgUnit(name=HEAD_OFFICE, parent_id=None, created_at=clock.now())
    session.add(unit)
    session.flush()
    record_audit(
        session,
        actor_id="system",
        action="unit_created",
        target_type="org_unit",
        target_id=unit.id,
        details={"name": unit.name, "parent_id": None},
    )
    return create_user(
        uow,
        "system",
        login=ADMIN_LOGIN,
        password=password,
        name=ADMIN_NAME,
        level=domain.TOP_LEVEL,
        org_unit_id=unit.id,
        supervisor_id=None,
        bootstrap=True,
    )


def unauthenticated_login() -> Unauthenticated:
    return Unauthenticated("登录名或密码错误 / Wrong login or password")


# --- bulk import (demo data, migration from another system) --------------------------------


def import_org(uow: UnitOfWork, actor_id: str, units: list[dict], users: list[dict]) -> dict:
    """Units (each under an earlier one or an existing unit) then users (each under an earlier
    one or an existing user), by the caller's keys, in one transaction, with every rule of a
    single creation and one ``user_created`` each. A password is hashed once however many
    users share it. → ``{"units": {key: id}, "users": {key: id}}``."""
    unit_ids: dict[str, int] = {}
    for item in units:
        parent = item.get("parent_key")
        parent_id = unit_ids[parent] if parent in unit_ids else item.get("parent_id")
        unit_ids[item["key"]] = create_unit(uow, actor_id, item["name"], parent_id).id
    hashes: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    for item in users:
        password = item["password"]
        if password not in hashes:
            hashes[password] = hash_password(password)
        unit = item.get("unit_key")
        supervisor = item.get("supervisor_key")
        user = create_user(
            uow,
            actor_id,
            login=item["login"],
            password=password,
            password_hash=hashes[password],
            name=item["name"],
            level=item["level"],
            org_unit_id=unit_ids[unit] if unit in unit_ids else item.get("org_unit_id"),
            supervisor_id=(
                user_ids[supervisor] if supervisor in user_ids else item.get("supervisor_id")
            ),
        )
        user_ids[item["key"]] = user.id
    return {
        "units": {k: str(v) for k, v in unit_ids.items()},
        "users": {k: str(v) for k, v in user_ids.items()},
    }
