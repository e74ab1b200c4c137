"""The engine: every epoch of gradient descent in one compiled call, with its history.

``train`` pads the data to a size bucket and calls a function compiled once per model
structure, data bucket and batch size. It holds one loop per (loss, optimizer) pair,
picked by a traced index; the loop runs for a traced number of epochs and writes each
epoch's parameters, loss and gradient into history buffers sized for ``MAX_EPOCHS``. So
the number of epochs, the learning rate, the loss, the optimizer and its settings, the
seed and the initial values are all traced: changing them never recompiles, and a short
run does not pay for the longest one. The animation's frames are computed when first
drawn (``History.frame_preds``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from .data import PRESETS, Dataset
from .losses import LOSS_SETTINGS, LOSSES, Loss, call, every_loss, loss_index, switch_loss
from .models import MODELS, Model
from .optim import (
    OPTIMIZER_SETTINGS,
    OPTIMIZERS,
    Optimizer,
    build,
    init_states,
    optimizer_index,
    switch_update,
)
from .registry import LOSS, OPTIMIZER
from .settings import EPOCHS, LR, MAX_EPOCHS, SEED, settings_values

# The traced float settings, by name: the learning rate and every loss's and optimizer's
# own settings (all carried, so changing the loss or optimizer never recompiles).
HYPER_SETTINGS = (LR, *LOSS_SETTINGS, *OPTIMIZER_SETTINGS)
CHUNK = 64  # history buffers hold a whole number of chunks of epochs
# Curves drawn for the player, whatever the number of epochs: every epoch of runs up to
# 1,000 epochs; longer runs get every one of the first DENSE_FRAMES epochs (where the fit
# moves most) and geometric spacing after, always ending on the last epoch.
MAX_FRAMES = 1001
DENSE_FRAMES = 250
GRID = 200  # points on the curve drawn for each frame
_N_CHUNKS = -(-(MAX_EPOCHS + 1) // CHUNK)


@dataclass(frozen=True)
class History:
    """A whole run: for each epoch k = 0..K-1 the parameters before update k, the loss
    and the gradient at them. K = epochs + 1, or ``diverged_at`` when the run diverged
    (only the finite part is kept).

    Attributes:
        model: the model trained.
        x, y: the target points (n,); for an outline (a curve model, ``outputs == 2``) x
            holds t and y is (n, 2), the points' x and y.
        params: (K, P) parameters, columns named by ``param_names``.
        loss: (K,) the training loss at ``params[k]``.
        grads: (K, P) gradient of the loss at ``params[k]`` (over the training points).
        diverged_at: first epoch whose loss, parameters or gradient is not finite, or None.
        config: the settings of the run (JSON-serialisable).
        epochs: the epochs asked for (the history stops early when the run diverges).
        val_mask: (n,) bool, True for the points held out of training (the ``validation``
            setting); all False when none are. ``loss`` and ``grads`` are over the others.
        val_loss: (K,) the same loss on the held-out points at ``params[k]``, or None when
            no point is held out.
        frame_epochs: (F,) epochs that have an animation frame (F <= MAX_FRAMES).
        grid: (G,) x values of the drawn curves; for a curve model, t from 0 to 1
            (``Model.curve_grid``: GRID values and the model's corners).
        frame_preds: (F, G) predictions on ``grid`` at each frame epoch; for a curve
            model (F, G, 2), the curve's points (x(t), y(t)).
    """

    model: Model
    x: np.ndarray
    y: np.ndarray
    params: np.ndarray
    loss: np.ndarray
    grads: np.ndarray
    diverged_at: int | None
    config: dict
    epochs: int
    val_mask: np.ndarray | None = None
    val_loss: np.ndarray | None = None

    def __post_init__(self):
        if self.val_mask is None:
            mask = np.zeros(len(self.x), bool)
        else:
            mask = np.array(self.val_mask, bool).reshape(-1)
            if mask.shape != (len(self.x),):
                raise ValueError(f"val_mask has {mask.size} entries for {len(self.x)} points")
        mask.flags.writeable = False
        object.__setattr__(self, "val_mask", mask)

    @property
    def train_mask(self) -> np.ndarray:
        """(n,) bool: the points the run trained on (every point not held out)."""
        return ~self.val_mask

    # The animation's frames are computed on first use (the player, the exported
    # animation), not by ``train``: a run that is never drawn (the command line, the API,
    # a comparison's table) does not pay for 1,001 x GRID predictions.
    @property
    def frame_epochs(self) -> np.ndarray:
        return self._frames[0]

    @property
    def grid(self) -> np.ndarray:
        return self._frames[1]

    @property
    def frame_preds(self) -> np.ndarray:
        return self._frames[2]

    @functools.cached_property
    def _frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frames = frame_epochs(self.epochs)
        frames = frames[frames < len(self.loss)]
        out = (2,) if self.model.outputs == 2 else ()
        if out:  # a curve in the plane: the whole of t, no margin (it closes on itself)
            grid = self.model.curve_grid(GRID)
        else:
            span = float(self.x.max() - self.x.min()) or 1.0
            grid = np.linspace(
                self.x.min() - 0.05 * span, self.x.max() + 0.05 * span, GRID, dtype=np.float64
            )
        if frames.size:
            # Padded to MAX_FRAMES rows: one compiled function per model structure.
            idx = np.full(MAX_FRAMES, frames[-1])
            idx[: frames.size] = frames
            preds = np.asarray(_frames_fn(self.model)(self.params[idx], grid))[: frames.size]
        else:
            preds = np.zeros((0, GRID, *out), np.float64)
        keep = np.isfinite(preds).reshape(len(preds), -1).all(axis=1)
        frames, preds = frames[keep], preds[keep]
        for arr in (frames, grid, preds):
            arr.flags.writeable = False  # the app shares one History between sessions
        return frames, grid, preds

    @property
    def param_names(self) -> list[str]:
        return self.model.layout

    @property
    def last_epoch(self) -> int:
        """The last epoch with finite values (epochs, or diverged_at - 1)."""
        return len(self.loss) - 1

    def params_at(self, epoch: int) -> dict[str, np.ndarray]:
        """Named parameters before update ``epoch``."""
        return self.model.unflatten(self.params[epoch])

    def predict(self, epoch: int, x: np.ndarray) -> np.ndarray:
        """The model's predictions at ``x`` with the parameters of ``epoch``; (n, 2) for a
        curve model, x then holding t."""
        return np.asarray(_predict_fn(self.model)(self.params[epoch], jnp.asarray(x, jnp.float64)))

    def to_dict(self) -> dict:
        """The JSON schema of ``python -m explorer fit --json``; a run with held-out points
        adds ``held_out`` (their indices) and each epoch's ``val_loss`` (null where it
        overflows). For an outline, ``x`` holds t, ``y`` the targets as [x, y] pairs, and
        ``curve`` the last epoch's curve: ``{"t": [...], "points": [[x, y], ...]}`` on
        ``grid``."""
        rows = []
        for k in range(len(self.loss)):
            row = {
                "epoch": k,
                "loss": float(self.loss[k]),
                "params": _named_lists(self.model, self.params[k]),
                "grads": _named_lists(self.model, self.grads[k]),
            }
            if self.val_loss is not None:
                v = float(self.val_loss[k])
                row["val_loss"] = v if np.isfinite(v) else None
            rows.append(row)
        out = {
            "config": self.config,
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "param_names": self.param_names,
            "param_groups": self.model.groups,
            "history": rows,
            "diverged_at": self.diverged_at,
        }
        if self.val_loss is not None:
            out["held_out"] = np.flatnonzero(self.val_mask).tolist()
        if self.model.outputs == 2:
            last = [] if self.last_epoch < 0 else self.predict(self.last_epoch, self.grid)
            points = np.asarray(last, np.float64).tolist()
            out["curve"] = {"t": self.grid.tolist() if len(points) else [], "points": points}
        return out


def _named_lists(model: Model, flat: np.ndarray) -> dict:
    return {k: np.asarray(v, np.float64).tolist() for k, v in model.unflatten(flat).items()}


@functools.lru_cache(maxsize=32)
def _predict_fn(model: Model):
    return jax.jit(model.predict)


@functools.lru_cache(maxsize=32)
def _frames_fn(model: Model):
    """Predictions on a grid for each row of (MAX_FRAMES, P) parameters."""
    return jax.jit(jax.vmap(model.predict, in_axes=(0, None)))


def enable_compile_cache(path: str | None = None) -> None:
    """Keep compiled engines on disk, so that a new process (the app, the command line)
    starts in a fraction of a second instead of recompiling. Entry points call this; the
    library on its own leaves JAX's settings alone.
    """
    path = (
        path
        or os.environ.get("GRADIENT_EXPLORER_CACHE")
        or str(Path.home() / ".cache" / "gradient-explorer" / "jax")
    )
    if jax.config.jax_compilation_cache_dir != path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@functools.lru_cache(maxsize=32)
def _evaluate_fn(model: Model):
    def evaluate(p, x, y, mask, loss_idx, hyper):
        def loss_at(q):
            return switch_loss(loss_idx, model.predict(q, x) - y, mask, hyper)

        value, grad = jax.value_and_grad(loss_at)(p)
        pred = model.predict(p, x)
        # The gradient is a sum over the points of dL/dpred_i * dpred_i/dp; the sum of
        # the sizes of those terms tells a gradient that is rounding noise (tiny next to
        # its terms) from a real one.
        d_pred = jax.grad(lambda q: switch_loss(loss_idx, q - y, mask, hyper))(pred)
        jac = jax.jacfwd(model.predict)(p, x)  # (n, P), or (n, 2, P) for a curve
        scale = jnp.sum(jnp.abs(point_terms(d_pred, jac)) * mask[:, None], axis=0)
        return value, grad, scale, every_loss(pred - y, mask, hyper)

    return jax.jit(evaluate)


def point_terms(d_pred: jax.Array, jac: jax.Array) -> jax.Array:
    """(n, P) each point's term of the gradient, dL/dpred_i · dpred_i/dp, from ``d_pred``
    (n,) and the model's Jacobian ``jac`` (n, P); for a curve model, ``d_pred`` (n, 2)
    and ``jac`` (n, 2, P), the point's two coordinates' terms added."""
    if d_pred.ndim == 2:
        return jnp.einsum("no,nop->np", d_pred, jac)
    return d_pred[:, None] * jac


@dataclass(frozen=True)
class Evaluation:
    """One set of parameters measured on the points."""

    loss: float  # the chosen loss
    grad: np.ndarray  # (P,) its gradient
    metrics: dict[str, float]  # every registered loss, by name
    # (P,) the sum over the points of |dL/dpred_i * dpred_i/dp|: the size of the terms
    # that each gradient entry adds up. An entry far below it (1e-9 of it, say) is
    # rounding noise around 0, and 0 when every term is 0.
    grad_scale: np.ndarray


def evaluate(
    model: Model,
    params: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    loss: str = LOSS.default,
    **settings,
) -> Evaluation:
    """The loss of flat ``params`` (P,) on the points, its gradient and every metric, as
    the engine computes them, and the size of the gradient's per-point terms; the losses'
    settings by name (``huber_delta=1.0``), their defaults otherwise. The points are padded
    like the engine's, so moving a slider (fit by hand) or changing the number of points
    within a bucket never recompiles."""
    xp, yp, mask = pad(x, y)
    value, grad, scale, every = _evaluate_fn(model)(
        np.asarray(params, np.float64),
        xp,
        yp,
        mask,
        np.int32(loss_index(loss)),
        _traced(settings_values(LOSS_SETTINGS, settings)),
    )
    metrics = dict(zip(LOSSES, np.asarray(every).tolist(), strict=True))
    return Evaluation(float(value), np.asarray(grad), metrics, np.asarray(scale))


def pad(
    x: np.ndarray, y: np.ndarray, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y padded with zeros to ``bucket_size(n)``, and the 0/1 mask of the real points;
    ``keep`` (n,) bool leaves out the points it marks False (held-out points) as well.
    y may be (n, 2), an outline's points: padded to (size, 2)."""
    n = len(x)
    size = bucket_size(n)
    xp, mask = np.zeros(size, np.float64), np.zeros(size, np.float64)
    yp = np.zeros((size, *np.shape(y)[1:]), np.float64)
    xp[:n], yp[:n], mask[:n] = x, y, 1.0 if keep is None else keep
    return xp, yp, mask


