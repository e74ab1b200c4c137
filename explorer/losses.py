"""Loss functions: L1 (MAE), L2 (RMSE, as fastbook names it), MSE and Huber.

Every loss takes the errors ``pred - y``, a 0/1 ``mask`` that marks the real points (the
engine pads data to fixed sizes) and its own settings by name (Huber's ``huber_delta``),
and returns the mean over the real points. Each is declared once in ``LOSSES`` with
everything about it; the engine, the command line, the app and the tests read it from
there, so a new loss is one entry here (README: "Adding a loss").

Targets in the plane (the outline presets: errors (n, 2), one row per point, fitted by a
curve t -> (x(t), y(t))) count by each point's distance from its target: ``call`` hands
every loss the distances ``|e_i| = sqrt(ex_i² + ey_i²)`` instead of the errors
(``CURVE_WORDS``). So L1 is the mean distance, MSE the mean squared distance (the squared
errors of both coordinates added, then averaged over the points), L2 its root and Huber
is taken of the distance; with the second coordinate 0 each is the one-output loss. The
distance does not depend on how the drawing is turned, as a sum |ex| + |ey| would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .settings import Setting, registry, settings_values


def mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """The mean of ``values`` over the real points (``mask`` 1)."""
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def _abs(e: jax.Array) -> jax.Array:
    # sign(e) * e has derivative sign(e), which is 0 at e == 0 (as PyTorch's abs), where
    # jnp.abs would report 1: a perfectly fitted point should not pull on the parameters.
    return jnp.sign(jax.lax.stop_gradient(e)) * e


def l1(err: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean absolute error, fastbook's "L1 norm"."""
    return mean(_abs(err), mask)


def mse(err: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean squared error (what most libraries call "L2 loss")."""
    return mean(err * err, mask)


def l2(err: jax.Array, mask: jax.Array) -> jax.Array:
    """Root mean squared error, fastbook's "L2 norm": ``mse(...).sqrt()``.

    At a perfect fit sqrt has an infinite slope and the chain rule gives 0 * inf; the
    double ``where`` keeps the gradient at 0 there (a subgradient of the norm at 0).
    """
    m = mse(err, mask)
    positive = m > 0
    safe = jnp.where(positive, m, 1.0)
    return jnp.where(positive, jnp.sqrt(safe), 0.0)


def distance(err: jax.Array) -> jax.Array:
    """(n,) the length of each row of the (n, 2) errors, with gradient 0 at a length of 0
    (a point exactly on its target does not pull), where sqrt's slope is infinite."""
    squared = jnp.sum(err * err, axis=-1)
    positive = squared > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def huber(err: jax.Array, mask: jax.Array, huber_delta: jax.Array) -> jax.Array:
    """Huber loss: squared (halved) for |err| <= delta, linear beyond it."""
    delta = huber_delta
    a = _abs(err)
    quad = jnp.minimum(a, delta)
    lin = a - quad
    return mean(0.5 * quad * quad + delta * lin, mask)


@dataclass(frozen=True)
class Loss:
    """One loss and everything the learner sees about it.

    Attributes:
        name: registry name (``--loss l1``).
        short: its name in tables and legends (``L1``).
        label: its name with a few words (``L1 (mean absolute error)``).
        words: one line on what it does.
        formula: LaTeX, in full.
        inline: LaTeX, compact (beside the app's radio button).
        color: its colour wherever runs are compared.
        fn: ``fn(err, mask, **settings) -> scalar`` (traceable).
        settings: its own settings, passed to ``fn`` by name.
        pull: how each point pulls on the gradient under this loss (the player's words
            under each point's share of the gradient); empty for none.
        curve_formula: LaTeX, in full, for targets in the plane (each point's error is its
            distance ``d_i`` from its target, ``CURVE_WORDS``); empty: the formula with
            ``d_i`` for the error.
    """

    name: str
    short: str
    label: str
    words: str
    formula: str
    inline: str
    color: str
    fn: Callable[..., jax.Array]
    settings: tuple[Setting, ...] = ()
    pull: str = ""
    curve_formula: str = ""

    def title(self, values: Mapping | None = None) -> str:
        """``short`` with its settings' values: ``Huber (δ = 1)``."""
        if not self.settings:
            return self.short
        values = settings_values(self.settings, values or {})
        inner = ", ".join(
            f"{_SYMBOLS.get(s.name, s.name)} = {values[s.name]:g}" for s in self.settings
        )
        return f"{self.short} ({inner})"


_SYMBOLS = {"huber_delta": "δ"}

HUBER_DELTA = Setting(
    "huber_delta",
    "Huber delta (δ)",
    1.0,
    "Errors smaller than δ count squared, larger ones by their size.",
    low=0,
    high=1e6,
    low_open=True,
    ui=(0.05, 10.0, 0.05),
    link="delta",
)

LOSSES: Mapping[str, Loss] = registry(
    (
        Loss(
            "l1",
            "L1",
            "L1 (mean absolute error)",
            "Mean absolute error: outliers count only by their distance.",
            r"\mathrm{L1} = \frac{1}{n}\sum_i |\hat y_i - y_i|",
            r"$\tfrac{1}{n}\sum|\hat y - y|$",
            "#2563eb",
            l1,
            curve_formula=r"\mathrm{L1} = \frac{1}{n}\sum_i d_i,\ d_i = \|\hat p_i - p_i\|",
            pull="Under L1 the loss pulls each prediction by the sign of its error only "
            "(dL/dŷᵢ = sign(eᵢ)/n): a point far off pulls no harder than one close by, so an "
            "outlier counts like any other point.",
        ),
        Loss(
            "l2",
            "L2",
            "L2 (root mean squared error)",
            "Root mean squared error: big errors and outliers pull hard.",
            r"\mathrm{L2} = \sqrt{\frac{1}{n}\sum_i (\hat y_i - y_i)^2}",
            r"$\sqrt{\tfrac{1}{n}\sum(\hat y - y)^2}$",
            "#e4572e",
            l2,
            curve_formula=r"\mathrm{L2} = \sqrt{\frac{1}{n}\sum_i d_i^2},\ "
            r"d_i^2 = (\hat x_i - x_i)^2 + (\hat y_i - y_i)^2",
            pull="Under L2 the loss pulls each prediction in proportion to its error "
            "(dL/dŷᵢ = eᵢ/(n·L2)): the farthest points pull hardest, and one outlier can "
            "outweigh the rest.",
        ),
        Loss(
            "mse",
            "MSE",
            "MSE (mean squared error)",
            "Mean squared error: L2 without the root; same best fit, gradients 2·L2 times bigger.",
            r"\mathrm{MSE} = \frac{1}{n}\sum_i (\hat y_i - y_i)^2",
            r"$\tfrac{1}{n}\sum(\hat y - y)^2$",
            "#16a34a",
            mse,
            curve_formula=r"\mathrm{MSE} = \frac{1}{n}\sum_i d_i^2,\ "
            r"d_i^2 = (\hat x_i - x_i)^2 + (\hat y_i - y_i)^2",
            pull="Under MSE the loss pulls each prediction in proportion to its error "
            "(dL/dŷᵢ = 2eᵢ/n): the farthest points pull hardest, and one outlier can outweigh "
            "the rest.",
        ),
        Loss(
            "huber",
            "Huber",
            "Huber (squared near the fit, absolute beyond δ)",
            "Squared near the fit, absolute beyond δ: smooth and robust.",
            r"\frac{1}{n}\sum_i \begin{cases}\tfrac12 e_i^2 & |e_i|\le\delta\\"
            r" \delta(|e_i|-\tfrac12\delta) & \text{else}\end{cases}",
            r"$\tfrac{1}{n}\sum h_\delta(\hat y - y)$",
            "#9333ea",
            huber,
            (HUBER_DELTA,),
            curve_formula=r"\frac{1}{n}\sum_i h_\delta(d_i),\ d_i = \|\hat p_i - p_i\|",
            pull="Under Huber the loss pulls a prediction within δ of its target in proportion "
            "to its error, as MSE does, and one farther off by δ only, as L1 does: an outlier "
            "cannot outweigh the rest.",
        ),
        # Add a loss here (README, "Adding a loss").
    )
)

LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)
CURVE_WORDS = (
    "The targets are points in the plane: each point's error is its distance from its "
    "target, d = √((x̂ − x)² + (ŷ − y)²). L1 is the mean distance, MSE the mean squared "
    "distance, L2 its square root, Huber is taken of the distance."
)
# Every loss's own settings: the engine carries them all, so switching loss never recompiles.
LOSS_SETTINGS: tuple[Setting, ...] = tuple(s for info in LOSSES.values() for s in info.settings)


