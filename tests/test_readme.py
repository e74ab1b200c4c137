"""The README's two commands are the ones CI runs and the ones that work, and its examples
(the ``>>>`` doctests and the ``$ python -m explorer`` sessions) print what it says."""

from __future__ import annotations

import doctest
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

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


# ----------------------------------------------------------------------------- examples


def fenced_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """(line number of the first line, body) of every ```language block."""
    blocks = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL):
        blocks.append((text.count("\n", 0, match.start(1)) + 1, match[1]))
    return blocks


def console_examples(blocks: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """(command, expected output) for every ``$ command`` line of the console blocks."""
    examples = []
    for _, body in blocks:
        for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            examples.append((command, output))
    return examples


README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = fenced_blocks(README, "python")
CONSOLE_EXAMPLES = console_examples(fenced_blocks(README, "console"))


def test_the_readme_has_the_examples_these_tests_run():
    # Guards the parsing below: examples it failed to find would pass unseen.
    assert PYTHON_BLOCKS and all(">>> " in body for _, body in PYTHON_BLOCKS)
    assert [command.split()[:4] for command, _ in CONSOLE_EXAMPLES] == [
        ["python", "-m", "explorer", "fit"],
        ["python", "-m", "explorer", "compare"],
        ["python", "-m", "explorer", "fit"],
        ["python", "-m", "explorer", "compare"],
        ["python", "-m", "explorer", "sweep"],
        ["python", "-m", "explorer", "lr-find"],
        ["python", "-m", "explorer", "landscape"],
    ]
    assert all(output.count("\n") >= 3 for _, output in CONSOLE_EXAMPLES)


@pytest.mark.parametrize(
    ("line", "body"), PYTHON_BLOCKS, ids=[f"line {n}" for n, _ in PYTHON_BLOCKS]
)
def test_readme_python_examples(line, body):
    # Each ```python block is a doctest; its closing fence is not part of the last output.
    test = doctest.DocTestParser().get_doctest(body, {}, "README.md", "README.md", line - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    result = runner.run(test, out=report.write)
    assert result.attempted > 0
    assert result.failed == 0, report.getvalue()


@pytest.mark.parametrize(
    ("command", "expected"), CONSOLE_EXAMPLES, ids=[c for c, _ in CONSOLE_EXAMPLES]
)
def test_readme_console_examples(command, expected):
    # The command as written, with this interpreter for "python"; the output exactly.
    argv = shlex.split(command)
    assert argv[0] == "python"
    done = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


# ----------------------------------------------------------------------------- layout


def test_the_layout_table_names_every_file_of_the_project():
    """Every source file under the project's folders is named in the README's "What is
    where" section (by its name), so a newcomer finds each one there."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    files = [
        p
        for folder in ("explorer", "webapp", "benchmarks", "tests")
        for p in sorted((ROOT / folder).glob("*"))
        if p.suffix in {".py", ".js", ".css"} and p.name != "__init__.py"
    ]
    files += [ROOT / ".ci" / "run", ROOT / ".streamlit" / "config.toml", ROOT / "streamlit_app.py"]
    missing = [str(p.relative_to(ROOT)) for p in files if p.name not in section]
    assert missing == [], f"not in the README's layout table: {missing}"