def bucket_size(n: int) -> int:
    """Padded data size: 32, then steps of 1/8 of a power of two (at most 12.5% waste),
    so that most changes of the number of points reuse a compiled engine."""
    if n <= 32:
        return 32
    power = 1 << (n - 1).bit_length() - 1  # largest power of two below n
    step = power // 8
    return -(-n // step) * step


def frame_epochs(epochs: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Epochs that get an animation frame: all of them for short runs, otherwise every
    one of the first ``DENSE_FRAMES`` and geometric spacing after, always ending on the
    last epoch."""
    if epochs + 1 <= max_frames:
        return np.arange(epochs + 1)
    dense = min(DENSE_FRAMES, max_frames // 4)
    tail = np.geomspace(dense, epochs, max_frames - dense)
    chosen = np.unique(np.concatenate([np.arange(dense), np.round(tail).astype(int)]))
    chosen[-1] = epochs
    return chosen


# The engine's branches: one loop per (loss, optimizer) pair, chosen by
# ``branch_index(loss, optimizer)``.
PAIRS: tuple[tuple[Loss, Optimizer], ...] = tuple(
    (info, opt) for info in LOSSES.values() for opt in OPTIMIZERS.values()
)


def branch_index(loss: str, optimizer: str) -> int:
    """The engine's branch (in ``PAIRS``) of a loss and an optimizer."""
    return loss_index(loss) * len(OPTIMIZERS) + optimizer_index(optimizer)


# Compiles of whole engines run here, one at a time, in the background (see Engine).
_COMPILES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explorer-compile")


_BACKGROUND = [False]


def compile_in_background(on: bool = True) -> None:
    """Whether engines compile the pairs a call has not asked for in the background. The
    app turns it on (``streamlit_app.py``): a setting changed later never waits for a
    compile. Off by default: a short-lived process (the command line, a script) would wait
    at exit for compiles it never uses; each pair it runs is compiled when first asked
    for instead."""
    _BACKGROUND[0] = bool(on)


def wait_for_compiles() -> None:
    """Return once every engine compiling in the background is compiled (for tests that
    count compilations, and for timing)."""
    _COMPILES.submit(lambda: None).result()  # one worker: runs after the earlier ones


@functools.lru_cache(maxsize=32)
def engine(model: Model, batch_size: int | None, size: int) -> Engine:
    """The compiled runs for one model structure, batch size (None = full batch) and
    padded data size (``size`` only keys the cache: an Engine compiles for the shapes of
    its first call)."""
    return Engine(model, batch_size)


class Engine:
    """The compiled runs of one model structure, batch size and data bucket.

    The loss and the optimizer are chosen once, outside the loop: one copy of the loop per
    (loss, optimizer) pair, picked by one ``lax.switch`` on a traced index (``PAIRS``), so
    changing either never recompiles. Inside a loop a switch runs every epoch as a
    separate call and keeps XLA from fusing the model's forward pass, the loss, its
    gradient and the step into a few kernels: on the lesson's 20 points an epoch took
    about 1.1 us with the optimizer's switch in the loop and 0.2-0.3 us without (and about
    1.6x slower on 10,000 points with the loss's switch).

    Compiling every pair takes about 1 s; one pair alone about a third of that. So the
    first call compiles its own pair, starts compiling the whole engine in the background
    and runs; later calls with another pair run the whole engine, waiting for it if it is
    not ready yet. A setting changed after the first call never starts a compile.

    A pair used alone, without the switch over twelve branches, costs about 0.07 ms a
    call instead of 0.2 ms, and an epoch about 0.16 us instead of 0.24 us (the lesson's 20
    points). So the first pair keeps its own executable, and each other pair, the first
    time it is used, runs through the whole engine while its own executable compiles in
    the background (about 0.3 s); from then on it takes the faster path too. No call ever
    waits for a compile but the first call's and, until it is ready, the whole engine's.
    Both paths give the same numbers to the last bit (checked for every pair, full batch
    and mini-batches).
    """

    def __init__(self, model: Model, batch_size: int | None):
        self.model, self.batch_size = model, batch_size
        self._lock = threading.Lock()
        self._whole: Future | None = None  # every pair, compiling in the background
        self._alone: dict[int, Future] = {}  # each pair used so far, compiled alone

    def __call__(self, x, y, mask, p0, hyper, choice):
        # hyper: the float settings by name (HYPER_SETTINGS); choice: the whole ones,
        # "branch" indexing PAIRS.
        args = (x, y, mask, p0, hyper, choice)
        branch = int(choice["branch"])
        with self._lock:
            if not _BACKGROUND[0] and branch not in self._alone:
                done: Future = Future()
                done.set_result(self._compile((branch,), args))
                self._alone[branch] = done
            if self._whole is None and branch not in self._alone:
                first: Future = Future()
                first.set_result(self._compile((branch,), args))
                self._alone[branch] = first
            if self._whole is None and _BACKGROUND[0]:
                self._whole = _COMPILES.submit(self._compile, range(len(PAIRS)), args)
            alone = self._alone.get(branch)
            if alone is None:
                self._alone[branch] = _COMPILES.submit(self._compile, (branch,), args)
        if alone is not None and alone.done():
            return alone.result()(*args)
        return self._whole.result()(*args)

    def _compile(self, branches, args) -> Callable:
        loops = [
            functools.partial(_history, self.model, self.batch_size, info, optimizer=opt)
            for info, opt in (PAIRS[b] for b in branches)
        ]

        def run(x, y, mask, p0, hyper, choice):
            if len(loops) == 1:
                return loops[0](x, y, mask, p0, hyper, choice)
            return lax.switch(choice["branch"], loops, x, y, mask, p0, hyper, choice)

        return jax.jit(run).lower(*args).compile()


def _history(
    model: Model,
    batch_size: int | None,
    info: Loss,
    x,
    y,
    mask,
    p0,
    hyper,
    choice,
    n_chunks=_N_CHUNKS,
    optimizer: Optimizer | None = None,
    summary: bool = False,
):
    """Every epoch of one run with the loss ``info`` (traced inside ``engine``).

    ``summary``: instead of the history, only what a learning-rate sweep reads of it
    (``explorer.rates``): the loss at the last finite epoch, the lowest finite loss, the
    first epoch whose loss, parameters or gradient is not finite (-1 for none) and the
    start's loss, without writing every epoch's row (NaN for a run not finite at its
    start).

    ``optimizer`` fixes the optimizer; None picks it with a switch on
    ``choice["optimizer"]`` at every step (``explorer.rates`` and ``explorer.lrfind``,
    which compile one loop per loss only). The history buffers hold ``n_chunks * CHUNK``
    epochs (all MAX_EPOCHS + 1 by default); a caller that knows the run is shorter passes
    fewer (``explorer.rates`` vmaps this over learning rates, where 10,000-epoch buffers
    per run would dominate). ``hyper["lr"]`` reaches only the optimizers' ``make``, so it
    may be an optax schedule (``explorer.lrfind``)."""

    def loss_at(p, x, y, mask):
        return call(info, model.predict(p, x) - y, mask, hyper)

    value_and_grad = jax.value_and_grad(loss_at)
    epochs = choice["epochs"]
    key = jax.random.PRNGKey(choice["seed"])
    # A run that continues another from its epoch k (``explorer.branch``) draws the
    # shuffles that run would have drawn from epoch k on.
    offset = choice.get("first_epoch", 0)
    n = jnp.sum(mask)
    if optimizer is None:
        states0 = init_states(hyper, p0)

        def update(g, states, p):
            return switch_update(choice["optimizer"], hyper, g, states, p)

    else:
        transform = build(optimizer, hyper)
        states0 = transform.init(p0)

        def update(g, states, p):
            updates, states = transform.update(g, states, p)
            return optax.apply_updates(p, updates), states

    def minibatch_epoch(p, states, k):
        # Real points first, in a fresh random order each epoch; padding last.
        order = jnp.argsort(
            jax.random.uniform(jax.random.fold_in(key, k + offset), mask.shape) + 2 * (1 - mask)
        )
        order = jnp.concatenate([order, jnp.zeros(batch_size, order.dtype)])
        n_batches = jnp.ceil(n / batch_size).astype(jnp.int32)

        def batch_step(j, carry):
            p, states = carry
            idx = lax.dynamic_slice(order, (j * batch_size,), (batch_size,))
            in_batch = (j * batch_size + jnp.arange(batch_size)) < n
            _, g = value_and_grad(p, x[idx], y[idx], in_batch.astype(x.dtype))
            return update(g, states, p)

        return lax.fori_loop(0, n_batches, batch_step, (p, states))

    if batch_size is None:
        # Full batch: epoch k first takes the step with the gradient of epoch k - 1 (none
        # at epoch 0, which keeps the start), then measures the loss and gradient at the
        # new parameters. Written this way, the step, the forward pass and the gradient's
        # sums fuse into a few kernels per epoch; with the step at the end of the epoch
        # XLA kept the gradient apart and an epoch took several times longer. The numbers
        # are the same: each step is p - lr*g with the g recorded for the epoch before.
        def epoch(k, state):
            p, g, states = state
            new_p, new_states = update(g, states, p)
            first = k == 0
            p = jnp.where(first, p, new_p)
            states = jax.tree.map(lambda a, b: jnp.where(first, a, b), states, new_states)
            loss, g = value_and_grad(p, x, y, mask)
            return (p, g, states), (p, loss, g)

        state = (p0, jnp.zeros_like(p0), states0)
    else:

        def epoch(k, state):
            p, states = state
            loss, g = value_and_grad(p, x, y, mask)
            return minibatch_epoch(p, states, k), (p, loss, g)

        state = (p0, states0)

    if summary:

        def watch(k, carry):
            state, last, best, bad, first = carry
            state, (p, loss, g) = epoch(k, state)
            finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(p)) & jnp.all(jnp.isfinite(g))
            kept = (bad < 0) & finite
            bad = jnp.where((bad < 0) & ~finite, k, bad)
            last = jnp.where(kept, loss, last)
            best = jnp.where(kept, jnp.minimum(best, loss), best)
            first = jnp.where(k == 0, loss, first)
            return state, last, best, bad, first

        nan = jnp.full((), jnp.nan, p0.dtype)
        carry = (state, nan, jnp.full((), jnp.inf, p0.dtype), jnp.full((), -1, jnp.int32), nan)
        _, last, best, bad, first = lax.fori_loop(0, epochs + 1, watch, carry)
        return last, jnp.where(jnp.isinf(best), jnp.nan, best), bad, first

    def body(k, carry):
        # One epoch, its row written in place. (A loop over epochs with a dynamic count,
        # rather than a scan over fixed chunks inside a loop: as fast, and half the
        # compile time of the nested loops.)
        state, hist_p, hist_l, hist_g = carry
        state, (p, loss, g) = epoch(k, state)
        zero = jnp.zeros((), k.dtype)
        hist_p = lax.dynamic_update_slice(hist_p, p[None], (k, zero))
        hist_l = lax.dynamic_update_slice(hist_l, loss[None], (k,))
        hist_g = lax.dynamic_update_slice(hist_g, g[None], (k, zero))
        return state, hist_p, hist_l, hist_g

    size = n_chunks * CHUNK
    carry = (
        state,
        jnp.zeros((size, p0.shape[0]), p0.dtype),
        jnp.zeros((size,), p0.dtype),
        jnp.zeros((size, p0.shape[0]), p0.dtype),
    )
    _, hist_p, hist_l, hist_g = lax.fori_loop(0, epochs + 1, body, carry)
    return hist_p, hist_l, hist_g


def train(
    data: Dataset,
    model: Model,
    p0: np.ndarray,
    *,
    loss: str = LOSS.default,
    optimizer: str = OPTIMIZER.default,
    lr: float = LR.default,
    epochs: int = EPOCHS.default,
    batch_size: int | None = None,
    seed: int = SEED.default,
    config: dict | None = None,
    val_mask: np.ndarray | None = None,
    first_epoch: int = 0,
    **settings,
) -> History:
    """Run gradient descent and return its whole history.

    Args:
        data: the target points.
        model: the model (its size fixed).
        p0: (P,) initial flat parameters (``model.init``).
        loss: a key of ``losses.LOSSES``.
        optimizer: a key of ``optim.OPTIMIZERS``.
        lr: learning rate, >= 0.
        epochs: passes over the data, 0..MAX_EPOCHS (one step each, or one per mini-batch).
        batch_size: mini-batch size with a shuffle seeded by ``seed`` each epoch; None
            (or >= the number of points) for full batch.
        seed: seed of the shuffle.
        **settings: the losses' and optimizers' own settings by name (``momentum``,
            ``beta1``, ``beta2``, ``huber_delta``); unset ones take their defaults.
        config: what to record as the run's settings (defaults to these arguments).
        val_mask: (n,) bool, the points held out of training (None: none). The engine
            trains on the others through its mask (no recompile) and ``History.val_loss``
            measures the same loss on these at every epoch.
        first_epoch: the epoch this run's epoch 0 stands for in the mini-batch shuffle:
            a run continuing another from its epoch k (``explorer.branch``) passes k and
            draws the shuffles that run would have drawn from there.

    Returns:
        The History.
    """
    unknown = sorted(set(settings) - {s.name for s in HYPER_SETTINGS})
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}")
    hyper = settings_values(HYPER_SETTINGS, {**settings, "lr": lr})
    epochs = EPOCHS.check(epochs)
    seed = SEED.check(seed)
    if val_mask is not None:
        val_mask = np.asarray(val_mask, bool).reshape(-1)
        if val_mask.shape != (data.n,):
            raise ValueError(f"val_mask has {val_mask.size} entries for {data.n} points")
        if val_mask.all():
            raise ValueError("val_mask holds out every point: none is left to train on")
        if not val_mask.any():
            val_mask = None
    if isinstance(first_epoch, bool) or int(first_epoch) != first_epoch:
        raise ValueError("first_epoch must be a whole number")
    if not 0 <= first_epoch <= 2**30:  # k + first_epoch stays an int32 in the engine
        raise ValueError("first_epoch must be from 0 to 2**30")
    first_epoch = int(first_epoch)
    n = data.n if val_mask is None else int(np.sum(~val_mask))  # the training points
    if batch_size is not None:
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError("batch size must be a whole number >= 1")
        batch_size = None if batch_size >= n else int(batch_size)
    check_outputs(data, model)
    x, y, mask = pad(data.x, data.y, None if val_mask is None else ~val_mask)
    p0 = np.asarray(p0, np.float64)
    if p0.shape != (model.n_params,):
        raise ValueError(f"{model.name} takes {model.n_params} parameters, got shape {p0.shape}")

    choice = dict(
        branch=np.int32(branch_index(loss, optimizer)),
        epochs=np.int32(epochs),
        seed=np.uint32(seed),
        first_epoch=np.int32(first_epoch),
    )
    out = engine(model, batch_size, x.size)(x, y, mask, p0, _traced(hyper), choice)
    k = int(epochs) + 1
    # Copies of the epochs run (np.asarray is a view of the result on the CPU), so that a
    # cached short run does not keep the MAX_EPOCHS-long buffers alive.
    hist_p, hist_l, hist_g = (np.asarray(a)[:k].copy() for a in out)
    finite = np.isfinite(hist_l) & np.isfinite(hist_p).all(axis=1) & np.isfinite(hist_g).all(axis=1)
    diverged_at = None if finite.all() else int(np.argmin(finite))
    if diverged_at is not None:
        hist_p, hist_l, hist_g = hist_p[:diverged_at], hist_l[:diverged_at], hist_g[:diverged_at]
    if config is None:
        config = dict(
            model=model.name,
            **dict(model.size),
            loss=loss,
            optimizer=optimizer,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            **hyper,
        )
    val_loss = None
    if val_mask is not None:
        val_loss = held_out_loss(
            model, hist_p, data.x[val_mask], data.y[val_mask], loss, **_loss_settings(hyper)
        )
    for arr in (hist_p, hist_l, hist_g, *(() if val_loss is None else (val_loss,))):
        arr.flags.writeable = False  # the app shares one History between sessions
    return History(
        model=model,
        x=data.x,
        y=data.y,
        params=hist_p,
        loss=hist_l,
        grads=hist_g,
        diverged_at=diverged_at,
        config=config,
        epochs=int(epochs),
        val_mask=val_mask,
        val_loss=val_loss,
    )


