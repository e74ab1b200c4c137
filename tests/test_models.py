"""Models: predictions against NumPy, gradients of (model x loss) against finite differences,
initial values, overrides, layouts and size checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference import finite_differences, np_loss

from explorer.losses import LOSSES, call
from explorer.models import ACTIVATIONS, MAX_DEGREE, MAX_RELUS, MAX_WIDTH, MODELS, build_model

MODEL_CASES = [
    ("line", {}),
    ("quadratic", {}),
    *[("polynomial", {"degree": d}) for d in range(1, MAX_DEGREE + 1)],
    *[("relu-sum", {"relus": r}) for r in (1, 3, MAX_RELUS)],
    *[("mlp", {"width": w, "activation": a}) for a in ACTIVATIONS for w in (1, 5)],
]
CASE_IDS = [name + "".join(f"-{v}" for v in size.values()) for name, size in MODEL_CASES]

NP_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
}


def np_predict(model, flat, x):
    """The model's formula in float64 NumPy, written independently of explorer.models: the
    flat vector is split by the documented layout (see test_layout_names_every_entry), not
    by the model's own ``unflatten``."""
    f = np.asarray(flat, np.float64)
    x = np.asarray(x, np.float64)
    if model.name == "line":
        m, b = f
        return m * x + b
    if model.name == "quadratic":
        a, b, c = f
        return a * x**2 + b * x + c
    if model.name == "polynomial":  # c0, c1, ..., cd
        return np.polynomial.polynomial.polyval(x, f)
    if model.name == "relu-sum":  # m[0..r-1], b[0..r-1], c
        r = (f.size - 1) // 2
        m, b, c = f[:r], f[r : 2 * r], f[2 * r]
        return c + np.maximum(np.outer(x, m) + b, 0.0).sum(axis=1)
    if model.name == "mlp":  # W1[0..w-1], b1[0..w-1], W2[0..w-1], b2
        w = (f.size - 1) // 3
        w1, b1, w2, b2 = f[:w], f[w : 2 * w], f[2 * w : 3 * w], f[3 * w]
        act = NP_ACTIVATIONS[model.option("activation")]
        return b2 + act(np.outer(x, w1) + b1) @ w2
    raise AssertionError(f"no reference formula for model {model.name!r}")


def inputs(n: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2.0, 2.0, n).astype(np.float32)


def test_cases_cover_every_registered_model():
    # The curve models (two outputs, t -> (x(t), y(t))) have their own cases and NumPy
    # formulas in test_cat.py, which checks that it covers every one of them.
    one_output = {name for name, family in MODELS.items() if family.outputs == 1}
    assert {name for name, _ in MODEL_CASES} == one_output


@pytest.mark.parametrize(("name", "size"), MODEL_CASES, ids=CASE_IDS)
def test_predict_matches_numpy(name, size):
    model = build_model(name, **size)
    flat = model.init(11)
    x = inputs()
    got = np.asarray(model.predict(jnp.asarray(flat), jnp.asarray(x)))
    expected = np_predict(model, flat, x)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize(("name", "size"), MODEL_CASES, ids=CASE_IDS)
def test_gradient_of_model_and_loss_matches_finite_differences(name, size, loss):
    model = build_model(name, **size)
    flat = model.init(5)
    x = inputs(seed=1)
    rng = np.random.default_rng(2)
    # Errors well away from 0 and from the Huber delta (1.0): no kink within the FD step.
    offsets = rng.choice([0.2, 0.5, 1.6, 3.0], x.size) * rng.choice([-1.0, 1.0], x.size)
    y = (np_predict(model, flat, x) - offsets).astype(np.float32)
    mask = jnp.ones(x.size, jnp.float32)

    def loss_at(p):
        return call(
            LOSSES[loss],
            model.predict(p, jnp.asarray(x)) - y,
            mask,
            {"huber_delta": jnp.float32(1.0)},
        )

    g = np.asarray(jax.grad(loss_at)(jnp.asarray(flat)))

    def np_loss_at(p64):
        return np_loss(loss, np_predict(model, p64, x) - y.astype(np.float64))

    fd = finite_differences(np_loss_at, flat)
    assert g.shape == (model.n_params,)
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-4 * max(np.abs(fd).max(), 1e-3))


@pytest.mark.parametrize(("name", "size"), MODEL_CASES, ids=CASE_IDS)
def test_init_is_float64_and_deterministic_by_seed(name, size):
    model = build_model(name, **size)
    a, b, c = model.init(3), model.init(3), model.init(4)
    assert a.dtype == np.float64
    assert a.shape == (model.n_params,)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a))
    # Every drawn entry depends on the seed; relu-sum's c and mlp's b2 start at 0.
    zero = {"relu-sum": "c", "mlp": "b2"}.get(name)
    drawn = [i for i, n in enumerate(model.layout) if n != zero]
    assert np.all(a[drawn] != c[drawn])
    if zero:
        assert a[model.layout.index(zero)] == 0.0


