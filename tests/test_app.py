"""The Streamlit app through AppTest: controls, stepping, figures, comparison, URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from player_data import player, same
from reference import (
    features,
    lesson_points,
    line_points,
    np_gradient,
    np_loss,
    np_sgd,
    roller_coaster_points,
)
from streamlit.testing.v1 import AppTest

from explorer import build_model, fit, make_preset, train
from explorer.figures import unpack
from explorer.train import MAX_FRAMES, evaluate

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


def fit_chart(at: AppTest, key: str = "train_player") -> dict:
    """The player's fit figure (targets, then one curve per run)."""
    return player(at, key)["fit"]


def only_run(at: AppTest) -> dict:
    data = player(at)
    assert len(data["runs"]) == 1
    return data["runs"][0]


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
    data = player(at)
    assert data["epoch"] == 0
    fig = data["fit"]
    go.Figure(fig)  # valid against Plotly's schema
    go.Figure(data["loss_fig"])
    assert [t["name"] for t in fig["data"]] == ["targets", "model", "errors"]
    assert np.allclose(unpack(fig["data"][0]["y"]), make_preset("fastai-quadratic").y, atol=1e-5)
    r = data["runs"][0]
    assert r["names"] == ["a", "b", "c"] and r["lr"] == 0.01 and r["last"] == 10
    assert r["plain_sgd"] and not r["minibatch"]


def test_every_epoch_is_drawn_and_long_runs_stay_bounded():
    at = run(new_app())
    assert only_run(at)["frame_epochs"].tolist() == list(range(11))  # every epoch drawn
    at.select_slider(key="epochs").set_value(10000)
    run(at)
    r = only_run(at)
    epochs = r["frame_epochs"].astype(int).tolist()
    assert len(epochs) <= MAX_FRAMES and epochs[-1] == 10000
    assert epochs[:250] == list(range(250)) and epochs == sorted(set(epochs))
    assert r["loss"].shape == (10001,) and r["params"].shape == (10001, 3)


def test_the_player_gets_the_engines_history_number_for_number():
    h = lesson_history()
    r = only_run(run(new_app()))
    assert same(r["params"], h.params) and same(r["grads"], h.grads) and same(r["loss"], h.loss)
    assert np.allclose(r["frame_preds"], h.frame_preds, atol=1e-6)
    # The curve drawn for epoch 4 is the model at epoch 4, computed independently here.
    d = make_preset("fastai-quadratic")
    grid = unpack(fit_chart(run(new_app()))["data"][1]["x"])
    a, b, c = h.params[4].astype(np.float64)
    assert np.allclose(r["frame_preds"][4], a * grid**2 + b * grid + c, atol=1e-4)
    assert d.n == 20


def test_loss_rises_are_marked_and_the_linear_loss_axis_starts_at_zero():
    at = run(new_app(lr="10"))
    data = player(at)
    loss = only_run(at)["loss"].astype(np.float64)
    rose = [k for k in range(1, len(loss)) if loss[k] > loss[k - 1]]
    assert rose, "L1 at lr 10 zig-zags"
    marks = data["loss_fig"]["data"][1]
    assert marks["name"] == "loss rose" and unpack(marks["x"]).astype(int).tolist() == rose
    lo, hi = data["loss_fig"]["layout"]["yaxis"]["range"]
    assert lo == 0 and loss.max() < hi < 1.2 * loss.max()  # from 0, the whole curve in view
    assert data["runs"][0]["ranges"]["y"] == [lo, hi]
    assert data["log"] is False  # the default run spans less than 1000x


def test_changing_the_loss_changes_the_results():
    at = run(new_app())
    before = only_run(at)
    at.radio(key="loss").set_value("l2")
    run(at)
    after = only_run(at)
    assert after["loss_label"].startswith("L2") and not same(before["params"], after["params"])
    h = fit(preset="fastai-quadratic", loss="l2", lr=0.01, epochs=10)
    assert same(after["params"], h.params)


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
    r = only_run(at)
    assert r["minibatch"] and r["batch"] == 8 and not r["plain_sgd"]


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
    r = only_run(at)
    assert r["last"] == h.last_epoch and r["diverged_at"] == h.diverged_at
    assert np.isfinite(r["frame_preds"]).all() and np.isfinite(r["loss"]).all()