def check_outputs(data: Dataset, model: Model) -> None:
    """ValueError unless the model draws what the data holds: a curve (x(t), y(t)) for an
    outline's points in the plane, a function y(x) for the others."""
    if data.outputs == model.outputs:
        return
    if data.outputs == 2:
        raise ValueError(
            f"the {data.name} preset is an outline of points in the plane, drawn by a curve "
            f"t → (x(t), y(t)): choose a curve model ({', '.join(curve_models())}), "
            f"not {model.name}"
        )
    raise ValueError(
        f"{model.name} draws a curve t → (x(t), y(t)) in the plane: it fits the outline "
        f"presets ({', '.join(p.name for p in PRESETS.values() if p.outputs == 2)}); "
        f"choose a model of y(x) for {data.name}"
    )


def curve_models() -> list[str]:
    """The models that draw a curve in the plane (two outputs), in registry order."""
    return [name for name, f in MODELS.items() if f.outputs == 2]


def _loss_settings(hyper: dict) -> dict:
    return {s.name: hyper[s.name] for s in LOSS_SETTINGS}


def held_out_loss(
    model: Model, params: np.ndarray, x: np.ndarray, y: np.ndarray, loss: str, **settings
) -> np.ndarray:
    """The loss ``loss`` at each row of ``params`` (K, P) on the points (x, y), in float64:
    a run's loss on its held-out points at every epoch.

    One compiled call per model structure, bucket of points and bucket of rows (powers of
    two from 64): the rows are mapped over in batches (vmapped within a batch, so an MLP's
    hidden layer for all the points of every row in a batch stays within about 2**22
    numbers); the loss and its settings are traced.

    Returns:
        (K,) float64.
    """
    params = np.asarray(params, np.float64)
    k = params.shape[0]
    if k == 0:
        return np.zeros(0, np.float64)
    rows = max(64, 1 << (k - 1).bit_length())
    idx = np.minimum(np.arange(rows), k - 1)  # padded with the last row
    xp, yp, mask = pad(np.asarray(x, np.float64), np.asarray(y, np.float64))
    out = _held_out_fn(model)(
        params[idx],
        xp,
        yp,
        mask,
        np.int32(loss_index(loss)),
        _traced(settings_values(LOSS_SETTINGS, settings)),
    )
    return np.asarray(out)[:k].copy()


@functools.lru_cache(maxsize=32)
def _held_out_fn(model: Model):
    def losses(ps, x, y, mask, loss_idx, hyper):
        def one(p):
            return switch_loss(loss_idx, model.predict(p, x) - y, mask, hyper)

        batch = int(min(ps.shape[0], max(1, 2**22 // (x.shape[0] * ps.shape[1]))))
        return lax.map(one, ps, batch_size=batch)

    return jax.jit(losses)


def _traced(values: dict) -> dict:
    """Float settings as float64 scalars (one dtype, so a new value never recompiles)."""
    return {k: np.float64(v) for k, v in values.items()}
