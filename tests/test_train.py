"""The engine: the update rule exactly, the history against NumPy and finite differences,
known optima, divergence, determinism, frames, and no recompilation for traced settings.

Most runs share one compiled engine (quadratic model, data bucket of 32, full batch) so the
suite stays fast.
"""

import itertools
import threading
from fractions import Fraction

import jax
import numpy as np
import pytest
from reference import finite_differences, lesson_points, np_loss, np_sgd

from explorer import Dataset, compare, fit, make_preset
from explorer.losses import LOSSES
from explorer.models import build_model
from explorer.optim import OPTIMIZERS
from explorer.settings import settings_values
from explorer.train import (
    DENSE_FRAMES,
    GRID,
    HYPER_SETTINGS,
    MAX_EPOCHS,
    MAX_FRAMES,
    PAIRS,
    Engine,
    _traced,
    bucket_size,
    compile_in_background,
    evaluate,
    frame_epochs,
    pad,
    train,
    wait_for_compiles,
)

QUAD = build_model("quadratic")
NOISY = make_preset("fastai-quadratic")  # 20 points
X = np.linspace(-2, 2, 20)
CLEAN = Dataset(X, 3 * X**2 + 2 * X + 1, "clean quadratic")
P0 = QUAD.init(0)


def np_quad(params, x):
    a, b, c = np.asarray(params, np.float64)
    return a * x**2 + b * x + c


def points(data: Dataset):
    """The points as the engine sees them: float64, as the Dataset holds them."""
    return np.asarray(data.x, np.float64), np.asarray(data.y, np.float64)


def test_history_has_one_entry_per_epoch_plus_the_start():
    h = train(NOISY, QUAD, P0, loss="l2", lr=0.01, epochs=25)
    assert h.params.shape == (26, 3)
    assert h.loss.shape == (26,)
    assert h.grads.shape == (26, 3)
    assert h.params.dtype == h.loss.dtype == h.grads.dtype == np.float64
    np.testing.assert_array_equal(h.params[0], P0)
    assert h.diverged_at is None
    assert h.last_epoch == 25
    assert h.param_names == ["a", "b", "c"]
    assert h.params_at(3) == {"a": h.params[3, 0], "b": h.params[3, 1], "c": h.params[3, 2]}
    np.testing.assert_array_equal(h.x, NOISY.x)
    np.testing.assert_array_equal(h.y, NOISY.y)


def test_zero_epochs_is_just_the_start():
    h = train(NOISY, QUAD, P0, loss="mse", epochs=0)
    assert h.params.shape == (1, 3)
    np.testing.assert_array_equal(h.params[0], P0)
    np.testing.assert_array_equal(h.frame_epochs, [0])


@pytest.mark.parametrize("lr", [0.003, 0.01, 0.1])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_sgd_step_is_params_minus_lr_times_grads(loss, lr):
    h = train(NOISY, QUAD, P0, loss=loss, optimizer="sgd", lr=lr, epochs=60)
    p, g, nxt = h.params[:-1], h.grads[:-1], h.params[1:]
    two_roundings = p - lr * g  # float64: round lr*g, then round the difference
    # XLA on CPU may fuse this into a fused multiply-add: p - lr*g rounded once. The two can
    # differ by more than 1 ulp of the result when p and lr*g nearly cancel, so instead of a
    # tolerance each entry must be bitwise one of the two float64 evaluations. (Fractions
    # compute p - lr*g exactly, and float() rounds it once.)
    one_rounding = np.vectorize(lambda p, g: float(Fraction(p) - Fraction(lr) * Fraction(g)))(p, g)
    assert two_roundings.dtype == np.float64
    ok = (nxt == two_roundings) | (nxt == one_rounding)
    assert ok.all(), f"steps {np.argwhere(~ok)[:5].tolist()} are not p - lr*g"


@pytest.mark.parametrize(("loss", "delta"), [(n, 1.0) for n in LOSSES] + [("huber", 0.7)])
def test_loss_history_is_the_loss_at_each_params(loss, delta):
    h = train(NOISY, QUAD, P0, loss=loss, lr=0.01, epochs=30, huber_delta=delta)
    x, y = points(NOISY)
    expected = [np_loss(loss, np_quad(p, x) - y, delta) for p in h.params]
    np.testing.assert_allclose(h.loss, expected, rtol=2e-5)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_grad_history_matches_finite_differences(loss):
    h = train(NOISY, QUAD, P0, loss=loss, lr=0.01, epochs=30)
    x, y = points(NOISY)
    for k in (0, 1, 15, 30):
        fd = finite_differences(lambda p: np_loss(loss, np_quad(p, x) - y), h.params[k])
        np.testing.assert_allclose(h.grads[k], fd, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_evaluate_agrees_with_the_engine(loss):
    # The fit-by-hand view's gradient must be the one the engine steps along.
    h = train(NOISY, QUAD, P0, loss=loss, epochs=0, huber_delta=0.8)
    measured = evaluate(QUAD, P0, NOISY.x, NOISY.y, loss, huber_delta=0.8)
    value, grad = measured.loss, measured.grad
    assert isinstance(value, float)
    assert grad.shape == (3,)
    np.testing.assert_allclose(value, h.loss[0], rtol=1e-5)
    np.testing.assert_allclose(grad, h.grads[0], rtol=1e-5, atol=1e-6)
    assert measured.metrics[loss] == pytest.approx(value, rel=1e-6)


def test_evaluate_never_recompiles_within_a_bucket():
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _secs, **_: (
            compiles.append(event)
            if event == "/jax/core/compile/backend_compile_duration"
            else None
        )
    )
    evaluate(QUAD, P0, NOISY.x[:10], NOISY.y[:10], "l1")
    wait_for_compiles()  # engines of earlier tests compiling in the background
    before = len(compiles)
    for n, loss in ((11, "l2"), (20, "mse"), (32, "huber")):
        evaluate(QUAD, P0 + n, NOISY.x[:n], NOISY.y[:n], loss, huber_delta=0.5)
    assert len(compiles) == before