def test_compare_shows_one_run_per_chosen_loss_on_one_timeline():
    at = run(new_app(view="Compare"))
    data = player(at, "compare_player")
    assert [r["name"] for r in data["runs"]] == ["L1", "L2"]
    assert [t["name"] for t in data["fit"]["data"]] == ["targets", "L1", "L2"]
    at.multiselect(key="compare").set_value(["l1", "l2", "mse", "huber"])
    run(at)
    data = player(at, "compare_player")
    go.Figure(data["fit"])
    go.Figure(data["loss_fig"])
    assert [r["name"] for r in data["runs"]] == ["L1", "L2", "MSE", "Huber"]
    assert len(data["loss_fig"]["data"]) == 3 * 4  # loss, rises, marker per run
    for r, loss in zip(data["runs"], ("l1", "l2", "mse", "huber"), strict=True):
        assert same(
            r["params"], fit(preset="fastai-quadratic", loss=loss, lr=0.01, epochs=10).params
        )
    table = at.dataframe[0].value
    assert table["trained on"].str.split(" ").str[0].tolist() == ["L1", "L2", "MSE", "Huber"]


def test_compare_with_outliers_separates_l1_and_l2():
    at = run(new_app(view="Compare", outliers="3", epochs="1000"))
    table = at.dataframe[0].value
    a_l1, a_l2 = (float(v) for v in table["a"][:2])
    h1 = fit(preset="fastai-quadratic", outliers=3, loss="l1", epochs=1000)
    h2 = fit(preset="fastai-quadratic", outliers=3, loss="l2", epochs=1000)
    assert close(str(a_l1), h1.params[-1][0]) and close(str(a_l2), h2.params[-1][0])
    assert abs(a_l1 - a_l2) > 0.5  # plain to see


def test_compare_table_holds_every_metric_at_the_final_parameters():
    # The lesson's run (start 1.1, lr 0.01, 10 epochs) trained on each loss in NumPy; every
    # metric of the table is the textbook formula at that run's final parameters.
    at = run(new_app(view="Compare"))
    at.multiselect(key="compare").set_value(["l1", "l2", "mse", "huber"])
    run(at)
    table = at.dataframe[0].value
    columns = ["run", "trained on", "epochs", "L1", "L2", "MSE", "Huber (δ = 1)", "a", "b", "c"]
    assert list(table.columns) == columns
    x, y = lesson_points()
    for i, loss in enumerate(["l1", "l2", "mse", "huber"]):
        row = table.iloc[i]
        path = np_sgd(loss, "quadratic", [1.1, 1.1, 1.1], x, y, lr=0.01, epochs=10)
        e_start, e_final = (features("quadratic", x) @ path[k] - y for k in (0, -1))
        assert row["epochs"] == 10
        np.testing.assert_allclose([row["a"], row["b"], row["c"]], path[-1], rtol=1e-9)
        for metric, column in (
            ("l1", "L1"),
            ("l2", "L2"),
            ("mse", "MSE"),
            ("huber", "Huber (δ = 1)"),
        ):
            assert row[column] == pytest.approx(np_loss(metric, e_final), rel=1e-9), (loss, metric)
            assert abs(row[column] - np_loss(metric, e_start)) > 1e-3  # not the start's


