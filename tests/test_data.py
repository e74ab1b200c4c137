"""Presets reproduce the course's recipes exactly; knobs are checked."""

import numpy as np
import pytest

from explorer.data import MAX_POINTS, PRESETS, Dataset, make_preset
from explorer.losses import LOSSES
from explorer.models import MODELS
from explorer.optim import OPTIMIZERS
from explorer.settings import NOISE

MAX_NOISE = NOISE.high
# The presets of a function y(x). The outline presets (cat, heart, star: points in the
# plane, y of shape (n, 2)) have their own written-out recipe in test_cat.py, which checks
# that it covers every one of them.
FUNCTIONS = [name for name, p in PRESETS.items() if p.outputs == 1]


def test_fastai_quadratic_is_the_lesson_recipe():
    # Lesson 3, "How does a neural net really work?": multiplicative noise drawn first.
    x = np.linspace(-2, 2, 20)
    rng = np.random.RandomState(42)
    mult = rng.normal(scale=0.15, size=20)
    add = rng.normal(scale=1.5, size=20)
    y = (3 * x**2 + 2 * x + 1) * (1 + mult) + add

    d = make_preset("fastai-quadratic")
    np.testing.assert_array_equal(d.x, x)
    np.testing.assert_allclose(d.y, y, rtol=1e-15, atol=0)
    assert round(float(d.y[0]), 4) == 11.8690
    assert d.n == 20
    assert d.x.dtype == d.y.dtype == np.float64


@pytest.mark.parametrize("seed", [42, 7])
def test_roller_coaster_is_the_fastbook_recipe(seed):
    # fastbook ch. 4: speed = torch.randn(20)*3 + 0.75*(time-9.5)**2 + 1, seeded by us.
    t = np.arange(20, dtype=np.float64)
    rng = np.random.RandomState(seed)
    speed = rng.randn(20) * 3 + 0.75 * (t - 9.5) ** 2 + 1

    d = make_preset("roller-coaster", seed=seed)
    np.testing.assert_array_equal(d.x, t)
    np.testing.assert_allclose(d.y, speed, rtol=1e-15, atol=0)


# Each preset's published recipe, written out here: the clean curve, where its points lie,
# and its own number of points and noise level. Additive noise is
# ``RandomState(seed).normal(scale=noise, size=points)``, except where a test says otherwise.
CLEAN = {
    "fastai-quadratic": lambda x: 3 * x**2 + 2 * x + 1,
    "roller-coaster": lambda t: 0.75 * (t - 9.5) ** 2 + 1,  # for t = 0..19
    "line": lambda x: 2 * x + 1,
    "sine": np.sin,
    "abs": np.abs,
    "bathtub": lambda x: np.where(np.abs(x) > 1, 2 * (np.abs(x) - 1), 0.0),
    "overfit": np.exp,
}
SPAN = {
    "fastai-quadratic": (-2, 2),
    "line": (-2, 2),
    "sine": (-np.pi, np.pi),
    "abs": (-2, 2),
    "bathtub": (-2.5, 2.5),
    "overfit": (-1, 1),
}
OWN = {  # (points, noise)
    "fastai-quadratic": (20, 1.5),
    "roller-coaster": (20, 3.0),
    "line": (30, 0.5),
    "sine": (50, 0.1),
    "abs": (30, 0.1),
    "bathtub": (40, 0.1),
    "overfit": (12, 0.3),
}


def recipe(name: str, points: int, noise: float, seed: int, outliers: int = 0):
    """The points of preset ``name`` by its published recipe; each outlier (drawn after the
    noise) is pushed up by the range of the clean curve, at least 1."""
    rng = np.random.RandomState(seed)
    if name == "fastai-quadratic":
        x = np.linspace(-2, 2, points)
        mult = rng.normal(scale=noise / 10, size=points)  # multiplicative noise first
        y = CLEAN[name](x) * (1 + mult) + rng.normal(scale=noise, size=points)
    elif name == "roller-coaster":
        assert points == 20  # the book's 20 seconds, centred on 9.5
        x = np.arange(20, dtype=np.float64)
        y = rng.randn(20) * noise + CLEAN[name](x)
    else:
        x = np.linspace(*SPAN[name], points)
        y = CLEAN[name](x) + rng.normal(scale=noise, size=points)
    if outliers:
        idx = rng.choice(points, size=outliers, replace=False)
        y[idx] += max(float(np.ptp(CLEAN[name](x))), 1.0)
    return x, y


