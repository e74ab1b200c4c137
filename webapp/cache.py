"""One cache for every session, bounded by the memory its entries hold.

``st.cache_resource`` bounds a cache by its number of entries only, and runs differ in
size by a factor of a thousand: the lesson's 20-point line over 100 epochs holds about
20 KB, the widest MLP over 10,000 epochs about 21 MB (its history, 8 MB, and the player's
copy of it, 13 MB). Twenty-four of the largest took 500 MB of the server; twenty-four of
the smallest wasted a cache that could hold thousands. Here the least recently used
entries go once the entries together pass ``max_bytes`` (the newest entry always stays).
"""

from __future__ import annotations

import ctypes
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

MB = 2**20


def footprint(obj: Any, seen: set[int] | None = None) -> int:
    """Roughly the bytes ``obj`` holds: its arrays' and strings' contents, walked through
    dicts, sequences and dataclasses (each object counted once), 8 bytes for anything
    else. Good to a few percent for what this app caches, whose size is in its arrays
    and packed strings."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (str, bytes)):
        return len(obj)
    if isinstance(obj, dict):
        return sum(footprint(k, seen) + footprint(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return 8 * len(obj) + sum(footprint(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # Its fields, and what its cached properties hold (in its __dict__ once computed).
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return footprint({**fields, **getattr(obj, "__dict__", {})}, seen)
    return 8


def limit_heap_growth() -> None:
    """Ask glibc's malloc to give freed memory back to the system (Linux; elsewhere
    nothing). By default, once a large block (a run's history, its packed player data) is
    freed, malloc raises its threshold for serving blocks by mmap to that size, and later
    ones of up to 32 MB come from per-thread heaps that keep their freed pages: the load
    test's server grew 770 MB over 50 settings with 345 MB in live Python objects, and
    warmed up at 990 MB. With the threshold fixed at its default (128 KB) and two heaps
    (Streamlit runs each session in its own thread), it warmed up at 420 MB and grew 300."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h


class BudgetCache:
    """Values by key, made once by ``make`` and shared by all sessions (never change a
    value you get: make a copy). The least recently used go first once the entries hold
    more than ``max_bytes`` together, or number more than ``max_entries``."""

    def __init__(self, max_bytes: int, max_entries: int = 256):
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            making = self._making.setdefault(key, threading.Lock())
        # One session makes a value; others asking for the same key meanwhile wait for it.
        with making:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
            try:
                value = make()
                size = footprint(value)
            except BaseException:
                with self._lock:
                    self._making.pop(key, None)
                raise
            with self._lock:
                self._entries[key] = (value, size)
                self._bytes += size
                self._making.pop(key, None)
                self._evict()
            return value

    def _evict(self) -> None:
        while len(self._entries) > 1 and (
            self._bytes > self.max_bytes or len(self._entries) > self.max_entries
        ):
            _, (_, size) = self._entries.popitem(last=False)
            self._bytes -= size

    @property
    def nbytes(self) -> int:
        """The bytes the entries hold together (as ``footprint`` counts them)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