def test_compare_varies_the_learning_rate_and_marks_the_best_run():
    # Three rates of the lesson's run (start 1.1, L1, 10 epochs), each against NumPy SGD;
    # the best is the lowest final L1, found here from NumPy's numbers.
    at = run(new_app(view="Compare", vary="Learning rate"))
    at.multiselect(key="compare_lr").set_value([0.001, 0.01, 0.03])
    run(at)
    table = at.dataframe[0].value
    x, y = lesson_points()
    finals = []
    for i, lr in enumerate([0.001, 0.01, 0.03]):
        path = np_sgd("l1", "quadratic", [1.1, 1.1, 1.1], x, y, lr=lr, epochs=10)
        np.testing.assert_allclose(
            table.iloc[i][["a", "b", "c"]].astype(float), path[-1], rtol=1e-9
        )
        finals.append(np_loss("l1", features("quadratic", x) @ path[-1] - y))
        assert table.iloc[i]["L1"] == pytest.approx(finals[-1], rel=1e-9)
    best = int(np.argmin(finals))
    assert [r.endswith("★") for r in table["run"]] == [i == best for i in range(3)]
    # The sidebar's learning rate is what varies: greyed, and saying so.
    assert at.select_slider(key="lr").disabled
    assert any("Compare varies this" in c.value for c in at.sidebar.caption)
    # Each run on the player is that run: the same losses as fit with its rate.
    data = player(at, "compare_player")
    for r, lr in zip(data["runs"], [0.001, 0.01, 0.03], strict=True):
        h = fit(preset="fastai-quadratic", loss="l1", lr=lr, epochs=10)
        assert same(r["loss"], h.loss)


def test_compare_refuses_values_that_change_nothing():
    at = run(new_app(view="Compare", vary="Batch size", points="4"))
    at.multiselect(key="compare_batch").set_value([None, 4])
    run(at)
    assert any("cannot be compared" in w.value for w in at.warning)


def test_compare_tip_buttons_add_outliers_and_epochs():
    at = run(new_app(view="Compare"))
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
    assert title == "L1: 2.422"  # the lesson's MAE at 1.1 (2.4219)
    at.slider(key="hand_a").set_value(3.0)
    at.slider(key="hand_b").set_value(2.0)
    at.slider(key="hand_c").set_value(1.0)
    run(at)
    x, y = lesson_points()
    mae = np.mean(np.abs(3 * x**2 + 2 * x + 1 - y))
    label, shown = charts(at)[0]["layout"]["title"]["text"].split(": ")
    assert label == "L1" and abs(float(shown) - mae) <= 0.0005 * mae  # 4 significant digits
    at.button(key="train_from_hand").click()
    run(at)
    assert at.button_group(key="view").value == "Train"
    assert at.radio(key="start").value == "hand"
    data = player(at)
    assert data["runs"][0]["params"][0].tolist() == [3.0, 2.0, 1.0] and data["epoch"] == 0
    # The link keeps the values the run starts from, although their sliders are not shown.
    assert [at.query_params[f"hand_{n}"] for n in "abc"] == ["3", "2", "1"]


def hand_table(at: AppTest) -> dict[str, list[str]]:
    """The fit-by-hand table: parameter name -> [value, gradient, advice] as shown."""
    for md in at.markdown:
        if md.value.startswith("| parameter | value | gradient | to lower the loss |"):
            rows = md.value.splitlines()[2:]
            cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows]
            return {c[0].strip("*"): c[1:] for c in cells}
    raise AssertionError("no fit-by-hand table")


@pytest.mark.parametrize(("m", "b"), [(3.0, -2.0), (0.5, 3.0)])
def test_fit_by_hand_advice_goes_against_the_gradient(m, b):
    # The line preset with MSE: dL/dm = 2·mean((m·x + b - y)·x), dL/db = 2·mean(m·x + b - y).
    # (3, -2): both gradients large, m's positive and b's negative; (0.5, 3) the reverse.
    at = run(new_app(view="Fit by hand", preset="line", loss="MSE"))
    at.slider(key="hand_m").set_value(m)
    at.slider(key="hand_b").set_value(b)
    run(at)
    x, y = line_points()
    grad = np_gradient("mse", "line", [m, b], x, y)
    assert np.all(np.abs(grad) > 1.0)  # signs beyond doubt
    table = hand_table(at)
    assert list(table) == ["m", "b"]
    for name, value, g in zip(["m", "b"], [m, b], grad, strict=True):
        shown_value, shown_grad, advice = table[name]
        assert close(shown_value, value) and close(shown_grad, g), (name, table[name], g)
        assert advice == ("decrease it" if g > 0 else "increase it"), (name, g, advice)


