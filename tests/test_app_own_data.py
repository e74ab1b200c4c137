"""Drawn points and suggested settings in the app (AppTest); the clicks themselves are in
tests/test_browser.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from player_data import has_player, player
from streamlit.testing.v1 import AppTest

from explorer import fit
from explorer.figures import unpack

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
DRAWN = "0_1~1_3~2_5.5~3_6.75~4_9"


def new_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_drawn_points_in_a_link_are_the_data_of_the_run():
    at = run(new_app(preset="Draw your own", pts=DRAWN, model="line", loss="MSE", lr="0.05"))
    data = player(at)
    fitted = data["fit"]["data"][0]
    np.testing.assert_array_equal(unpack(fitted["x"]), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(unpack(fitted["y"]), [1, 3, 5.5, 6.75, 9])
    assert data["draw"]["points"] == [[0, 1], [1, 3], [2, 5.5], [3, 6.75], [4, 9]]
    # The run is fit's on those points: the same losses, number for number.
    h = fit(
        data=(np.arange(5.0), np.array([1, 3, 5.5, 6.75, 9])),
        model="line",
        loss="mse",
        lr=0.05,
        epochs=data["runs"][0]["last"],
        seed=42,
    )
    np.testing.assert_array_equal(data["runs"][0]["loss"], h.loss)
    assert at.query_params["pts"] == DRAWN  # still in the link, to share


def test_clearing_leaves_an_empty_canvas_and_a_bad_link_says_why():
    at = run(new_app(preset="Draw your own", pts=DRAWN))
    at.button(key="clear_drawn").click()
    run(at)
    assert not has_player(at)
    assert any("Click on the chart to add points" in i.value for i in at.info)
    assert at.query_params["pts"] == ""
    bad = run(new_app(preset="Draw your own", pts="1_2~oops"))
    assert any("drawn point 2" in w.value for w in bad.warning)
    assert has_player(bad)  # drawing starts from the points shown before


def test_suggested_settings_for_drawn_points_fit_them():
    at = run(new_app(preset="Draw your own", pts=DRAWN, model="line", loss="MSE"))
    at.button(key="suggest_drawn").click()
    run(at)
    assert at.radio(key="start").value == "suggested"
    data = player(at)
    r = data["runs"][0]
    # Close to the least-squares line (NumPy), with the suggested rate and epochs.
    x, y = np.arange(5.0), np.array([1, 3, 5.5, 6.75, 9])
    coef = np.linalg.lstsq(np.vander(x, 2), y, rcond=None)[0]
    best = float(np.mean((np.vander(x, 2) @ coef - y) ** 2))
    assert r["loss"][-1] <= 1.01 * best + 1e-12
    assert r["params"][0].tolist() == [0.0, float(np.mean(y))]  # m = 0, b = mean(y)


def test_held_out_points_are_hollow_and_their_loss_is_drawn():
    at = run(new_app(preset="overfit", validation="0.25"))
    data = player(at)
    h = fit(preset="overfit", validation=0.25)
    # Hollow exactly where the run held points out (a draw checked against NumPy in
    # tests/test_experiments.py).
    symbols = data["fit"]["data"][0]["marker"]["symbol"]
    assert [s == "circle-open" for s in symbols] == h.val_mask.tolist()
    held = [t for t in data["loss_fig"]["data"] if t.get("name") == "held out"]
    assert len(held) == 1
    # Drawn in float32 (a line and a 5-digit hover): to 1e-6 of the engine's float64.
    np.testing.assert_allclose(unpack(held[0]["y"]), h.val_loss, rtol=1e-6)
    star = next(t for t in data["loss_fig"]["data"] if t.get("name") == "lowest held-out loss")
    assert star["x"] == [int(np.argmin(h.val_loss))]
    # The y range holds the held-out curve (it ends far above the training loss).
    top = data["runs"][0]["ranges"]["y"][1]
    assert top >= float(np.max(h.val_loss))
    assert any("overfitting" in c.value for c in at.caption)


def test_a_branch_plays_beside_its_run_on_one_timeline():
    from explorer.api import branch

    at = run(new_app(preset="line", loss="MSE", lr="0.05", epochs="50"))
    at.toggle(key="branch").set_value(True)
    at.number_input(key="branch_at").set_value(15)
    at.selectbox(key="then_lr").set_value(0.001)
    run(at)
    assert not has_player(at)  # the branch's player takes the train player's place
    data = player(at, "branch_player")
    h = fit(preset="line", loss="mse", lr=0.05, epochs=50)
    b = branch(h, 15, lr=0.001)
    first, second = data["runs"]
    np.testing.assert_array_equal(first["loss"], h.loss)
    # The shared past, then the fork: the branch's own numbers, from fit's parameters.
    np.testing.assert_array_equal(second["loss"][:15], h.loss[:15])
    np.testing.assert_array_equal(second["loss"][15:], b.loss)
    assert second["lr"] == 0.001
    assert any("share epochs 0 to 15" in c.value for c in at.caption)
    # In the link too: the same branch opens from it.
    again = run(
        new_app(
            preset="line",
            loss="MSE",
            lr="0.05",
            epochs="50",
            branch="true",
            branch_at="15",
            then_lr="0.001",
        )
    )
    np.testing.assert_array_equal(player(again, "branch_player")["runs"][1]["loss"][15:], b.loss)


def test_compare_rings_the_outliers():
    from explorer import make_preset

    at = run(new_app(view="Compare", outliers="3"))
    fig = player(at, "compare_player")["fit"]
    ringed = [t for t in fig["data"] if "outlier" in str(t.get("name", "")).lower()]
    assert len(ringed) == 1
    d = make_preset("fastai-quadratic", outliers=3)
    np.testing.assert_array_equal(unpack(ringed[0]["x"]), d.x[list(d.outliers)])


def test_drawn_points_as_an_outline_are_fitted_by_a_curve():
    pts = "0_0~1_0.2~2_0~2.2_1~2_2~1_1.8~0_2~-0.2_1"
    at = run(new_app(preset="Draw your own", pts=pts, outline="true"))
    assert at.selectbox(key="model").value == "relu-curve"
    assert at.selectbox(key="model").options == ["relu-curve", "mlp-curve", "fourier-curve"]
    assert at.slider(key="corners").value == 8  # a corner per point drawn
    data = player(at)
    r = data["runs"][0]
    assert r["outline"]
    # The targets are the drawn points in the plane, closed; the curve ends on them.
    from explorer.csvdata import drawn_outline, parse_points

    d = drawn_outline(*parse_points(pts))
    h = fit(data=d, model="relu-curve", corners=8, loss="mse", lr=2.0, epochs=100, seed=42)
    np.testing.assert_array_equal(r["loss"], h.loss)
    assert h.loss[-1] <= h.loss[0] / 5
