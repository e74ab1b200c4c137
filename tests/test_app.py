"""The Streamlit app through AppTest: controls, stepping, figures, comparison, URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from explorer import build_model, fit, make_preset, train
from explorer.figures import unpack
from explorer.train import MAX_FRAMES

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def new_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def chart(at: AppTest, key: str) -> dict:
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        if el.proto.id.endswith(key) or key in el.proto.id:
            return spec
    raise AssertionError(f"no chart {key}")


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def fit_chart(at: AppTest) -> dict:
    for spec in charts(at):
        if spec.get("frames") is not None and any(t.get("name") == "targets" for t in spec["data"]):
            if "sliders" in spec["layout"] or spec["frames"] == []:
                return spec
    raise AssertionError("no animated fit chart")


def table_rows(at: AppTest) -> dict[str, list[str]]:
    """The epoch table (markdown) as {parameter: [cells...]}."""
    for md in at.markdown:
        if md.value.startswith("| parameter |"):
            rows = {}
            for line in md.value.splitlines()[2:]:
                cells = [c.strip() for c in line.strip("|").split("|")]
                rows[cells[0].strip("*")] = cells[1:]
            return rows
    raise AssertionError("no epoch table")


def lesson_history():
    d = make_preset("fastai-quadratic")
    m = build_model("quadratic")
    return train(d, m, m.init(42, {"a": 1.1, "b": 1.1, "c": 1.1}), loss="l1", lr=0.01, epochs=10)


def close(cell: str, value: float) -> bool:
    return abs(float(cell.replace("−", "-")) - value) <= 5e-4 * max(1.0, abs(value))


def test_opens_on_the_lesson_preset_ready_to_play():
    at = run(new_app())
    assert at.selectbox(key="preset").value == "fastai-quadratic"
    assert at.radio(key="loss").value == "l1"
    assert at.select_slider(key="lr").value == 0.01
    assert at.number_input(key="epoch").value == 0
    fig = fit_chart(at)
    go.Figure(fig)  # valid against Plotly's schema
    names = [t["name"] for t in fig["data"]]
    assert names[0] == "targets" and names[1].startswith("model")
    assert np.allclose(unpack(fig["data"][0]["y"]), make_preset("fastai-quadratic").y, atol=1e-5)
    assert 0 < len(fig["frames"]) <= MAX_FRAMES
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert buttons[0]["method"] == "animate" and "Play" in buttons[0]["label"]
    assert len(fig["layout"]["sliders"][0]["steps"]) == len(fig["frames"])


def test_frames_stay_bounded_for_long_runs():
    at = new_app()
    run(at)
    at.select_slider(key="epochs").set_value(10000)
    run(at)
    fig = fit_chart(at)
    go.Figure(fig)
    assert len(fig["frames"]) <= MAX_FRAMES
    epochs = [int(f["name"]) for f in fig["frames"]]
    assert epochs[:50] == list(range(50)) and epochs[-1] == 10000


def test_step_forward_and_back_show_the_engine_history():
    h = lesson_history()
    at = run(new_app())
    rows = table_rows(at)
    for i, name in enumerate("abc"):
        assert close(rows[name][0], h.params[0][i])
        assert close(rows[name][1], h.grads[0][i])
    at.button(key="forward").click()
    run(at)
    assert at.number_input(key="epoch").value == 1
    rows = table_rows(at)
    for i, name in enumerate("abc"):
        assert close(rows[name][0], h.params[1][i])  # value at epoch 1
        assert close(rows[name][1], h.grads[1][i])
        assert close(rows[name][2], 0.01 * h.grads[1][i])
        assert close(rows[name][3], h.params[2][i])  # value after the step
    fig = fit_chart(at)
    assert np.allclose(unpack(fig["data"][1]["y"]), h.frame_preds[1], atol=1e-4)
    assert fig["layout"]["sliders"][0]["active"] == 1
    at.button(key="back").click()
    run(at)
    assert at.number_input(key="epoch").value == 0
    rows = table_rows(at)
    for i, name in enumerate("abc"):
        assert close(rows[name][0], h.params[0][i])


def test_stepping_k_times_lands_on_animation_frame_k():
    at = run(new_app())
    for _ in range(4):
        at.button(key="forward").click()
        run(at)
    fig = fit_chart(at)
    assert fig["frames"][4]["name"] == "4"
    assert unpack(fig["data"][1]["y"]).tolist() == unpack(fig["frames"][4]["data"][0]["y"]).tolist()
    at.button(key="last").click()
    run(at)
    assert at.number_input(key="epoch").value == 10
    at.button(key="first").click()
    run(at)
    assert at.number_input(key="epoch").value == 0


def test_changing_the_loss_changes_the_results():
    at = run(new_app())
    at.button(key="last").click()
    run(at)
    before = table_rows(at)
    at.radio(key="loss").set_value("l2")
    run(at)
    after = table_rows(at)
    assert before["a"][0] != after["a"][0]
    h = fit(preset="fastai-quadratic", loss="l2", lr=0.01, epochs=10)
    assert close(after["a"][0], h.params[10][0])


def test_every_control_can_be_set_without_exception():
    at = run(new_app())
    for preset in ("roller-coaster", "line", "sine", "abs", "bathtub", "fastai-quadratic"):
        at.selectbox(key="preset").set_value(preset)
        run(at)
    at.slider(key="points").set_value(40)
    at.slider(key="noise").set_value(2.0)
    at.slider(key="outliers").set_value(3)
    at.number_input(key="seed").set_value(7)
    run(at)
    for model, size_key, size in (
        ("line", None, None),
        ("polynomial", "degree", 5),
        ("relu-sum", "relus", 4),
        ("mlp", "width", 6),
        ("quadratic", None, None),
    ):
        at.selectbox(key="model").set_value(model)
        run(at)
        if size_key:
            at.slider(key=size_key).set_value(size)
            run(at)
        if model == "mlp":
            for act in ("sigmoid", "tanh", "relu"):
                at.selectbox(key="act").set_value(act)
                run(at)
    for loss in ("l2", "mse", "huber", "l1"):
        at.radio(key="loss").set_value(loss)
        run(at)
        if loss == "huber":
            at.slider(key="delta").set_value(0.5)
            run(at)
    at.select_slider(key="lr").set_value(0.001)
    at.select_slider(key="epochs").set_value(100)
    run(at)
    at.selectbox(key="opt").set_value("momentum")
    run(at)
    at.slider(key="momentum").set_value(0.5)
    run(at)
    at.selectbox(key="opt").set_value("adam")
    run(at)
    at.slider(key="beta1").set_value(0.8)
    at.select_slider(key="beta2").set_value(0.99)
    run(at)
    at.select_slider(key="batch").set_value(8)
    run(at)
    at.radio(key="start").set_value("random")
    run(at)
    at.number_input(key="epoch").set_value(50)
    run(at)
    at.toggle(key="log_loss").set_value(True)
    run(at)
    assert at.number_input(key="epoch").value == 50
    assert len(charts(at)) == 2


def test_diverging_learning_rate_shows_the_message():
    at = run(new_app())
    at.radio(key="loss").set_value("mse")
    at.select_slider(key="lr").set_value(10.0)
    at.select_slider(key="epochs").set_value(1000)
    run(at)
    errors = [e.value for e in at.error]
    assert any(re.search(r"diverged at epoch \d+: lower the learning rate", e) for e in errors), (
        errors
    )
    h = fit(preset="fastai-quadratic", loss="mse", lr=10.0, epochs=1000)
    assert f"epoch {h.diverged_at}" in " ".join(errors)
    fig = fit_chart(at)
    for frame in fig["frames"]:
        assert np.isfinite(unpack(frame["data"][0]["y"])).all()
    assert at.number_input(key="epoch").max == h.last_epoch


def test_compare_shows_one_run_per_chosen_loss():
    at = run(new_app(view="Compare losses"))
    fig = charts(at)[0]
    go.Figure(fig)
    curves = [t["name"] for t in fig["data"] if t["name"] not in ("targets", "start")]
    assert curves == ["L1", "L2"]
    at.multiselect(key="compare").set_value(["l1", "l2", "mse", "huber"])
    run(at)
    fig = charts(at)[0]
    curves = [t["name"] for t in fig["data"] if t["name"] not in ("targets", "start")]
    assert curves == ["L1", "L2", "MSE", "Huber"]
    loss_fig = charts(at)[1]
    assert len(loss_fig["data"]) == 4
    table = next(m.value for m in at.markdown if m.value.startswith("| trained on"))
    assert len(table.splitlines()) == 2 + 4


def test_compare_with_outliers_separates_l1_and_l2():
    at = run(new_app(view="Compare losses", outliers="3", epochs="1000"))
    table = next(m.value for m in at.markdown if m.value.startswith("| trained on"))
    l1_row, l2_row = table.splitlines()[2:4]
    a_l1 = float(l1_row.strip("|").split("|")[6])
    a_l2 = float(l2_row.strip("|").split("|")[6])
    h1 = fit(preset="fastai-quadratic", outliers=3, loss="l1", epochs=1000)
    h2 = fit(preset="fastai-quadratic", outliers=3, loss="l2", epochs=1000)
    assert close(str(a_l1), h1.params[-1][0]) and close(str(a_l2), h2.params[-1][0])
    assert abs(a_l1 - a_l2) > 0.5  # plain to see


def test_compare_tip_buttons_add_outliers_and_epochs():
    at = run(new_app(view="Compare losses"))
    at.button(key="add_outliers").click()
    run(at)
    assert at.slider(key="outliers").value == 3
    at.button(key="more_epochs").click()
    run(at)
    assert at.select_slider(key="epochs").value == 1000


def test_url_parameter_presets_widgets():
    at = run(new_app(preset="roller-coaster", lr="0.0001", loss="L2"))
    assert at.selectbox(key="preset").value == "roller-coaster"
    assert at.select_slider(key="lr").value == pytest.approx(1e-4)
    assert at.radio(key="loss").value == "l2"


def test_choosing_a_preset_sets_its_defaults():
    at = run(new_app())
    at.selectbox(key="preset").set_value("roller-coaster")
    run(at)
    assert at.radio(key="loss").value == "mse"
    assert at.select_slider(key="lr").value == pytest.approx(1e-5)
    assert at.select_slider(key="epochs").value == 10


def test_fit_by_hand_shows_the_live_loss_and_starts_training_from_there():
    at = run(new_app(view="Fit by hand"))
    assert [s.label for s in at.slider if s.key and s.key.startswith("hand_")] == ["a", "b", "c"]
    title = charts(at)[0]["layout"]["title"]["text"]
    assert (
        title == "L1 (mean absolute error): 2.42".split(" (")[0] + ": 2.42"
    )  # the lesson's MAE at 1.1
    at.slider(key="hand_a").set_value(3.0)
    at.slider(key="hand_b").set_value(2.0)
    at.slider(key="hand_c").set_value(1.0)
    run(at)
    d = make_preset("fastai-quadratic")
    mae = np.mean(np.abs(3 * d.x**2 + 2 * d.x + 1 - d.y))
    assert charts(at)[0]["layout"]["title"]["text"] == f"L1: {mae:.2f}"
    at.button(key="train_from_hand").click()
    run(at)
    assert at.button_group(key="view").value == "Train"
    assert at.radio(key="start").value == "hand"
    rows = table_rows(at)
    assert [float(rows[n][0]) for n in "abc"] == [3.0, 2.0, 1.0]


def test_fit_by_hand_explains_when_the_model_is_too_big():
    at = run(new_app(view="Fit by hand", model="mlp"))
    assert any("at most 4 parameters" in i.value for i in at.info)


def test_downloads_are_offered():
    at = run(new_app())
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["History (CSV)", "History (JSON)", "Animation (HTML)"]


def test_upload_a_good_csv_then_a_bad_one_keeps_the_data():
    at = run(new_app(preset="CSV upload"))
    good = b"time,speed\n0,1\n1,3\n2,5\n3,7\n"
    at.file_uploader(key="upload").set_value(("good.csv", good, "text/csv"))
    run(at)
    fig = fit_chart(at)
    assert unpack(fig["data"][0]["y"]).tolist() == [1, 3, 5, 7]
    assert fig["layout"]["xaxis"]["title"]["text"] == "time"
    at.file_uploader(key="upload").set_value(("bad.csv", b"x,y\n1,2\n3,oops\n", "text/csv"))
    run(at)
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "line 3" in errors and "not a number" in errors
    fig = fit_chart(at)
    assert unpack(fig["data"][0]["y"]).tolist() == [1, 3, 5, 7]  # the previous data stays