# Settings that reach the known optimum of a noise-free parabola (optax's alias_test idea).
CONVERGE = {
    "sgd": dict(lr=0.1, epochs=1000),
    "momentum": dict(lr=0.02, epochs=1000, momentum=0.9),
    "adam": dict(lr=0.05, epochs=3000),
}


def test_every_optimizer_has_a_convergence_setting():
    assert set(CONVERGE) == set(OPTIMIZERS)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_converges_to_the_known_quadratic(optimizer):
    h = train(CLEAN, QUAD, QUAD.init(1), loss="mse", optimizer=optimizer, **CONVERGE[optimizer])
    assert h.diverged_at is None
    np.testing.assert_allclose(h.params[-1], [3.0, 2.0, 1.0], atol=1e-4)
    assert h.loss[-1] < 1e-8


def test_l2_at_a_perfect_fit_stays_put_with_zero_gradient():
    # Quarter steps keep every prediction exact, so the errors are exactly 0 (with rounding
    # noise the RMSE gradient is a unit-size direction: see test_precision.py).
    x = np.arange(-8, 12) / 4
    data = Dataset(x, 3 * x**2 + 2 * x + 1)
    start = np.array([3.0, 2.0, 1.0])
    h = train(data, QUAD, start, loss="l2", lr=0.1, epochs=5)
    assert h.diverged_at is None
    np.testing.assert_array_equal(h.loss, 0.0)
    np.testing.assert_array_equal(h.grads, 0.0)
    np.testing.assert_array_equal(h.params, np.tile(start, (6, 1)))


@pytest.mark.parametrize("lr", [1.0, 100.0])
def test_divergence_is_reported_and_only_finite_values_kept(lr):
    h = train(NOISY, QUAD, P0, loss="mse", lr=lr, epochs=300)
    assert isinstance(h.diverged_at, int)
    assert 0 < h.diverged_at <= 300
    assert len(h.loss) == h.diverged_at
    assert h.params.shape == h.grads.shape == (h.diverged_at, 3)
    assert np.isfinite(h.loss).all() and np.isfinite(h.params).all() and np.isfinite(h.grads).all()
    assert h.last_epoch == h.diverged_at - 1
    assert (h.frame_epochs < h.diverged_at).all()
    assert np.isfinite(h.frame_preds).all()
    # Divergence means growth: the last kept loss is far above the first.
    assert h.loss[-1] > 1e6 * h.loss[0]


def test_same_settings_give_identical_runs():
    a = train(NOISY, QUAD, P0, loss="l1", optimizer="adam", lr=0.05, epochs=50, seed=3)
    b = train(NOISY, QUAD, P0, loss="l1", optimizer="adam", lr=0.05, epochs=50, seed=3)
    for field in ("params", "loss", "grads", "frame_preds"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_minibatch_is_deterministic_by_seed():
    def run(seed):
        return train(NOISY, QUAD, P0, loss="mse", lr=0.01, epochs=20, batch_size=5, seed=seed)

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.loss, b.loss)
    # Another seed shuffles differently, so the path differs.
    assert not np.array_equal(a.params, c.params)
    assert a.config["batch_size"] == 5


def test_minibatch_epoch_visits_every_point_once():
    # With L1 and every prediction below its target, each point's gradient is fixed:
    # -(x^2, x, 1) / batch size. Equal-sized batches then move the parameters by the same
    # total in an epoch whatever the shuffle, iff every real point is used exactly once.
    data = Dataset(X + 1, 100.0 + X)
    lr = 0.001
    h = train(data, QUAD, np.zeros(3), loss="l1", lr=lr, epochs=3, batch_size=5)
    x, _ = points(data)
    per_epoch = lr * np.array([np.sum(x**2), np.sum(x), x.size]) / 5
    np.testing.assert_allclose(np.diff(h.params, axis=0), np.tile(per_epoch, (3, 1)), rtol=1e-5)


def test_minibatch_partial_last_batch_is_a_mean():
    # 12 identical points in batches of 5, 5 and 2: every batch's mean gradient is the full
    # gradient, so an epoch is three plain SGD steps (padding in the last batch is masked).
    data = Dataset(np.full(12, 1.5), np.full(12, 4.0))
    lr = 0.01
    h = train(data, QUAD, np.zeros(3), loss="mse", lr=lr, epochs=2, batch_size=5)
    p = np.zeros(3, np.float64)
    for _ in range(3):
        e = np_quad(p, np.float64(1.5)) - 4.0
        p = p - float(lr) * 2 * e * np.array([1.5**2, 1.5, 1.0])
    np.testing.assert_allclose(h.params[1], p, rtol=1e-5)