@pytest.mark.parametrize(("model", "names"), [("quadratic", "abc"), ("line", "mb")])
def test_fit_by_hand_sliders_hold_the_least_squares_optimum(model, names):
    # The roller coaster's least-squares fit is far outside -5..5 (b ≈ -14 and c ≈ 69 for
    # the quadratic, b ≈ 26 for the line): each slider must reach it, symmetric about 0.
    at = run(new_app(view="Fit by hand", preset="roller-coaster", model=model))
    t, speed = roller_coaster_points()
    best = np.linalg.lstsq(features(model, t), speed, rcond=None)[0]
    assert np.abs(best).max() > 20  # the case this test is about
    for name, value in zip(names, best, strict=True):
        s = at.slider(key=f"hand_{name}")
        assert s.min == -s.max, (name, s.min, s.max)
        assert s.min < value < s.max, (name, value, s.min, s.max)


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
    assert any("not your uploaded CSV" in c.value for c in at.caption)
    at.file_uploader(key="upload").set_value(("bad.csv", b"x,y\n1,2\n3,oops\n", "text/csv"))
    run(at)
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "line 3" in errors and "not a number" in errors
    fig = fit_chart(at)
    assert unpack(fig["data"][0]["y"]).tolist() == [1, 3, 5, 7]  # the previous data stays


def hand_title(at: AppTest) -> str:
    return chart(at, "hand_chart")["layout"]["title"]["text"]


def test_fit_by_hand_shows_a_small_loss_with_its_significant_digits():
    at = run(new_app(view="Fit by hand", preset="line", noise="0", loss="MSE"))
    at.slider(key="hand_m").set_value(2.0)
    at.slider(key="hand_b").set_value(1.05)
    run(at)
    d = make_preset("line", noise=0)
    assert np.mean((2.0 * d.x + 1.05 - d.y) ** 2) == pytest.approx(0.0025)
    assert hand_title(at) == "MSE: 0.0025"  # not "MSE: 0.00"


def test_fit_by_hand_calls_a_gradient_of_rounding_noise_zero():
    # On the noise-free line, with m off (2.5) and b on the line (1), b is at its best for
    # this m: its gradient is a sum of terms (e_i / (n·L2), e_i = 0.5·x_i) that cancel in
    # exact arithmetic, as the x are symmetric about 0; in float64 they leave ~1e-17.
    at = run(new_app(view="Fit by hand", preset="line", noise="0", loss="L2"))
    at.slider(key="hand_m").set_value(2.5)
    at.slider(key="hand_b").set_value(1.0)
    run(at)
    table = hand_table(at)
    assert table["b"][1:] == [
        "≈ 0",
        "leave it: at a minimum in this direction (the gradient is rounding noise)",
    ]
    x = make_preset("line", noise=0).x
    e = 0.5 * x
    dm = np.sum(e * x) / (x.size * np.sqrt(np.mean(e**2)))  # 1.194: m is too steep
    assert table["m"][1:] == [f"{dm:.4g}", "decrease it"]