def test_every_preset_has_a_written_out_recipe():
    assert set(CLEAN) == set(OWN) == set(FUNCTIONS)


@pytest.mark.parametrize("seed", [42, 3])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_preset_is_its_recipe(name, seed):
    points, noise = OWN[name]
    x, y = recipe(name, points, noise, seed)
    d = make_preset(name, seed=seed)
    np.testing.assert_array_equal(d.x, x)
    np.testing.assert_allclose(d.y, y, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_preset_defaults_name_registered_settings(name):
    d = make_preset(name)
    assert d.n == OWN[name][0]
    preset = PRESETS[name]
    assert d.name == name
    assert preset.defaults["model"] in MODELS
    assert preset.defaults["loss"] in LOSSES
    assert preset.defaults.get("optimizer", "sgd") in OPTIMIZERS


@pytest.mark.parametrize("name", FUNCTIONS)
def test_zero_noise_gives_the_clean_function(name):
    d = make_preset(name, noise=0.0)
    x = np.arange(20.0) if name == "roller-coaster" else np.linspace(*SPAN[name], OWN[name][0])
    np.testing.assert_array_equal(d.x, x)
    np.testing.assert_allclose(d.y, CLEAN[name](x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_same_seed_same_points_other_seed_other_points(name):
    a, b, c = make_preset(name, seed=3), make_preset(name, seed=3), make_preset(name, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.x, c.x)
    assert not np.array_equal(a.y, c.y)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_outliers_leaves_the_recipe_untouched(name):
    np.testing.assert_array_equal(make_preset(name, outliers=0).y, make_preset(name).y)


@pytest.mark.parametrize("k", [1, 3, 20])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_outliers_move_exactly_k_points_up(name, k):
    clean = make_preset(name, points=20, seed=5)
    dirty = make_preset(name, points=20, seed=5, outliers=k)
    np.testing.assert_array_equal(dirty.x, clean.x)
    moved = dirty.y != clean.y
    assert moved.sum() == k
    push = dirty.y[moved] - clean.y[moved]
    # Each is pushed up by the range of the clean function (written out above) at these
    # points, at least 1.
    expected = max(float(np.ptp(CLEAN[name](clean.x))), 1.0)
    np.testing.assert_allclose(push, expected, rtol=1e-9)
    # And exactly the points of the recipe with its outliers.
    np.testing.assert_allclose(dirty.y, recipe(name, 20, OWN[name][1], 5, k)[1], rtol=1e-15)


@pytest.mark.parametrize("points", [2, 21, 500])
def test_points_knob(points):
    d = make_preset("line", points=points)
    assert d.n == points
    assert d.x[0] == -2 and d.x[-1] == 2


@pytest.mark.parametrize(
    "knobs",
    [
        {"name": "nope"},
        {"points": 1},
        {"points": MAX_POINTS + 1},
        {"points": 2.5},
        {"points": True},
        {"points": "20"},
        {"points": float("inf")},
        {"noise": -0.1},
        {"noise": MAX_NOISE + 1},
        {"noise": float("nan")},
        {"noise": float("inf")},
        {"outliers": -1},
        {"outliers": 21},
        {"outliers": 1.5},
        {"outliers": True},
        {"outliers": float("inf")},
        {"seed": -1},
        {"seed": 2**32},
        {"seed": 1.5},
        {"seed": True},
        {"seed": float("inf")},
    ],
    ids=repr,
)
def test_bad_knobs_raise_value_error(knobs):
    knobs = {"name": "fastai-quadratic", "points": 20, **knobs}
    with pytest.raises(ValueError):
        make_preset(**knobs)


def test_dataset_is_flat_float64():
    d = Dataset([[1], [2], [3]], np.array([4, 5, 6], np.int32))
    assert d.x.shape == d.y.shape == (3,)
    assert d.x.dtype == d.y.dtype == np.float64
    assert d.n == 3


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0]),
        ([1.0], [1.0]),
        ([1.0, np.nan], [1.0, 2.0]),
        ([1.0, 2.0], [np.inf, 2.0]),
        (np.zeros(MAX_POINTS + 1), np.zeros(MAX_POINTS + 1)),
    ],
)
def test_dataset_rejects_bad_points(x, y):
    with pytest.raises(ValueError):
        Dataset(x, y)