def test_a_minibatch_epoch_is_as_many_momentum_steps_as_batches():
    # As above, with momentum: 3 batches, so 3 steps an epoch, and no more (a step past the
    # last batch, of zero gradient, would still move the parameters by the momentum).
    data = Dataset(np.full(12, 1.5), np.full(12, 4.0))
    lr, momentum = 0.01, 0.9
    h = train(
        data, QUAD, np.zeros(3), loss="mse", optimizer="momentum", lr=lr, momentum=momentum,
        epochs=2, batch_size=5,
    )  # fmt: skip
    p, v = np.zeros(3, np.float64), np.zeros(3, np.float64)
    for epoch in (1, 2):
        for _ in range(3):
            e = np_quad(p, np.float64(1.5)) - 4.0
            v = 2 * e * np.array([1.5**2, 1.5, 1.0]) + momentum * v  # optax's trace
            p = p - lr * v
        np.testing.assert_allclose(h.params[epoch], p, rtol=1e-12)


@pytest.mark.parametrize("batch_size", [20, 21, 1000])
def test_batch_at_least_n_is_full_batch(batch_size):
    full = train(NOISY, QUAD, P0, loss="l2", lr=0.05, epochs=30)
    mini = train(NOISY, QUAD, P0, loss="l2", lr=0.05, epochs=30, batch_size=batch_size)
    np.testing.assert_array_equal(mini.params, full.params)
    np.testing.assert_array_equal(mini.loss, full.loss)
    assert mini.config["batch_size"] is None


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_zero_learning_rate_leaves_params_unchanged(optimizer):
    h = train(NOISY, QUAD, P0, loss="mse", optimizer=optimizer, lr=0.0, epochs=20)
    np.testing.assert_array_equal(h.params, np.tile(P0, (21, 1)))


def test_momentum_first_steps_follow_the_optax_formula():
    lr, mu = 0.01, 0.5
    h = train(
        NOISY,
        QUAD,
        P0,
        loss="mse",
        optimizer="momentum",
        lr=float(lr),
        momentum=float(mu),
        epochs=3,
    )
    g = h.grads
    # Step 1: v = g0, p1 = p0 - lr*v. Step 2: v = g1 + mu*g0, p2 = p1 - lr*v.
    np.testing.assert_allclose(h.params[1], P0 - lr * g[0], rtol=1e-6)
    np.testing.assert_allclose(h.params[2], h.params[1] - lr * (g[1] + mu * g[0]), rtol=1e-6)


def test_adam_first_steps_follow_the_optax_formula():
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-8
    h = train(NOISY, QUAD, P0, loss="mse", optimizer="adam", lr=lr, beta1=b1, beta2=b2, epochs=3)
    g = h.grads.astype(np.float64)
    p = h.params.astype(np.float64)
    # Bias correction makes the first step -lr * g / (|g| + eps): about lr in each coordinate.
    np.testing.assert_allclose(p[1] - p[0], -lr * np.sign(g[0]), rtol=1e-5)
    np.testing.assert_allclose(p[1] - p[0], -lr * g[0] / (np.abs(g[0]) + eps), rtol=1e-5)
    m = (1 - b1) * g[0]
    v = (1 - b2) * g[0] ** 2
    m = b1 * m + (1 - b1) * g[1]
    v = b2 * v + (1 - b2) * g[1] ** 2
    step = -lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    np.testing.assert_allclose(p[2] - p[1], step, rtol=1e-4)


def test_frames_of_a_short_run_are_every_epoch():
    h = train(NOISY, QUAD, P0, loss="l2", lr=0.01, epochs=10)
    np.testing.assert_array_equal(h.frame_epochs, np.arange(11))
    assert h.frame_preds.shape == (11, GRID)


def test_frames_of_a_long_run_are_thinned_and_match_predictions():
    h = train(NOISY, QUAD, P0, loss="l2", lr=0.01, epochs=5000)
    fe = h.frame_epochs
    assert len(fe) <= MAX_FRAMES
    np.testing.assert_array_equal(fe[:DENSE_FRAMES], np.arange(DENSE_FRAMES))
    assert fe[-1] == 5000
    assert (np.diff(fe) > 0).all()
    assert h.frame_preds.shape == (len(fe), GRID)
    # The grid covers the data with a margin.
    assert h.grid[0] < NOISY.x.min() and h.grid[-1] > NOISY.x.max()
    for i, k in enumerate(fe):
        expected = np_quad(h.params[k], h.grid)
        np.testing.assert_allclose(h.frame_preds[i], expected, rtol=1e-5, atol=1e-5)
    # History.predict agrees with the frames.
    np.testing.assert_allclose(h.predict(int(fe[-1]), h.grid), h.frame_preds[-1], rtol=1e-6)


def test_the_grid_spans_the_points_and_a_twentieth_of_their_range_each_side():
    # A width of 1 when every x is the same.
    for x, lo, hi in (([1.0, 3.0, 2.0], 0.9, 3.1), ([5.0, 5.0], 4.95, 5.05)):
        h = train(Dataset(np.array(x), np.array(x) ** 2), QUAD, P0, epochs=1)
        assert h.grid.dtype == np.float64
        np.testing.assert_allclose(h.grid, np.linspace(lo, hi, GRID), rtol=1e-14)


def test_a_float32_or_whole_number_start_trains_in_float64():
    for p0 in (np.array([0.5, -1.25, 2.0], np.float32), [1, 0, -2]):
        h = train(NOISY, QUAD, p0, loss="mse", lr=0.01, epochs=5)
        same = train(NOISY, QUAD, np.asarray(p0, np.float64), loss="mse", lr=0.01, epochs=5)
        assert h.params.dtype == h.grads.dtype == np.float64
        np.testing.assert_array_equal(h.params, same.params)