def test_at_the_least_squares_optimum_every_gradient_is_rounding_noise():
    from webapp.views import gradient_advice

    d = make_preset("line")  # noise 0.5
    best = np.linalg.lstsq(np.stack([d.x, np.ones_like(d.x)], axis=1), d.y, rcond=None)[0]
    measured = evaluate(build_model("line"), best, d.x, d.y, "mse")
    for g, scale in zip(measured.grad, measured.grad_scale, strict=True):
        assert g != 0  # float64 leaves rounding errors of the zero it should be
        assert gradient_advice(g, scale) == (
            "≈ 0",
            "leave it: at a minimum in this direction (the gradient is rounding noise)",
        )
    # A small but real gradient, a little off the optimum, is not noise.
    measured = evaluate(build_model("line"), best + [1e-6, 0], d.x, d.y, "mse")
    g, scale = measured.grad[0], measured.grad_scale[0]
    assert g > 0 and gradient_advice(g, scale)[1] == "decrease it"
    assert gradient_advice(0.0, 0.0) == ("0", "leave it: at a minimum in this direction")


def test_fit_by_hand_says_why_a_dead_relu_does_not_learn():
    at = run(new_app(view="Fit by hand", preset="bathtub", model="relu-sum", relus="1"))
    at.slider(key="hand_m[0]").set_value(1.0)
    at.slider(key="hand_b[0]").set_value(-3.0)
    run(at)
    x = make_preset("bathtub").x
    assert np.all(1.0 * x - 3.0 <= 0)  # every point on the flat side: the ReLU is dead
    table = hand_table(at)
    for name in ("m[0]", "b[0]"):
        assert table[name][1:] == ["0", "no effect: the ReLU is dead (see below)"]
    assert table["c"][2] in ("increase it", "decrease it")
    warnings = " ".join(w.value for w in at.warning)
    assert "The ReLU is dead: no point is on its active side" in warnings
    assert "gradient descent can never revive it" in warnings
    assert "Move b[0] up (or change the sign of m[0])" in warnings
    # Moved so that the kink (x = 2) is inside the data: alive again, no note.
    at.slider(key="hand_b[0]").set_value(-2.0)
    run(at)
    assert np.any(1.0 * x - 2.0 > 0)
    assert "is dead" not in " ".join(w.value for w in at.warning)
    assert hand_table(at)["m[0]"][2] in ("increase it", "decrease it")


def epochs_noted(run_data: dict, words: str) -> set[int]:
    """The epochs at which the player shows a note containing ``words``."""
    return {
        k
        for note in run_data["notes"]
        if words in note["text"]
        for a, b in note["spans"]
        for k in range(a, b + 1)
    }


def test_the_player_says_when_a_relu_is_dead():
    # One ReLU, started dead on the bathtub (every x <= 2.5, so 1·x - 3 <= 0).
    at = run(
        new_app(
            preset="bathtub",
            model="relu-sum",
            relus="1",
            start="fit by hand",
            **{"hand_m[0]": "1", "hand_b[0]": "-3"},
        )
    )
    r = only_run(at)
    x = make_preset("bathtub").x
    dead = [k for k, (m, b, _) in enumerate(r["params"]) if np.all(m * x + b <= 0)]
    assert dead == list(range(r["last"] + 1))  # m and b get no gradient: dead for good
    assert epochs_noted(r, "The ReLU is dead: no point is on its active side") == set(dead)
    # Two ReLUs at lr 1 (seed 45): ReLU 0 dies after the first step, ReLU 1 lives.
    at = run(new_app(preset="bathtub", model="relu-sum", relus="2", lr="1", seed="45"))
    at.select_slider(key="epochs").set_value(300)
    run(at)
    r = only_run(at)
    x = make_preset("bathtub", seed=45).x
    for i in range(2):
        dead = {
            k for k, p in enumerate(r["params"]) if np.all(p[i] * x + p[2 + i] <= 0)
        }  # layout m[0], m[1], b[0], b[1], c
        assert epochs_noted(r, f"ReLU {i} (m[{i}], b[{i}]) is dead") == dead
    assert 0 not in epochs_noted(r, "ReLU 0") and r["last"] in epochs_noted(r, "ReLU 0")
    assert epochs_noted(r, "ReLU 1") == set()


PAST_THE_BOTTOM = "This step went past the bottom"


