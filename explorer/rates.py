"""Learning rates side by side: the same run at many rates at once (``sweep``) and, where
the theory gives it, the rate above which gradient descent diverges (``stability_limit``).

``sweep`` runs the engine's own loop (``train._history``) vmapped over the learning rate,
in one compiled call. (fastai's learning-rate finder is ``explorer.lrfind``.)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np
from jax import lax

from .api import RunSpec, resolve, start
from .losses import LOSSES, loss_index
from .models import Model
from .optim import OPTIMIZERS, optimizer_index
from .settings import LR
from .train import HYPER_SETTINGS, _history, _traced, pad

DEFAULT_LRS = tuple(np.geomspace(1e-6, 10, 61).tolist())


# ----------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class Sweep:
    """One run per learning rate, everything else the same (same data, start, epochs).

    Attributes:
        lrs: (L,) the learning rates.
        final_loss: (L,) the loss at the last finite epoch of each run (``fit(...).loss[-1]``;
            NaN if even the start is not finite).
        best_loss: (L,) the lowest loss of each run's finite epochs.
        diverged_at: each run's first epoch that is not finite, or None.
        start_loss: the loss at the start (the same for every rate).
        spec: the run's settings.
    """

    lrs: np.ndarray
    final_loss: np.ndarray
    best_loss: np.ndarray
    diverged_at: list[int | None]
    start_loss: float
    spec: RunSpec

    def rows(self) -> list[dict]:
        """One dict per rate (JSON-ready: a loss that is not finite is None)."""
        return [
            dict(
                lr=float(lr),
                final_loss=finite_or_none(final),
                best_loss=finite_or_none(best),
                diverged_at=div,
            )
            for lr, final, best, div in zip(
                self.lrs, self.final_loss, self.best_loss, self.diverged_at, strict=True
            )
        ]


def finite_or_none(v) -> float | None:
    return float(v) if np.isfinite(v) else None


def _check_lrs(lrs) -> np.ndarray:
    if isinstance(lrs, str):
        lrs = [s for s in lrs.split(",") if s.strip()]
        try:
            lrs = [float(s) for s in lrs]
        except ValueError:
            raise ValueError("lrs is a comma-separated list of numbers") from None
    lrs = [LR.check(v) for v in np.asarray(lrs, dtype=object).reshape(-1).tolist()]
    if not lrs:
        raise ValueError("name at least one learning rate")
    return np.asarray(lrs, np.float64)


def engine_args(spec: RunSpec):
    """The engine's arguments for a resolved run: padded points, start, float settings
    (``hyper``) and whole ones (``choice``)."""
    v = spec.values
    hyper = {s.name: v[s.name] for s in HYPER_SETTINGS}
    choice = dict(
        loss=np.int32(loss_index(v["loss"])),
        optimizer=np.int32(optimizer_index(v["optimizer"])),
        epochs=np.int32(v["epochs"]),
        seed=np.uint32(v["seed"]),
    )
    x, y, mask = pad(spec.data.x, spec.data.y, ~spec.held_out)  # the training points
    return x, y, mask, np.asarray(start(spec), np.float64), _traced(hyper), choice


def sweep(lrs: Sequence[float] = DEFAULT_LRS, **settings) -> Sweep:
    """Train the same run at each learning rate in ``lrs`` (default: 61 from 1e-6 to 10,
    evenly spaced in log scale), in one compiled call that vmaps the engine's loop over
    the rate.

    Settings are ``fit``'s, resolved the same way (``api.resolve``), without ``lr``.
    Entry k is ``fit(lr=lrs[k], **settings)``: the same epoch of divergence and the same
    final and best loss, to rounding (the batched arithmetic may add in another order).

    Raises:
        ValueError: ``lr=`` given, a learning rate out of range, or any setting ``fit``
            refuses.
    """
    if settings.get("lr") is not None:
        raise ValueError(
            f"sweep trains one run per rate in lrs=...; it takes no lr= (got {settings['lr']!r})"
        )
    lrs = _check_lrs(lrs)
    spec = resolve(**settings)
    # No history is kept (only each run's last and lowest loss and where it diverged), so
    # every rate runs at once, vmapped: a few numbers each.
    fn = _sweep_fn(spec.model, spec.values["batch_size"], spec.values["optimizer"])
    x, y, mask, p0, hyper, choice = engine_args(spec)
    final, best, div, first = (np.asarray(a) for a in fn(x, y, mask, p0, hyper, choice, lrs))
    return Sweep(
        lrs=lrs,
        final_loss=final,
        best_loss=best,
        diverged_at=[None if d < 0 else int(d) for d in div.tolist()],
        start_loss=float(first[0]),
        spec=spec,
    )


@functools.lru_cache(maxsize=32)
def _sweep_fn(model: Model, batch_size: int | None, optimizer: str):
    # The run's own optimizer, fixed: no switch over the optimizers at every step (a sweep
    # is compiled once per model and optimizer; its rates and every other setting are
    # traced).
    def run(x, y, mask, p0, hyper, choice, lrs):
        def per_loss(info):
            def one(lr):
                # What ``train`` keeps of a run: epochs up to the first that is not
                # finite; only its last and lowest loss and that epoch are read here.
                return _history(
                    model,
                    batch_size,
                    info,
                    x,
                    y,
                    mask,
                    p0,
                    {**hyper, "lr": lr},
                    choice,
                    optimizer=OPTIMIZERS[optimizer],
                    summary=True,
                )

            return lambda: jax.vmap(one)(lrs)

        return lax.switch(choice["loss"], [per_loss(info) for info in LOSSES.values()])

    return jax.jit(run)


# ----------------------------------------------------------------------------- stability


def stability_limit(**settings) -> float | None:
    """The learning rate above which full-batch SGD on the MSE diverges, for models
    linear in their parameters: the Hessian is then constant, H = (2/n) XᵀX (X the
    model's features), and a step multiplies the error along H's top eigenvector by
    1 - lr·λmax, so lr < 2 / λmax converges and lr > 2 / λmax grows.

    Settings are ``fit``'s. None where this does not apply: another loss or optimizer, a
    model not linear in its parameters, or mini-batches.
    """
    return limit_of(resolve(**settings))


def limit_of(spec: RunSpec) -> float | None:
    """``stability_limit`` of a resolved run."""
    v, model = spec.values, spec.model
    if v["loss"] != "mse" or v["optimizer"] != "sgd" or v["batch_size"] is not None:
        return None
    if not model.linear:
        return None
    x = spec.data.x[~spec.held_out]  # the training points
    design = np.asarray(model.family.features(x, **dict(model.size)), np.float64)
    # λmax((2/n) XᵀX) = (2/n) σmax(X)², from the singular values (no XᵀX formed).
    top = np.linalg.svd(design, compute_uv=False)[0]
    return float(2 / (2 / x.size * top**2))


__all__ = ["DEFAULT_LRS", "Sweep", "engine_args", "limit_of", "stability_limit", "sweep"]