def test_predict_computes_in_float64_whatever_the_inputs_type():
    # x read as float32 (a CSV, say) or as whole numbers: squared in float64, not in float32
    # (rounded) or int64 (which wraps past 3.04e9).
    h = train(NOISY, QUAD, P0, loss="l2", lr=0.01, epochs=1)
    for x in (
        np.array([-1.7, 0.3, 2.9, 1234.567], np.float32),
        np.array([-4_000_000_000, 3, 4_000_000_000], np.int64),
    ):
        expected = np_quad(h.params[1], x.astype(np.float64))
        np.testing.assert_allclose(h.predict(1, x), expected, rtol=1e-13)


@pytest.mark.parametrize("epochs", [0, 1, 50, 198, 199, 200, 201, 333, 5000, MAX_EPOCHS])
def test_frame_epochs_properties(epochs):
    fe = frame_epochs(epochs)
    assert 1 <= len(fe) <= MAX_FRAMES
    assert fe[0] == 0 and fe[-1] == epochs
    assert (np.diff(fe) > 0).all()
    dense = min(epochs + 1, DENSE_FRAMES)
    np.testing.assert_array_equal(fe[:dense], np.arange(dense))


def test_bucket_size_wastes_at_most_an_eighth():
    sizes = [bucket_size(n) for n in range(1, 10_001)]
    assert sizes[:32] == [32] * 32
    assert all(s >= n for n, s in enumerate(sizes, start=1))
    assert all(s <= n * 1.125 for n, s in enumerate(sizes, start=1) if n > 32)
    assert all(a <= b for a, b in zip(sizes, sizes[1:], strict=False))
    # Worked out by hand from the rule: past 32, n rounded up to a multiple of 1/8 of the
    # largest power of two below n (65: 64 / 8 = 8, so 72), a whole number.
    for n, size in ((33, 36), (64, 64), (65, 72), (100, 104), (1000, 1024), (10_000, 10_240)):
        assert bucket_size(n) == size and type(bucket_size(n)) is int, n