@pytest.mark.parametrize(("name", "size"), MODEL_CASES, ids=CASE_IDS)
def test_flatten_and_unflatten_round_trip(name, size):
    model = build_model(name, **size)
    flat = model.init(8)
    named = model.unflatten(flat)
    assert list(named) == model.groups
    for pname, shape in model.shapes:
        assert named[pname].shape == shape
    np.testing.assert_array_equal(model.flatten(named), flat)


def test_layout_names_every_entry():
    assert build_model("line").layout == ["m", "b"]
    assert build_model("quadratic").layout == ["a", "b", "c"]
    assert build_model("polynomial", degree=3).layout == ["c0", "c1", "c2", "c3"]
    assert build_model("relu-sum", relus=3).layout == [
        "m[0]", "m[1]", "m[2]", "b[0]", "b[1]", "b[2]", "c",
    ]  # fmt: skip
    assert build_model("mlp", width=2).layout == [
        "W1[0]", "W1[1]", "b1[0]", "b1[1]", "W2[0]", "W2[1]", "b2",
    ]  # fmt: skip
    assert build_model("relu-sum", relus=3).groups == ["m", "b", "c"]
    assert build_model("mlp", width=4).n_params == 3 * 4 + 1


def test_override_a_scalar():
    model = build_model("quadratic")
    base = model.init(0)
    p = model.init(0, {"a": 1.1})
    assert p[0] == 1.1
    np.testing.assert_array_equal(p[1:], base[1:])
    p = model.init(0, {"a": 1.1, "b": 1.1, "c": 1.1})
    np.testing.assert_array_equal(p, [1.1, 1.1, 1.1])


