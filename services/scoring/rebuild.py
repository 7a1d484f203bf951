"""Running a rebuild: in the service (background, ``rebuild`` RPC) or from the CLI
(``bpc rebuild-scoring``, with progress), both through ``handlers.Rebuild``."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from common import config
from common.actor import SYSTEM

log = logging.getLogger(__name__)
_job = {"current": None}
PAGE_TIMEOUT = 60.0


def current():
    return _job["current"]


def start(job):
    _job["current"] = job
    return job


def run(job) -> None:
    try:
        job.run()
    except Exception:  # noqa: BLE001 - reported in the status, the service stays up
        log.exception("scoring rebuild failed")
        job.status["state"] = "failed"


def fetch_over_rpc(service: str, method: str, after_id: int, limit: int) -> dict:
    """One page of another service's export, as the system (level 9), bounded in time."""
    from nameko.standalone.rpc import ClusterRpcProxy

    context = {"bpc_actor": SYSTEM.to_header()}
    with ClusterRpcProxy(
        config.nameko_config(), context_data=context, timeout=PAGE_TIMEOUT
    ) as proxy:
        return getattr(getattr(proxy, service), method)(after_id=after_id, limit=limit)


class SessionDb:
    """The unit-of-work interface ``handlers.Rebuild`` needs, on a bare engine (the CLI)."""

    def __init__(self, engine):
        from sqlalchemy.orm import sessionmaker

        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self):
        session = self._sessions()

        class _Uow:
            pass

        uow = _Uow()
        uow.session = session
        try:
            yield uow
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
