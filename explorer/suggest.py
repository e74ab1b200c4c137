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
- the epochs: the fewest of the slider's stops after which that run's loss is within 1%
  of the lowest it reaches in ``MAX_EPOCHS`` epochs;
- standardising x, when its scale makes descent hopeless (years: x about 2,000 with a
  spread of 10 makes x² a million times the constant term, and no single rate suits both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .api import resolve, run
from .data import Dataset
from .figures import rises
from .models import Model
from .rates import sweep
from .settings import EPOCHS, LR_STOPS, MAX_EPOCHS

PROBE_EPOCHS = 1000
# Settled: within 1% of the lowest loss, or 99.99% of the way down to it from the start
# (whichever is looser: a loss that reaches 0 is never within 1% of it).
NEAR = 0.01
SETTLED = 0.9999
# x is badly scaled when its offset dwarfs its spread, or its spread is far from 1.
OFFSET_RATIO = 10.0
SPREAD_RANGE = (1e-2, 1e2)
ZIGZAG = 0.05  # the share of epochs whose loss may rise before the rate steps down
MAX_STEPS_DOWN = 3
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
    # A rate whose run zigzags (the loss rising at more than one epoch in 20 on the way
    # down: L1's steps keep their size, say) steps down until it does not.
    # If it never stops zigzagging (L1's steps keep their size near the bottom), the
    # first choice stays, and the reason says so.
    first = (lr, reasons[-1])
    for step in range(MAX_STEPS_DOWN + 1):
        h = run(resolve(data=data, lr=lr, epochs=MAX_EPOCHS, init=init or None, **settings))
        epochs = _settled_epochs(h.loss)
        if rises(h.loss[: epochs + 1]).size <= ZIGZAG * epochs:
            break
        if step == MAX_STEPS_DOWN or lr == LR_STOPS[0]:
            lr, why = first
            h = run(resolve(data=data, lr=lr, epochs=MAX_EPOCHS, init=init or None, **settings))
            epochs = _settled_epochs(h.loss)
            reasons[-1] = (
                f"{why} Its loss zigzags (rises at more than one epoch in "
                f"{round(1 / ZIGZAG)}) at every rate tried down to "
                f"{LR_STOPS[LR_STOPS.index(lr) - step]:g}: the steps keep their size near "
                "the bottom, so a smaller rate only slows the way down."
            )
            break
        lr = LR_STOPS[LR_STOPS.index(lr) - 1]
        reasons[-1] = (
            f"Learning rate {lr:g}: a sweep of {len(LR_STOPS)} rates, stepping down from "
            f"the one whose loss ended lowest after {PROBE_EPOCHS} epochs while the loss "
            f"rose at more than one epoch in {round(1 / ZIGZAG)} (steps overshooting)."
        )
    reasons.append(
        f"Epochs {epochs:,}: by then the loss is within {NEAR:.0%} of the lowest it "
        f"reaches in {MAX_EPOCHS:,} (or {SETTLED:.2%} of the way down to it)."
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


def _settled_epochs(loss: np.ndarray) -> int:
    low = float(np.min(loss))
    target = low + max(NEAR * low, (1 - SETTLED) * (float(loss[0]) - low))
    first = int(np.argmax(loss <= target))
    return next((e for e in EPOCHS.options if e >= max(first, 10)), MAX_EPOCHS)
