"""The README's two commands are the ones CI runs and the ones that work."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> list[str]:
    return re.findall(r"^python3 -m venv \.venv && .+$", text, flags=re.MULTILINE)


def test_ci_runs_the_readme_test_command_verbatim():
    readme = _commands((ROOT / "README.md").read_text())
    ci = _commands((ROOT / ".ci" / "run").read_text())
    assert len(readme) == 2, readme  # run the app, run the tests
    assert ci == [readme[1]]
    assert readme[1].endswith("python -m pytest") and "requirements-dev.txt" in readme[1]
    assert readme[0].endswith("streamlit run streamlit_app.py") and "requirements.txt" in readme[0]
