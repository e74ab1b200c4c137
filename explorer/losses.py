"""Loss functions: L1 (MAE), L2 (RMSE, as fastbook names it), MSE and Huber.

Every loss takes the errors ``pred - y``, a 0/1 ``mask`` that marks the real points (the
engine pads data to fixed sizes) and the Huber ``delta``, and returns the mean over the real
points. The registry order is the index that ``lax.switch`` uses, so the loss is a traced
value and changing it never recompiles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import jax
import jax.numpy as jnp
import numpy as np


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def _abs(e: jax.Array) -> jax.Array:
    # sign(e) * e has derivative sign(e), which is 0 at e == 0 (as PyTorch's abs), where
    # jnp.abs would report 1: a perfectly fitted point should not pull on the parameters.
    return jnp.sign(jax.lax.stop_gradient(e)) * e


def l1(err: jax.Array, mask: jax.Array, delta: jax.Array) -> jax.Array:
    """Mean absolute error, fastbook's "L1 norm"."""
    del delta
    return _masked_mean(_abs(err), mask)


def mse(err: jax.Array, mask: jax.Array, delta: jax.Array) -> jax.Array:
    """Mean squared error (what most libraries call "L2 loss")."""
    del delta
    return _masked_mean(err * err, mask)


def l2(err: jax.Array, mask: jax.Array, delta: jax.Array) -> jax.Array:
    """Root mean squared error, fastbook's "L2 norm": ``mse(...).sqrt()``.

    At a perfect fit sqrt has an infinite slope and the chain rule gives 0 * inf; the
    double ``where`` keeps the gradient at 0 there (a subgradient of the norm at 0).
    """
    m = mse(err, mask, delta)
    positive = m > 0
    safe = jnp.where(positive, m, 1.0)
    return jnp.where(positive, jnp.sqrt(safe), 0.0)


def huber(err: jax.Array, mask: jax.Array, delta: jax.Array) -> jax.Array:
    """Huber loss: squared (halved) for |err| <= delta, linear beyond it."""
    a = _abs(err)
    quad = jnp.minimum(a, delta)
    lin = a - quad
    return _masked_mean(0.5 * quad * quad + delta * lin, mask)


@dataclass(frozen=True)
class LossInfo:
    """What the learner sees about a loss: its label, plain words and formula."""

    name: str
    fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    label: str
    words: str
    formula: str  # LaTeX


LOSSES: Mapping[str, LossInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            LossInfo(
                "l1",
                l1,
                "L1 (mean absolute error)",
                "Mean absolute error: outliers count only by their distance.",
                r"\mathrm{L1} = \frac{1}{n}\sum_i |\hat y_i - y_i|",
            ),
            LossInfo(
                "l2",
                l2,
                "L2 (root mean squared error)",
                "Root mean squared error: big errors and outliers pull hard.",
                r"\mathrm{L2} = \sqrt{\frac{1}{n}\sum_i (\hat y_i - y_i)^2}",
            ),
            LossInfo(
                "mse",
                mse,
                "MSE (mean squared error)",
                "Mean squared error: L2 without the root; same best fit, gradients 2·L2 times bigger.",
                r"\mathrm{MSE} = \frac{1}{n}\sum_i (\hat y_i - y_i)^2",
            ),
            LossInfo(
                "huber",
                huber,
                "Huber (delta)",
                "Squared near the fit, absolute beyond δ: smooth and robust.",
                r"\frac{1}{n}\sum_i \begin{cases}\tfrac12 e_i^2 & |e_i|\le\delta\\"
                r" \delta(|e_i|-\tfrac12\delta) & \text{else}\end{cases}",
            ),
        )
    }
)

LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)


def loss_index(name: str) -> int:
    """Index of a loss in the registry (the ``lax.switch`` branch)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
    return LOSS_NAMES.index(name)


def switch_loss(index: jax.Array, err: jax.Array, mask: jax.Array, delta: jax.Array):
    """The loss chosen by a traced ``index``."""
    return jax.lax.switch(index, [info.fn for info in LOSSES.values()], err, mask, delta)


def every_loss(err: jax.Array, mask: jax.Array, delta: jax.Array) -> jax.Array:
    """Every registered loss of the errors, stacked in registry order (traceable)."""
    return jnp.stack([info.fn(err, mask, delta) for info in LOSSES.values()])


def all_losses(pred, y, delta: float = 1.0) -> dict[str, float]:
    """Every registered loss of ``pred`` against ``y``, by name."""
    pred, y = jnp.asarray(pred, jnp.float64), jnp.asarray(y, jnp.float64)
    values = _every_loss_jit(pred - y, jnp.ones_like(y), jnp.float64(delta))
    return dict(zip(LOSS_NAMES, np.asarray(values).tolist(), strict=True))


_every_loss_jit = jax.jit(every_loss)
