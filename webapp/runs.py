"""Cached runs: one training and its figures per distinct setting, shared by all sessions.

Cached objects are immutable (History arrays are read-only, figure dicts are only ever
shallow-copied before changes), because ``st.cache_resource`` hands every session the
same object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from explorer import PRESETS, Dataset, History
from explorer.api import RunSpec, run
from explorer.figures import COLORS

from .controls import DataChoice, ModelChoice, TrainChoice
from .player import Timeline, timeline

MAX_CACHED_RUNS = 24


@dataclass(frozen=True)
class Run:
    history: History
    timeline: Timeline | None  # what the player draws (None: not finite even at epoch 0)
    labels: tuple[str, str]
    key: tuple  # everything that decides the run (its cache key)


def start_values(
    data: DataChoice, model: ModelChoice, train_choice: TrainChoice, hand: dict
) -> tuple:
    """The explicit initial values for the chosen start, as a sorted tuple of pairs."""
    if train_choice.start == "preset" and data.preset is not None:
        d = PRESETS[data.preset].defaults
        if d.get("model") == model.name and d.get("init"):
            return tuple(sorted(d["init"].items()))
    if train_choice.start == "hand":
        return tuple(sorted(hand.items()))
    return ()


def get_run(
    data: DataChoice,
    model: ModelChoice,
    t: TrainChoice,
    init: tuple,
    seed: int,
    loss: str | None = None,
) -> Run:
    """The run for these settings (trained once, then served from the cache)."""
    # The start mode is already resolved into ``init``; keep it out of the cache key.
    t = replace(t, loss=loss or t.loss, start="")
    if data.preset is not None:
        _, preset, points, noise, outliers, _ = data.key
        source = dict(preset=preset, points=points, noise=noise, outliers=outliers)
    else:
        source = dict(data=data.dataset.name, points=data.dataset.n)
    spec = RunSpec(
        data=data.dataset,
        model_name=model.name,
        size=dict(model.size),
        loss=t.loss,
        optimizer=t.optimizer,
        lr=t.lr,
        epochs=t.epochs,
        batch_size=t.batch_size,
        seed=seed,
        init=dict(init),
        momentum=t.momentum,
        beta1=t.beta1,
        beta2=t.beta2,
        huber_delta=t.huber_delta,
        source=source,
    )
    # Everything that decides the run, in hashable form; the spec itself is not hashed.
    key = (data.key, model, t, init, seed)
    return _cached_run(key, _spec=spec)


@st.cache_resource(max_entries=MAX_CACHED_RUNS, show_spinner=False)
def _cached_run(key: tuple, _spec: RunSpec) -> Run:
    h = run(_spec)
    labels = (_spec.data.x_label, _spec.data.y_label)
    if h.last_epoch < 0:
        return Run(h, None, labels, key)
    return Run(h, timeline([("model", COLORS["model"], h)], labels), labels, key)


def hand_ranges(
    data: Dataset, model_name: str, names: list[str]
) -> dict[str, tuple[float, float, float]]:
    """Slider (low, high, step) per parameter for fitting by hand.

    For the lesson's quadratic on its own data, the notebook's -1.1..3.3 by 0.1. For models
    linear in their parameters, a symmetric range that holds the least-squares optimum;
    otherwise -5..5.
    """
    if model_name == "quadratic" and data.name == "fastai-quadratic":
        return {n: (-1.1, 3.3, 0.1) for n in names}
    powers = {"line": [1, 0], "quadratic": [2, 1, 0]}.get(model_name)
    if model_name == "polynomial":
        powers = list(range(len(names)))
    if powers is None:
        return {n: (-5.0, 5.0, 0.05) for n in names}
    design = np.stack([data.x**p for p in powers], axis=1)
    best = np.linalg.lstsq(design, data.y, rcond=None)[0]
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