@pytest.mark.parametrize(
    "settings",
    [
        {"lr": -0.1},
        {"lr": float("nan")},
        {"lr": float("inf")},
        {"lr": 1e4},
        {"lr": True},
        {"epochs": -1},
        {"epochs": MAX_EPOCHS + 1},
        {"epochs": 2.5},
        {"epochs": True},
        {"momentum": 1.0},
        {"momentum": -0.1},
        {"beta1": 1.0},
        {"beta2": 1.0},
        {"huber_delta": 0.0},
        {"batch_size": 0},
        {"batch_size": 2.5},
        {"batch_size": True},
        {"loss": "l3"},
        {"optimizer": "rmsprop"},
        {"seed": -1},
        {"seed": 2**32},
        {"seed": 1.5},
    ],
    ids=repr,
)
def test_bad_settings_raise_value_error(settings):
    with pytest.raises(ValueError):
        train(NOISY, QUAD, P0, **settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"momentun": 0.5, "lr": 0.1}, r"unknown setting 'momentun'"),
        (
            {"optimizer": "rmsprop"},
            r"unknown optimizer 'rmsprop'; choose one of sgd, momentum, adam",
        ),
        ({"loss": "l3"}, r"unknown loss 'l3'; choose one of l1, l2, mse, huber"),
        ({"batch_size": 2.5}, r"batch size must be a whole number >= 1"),
    ],
    ids=repr,
)
def test_bad_settings_say_what_is_wrong(settings, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        train(NOISY, QUAD, P0, **settings)


def test_the_longest_run_ends_where_it_should():
    # L1 with every prediction far below its target: each epoch moves the parameters by
    # the same lr * mean(x^2, x, 1), so epoch k is exactly k such steps (no chunk of the
    # loop runs past the last epoch, where the buffers end).
    data = Dataset(X + 1, 1e6 + X)
    lr = 1e-3
    h = train(data, QUAD, np.zeros(3), loss="l1", lr=lr, epochs=MAX_EPOCHS)
    x, _ = points(data)
    step = lr * np.array([np.mean(x**2), np.mean(x), 1.0])
    for k in (1, 9983, 9984, MAX_EPOCHS):
        np.testing.assert_allclose(h.params[k], k * step, rtol=1e-9)


def test_wrong_number_of_params_raises_value_error():
    with pytest.raises(ValueError, match="3 parameters"):
        train(NOISY, QUAD, np.zeros(4, np.float32))


class CompileCounter:
    """Counts XLA compilations (jax.monitoring's backend compile event) while active, in
    the calling thread: the ones a call waits for. (A pair's own executable compiling in
    the background, while the call runs through the whole engine, is not one: see
    ``train.Engine``; ``background`` counts those.)"""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        self.count = 0
        self.background = 0
        self.active = False

    def __call__(self, event, duration, **kwargs):
        if event != self.EVENT:
            return
        if threading.current_thread() is threading.main_thread():
            self.count += self.active
        else:
            self.background += 1

    def train(self, *args, **kwargs):
        self.active = True
        try:
            h = train(*args, **kwargs)
            h.frame_preds  # noqa: B018 (computed on first use: must not recompile either)
            return h
        finally:
            self.active = False


@pytest.mark.parametrize("batch_size", [None, 7])
def test_a_pair_alone_and_through_the_whole_engine_agree_to_the_last_bit(batch_size):
    # The first call's (loss, optimizer) pair runs compiled alone; the others through the
    # whole engine's switch. The same settings must give the same numbers either way.
    engine = Engine(QUAD, batch_size)
    x, y, mask = pad(NOISY.x, NOISY.y)
    hyper = _traced(settings_values(HYPER_SETTINGS, {"lr": 0.01, "huber_delta": 0.5}))
    args = [x, y, mask, P0, hyper, dict(branch=np.int32(0), epochs=np.int32(0), seed=np.uint32(3))]
    whole = engine._compile(range(len(PAIRS)), args)
    for branch in (0, len(PAIRS) - 1):  # L1 with SGD, Huber with Adam
        args[-1] = dict(branch=np.int32(branch), epochs=np.int32(200), seed=np.uint32(3))
        alone = engine._compile((branch,), args)
        for a, b in zip(alone(*args), whole(*args), strict=True):
            np.testing.assert_array_equal(np.asarray(a)[:201], np.asarray(b)[:201])


def test_a_second_pair_runs_through_the_whole_engine_once_then_alone():
    engine = Engine(QUAD, None)
    x, y, mask = pad(NOISY.x, NOISY.y)
    hyper = _traced(settings_values(HYPER_SETTINGS, {"lr": 0.01}))

    def args(branch):
        return (
            x,
            y,
            mask,
            P0,
            hyper,
            dict(branch=np.int32(branch), epochs=np.int32(50), seed=np.uint32(0)),
        )

    first = engine(*args(0))  # compiled alone, now; the whole engine in the background
    assert set(engine._alone) == {0} and engine._alone[0].done()
    second = engine(*args(5))  # through the whole engine; its own compile queued
    assert 5 in engine._alone
    wait_for_compiles()
    assert engine._alone[5].done()
    again = engine(*args(5))  # alone now: the same numbers to the last bit
    for a, b in zip(second, again, strict=True):
        np.testing.assert_array_equal(np.asarray(a)[:51], np.asarray(b)[:51])
    assert not np.array_equal(np.asarray(first[1])[:51], np.asarray(second[1])[:51])


def test_without_background_compiles_each_pair_compiles_when_asked_for():
    # The library's default (a script, the command line): nothing compiles that no call
    # asked for, so a short-lived process never waits at exit for the whole engine.
    compile_in_background(False)
    try:
        engine = Engine(QUAD, None)
        x, y, mask = pad(NOISY.x, NOISY.y)
        hyper = _traced(settings_values(HYPER_SETTINGS, {"lr": 0.01}))
        for branch in (0, 4):
            choice = dict(branch=np.int32(branch), epochs=np.int32(5), seed=np.uint32(0))
            engine(x, y, mask, P0, hyper, choice)
        assert engine._whole is None and set(engine._alone) == {0, 4}
        assert all(f.done() for f in engine._alone.values())
    finally:
        compile_in_background(True)  # the suite runs the engine as the app does (conftest)


def test_traced_settings_never_recompile_and_structure_does():
    counter = CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    try:
        counter.train(NOISY, QUAD, P0, epochs=10)  # warm-up: compile (or reuse) the engine
        # The first call compiled its own (loss, optimizer) pair and started the whole
        # engine's compile in the background; a slider move must never start another.
        wait_for_compiles()
        counter.count = 0
        runs = [
            dict(lr=0.5),
            *[dict(loss=name) for name in LOSSES],
            # Every (loss, optimizer) pair is a branch of the same compiled engine.
            *[dict(loss=name, optimizer=opt) for name in LOSSES for opt in OPTIMIZERS],
            dict(loss="huber", huber_delta=0.25),
            *[dict(optimizer=name) for name in OPTIMIZERS],
            dict(optimizer="momentum", momentum=0.3),
            dict(optimizer="adam", beta1=0.5, beta2=0.9),
            dict(epochs=5000),
            dict(epochs=1),
            dict(seed=123),
        ]
        for settings in runs:
            counter.train(NOISY, QUAD, P0, **{"epochs": 10, **settings})
        counter.train(make_preset("fastai-quadratic", noise=0.2, seed=9), QUAD, P0, epochs=10)
        counter.train(NOISY, QUAD, QUAD.init(5, {"a": 1.1}), epochs=10)
        for points in (25, 32):
            assert bucket_size(points) == bucket_size(NOISY.n)
            counter.train(make_preset("fastai-quadratic", points=points), QUAD, P0, epochs=10)
        assert counter.count == 0, f"{counter.count} compilations for traced settings"

        # Sanity: the counter does see compilations. A structure no other test uses.
        other = build_model("mlp", width=13, activation="sigmoid")
        counter.train(NOISY, other, other.init(0), epochs=10)
        assert counter.count >= 1
    finally:
        jax.monitoring.unregister_event_duration_listener(counter)


def test_fastai_lesson_first_steps():
    h = fit(
        preset="fastai-quadratic",
        loss="l1",
        lr=0.01,
        epochs=10,
        init={"a": 1.1, "b": 1.1, "c": 1.1},
    )
    np.testing.assert_array_equal(h.params[0], [1.1, 1.1, 1.1])
    # The notebook prints step=0; loss=2.42 and step=1; loss=2.40 (2.4219 to 4 d.p.).
    assert round(float(h.loss[0]), 4) == 2.4219
    assert round(float(h.loss[1]), 2) == 2.40
    assert (np.diff(h.loss) < 0).all()
    assert len(h.loss) == 11


def test_fit_takes_arrays_a_dataset_or_a_preset_not_two():
    h = fit(data=(X, 3 * X**2 + 2 * X + 1), epochs=5)
    assert h.config["data"] == "arrays"
    assert h.config["loss"] == "l2" and len(h.loss) == 6  # the generic defaults
    g = fit(data=CLEAN, epochs=5, loss="l2", lr=0.01, seed=42)
    np.testing.assert_array_equal(g.params, h.params)
    with pytest.raises(ValueError, match="^give either a preset or data, not both$"):
        fit(preset="line", data=CLEAN)


def test_roller_coaster_only_a_moves():
    h = fit(preset="roller-coaster", loss="mse", lr=1e-5, epochs=10)
    assert (np.diff(h.loss) < 0).all()
    relative = np.abs(h.params[-1] - h.params[0]) / np.abs(h.params[0])
    a, b, c = relative
    assert a > 10 * max(b, c)
    assert h.config["preset"] == "roller-coaster"


def test_compare_table_holds_every_metric_at_the_final_parameters():
    # Each run trained 30 epochs by the same rule in NumPy; the table's metrics must be the
    # textbook formulas at those final parameters (at epoch 0 they differ by ~0.5 for L1).
    x, y = lesson_points()
    start, lr, epochs, delta = np.array([1.1, 1.1, 1.1]), 0.01, 30, 0.7
    cmp = compare(
        losses="l1,l2,mse,huber",
        data=(x, y),
        model="quadratic",
        init=dict(zip("abc", start.tolist(), strict=True)),
        optimizer="sgd",
        lr=lr,
        epochs=epochs,
        huber_delta=delta,
    )
    rows = cmp.table()
    assert [r["loss"] for r in rows] == ["l1", "l2", "mse", "huber"]
    for row in rows:
        final = np_sgd(row["loss"], "quadratic", start, x, y, lr, epochs, delta)[-1]
        e = np_quad(final, x) - y
        assert row["epochs_run"] == epochs and row["diverged_at"] is None
        np.testing.assert_allclose([row["a"], row["b"], row["c"]], final, rtol=1e-9)
        for metric in ("l1", "l2", "mse", "huber"):
            expected = np_loss(metric, e, delta)
            assert row[f"final_{metric}"] == pytest.approx(expected, rel=1e-9), (row, metric)
        # The start's metrics are far from these: a table of epoch 0 could not pass.
        before = np_loss(row["loss"], np_quad(start, x) - y, delta)
        assert abs(before - np_loss(row["loss"], e, delta)) > 0.1


def line_sgd_epoch(p, x, y, order, lr: float) -> np.ndarray:
    """One epoch of batch-size-1 SGD on MSE for m·x + b, visiting the points in ``order``."""
    m, b = p
    for i in order:
        e = m * x[i] + b - y[i]
        m, b = m - lr * 2 * e * x[i], b - lr * 2 * e
    return np.array([m, b])


def test_minibatch_shuffles_afresh_every_epoch():
    # With one point per batch the order of the points decides where an epoch ends. For 3
    # points, find which of the 3! orders (stepped in NumPy) takes the engine from
    # params[k] to params[k + 1]: exactly one must, and the orders must change between
    # epochs (a shuffle drawn once and reused would give the same order every epoch).
    x, y = np.array([-1.0, 0.5, 2.0]), np.array([3.0, -1.0, 2.0])
    lr, epochs = 0.05, 4
    orders = list(itertools.permutations(range(3)))
    seen = {}
    for seed in range(6):
        h = fit(
            data=(x, y),
            model="line",
            loss="mse",
            optimizer="sgd",
            lr=lr,
            epochs=epochs,
            batch_size=1,
            seed=seed,
            init={"m": 0.3, "b": -0.2},
        )
        per_epoch = []
        for k in range(epochs):
            ends = [line_sgd_epoch(h.params[k], x, y, o, lr) for o in orders]
            gaps = [float(np.max(np.abs(end - h.params[k + 1]))) for end in ends]
            best = int(np.argmin(gaps))
            assert gaps[best] < 1e-12, (seed, k, gaps)
            assert sorted(gaps)[1] > 1e-4, (seed, k, gaps)  # the orders are told apart
            per_epoch.append(orders[best])
        seen[seed] = per_epoch
    changed = sum(a != b for per in seen.values() for a, b in itertools.pairwise(per))
    assert changed > 0, f"every seed used one order in all its epochs: {seen}"
    # And the seeds between them use most of the orders (a shuffle at all).
    assert len({o for per in seen.values() for o in per}) >= 4, seen


def test_minibatch_shuffles_afresh_past_the_first_chunk_of_epochs():
    # As above, over 128 epochs (two of the engine's 64-epoch chunks): the second chunk
    # draws orders of its own, not the first chunk's again (which 1 in 6 pairs of epochs
    # share by chance among 3! orders).
    x, y = np.array([-1.0, 0.5, 2.0]), np.array([3.0, -1.0, 2.0])
    lr, epochs = 0.05, 128
    orders = list(itertools.permutations(range(3)))
    h = fit(
        data=(x, y), model="line", loss="mse", optimizer="sgd", lr=lr, epochs=epochs,
        batch_size=1, seed=3, init={"m": 0.3, "b": -0.2},
    )  # fmt: skip
    per_epoch = []
    for k in range(epochs):
        ends = [line_sgd_epoch(h.params[k], x, y, o, lr) for o in orders]
        per_epoch.append(int(np.argmin([np.max(np.abs(e - h.params[k + 1])) for e in ends])))
    same = sum(a == b for a, b in zip(per_epoch[:64], per_epoch[64:], strict=True))
    assert same < 32, per_epoch


def test_compile_cache_goes_where_it_is_told(monkeypatch, tmp_path):
    # In this process (the test above checks a child's): an explicit path wins, then the
    # environment, then ~/.cache/gradient-explorer/jax; compiles of any length are kept.
    import jax

    from explorer.train import enable_compile_cache

    keys = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    before = {k: getattr(jax.config, k) for k in keys}
    try:
        monkeypatch.setenv("GRADIENT_EXPLORER_CACHE", str(tmp_path / "env"))
        enable_compile_cache(str(tmp_path / "given"))
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "given")
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
        enable_compile_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "env")
        monkeypatch.delenv("GRADIENT_EXPLORER_CACHE")
        monkeypatch.setenv("HOME", str(tmp_path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
        enable_compile_cache()
        assert jax.config.jax_compilation_cache_dir == str(
            tmp_path / ".cache" / "gradient-explorer" / "jax"
        )
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
    finally:
        for k, v in before.items():
            jax.config.update(k, v)


@pytest.mark.parametrize("name", ["momentum", "beta1", "beta2"])
def test_optimizer_decays_are_in_zero_to_one(name):
    # A decay of 1 never forgets (momentum) or divides by 0 (Adam's bias correction).
    from explorer.optim import OPTIMIZER_SETTINGS

    s = {s.name: s for s in OPTIMIZER_SETTINGS}[name]
    assert s.check(0.0) == 0.0 and s.check(0.5) == 0.5
    for bad in (1.0, -0.01, 1.5):
        with pytest.raises(ValueError, match=rf"{name} must be a number in \[0, 1\)"):
            s.check(bad)
    assert {s.name: s.default for s in OPTIMIZER_SETTINGS} == dict(
        momentum=0.9, beta1=0.9, beta2=0.999
    )


def test_compare_refuses_loss_and_an_empty_list():
    from explorer import compare

    with pytest.raises(ValueError, match=r"takes no loss= \(got loss='l1'\)"):
        compare(loss="l1", epochs=1)
    with pytest.raises(ValueError, match="^name at least one loss to compare$"):
        compare(losses=" , ", epochs=1)


def test_compare_rows_of_a_diverging_run():
    # The line preset under MSE at lr 1000: every step overshoots, and the parameters leave
    # float64's range (at epoch 45); the row keeps the epochs it ran and where it stopped.
    from explorer import compare

    rows = compare(losses="mse", preset="line", lr=1000.0, epochs=50).table()
    (row,) = rows
    assert row["diverged_at"] is not None and row["diverged_at"] >= 1
    assert row["epochs_run"] == row["diverged_at"] - 1
    assert set(row) >= {"m", "b", "final_l1", "final_l2", "final_mse", "final_huber"}


def test_the_start_is_the_seeded_draw_or_the_given_values():
    from explorer.api import resolve, start

    # Documented: a random start is NumPy's default_rng(seed).normal(0, 1) per parameter.
    np.testing.assert_array_equal(
        start(resolve(preset="line", seed=7)), np.random.default_rng(7).normal(0, 1, 2)
    )
    np.testing.assert_array_equal(start(resolve(preset="fastai-quadratic")), [1.1, 1.1, 1.1])


def test_evaluate_defaults_to_the_l2_loss():
    from explorer.train import evaluate

    x, y = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 5.0])
    p = np.array([1.0, 0.5])  # m, b
    e = p[0] * x + p[1] - y
    got = evaluate(build_model("line"), p, x, y)
    assert got.loss == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-14)


