"""The descent's views as the player gets them (explorer.descent_figures) and the core
functions under them: maps on one grid, each point's pull at many epochs, gradients that
are rounding noise, the slope panels' curves; every value against NumPy written out."""

from __future__ import annotations

import numpy as np
import pytest
from reference import features, lesson_points, np_gradient_terms, np_sgd, roller_coaster_points

from explorer import fit, make_preset
from explorer.descent import (
    ROUNDING_NOISE,
    contributions,
    contributions_at,
    grad_scales,
    landscapes,
    rounding_noise,
)
from explorer.descent_figures import (
    DETAIL_EPOCHS,
    MAP_EPOCHS,
    PULL_POINTS,
    landscape_view,
    pull_view,
    slope_view,
)
from explorer.figures import unpack


def mse(design, p, y):
    return float(np.mean((design @ p - y) ** 2))


def test_maps_of_several_epochs_share_one_grid_holding_numpy_losses():
    h = fit(preset="roller-coaster", epochs=20, lr=3e-5)
    x, y = roller_coaster_points()
    design = features("quadratic", x)
    maps = landscapes(h, [0, 7, 20], along=("a", "c"), resolution=9)
    assert [m.epoch for m in maps] == [0, 7, 20]
    for m in maps[1:]:
        assert np.array_equal(m.xs, maps[0].xs) and np.array_equal(m.ys, maps[0].ys)
    for m in maps:
        for i, j in ((0, 0), (4, 6), (8, 3)):
            p = h.params[m.epoch].copy()
            p[0], p[2] = m.xs[j], m.ys[i]
            assert m.loss[i, j] == pytest.approx(mse(design, p, y), rel=1e-9)
    # The grid covers the whole path and the least-squares optimum (NumPy's lstsq).
    best = np.linalg.lstsq(design, y, rcond=None)[0]
    xs, ys = maps[0].xs, maps[0].ys
    for v, axis in ((h.params[:, 0], xs), (h.params[:, 2], ys)):
        assert axis[0] < v.min() and v.max() < axis[-1]
    assert xs[0] < best[0] < xs[-1] and ys[0] < best[2] < ys[-1]


def test_a_two_parameter_map_is_drawn_once_and_a_bigger_model_is_mapped_per_epoch():
    line = landscape_view(fit(preset="fastai-quadratic", model="line", epochs=30))
    assert line["exact"] and line["epochs"] == [0] and line["names"] == ["m", "b"]
    maps = unpack(line["maps"]).reshape(-1, 61, 61)
    assert maps.shape[0] == 1
    finite = maps[np.isfinite(maps) & (maps > 0)]
    scale = line["scales"][0]
    assert scale["zmin"] == pytest.approx(np.log10(finite.min()), rel=1e-6)
    assert scale["zmax"] == pytest.approx(np.log10(finite.max()), rel=1e-6)
    # Colour-bar ticks at round losses inside the range, as many as three.
    ticks = [float(t) for t in scale["ticktext"]]
    assert len(ticks) >= 3
    assert all(finite.min() <= t <= finite.max() for t in ticks)
    assert np.allclose(np.log10(ticks), scale["tickvals"])

    h = fit(preset="fastai-quadratic", epochs=300)
    quad = landscape_view(h, ("c", "a"))
    assert not quad["exact"] and quad["names"] == ["c", "a"] and quad["along"] == [2, 0]
    assert quad["epochs"][0] == 0 and quad["epochs"][-1] == 300
    assert len(quad["epochs"]) <= MAP_EPOCHS
    maps = unpack(quad["maps"]).reshape(len(quad["epochs"]), 41, 41)
    x, y = lesson_points()
    design = features("quadratic", x)
    xs = unpack(quad["fig"]["map"]["data"][0]["x"])
    ys = unpack(quad["fig"]["map"]["data"][0]["y"])
    assert quad["bottoms"] is None  # L1: least squares is not its bottom
    for m, e in enumerate(quad["epochs"]):
        p = h.params[e].copy()
        p[2], p[0] = xs[17], ys[30]  # c across, a up; every other parameter at epoch e
        expected = np.mean(np.abs(design @ p - y))  # the lesson's L1
        assert maps[m, 30, 17] == pytest.approx(expected, rel=1e-6)  # float32 on the wire


def test_each_maps_star_is_the_bottom_of_its_slice():
    h = fit(preset="fastai-quadratic", loss="mse", epochs=50)
    view = landscape_view(h, ("a", "b"))
    x, y = lesson_points()
    design = features("quadratic", x)
    for e, bottom in zip(view["epochs"], view["bottoms"], strict=True):
        # With c at epoch e's value, least squares in a and b alone (NumPy's lstsq).
        rest = y - design[:, 2] * h.params[e, 2]
        expected = np.linalg.lstsq(design[:, :2], rest, rcond=None)[0]
        assert np.allclose(bottom, expected, rtol=1e-9)
    # The whole model's optimum is drawn too, hollow: every parameter free.
    star = view["fig"]["map"]["data"][-1]
    best = np.linalg.lstsq(design, y, rcond=None)[0]
    assert star["marker"]["symbol"] == "star-open"
    assert np.allclose([star["x"][0], star["y"][0]], best[:2], rtol=1e-9)


