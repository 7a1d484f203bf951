"""Runs one BPC service (or the gateway) as its own process: ``python -m ops.runner org``."""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()  # noqa: E402 - must precede every other import

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402

from common import config  # noqa: E402
from common.metrics import serve_metrics  # noqa: E402


class _ClientErrorsAreNotFailures(logging.Filter):
    """nameko logs every exception an entrypoint raises with a traceback; a refusal such as
    a wrong password or a duplicate customer is an answer, not a failure of the service."""

    def filter(self, record: logging.LogRecord) -> bool:
        from common.errors import BpcError

        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, BpcError) and exc.status < 500)


def _fast_signature_checks() -> None:
    """nameko checks every call's arguments with ``inspect.getcallargs``, which rebuilds the
    method's signature each time (about 2% of a busy service's CPU). The same check, with the
    signature built once per entrypoint."""
    import inspect

    from nameko.exceptions import IncorrectSignature
    from nameko.extensions import Entrypoint

    def check_signature(self, args, kwargs):
        signature = self.__dict__.get("_bpc_signature")
        if signature is None:
            fn = getattr(self.container.service_cls, self.method_name)
            signature = self.__dict__["_bpc_signature"] = inspect.signature(fn)
        try:
            signature.bind(None, *args, **kwargs)  # None: the unbound method's ``self``
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None

    Entrypoint.check_signature = check_signature


def load_class(name: str):
    if name == "gateway":
        from gateway.service import GatewayService

        return GatewayService
    from common.topology import service_class

    return service_class(name)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m ops.runner <service|gateway>")
    name = argv[0]
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(
        level=os.environ.get("BPC_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {os.environ.get('BPC_INSTANCE_LABEL') or name} %(levelname)s "
        "%(name)s: %(message)s",
    )
    logging.getLogger("nameko").setLevel(logging.WARNING)
    logging.getLogger("nameko.containers").addFilter(_ClientErrorsAreNotFailures())
    logging.getLogger("kombu").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor stops us with SIGTERM
    _fast_signature_checks()
    cls = load_class(name)
    nameko_config = config.nameko_config()
    if name == "gateway":
        host, port = config.gateway_address()
        nameko_config["WEB_SERVER_ADDRESS"] = f"{host}:{port}"
    serve_metrics(config.metrics_port(name))
    profile_dir = os.environ.get("BPC_PROFILE_DIR")
    if not profile_dir:
        run([cls], nameko_config)
        return
    # Diagnostics: CPU time per function (cProfile on process time, so waiting costs nothing),
    # written to <dir>/<service>.pstats when the service stops.
    import cProfile
    import time

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        run([cls], nameko_config)
    finally:
        profiler.disable()
        os.makedirs(profile_dir, exist_ok=True)
        profiler.dump_stats(os.path.join(profile_dir, f"{name}.pstats"))


if __name__ == "__main__":
    main()
