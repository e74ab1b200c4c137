"""fastai's learning-rate finder (``Learner.lr_find``) on one run: the learning rate grows
exponentially with every step, the loss is smoothed, the run stops once it blows up, and
three suggestions are read off the curve.

It runs the engine's own loop (``train._history``) with an optax schedule in place of the
fixed learning rate (optax steps it with its own count).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import numpy as np
from jax import lax

from .api import RunSpec, resolve
from .losses import LOSSES
from .models import Model
from .rates import engine_args, finite_or_none
from .settings import LR, MAX_EPOCHS
from .train import CHUNK, _history


@dataclass(frozen=True)
class LRFind:
    """fastai's learning-rate finder on one run (``lr_find``).

    Attributes:
        lrs: (S,) the learning rate of each step taken.
        losses: (S,) the smoothed loss recorded at each step (fastai's ``recorder.losses``).
        raw: (S,) the loss before each step, unsmoothed.
        stopped_at: the step whose smoothed loss passed 4x the best, or None.
        suggestion: fastai's "valley" learning rate, or None when too few steps are left
            after trimming (below).
        minimum: the rate at the lowest smoothed loss, divided by 10 (fastai's "minimum").
        steepest: the rate where the smoothed loss falls fastest against log(lr)
            (fastai's "steep").
        spec: the run's settings.
    """

    lrs: np.ndarray
    losses: np.ndarray
    raw: np.ndarray
    stopped_at: int | None
    suggestion: float | None
    minimum: float | None
    steepest: float | None
    spec: RunSpec

    def to_dict(self) -> dict:
        return dict(
            lrs=self.lrs.tolist(),
            losses=[finite_or_none(v) for v in self.losses],
            raw=[finite_or_none(v) for v in self.raw],
            stopped_at=self.stopped_at,
            suggestion=self.suggestion,
            minimum=self.minimum,
            steepest=self.steepest,
        )


def lr_find(
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_it: int = 100,
    stop_div: bool = True,
    beta: float = 0.98,
    **settings,
) -> LRFind:
    """fastai's ``Learner.lr_find`` on one run: the learning rate grows exponentially,
    the loss is smoothed, the run stops once it blows up, and three suggestions are read
    off the curve.

    Definitions from fastai 2's source (``fastai/callback/schedule.py``: ``LRFinder``,
    ``lr_find``, ``valley``, ``minimum``, ``steep``; ``fastai/learner.py``:
    ``AvgSmoothLoss``, ``Recorder``):

    - step k = 0..num_it-1 uses ``lr_k = start_lr * (end_lr / start_lr) ** (k / num_it)``
      (fastai's ``SchedExp`` at ``train_iter / num_it``; so the last rate is 1e-7 * 1e8 **
      0.99 = 8.3, not 10); ``num_it`` is at least 6, as in fastai;
    - the loss recorded at step k is the one computed at the parameters before that step,
      smoothed: ``v_k = v_{k-1} + (1 - beta)(loss_k - v_{k-1})`` from ``v = 0``, divided
      by ``1 - beta ** (k + 1)`` (beta 0.98);
    - with ``stop_div`` the run stops after the first step whose smoothed loss exceeds
      4x the lowest smoothed loss so far (that step is kept);
    - the suggestions read the recorded curve without its first ``num_it // 10`` and last
      5 steps, cut at the first NaN: ``suggestion`` (fastai's default, "valley") is 1/3 +
      1/6 of the way along the longest run of falling losses (a longest decreasing
      subsequence, fastai's index arithmetic kept as written); ``minimum`` the rate at the
      lowest loss / 10; ``steepest`` the rate at the most negative slope of the loss
      against log(lr).

    Each step is a full-batch step (fastai steps per mini-batch; a run with a batch size
    is refused), taken by the run's own optimizer with the growing rate. Settings are
    ``fit``'s, without ``lr`` (``epochs`` is read and ignored: the run has ``num_it`` steps).

    Raises:
        ValueError: ``lr=`` or a batch size given, bad finder settings, or any setting
            ``fit`` refuses.
    """
    if settings.get("lr") is not None:
        raise ValueError(
            f"lr_find chooses the learning rates itself; it takes no lr= (got {settings['lr']!r})"
        )
    start_lr, end_lr = LR.check(start_lr), LR.check(end_lr)
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, not {start_lr:g} and {end_lr:g}")
    if isinstance(num_it, bool) or not isinstance(num_it, (int, np.integer)) or num_it < 1:
        raise ValueError(f"num_it must be a whole number >= 1, not {num_it!r}")
    num_it = max(int(num_it), 6)  # fastai's floor
    if num_it > MAX_EPOCHS:
        raise ValueError(f"num_it must be at most {MAX_EPOCHS}, not {num_it}")
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), not {beta!r}")
    spec = resolve(**settings)
    if spec.values["batch_size"] is not None:
        raise ValueError("lr_find takes full-batch steps; leave the batch size at all points")
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_it) / num_it)
    x, y, mask, p0, hyper, choice = engine_args(spec)
    choice["epochs"] = np.int32(num_it - 1)  # a loss before each of num_it steps
    n_chunks = 1 << max(0, math.ceil(num_it / CHUNK) - 1).bit_length()
    raw = np.asarray(
        _finder_fn(spec.model, n_chunks)(
            x,
            y,
            mask,
            p0,
            hyper,
            choice,
            np.float64(start_lr),
            np.float64(end_lr / start_lr),
            np.float64(num_it),
        )
    )[:num_it]
    smooth = smoothed(raw, beta)
    stopped = None
    if stop_div:
        best = np.inf
        for k, v in enumerate(smooth):
            best = v if v < best else best
            if v > 4 * best:
                stopped = k
                break
    kept = num_it if stopped is None else stopped + 1
    lrs, smooth, raw = lrs[:kept], smooth[:kept], raw[:kept]
    tl, tv = lrs[num_it // 10 : -5], smooth[num_it // 10 : -5]
    nan = np.flatnonzero(np.isnan(tv))
    if nan.size:
        tl, tv = tl[: nan[0]], tv[: nan[0]]
    return LRFind(
        lrs=lrs,
        losses=smooth,
        raw=raw,
        stopped_at=stopped,
        suggestion=valley(tl, tv) if tv.size else None,
        minimum=float(tl[np.argmin(tv)] / 10) if tv.size else None,
        steepest=steepest(tl, tv) if tv.size > 1 else None,
        spec=spec,
    )


def smoothed(losses: np.ndarray, beta: float = 0.98) -> np.ndarray:
    """fastai's ``AvgSmoothLoss``: an exponential moving average from 0, debiased."""
    out = np.empty(len(losses))
    value = 0.0
    for k, loss in enumerate(np.asarray(losses, np.float64)):
        value = value + (1 - beta) * (loss - value)  # torch.lerp(loss, value, beta)
        out[k] = value / (1 - beta ** (k + 1))
    return out


def valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``valley``: the longest valley's rate, 1/3 + 1/6 of the way along it."""
    n = len(losses)
    longest = [1] * n  # longest decreasing run of losses ending at each step
    start_, end = 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            # Checked inside the inner loop, as fastai does: the start is set when the
            # length first passes the longest so far.
            if longest[end] < longest[i]:
                end = i
                start_ = end - longest[end]
    sections = (end - start_) / 3
    return float(lrs[start_ + int(sections) + int(sections / 2)])


def steepest(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``steep``: the rate at the most negative slope of loss against log(lr)."""
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[np.argmin(slopes)])


@functools.lru_cache(maxsize=32)
def _finder_fn(model: Model, n_chunks: int):
    def run(x, y, mask, p0, hyper, choice, start_lr, ratio, num_it):
        def schedule(count):
            return start_lr * ratio ** (count / num_it)  # fastai's SchedExp

        # The engine's loop with the fixed rate replaced by the schedule, which optax
        # steps with its own count: step k (0-based) gets schedule(k).
        hyper = {**hyper, "lr": schedule}

        def losses(info):
            return _history(model, None, info, x, y, mask, p0, hyper, choice, n_chunks)[1]

        branches = [functools.partial(losses, info) for info in LOSSES.values()]
        return lax.switch(choice["loss"], branches)

    return jax.jit(run)


__all__ = ["LRFind", "lr_find", "smoothed", "steepest", "valley"]
