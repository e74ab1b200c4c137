"""Fit a cat: the outline presets (points in the plane) and the curve models t -> (x(t), y(t)).

Everything against independent float64 NumPy: the losses of (n, 2) errors and their
gradients, the three curve models' formulas, the presets' written-out recipes, gradient
descent on the relu-curve (linear in its parameters), the engine's History, frames,
downloads and command line; and the cat preset's suggested run ends at a cat.
"""

from __future__ import annotations

import csv
import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference import finite_differences

from explorer import PRESETS, fit, landscape, stability_limit, train
from explorer.cli import main
from explorer.data import CAT, OUTLINES, Dataset, make_preset, outline_at
from explorer.descent import contributions
from explorer.export import curve_svg, history_csv, history_json
from explorer.losses import LOSSES, all_losses, call
from explorer.models import ACTIVATIONS, MODELS, build_model
from explorer.train import GRID, evaluate, pad

CURVE_CASES = [
    *[("relu-curve", {"corners": c}) for c in (3, 7, 32)],
    *[("mlp-curve", {"width": w, "activation": a}) for a in ACTIVATIONS for w in (1, 5)],
    *[("fourier-curve", {"terms": k}) for k in (1, 4, 12)],
]
CASE_IDS = [name + "".join(f"-{v}" for v in size.values()) for name, size in CURVE_CASES]
OUTLINE_PRESETS = [name for name, p in PRESETS.items() if p.outputs == 2]
DELTAS = (0.3, 1.0)


# ----------------------------------------------------------------------------- references


def np_curve_loss(name: str, e: np.ndarray, delta: float = 1.0) -> float:
    """The losses of (n, 2) errors as documented: each point counts by its distance from
    its target, written out coordinate by coordinate."""
    ex, ey = np.asarray(e, np.float64).T
    squared = ex**2 + ey**2
    if name == "l1":
        return float(np.mean(np.sqrt(squared)))
    if name == "mse":
        return float(np.mean(squared))
    if name == "l2":
        return float(np.sqrt(np.mean(squared)))
    if name == "huber":
        d = np.sqrt(squared)
        return float(np.mean(np.where(d <= delta, 0.5 * squared, delta * (d - 0.5 * delta))))
    raise AssertionError(f"no reference formula for loss {name!r}")


def np_curve_loss_grad(name: str, e: np.ndarray, delta: float = 1.0) -> np.ndarray:
    """d loss / d e (n, 2), derived by hand: the distance d_i = |e_i| has gradient
    e_i / d_i, taken as 0 at d_i = 0."""
    e = np.asarray(e, np.float64)
    n = len(e)
    d = np.hypot(e[:, 0], e[:, 1])
    unit = np.divide(e, d[:, None], out=np.zeros_like(e), where=d[:, None] > 0)
    if name == "l1":
        return unit / n
    if name == "mse":
        return 2 * e / n
    if name == "l2":
        return e / (n * np.sqrt(np.mean(d**2)))
    if name == "huber":
        return unit * np.minimum(d, delta)[:, None] / n
    raise AssertionError(f"no reference gradient for loss {name!r}")


