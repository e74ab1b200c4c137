"""Losses against independent NumPy formulas, hand-derived gradients and finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import finite_differences, np_loss

from explorer.losses import LOSS_NAMES, LOSSES, all_losses, call, loss_index, switch_loss

DELTAS = (0.5, 1.0, 2.5)


def np_grad(name: str, e: np.ndarray, delta: float) -> np.ndarray:
    """d loss / d e_i (= d loss / d pred_i), derived by hand."""
    e = np.asarray(e, np.float64)
    n = e.size
    if name == "l1":
        return np.sign(e) / n
    if name == "l2":
        return e / (n * np.sqrt(np.mean(e**2)))
    if name == "mse":
        return 2 * e / n
    if name == "huber":
        return np.clip(e, -delta, delta) / n
    raise AssertionError(f"no reference gradient for loss {name!r}")


def padded(e_real: np.ndarray, pad: int, rng: np.random.Generator):
    """Errors followed by ``pad`` finite garbage values, and the 0/1 mask marking the real ones."""
    garbage = rng.normal(0.0, 50.0, pad)
    e = np.concatenate([e_real, garbage]).astype(np.float32)
    mask = np.concatenate([np.ones(e_real.size), np.zeros(pad)]).astype(np.float32)
    return e, mask


def errors(seed: int, n: int = 13) -> np.ndarray:
    """Float32 errors on both sides of every Huber delta, none near 0 or near a delta
    (the kinks), so finite differences are clean."""
    rng = np.random.default_rng(seed)
    magnitude = rng.choice([0.1, 0.3, 0.8, 1.7, 4.0, 9.0], n) * rng.uniform(0.9, 1.1, n)
    return (magnitude * rng.choice([-1.0, 1.0], n)).astype(np.float32)


def test_registry_has_the_documented_losses():
    assert set(LOSSES) == {"l1", "l2", "mse", "huber"}
    assert LOSS_NAMES == tuple(LOSSES)
    # The learner must be told which "L2" is meant: fastbook's L2 is RMSE, not MSE.
    assert "root mean squared" in LOSSES["l2"].label.lower()
    assert "root" not in LOSSES["mse"].label.lower()


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_numpy_formula_and_ignores_padding(name, delta):
    rng = np.random.default_rng(1)
    e_real = errors(0)
    e, mask = padded(e_real, 7, rng)
    got = float(
        call(LOSSES[name], jnp.asarray(e), jnp.asarray(mask), {"huber_delta": jnp.float32(delta)})
    )
    np.testing.assert_allclose(got, np_loss(name, e_real, delta), rtol=2e-6)
    # Same value as the real points alone: the padding contributes nothing.
    alone = float(
        call(
            LOSSES[name],
            jnp.asarray(e_real),
            jnp.ones(e_real.size, jnp.float32),
            {"huber_delta": jnp.float32(delta)},
        )
    )
    np.testing.assert_allclose(got, alone, rtol=2e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_under_jit_and_switch_equals_eager(name):
    e, mask = padded(errors(2), 5, np.random.default_rng(2))
    args = (jnp.asarray(e), jnp.asarray(mask), jnp.float32(1.0))
    eager = float(call(LOSSES[name], *args[:2], {"huber_delta": args[2]}))
    jitted = float(
        jax.jit(switch_loss)(jnp.int32(loss_index(name)), *args[:2], {"huber_delta": args[2]})
    )
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)


def test_loss_index_rejects_unknown_names():
    assert [loss_index(n) for n in LOSS_NAMES] == list(range(len(LOSS_NAMES)))
    with pytest.raises(ValueError, match="unknown loss"):
        loss_index("l3")


def grad_wrt_pred(name, pred, y, mask, delta):
    def loss_of_pred(p):
        return call(LOSSES[name], p - y, mask, {"huber_delta": jnp.float32(delta)})

    return np.asarray(jax.grad(loss_of_pred)(jnp.asarray(pred)))


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_matches_hand_derived_formula(name, delta):
    rng = np.random.default_rng(3)
    e_real = errors(4)
    e, mask = padded(e_real, 6, rng)
    y = rng.normal(0.0, 3.0, e.size).astype(np.float32)
    pred = (y + e).astype(np.float32)
    # Recompute the errors as the engine sees them (pred - y in float32).
    e_seen = (pred - y)[: e_real.size]
    g = grad_wrt_pred(name, pred, y, mask, delta)
    expected = np_grad(name, e_seen, delta)
    np.testing.assert_allclose(g[: e_real.size], expected, rtol=1e-5, atol=1e-7)
    # Padding gets exactly no gradient.
    np.testing.assert_array_equal(g[e_real.size :], 0.0)


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_matches_finite_differences(name, delta):
    e32 = errors(5)
    g = grad_wrt_pred(name, e32, np.zeros_like(e32), np.ones_like(e32), delta)
    # Central differences of the float64 reference at the float32 point.
    fd = finite_differences(lambda e: np_loss(name, e, delta), e32)
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6)


def test_rmse_gradient_is_mse_gradient_over_twice_rmse():
    # RMSE = sqrt(MSE), so by the chain rule its gradient is the MSE gradient / (2*RMSE).
    e = errors(6)
    y = np.zeros_like(e)
    mask = np.ones_like(e)
    rmse = np_loss("l2", e, 1.0)
    g_l2 = grad_wrt_pred("l2", e, y, mask, 1.0)
    g_mse = grad_wrt_pred("mse", e, y, mask, 1.0)
    np.testing.assert_allclose(g_l2, g_mse / (2 * rmse), rtol=1e-5)


@pytest.mark.parametrize("name", list(LOSSES))
def test_perfect_fit_has_zero_loss_and_zero_finite_gradient(name):
    # The RMSE gradient is 0/0 here; it must come out as 0, not NaN.
    y = np.array([1.5, -2.0, 0.25, 7.0, 0.0, 0.0], np.float32)
    mask = np.array([1, 1, 1, 1, 0, 0], np.float32)
    pred = y.copy()
    pred[4:] = [3.0, -9.0]  # padding may be anything
    value = float(
        call(
            LOSSES[name],
            jnp.asarray(pred - y),
            jnp.asarray(mask),
            {"huber_delta": jnp.float32(1.0)},
        )
    )
    g = grad_wrt_pred(name, pred, y, mask, 1.0)
    assert value == 0.0
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g, 0.0)


def test_l2_gradient_through_a_model_at_a_perfect_fit_is_zero():
    x = jnp.linspace(-1.0, 1.0, 9)
    y = 2.0 * x + 1.0

    def loss(p):
        return call(
            LOSSES["l2"], p[0] * x + p[1] - y, jnp.ones_like(x), {"huber_delta": jnp.float32(1.0)}
        )

    g = np.asarray(jax.grad(loss)(jnp.array([2.0, 1.0])))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_l1_gradient_at_a_zero_error_is_zero():
    e = np.array([0.0, 1.5, -2.0], np.float32)
    g = grad_wrt_pred("l1", e, np.zeros(3, np.float32), np.ones(3, np.float32), 1.0)
    np.testing.assert_allclose(g, [0.0, 1 / 3, -1 / 3], rtol=1e-6)
    assert g[0] == 0.0


@pytest.mark.parametrize("name", list(LOSSES))
def test_all_padding_gives_zero_not_nan(name):
    e = jnp.array([3.0, -4.0], jnp.float32)
    mask = jnp.zeros(2, jnp.float32)
    assert float(call(LOSSES[name], e, mask, {"huber_delta": jnp.float32(1.0)})) == 0.0
    g = jax.grad(lambda err: call(LOSSES[name], err, mask, {"huber_delta": jnp.float32(1.0)}))(e)
    np.testing.assert_array_equal(np.asarray(g), 0.0)


@pytest.mark.parametrize("delta", (0.5, 1.0))
def test_all_losses_matches_each_loss(delta):
    rng = np.random.default_rng(7)
    y = rng.normal(0.0, 2.0, 11).astype(np.float32)
    pred = (y + errors(8, 11)).astype(np.float32)
    got = all_losses(pred, y, huber_delta=delta)
    assert list(got) == list(LOSS_NAMES)
    for name, value in got.items():
        assert isinstance(value, float)
        np.testing.assert_allclose(value, np_loss(name, pred - y, delta), rtol=2e-6)


finite_errors = st.lists(
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(finite_errors)
def test_rmse_is_never_below_mae(errs):
    e = np.array(errs, np.float32)
    ones = np.ones_like(e)
    mae = float(
        call(LOSSES["l1"], jnp.asarray(e), jnp.asarray(ones), {"huber_delta": jnp.float32(1.0)})
    )
    rmse = float(
        call(LOSSES["l2"], jnp.asarray(e), jnp.asarray(ones), {"huber_delta": jnp.float32(1.0)})
    )
    # True in exact arithmetic (Cauchy-Schwarz); allow float32 rounding when all |e| are equal
    # and underflow of e**2 for tiny errors.
    assert rmse >= mae * (1 - 1e-5) - 1e-18
    assert np_loss("l2", e, 1.0) >= np_loss("l1", e, 1.0) * (1 - 1e-12)


@settings(max_examples=40, deadline=None)
@given(finite_errors, st.floats(0.01, 100.0))
def test_every_loss_matches_numpy_on_arbitrary_errors(errs, delta):
    e = np.array(errs, np.float32)
    delta = float(np.float32(delta))
    got = all_losses(e, np.zeros_like(e), huber_delta=delta)
    for name, value in got.items():
        # atol: squares of errors below ~1e-19 underflow in float32.
        np.testing.assert_allclose(value, np_loss(name, e, delta), rtol=1e-5, atol=1e-18)


def test_titles_name_a_losss_settings_with_their_values():
    assert LOSSES["l1"].title() == "L1"
    assert LOSSES["l2"].title({"huber_delta": 3.0}) == "L2"
    assert LOSSES["huber"].title() == "Huber (δ = 1)"
    assert LOSSES["huber"].title({"huber_delta": 0.25, "lr": 5}) == "Huber (δ = 0.25)"


def test_a_title_names_every_setting_by_its_symbol_or_its_name():
    # A loss of two settings, one without a symbol, as a new entry of LOSSES could be.
    from explorer.losses import HUBER_DELTA, Loss
    from explorer.settings import Setting

    alpha = Setting("alpha", "Alpha", 0.5, "A made-up setting.", low=0, high=1)
    info = Loss("made-up", "Made-up", "", "", "", "", "#000000", l1_like, (HUBER_DELTA, alpha))
    assert info.title() == "Made-up (δ = 1, alpha = 0.5)"
    assert info.title({"alpha": 0.25, "huber_delta": 2.0}) == "Made-up (δ = 2, alpha = 0.25)"


def l1_like(err, mask, huber_delta, alpha):
    return jnp.sum(jnp.abs(err) * mask)


def test_all_losses_takes_python_numbers_past_int64():
    # As float64 (jnp.asarray would raise OverflowError on such an int).
    got = all_losses([2**64, 0], [0, 2**65])
    np.testing.assert_allclose(got["l1"], (2.0**64 + 2.0**65) / 2, rtol=1e-15)
    np.testing.assert_allclose(got["mse"], (2.0**128 + 2.0**130) / 2, rtol=1e-15)


def test_all_losses_takes_settings_by_name():
    pred, y = np.array([0.0, 3.0, -1.0]), np.array([0.5, 0.0, 1.0])
    e = pred - y
    got = all_losses(pred, y, huber_delta=0.75)
    assert list(got) == ["l1", "l2", "mse", "huber"]
    a = np.abs(e)
    huber = np.mean(np.where(a <= 0.75, 0.5 * e**2, 0.75 * (a - 0.375)))
    assert got["huber"] == pytest.approx(huber, rel=1e-15)
    assert got["mse"] == pytest.approx(np.mean(e**2), rel=1e-15)
    assert all_losses(pred, y)["huber"] == pytest.approx(
        np.mean(np.where(a <= 1.0, 0.5 * e**2, a - 0.5)), rel=1e-15
    )
    with pytest.raises(ValueError, match="huber_delta must be a number in"):
        all_losses(pred, y, huber_delta=-1.0)
