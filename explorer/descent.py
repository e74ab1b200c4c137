"""What gradient descent sees at one epoch of a run: the loss surface over two parameters
(``landscape``) and each point's share of the gradient (``contributions``).

Both read the run's own loss and its settings from ``History.config`` and are compiled once
per model (the points padded to the engine's size buckets): the epoch, the two parameters
and the loss are traced values, so looking at another epoch, another pair of parameters or
another loss never recompiles.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np
from jax import lax

from .losses import LOSS_SETTINGS, LOSSES, call, loss_index, switch_loss
from .models import Model
from .settings import settings_values
from .train import History, _traced, pad, point_terms

MAX_RESOLUTION = 501
# A gradient entry this small next to the sum of the sizes of the per-point terms it adds
# up is rounding noise around 0 (float64 keeps about 16 digits; the terms cancelled).
ROUNDING_NOISE = 1e-9
MARGIN = 0.1  # each side of the automatic span, as a share of what it covers


@dataclass(frozen=True)
class Landscape:
    """The loss over a grid of two parameters, every other one at its value at ``epoch``.

    Attributes:
        along: the two parameters' names (``History.param_names``): x axis, y axis.
        epoch: the epoch whose other parameters are held.
        loss_name: the run's loss.
        xs, ys: (R,) the grid's values of ``along[0]`` and ``along[1]``.
        loss: (R, R); ``loss[i, j]`` is the loss at ``along[0] = xs[j]``,
            ``along[1] = ys[i]`` (Plotly's contour convention). Not finite where the loss
            overflows float64.
        path: (K, 2) the run's values of the two parameters at epochs 0..K-1.
        optimum: (2,) their values at the least-squares optimum (models linear in their
            parameters under MSE or L2), else None.
    """

    along: tuple[str, str]
    epoch: int
    loss_name: str
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    path: np.ndarray
    optimum: np.ndarray | None

    @property
    def minimum(self) -> tuple[float, float, float] | None:
        """(x, y, loss) of the lowest finite grid point, or None if none is finite."""
        finite = np.isfinite(self.loss)
        if not finite.any():
            return None
        i, j = np.unravel_index(np.argmin(np.where(finite, self.loss, np.inf)), self.loss.shape)
        return float(self.xs[j]), float(self.ys[i]), float(self.loss[i, j])

    def to_dict(self) -> dict:
        """JSON-ready: arrays as lists, values that are not finite as None."""
        return {
            "along": list(self.along),
            "epoch": self.epoch,
            "loss_name": self.loss_name,
            "xs": self.xs.tolist(),
            "ys": self.ys.tolist(),
            "loss": _finite_lists(self.loss),
            "path": self.path.tolist(),
            "optimum": None if self.optimum is None else self.optimum.tolist(),
            "minimum": self.minimum,
        }


def _finite_lists(a: np.ndarray) -> list:
    return np.where(np.isfinite(a), a, None).tolist()


def run_loss(h: History) -> tuple[str, dict]:
    """The loss a run was trained with and every loss setting (its own from ``h.config``,
    the others at their defaults), as the engine takes them."""
    name = h.config["loss"]
    values = settings_values(LOSS_SETTINGS, {s.name: h.config.get(s.name) for s in LOSS_SETTINGS})
    return name, values


def _epoch(h: History, epoch) -> int:
    last = h.last_epoch
    if last < 0:
        raise ValueError("the run has no finite epoch (it diverged at its start)")
    if (
        isinstance(epoch, bool)
        or not isinstance(epoch, (int, np.integer))
        or not 0 <= epoch <= last
    ):
        raise ValueError(f"epoch must be a whole number from 0 to {last}, not {epoch!r}")
    return int(epoch)


def moved_most(h: History) -> tuple[str, str]:
    """The two parameters whose values spanned the widest range over the run (ties: the
    first in ``param_names``), in ``param_names`` order."""
    movement = np.ptp(h.params, axis=0) if len(h.params) else np.zeros(h.model.n_params)
    two = sorted(np.argsort(-movement, kind="stable")[:2])
    return h.param_names[two[0]], h.param_names[two[1]]


def _indices(h: History, along) -> tuple[int, int]:
    names = h.param_names
    if isinstance(along, str) or not isinstance(along, Sequence) or len(along) != 2:
        raise ValueError(f"along names two parameters, e.g. {names[0]},{names[1]}")
    missing = [a for a in along if a not in names]
    if missing:
        raise ValueError(
            f"{h.model.name} has no parameter {missing[0]!r}; its parameters are {', '.join(names)}"
        )
    if along[0] == along[1]:
        raise ValueError(f"along names two different parameters, not {along[0]} twice")
    return names.index(along[0]), names.index(along[1])


def least_squares_points(h: History, epoch: int, i: tuple[int, int]) -> list[np.ndarray]:
    """Where the squared error is least, in the two parameters ``i``: the whole model's
    least-squares optimum and the best of the two with every other parameter at its value
    at ``epoch`` (the bottom of the drawn slice). Empty for models not linear in their
    parameters."""
    if not h.model.linear:
        return []
    x, y = h.x[h.train_mask], h.y[h.train_mask]  # the points the run learns from
    full = h.model.least_squares(x, y)
    design = np.asarray(h.model.family.features(x, **dict(h.model.size)), np.float64)
    others = [k for k in range(h.model.n_params) if k not in i]
    rest = y.reshape(-1) - design[:, others] @ h.params[epoch, others]  # outlines: x, y rows
    part = np.linalg.lstsq(design[:, list(i)], rest, rcond=None)[0]
    return [full[list(i)], part]


def _auto_span(points: np.ndarray) -> tuple[tuple[float, float], ...]:
    out = []
    for lo, hi in zip(points.min(axis=0), points.max(axis=0), strict=True):
        pad_ = MARGIN * (hi - lo) if hi > lo else max(0.25 * abs(lo), 0.5)
        out.append((float(lo - pad_), float(hi + pad_)))
    return tuple(out)


def _check_resolution(resolution) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ValueError(f"resolution must be a whole number, not {resolution!r}")
    if not 2 <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be from 2 to {MAX_RESOLUTION}, not {resolution}")


def _check_span(span) -> tuple[tuple[float, float], ...]:
    try:
        (lo0, hi0), (lo1, hi1) = span
        out = ((float(lo0), float(hi0)), (float(lo1), float(hi1)))
    except (TypeError, ValueError):
        raise ValueError("span is ((low, high), (low, high)), one pair per parameter") from None
    for lo, hi in out:
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"each span must be finite with low < high, not ({lo:g}, {hi:g})")
    return out


def landscape(
    h: History,
    *,
    epoch: int = 0,
    along: Sequence[str] | None = None,
    resolution: int = 61,
    span=None,
) -> Landscape:
    """The run's loss over a grid of two parameters, every other one held at its value at
    ``epoch``, and the run's path in those two.

    Args:
        h: a run (``fit``); its loss and loss settings are read from ``h.config``.
        epoch: 0..``h.last_epoch``.
        along: two names from ``h.param_names`` (``("m", "b")``, ``("W1[0]", "b2")``);
            None for the two that moved most over the run.
        resolution: grid points per axis, 2..501.
        span: ``((lo0, hi0), (lo1, hi1))``; None covers the path (start included) and,
            for models linear in their parameters under MSE or L2, the least-squares
            optimum and the bottom of the slice, with a margin of a tenth each side.

    Raises:
        ValueError: an epoch outside the run, unknown or repeated names, a bad resolution
            or span.
    """
    epoch = _epoch(h, epoch)
    along = moved_most(h) if along is None else along
    i = _indices(h, along)
    along = (str(along[0]), str(along[1]))
    _check_resolution(resolution)
    name, settings = run_loss(h)
    path = h.params[:, list(i)].copy()
    optimum = None
    if span is None:
        best = least_squares_points(h, epoch, i) if name in ("mse", "l2") else []
        optimum = best[0] if best else None
        span = _auto_span(np.vstack([path, *best]))
    elif h.model.linear and name in ("mse", "l2"):
        optimum = least_squares_points(h, epoch, i)[0]
    span = _check_span(span)
    xs = np.linspace(*span[0], int(resolution))
    ys = np.linspace(*span[1], int(resolution))
    x, y, mask = pad(h.x, h.y, h.train_mask)
    grid = _grid_fn(h.model)(
        np.asarray(h.params[epoch], np.float64),
        np.asarray(i, np.int32),
        xs,
        ys,
        x,
        y,
        mask,
        np.int32(loss_index(name)),
        _traced(settings),
    )
    return Landscape(along, epoch, name, xs, ys, np.asarray(grid), path, optimum)


def landscapes(
    h: History, epochs: Sequence[int], *, along: Sequence[str] | None = None, resolution: int = 41
) -> list[Landscape]:
    """``landscape`` at each of ``epochs`` on one shared grid (so that maps of different
    epochs can be shown on the same axes): it covers the whole path and, for models linear
    in their parameters (under any loss: the valley is near there), the least-squares
    optimum and the bottom of every epoch's slice, with a margin of a tenth each side.

    Raises:
        ValueError: as ``landscape``, or no epochs.
    """
    epochs = [_epoch(h, e) for e in epochs]
    if not epochs:
        raise ValueError("give at least one epoch")
    along = moved_most(h) if along is None else along
    i = _indices(h, along)
    points = [h.params[:, list(i)]]
    if h.model.linear:
        for e in epochs:
            points += least_squares_points(h, e, i)
    span = _auto_span(np.vstack(points))
    _check_resolution(resolution)
    name, settings = run_loss(h)
    xs = np.linspace(*span[0], int(resolution))
    ys = np.linspace(*span[1], int(resolution))
    x, y, mask = pad(h.x, h.y, h.train_mask)
    # Every epoch's map in one compiled call (lax.map over the epochs' parameters).
    grids = _grids_fn(h.model)(
        np.asarray(h.params[epochs], np.float64),
        np.asarray(i, np.int32),
        xs,
        ys,
        x,
        y,
        mask,
        np.int32(loss_index(name)),
        _traced(settings),
    )
    optimum = (
        least_squares_points(h, epochs[0], i)[0]
        if h.model.linear and name in ("mse", "l2")
        else None
    )
    path = h.params[:, list(i)].copy()
    names = (str(along[0]), str(along[1]))
    return [
        Landscape(names, e, name, xs, ys, g, path, optimum)
        for e, g in zip(epochs, np.asarray(grids), strict=True)
    ]


@functools.lru_cache(maxsize=32)
def _grids_fn(model: Model):
    """``_grid_fn`` at several parameter vectors, one after another, in one call."""
    one = _grid_fn(model)

    def grids(ps, i, xs, ys, x, y, mask, loss_idx, hyper):
        return lax.map(lambda p: one(p, i, xs, ys, x, y, mask, loss_idx, hyper), ps)

    return jax.jit(grids)


@functools.lru_cache(maxsize=32)
def _grid_fn(model: Model):
    """The loss on a grid, compiled once per model (and data bucket, grid size)."""

    def grid(p, i, xs, ys, x, y, mask, loss_idx, hyper):
        def branch(info):
            def at(a, b):
                q = p.at[i[0]].set(a).at[i[1]].set(b)
                return call(info, model.predict(q, x) - y, mask, hyper)

            row = jax.vmap(at, in_axes=(0, None))
            # One row (every x) at a time: vmapping the rows too would hold R x R x n
            # values (and more for relu-sum and mlp) in memory at once.
            return lambda: lax.map(lambda b: row(xs, b), ys)

        return lax.switch(loss_idx, [branch(info) for info in LOSSES.values()])

    return jax.jit(grid)


def contributions(h: History, epoch: int = 0) -> np.ndarray:
    """Each point's share of the gradient at ``epoch``: (n, P), row i holding
    dL/dpred_i * dpred_i/dp (for L2 = sqrt(MSE) the chain rule's 1 / (2 L2) is in
    dL/dpred_i), so that the rows add up to ``h.grads[epoch]``; 0 for a held-out point.
    For a curve model both coordinates' terms of a point are added: its pull, wherever its
    error points.

    Raises:
        ValueError: an epoch outside the run.
    """
    return contributions_at(h, [epoch])[0]


def contributions_at(h: History, epochs: Sequence[int]) -> np.ndarray:
    """``contributions`` at each of ``epochs`` in one compiled call: (E, n, P).

    Raises:
        ValueError: an epoch outside the run.
    """
    epochs = [_epoch(h, e) for e in epochs]
    name, settings = run_loss(h)
    x, y, mask = pad(h.x, h.y, h.train_mask)
    terms = _terms_fn(h.model)(
        np.asarray(h.params[epochs], np.float64),
        x,
        y,
        mask,
        np.int32(loss_index(name)),
        _traced(settings),
    )
    return np.asarray(terms)[:, : len(h.x)]


def predictions_at(h: History, epochs: Sequence[int]) -> np.ndarray:
    """(E, n) the model's prediction at each point at each of ``epochs``, in one call;
    (E, n, 2) for a curve model."""
    epochs = [_epoch(h, e) for e in epochs]
    return np.asarray(_predict_fn(h.model)(np.asarray(h.params[epochs], np.float64), h.x))


@functools.lru_cache(maxsize=32)
def _predict_fn(model: Model):
    return jax.jit(jax.vmap(model.predict, in_axes=(0, None)))


@functools.lru_cache(maxsize=32)
def _terms_fn(model: Model):
    def terms(p, x, y, mask, loss_idx, hyper):
        pred = model.predict(p, x)
        d_pred = jax.grad(lambda q: switch_loss(loss_idx, q - y, mask, hyper))(pred)
        jac = jax.jacfwd(model.predict)(p, x)  # (n, P); (n, 2, P) for a curve
        return point_terms(d_pred, jac) * mask[:, None]

    return jax.jit(jax.vmap(terms, in_axes=(0, None, None, None, None, None)))


def grad_scales(h: History) -> np.ndarray:
    """(K, P) for each finite epoch k the sum over the points of the sizes of their terms
    in the gradient, sum_i |dL/dpred_i * dpred_i/dp| (``contributions``): the size a
    gradient entry is rounding noise next to (``rounding_noise``)."""
    last = h.last_epoch
    if last < 0:
        return np.zeros((0, h.model.n_params))
    name, settings = run_loss(h)
    x, y, mask = pad(h.x, h.y, h.train_mask)
    out = _scale_fn(h.model)(
        np.asarray(h.params[: last + 1], np.float64),
        x,
        y,
        mask,
        np.int32(loss_index(name)),
        _traced(settings),
    )
    return np.asarray(out)


def rounding_noise(grads: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """True where a gradient entry is rounding noise around 0: not 0, but at most ROUNDING_NOISE
    times the sizes of the terms it adds up (their sum is 0 in exact arithmetic)."""
    grads = np.asarray(grads)
    return (grads != 0) & (np.abs(grads) <= ROUNDING_NOISE * np.asarray(scales))


@functools.lru_cache(maxsize=32)
def _scale_fn(model: Model):
    def scale(ps, x, y, mask, loss_idx, hyper):
        def one(p):
            pred = model.predict(p, x)
            d_pred = jax.grad(lambda q: switch_loss(loss_idx, q - y, mask, hyper))(pred)
            jac = jax.jacfwd(model.predict)(p, x)  # (n, P); (n, 2, P) for a curve
            return jax.numpy.sum(jax.numpy.abs(point_terms(d_pred, jac) * mask[:, None]), axis=0)

        # A few epochs at a time: all of a long run's (K, n, P) terms at once would not fit.
        return lax.map(one, ps, batch_size=64)

    return jax.jit(scale)


def slopes(
    h: History,
    epochs: Sequence[int],
    along: Sequence[int],
    spans: np.ndarray,
    points: int = 41,
) -> np.ndarray:
    """The loss along each parameter in ``along``, every other parameter held at its value
    at each epoch of ``epochs``: (E, S, points), entry [e, s, j] the loss with parameter
    ``along[s]`` at ``linspace(*spans[s], points)[j]`` and the others at
    ``params[epochs[e]]``. One compiled call, vmapped over the epochs, the parameters and
    the grid; another run, epoch or span never recompiles."""
    epochs = np.asarray(epochs, np.int64)
    along = np.asarray(along, np.int32)
    spans = np.asarray(spans, np.float64).reshape(len(along), 2)
    name, settings = run_loss(h)
    x, y, mask = pad(h.x, h.y, h.train_mask)
    grids = np.stack([np.linspace(lo, hi, int(points)) for lo, hi in spans])
    out = _slopes_fn(h.model)(
        np.asarray(h.params[epochs], np.float64),
        along,
        grids,
        x,
        y,
        mask,
        np.int32(loss_index(name)),
        _traced(settings),
    )
    return np.asarray(out)


@functools.lru_cache(maxsize=32)
def _slopes_fn(model: Model):
    def slopes(ps, along, grids, x, y, mask, loss_idx, hyper):
        def one(p, i, v):
            q = p.at[i].set(v)
            return switch_loss(loss_idx, model.predict(q, x) - y, mask, hyper)

        over_v = jax.vmap(one, in_axes=(None, None, 0))
        over_s = jax.vmap(over_v, in_axes=(None, 0, 0))
        return jax.vmap(over_s, in_axes=(0, None, None))(ps, along, grids)

    return jax.jit(slopes)


__all__ = [
    "ROUNDING_NOISE",
    "Landscape",
    "contributions",
    "contributions_at",
    "grad_scales",
    "landscape",
    "landscapes",
    "moved_most",
    "predictions_at",
    "rounding_noise",
    "run_loss",
    "slopes",
]
