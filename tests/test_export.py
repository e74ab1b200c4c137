"""Downloads of a run: CSV and JSON hold exactly the history; the HTML plays offline."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

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


def test_json_is_the_cli_schema():
    h = fit(epochs=5)
    assert json.loads(history_json(h)) == json.loads(json.dumps(h.to_dict()))


def test_html_is_standalone_and_animated():
    h = fit(epochs=20)
    html = figures.to_html(figures.fit_figure(h))
    assert "<script src=" not in html  # plotly.js is inlined: plays offline
    assert "Plotly.newPlot" in html and "Plotly.addFrames" in html
    assert html.count("epoch 20 · L1") >= 1  # the last frame's title
