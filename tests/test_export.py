"""Downloads of a run: CSV and JSON hold exactly the history; the HTML plays offline."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from reference import features, line_points, np_gradient, np_loss, np_sgd

from explorer import figures, fit
from explorer.export import history_csv, history_json


def test_csv_holds_every_epoch_exactly():
    h = fit(preset="line", model="relu-sum", relus=2, epochs=30)
    rows = list(csv.reader(io.StringIO(history_csv(h))))
    names = h.param_names
    assert rows[0] == ["epoch", "loss", *names, *(f"grad_{n}" for n in names)]
    table = np.array(rows[1:], dtype=float)
    assert table.shape == (31, 2 + 2 * len(names))
    np.testing.assert_array_equal(table[:, 0], np.arange(31))
    np.testing.assert_array_equal(table[:, 1], h.loss)
    np.testing.assert_array_equal(table[:, 2 : 2 + len(names)], h.params)
    np.testing.assert_array_equal(table[:, 2 + len(names) :], h.grads)


def test_json_holds_the_run_as_numpy_computes_it():
    # The line preset, MSE, from m = 0.5, b = -1: the document against the recipe's points
    # and gradient descent in NumPy, and its settings against the ones asked for.
    h = fit(preset="line", model="line", loss="mse", lr=0.1, epochs=5, init={"m": 0.5, "b": -1})
    doc = json.loads(history_json(h))
    assert set(doc) == {"config", "x", "y", "param_names", "param_groups", "history", "diverged_at"}
    x, y = line_points()
    np.testing.assert_allclose(doc["x"], x, rtol=1e-15)
    np.testing.assert_allclose(doc["y"], y, rtol=1e-15)
    assert doc["param_names"] == doc["param_groups"] == ["m", "b"]
    # The settings the run used, and only those: SGD reads no momentum, MSE no delta.
    assert not {"momentum", "beta1", "beta2", "huber_delta"} & set(doc["config"])
    assert doc["diverged_at"] is None
    config = doc["config"]
    assert {k: config[k] for k in ("preset", "points", "noise", "outliers", "seed")} == dict(
        preset="line", points=30, noise=0.5, outliers=0, seed=42
    )
    assert {k: config[k] for k in ("model", "loss", "optimizer", "lr", "epochs", "init")} == dict(
        model="line", loss="mse", optimizer="sgd", lr=0.1, epochs=5, init={"m": 0.5, "b": -1.0}
    )
    path = np_sgd("mse", "line", [0.5, -1.0], x, y, lr=0.1, epochs=5)
    assert [row["epoch"] for row in doc["history"]] == list(range(6))
    for row, p in zip(doc["history"], path, strict=True):
        assert set(row) == {"epoch", "loss", "params", "grads"}
        assert row["loss"] == pytest.approx(np_loss("mse", features("line", x) @ p - y), rel=1e-12)
        assert list(row["params"]) == list(row["grads"]) == ["m", "b"]
        np.testing.assert_allclose([row["params"]["m"], row["params"]["b"]], p, rtol=1e-12)
        g = np_gradient("mse", "line", p, x, y)
        np.testing.assert_allclose([row["grads"]["m"], row["grads"]["b"]], g, rtol=1e-12)
    assert doc["history"][0]["params"] == {"m": 0.5, "b": -1.0}  # the start, exactly


def test_html_is_standalone_and_animated():
    h = fit(epochs=20)
    html = figures.to_html(figures.fit_figure(h))
    assert "<script src=" not in html  # plotly.js is inlined: plays offline
    assert "Plotly.newPlot" in html and "Plotly.addFrames" in html
    assert html.count("epoch 20 · L1") >= 1  # the last frame's title
