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

In every other run (the clean run, then each mutant's process) JAX's persistent
compilation cache is on, in ``mutants/jax-cache``, shared by the processes: its key is
the compiled program (the HLO and XLA's options), so a mutant that changes the traced
maths compiles afresh, and one that changes only Python around it (settings, checks,
the history's bookkeeping) loads what the clean run compiled. The processes the tests
start keep the suite's own cache folder (``tests/conftest.py``).

Slow tests that repeat, on more data or settings, what faster tests check are left out
of every mutation run (``LEFT_OUT``), and a test module that no longer imports under a
mutant counts as a collection error, a kill (``pytest_collectreport``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# JAX's persistent compilation cache shared by every mutant's process (and the clean run
# before them), in mutmut's copy of the project: see _share_compiled_code.
CACHE = Path(__file__).resolve().parents[2] / "jax-cache"


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


def _mutant_under_test() -> str:
    from mutmut.mutation.trampoline import get_mutant_under_test

    return get_mutant_under_test() or ""


def _in_stats_run() -> bool:
    return _mutant_under_test() == "stats"


def _in_mutant_run() -> bool:
    return "__mutmut_" in _mutant_under_test()


def _share_compiled_code() -> None:
    import jax

    jax.config.update("jax_compilation_cache_dir", str(CACHE))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_configure(config):
    if _in_stats_run():
        os.environ.pop("MUTANT_UNDER_TEST", None)
    else:
        _share_compiled_code()


def pytest_collectreport(report):
    # A test module that cannot be imported under a mutant (one of the registries built
    # at import, say, now raises): pytest would exit 4, "found no collectors" for the
    # tests mutmut names, which mutmut takes for a broken command and run.py for an
    # error. The mutant broke importing the package: it is killed (run.py's "collection
    # error", exit 2).
    if report.failed and _in_mutant_run():
        pytest.exit(f"collecting {report.nodeid} failed", returncode=2)


def pytest_collection_modifyitems(config, items):
    # MUTATION_LEFT_OUT_ONLY=1 turns the rule round: only the left-out tests run (run.py
    # --left-out, which runs them against the survivors).
    only = os.environ.get("MUTATION_LEFT_OUT_ONLY") == "1"
    dropped = [item for item in items if _left_out(item) != only]
    if dropped:
        items[:] = [item for item in items if _left_out(item) == only]
        config.hook.pytest_deselected(items=dropped)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _in_stats_run():
        _clear_caches()


# Slow tests left out of mutation runs (every phase: stats, clean run, mutants), each
# repeating with more data, models or settings what a faster test of the selection
# checks. What they would add was measured: every survivor of the run without them was
# run against them too (README, "Mutation testing").
LEFT_OUT = {
    # 30 presets x models, 12 runs of 300 epochs each, drawn: a smoke test of the charts.
    "test_largest_learning_rate_on_every_preset": lambda params: True,
    # The same for degenerate data: kept for the line model only (5 of 25).
    "test_degenerate_data": lambda params: params["model_name"] != "line",
    # Every model x every loss: kept for MSE (19 of 76); every loss's own gradient is
    # checked against its hand-derived formula and finite differences in test_losses.py.
    "test_gradient_of_model_and_loss_matches_finite_differences": (
        lambda params: params["loss"] != "mse"
    ),
    # Hypothesis over whole runs (60, 25 and 25 examples, 8-10 s each).
    "test_runs_stay_finite_or_report_divergence": lambda params: True,
    "test_same_seed_same_results": lambda params: True,
    "test_learning_rate_zero_leaves_parameters_unchanged": lambda params: True,
    # python -m explorer in a new process, compiling afresh (4 s).
    "test_python_dash_m_explorer": lambda params: True,
}


def _left_out(item) -> bool:
    rule = LEFT_OUT.get(getattr(item, "originalname", item.name))
    callspec = getattr(item, "callspec", None)
    return rule is not None and rule(callspec.params if callspec else {})