def np_curve(model, flat, t) -> np.ndarray:
    """(n, 2) the curve models' formulas in float64 NumPy, from the flat parameters split
    by the documented layout (test_curve_layouts_are_readable), not by ``unflatten``."""
    f = np.asarray(flat, np.float64)
    t = np.asarray(t, np.float64)
    if model.name == "relu-curve":  # x[0..c-1], y[0..c-1]; corner c (t = 1) is corner 0
        c = f.size // 2
        out = []
        for corners in (f[:c], f[c:]):
            # Each tent written as the lesson's three ReLUs.
            total = np.zeros_like(t)
            for i, value in enumerate([*corners, corners[0]]):
                u = c * t - i
                relu = lambda z: np.maximum(z, 0.0)  # noqa: E731
                total += value * (relu(u + 1) - 2 * relu(u) + relu(u - 1))
            out.append(total)
        return np.stack(out, axis=1)
    if model.name == "mlp-curve":  # W1[w], b1[w], x.W2[w], x.b2, y.W2[w], y.b2
        w = (f.size - 2) // 4
        w1, b1 = f[:w], f[w : 2 * w]
        xw2, xb2 = f[2 * w : 3 * w], f[3 * w]
        yw2, yb2 = f[3 * w + 1 : 4 * w + 1], f[4 * w + 1]
        act = {
            "relu": lambda z: np.maximum(z, 0.0),
            "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
            "tanh": np.tanh,
        }[model.option("activation")]
        hidden = act(np.outer(t, w1) + b1)
        return np.stack([xb2 + hidden @ xw2, yb2 + hidden @ yw2], axis=1)
    if model.name == "fourier-curve":  # x.a0, x.a1, x.b1, ..., x.aK, x.bK, then y's
        k = (f.size // 2 - 1) // 2
        out = []
        for coef in (f[: f.size // 2], f[f.size // 2 :]):
            value = np.full_like(t, coef[0])
            for j in range(1, k + 1):
                a, b = coef[2 * j - 1], coef[2 * j]
                value += a * np.cos(2 * np.pi * j * t) + b * np.sin(2 * np.pi * j * t)
            out.append(value)
        return np.stack(out, axis=1)
    raise AssertionError(f"no reference formula for model {model.name!r}")


def np_outline_points(name: str, points: int, noise: float, seed: int) -> tuple:
    """An outline preset's documented recipe, written out: t = 0..1 evenly, each t the
    point that far around the outline by arc length from its first corner; noise
    N(0, noise) on x and y of all but the last point, which shares the first's."""
    corners = np.asarray(OUTLINES[name], np.float64)
    loop = np.vstack([corners, corners[:1]])
    lengths = [0.0]
    for a, b in zip(loop[:-1], loop[1:], strict=True):
        lengths.append(lengths[-1] + float(np.hypot(*(b - a))))
    t = np.linspace(0, 1, points)
    clean = []
    for ti in t:
        s = ti * lengths[-1]
        j = min(np.searchsorted(lengths, s, side="right") - 1, len(loop) - 2)
        share = (s - lengths[j]) / (lengths[j + 1] - lengths[j])
        clean.append(loop[j] + share * (loop[j + 1] - loop[j]))
    clean = np.array(clean)
    shift = np.random.RandomState(seed).normal(scale=noise, size=(points - 1, 2))
    return t, clean + np.vstack([shift, shift[:1]])


def errors(seed: int, n: int = 11) -> np.ndarray:
    """(n, 2) errors whose lengths are away from 0 and from every Huber delta."""
    rng = np.random.default_rng(seed)
    length = rng.choice([0.1, 0.5, 0.8, 1.7, 4.0], n) * rng.uniform(0.9, 1.1, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([length * np.cos(angle), length * np.sin(angle)], axis=1)


def loss_of(name: str, e, mask, delta: float = 1.0):
    return call(LOSSES[name], jnp.asarray(e), jnp.asarray(mask), {"huber_delta": delta})


# ----------------------------------------------------------------------------- losses


def test_curve_cases_cover_every_curve_model():
    assert {name for name, _ in CURVE_CASES} == {n for n, f in MODELS.items() if f.outputs == 2}
    assert OUTLINE_PRESETS == ["cat", "heart", "star"]


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_of_points_in_the_plane_are_of_their_distances(name, delta):
    e = errors(0)
    # Padding rows (mask 0) hold garbage that must not count.
    padded = np.vstack([e, np.random.default_rng(1).normal(0, 50, (5, 2))])
    mask = np.r_[np.ones(len(e)), np.zeros(5)]
    got = float(loss_of(name, padded, mask, delta))
    assert got == pytest.approx(np_curve_loss(name, e, delta), rel=1e-13)
    assert dict(all_losses(e, np.zeros_like(e), huber_delta=delta))[name] == pytest.approx(
        np_curve_loss(name, e, delta), rel=1e-13
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_flat_curve_has_the_one_output_loss(name):
    # With every error along x, a point's distance is |ex|: the one-output loss.
    ex = errors(2)[:, 0]
    flat = np.stack([ex, np.zeros_like(ex)], axis=1)
    one = float(loss_of(name, ex, np.ones(ex.size)))
    assert float(loss_of(name, flat, np.ones(ex.size))) == pytest.approx(one, rel=1e-14)


def test_mse_is_the_mean_squared_distance_not_the_mean_over_coordinates():
    e = np.array([[3.0, 4.0], [0.0, 1.0]])  # distances 5 and 1
    got = {k: float(loss_of(k, e, np.ones(2))) for k in LOSSES}
    assert got["l1"] == 3.0  # (5 + 1) / 2; |ex| + |ey| would give 4
    assert got["mse"] == 13.0  # (25 + 1) / 2; over both coordinates it would be 6.5
    assert got["l2"] == pytest.approx(np.sqrt(13.0), rel=1e-15)
    # Huber, delta 1: 1 * (5 - 1/2) and 1/2 * 1, averaged.
    assert got["huber"] == pytest.approx((4.5 + 0.5) / 2, rel=1e-15)


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradients_are_the_hand_derived_ones(name, delta):
    e = errors(3)
    mask = np.ones(len(e))
    g = np.asarray(jax.grad(lambda q: loss_of(name, q, mask, delta))(jnp.asarray(e)))
    np.testing.assert_allclose(g, np_curve_loss_grad(name, e, delta), rtol=1e-12, atol=1e-15)
    fd = finite_differences(
        lambda flat: np_curve_loss(name, flat.reshape(e.shape), delta), e.reshape(-1)
    )
    np.testing.assert_allclose(g.reshape(-1), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_point_on_its_target_does_not_pull(name):
    # Distance 0: sqrt's slope is infinite there; the gradient must be 0, not NaN.
    e = np.array([[0.0, 0.0], [0.3, -0.4], [0.0, 0.0]])
    g = np.asarray(jax.grad(lambda q: loss_of(name, q, np.ones(3)))(jnp.asarray(e)))
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[[0, 2]], 0.0)
    np.testing.assert_allclose(g, np_curve_loss_grad(name, e), rtol=1e-12, atol=1e-15)
    zero = np.zeros((3, 2))
    g0 = np.asarray(jax.grad(lambda q: loss_of(name, q, np.ones(3)))(jnp.asarray(zero)))
    np.testing.assert_array_equal(g0, 0.0)


# ----------------------------------------------------------------------------- models


@pytest.mark.parametrize(("name", "size"), CURVE_CASES, ids=CASE_IDS)
def test_curve_model_matches_its_numpy_formula(name, size):
    model = build_model(name, **size)
    assert model.outputs == 2
    flat = model.init(7)
    t = np.random.default_rng(0).uniform(0, 1, 23)
    got = np.asarray(model.predict(jnp.asarray(flat), jnp.asarray(t)))
    assert got.shape == (23, 2)
    np.testing.assert_allclose(got, np_curve(model, flat, t), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize(("name", "size"), CURVE_CASES, ids=CASE_IDS)
def test_gradient_of_curve_model_and_loss_matches_finite_differences(name, size, loss):
    model = build_model(name, **size)
    flat = model.init(5)
    t = np.random.default_rng(1).uniform(0, 1, 13)
    # Targets off the curve by lengths away from 0 and from the Huber delta (1.0).
    y = np_curve(model, flat, t) - errors(4, 13)
    mask = jnp.ones(13)

    def loss_at(p):
        return call(LOSSES[loss], model.predict(p, jnp.asarray(t)) - y, mask, {"huber_delta": 1.0})

    g = np.asarray(jax.grad(loss_at)(jnp.asarray(flat)))
    fd = finite_differences(lambda p: np_curve_loss(loss, np_curve(model, p, t) - y), flat)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * max(np.abs(fd).max(), 1.0))


def test_curve_layouts_are_readable():
    assert build_model("relu-curve", corners=3).layout == [
        "x[0]", "x[1]", "x[2]", "y[0]", "y[1]", "y[2]",
    ]  # fmt: skip
    assert build_model("mlp-curve", width=2).layout == [
        "W1[0]", "W1[1]", "b1[0]", "b1[1]", "x.W2[0]", "x.W2[1]", "x.b2",
        "y.W2[0]", "y.W2[1]", "y.b2",
    ]  # fmt: skip
    assert build_model("fourier-curve", terms=2).layout == [
        "x.a0", "x.a1", "x.b1", "x.a2", "x.b2", "y.a0", "y.a1", "y.b1", "y.a2", "y.b2",
    ]  # fmt: skip
    # Each is a parameter a start can name.
    p = build_model("fourier-curve", terms=2).init(0, {"y.b2": 0.25, "x.a0": -1})
    assert p[9] == 0.25 and p[0] == -1
    p = build_model("relu-curve", corners=3).init(0, {"y[1]": 2.0})
    assert p[4] == 2.0


@pytest.mark.parametrize(("name", "size"), CURVE_CASES, ids=CASE_IDS)
def test_curve_starts_are_seeded_float64(name, size):
    model = build_model(name, **size)
    a, b, c = model.init(3), model.init(3), model.init(4)
    assert a.dtype == np.float64 and a.shape == (model.n_params,)
    np.testing.assert_array_equal(a, b)
    # The mlp-curve's output biases start at 0; everything else is drawn from the seed.
    zero = [i for i, n in enumerate(model.layout) if name == "mlp-curve" and n.endswith(".b2")]
    np.testing.assert_array_equal(a[zero], 0.0)
    drawn = [i for i in range(model.n_params) if i not in zero]
    assert np.all(a[drawn] != c[drawn])


@pytest.mark.parametrize(
    ("name", "size"), [("relu-curve", {"corners": 5}), ("fourier-curve", {"terms": 3})]
)
def test_linear_curve_models_least_squares_is_numpys(name, size):
    model = build_model(name, **size)
    assert model.linear
    t = np.linspace(0, 1, 17)
    rng = np.random.default_rng(5)
    target = rng.normal(0, 1, (17, 2))
    # The design written out from the NumPy formula: column j is the curve of the unit
    # vector j, rows point by point, x then y.
    eye = np.eye(model.n_params)
    design = np.stack([np_curve(model, eye[j], t).reshape(-1) for j in range(model.n_params)], 1)
    np.testing.assert_allclose(model.family.features(t, **size), design, atol=1e-14)
    expected = np.linalg.lstsq(design, target.reshape(-1), rcond=None)[0]
    np.testing.assert_allclose(model.least_squares(t, target), expected, rtol=1e-10, atol=1e-12)
    assert not build_model("mlp-curve").linear


def test_relu_curve_grid_draws_its_corners():
    model = build_model("relu-curve", corners=7)
    grid = model.curve_grid(GRID)
    assert grid[0] == 0 and grid[-1] == 1 and np.all(np.diff(grid) > 0)
    assert set(np.arange(8) / 7) <= set(grid)
    np.testing.assert_array_equal(
        build_model("fourier-curve").curve_grid(50), np.linspace(0, 1, 50)
    )


# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize("seed", [42, 5])
@pytest.mark.parametrize("name", OUTLINE_PRESETS)
def test_outline_preset_is_its_recipe(name, seed):
    p = PRESETS[name]
    for points, noise in ((p.points, p.noise), (31, 0.05)):
        t, y = np_outline_points(name, points, noise, seed)
        d = make_preset(name, points=points, noise=noise, seed=seed)
        assert d.outputs == 2 and d.y.shape == (points, 2)
        np.testing.assert_array_equal(d.x, t)
        np.testing.assert_allclose(d.y, y, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", OUTLINE_PRESETS)
def test_outline_is_closed_ordered_and_evenly_spaced(name):
    d = make_preset(name, points=200)
    assert d.x[0] == 0 and d.x[-1] == 1 and np.all(np.diff(d.x) > 0)
    np.testing.assert_array_equal(d.y[0], d.y[-1])  # the last point is the first
    # Ordered around the outline: no step between neighbours is longer than the arc
    # between them (perimeter / (n - 1)); a step along one edge (most of them) equals it,
    # and on the heart, which bends a little at each of its 360 corners, nearly does.
    corners = np.asarray(OUTLINES[name])
    perimeter = np.sum(np.hypot(*(np.roll(corners, -1, axis=0) - corners).T))
    steps = np.hypot(*np.diff(d.y, axis=0).T)
    assert np.all(steps <= perimeter / 199 + 1e-12)
    assert np.median(steps) == pytest.approx(perimeter / 199, rel=1e-3)  # the heart bends
    # Noise keeps it closed.
    noisy = make_preset(name, points=40, noise=0.1, seed=3)
    np.testing.assert_array_equal(noisy.y[0], noisy.y[-1])
    assert not np.array_equal(noisy.y, make_preset(name, points=40, noise=0.1, seed=4).y)


def _segments_cross(p, q, r, s) -> bool:
    def side(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    return side(p, q, r) * side(p, q, s) < 0 and side(r, s, p) * side(r, s, q) < 0


def test_the_cat_is_a_simple_outline_with_two_ears_a_head_a_body_and_a_tail():
    c = np.asarray(CAT)
    assert 30 <= len(c) <= 80
    n = len(c)
    edges = [(c[i], c[(i + 1) % n]) for i in range(n)]
    crossings = [
        (i, j)
        for i in range(n)
        for j in range(i + 2, n)
        if not (i == 0 and j == n - 1) and _segments_cross(*edges[i], *edges[j])
    ]
    assert crossings == []  # it never crosses itself
    # Two pointed ears: the two highest corners, one each side, with a dip between them.
    top = np.argsort(c[:, 1])[-2:]
    left, right = sorted(top, key=lambda i: c[i, 0])
    assert c[left, 0] < -0.2 and c[right, 0] > 0.2
    between = c[min(left, right) + 1 : max(left, right), 1]
    assert between.max() < min(c[left, 1], c[right, 1]) - 0.15
    # A head narrower than the body, and a tail out to the right of the body.
    head = np.abs(c[c[:, 1] > 0.3, 0]).max()
    body = np.abs(c[(c[:, 1] < -0.3) & (c[:, 0] < 0), 0]).max()
    assert head < 0.75 * body
    assert c[:, 0].max() > body + 0.3


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("name", OUTLINE_PRESETS)
def test_outliers_move_outline_points_up_by_its_height(name, k):
    clean = make_preset(name, points=20, noise=0.05, seed=5)
    dirty = make_preset(name, points=20, noise=0.05, seed=5, outliers=k)
    moved = np.any(dirty.y != clean.y, axis=1)
    assert moved.sum() == k and list(np.flatnonzero(moved)) == list(dirty.outliers)
    np.testing.assert_array_equal(dirty.y[moved, 0], clean.y[moved, 0])
    height = max(float(np.ptp(outline_at(OUTLINES[name], clean.x)[:, 1])), 1.0)
    np.testing.assert_allclose(dirty.y[moved, 1] - clean.y[moved, 1], height, rtol=1e-12)


def test_dataset_takes_points_in_the_plane():
    d = Dataset([0, 0.5, 1], [[1, 2], [3, 4], [1, 2]])
    assert d.outputs == 2 and d.y.shape == (3, 2) and d.y.dtype == np.float64
    assert Dataset([1, 2], [[1], [2]]).outputs == 1  # one column is one output
    with pytest.raises(ValueError, match="x has 2 values"):
        Dataset([0, 1], [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(ValueError, match="finite"):
        Dataset([0, 1], [[1, np.nan], [3, 4]])


# ----------------------------------------------------------------------------- the engine


def np_relu_curve_sgd(corners, p0, t, target, lr, epochs):
    """Full-batch gradient descent on the mean squared distance, in NumPy: the curve is
    design @ p (rows point by point, x then y), so the gradient is (2/n) designᵀ(design @ p
    - target)."""
    model = build_model("relu-curve", corners=corners)
    eye = np.eye(model.n_params)
    design = np.stack([np_curve(model, eye[j], t).reshape(-1) for j in range(model.n_params)], 1)
    path, p = [], np.asarray(p0, np.float64)
    for _ in range(epochs + 1):
        e = design @ p - target.reshape(-1)
        path.append((p, float(np.mean(e.reshape(-1, 2) ** 2) * 2), 2 / len(t) * design.T @ e))
        p = p - lr * path[-1][2]
    return path


def test_engine_is_numpys_gradient_descent_on_the_cat():
    h = fit(preset="cat", corners=8, lr=0.7, epochs=25)
    d = make_preset("cat")
    path = np_relu_curve_sgd(8, h.params[0], d.x, d.y, 0.7, 25)
    for k, (p, loss, g) in enumerate(path):
        np.testing.assert_allclose(h.params[k], p, rtol=1e-12, atol=1e-14)
        assert h.loss[k] == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(h.grads[k], g, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", OUTLINE_PRESETS)
def test_each_outline_presets_suggested_run_draws_it(name):
    h = fit(preset=name)
    p = PRESETS[name].defaults
    assert h.model.name == p["model"] and h.diverged_at is None
    assert h.loss[-1] <= h.loss[0] / 5
    assert h.loss[-1] < 1e-3  # mean squared distance: about 3% of the outline's size


def test_the_suggested_cat_is_a_cat():
    h = fit(preset="cat")
    assert h.config["model"] == "relu-curve" and h.config["corners"] == 32
    assert h.loss[-1] <= h.loss[0] / 5
    curve = h.predict(h.last_epoch, np.linspace(0, 1, 2001))
    # Every corner of the drawn cat (ear tips, neck, the tail's tip) is within 0.08 of the
    # curve: the cat is about 2 wide and 2.1 tall.
    gaps = np.min(
        np.hypot(*(np.asarray(CAT)[:, None, :] - curve[None, :, :]).transpose(2, 0, 1)), 1
    )
    assert gaps.max() < 0.08, dict(zip(map(tuple, CAT), gaps.round(3), strict=True))


@pytest.mark.parametrize(
    "settings",
    [
        dict(model="fourier-curve", terms=12, optimizer="sgd", lr=0.5, epochs=300),
        dict(model="mlp-curve", width=64, optimizer="adam", lr=0.01, epochs=10000),
    ],
    ids=["fourier-curve", "mlp-curve"],
)
def test_the_other_curve_models_draw_the_cat_with_the_documented_settings(settings):
    # The README's settings for these two (the preset suggests the relu-curve).
    h = fit(preset="cat", **settings)
    assert h.diverged_at is None and h.loss[-1] <= h.loss[0] / 5 and h.loss[-1] < 5e-4
    curve = h.predict(h.last_epoch, np.linspace(0, 1, 2001))
    ears = np.array([(-0.31, 1.1), (0.31, 1.1)])
    gaps = np.min(np.hypot(*(ears[:, None, :] - curve[None, :, :]).transpose(2, 0, 1)), 1)
    assert gaps.max() < 0.1


@pytest.mark.parametrize("name", list(LOSSES))
def test_history_of_an_outline_run_is_numpys(name):
    h = fit(preset="cat", model="fourier-curve", terms=3, loss=name, optimizer="adam", lr=0.05)
    d = make_preset("cat")
    model = h.model
    for k in (0, 1, h.last_epoch):
        e = np_curve(model, h.params[k], d.x) - d.y
        assert h.loss[k] == pytest.approx(np_curve_loss(name, e), rel=1e-12)
        eye = np.eye(model.n_params)
        jac = np.stack([np_curve(model, eye[j], d.x) for j in range(model.n_params)], 2)
        g = np.einsum("no,nop->p", np_curve_loss_grad(name, e), jac)
        np.testing.assert_allclose(h.grads[k], g, rtol=1e-10, atol=1e-13)
    ev = evaluate(model, h.params[3], d.x, d.y, name)
    assert ev.loss == pytest.approx(h.loss[3], rel=1e-13)
    np.testing.assert_allclose(ev.grad, h.grads[3], rtol=1e-12, atol=1e-15)
    for other in LOSSES:
        e = np_curve(model, h.params[3], d.x) - d.y
        assert ev.metrics[other] == pytest.approx(np_curve_loss(other, e), rel=1e-12)


def test_frames_carry_both_coordinates_of_the_curve():
    h = fit(preset="cat", epochs=30)
    assert h.grid[0] == 0 and h.grid[-1] == 1
    assert h.frame_preds.shape == (31, len(h.grid), 2)
    for k in (0, 17, 30):
        np.testing.assert_allclose(
            h.frame_preds[k], np_curve(h.model, h.params[k], h.grid), rtol=1e-12, atol=1e-14
        )
    # The polygon closes: t = 0 and t = 1 are the same point.
    np.testing.assert_array_equal(h.frame_preds[:, 0], h.frame_preds[:, -1])
    assert not h.frame_preds.flags.writeable


def test_mini_batches_and_padding_on_points_in_the_plane():
    # 37 points pad to 40; the padding's zeros must not count, in full and mini-batches.
    h = fit(preset="heart", points=37, epochs=5)
    d = make_preset("heart", points=37)
    xp, yp, mask = pad(d.x, d.y)
    assert yp.shape == (40, 2) and mask.sum() == 37 and np.all(yp[37:] == 0)
    e = np_curve(h.model, h.params[5], d.x) - d.y
    assert h.loss[5] == pytest.approx(np_curve_loss("mse", e), rel=1e-12)
    b = fit(preset="heart", points=37, epochs=5, batch_size=8)
    assert b.diverged_at is None and b.loss[-1] < b.loss[0]


def test_a_curve_model_and_a_function_do_not_mix():
    with pytest.raises(ValueError, match="^the cat preset is an outline .* not quadratic$"):
        fit(preset="cat", model="quadratic")
    with pytest.raises(ValueError, match="^fourier-curve draws a curve .* choose a model of y"):
        fit(preset="line", model="fourier-curve")
    with pytest.raises(ValueError, match="mlp-curve draws a curve"):
        train(make_preset("sine"), build_model("mlp-curve"), build_model("mlp-curve").init(0))
    with pytest.raises(ValueError, match="choose a curve model"):
        fit(data=(np.linspace(0, 1, 5), np.ones((5, 2))), model="mlp")


def test_descent_views_of_an_outline_run():
    h = fit(preset="cat", corners=6, epochs=20)
    terms = contributions(h, 4)
    assert terms.shape == (64, 12)
    np.testing.assert_allclose(terms.sum(axis=0), h.grads[4], rtol=1e-10, atol=1e-15)
    land = landscape(h, along=("x[1]", "y[1]"), resolution=5)
    assert land.loss.shape == (5, 5) and np.all(np.isfinite(land.loss))
    best = h.model.least_squares(h.x, h.y)
    np.testing.assert_allclose(land.optimum, best[[1, 7]], rtol=1e-10)
    # The loss on the grid is the NumPy loss with the two parameters set.
    p = h.params[0].copy()
    p[[1, 7]] = land.xs[2], land.ys[3]
    e = np_curve(h.model, p, h.x) - h.y
    assert land.loss[3, 2] == pytest.approx(np_curve_loss("mse", e), rel=1e-12)
    # Plain SGD on the MSE of a linear curve: 2 / λmax of (2/n)·designᵀdesign.
    design = h.model.family.features(h.x, corners=6)
    top = np.linalg.eigvalsh(2 / 64 * design.T @ design).max()
    assert stability_limit(preset="cat", corners=6) == pytest.approx(2 / top, rel=1e-10)


# ----------------------------------------------------------------------------- downloads


def test_json_and_csv_carry_both_coordinates(capsys):
    h = fit(preset="star", epochs=4)
    doc = json.loads(history_json(h))
    d = make_preset("star")
    np.testing.assert_array_equal(np.array(doc["y"]), d.y)  # [x, y] pairs, in order
    np.testing.assert_array_equal(doc["x"], d.x)  # t
    assert doc["param_names"][:2] == ["x[0]", "x[1]"] and doc["param_groups"] == ["x", "y"]
    np.testing.assert_array_equal(doc["curve"]["t"], h.grid)
    np.testing.assert_allclose(
        doc["curve"]["points"], np_curve(h.model, h.params[4], h.grid), rtol=1e-12, atol=1e-14
    )
    rows = list(csv.reader(io.StringIO(history_csv(h))))
    assert rows[0][2:4] == ["x[0]", "x[1]"] and len(rows) == 6
    # The command line: the same document, and a table of targets beside the curve.
    assert main(["fit", "--preset", "star", "--epochs", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc
    assert main(["fit", "--preset", "star", "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    head = "t    target x    target y        x(t)        y(t)    distance"
    assert head in out
    table = out.split("the curve at epoch 4 against the targets:")[1]
    row = next(line for line in table.splitlines() if line.split()[:1] == ["0"])
    fitted = np_curve(h.model, h.params[4], [0.0])[0]
    np.testing.assert_allclose([float(v) for v in row.split()[1:5]], [*d.y[0], *fitted], rtol=1e-4)
    assert main(["fit", "--preset", "cat", "--model", "line"]) == 2
    assert "choose a curve model" in capsys.readouterr().err


def test_svg_picture_of_the_fit():
    h = fit(preset="star")
    svg = curve_svg(h)
    assert svg.startswith("<svg") and svg.count("<circle") == 50 and "relu-curve" in svg
    with pytest.raises(ValueError, match="outline runs"):
        curve_svg(fit(preset="line", epochs=1))


@pytest.mark.parametrize(
    "y",
    [
        [[0.5, 0.5]] * 6,  # every point the same
        [[0.0, 0.0], [1.0, 1.0]],  # two points
        [[-1e6, 1e6], [1e6, -1e6], [1e6, 1e6], [-1e6, 1e6]],  # the loader's largest values
    ],
    ids=["all-equal", "two-points", "huge-values"],
)
@pytest.mark.parametrize("name", ["relu-curve", "mlp-curve", "fourier-curve"])
def test_degenerate_outlines_stay_finite_or_say_where_they_diverged(name, y):
    from explorer import figures

    y = np.asarray(y, np.float64)
    data = Dataset(np.linspace(0, 1, len(y)), y, "points")
    m = build_model(name, corners=4, width=3, terms=2)
    for loss in LOSSES:
        for optimizer in ("sgd", "adam"):
            h = train(data, m, m.init(1), loss=loss, optimizer=optimizer, lr=0.05, epochs=30)
            assert np.isfinite(h.params).all() and np.isfinite(h.loss).all()
            assert np.isfinite(h.grads).all() and np.isfinite(h.frame_preds).all()
            if h.diverged_at is not None:
                assert len(h.loss) == h.diverged_at
            json.loads(history_json(h))  # strict JSON: no NaN
            if h.last_epoch >= 0:
                fig = figures.fit_figure(h)
                assert all(np.isfinite(v) for v in fig["layout"]["xaxis"]["range"])
                assert all(np.isfinite(v) for v in fig["layout"]["yaxis"]["range"])


def test_the_exported_animation_draws_the_curve_in_the_plane():
    from explorer import figures

    h = fit(preset="cat", epochs=30)
    fig = figures.fit_figure(h)
    targets, curve = fig["data"]
    np.testing.assert_allclose(figures.unpack(targets["x"]), h.y[:, 0], rtol=1e-6)
    np.testing.assert_allclose(figures.unpack(targets["y"]), h.y[:, 1], rtol=1e-6)
    assert "lines" in targets["mode"]  # joined in their order around the outline
    for frame in (fig["frames"][0], fig["frames"][-1]):
        k = int(frame["name"])
        points = h.frame_preds[list(h.frame_epochs).index(k)]
        np.testing.assert_allclose(figures.unpack(frame["data"][0]["x"]), points[:, 0], atol=1e-6)
        np.testing.assert_allclose(figures.unpack(frame["data"][0]["y"]), points[:, 1], atol=1e-6)
    assert fig["layout"]["yaxis"]["scaleanchor"] == "x"  # a cat keeps its shape
    shown = figures.player_fit_figure([("relu-curve", "#000", h)])
    np.testing.assert_allclose(
        figures.unpack(shown["data"][1]["x"]), h.frame_preds[0][:, 0], atol=1e-6
    )
