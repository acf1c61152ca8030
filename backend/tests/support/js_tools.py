"""The JavaScript tools the source-map tests run for real: sentry-cli (npm @sentry/cli, whose binary
comes in its platform package) and Node, which throws the fixture bundle's error.

The one place that installs npm packages for the suite: `npm install` into a cache directory outside
the repository (JS_TOOLS_DIR, else faultline-js-tools-<version> under the temp dir), once per machine
and version. A machine without npm skips the tests that need it, saying why.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SENTRY_CLI_VERSION = "3.8.0"
PACKAGES = (f"@sentry/cli@{SENTRY_CLI_VERSION}",)


def tools_dir() -> Path:
    default = Path(tempfile.gettempdir()) / f"faultline-js-tools-{SENTRY_CLI_VERSION}"
    return Path(os.environ.get("JS_TOOLS_DIR") or default)


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed (apt-get install nodejs npm)")
    return found


def sentry_cli() -> Path:
    """The sentry-cli binary, installed from npm on first use."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (apt-get install nodejs npm): sentry-cli comes from npm")
    folder = tools_dir()
    binary = folder / "node_modules" / ".bin" / "sentry-cli"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # two runs at once install once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            (folder / "package.json").write_text('{"name": "faultline-js-tools", "private": true}\n')
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
                cwd=folder,
                check=True,
                timeout=300,
            )
    return binary