def test_a_decay_setting_takes_zero_up_to_one_exclusive():
    # The helper behind momentum, beta1 and beta2, called with a setting of its own: the
    # registry calls it at import, before any test, so the tests above cannot tell mutmut
    # (or anyone) which of its arguments reach the setting.
    from explorer.optim import _decay

    s = _decay("rho", "Rho", 0.5, "How much carries over.", ui=(0.0, 0.99, 0.01))
    assert (s.name, s.label, s.default, s.help, s.ui) == (
        "rho",
        "Rho",
        0.5,
        "How much carries over.",
        (0.0, 0.99, 0.01),
    )
    assert s.check(0.0) == 0.0 and s.check(0.999) == 0.999
    for bad in (1.0, -0.01, 1.5):
        with pytest.raises(ValueError, match=r"rho must be a number in \[0, 1\)"):
            s.check(bad)


def test_a_runs_config_records_its_start_as_numbers_and_lists():
    # What --json and the downloads record: a one-value start as a float (even given as a
    # one-element array), a vector as a list of floats.
    from explorer.api import resolve

    init = {"c": np.array([0.5]), "m": [1.0, -2.0], "b[1]": 3}
    got = resolve(preset="line", model="relu-sum", relus=2, init=init).config()["init"]
    assert got == {"b[1]": 3.0, "c": 0.5, "m": [1.0, -2.0]}
    assert [type(got[k]) for k in ("b[1]", "c")] == [float, float]


