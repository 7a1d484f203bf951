"""The "ceiling" for the gateway benchmark: a bare Nameko service with one HTTP entrypoint
that returns a constant — what one Nameko HTTP process can serve with no RPC, no database.

    python tests/bench/ceiling_service.py 127.0.0.1:8499
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
import eventlet  # noqa: E402

eventlet.monkey_patch()  # noqa: E402 - before anything else imports socket/threading

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402
from nameko.web.handlers import http  # noqa: E402

BODY = '{"status": "ok"}'


class CeilingService:
    name = "bench_ceiling"

    @http("GET", "/ceiling")
    def ceiling(self, request):
        """Anyone: a constant JSON body."""
        return 200, {"Content-Type": "application/json"}, BODY


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: ceiling_service.py HOST:PORT")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING)
    run(
        [CeilingService],
        {
            # an HTTP-only service never connects, but nameko's config wants a broker URI
            "AMQP_URI": os.environ.get("BPC_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
            "WEB_SERVER_ADDRESS": sys.argv[1],
            "max_workers": int(os.environ.get("BPC_MAX_WORKERS", "20")),
        },
    )


if __name__ == "__main__":
    main()
