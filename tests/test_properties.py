"""Property tests over the engine: any finite data and settings in range."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer import LOSSES, OPTIMIZERS, Dataset, build_model, train
from explorer.losses import all_losses

# Few model structures and one data bucket (<= 32 points), so hypothesis does not spend its
# time compiling.
MODELS = [
    build_model("line"),
    build_model("quadratic"),
    build_model("polynomial", degree=3),
    build_model("relu-sum", relus=2),
    build_model("mlp", width=4, activation="tanh"),
]
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def runs(draw):
    n = draw(st.integers(2, 32))
    x = np.array(draw(st.lists(finite, min_size=n, max_size=n)))
    y = np.array(draw(st.lists(finite, min_size=n, max_size=n)))
    return dict(
        data=Dataset(x, y),
        model=draw(st.sampled_from(MODELS)),
        seed=draw(st.integers(0, 2**32 - 1)),
        loss=draw(st.sampled_from(list(LOSSES))),
        optimizer=draw(st.sampled_from(list(OPTIMIZERS))),
        lr=draw(st.floats(0, 10)),
        epochs=draw(st.integers(0, 200)),
        batch_size=draw(st.sampled_from([None, 3])),
        huber_delta=draw(st.floats(0.05, 10)),
    )


def run(spec):
    m = spec["model"]
    kwargs = {k: v for k, v in spec.items() if k not in ("data", "model")}
    return train(spec["data"], m, m.init(spec["seed"]), **kwargs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_runs_stay_finite_or_report_divergence(spec):
    h = run(spec)
    kept = len(h.loss)
    assert np.isfinite(h.params).all() and np.isfinite(h.loss).all() and np.isfinite(h.grads).all()
    if h.diverged_at is None:
        assert kept == spec["epochs"] + 1
    else:
        assert kept == h.diverged_at <= spec["epochs"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_same_seed_same_results(spec):
    a, b = run(spec), run(spec)
    assert a.diverged_at == b.diverged_at
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.grads, b.grads)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_learning_rate_zero_leaves_parameters_unchanged(spec):
    h = run(dict(spec, lr=0.0))
    assert np.all(h.params == h.params[:1])


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50), st.lists(finite, min_size=1, max_size=50))
def test_rmse_at_least_mae(pred, y):
    n = min(len(pred), len(y))
    m = all_losses(np.array(pred[:n]), np.array(y[:n]))
    assert m["l2"] >= m["l1"] * (1 - 1e-6) - 1e-6
