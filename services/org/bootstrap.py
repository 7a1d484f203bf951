"""First start: the head office and the administrator, created once.

Runs in ``start()``: nameko sets up every extension (the database migrates in its
``setup()``) before it starts any, so the tables exist by then. Two org processes may start
at once: the unique login decides which one creates the administrator; the other rolls back.

Nameko starts the RPC entrypoints alongside, so a request may arrive before the administrator
exists: ``health`` and ``login`` wait for the first start (``FirstStart.wait``) — a BPC that
says it is up lets the administrator sign in.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading

from nameko.extensions import DependencyProvider

from common.db import Database, Db
from common.errors import Conflict, ServiceUnavailable
from services.org import commands

log = logging.getLogger(__name__)

PASSWORD_ENV = "BPC_ADMIN_PASSWORD"


class FirstStart:
    """What a worker sees of the first start: ``wait()`` until it is done."""

    def __init__(self, done: threading.Event):
        self.done = done

    def wait(self, timeout: float = 30.0) -> None:
        if not self.done.wait(timeout):
            raise ServiceUnavailable("组织服务正在启动 / The org service is starting")


class AdminBootstrap(DependencyProvider):
    """Creates user ``admin`` (level 9) in "集团总部 Head office" if it does not exist."""

    def setup(self) -> None:
        self.done = threading.Event()  # (green under eventlet's monkey patch)

    def start(self) -> None:
        provider = next(dep for dep in self.container.dependencies if isinstance(dep, Database))
        ensure_admin(Db(provider))
        self.done.set()

    def get_dependency(self, worker_ctx) -> FirstStart:
        return FirstStart(self.done)


def ensure_admin(db: Db) -> bool:
    """Create the administrator unless one exists; True if this call created it."""
    with db.read() as session:
        if commands.admin_exists(session):
            log.info("administrator already exists")
            return False
    given = os.environ.get(PASSWORD_ENV)
    password = given or secrets.token_urlsafe(12)
    try:
        with db.unit_of_work() as uow:
            if commands.admin_exists(uow.session):
                return False
            admin = commands.create_first_admin(uow, password)
    except Conflict:
        log.info("administrator created by another org instance")
        return False
    if given:
        log.info("administrator %r created (id %s) with BPC_ADMIN_PASSWORD", admin.login, admin.id)
    else:
        log.warning("BPC 管理员初始密码 / initial admin password: %s", password)
    return True
