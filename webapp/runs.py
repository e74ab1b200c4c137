"""Cached runs: one training and its figures per distinct setting, shared by all sessions.

Cached objects are immutable (History arrays are read-only, figure dicts are only ever
shallow-copied before changes), because the cache hands every session the same object.
It is bounded by the memory its entries hold (``CACHE_MB``), not by their number: the
largest run holds a thousand times what the lesson's does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from explorer import PRESETS, History
from explorer.api import RunSpec, run
from explorer.descent import moved_most
from explorer.descent_figures import landscape_view
from explorer.figures import COLORS

from .cache import MB, BudgetCache
from .player import Timeline, timeline

# Runs, their landscapes, comparisons' and branches' timelines together: about six of the
# largest runs (the widest MLP over 10,000 epochs, 21 MB each), or thousands of the
# lesson's.
CACHE_MB = 128
CACHE = BudgetCache(CACHE_MB * MB)


@dataclass(frozen=True)
class Run:
    history: History
    timeline: Timeline | None  # what the player draws (None: not finite even at epoch 0)
    labels: tuple[str, str]
    key: tuple  # everything that decides the run (its cache key)
    outliers: tuple[int, ...] = ()  # the points the outliers setting pushed off


def run_key(spec: RunSpec, data_key: tuple) -> tuple:
    """Everything that decides a run, hashable: the data, the settings the run reads
    (``spec.used``: a batch of all the points and a setting no part of the run reads do
    not make another run) and the start."""
    return (data_key, tuple(spec.used.items()), spec.init)


def get_run(spec: RunSpec, data_key: tuple) -> Run:
    """The run for these settings (trained once, then served from the cache)."""
    key = run_key(spec, data_key)
    return CACHE.get(("run", key), lambda: _make_run(key, spec))


def _make_run(key: tuple, spec: RunSpec) -> Run:
    h = run(spec)
    labels = (spec.data.x_label, spec.data.y_label)
    out = spec.data.outliers
    if h.last_epoch < 0:
        return Run(h, None, labels, key, out)
    return Run(h, timeline([("model", COLORS["model"], h)], labels, out), labels, key, out)


def landscape(run: Run, along: tuple[str, str] | None) -> tuple[dict, str | None]:
    """The landscape the player draws for ``run`` over the parameters ``along`` (None: the
    two that moved most), and a note when ``along`` names parameters the model does not
    have (the default is drawn then)."""
    names = run.history.param_names
    note = None
    if along is not None and not (along[0] in names and along[1] in names and along[0] != along[1]):
        note = (
            f"The landscape's parameters ({', '.join(along)}) are not two of this "
            f"model's ({', '.join(names)}): showing the two that moved most."
        )
        along = None
    if along is None:
        along = moved_most(run.history)
    along = tuple(along)
    return CACHE.get(("landscape", run.key, along), lambda: _landscape(run, along)), note


def _landscape(run: Run, along: tuple[str, str]) -> dict:
    view = landscape_view(run.history, along)
    view["key"] = hashlib.sha256(repr((run.key, along)).encode()).hexdigest()[:16]
    return view


def hand_ranges(spec: RunSpec) -> dict[str, tuple[float, float, float]]:
    """Slider (low, high, step) per parameter for fitting by hand.

    The preset's own range where the course gives one for its model (lesson 3's
    -1.1..3.3 by 0.1); for models linear in their parameters, a symmetric range that holds
    the least-squares optimum; otherwise -5..5.
    """
    names = spec.model.layout
    preset = PRESETS.get(spec.source.get("preset"))
    if preset and preset.hand_range and preset.defaults.get("model") == spec.model.name:
        return dict.fromkeys(names, preset.hand_range)
    best = spec.model.least_squares(spec.data.x, spec.data.y)
    if best is None:
        return dict.fromkeys(names, (-5.0, 5.0, 0.05))
    out = {}
    for n, b in zip(names, best, strict=True):
        half = _nice(max(3.0, 1.5 * abs(float(b))))
        out[n] = (-half, half, _nice(half / 100))
    return out


def _nice(v: float) -> float:
    """Round up to 1, 2 or 5 times a power of ten."""
    exp = np.floor(np.log10(v))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= v:
            return float(m * 10**exp)
    return float(10 ** (exp + 1))
