"""The app's cache: bounded by the bytes its entries hold, least recently used out first."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from webapp.cache import BudgetCache, footprint


def test_footprint_counts_arrays_and_strings_once():
    a = np.zeros(1000)  # 8000 bytes
    assert footprint(a) == 8000
    assert footprint("x" * 300) == 300
    # The same array twice is held once; a list adds 8 bytes a slot.
    assert footprint([a, a]) == 8000 + 16
    assert footprint({"k": a, "s": "abc"}) == 1 + 8000 + 1 + 3


def test_least_recently_used_leave_first_past_the_byte_budget():
    cache = BudgetCache(max_bytes=25_000)
    for k in "abc":
        cache.get(k, lambda: np.zeros(1000))  # 8000 bytes each: 24,000 in all
    assert len(cache) == 3 and cache.nbytes == 24_000
    cache.get("a", lambda: pytest.fail("a is cached"))  # a is now the most recent
    cache.get("d", lambda: np.zeros(1000))  # 32,000 > 25,000: b (least recent) goes
    made = []
    cache.get("b", lambda: made.append("b") or np.zeros(1000))
    assert made == ["b"]  # b was made again; making it pushed c out
    cache.get("a", lambda: pytest.fail("a was evicted"))
    cache.get("d", lambda: pytest.fail("d was evicted"))
    assert cache.nbytes <= 25_000


def test_one_entry_larger_than_the_budget_still_stays():
    cache = BudgetCache(max_bytes=100)
    big = cache.get("big", lambda: np.zeros(1000))
    assert cache.get("big", lambda: pytest.fail("remade")) is big
    assert len(cache) == 1


def test_entry_count_is_bounded_too():
    cache = BudgetCache(max_bytes=10**9, max_entries=2)
    for k in range(5):
        cache.get(k, lambda: "v")
    assert len(cache) == 2


def test_concurrent_sessions_make_a_value_once():
    cache = BudgetCache(max_bytes=10**6)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return "value"

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", slow))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and got == ["value"] * 4


def test_a_failed_make_caches_nothing():
    cache = BudgetCache(max_bytes=10**6)
    with pytest.raises(ValueError):
        cache.get("k", lambda: (_ for _ in ()).throw(ValueError("bad")))
    assert len(cache) == 0 and cache.get("k", lambda: 5) == 5


def test_footprint_counts_what_cached_properties_hold():
    from explorer import fit

    h = fit(preset="line", epochs=50)
    before = footprint(h)
    frames = h.frame_preds  # computed on first use, kept in the History's __dict__
    assert footprint(h) >= before + frames.nbytes
