"""The requirements files pin every package, so that a fresh machine gets what was tested."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)$")


def requirement_lines(name: str) -> list[str]:
    """The requirement lines of ``name``, without comments, blank lines or ``-r`` includes."""
    lines = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r "):
            lines.append(line)
    return lines


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in requirement_lines(name):
        match = PIN.match(line)
        assert match, f"{name}: {line!r} is not pinned as NAME==VERSION"
        found[match[1].lower()] = match[2]
    return found


def test_the_dev_requirements_include_the_app_requirements():
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(name):
    assert pins(name)


def test_the_dev_tools_are_there_with_their_versions():
    # The profiler the benchmarks use, and mutation testing.
    dev = pins("requirements-dev.txt")
    assert dev["pyinstrument"] == "5.1.3"
    assert dev["mutmut"] == "3.8.1"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_the_environment_has_the_pinned_versions(name):
    # The suite runs against what the files pin (the README's command installs them).
    for package, pinned in pins(name).items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            pytest.fail(f"{package}=={pinned} ({name}) is not installed")
        assert installed == pinned, f"{package}: {installed} installed, {name} pins {pinned}"
