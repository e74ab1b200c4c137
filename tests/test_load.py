"""Load on the real app (the smaller version of ``benchmarks/load_test.py``).

Eight browser sessions at once, each on its own preset, loss and learning rate, step and
change settings; every page they reach must show their own run, number for number as
``explorer.fit`` computes it, and no exception. Then the server's memory over 50 distinct
settings must stay within a bound of its warmed-up size. Skipped, saying why, where
Debian's Chromium is missing; with REQUIRE_BROWSER=1 a missing browser is a failure.
"""

from __future__ import annotations

import asyncio

import browser_tools as bt
import pytest

from webapp.runs import CACHE_MB

pytestmark = pytest.mark.browser

SESSIONS = 8
# The player's Step button, then the learning-rate slider (even sessions) or the loss
# radio (odd ones), then the player's Back button.
ACTIONS = ("step", "lr_or_loss", "back")
MEMORY_SETTINGS = 50
# The cache of runs holds at most CACHE_MB (128 MB) however large its runs; the rest is
# allowance for compiled engines and allocator slack. Half the settings here are the
# largest runs the sidebar allows (21 MB each with their player data): 25 of them held
# 686 MB above the warm-up when the cache counted entries (24) instead of bytes.
MEMORY_BOUND_MB = 300
assert CACHE_MB < MEMORY_BOUND_MB


@pytest.fixture(scope="module")
def server():
    bt.require_browser()
    with bt.streamlit_server(bt.ARTIFACTS / "streamlit-load-test.log") as srv:
        yield srv


def _report(stats: bt.Stats) -> str:
    return "\n".join(stats.exceptions + stats.errors + stats.mismatches)


def test_concurrent_sessions_see_only_their_own_results(server):
    stats, sessions = asyncio.run(
        bt.concurrent_sessions(server.url, SESSIONS, len(ACTIONS), ACTIONS)
    )
    assert stats.sessions == SESSIONS
    assert stats.actions == SESSIONS * (1 + len(ACTIONS)), _report(stats)
    assert not stats.exceptions, _report(stats)
    assert not stats.errors, _report(stats)
    assert not stats.mismatches, _report(stats)
    # Every session ended on its own run, and the check tells runs apart: session 0's
    # last page does not pass as session 1's.
    assert len({(s.s, s.epoch) for s in sessions}) == SESSIONS
    other = sessions[1]
    assert bt.check(sessions[0].last_snapshot, other.s, other.epoch, other.h)
    assert not bt.log_problems(server.log)


def test_memory_stays_bounded_over_distinct_settings(server):
    pid = server.proc.pid
    settings = bt.distinct_settings(MEMORY_SETTINGS, per_load=25)
    warmup = bt.warmup_settings(settings)
    stats = asyncio.run(bt.many_settings(server.url, warmup, 1))
    warm = bt.rss_mb(pid)
    stats.merge(asyncio.run(bt.many_settings(server.url, settings, 1)))
    final = bt.rss_mb(pid)
    print(f"server RSS: warmed up {warm:.0f} MB, after {MEMORY_SETTINGS} settings {final:.0f} MB")
    assert stats.actions == len(warmup) + MEMORY_SETTINGS, _report(stats)
    assert not (stats.exceptions or stats.errors or stats.mismatches), _report(stats)
    assert not bt.log_problems(server.log)
    assert final <= warm + MEMORY_BOUND_MB, (
        f"server RSS {final:.0f} MB after {MEMORY_SETTINGS} settings, "
        f"{final - warm:.0f} MB above the warmed-up {warm:.0f} MB"
    )
