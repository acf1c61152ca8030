"""The npm tools the suite runs, from backend/tests/js (pinned by its package-lock.json): node, the
real sentry-cli and esbuild binaries, and a build of the small TypeScript app in tests/js/app.

`make test` installs them (`npm ci`, when node_modules is missing or the lock changed). Run alone,
a test that needs them fails with the command to run rather than skip.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

JS_DIR = Path(__file__).resolve().parents[1] / "js"
APP_DIR = JS_DIR / "app"
BIN_DIR = JS_DIR / "node_modules" / ".bin"
INSTALL_HINT = "run `make js` in the repository root (npm ci in backend/tests/js)"


def _tool(name: str) -> Path:
    path = BIN_DIR / name
    node()
    assert path.exists(), f"{path} is missing: {INSTALL_HINT}"
    return path


def node() -> str:
    """The node binary (the source-map tests run a bundle's error in it too)."""
    found = shutil.which("node")
    assert found, f"node is missing: install Node.js 18+ with npm, then {INSTALL_HINT}"
    return found


def sentry_cli() -> Path:
    """The real sentry-cli (npm @sentry/cli; its binary comes from the platform's optional package)."""
    return _tool("sentry-cli")


def esbuild() -> Path:
    """The esbuild binary."""
    return _tool("esbuild")


def run_sentry_cli(
    *args: str, url: str | None = None, token: str | None = None, cwd: Path | None = None
) -> str:
    """Run `sentry-cli [--url URL --auth-token TOKEN] ARGS…` as a user's pipeline does; its output.

    A failure raises with what sentry-cli printed. No config file or environment of this machine
    leaks in: SENTRY_* variables are dropped and the home directory is the build's.
    """
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd or JS_DIR),
        "SENTRY_LOAD_DOTENV": "0",
        "SENTRY_DISABLE_UPDATE_CHECK": "1",
    }
    server = [*(["--url", url] if url else []), *(["--auth-token", token] if token else [])]
    done = subprocess.run(
        [str(sentry_cli()), *server, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"sentry-cli {' '.join(args)} failed ({done.returncode}):\n{output}"
    return output


@dataclass(frozen=True)
class AppBuild:
    """One build of tests/js/app: its sources (the .ts files as built) and its output directory."""

    src: Path
    dist: Path

    @property
    def bundle(self) -> Path:
        return self.dist / "assets" / "app.js"

    def source_line(self, file: str, marker: str) -> tuple[int, str]:
        """The 1-based number and text of the first line of src/FILE holding MARKER."""
        for number, line in enumerate((self.src / file).read_text().splitlines(), start=1):
            if marker in line:
                return number, line
        raise AssertionError(f"{marker!r} not in {file}")


def build_app(out: Path, *, extra_lines: int = 0) -> AppBuild:
    """Bundle, minify and source-map tests/js/app into OUT (dist/index.html, dist/assets/app.js(.map)).

    `extra_lines` (at least 5) > 0 makes another build of the same bug: that many lines of other code
    (a helper function, its use and comments) are put before the failing function in cart.ts, so the
    minified and the original positions both move.
    """
    src = out / "src"
    shutil.copytree(APP_DIR / "src", src)
    if extra_lines:
        cart = src / "cart.ts"
        # Comments vanish in the minified bundle; the helper and its use (a side effect the bundler
        # keeps) move the failing code's minified column too.
        filler = [
            "// Added in a later build: a discount helper, to move everything below it.",
            *(f"// note {i}: discounts are applied before shipping" for i in range(extra_lines - 5)),
            "export function discount(total: number, percent: number): number {",
            "  return Math.round(total * (100 - percent)) / 100;",
            "}",
            "(globalThis as { discounts?: number[] }).discounts = [5, 10].map((p) => discount(100, p));",
        ]
        marker = "// @build-b-inserts-here\n"
        cart.write_text(cart.read_text().replace(marker, marker + "\n".join(filler) + "\n"))
    dist = out / "dist"
    (dist / "assets").mkdir(parents=True)
    shutil.copy(APP_DIR / "index.html", dist / "index.html")
    flags = [
        "--bundle",
        "--minify",
        "--sourcemap",
        "--sources-content=true",
        "--format=iife",
        "--target=es2020",
    ]
    done = subprocess.run(
        [str(esbuild()), str(src / "main.ts"), *flags, f"--outfile={dist / 'assets' / 'app.js'}"],
        cwd=JS_DIR,
        # The sources are copied out of the repository: imports of npm packages resolve to ours.
        env={"PATH": "/usr/bin:/bin", "NODE_PATH": str(JS_DIR / "node_modules")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"esbuild failed:\n{done.stderr}"
    return AppBuild(src=src, dist=dist)
