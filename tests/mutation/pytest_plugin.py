"""A pytest plugin for mutation runs only: ``[tool.mutmut] pytest_add_cli_args`` loads it.

mutmut learns which tests reach which function from one "stats" run of the whole
selection: each mutated function is a trampoline that records the test it is called
from. The engine's functions are called only while JAX traces them, and JAX keeps every
trace (``jax.jit``, ``lax.switch`` and ``lax.scan`` branches) as ``explorer.train`` keeps
its compiled engines (``functools.lru_cache``), so in one process only the first test
of a model would be recorded: the tests after it reuse the compiled code, and a mutant
would later run against a fraction of the tests that can kill it.

So in the stats run (and only there) every cache is emptied before each test: every
test traces what it uses, and its measured time includes the compiling that each mutant's
fresh process pays too (mutmut sets each mutant's time limit from it).

Also in the stats run only, ``MUTANT_UNDER_TEST`` leaves the environment (mutmut keeps a
copy of its own for this process): a process a test starts, such as ``python -m
explorer`` in a temporary folder, would otherwise record stats too and fail there,
finding no ``[tool.mutmut]`` settings. Its stats would be lost anyway: mutmut sees only
the calls made in its own process.
"""

from __future__ import annotations

import os
import sys

import pytest


def _clear_caches() -> None:
    import jax

    jax.clear_caches()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "explorer" or name.startswith("explorer.")):
            continue
        for value in list(vars(module).values()):
            cache_clear = getattr(value, "cache_clear", None)
            if callable(cache_clear):
                cache_clear()


def _in_stats_run() -> bool:
    from mutmut.mutation.trampoline import get_mutant_under_test

    return get_mutant_under_test() == "stats"


def pytest_configure(config):
    if _in_stats_run():
        os.environ.pop("MUTANT_UNDER_TEST", None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _in_stats_run():
        _clear_caches()