def loss_index(name: str) -> int:
    """Index of a loss in the registry (the ``lax.switch`` branch)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
    return LOSS_NAMES.index(name)


def call(info: Loss, err: jax.Array, mask: jax.Array, hyper: Mapping) -> jax.Array:
    """``info``'s loss with its settings taken by name from ``hyper``; errors (n, 2) of
    targets in the plane count by their lengths (``CURVE_WORDS``). The rank is known when
    tracing, so one-output runs compile exactly as before."""
    if err.ndim == 2:
        err = distance(err)
    return info.fn(err, mask, **{s.name: hyper[s.name] for s in info.settings})


def switch_loss(index: jax.Array, err: jax.Array, mask: jax.Array, hyper: Mapping):
    """The loss chosen by a traced ``index``; ``hyper`` holds every loss setting by name."""
    branches = [lambda e, m, h, info=info: call(info, e, m, h) for info in LOSSES.values()]
    return jax.lax.switch(index, branches, err, mask, hyper)


def every_loss(err: jax.Array, mask: jax.Array, hyper: Mapping) -> jax.Array:
    """Every registered loss of the errors, stacked in registry order (traceable)."""
    return jnp.stack([call(info, err, mask, hyper) for info in LOSSES.values()])


def all_losses(pred, y, **settings) -> dict[str, float]:
    """Every registered loss of ``pred`` against ``y``, by name (settings by name, e.g.
    ``huber_delta=1.0``, defaults otherwise)."""
    pred, y = jnp.asarray(pred, jnp.float64), jnp.asarray(y, jnp.float64)
    hyper = {k: jnp.float64(v) for k, v in settings_values(LOSS_SETTINGS, settings).items()}
    values = _every_loss_jit(pred - y, jnp.ones(y.shape[:1], jnp.float64), hyper)
    return dict(zip(LOSS_NAMES, np.asarray(values).tolist(), strict=True))


_every_loss_jit = jax.jit(every_loss)