def test_each_points_pull_at_many_epochs_adds_up_to_the_gradient():
    h = fit(preset="fastai-quadratic", loss="mse", epochs=40)
    x, y = lesson_points()
    many = contributions_at(h, [0, 13, 40])
    for row, e in zip(many, [0, 13, 40], strict=True):
        expected = np_gradient_terms("mse", "quadratic", h.params[e], x, y)
        assert np.allclose(row, expected, rtol=1e-12, atol=1e-14)
        assert np.allclose(row.sum(axis=0), h.grads[e], rtol=1e-12, atol=1e-14)
        assert np.array_equal(row, contributions(h, e))


def test_the_pull_view_holds_shares_and_predictions_and_marks_outliers():
    data = make_preset("fastai-quadratic", outliers=2, seed=7)
    plain = make_preset("fastai-quadratic", seed=7)
    # The outliers are exactly the points the setting moved.
    assert list(data.outliers) == np.flatnonzero(data.y != plain.y).tolist()
    h = fit(data=data, loss="l1", epochs=60)
    view = pull_view(h, [0, 2], data.outliers)
    epochs = unpack(view["epochs"]).astype(int)
    assert epochs[0] == 0 and epochs[-1] == 60 and len(epochs) <= DETAIL_EPOCHS
    shares = unpack(view["shares"]).reshape(len(epochs), len(h.x), 2)
    preds = unpack(view["preds"]).reshape(len(epochs), len(h.x))
    design = features("quadratic", data.x)
    for d in (0, len(epochs) // 2, len(epochs) - 1):
        e = epochs[d]
        terms = np_gradient_terms("l1", "quadratic", h.params[e], data.x, data.y)
        assert np.allclose(shares[d], terms[:, [0, 2]], rtol=1e-12, atol=1e-15)
        assert np.allclose(shares[d].sum(axis=0), h.grads[e][[0, 2]], rtol=1e-9, atol=1e-12)
        assert np.allclose(preds[d], design @ h.params[e], rtol=1e-6)  # drawn: float32
    assert view["outliers"] == list(data.outliers)
    assert "sign" in view["words"]  # L1: each point pulls by the sign of its error
    big = fit(preset="sine", points=PULL_POINTS + 1, epochs=3)
    assert pull_view(big, [0]) is None


def test_rounding_noise_is_told_from_a_real_gradient():
    # The line under L1 on the lesson's points, symmetric around 0: while every point is
    # above the line, the gradient of m is the mean of x, 0 in exact arithmetic.
    h = fit(preset="fastai-quadratic", model="line", epochs=30)
    x, y = lesson_points()
    design = features("line", x)
    scales = grad_scales(h)
    assert scales.shape == h.grads.shape
    for k in range(31):
        terms = np_gradient_terms("l1", "line", h.params[k], x, y)
        assert np.allclose(scales[k], np.abs(terms).sum(axis=0), rtol=1e-12)
    noise = rounding_noise(h.grads, scales)
    for k in range(31):
        e = design @ h.params[k] - y
        same_side = np.all(e < 0) or np.all(e > 0)
        if same_side and h.grads[k, 0] != 0:
            assert noise[k, 0] and abs(h.grads[k, 0]) < ROUNDING_NOISE * scales[k, 0]
        if not same_side and abs(np.sign(e) @ x / x.size) > 1e-6:
            assert not noise[k, 0]  # a real gradient
        assert not noise[k, 1]  # b's gradient is a count of signs: never noise here
    assert noise[:, 0].any()
    # An exact 0 is 0, not noise.
    assert not rounding_noise(np.array([[0.0]]), np.array([[1.0]]))[0, 0]


def test_slope_panels_hold_the_loss_along_each_parameter_over_fixed_spans():
    h = fit(preset="roller-coaster", epochs=50, lr=3e-5)
    x, y = roller_coaster_points()
    design = features("quadratic", x)
    view = slope_view(h, [0, 1, 2], plain_sgd=True)
    epochs = unpack(view["epochs"]).astype(int)
    assert epochs.tolist() == list(range(51))  # a short run: every epoch
    spans = np.array(view["spans"])
    path = np_sgd("mse", "quadratic", h.params[0], x, y, 3e-5, 51)  # and the step after 50
    for s in range(3):
        lo, hi = spans[s]
        assert lo < path[:, s].min() and path[:, s].max() < hi
    values = unpack(view["values"]).reshape(51, 3, -1)
    grid = [np.linspace(lo, hi, values.shape[2]) for lo, hi in spans]
    for e in (0, 25, 50):
        for s in range(3):
            for j in (0, 20, 40):
                p = h.params[e].copy()
                p[s] = grid[s][j]
                assert values[e, s, j] == pytest.approx(mse(design, p, y), rel=1e-6)


def test_a_loss_that_rises_by_rounding_did_not_overshoot():
    from explorer.figures import rises

    # The line preset under MSE at lr 0.1 ends at the bottom of its valley, where float64
    # leaves the loss wobbling by 5.6e-17: no step overshot there.
    h = fit(preset="line", loss="mse", epochs=100, lr=0.1)
    wobble = np.flatnonzero(np.diff(h.loss) > 0) + 1
    assert wobble.size and np.all(np.diff(h.loss)[wobble - 1] < 1e-15)
    assert rises(h.loss).size == 0
    # A real overshoot (lr 10 on the lesson) is every rise it looks like.
    big = fit(preset="fastai-quadratic", lr=10.0, epochs=10)
    real = np.flatnonzero(np.diff(big.loss) > 0) + 1
    assert real.size and np.array_equal(rises(big.loss), real)