def test_a_perfect_start_on_the_noise_free_line_has_nothing_to_overshoot():
    # The brief's case: noise 0, start on the line m = 2, b = 1, L2 at lr 0.1. In float64
    # the residuals are exactly 0 (so are L2 and its gradient) and the run stays put.
    at = run(
        new_app(
            preset="line",
            noise="0",
            loss="L2",
            lr="0.1",
            start="fit by hand",
            hand_m="2",
            hand_b="1",
        )
    )
    r = only_run(at)
    d = make_preset("line", noise=0)
    assert np.all(2.0 * d.x + 1.0 - d.y == 0)
    assert np.all(r["loss"] == 0) and np.all(r["grads"] == 0)
    assert r["notes"] == []


def test_the_player_explains_l2_stepping_past_the_bottom_for_ever():
    # The noise-free line from the preset's random start, L2 at lr 0.1: L2's gradient stays
    # unit-sized as the errors shrink, so the run ends up cycling between two losses.
    at = run(new_app(preset="line", noise="0", loss="L2", lr="0.1"))
    r = only_run(at)
    loss, grads = r["loss"], r["grads"]
    last = r["last"]
    assert last == 100
    assert loss[-1] == loss[-3] != loss[-2] and loss[-2] == loss[-4]  # a two-cycle
    noted = epochs_noted(r, PAST_THE_BOTTOM)
    # Independently: the step from k is longer than the loss left (lr·|g|² > loss) and the
    # gradient after it points back.
    expected = {
        k
        for k in range(last)
        if 0.1 * grads[k] @ grads[k] > loss[k] and grads[k] @ grads[k + 1] < 0
    }
    assert noted == expected
    assert set(range(50, last)) <= noted and 0 not in noted and last not in noted
    assert "L2's gradient does not shrink as the errors shrink" in r["notes"][0]["text"]
    # MSE's gradient shrinks with the errors: it converges, nothing to say.
    at.radio(key="loss").set_value("mse")
    run(at)
    assert epochs_noted(only_run(at), PAST_THE_BOTTOM) == set()


def test_rounding_residuals_under_l1_get_the_note_from_the_start():
    from webapp.player import run_payload

    # y = 0.1x + 0.3 at its own line: residuals of ~1e-17, L1's gradient still unit-sized.
    x = np.linspace(-2.0, 2.0, 20)
    y = 0.1 * x + 0.3
    h = fit(data=(x, y), model="line", loss="l1", init={"m": 0.1, "b": 0.3}, lr=0.1, epochs=20)
    assert 0 < h.loss[0] < 1e-16
    r = run_payload("run", "#000", h)
    assert epochs_noted(r, PAST_THE_BOTTOM) >= {0, 1, 2}
    assert "L1's gradient does not shrink" in r["notes"][0]["text"]
    # Not for momentum: the step taken is not lr × this gradient.
    h = fit(
        data=(x, y),
        model="line",
        loss="l1",
        init={"m": 0.1, "b": 0.3},
        lr=0.1,
        epochs=20,
        optimizer="momentum",
    )
    assert run_payload("run", "#000", h)["notes"] == []


def test_the_header_speaks_of_watching_only_where_a_player_plays():
    for view, has_player in (("Train", True), ("Compare", True), ("Fit by hand", False)):
        at = run(new_app(view=view))
        words = " ".join(c.value for c in at.caption).lower()
        assert ("watch" in words) == has_player, (view, words)
        assert not re.search(r"\bplay", words), (view, words)
    at = run(new_app(view="Fit by hand"))
    assert at.caption[0].value == (
        "Fit a function to points yourself: move the sliders, read the loss, and let the "
        "gradient tell you which way is downhill."
    )


# ----------------------------------------------------------------------------- the descent


