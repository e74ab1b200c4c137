"""Cached runs: one training and its figures per distinct setting, shared by all sessions.

Cached objects are immutable (History arrays are read-only, figure dicts are only ever
shallow-copied before changes), because ``st.cache_resource`` hands every session the
same object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import PRESETS, History
from explorer.api import RunSpec, run
from explorer.descent import moved_most
from explorer.descent_figures import landscape_view
from explorer.figures import COLORS

from .player import Timeline, timeline

MAX_CACHED_RUNS = 24


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
    return _cached_run(run_key(spec, data_key), _spec=spec)


@st.cache_resource(max_entries=MAX_CACHED_RUNS, show_spinner=False)
def _cached_run(key: tuple, _spec: RunSpec) -> Run:
    h = run(_spec)
    labels = (_spec.data.x_label, _spec.data.y_label)
    out = _spec.data.outliers
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
    return _cached_landscape(run.key, tuple(along), _h=run.history), note


@st.cache_resource(max_entries=MAX_CACHED_RUNS, show_spinner=False)
def _cached_landscape(key: tuple, along: tuple[str, str], _h: History) -> dict:
    view = landscape_view(_h, along)
    view["key"] = hashlib.sha256(repr((key, along)).encode()).hexdigest()[:16]
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