def test_a_batch_of_all_the_points_or_more_is_recorded_as_full_batch():
    from explorer.api import resolve

    for batch_size in (20, 21, 1000):
        spec = resolve(preset="fastai-quadratic", points=20, batch_size=batch_size)
        assert spec.values["batch_size"] is None
        assert spec.config()["batch_size"] is None
    spec = resolve(preset="fastai-quadratic", points=20, batch_size=19)
    assert spec.values["batch_size"] == spec.config()["batch_size"] == 19


def test_an_unknown_setting_is_refused_by_name():
    from explorer.api import fit
    from explorer.registry import SETTINGS

    names = ", ".join(SETTINGS)
    with pytest.raises(
        ValueError, match=rf"^unknown setting 'learning_rate'; the settings are {names}$"
    ):
        fit(learning_rate=0.1)


def test_a_comparison_of_zero_epochs_has_the_starts_metrics():
    # epochs=0: each run is its start (epoch 0), and its row measures that start.
    from explorer import compare

    x, y = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 5.0])
    rows = compare(losses="l1,mse", data=(x, y), model="line", init={"m": 1.0, "b": 0.5}, epochs=0)
    for row in rows.table():
        e = 1.0 * x + 0.5 - y
        assert row["epochs_run"] == 0 and row["diverged_at"] is None
        assert (row["m"], row["b"]) == (1.0, 0.5)
        assert row["final_l1"] == pytest.approx(np.mean(np.abs(e)), rel=1e-14)
        assert row["final_mse"] == pytest.approx(np.mean(e**2), rel=1e-14)


