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
    finally:
        close_proxies()


_proxies: dict = {}


def fetch_over_rpc(service: str, method: str, after_id: int, limit: int, **options) -> dict:
    """One page of another service's export, as the system (level 9), bounded in time. One
    RPC proxy (a connection and a reply queue) serves every page of a rebuild."""
    from nameko.standalone.rpc import ClusterRpcProxy

    proxy = _proxies.get("proxy")
    if proxy is None:
        context = {"bpc_actor": SYSTEM.to_header()}
        runner = ClusterRpcProxy(config.nameko_config(), context_data=context, timeout=PAGE_TIMEOUT)
        proxy = _proxies["proxy"] = runner.start()
        _proxies["runner"] = runner
    try:
        return getattr(getattr(proxy, service), method)(after_id=after_id, limit=limit, **options)
    except BaseException:
        close_proxies()  # a broken connection is not reused
        raise


def close_proxies() -> None:
    runner = _proxies.pop("runner", None)
    _proxies.pop("proxy", None)
    if runner is not None:
        try:
            runner.stop()
        except Exception:  # noqa: BLE001 - closing a broken connection
            log.debug("closing the rebuild's RPC proxy failed", exc_info=True)


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