def test_override_a_whole_vector_with_a_scalar_or_a_list():
    model = build_model("relu-sum", relus=3)
    base = model.unflatten(model.init(0))
    p = model.unflatten(model.init(0, {"m": 0.5}))
    np.testing.assert_array_equal(p["m"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(p["b"], base["b"])
    assert p["c"] == base["c"]
    p = model.unflatten(model.init(0, {"b": [1.0, 2.0, 3.0]}))
    np.testing.assert_array_equal(p["b"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(p["m"], base["m"])


def test_override_one_entry():
    model = build_model("relu-sum", relus=3)
    base = model.unflatten(model.init(0))
    p = model.unflatten(model.init(0, {"m[1]": 2}))
    np.testing.assert_array_equal(p["m"], [base["m"][0], 2.0, base["m"][2]])
    np.testing.assert_array_equal(p["b"], base["b"])
    # The first and the last entry are entries too.
    p = model.unflatten(model.init(0, {"m[0]": -1.0, "m[2]": 3.0}))
    np.testing.assert_array_equal(p["m"], [-1.0, base["m"][1], 3.0])
    # A later entry override refines an earlier whole-vector one.
    p = model.unflatten(model.init(0, {"m": 0.5, "m[1]": 2}))
    np.testing.assert_array_equal(p["m"], [0.5, 2.0, 0.5])


@pytest.mark.parametrize(
    ("name", "size", "overrides", "message"),
    [
        ("quadratic", {}, {"z": 1.0}, "quadratic has no parameter 'z'"),
        ("quadratic", {}, {"a[0]": 1.0}, r"a\[0\] is not an entry of quadratic's parameters"),
        ("quadratic", {}, {"a": float("nan")}, "initial value of a must be finite"),
        ("quadratic", {}, {"a": float("inf")}, "initial value of a must be finite"),
        ("quadratic", {}, {"a": "abc"}, "could not convert string to float"),
        ("quadratic", {}, {"a": [1.0, 2.0]}, r"initial value of a must have shape \(\)"),
        ("relu-sum", {"relus": 3}, {"m[3]": 1.0}, r"m\[3\] is not an entry of relu-sum's"),
        ("relu-sum", {"relus": 3}, {"m[-1]": 1.0}, r"m\[-1\] is not an entry of relu-sum's"),
        ("relu-sum", {"relus": 3}, {"m[x]": 1.0}, r"bad parameter entry 'm\[x\]'"),
        ("relu-sum", {"relus": 3}, {"m": [1.0, 2.0]}, r"initial value of m must have shape \(3,\)"),
        ("relu-sum", {"relus": 3}, {"c[0]": 1.0}, r"c\[0\] is not an entry of relu-sum's"),
        ("mlp", {"width": 2}, {"W3": 1.0}, "mlp has no parameter 'W3'"),
    ],
)
def test_bad_overrides_raise_value_error(name, size, overrides, message):
    model = build_model(name, **size)
    with pytest.raises(ValueError, match="^" + message):
        model.init(0, overrides)


def test_unknown_override_names_the_real_parameters():
    with pytest.raises(ValueError, match="a, b, c"):
        build_model("quadratic").init(0, {"z": 1.0})


@pytest.mark.parametrize(
    ("key", "message"),
    [
        # An entry is name[index]: a key that does not end in "]" is a name.
        ("m[1", r"^relu-sum has no parameter 'm\[1'; its parameters are m\[0\], m\[1\], b\[0\]"),
        ("m]", r"^relu-sum has no parameter 'm\]'"),
        # The name ends at the first "[".
        ("m[[1]]", r"^bad parameter entry 'm\[\[1\]\]'$"),
        ("m[x[1]", r"^bad parameter entry 'm\[x\[1\]'$"),
    ],
)
def test_an_override_key_is_a_name_or_one_entry_of_it(key, message):
    with pytest.raises(ValueError, match=message):
        build_model("relu-sum", relus=2).init(0, {key: 1.0})


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("cubic", {}),
        ("polynomial", {"degree": 0}),
        ("polynomial", {"degree": MAX_DEGREE + 1}),
        ("polynomial", {"degree": 2.5}),
        ("polynomial", {"degree": "3"}),
        ("polynomial", {"degree": float("nan")}),
        ("polynomial", {"degree": float("inf")}),
        ("relu-sum", {"relus": 0}),
        ("relu-sum", {"relus": MAX_RELUS + 1}),
        ("relu-sum", {"relus": -2}),
        ("mlp", {"width": 0}),
        ("mlp", {"width": MAX_WIDTH + 1}),
        ("mlp", {"width": 1.5}),
        ("mlp", {"activation": "gelu"}),
    ],
)
def test_build_model_rejects_bad_sizes(name, size):
    with pytest.raises(ValueError):
        build_model(name, **size)


def test_build_model_ignores_options_the_model_does_not_take():
    assert build_model("line", degree=3, relus=99) == build_model("line")
    assert build_model("polynomial", degree=None).option("degree") == 3
    assert build_model("polynomial", degree=4.0).option("degree") == 4


def test_models_are_hashable_keys_by_structure():
    # The compiled engine is cached by model: equal structure, equal key.
    a = build_model("polynomial", degree=3)
    assert a == build_model("polynomial", degree=3)
    assert hash(a) == hash(build_model("polynomial", degree=3))
    assert a != build_model("polynomial", degree=4)
    assert build_model("mlp", width=4, activation="tanh") != build_model("mlp", width=4)


@pytest.mark.parametrize(
    ("name", "size", "powers"),
    [("line", {}, (1, 0)), ("quadratic", {}, (2, 1, 0)), ("polynomial", {"degree": 4}, range(5))],
)
def test_least_squares_is_numpys_on_the_models_own_powers(name, size, powers):
    # Written out: the design matrix of each linear model, in its parameters' order.
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 3, 25)
    y = np.cos(x) + rng.normal(0, 0.1, 25)
    model = build_model(name, **size)
    design = np.stack([x**p for p in powers], axis=1)
    expected = np.linalg.lstsq(design, y, rcond=None)[0]
    got = model.least_squares(x, y)
    assert model.linear
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    # ... and the predictions at it are the design matrix times it.
    np.testing.assert_allclose(np.asarray(model.predict(got, x)), design @ expected, rtol=1e-10)


def test_least_squares_computes_in_float64_whatever_the_inputs_type():
    # x as float32 is squared in float64 (not rounded to float32 first); y as Python
    # integers past int64 is taken as float64 (NumPy would make an object array of it).
    model = build_model("quadratic")
    x32 = np.array([-2.3, -0.7, 0.1, 1.3, 2.9, 3.7], np.float32)
    x = x32.astype(np.float64)
    design = np.stack([x**2, x, np.ones_like(x)], axis=1)
    y = [2**64, -(2**65), 3, 2**70, 0, 1]
    expected = np.linalg.lstsq(design, np.array(y, np.float64), rcond=None)[0]
    np.testing.assert_allclose(model.least_squares(x32, y), expected, rtol=1e-12)


@pytest.mark.parametrize(("name", "size"), [("relu-sum", {"relus": 2}), ("mlp", {"width": 3})])
def test_least_squares_only_for_models_linear_in_their_parameters(name, size):
    model = build_model(name, **size)
    assert not model.linear
    assert model.least_squares(np.arange(5.0), np.arange(5.0)) is None


def test_scalar_models_name_their_parameters_in_order():
    assert build_model("line").shapes == (("m", ()), ("b", ()))
    assert build_model("quadratic").shapes == (("a", ()), ("b", ()), ("c", ()))


def test_scalar_shapes_name_each_parameter_in_order():
    # The helper behind the line's and the quadratic's shapes, called at import (see
    # test_train.py's test of _decay for why it is called here too).
    from explorer.models import _scalars

    assert _scalars("m", "b")() == (("m", ()), ("b", ()))
    assert _scalars()() == ()


def test_an_mlps_start_is_the_documented_seeded_draw():
    # W1 and b1 from N(0, 1), then W2 from N(0, 1/sqrt(width)), in that order from
    # NumPy's default_rng(seed); b2 starts at 0.
    rng = np.random.default_rng(3)
    w1, b1, w2 = rng.normal(0, 1, 4), rng.normal(0, 1, 4), rng.normal(0, 0.5, 4)
    got = build_model("mlp", width=4).init(3)
    np.testing.assert_array_equal(got, np.concatenate([w1, b1, w2, [0.0]]))


def test_an_unknown_model_is_refused_with_the_choices():
    with pytest.raises(
        ValueError,
        match="^unknown model 'cubic'; choose one of line, quadratic, polynomial, relu-sum, mlp, "
        "relu-curve, mlp-curve, fourier-curve$",
    ):
        build_model("cubic")