def test_evaluate_takes_float32_or_whole_number_parameters_as_float64():
    # The gradient of the L2 loss of a line, in float64 whatever the parameters' type.
    x, y = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 5.5])
    for p in (np.array([1.5, -0.25], np.float32), [2, -1]):
        m, b = np.asarray(p, np.float64)
        e = m * x + b - y
        rmse = np.sqrt(np.mean(e**2))
        expected = np.array([np.mean(e * x), np.mean(e)]) / rmse  # d sqrt(mean e^2) / d(m, b)
        got = evaluate(build_model("line"), p, x, y, "l2")
        assert got.grad.dtype == np.float64
        np.testing.assert_allclose(got.grad, expected, rtol=1e-13)


def test_a_presets_suggestions_apply_to_its_own_model_only():
    from explorer.api import resolve
    from explorer.registry import SETTINGS

    spec = resolve(preset="fastai-quadratic")
    assert set(spec.values) == set(SETTINGS)  # every setting, checked, and nothing else
    assert dict(spec.init) == {"a": 1.1, "b": 1.1, "c": 1.1}
    other = resolve(preset="fastai-quadratic", model="polynomial")
    assert other.model.size == (("degree", 3),) and other.init == ()
    assert set(other.values) == set(SETTINGS)
    given = resolve(preset="fastai-quadratic", model="polynomial", degree=5)
    assert given.model.size == (("degree", 5),)


def test_a_presets_points_are_made_with_the_knobs_given():
    from explorer.api import resolve
    from explorer.data import make_preset

    spec = resolve(preset="line", points=7, noise=0.3, outliers=2, seed=5)
    expected = make_preset("line", points=7, noise=0.3, outliers=2, seed=5)
    np.testing.assert_array_equal(spec.data.x, expected.x)
    np.testing.assert_array_equal(spec.data.y, expected.y)
    assert dict(spec.source) == dict(preset="line", points=7, noise=0.3, outliers=2)
    # Checked against the points in the registry's order: before a bad learning rate.
    with pytest.raises(ValueError, match=r"^outliers must be a whole number from 0 to 7, not 8$"):
        resolve(preset="line", points=7, outliers=8, lr=-1.0)


def test_your_own_points_are_recorded_as_they_are():
    # With data, the preset's knobs do not apply: the run records the points as given,
    # no noise and no outliers, and the model's size as asked.
    from explorer.api import resolve
    from explorer.registry import SETTINGS

    x = np.linspace(0.0, 1.0, 5)
    spec = resolve(
        data=(x, 2 * x), noise=0.4, outliers=2, batch_size=10, model="polynomial", degree=5
    )
    assert dict(spec.source) == {"data": "arrays", "points": 5}
    assert set(spec.values) == set(SETTINGS)
    assert [spec.values[k] for k in ("points", "noise", "outliers", "batch_size")] == [
        5,
        0.0,
        0,
        None,
    ]
    assert spec.model.size == (("degree", 5),)


def test_train_records_its_settings_when_no_config_is_given():
    h = train(
        NOISY, build_model("polynomial", degree=2), np.zeros(3), loss="huber", optimizer="adam",
        lr=0.02, epochs=3, batch_size=5, seed=9, huber_delta=0.5,
    )  # fmt: skip
    assert h.config == dict(
        model="polynomial", degree=2, loss="huber", optimizer="adam", epochs=3, batch_size=5,
        seed=9, lr=0.02, huber_delta=0.5, momentum=0.9, beta1=0.9, beta2=0.999,
    )  # fmt: skip


def test_frames_are_every_epoch_up_to_max_frames_epochs_and_thinned_past_it():
    np.testing.assert_array_equal(frame_epochs(MAX_FRAMES - 1), np.arange(MAX_FRAMES))
    for epochs in (MAX_FRAMES, MAX_FRAMES + 1):
        fe = frame_epochs(epochs)
        assert len(fe) <= MAX_FRAMES and fe[-1] == epochs
        np.testing.assert_array_equal(fe[:DENSE_FRAMES], np.arange(DENSE_FRAMES))
    # Past the dense part, geometric up to the last epoch: steps of a ratio of at most
    # (10000 / 250) ** (1 / 750) = 1.0049, plus rounding to whole epochs (1 in 250).
    for epochs in (5000, MAX_EPOCHS):
        tail = frame_epochs(epochs)[DENSE_FRAMES - 1 :]
        assert np.max(tail[1:] / tail[:-1]) < 1.01


def test_a_historys_arrays_are_read_only():
    # The app shares one History between sessions: none of them may change it.
    h = train(NOISY, QUAD, P0, epochs=2)
    for arr in (h.params, h.loss, h.grads, h.frame_preds, h.frame_epochs, h.grid):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0
