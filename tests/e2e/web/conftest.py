"""The web workbench in a real browser: Playwright drives Debian's Chromium (headless, installed
by ``./bpc test``) against BPC started by the README's run command on SQLite, filled with the
small demo (``bpc demo --small``), once for every test of this package.

Screenshots of each screen at desktop and phone width (375 px) are written to
``var/screenshots/``. ``BPC_TEST_WEB_DIR`` serves another build of the web app than ``web/dist``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, Api, Environment, bpc_running

PASSWORD = "Demo-2026!"


@pytest.fixture(scope="package")
def bpc(tmp_path_factory):
    web = Path(os.environ.get("BPC_TEST_WEB_DIR") or ROOT / "web" / "dist")
    if not (web / "index.html").is_file():
        pytest.fail(f"{web} is not built: run the tests with ./bpc test (it builds the web app)")
    env = Environment.create(tmp_path_factory.mktemp("bpc-web"), "sqlite", BPC_WEB_DIR=str(web))
    with bpc_running(env) as running:
        environ = {**env.vars(), "BPC_ADMIN_PASSWORD": env.admin_password}
        demo = subprocess.run(
            [sys.executable, "-m", "ops.cli", "demo", "--small"],
            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        yield running


def pytest_collection_modifyitems(items):
    """A test marked ``ends_package_bpc`` (it restarts the package's BPC with its clock moved
    forward) runs after every other test of this package."""
    package = [i for i in items if "/e2e/web/" in str(i.path)]
    late = [i for i in package if i.get_closest_marker("ends_package_bpc")]
    if not late or not package:
        return
    for item in late:
        items.remove(item)
    after = items.index([i for i in package if i not in late][-1]) + 1
    items[after:after] = late


@pytest.fixture(scope="package")
def admin(bpc):
    return Api(bpc.env.base_url).login("admin", bpc.env.admin_password)
