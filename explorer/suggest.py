"""Settings that work on your own points (an uploaded CSV, points drawn in the app).

A preset comes with settings chosen for it; your own data does not, and the defaults can
fail on it: on a 10-row CSV whose y is about 60, L1 at a rate of 0.01 for 10 epochs from
a random start takes the loss from 64 to 34 and stops, far from any fit. ``suggest``
measures instead:

- the start: for models linear in their parameters, every weight 0 and the constant term
  at the mean of y (the flat line through the middle of the points), so the first steps
  are spent on the shape, not on climbing to the data's level;
- the learning rate: one stop of the app's slider below the stop whose run ends lowest
  after ``PROBE_EPOCHS`` epochs (a sweep over every stop, ``explorer.rates``): the very
  lowest usually sits at the edge of divergence, zigzagging;
- the epochs: the fewest of the slider's stops after which that run has come 99% of the
  way from its start to the lowest loss it reaches in ``MAX_EPOCHS`` epochs;
- standardising x, when its scale makes descent hopeless (years: x about 2,000 with a
  spread of 10 makes x² a million times the constant term, and no single rate suits both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .api import resolve, run
from .data import Dataset
from .models import Model
from .rates import sweep
from .settings import EPOCHS, LR_STOPS, MAX_EPOCHS

PROBE_EPOCHS = 1000
SETTLED = 0.999  # the share of the way from the start's loss to the lowest one
# x is badly scaled when its offset dwarfs its spread, or its spread is far from 1.
OFFSET_RATIO = 10.0
SPREAD_RANGE = (1e-2, 1e2)
HOPELESS = 1e4  # a condition number of the features' Gram matrix (about the steps needed)


@dataclass(frozen=True)
class Suggestion:
    """What ``suggest`` proposes, and why, in words a learner can read.

    Attributes:
        values: settings by name (``lr``, ``epochs``).
        init: the start by parameter name ({} where a random start is as good).
        standardise: x's scale makes descent hopeless; ``Dataset.standardised`` helps.
        reasons: one sentence per suggestion.
    """

    values: dict
    init: dict
    standardise: bool
    reasons: tuple[str, ...]


def badly_scaled(data: Dataset, model: Model) -> bool:
    """Whether standardising x would make descent much easier.

    For models linear in their parameters, by the condition number of their features'
    Gram matrix (how many times faster the loss falls along its steepest direction than
    along its flattest; plain gradient descent needs about that many steps): above
    ``HOPELESS`` and at least 10 times what it is on standardised x. For other models,
    when x's offset dwarfs its spread or its spread is far from 1."""
    x = np.asarray(data.x, np.float64)
    spread = float(np.std(x))
    if spread == 0:
        return False
    if model.linear:
        here = _gram_condition(x, model)
        there = _gram_condition((x - np.mean(x)) / spread, model)
        return here > HOPELESS and here > 10 * there
    offset = float(abs(np.mean(x)))
    return offset > OFFSET_RATIO * spread or not SPREAD_RANGE[0] <= spread <= SPREAD_RANGE[1]


def _gram_condition(x: np.ndarray, model: Model) -> float:
    sv = np.linalg.svd(np.asarray(model.family.features(x, **dict(model.size))), compute_uv=False)
    return float(np.inf) if sv[-1] == 0 else float((sv[0] / sv[-1]) ** 2)


def data_scale_start(data: Dataset, model: Model) -> dict:
    """For models linear in their parameters: every weight 0 and the constant term (the
    feature that is 1 everywhere) at the mean of y; {} for the others."""
    if not model.linear:
        return {}
    design = np.asarray(model.family.features(data.x, **dict(model.size)))
    start = dict.fromkeys(model.layout, 0.0)
    for j, name in enumerate(model.layout):
        if np.all(design[:, j] == 1.0):
            start[name] = float(np.mean(data.y))
    return start


def suggest(data: Dataset, **settings) -> Suggestion:
    """Settings that fit ``data`` with the model, loss and optimizer in ``settings``
    (``fit``'s names; the registry's defaults where absent). ``lr`` and ``epochs`` in
    ``settings`` are ignored: they are what is suggested."""
    settings = {k: v for k, v in settings.items() if k not in ("lr", "epochs", "init")}
    spec = resolve(data=data, **settings)
    init = data_scale_start(data, spec.model)
    reasons = []
    if init:
        reasons.append(
            "Start: every weight at 0 and the constant term at the mean of y, "
            f"{np.mean(data.y):.4g}: the flat line through the middle of the points."
        )
    swept = sweep(LR_STOPS, data=data, epochs=PROBE_EPOCHS, init=init or None, **settings)
    ok = np.isfinite(swept.final_loss) & np.array([d is None for d in swept.diverged_at])
    ok &= swept.final_loss < swept.start_loss
    if not ok.any():
        lr = LR_STOPS[0]
        reasons.append(
            f"Learning rate {lr:g}: no rate of the slider lowered the loss in {PROBE_EPOCHS} "
            "epochs; the smallest is the safest place to start."
        )
        return _with_scale(data, spec, dict(lr=lr, epochs=PROBE_EPOCHS), init, reasons)
    else:
        best = int(np.nanargmin(np.where(ok, swept.final_loss, np.nan)))
        pick = best - 1 if best > 0 and ok[best - 1] else best
        lr = LR_STOPS[pick]
        why = (
            f"one stop below {LR_STOPS[best]:g}, the rate whose loss ended lowest after "
            f"{PROBE_EPOCHS} epochs (the lowest usually zigzags at the edge of divergence)"
            if pick != best
            else f"the rate whose loss ended lowest after {PROBE_EPOCHS} epochs"
        )
        reasons.append(f"Learning rate {lr:g}: {why}, in a sweep of {len(LR_STOPS)} rates.")
    epochs = _settled_epochs(data, settings, lr, init)
    reasons.append(
        f"Epochs {epochs:,}: by then the loss has come {SETTLED:.1%} of the way down to "
        f"the lowest it reaches in {MAX_EPOCHS:,}."
    )
    return _with_scale(data, spec, dict(lr=lr, epochs=epochs), init, reasons)


def _with_scale(data: Dataset, spec, values: dict, init: dict, reasons: list) -> Suggestion:
    standardise = badly_scaled(data, spec.model)
    if standardise:
        reasons.append(
            f"x has mean {np.mean(data.x):.4g} and spread {np.std(data.x):.3g}: the "
            "parameters' gradients differ so much in size that no learning rate suits them "
            "all. Standardise x (subtract the mean, divide by the spread) to fix that."
        )
    return Suggestion(values, init, standardise, tuple(reasons))


def _settled_epochs(data: Dataset, settings: dict, lr: float, init: dict) -> int:
    h = run(resolve(data=data, lr=lr, epochs=MAX_EPOCHS, init=init or None, **settings))
    loss = h.loss
    low = float(np.min(loss))
    target = low + (1 - SETTLED) * (float(loss[0]) - low)
    first = int(np.argmax(loss <= target))
    return next((e for e in EPOCHS.options if e >= max(first, 10)), MAX_EPOCHS)
