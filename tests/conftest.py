"""Test settings shared by the whole suite.

As Equinox does, make implicit rank promotion an error: a ``(n,)`` array meeting an
``(n, 1)`` one fails at once instead of silently broadcasting to ``(n, n)``.

The app and ``python -m explorer`` keep compiled engines in a persistent cache
(``explorer.train.enable_compile_cache``, ``~/.cache/gradient-explorer`` unless
``GRADIENT_EXPLORER_CACHE`` says otherwise). The suite points that variable at a temporary
folder of its own, set when this file is imported, so that the tests, the processes they
start (the command line, the Streamlit server of the browser tests) and AppTest's
in-process app all write there and never into the home directory.
"""

import os
import shutil
import tempfile

import jax

TEST_CACHE = tempfile.mkdtemp(prefix="gradient-explorer-test-cache-")
os.environ["GRADIENT_EXPLORER_CACHE"] = TEST_CACHE

jax.config.update("jax_numpy_rank_promotion", "raise")

# The engine as the app runs it (streamlit_app.py): other (loss, optimizer) pairs compile in
# the background, so that a setting changed later never waits for a compile.
from explorer.train import compile_in_background  # noqa: E402

compile_in_background()


def pytest_unconfigure(config):
    from explorer.train import wait_for_compiles

    wait_for_compiles()  # an engine compiling in the background still writes to the cache
    shutil.rmtree(TEST_CACHE, ignore_errors=True)