def test_the_player_gets_every_parameter_by_epoch_and_the_least_squares_floor():
    at = run(new_app(preset="roller-coaster"))
    data = player(at)
    h = fit(preset="roller-coaster")
    descent = data["descent"]
    assert descent["shown"] == [0, 1, 2]
    lines = descent["params_fig"]["data"]
    assert [t["name"] for t in lines[:3]] == ["a", "b", "c"]
    for i, t in enumerate(lines[:3]):
        assert np.allclose(unpack(t["y"]), h.params[:, i], rtol=1e-6)  # float32 on the wire
    assert lines[3]["name"] == "this epoch"
    # The least-squares optimum, from NumPy alone: its curve on the fit, its MSE as a floor.
    x, y = roller_coaster_points()
    design = features("quadratic", x)
    best = np.linalg.lstsq(design, y, rcond=None)[0]
    floor = float(np.mean((design @ best - y) ** 2))
    assert descent["best"]["loss"] == pytest.approx(floor, rel=1e-9)
    assert np.allclose(descent["best"]["params"], best, rtol=1e-9)
    fit_traces = {t["name"]: t for t in data["fit"]["data"]}
    grid = unpack(fit_traces["best possible"]["x"])
    assert np.allclose(
        unpack(fit_traces["best possible"]["y"]), features("quadratic", grid) @ best, rtol=1e-5
    )
    floor_line = data["loss_fig"]["data"][-1]
    assert floor_line["y"] == [pytest.approx(floor, rel=1e-12)] * 2
    assert "best possible: " in floor_line["text"][0]


def test_no_floor_where_least_squares_is_not_the_loss():
    data = player(run(new_app()))  # the lesson's L1: least squares is not its optimum
    assert data["descent"]["best"] is None
    assert all(t["name"] != "best possible" for t in data["fit"]["data"])
    assert len(data["loss_fig"]["data"]) == 3


def test_a_big_model_shows_the_parameters_that_moved_most():
    at = run(new_app(preset="sine", opt="Adam", epochs="100"))
    descent = player(at)["descent"]
    h = fit(preset="sine", optimizer="adam", epochs=100)
    moved = np.ptp(h.params, axis=0)
    assert len(descent["shown"]) == 6
    assert set(descent["shown"]) == set(np.argsort(-moved)[:6].tolist())


# ----------------------------------------------------------------------------- the learning rate


def test_the_learning_rate_sweep_and_the_stability_limit_at_2_over_lambda_max():
    at = run(new_app(preset="line", loss="MSE", sweep="true"))
    sweep_chart = chart(at, "lr_sweep")
    traces = {t["name"]: t for t in sweep_chart["data"]}
    # 2/λmax of the MSE's Hessian (2/n)XᵀX, from NumPy alone.
    x, _ = line_points()
    design = features("line", x)
    lam = np.linalg.eigvalsh(2 / len(x) * design.T @ design).max()
    assert traces["2/λmax"]["x"] == [pytest.approx(2 / lam, rel=1e-9)] * 2
    assert traces["this run"]["x"] == [pytest.approx(0.1)] * 2
    # Every rate is there: on the curve, or on the top edge (diverged or blew up).
    h = fit(preset="line", loss="mse")
    n = len(traces["final loss"]["x"]) + len(traces["off the top"]["x"])
    assert n == 61
    lr = traces["final loss"]["x"][30]
    assert traces["final loss"]["y"][30] == pytest.approx(
        fit(preset="line", loss="mse", lr=lr).loss[-1], rel=1e-6
    )
    assert traces["final loss"]["y"][0] == pytest.approx(h.loss[0], rel=1e-3)  # lr 1e-6
    assert {t["name"] for t in chart(at, "lr_find")["data"]} >= {"loss"}
    assert any("stability limit 2/λmax = 0.7016" in c.value for c in at.caption)


def test_no_stability_limit_says_why():
    at = run(new_app(preset="line", sweep="true"))  # L2: no constant curvature
    assert all(t["name"] != "2/λmax" for t in chart(at, "lr_sweep")["data"])
    assert any("No stability limit is drawn" in c.value for c in at.caption)


