"""Numeric edge cases: every model x loss x optimizer at the largest learning rate on every
preset, exact fits, degenerate data, and the largest run the app allows."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer import LOSSES, MODELS, OPTIMIZERS, PRESETS, Dataset, build_model, figures, train
from explorer.data import MAX_POINTS, make_preset
from explorer.export import history_csv, history_json
from explorer.figures import unpack
from explorer.train import MAX_EPOCHS

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"polynomial": dict(degree=8), "relu-sum": dict(relus=4), "mlp": dict(width=8)}
LARGEST_LR = 10.0  # the top of the app's learning-rate slider


# Each preset with the models that can fit it: curve models (two outputs) draw the outline
# presets (cat, heart, star), the others a function y(x); a mix is refused before any
# training (test_cat.py checks the message).
FITTING = [
    (preset, name) for preset in PRESETS for name in MODELS
    if PRESETS[preset].outputs == MODELS[name].outputs
]  # fmt: skip
FUNCTION_MODELS = [name for name in MODELS if MODELS[name].outputs == 1]


def model(name: str):
    return build_model(name, **SIZES.get(name, {}))


def assert_all_finite_outputs(h) -> None:
    """Nothing non-finite reaches a chart or a download."""
    assert np.isfinite(h.params).all() and np.isfinite(h.loss).all() and np.isfinite(h.grads).all()
    if h.diverged_at is not None:
        assert len(h.loss) == h.diverged_at
    if h.last_epoch < 0:
        return
    fig = figures.fit_figure(h)
    for frame in fig["frames"]:
        assert np.isfinite(unpack(frame["data"][0]["y"])).all()
    assert all(np.isfinite(v) for v in fig["layout"]["yaxis"]["range"])
    assert "nan" not in json.dumps(fig["layout"]["title"]).lower()
    runs = [("model", "#000", h)]
    shown = figures.player_fit_figure(runs)
    assert np.isfinite(unpack(shown["data"][1]["y"])).all()
    assert all(np.isfinite(v) for v in shown["layout"]["yaxis"]["range"])
    loss_fig = figures.player_loss_figure(runs)
    assert np.isfinite(unpack(loss_fig["data"][0]["y"])).all()
    for axis in ("xaxis", "yaxis"):
        assert all(np.isfinite(v) for v in loss_fig["layout"][axis]["range"])
    json.loads(history_json(h))  # strict JSON: would fail on NaN / Infinity
    rows = list(csv.reader(io.StringIO(history_csv(h))))
    assert len(rows) == len(h.loss) + 1
    assert all(np.isfinite(float(v)) for row in rows[1:] for v in row)


@pytest.mark.parametrize(("preset", "model_name"), FITTING)
def test_largest_learning_rate_on_every_preset(preset, model_name):
    data = make_preset(preset)
    m = model(model_name)
    p0 = m.init(0)
    for loss in LOSSES:
        for optimizer in OPTIMIZERS:
            h = train(data, m, p0, loss=loss, optimizer=optimizer, lr=LARGEST_LR, epochs=300)
            assert_all_finite_outputs(h)


def test_largest_learning_rate_with_mse_diverges_and_says_where():
    h = train(
        make_preset("roller-coaster"),
        model("quadratic"),
        model("quadratic").init(0),
        loss="mse",
        lr=LARGEST_LR,
        epochs=300,
    )
    assert h.diverged_at is not None and 0 < h.diverged_at <= 300
    assert_all_finite_outputs(h)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_exact_fit_keeps_finite_zero_gradients(loss):
    x = np.linspace(-1, 1, 9)  # quarter steps: exact in float32
    data = Dataset(x, 2 * x + 1)
    m = model("line")
    h = train(data, m, m.init(0, {"m": 2.0, "b": 1.0}), loss=loss, lr=0.1, epochs=20)
    assert h.diverged_at is None
    assert np.all(h.grads == 0) and np.all(h.loss == 0)
    assert np.all(h.params == h.params[0])
    assert_all_finite_outputs(h)


@pytest.mark.parametrize(
    "x, y",
    [
        ([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]),  # all x equal
        ([-1.0, 0.0, 1.0, 2.0], [5.0, 5.0, 5.0, 5.0]),  # all y equal
        ([0.0, 1.0], [1.0, 3.0]),  # two points
        ([0.0, 0.0], [0.0, 0.0]),  # two identical points
        ([-1e6, 1e6], [1e6, -1e6]),  # the loader's largest values
    ],
    ids=["all-x-equal", "all-y-equal", "two-points", "two-identical", "huge-values"],
)
@pytest.mark.parametrize("model_name", FUNCTION_MODELS)  # the curve models: test_cat.py
def test_degenerate_data(x, y, model_name):
    data = Dataset(np.array(x), np.array(y))
    m = model(model_name)
    for loss in LOSSES:
        for optimizer in OPTIMIZERS:
            h = train(data, m, m.init(1), loss=loss, optimizer=optimizer, lr=0.05, epochs=50)
            assert_all_finite_outputs(h)
            if h.last_epoch >= 0:
                fig = figures.fit_figure(h)
                go.Figure(fig)
                lo, hi = fig["layout"]["xaxis"]["range"]
                assert hi > lo  # a usable axis even when every x is the same


def test_largest_run_has_bounded_memory():
    """The most the engine takes (10,000 points x 10,000 epochs, the widest MLP) in a fresh
    process, whose peak resident memory must stay under 2 GiB."""
    script = textwrap.dedent(
        f"""
        import resource, numpy as np
        from explorer import Dataset, build_model, train
        x = np.linspace(-3, 3, {MAX_POINTS})
        data = Dataset(x, np.sin(x))
        m = build_model("mlp", width=64, activation="tanh")
        h = train(data, m, m.init(0), loss="mse", optimizer="adam", lr=0.01, epochs={MAX_EPOCHS})
        assert len(h.loss) == {MAX_EPOCHS} + 1 and h.diverged_at is None, h.diverged_at
        # VmHWM: this process's own peak. (ru_maxrss would carry the peak of the process
        # that started it, pytest's, across fork and exec.)
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
        print(int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    peak_kib = int(out.stdout.strip().splitlines()[-1])
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
