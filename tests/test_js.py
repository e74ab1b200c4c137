"""The browser player's JavaScript: ESLint clean, and its formatting tested under Node.

Node and npm come with the machine image; the linter is installed from package-lock.json
into node_modules/ the first time (``npm ci``). Without Node the tests skip, saying why,
unless REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def node_tools() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        reason = "Node.js and npm are needed for the player's JavaScript tests"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    eslint = ROOT / "node_modules" / ".bin" / "eslint"
    if not eslint.exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=ROOT,
            check=True,
            timeout=300,
        )
    return eslint


def test_player_javascript_is_lint_clean(node_tools):
    out = subprocess.run(
        [str(node_tools), "webapp/player.js", "tests/js"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_player_number_formatting_under_node(node_tools):
    out = subprocess.run(
        ["node", "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# fail 0" in out.stdout and "# pass 4" in out.stdout