def test_the_sweep_is_opt_in():
    # 61 runs and lr_find take seconds for a new run: not on every slider move.
    at = run(new_app(preset="line", loss="MSE"))
    assert at.toggle(key="sweep").value is False
    assert not [c for c in at.get("plotly_chart") if c.proto.id and "lr_sweep" in c.proto.id]
    assert not any("61 learning rates from 1e-6" in c.value for c in at.caption)


def test_choosing_a_sweep_dot_sets_the_learning_rate(monkeypatch):
    from webapp import lr_view

    state = {lr_view.SWEEP_KEY: {"selection": {"points": [{"x": 0.0031622, "y": 1.0}]}}}
    monkeypatch.setattr(lr_view.st, "session_state", state)
    lr_view._choose_lr()
    assert state["lr"] == 0.003  # the slider's nearest stop
    assert lr_view.nearest_lr(7.5) == 10.0 and lr_view.nearest_lr(1.2e-6) == 1e-6


# ----------------------------------------------------------------------------- the descent


def test_the_landscape_follows_the_link_and_says_when_its_parameters_do_not_exist():
    data = player(run(new_app(preset="roller-coaster")))
    h = fit(preset="roller-coaster")
    land = data["landscape"]
    moved = np.ptp(h.params, axis=0)  # the two that moved most: a and one of b, c
    two = sorted(np.argsort(-moved)[:2].tolist())
    assert land["along"] == two and land["names"] == [h.param_names[i] for i in two]
    assert not land["exact"]  # three parameters: c is held at each epoch's value

    at = run(new_app(preset="roller-coaster", along="c,b"))
    assert player(at)["landscape"]["names"] == ["c", "b"]
    assert not any("landscape" in c.value for c in at.caption)

    at = run(new_app(preset="roller-coaster", along="m,zz"))
    assert player(at)["landscape"]["names"] == land["names"]
    assert any("(m, zz) are not two of this model's (a, b, c)" in c.value for c in at.caption)
    assert "along" not in at.query_params  # dropped: said once

    line = player(run(new_app(preset="line")))["landscape"]
    assert line["exact"] and line["names"] == ["m", "b"]


def test_a_landscape_link_that_is_not_two_names_is_said():
    at = run(new_app(along="m"))
    notes = " ".join(w.value for w in at.warning)
    assert "`along=m`: expected two parameter names" in notes
    at = run(new_app(along="a,a"))
    assert "`along=a,a`: expected two different parameters" in " ".join(w.value for w in at.warning)


def test_outliers_are_ringed_on_the_fit_and_edged_in_the_pull():
    at = run(new_app(outliers="2"))
    data = player(at)
    pushed = make_preset("fastai-quadratic", outliers=2)
    plain = make_preset("fastai-quadratic")
    moved = np.flatnonzero(pushed.y != plain.y)
    ring = next(t for t in data["fit"]["data"] if t["name"] == "outliers (added)")
    assert np.array_equal(unpack(ring["x"]), pushed.x[moved])
    assert np.array_equal(unpack(ring["y"]), pushed.y[moved])
    assert data["descent"]["pull"]["outliers"] == moved.tolist()
    # No outliers: no ring.
    names = [t["name"] for t in player(run(new_app()))["fit"]["data"]]
    assert "outliers (added)" not in names


def test_a_gradient_that_is_rounding_noise_is_flagged_for_the_table():
    # The line under L1 on the lesson's symmetric points: while every point is above the
    # line, m's gradient is the mean of x, 0 up to rounding.
    data = player(run(new_app(model="line")))
    r = data["runs"][0]
    x, y = lesson_points()
    flagged = {(i, k) for i, a, b in r["noise"] for k in range(a, b + 1)}
    assert flagged, "no epoch flagged"
    for i, k in flagged:
        e = r["params"][k][0] * x + r["params"][k][1] - y
        assert i == 0 and (np.all(e < 0) or np.all(e > 0))
        assert abs(r["grads"][k][0]) < 1e-12
