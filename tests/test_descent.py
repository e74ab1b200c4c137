"""Loss landscapes, per-point gradients, learning-rate sweeps, fastai's finder and the
stability limit (``explorer.descent``, ``explorer.rates``), each against a reference of
its own: NumPy formulas, ``np.linalg.lstsq`` and ``eigvalsh``, ``fit`` run by run, and
fastai's definitions transcribed in ``reference.py``."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from reference import (
    fastai_minimum,
    fastai_steep,
    fastai_valley,
    features,
    line_points,
    np_gradient_terms,
    np_loss,
    np_predict,
)

from explorer import contributions, fit, landscape, lr_find, stability_limit, sweep
from explorer.cli import main
from explorer.descent import _grid_fn
from explorer.losses import LOSSES
from explorer.train import wait_for_compiles

# ----------------------------------------------------------------------------- landscape

RUNS = {
    "line-mse": dict(preset="line", loss="mse", lr=0.05, epochs=40),
    "line-l1": dict(preset="line", loss="l1", lr=0.05, epochs=40),
    "line-huber": dict(preset="line", loss="huber", huber_delta=0.3, lr=0.1, epochs=40),
    "quadratic-l2": dict(preset="fastai-quadratic", loss="l2", lr=0.01, epochs=60),
    "relu-sum-l2": dict(preset="abs", model="relu-sum", relus=3, loss="l2", lr=0.05, epochs=60),
    "mlp-tanh-mse": dict(preset="sine", model="mlp", width=4, activation="tanh", loss="mse"),
}


def reference_grid(h, land, rows, cols):
    """The loss at grid cells (rows[k], cols[k]) from the NumPy formulas."""
    config = h.config
    i0, i1 = (h.param_names.index(a) for a in land.along)
    out = []
    for i, j in zip(rows, cols, strict=True):
        p = h.params[land.epoch].copy()
        p[i0], p[i1] = land.xs[j], land.ys[i]
        pred = np_predict(config["model"], p, h.x, config.get("activation", "relu"))
        out.append(np_loss(config["loss"], pred - h.y, config.get("huber_delta", 1.0)))
    return np.array(out)


@pytest.mark.parametrize("name", list(RUNS))
def test_landscape_is_the_loss_at_every_grid_point(name):
    h = fit(**RUNS[name])
    epoch = h.last_epoch // 2
    land = landscape(h, epoch=epoch, resolution=9)
    assert land.loss.shape == (9, 9) and land.xs.shape == land.ys.shape == (9,)
    rows, cols = np.divmod(np.arange(81), 9)
    np.testing.assert_allclose(
        land.loss[rows, cols], reference_grid(h, land, rows, cols), rtol=1e-12, atol=1e-14
    )


def test_landscape_orientation_and_path_with_named_parameters():
    h = fit(**RUNS["quadratic-l2"])
    land = landscape(h, epoch=5, along=("c", "a"), resolution=7, span=((0, 1), (10, 20)))
    assert land.along == ("c", "a")
    np.testing.assert_array_equal(land.xs, np.linspace(0, 1, 7))  # along[0] = c
    np.testing.assert_array_equal(land.ys, np.linspace(10, 20, 7))  # along[1] = a
    # loss[i, j] is at c = xs[j], a = ys[i]: a far-off a (rows) costs far more than c.
    rows, cols = np.divmod(np.arange(49), 7)
    np.testing.assert_allclose(
        land.loss[rows, cols], reference_grid(h, land, rows, cols), rtol=1e-12
    )
    np.testing.assert_array_equal(land.path, h.params[:, [2, 0]])
    assert land.path.shape == (h.last_epoch + 1, 2)


def test_default_along_is_the_two_that_moved_most():
    assert landscape(fit(**RUNS["line-mse"])).along == ("m", "b")
    h = fit(**RUNS["relu-sum-l2"])
    movement = np.ptp(h.params, axis=0)
    top = sorted(np.argsort(movement)[-2:])
    assert landscape(h).along == tuple(h.param_names[k] for k in top)


def test_automatic_span_covers_the_path_start_and_least_squares_optimum():
    x, y = line_points()
    h = fit(preset="line", loss="mse", lr=0.001, epochs=20)  # a short path, far from the best
    land = landscape(h)
    best = np.linalg.lstsq(features("line", x), y, rcond=None)[0]
    np.testing.assert_allclose(land.optimum, best, rtol=1e-12)
    for values, lo_hi in ((land.xs, 0), (land.ys, 1)):
        lo, hi = values[0], values[-1]
        covered = np.append(h.params[:, lo_hi], best[lo_hi])
        assert lo < covered.min() and covered.max() < hi
    low_x, low_y, low = land.minimum
    step = (land.xs[1] - land.xs[0], land.ys[1] - land.ys[0])
    assert abs(low_x - best[0]) <= step[0] and abs(low_y - best[1]) <= step[1]


@pytest.mark.parametrize("loss", ["mse", "l2"])
def test_landscape_minimum_is_the_known_least_squares_line(loss):
    # y = 3x - 0.5 exactly: the grid holds (3, -0.5) and the loss there is 0.
    x = np.linspace(-1, 1, 21)
    y = 3 * x - 0.5
    h = fit(data=(x, y), model="line", loss=loss, lr=0.1, epochs=10, init={"m": 0, "b": 0})
    np.testing.assert_allclose(np.linalg.lstsq(features("line", x), y, rcond=None)[0], [3, -0.5])
    land = landscape(h, resolution=101, span=((2, 4), (-1.5, 0.5)))
    low_x, low_y, low = land.minimum
    assert low_x == pytest.approx(3, abs=1e-12) and low_y == pytest.approx(-0.5, abs=1e-12)
    assert low == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(land.optimum, [3, -0.5], atol=1e-12)


def test_landscape_of_a_noisy_line_bottoms_out_at_lstsq():
    x, y = line_points()
    best = np.linalg.lstsq(features("line", x), y, rcond=None)[0]
    h = fit(preset="line", loss="mse", lr=0.1, epochs=200)
    half = 0.5
    span = ((best[0] - half, best[0] + half), (best[1] - half, best[1] + half))
    land = landscape(h, resolution=201, span=span)  # best[] is the centre cell
    low_x, low_y, _ = land.minimum
    assert low_x == pytest.approx(best[0], abs=1e-12) and low_y == pytest.approx(best[1], abs=1e-12)


def test_a_second_landscape_with_another_epoch_along_or_loss_does_not_recompile():
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _secs, **_: (
            compiles.append(event)
            if event == "/jax/core/compile/backend_compile_duration"
            else None
        )
    )
    first = fit(preset="fastai-quadratic", loss="l1", epochs=30)
    other = fit(preset="fastai-quadratic", loss="huber", huber_delta=0.5, epochs=30, lr=0.02)
    landscape(first, epoch=0, along=("a", "b"), resolution=31)
    wait_for_compiles()  # the engine's background compile is not the landscape's
    size, before = _grid_fn(first.model)._cache_size(), len(compiles)
    landscape(other, epoch=17, along=("c", "a"), resolution=31)
    landscape(first, epoch=30, along=("b", "c"), resolution=31, span=((0, 1), (2, 3)))
    assert _grid_fn(first.model)._cache_size() == size
    assert len(compiles) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(epoch=11), "epoch must be a whole number from 0 to 10"),
        (dict(epoch=-1), "epoch must be"),
        (dict(epoch=1.5), "epoch must be"),
        (dict(along=("a", "q")), "no parameter 'q'"),
        (dict(along=("a", "a")), "two different parameters"),
        (dict(along="ab"), "along names two parameters"),
        (dict(resolution=1), "resolution must be from 2"),
        (dict(resolution=10_000), "resolution must be from 2"),
        (dict(span=((1, 0), (0, 1))), "low < high"),
        (dict(span=((0, np.inf), (0, 1))), "finite"),
        (dict(span=(0, 1)), "one pair per parameter"),
    ],
)
def test_landscape_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        landscape(fit(epochs=10), **kwargs)


# ----------------------------------------------------------------------------- contributions


@pytest.mark.parametrize("model", ["line", "quadratic"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_contributions_are_the_per_point_gradient_terms(model, loss):
    x, y = line_points()
    h = fit(data=(x, y), model=model, loss=loss, huber_delta=0.4, lr=0.05, epochs=30, seed=3)
    for epoch in (0, 7, 30):
        terms = contributions(h, epoch)
        want = np_gradient_terms(loss, model, h.params[epoch], x, y, delta=0.4)
        assert terms.shape == (x.size, h.model.n_params)
        np.testing.assert_allclose(terms, want, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(terms.sum(axis=0), h.grads[epoch], rtol=1e-10, atol=1e-14)


def test_contributions_of_a_relu_sum_add_up_to_the_gradient():
    h = fit(**RUNS["relu-sum-l2"])
    terms = contributions(h, 12)
    np.testing.assert_allclose(terms.sum(axis=0), h.grads[12], rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- sweep


SWEEPS = {
    "line-mse": (dict(preset="line", loss="mse", epochs=300), [0.01, 0.3, 0.7, 0.75, 1.5, 3, 10]),
    "quadratic-l1": (dict(epochs=200), [1e-4, 0.01, 0.3, 1, 10]),
    "quadratic-l2-momentum": (
        dict(loss="l2", optimizer="momentum", momentum=0.8, epochs=150),
        [0.001, 0.01, 0.1, 1],
    ),
    "line-adam": (dict(preset="line", optimizer="adam", epochs=100), [0.001, 0.1, 5]),
    "roller-coaster-mse": (dict(preset="roller-coaster", epochs=100), [1e-5, 1e-4, 1e-3, 1e-2]),
    "line-minibatch": (dict(preset="line", loss="mse", batch_size=7, epochs=50), [0.01, 0.1, 2]),
}


@pytest.mark.parametrize("name", list(SWEEPS))
def test_every_sweep_entry_is_the_fit_at_that_rate(name):
    settings, lrs = SWEEPS[name]
    s = sweep(lrs, **settings)
    np.testing.assert_array_equal(s.lrs, lrs)
    for k, lr in enumerate(lrs):
        h = fit(lr=lr, **settings)
        assert s.diverged_at[k] == h.diverged_at, lr
        assert s.final_loss[k] == pytest.approx(h.loss[-1], rel=1e-9), lr
        assert s.best_loss[k] == pytest.approx(h.loss.min(), rel=1e-9), lr
    assert s.start_loss == pytest.approx(fit(**{**settings, "epochs": 0}).loss[0], rel=1e-12)
    if name == "line-mse":
        assert s.diverged_at[-2:] != [None, None]  # the sweep includes diverging runs


def test_sweep_final_losses_match_numpy_gradient_descent():
    from reference import np_sgd

    x, y = line_points()
    p0 = fit(preset="line", epochs=0).params[0]
    s = sweep([0.01, 0.1, 0.5], preset="line", loss="mse", epochs=100)
    for lr, final in zip(s.lrs, s.final_loss, strict=True):
        path = np_sgd("mse", "line", p0, x, y, lr, 100)
        assert final == pytest.approx(np_loss("mse", features("line", x) @ path[-1] - y), rel=1e-10)


def test_default_sweep_is_61_log_spaced_rates():
    s = sweep(epochs=3)
    np.testing.assert_allclose(s.lrs, np.geomspace(1e-6, 10, 61), rtol=1e-15)
    assert len(s.final_loss) == len(s.best_loss) == len(s.diverged_at) == 61


@pytest.mark.parametrize(
    ("lrs", "settings", "message"),
    [
        ([0.1], dict(lr=0.1), "takes no lr"),
        ([], {}, "at least one"),
        ([-1], {}, "lr must be"),
        ("0.1,x", {}, "comma-separated"),
        ([0.1], dict(loss="nope"), "unknown loss"),
    ],
)
def test_sweep_refuses_bad_arguments(lrs, settings, message):
    with pytest.raises(ValueError, match=message):
        sweep(lrs, **settings)


# ----------------------------------------------------------------------------- stability


def reference_limit(x, model="line"):
    phi = features(model, x)
    hessian = 2 / x.size * phi.T @ phi
    return 2 / np.linalg.eigvalsh(hessian).max()


@pytest.mark.parametrize(
    ("settings", "x"),
    [
        (dict(preset="line", model="line"), line_points()[0]),
        (dict(preset="fastai-quadratic", model="quadratic"), np.linspace(-2, 2, 20)),
        (dict(data=([0.0, 1, 2, 3, 10], [1.0, 2, 2, 5, 3]), model="line"), None),
    ],
)
def test_stability_limit_is_two_over_the_top_eigenvalue(settings, x):
    x = np.array([0.0, 1, 2, 3, 10]) if x is None else x
    limit = stability_limit(loss="mse", **settings)
    assert limit == pytest.approx(reference_limit(x, settings["model"]), rel=1e-12)


@pytest.mark.parametrize("model", ["line", "quadratic"])
def test_gradient_descent_converges_under_the_limit_and_grows_over_it(model):
    x, y = line_points()
    start = {"line": dict(m=0.0, b=0.0), "quadratic": dict(a=0.0, b=0.0, c=0.0)}[model]
    settings = dict(preset="line", model=model, loss="mse", init=start, epochs=3000)
    limit = stability_limit(**settings)
    residual = np.linalg.lstsq(features(model, x), y, rcond=None)[1][0] / x.size
    under = fit(lr=0.99 * limit, **settings)
    assert under.diverged_at is None
    assert under.loss[-1] == pytest.approx(residual, rel=1e-9)  # the least-squares loss
    over = fit(lr=1.01 * limit, **settings)
    assert over.diverged_at is not None or over.loss[-1] > 1e6 * over.loss[0]


def test_the_first_diverging_rate_of_a_sweep_is_above_the_limit():
    settings = dict(preset="line", loss="mse", epochs=2000)
    limit = stability_limit(**settings)
    factors = np.array([0.5, 0.9, 0.99, 1.01, 1.1, 1.5, 2, 4])
    s = sweep(limit * factors, **settings)
    for f, final, div in zip(factors, s.final_loss, s.diverged_at, strict=True):
        if f < 1:
            assert div is None and final < s.start_loss
        else:
            assert div is not None or final > s.start_loss
    first = next(k for k, d in enumerate(s.diverged_at) if d is not None)
    assert s.lrs[first] > limit
    assert s.lrs[first - 1] < 2 * limit  # the first diverging rate is not far past it


@pytest.mark.parametrize(
    "settings",
    [
        dict(loss="l2"),
        dict(loss="huber"),
        dict(loss="l1"),
        dict(loss="mse", optimizer="momentum"),
        dict(loss="mse", optimizer="adam"),
        dict(loss="mse", model="relu-sum"),
        dict(loss="mse", model="mlp"),
        dict(loss="mse", batch_size=5),
    ],
)
def test_stability_limit_is_none_where_the_theory_does_not_apply(settings):
    assert stability_limit(**settings) is None


def test_stability_limit_with_a_batch_of_every_point_is_full_batch():
    assert stability_limit(loss="mse", batch_size=20) == stability_limit(loss="mse")


# ----------------------------------------------------------------------------- lr_find


def reference_finder(settings, p0, num_it=100, beta=0.98):
    """fastai's finder on full-batch SGD with the MSE, in NumPy: rates, raw and smoothed
    losses, the stopping step."""
    x, y = line_points()
    phi = features("line", x)
    lrs = 1e-7 * (10 / 1e-7) ** (np.arange(num_it) / num_it)
    p, raw, smooth, value, best, stopped = np.array(p0, float), [], [], 0.0, np.inf, None
    for k, lr in enumerate(lrs):
        e = phi @ p - y
        raw.append(np.mean(e**2))
        value = beta * value + (1 - beta) * raw[-1]
        smooth.append(value / (1 - beta ** (k + 1)))
        best = min(best, smooth[-1])
        if smooth[-1] > 4 * best:
            stopped = k
            break
        p = p - lr * (2 * e / e.size) @ phi
    return lrs[: len(raw)], np.array(raw), np.array(smooth), stopped


def test_lr_find_follows_fastais_schedule_smoothing_and_stop_rule():
    settings = dict(preset="line", loss="mse")
    p0 = fit(epochs=0, **settings).params[0]
    lrs, raw, smooth, stopped = reference_finder(settings, p0)
    f = lr_find(**settings)
    assert stopped is not None and f.stopped_at == stopped  # this run blows up
    np.testing.assert_allclose(f.lrs, lrs, rtol=1e-13)
    np.testing.assert_allclose(f.raw, raw, rtol=1e-9)
    np.testing.assert_allclose(f.losses, smooth, rtol=1e-9)
    assert f.losses[-1] > 4 * f.losses.min()
    assert (f.losses[:-1] <= 4 * np.minimum.accumulate(f.losses[:-1])).all()
    # The suggestions read the curve without its first 10 and last 5 steps.
    tl, tv = lrs[10:-5], smooth[10:-5]
    assert f.suggestion == pytest.approx(fastai_valley(tl, tv), rel=1e-12)
    assert f.minimum == pytest.approx(fastai_minimum(tl, tv), rel=1e-12)
    assert f.steepest == pytest.approx(fastai_steep(tl, tv), rel=1e-12)


def test_lr_find_schedule_runs_100_steps_and_never_reaches_end_lr():
    f = lr_find(preset="line", loss="l1")  # L1 steps stay bounded: no stop
    assert f.stopped_at is None and len(f.lrs) == 100
    assert f.lrs[0] == 1e-7
    assert f.lrs[-1] == pytest.approx(1e-7 * 1e8**0.99, rel=1e-13)  # 8.3, as fastai's
    np.testing.assert_allclose(np.diff(np.log(f.lrs)), np.log(1e8) / 100, rtol=1e-9)


def test_lr_find_without_stop_div_runs_every_step():
    f = lr_find(preset="line", loss="mse", stop_div=False)
    assert f.stopped_at is None and len(f.lrs) == 100


def test_lr_find_steps_use_the_runs_optimizer():
    # Adam's first step moves every parameter by about lr: at 1e-7 the loss barely moves.
    f = lr_find(preset="line", loss="mse", optimizer="adam")
    h = fit(preset="line", loss="mse", optimizer="adam", lr=1e-7, epochs=1)
    assert f.raw[1] == pytest.approx(h.loss[1], rel=1e-12)


def test_valley_on_a_curve_worked_by_hand():
    # Falls over steps 0..6 (longest decreasing run 7 long), then rises. fastai's
    # arithmetic: the start is 6 - 7 = -1, sections = 7/3, index -1 + 2 + 1 = 2.
    from explorer.lrfind import steepest, valley

    lrs = np.geomspace(1e-4, 1, 10)
    losses = np.array([9, 8, 6, 5, 4.5, 4.4, 4.3, 5, 7, 9.0])
    assert valley(lrs, losses) == lrs[2] == fastai_valley(lrs, losses)
    assert steepest(lrs, losses) == lrs[1]  # the fall 8 -> 6 is the steepest


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(lr=0.1), "takes no lr"),
        (dict(batch_size=4), "full-batch"),
        (dict(start_lr=1, end_lr=0.1), "start_lr < end_lr"),
        (dict(num_it=0), "num_it"),
        (dict(num_it=20_000), "num_it must be at most"),
    ],
)
def test_lr_find_refuses_bad_arguments(settings, message):
    with pytest.raises(ValueError, match=message):
        lr_find(**settings)


# ----------------------------------------------------------------------------- command line


def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sweep_json_is_the_api_sweep(capsys):
    argv = ["sweep", "--preset", "line", "--loss", "mse", "--lrs", "0.1,0.7,3", "--epochs", "200"]
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    s = sweep([0.1, 0.7, 3], preset="line", loss="mse", epochs=200)
    assert [r["lr"] for r in got["table"]] == [0.1, 0.7, 3]
    assert [r["diverged_at"] for r in got["table"]] == s.diverged_at
    assert [r["final_loss"] for r in got["table"]] == [float(v) for v in s.final_loss]
    assert got["start_loss"] == s.start_loss and got["config"]["loss"] == "mse"
    assert "lr" not in got["config"] and got["config"]["epochs"] == 200
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out.splitlines()[0].split() == ["lr", "final", "loss", "best", "loss", "diverged"]
    assert "diverges above lr = 0.70161" in out


def test_cli_lr_find_json_is_the_api_finder(capsys):
    code, out, err = run_cli(["lr-find", "--preset", "line", "--loss", "mse", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    f = lr_find(preset="line", loss="mse")
    assert got["lrs"] == f.lrs.tolist() and got["stopped_at"] == f.stopped_at
    assert got["suggestion"] == f.suggestion and got["steepest"] == f.steepest
    assert "lr" not in got["config"] and "epochs" not in got["config"]
    code, out, err = run_cli(["lr-find", "--preset", "line", "--loss", "mse"], capsys)
    assert code == 0, err
    assert f"suggestion (valley) {f.suggestion:.3g}" in out


def test_cli_landscape_json_is_the_api_landscape(capsys):
    argv = ["landscape", "--preset", "line", "--epochs", "20", "--epoch", "4", "--along", "b", "m"]
    code, out, err = run_cli([*argv, "--resolution", "5", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    land = landscape(fit(preset="line", epochs=20), epoch=4, along=("b", "m"), resolution=5)
    assert got["along"] == ["b", "m"] and got["epoch"] == 4
    assert got["loss"] == land.loss.tolist() and got["xs"] == land.xs.tolist()
    assert got["path"] == land.path.tolist()
    code, out, err = run_cli([*argv, "--span", "0", "1", "2", "3"], capsys)
    assert code == 0, err
    assert out.startswith("l2 over b and m, the others as at epoch 4: 61 x 61 grid")
    assert "b from 0 to 1" in out and "m from 2 to 3" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "--lr", "0.1"],
        ["sweep", "--lrs", "0.1,abc"],
        ["sweep", "--lrs", "-1"],
        ["lr-find", "--batch-size", "4"],
        ["lr-find", "--epochs", "10"],
        ["landscape", "--epochs", "10", "--epoch", "11"],
        ["landscape", "--along", "a", "zz"],
        ["landscape", "--resolution", "1"],
        ["landscape", "--span", "1", "0", "0", "1"],
    ],
)
def test_cli_errors_are_one_line_and_exit_2(argv, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err


def test_slopes_hold_the_loss_along_each_parameter():
    # The roller coaster's quadratic under MSE: the loss along a, b and c (each over its
    # own span) with the others at each epoch's values, against NumPy on the written-out
    # recipe.
    from reference import features, roller_coaster_points

    from explorer.descent import slopes

    h = fit(preset="roller-coaster")
    epochs = [0, 3, 10]
    spans = np.array([[-1.0, 2.0], [-5.0, 3.0], [0.0, 14.0]])
    values = slopes(h, epochs, [0, 1, 2], spans, 41)
    assert values.shape == (3, 3, 41)
    x, y = roller_coaster_points()
    design = features("quadratic", x)
    for e, k in enumerate(epochs):
        for s in range(3):
            grid = np.linspace(*spans[s], 41)
            for j in (0, 20, 33, 40):
                p = h.params[k].copy()
                p[s] = grid[j]
                expected = np.mean((design @ p - y) ** 2)
                assert values[e, s, j] == pytest.approx(expected, rel=1e-9)
