"""Experiments: held-out points, branches from any epoch, comparisons of any one setting.

Every expected value comes from outside the engine: the held-out draw and the losses on
the held-out points written out in NumPy, gradient descent (SGD, Adam) in NumPy from a
branch's start, a branch against the unbroken run, every compared run against ``fit``
with that one setting, and the command line against the API and NumPy.
"""

from __future__ import annotations

import csv
import io
import json

import jax
import numpy as np
import pytest
from reference import features, line_points, np_loss, np_predict, np_sgd

from explorer import branch, compare, fit
from explorer.api import VARIES, Comparison, resolve
from explorer.cli import main
from explorer.descent import contributions
from explorer.export import history_csv, history_json
from explorer.models import build_model
from explorer.rates import sweep
from explorer.train import compile_in_background, train, wait_for_compiles


@pytest.fixture(autouse=True, scope="module")
def _compile_only_what_runs():
    # These tests build many model structures and use one or two (loss, optimizer) pairs of
    # each: compiling only those (as the command line does) instead of every pair in the
    # background keeps them from queueing behind a dozen whole engines. The numbers are the
    # same either way (tests/test_train.py).
    compile_in_background(False)
    yield
    compile_in_background(True)


# ------------------------------------------------------------------------- references


def reference_held_out(n: int, share: float, seed: int) -> np.ndarray:
    """The README's rule, written out: round(share * n) half up, at least 1 and at most
    n - 1 when the share is above 0; the first of default_rng([seed, 1]).permutation(n)."""
    count = 0 if share == 0 else int(min(n - 1, max(1, np.floor(share * n + 0.5))))
    mask = np.zeros(n, bool)
    mask[np.random.default_rng([seed, 1]).permutation(n)[:count]] = True
    return mask


def np_poly(p, x) -> np.ndarray:
    """c0 + c1 x + ... + cd x^d."""
    return sum(c * np.asarray(x, np.float64) ** i for i, c in enumerate(p))


def np_adam(grad_fn, p0, lr, epochs, b1=0.9, b2=0.999, eps=1e-8) -> np.ndarray:
    """Adam (Kingma & Ba, as optax.adam: eps outside the root, bias-corrected), from a
    fresh state: (epochs + 1, P) parameters."""
    path = [np.asarray(p0, np.float64)]
    m = np.zeros_like(path[0])
    v = np.zeros_like(path[0])
    for t in range(1, epochs + 1):
        g = grad_fn(path[-1])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        path.append(path[-1] - lr * step)
    return np.array(path)


def mse_gradient_line(p, x, y) -> np.ndarray:
    e = p[0] * x + p[1] - y
    return np.array([np.mean(2 * e * x), np.mean(2 * e)])


# ------------------------------------------------------------------------ held out


@pytest.mark.parametrize(
    ("n", "share", "seed", "count"),
    [
        (30, 0.25, 42, 8),  # 7.5 rounds up
        (12, 0.25, 42, 3),
        (20, 0.1, 7, 2),
        (2, 0.5, 0, 1),  # at least one point trained on
        (2, 0.01, 3, 1),  # at least one held out
        (3, 0.5, 1, 2),  # 1.5 rounds up to 2, leaving 1
        (10, 0.0, 5, 0),
        (10_000, 0.5, 9, 5000),
    ],
)
def test_the_held_out_points_are_the_documented_draw(n, share, seed, count):
    from explorer.data import hold_out

    got = hold_out(n, share, seed)
    assert got.dtype == bool and got.shape == (n,) and not got.flags.writeable
    assert int(got.sum()) == count
    np.testing.assert_array_equal(got, reference_held_out(n, share, seed))


def test_validation_is_a_registry_setting_with_a_flag():
    from explorer.cli import build_parser
    from explorer.registry import SETTINGS

    s = SETTINGS["validation"]
    assert (s.default, s.low, s.high, s.flag) == (0.0, 0, 0.5, "--validation")
    args = build_parser().parse_args(["fit", "--validation", "0.25"])
    assert args.validation == 0.25
    for bad in (-0.1, 0.51, float("nan")):
        with pytest.raises(ValueError, match=r"validation must be a number in \[0, 0.5\]"):
            fit(preset="line", validation=bad, epochs=1)


@pytest.mark.parametrize("loss", ["l1", "l2", "mse", "huber"])
def test_a_run_trains_on_the_rest_and_measures_the_held_out_points(loss):
    # The line preset from m = 0.5, b = -1: full-batch SGD in NumPy on the training points
    # only, and both losses in NumPy at every epoch.
    h = fit(preset="line", loss=loss, lr=0.1, epochs=40, init={"m": 0.5, "b": -1}, validation=0.25)
    x, y = line_points()
    held = reference_held_out(30, 0.25, 42)
    np.testing.assert_array_equal(h.val_mask, held)
    np.testing.assert_array_equal(h.train_mask, ~held)
    path = np_sgd(loss, "line", [0.5, -1.0], x[~held], y[~held], lr=0.1, epochs=40)
    np.testing.assert_allclose(h.params, path, rtol=1e-12, atol=1e-14)
    train_loss = [np_loss(loss, features("line", x[~held]) @ p - y[~held]) for p in h.params]
    val_loss = [np_loss(loss, features("line", x[held]) @ p - y[held]) for p in h.params]
    np.testing.assert_allclose(h.loss, train_loss, rtol=1e-13)
    assert h.val_loss.shape == (41,) and h.val_loss.dtype == np.float64
    np.testing.assert_allclose(h.val_loss, val_loss, rtol=1e-13)
    assert not h.val_loss.flags.writeable and not h.val_mask.flags.writeable
    assert h.config["validation"] == 0.25


def test_the_held_out_loss_of_a_nonlinear_model_in_numpy():
    # An MLP (tanh, width 5) with Adam and mini-batches, huber with its own delta.
    h = fit(
        preset="sine",
        model="mlp",
        width=5,
        activation="tanh",
        loss="huber",
        huber_delta=0.3,
        optimizer="adam",
        lr=0.05,
        epochs=60,
        batch_size=8,
        validation=0.3,
    )
    held = reference_held_out(50, 0.3, 42)
    np.testing.assert_array_equal(h.val_mask, held)
    x, y = h.x[held], h.y[held]
    expected = [np_loss("huber", np_predict("mlp", p, x, "tanh") - y, 0.3) for p in h.params]
    np.testing.assert_allclose(h.val_loss, expected, rtol=1e-12)


def test_training_never_reads_the_held_out_points():
    # Move every held-out target: the training path is the same to the last bit (full
    # batch and mini-batches); only the held-out loss changes.
    x, y = line_points()
    held = reference_held_out(30, 0.2, 3)
    moved = y.copy()
    moved[held] += 100.0
    for batch in (None, 4):
        common = dict(model="line", loss="mse", lr=0.05, epochs=30, seed=3, validation=0.2)
        a = fit(data=(x, y), batch_size=batch, **common)
        b = fit(data=(x, moved), batch_size=batch, **common)
        np.testing.assert_array_equal(a.params, b.params)
        np.testing.assert_array_equal(a.loss, b.loss)
        assert np.all(b.val_loss > a.val_loss)


def test_a_batch_of_every_training_point_is_full_batch():
    # 30 points, 8 held out: a batch of 22 is all of the training points.
    h = fit(preset="line", batch_size=22, validation=0.25, epochs=3)
    assert h.config["batch_size"] is None
    assert fit(preset="line", batch_size=21, validation=0.25, epochs=3).config["batch_size"] == 21


def test_without_validation_nothing_is_held_out():
    h = fit(preset="line", epochs=5)
    assert h.val_mask.shape == (30,) and not h.val_mask.any()
    assert h.val_loss is None
    assert "validation" not in h.config and "held_out" not in h.to_dict()
    same = fit(preset="line", epochs=5, validation=0)
    np.testing.assert_array_equal(same.params, h.params)
    assert same.config == h.config


def test_holding_points_out_does_not_recompile_the_engine():
    # The held-out points only change the engine's mask: no new executable, whatever the
    # share and the seed. (The held-out loss compiles once per model and size bucket.)
    compiles = []

    def listen(event, _secs, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    spec = resolve(preset="line", loss="mse", epochs=20)
    args = (spec.data, spec.model, np.zeros(2))
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        train(*args, loss="mse", epochs=20)
        train(*args, loss="mse", epochs=20, val_mask=reference_held_out(30, 0.25, 42))
        wait_for_compiles()
        before = len(compiles)
        for share, seed in ((0.1, 1), (0.5, 2), (0.25, 3)):
            train(*args, loss="mse", epochs=20, val_mask=reference_held_out(30, share, seed))
        assert len(compiles) == before
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def test_the_landscape_views_and_sweeps_use_the_training_points():
    h = fit(preset="line", loss="mse", lr=0.1, epochs=10, validation=0.25)
    terms = contributions(h, 4)
    assert np.all(terms[h.val_mask] == 0)
    np.testing.assert_allclose(terms.sum(axis=0), h.grads[4], rtol=1e-12)
    s = sweep([0.1, 0.3], preset="line", loss="mse", epochs=10, validation=0.25)
    for lr, final in zip([0.1, 0.3], s.final_loss, strict=True):
        assert final == pytest.approx(
            fit(preset="line", loss="mse", lr=lr, epochs=10, validation=0.25).loss[-1], rel=1e-12
        )


def test_the_overfit_preset_overfits_with_a_quarter_held_out():
    h = fit(preset="overfit", validation=0.25)
    c = h.config
    assert (c["points"], c["model"], c["degree"], c["validation"]) == (12, "polynomial", 8, 0.25)
    assert int(h.val_mask.sum()) == 3 and h.diverged_at is None
    # The held-out loss, in NumPy, at every epoch.
    x, y = h.x[h.val_mask], h.y[h.val_mask]
    np.testing.assert_allclose(
        h.val_loss, [np.mean((np_poly(p, x) - y) ** 2) for p in h.params], rtol=1e-10
    )
    v, train_loss, end = h.val_loss, h.loss, h.last_epoch
    low = int(np.argmin(v))
    assert low < end / 4  # the held-out loss is lowest early (epoch 200 of 2000)
    assert v[end] > 5 * v[low]  # and far above that at the end (about 9x)
    assert np.all(np.diff(v[low:]) > 0)  # rising all the way from there
    assert np.all(np.diff(train_loss) < 0)  # while the training loss falls at every epoch
    assert train_loss[end] < 0.6 * train_loss[low]


# ----------------------------------------------------------------------------- export


def test_csv_and_json_carry_the_held_out_loss():
    h = fit(preset="line", epochs=6, validation=0.2)
    rows = list(csv.reader(io.StringIO(history_csv(h))))
    assert rows[0][:3] == ["epoch", "loss", "val_loss"]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(table[:, 1], h.loss)
    np.testing.assert_array_equal(table[:, 2], h.val_loss)
    doc = json.loads(history_json(h))
    assert doc["held_out"] == np.flatnonzero(reference_held_out(30, 0.2, 42)).tolist()
    assert [r["val_loss"] for r in doc["history"]] == h.val_loss.tolist()
    plain = fit(preset="line", epochs=6)
    assert list(csv.reader(io.StringIO(history_csv(plain))))[0][:3] == ["epoch", "loss", "m"]
    assert "val_loss" not in json.loads(history_json(plain))["history"][0]


def test_cli_fit_prints_and_exports_the_held_out_loss(capsys):
    assert main(["fit", "--preset", "line", "--epochs", "4", "--validation", "0.2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["epoch", "loss", "val_loss"]
    h = fit(preset="line", epochs=4, validation=0.2)
    for k in range(5):
        cells = out[1 + k].split()
        assert int(cells[0]) == k
        assert float(cells[2]) == pytest.approx(h.val_loss[k], rel=1e-4)
    held = ", ".join(str(i) for i in np.flatnonzero(h.val_mask))
    assert (
        out[-1] == f"(loss: on the 24 training points; val_loss: on the 6 held out, points {held})"
    )
    assert main(["fit", "--preset", "line", "--epochs", "4", "--validation", "0.2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(history_json(h))


# ----------------------------------------------------------------------------- branch


@pytest.mark.parametrize("batch_size", [None, 4])
def test_a_branch_without_changes_is_the_run_from_its_epoch(batch_size):
    # SGD keeps no state, so a fresh one changes nothing; mini-batches are the shuffles the
    # run drew from that epoch on. The engine and its executable are the same: bit for bit.
    h = fit(preset="line", loss="mse", lr=0.05, epochs=30, batch_size=batch_size, validation=0.2)
    for k in (0, 1, 17, 30):
        b = branch(h, k)
        assert b.epochs == 30 - k and b.last_epoch == 30 - k
        np.testing.assert_array_equal(b.params, h.params[k:])
        np.testing.assert_array_equal(b.loss, h.loss[k:])
        np.testing.assert_array_equal(b.grads, h.grads[k:])
        np.testing.assert_array_equal(b.val_mask, h.val_mask)
        np.testing.assert_array_equal(b.val_loss, h.val_loss[k:])
    # Branches of branches too: their shuffles are the first run's from epoch 10 + 5 (+ 3).
    twice = branch(branch(h, 10), 5)
    np.testing.assert_array_equal(twice.params, h.params[15:])
    np.testing.assert_array_equal(branch(twice, 3).params, h.params[18:])


def test_a_branch_with_another_learning_rate_is_sgd_from_there_in_numpy():
    h = fit(preset="line", loss="mse", lr=0.01, epochs=40, init={"m": 0.5, "b": -1})
    b = branch(h, 12, lr=0.2, epochs=25)
    x, y = line_points()
    np.testing.assert_allclose(
        b.params, np_sgd("mse", "line", h.params[12], x, y, lr=0.2, epochs=25), rtol=1e-12
    )


def test_a_branch_to_adam_starts_with_a_fresh_state():
    # Adam's first step from a fresh state is lr * sign(gradient) (to eps): a state carried
    # over from the run would not give that. The whole path against Adam in NumPy.
    h = fit(preset="line", loss="mse", optimizer="momentum", lr=0.05, epochs=30, validation=0.2)
    b = branch(h, 10, optimizer="adam", lr=0.01)
    x, y = h.x[h.train_mask], h.y[h.train_mask]
    path = np_adam(lambda p: mse_gradient_line(p, x, y), h.params[10], lr=0.01, epochs=20)
    np.testing.assert_allclose(b.params, path, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(b.params[1] - b.params[0], -0.01 * np.sign(h.grads[10]), rtol=1e-6)
    held = h.val_mask
    expected = [np.mean((p[0] * h.x[held] + p[1] - h.y[held]) ** 2) for p in path]
    np.testing.assert_allclose(b.val_loss, expected, rtol=1e-11)


def test_a_branch_records_where_it_came_from():
    h = fit(preset="line", loss="mse", lr=0.05, epochs=20)
    b = branch(h, 7, optimizer="adam", lr=0.01, beta1=0.8)
    c = b.config
    assert c["branch"] == dict(
        epoch=7, changed=dict(optimizer="adam", lr=0.01, beta1=0.8), parent=h.config
    )
    assert c["init"] == {"m": float(h.params[7, 0]), "b": float(h.params[7, 1])}
    assert (c["optimizer"], c["lr"], c["beta1"], c["beta2"], c["epochs"]) == (
        "adam",
        0.01,
        0.8,
        0.999,
        13,
    )
    assert (c["preset"], c["points"], c["noise"], c["seed"], c["loss"]) == (
        "line",
        30,
        0.5,
        42,
        "mse",
    )
    json.dumps(b.to_dict(), allow_nan=False)  # JSON-serialisable, nested parent included
    # The recorded settings rerun it: fit from the recorded start gives the same path.
    again = fit(**{k: v for k, v in c.items() if k not in ("branch", "points", "noise")})
    np.testing.assert_array_equal(again.params, b.params)


@pytest.mark.parametrize("epoch", [-1, 21, 2.0, True, "3", None])
def test_a_branch_refuses_an_epoch_outside_the_run(epoch):
    h = fit(preset="line", epochs=20)
    with pytest.raises(ValueError, match=r"^epoch must be a whole number from 0 to 20 \(the run"):
        branch(h, epoch)


def test_a_branch_of_a_diverged_run_ends_at_its_last_finite_epoch():
    h = fit(preset="line", loss="mse", lr=5.0, epochs=400)
    assert h.diverged_at is not None
    last = h.last_epoch
    b = branch(h, last, lr=0.01, epochs=5)
    assert np.all(np.isfinite(b.params))
    with pytest.raises(ValueError, match=f"from 0 to {last} "):
        branch(h, last + 1)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (dict(points=10), "cannot change points"),
        (dict(noise=0.1), "cannot change noise"),
        (dict(validation=0.3), "cannot change validation"),
        (dict(model="quadratic"), "cannot change model"),
        (dict(degree=3), "cannot change degree"),
        (dict(init={"m": 1.0}), "cannot change init"),
        (dict(preset="sine"), "cannot change preset"),
        (dict(learning_rate=0.1), "unknown setting 'learning_rate'"),
        (dict(lr=-1), "lr must be a number in [0, 1000], not -1"),
        (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
    ],
)
def test_a_branch_refuses_what_it_cannot_change(change, words):
    h = fit(preset="line", epochs=5)
    with pytest.raises(ValueError) as err:
        branch(h, 2, **change)
    assert words in str(err.value)


def test_cli_branch_prints_the_branch(capsys):
    argv = ["fit", "--preset", "line", "--loss", "mse", "--epochs", "12"]
    code = main([*argv, "--branch-at", "4", "--then", "lr=0.02", "optimizer=adam", "--json"])
    assert code == 0
    got = json.loads(capsys.readouterr().out)
    h = fit(preset="line", loss="mse", epochs=12)
    expected = branch(h, 4, lr=0.02, optimizer="adam")
    assert got == json.loads(json.dumps(expected.to_dict()))
    assert got["config"]["branch"]["changed"] == {"lr": 0.02, "optimizer": "adam"}
    assert main([*argv, "--branch-at", "4", "--then", "batch-size=all", "epochs=3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:5]] == ["0", "1", "2", "3"]
    assert float(out[1].split()[1]) == pytest.approx(h.loss[4], rel=1e-4)
    assert (
        out[5]
        == "(a branch from epoch 4 of the run: its epoch j is the run's epoch 4 + j; changed: epochs 12 -> 3)"
    )
    assert out[6] == f"the run ends at mse {h.loss[12]:.5g} (its epoch 12)"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--branch-at", "13"], "epoch must be a whole number from 0 to 12"),
        (["--branch-at", "-1"], "epoch must be a whole number from 0 to 12"),
        (["--then", "lr=0.1"], "--then needs --branch-at K"),
        (["--branch-at", "2", "--then", "lr=fast"], "lr must be a number in [0, 1000], not 'fast'"),
        (["--branch-at", "2", "--then", "speed=1"], "unknown setting 'speed'"),
        (["--branch-at", "2", "--then", "lr"], "expected NAME=VALUE, got 'lr'"),
        (["--branch-at", "2", "--then", "points=5"], "cannot change points"),
    ],
)
def test_cli_branch_errors_are_one_line(argv, words, capsys):
    try:
        code = main(["fit", "--preset", "line", "--epochs", "12", *argv])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


# ---------------------------------------------------------------------------- compare

SETTINGS_OF = dict(preset="line", loss="mse", lr=0.05, epochs=25, validation=0.2)

# A few model structures, each compiled once: the polynomial of degree 8 is the overfit
# preset's, the MLP of width 8 (relu) serves both its width and its activation.
VARIED = [
    ("optimizer", ["sgd", "momentum", "adam"], {}),
    ("lr", ["0.1", 0.01, "1e-3"], dict(batch_size=4)),  # the same shuffles at each rate
    ("batch_size", ["all", 4, "3"], {}),
    ("loss", ["l1", "huber"], {}),
    ("huber_delta", [0.5, 2], dict(loss="huber")),
    ("momentum", [0.5, 0.95], dict(optimizer="momentum")),
    ("epochs", [3, 10], {}),
    ("model", ["line", "quadratic"], {}),
    ("degree", [2, 8], dict(model="polynomial")),
    ("relus", [1, 3], dict(model="relu-sum")),
    ("width", [5, 8], dict(model="mlp")),
    ("activation", ["relu", "tanh"], dict(model="mlp")),
]


@pytest.mark.parametrize(("vary", "values", "extra"), VARIED, ids=[v[0] for v in VARIED])
def test_every_compared_run_is_fit_with_that_one_setting(vary, values, extra):
    base = {**{k: v for k, v in SETTINGS_OF.items() if k != vary}, **extra}
    cmp = compare(vary=vary, values=values, **base)
    assert cmp.vary == vary
    parsed = [None if v == "all" else type_of(vary)(v) for v in values]
    assert cmp.values == parsed
    starts = {}
    for value, h in cmp.runs.items():
        alone = fit(**base, **{vary: value})
        np.testing.assert_array_equal(h.params, alone.params)
        np.testing.assert_array_equal(h.loss, alone.loss)
        np.testing.assert_array_equal(h.val_loss, alone.val_loss)
        assert h.config == alone.config
        starts.setdefault(tuple(h.param_names), set()).add(tuple(h.params[0]))
        # The same points and held-out points in every run.
        np.testing.assert_array_equal(h.x, cmp.runs[parsed[0]].x)
        np.testing.assert_array_equal(h.val_mask, reference_held_out(30, 0.2, 42))
    # One start per model: the same wherever the parameters are the same.
    assert all(len(s) == 1 for s in starts.values())


def type_of(name: str):
    from explorer.registry import SETTINGS

    s = SETTINGS[name]
    return (lambda v: v) if s.choices else (lambda v: s.kind(float(v)))


def test_models_of_other_sizes_start_from_the_same_seed():
    cmp = compare(vary="degree", values=[2, 5], preset="line", model="polynomial", epochs=2)
    for degree, h in cmp.runs.items():
        model = build_model("polynomial", degree=degree)
        np.testing.assert_array_equal(h.params[0], model.init(42))


def test_the_metrics_of_a_comparison_are_common_and_in_numpy():
    # huber_delta varies: every row's huber metric is measured with the first run's delta.
    cmp = compare(
        vary="huber_delta", values=[0.3, 3.0], preset="line", loss="huber", epochs=15,
        validation=0.25,
    )  # fmt: skip
    x, y = line_points()
    held = reference_held_out(30, 0.25, 42)
    for row, (delta, h) in zip(cmp.table(), cmp.runs.items(), strict=True):
        assert row["huber_delta"] == delta and row["loss"] == "huber"
        p = h.params[-1]
        for metric in ("l1", "l2", "mse", "huber"):
            on_train = np_loss(metric, features("line", x[~held]) @ p - y[~held], 0.3)
            on_held = np_loss(metric, features("line", x[held]) @ p - y[held], 0.3)
            assert row[f"final_{metric}"] == pytest.approx(on_train, rel=1e-12)
            assert row[f"val_{metric}"] == pytest.approx(on_held, rel=1e-12)
        assert (row["m"], row["b"]) == (p[0], p[1])


def test_best_is_the_lowest_final_value_of_one_metric():
    cmp = compare(vary="lr", values="0.001,0.1,0.03", preset="line", loss="mse", epochs=40,
                  validation=0.25)  # fmt: skip
    rows = cmp.table()
    assert cmp.default_metric() == "mse"
    for by, column in (("mse", "final_mse"), ("l1", "final_l1"), ("val_l2", "val_l2")):
        expected = cmp.values[int(np.argmin([r[column] for r in rows]))]
        assert cmp.best(by) == expected
    assert cmp.best() == cmp.best("mse") == 0.1
    with pytest.raises(ValueError, match="unknown metric 'l3'"):
        cmp.best("l3")
    # With vary=loss every run is measured on each metric; by default the first loss's.
    losses = compare(losses="mse,l1", preset="line", outliers=3, epochs=200, lr=0.05)
    rows = losses.table()
    assert losses.default_metric() == "mse"
    assert losses.best() == ["mse", "l1"][int(np.argmin([r["final_mse"] for r in rows]))]
    assert losses.best("l1") == ["mse", "l1"][int(np.argmin([r["final_l1"] for r in rows]))]
    with pytest.raises(ValueError, match="val_mse needs held-out points"):
        losses.best("val_mse")


class _Rows(Comparison):
    """A comparison whose table is given: the ranking rule alone."""

    def table(self):
        return self.spec


def test_best_skips_diverged_and_not_finite_runs_and_keeps_the_first_of_a_tie():
    def row(value, diverged=None):
        return {"final_mse": value, "diverged_at": diverged}

    runs = {v: None for v in ("a", "b", "c", "d")}
    rows = [row(5.0), row(0.1, diverged=7), row(None), row(5.0)]
    assert _Rows(rows, runs, vary="loss").best("mse") == "a"
    assert _Rows([row(3.0), row(1.0), row(1.0), row(2.0)], runs).best("mse") == "b"
    assert _Rows([row(None), row(1.0, 3), row(None), row(2.0, 1)], runs).best("mse") is None


def test_compare_losses_works_as_before():
    cmp = compare(losses="l1,l2", outliers=3, epochs=50)
    assert cmp.vary == "loss" and cmp.values == ["l1", "l2"]
    for name, h in cmp.runs.items():
        np.testing.assert_array_equal(h.params, fit(loss=name, outliers=3, epochs=50).params)
    assert [r["loss"] for r in cmp.table()] == ["l1", "l2"]
    assert list(cmp.table()[0])[:3] == ["loss", "epochs_run", "diverged_at"]
    assert compare(epochs=2).values == ["l1", "l2"]  # the default
    via = compare(vary="loss", values="l1,l2", outliers=3, epochs=50)
    assert via.table() == cmp.table()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(vary="lr", values=[0.1]), "2 to 4 different values of lr, got 1"),
        (dict(vary="lr", values="0.1,0.1"), "2 to 4 different values of lr, got 1"),
        (dict(vary="lr", values=[1, 2, 3, 4, 5]), "2 to 4 different values of lr, got 5"),
        (dict(vary="lr"), "give the values of lr"),
        (dict(vary="lr", values="0.1,fast"), "lr must be a number in [0, 1000], not 'fast'"),
        (dict(vary="optimizer", values="sgd,rmsprop"), "unknown optimizer 'rmsprop'"),
        (dict(vary="seed", values=[1, 2]), "keeps the data and its held-out points equal"),
        (dict(vary="points", values=[10, 20]), "so points cannot vary"),
        (dict(vary="validation", values=[0.1, 0.2]), "validation cannot vary"),
        (dict(vary="speed", values=[1, 2]), "unknown setting 'speed' to vary"),
        (dict(vary="lr", values=[0.1, 0.2], lr=0.1), "lr is what varies"),
        (dict(vary="degree", values=[2, 3]), "only the polynomial model reads it"),
        (dict(vary="momentum", values=[0.5, 0.9]), "only the momentum optimizer reads it"),
        (dict(vary="batch_size", values="30,all"), "batch_size = 30 and all make the same run"),
        (dict(losses="l1", vary="lr", values=[0.1, 0.2]), "not both"),
        (dict(values=[0.1, 0.2]), "values=... needs vary=NAME"),
        (dict(loss="l1"), "takes no loss="),
    ],
)
def test_compare_refuses_with_a_clear_message(kwargs, words):
    with pytest.raises(ValueError) as err:
        compare(preset="line", epochs=1, **kwargs)
    assert words in str(err.value)


def test_the_settings_that_can_vary_are_all_but_the_datas():
    from explorer.registry import SETTINGS

    assert set(VARIES) == set(SETTINGS) - {"points", "noise", "outliers", "seed", "validation"}


def test_cli_compare_vary_json_is_the_apis(capsys):
    argv = ["compare", "--preset", "line", "--vary", "optimizer", "--values", "sgd,adam"]
    assert main([*argv, "--epochs", "20", "--validation", "0.2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    cmp = compare(vary="optimizer", values=["sgd", "adam"], preset="line", epochs=20,
                  validation=0.2)  # fmt: skip
    assert got["vary"] == "optimizer" and got["values"] == ["sgd", "adam"]
    assert got["table"] == json.loads(json.dumps(cmp.table()))
    assert got["best_by"] == "l2" and got["best"] == cmp.best()
    assert "losses" not in got
    assert main(["compare", "--losses", "l1,l2", "--epochs", "3", "--json"]) == 0
    legacy = json.loads(capsys.readouterr().out)
    assert legacy["losses"] == legacy["values"] == ["l1", "l2"] and legacy["vary"] == "loss"


def test_cli_compare_columns_come_from_every_row(capsys):
    # The degree-2 run comes first and has only c0, c1, c2: the columns of the degree-8 run
    # must still be there (its first six, as for any run), and the degree-2 row shows "-"
    # where it has no such parameter.
    argv = ["compare", "--preset", "line", "--model", "polynomial", "--vary", "degree"]
    assert main([*argv, "--values", "2,8", "--epochs", "5", "--best-by", "l1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = lines[0].split()
    params = ["c0", "c1", "c2", "c3", "c4", "c5"]
    assert head == ["degree", "epochs", "l1", "l2", "mse", "huber", *params]
    two, eight = lines[1].split(), lines[2].split()
    assert two[0] == "2" and two[-3:] == ["-", "-", "-"] and eight[0] == "8"
    cmp = compare(vary="degree", values=[2, 8], preset="line", model="polynomial", epochs=5)
    np.testing.assert_allclose([float(v) for v in two[-6:-3]], cmp.runs[2].params[-1], rtol=1e-4)
    np.testing.assert_allclose(
        [float(v) for v in eight[-6:]], cmp.runs[8].params[-1, :6], rtol=1e-4
    )
    best = {2: "2", 8: "8"}[cmp.best("l1")]
    assert (
        lines[3]
        == f"best: degree {best} (lowest final l1 on the training points; --best-by chooses)"
    )


def test_cli_compare_batch_sizes_and_held_out_columns(capsys):
    # The held-out metrics have columns of their own: all three parameters still show.
    argv = ["compare", "--preset", "line", "--model", "quadratic", "--vary", "batch_size"]
    argv += ["--values", "all,4", "--epochs", "5", "--validation", "0.2"]
    assert main([*argv, "--best-by", "val_mse"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["batch_size", "epochs", "l1", "l2", "mse", "huber",
                                "val_l1", "val_l2", "val_mse", "val_huber", "a", "b", "c"]  # fmt: skip
    cmp = compare(
        vary="batch_size", values=[None, 4], preset="line", model="quadratic", epochs=5,
        validation=0.2,
    )  # fmt: skip
    for line, row in zip(lines[1:3], cmp.table(), strict=True):
        cells = line.split()
        assert cells[0] == {None: "all", 4: "4"}[row["batch_size"]]
        expected = [row[f"val_{m}"] for m in ("l1", "l2", "mse", "huber")]
        np.testing.assert_allclose([float(v) for v in cells[6:10]], expected, rtol=1e-4)
    shown = {None: "all", 4: "4"}[cmp.best("val_mse")]
    assert lines[3] == (
        f"best: batch_size {shown} (lowest final mse on the held-out points; --best-by chooses)"
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--values", "1,2"], "--values needs --vary NAME"),
        (["--vary", "lr"], "--vary lr needs --values"),
        (
            ["--vary", "lr", "--values", "0.1,0.2", "--lr", "0.1"],
            "give its values in --values, not --lr",
        ),
        (["--vary", "lr", "--values", "0.1,0.2", "--losses", "l1,l2"], "not both"),
        (["--vary", "lr", "--values", "0.1"], "2 to 4 different values of lr, got 1"),
        (["--vary", "seed", "--values", "1,2"], "invalid choice: 'seed'"),
        (["--vary", "lr", "--values", "1,2", "--best-by", "l3"], "invalid choice: 'l3'"),
    ],
)
def test_cli_compare_errors_are_one_line(argv, words, capsys):
    try:
        code = main(["compare", "--preset", "line", "--epochs", "2", *argv])
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


def test_train_refuses_a_mask_that_holds_out_everything():
    spec = resolve(preset="line")
    with pytest.raises(ValueError, match="holds out every point"):
        train(spec.data, spec.model, np.zeros(2), val_mask=np.ones(30, bool))
    with pytest.raises(ValueError, match="val_mask has 3 entries for 30 points"):
        train(spec.data, spec.model, np.zeros(2), val_mask=np.ones(3, bool))


def test_joined_is_the_run_up_to_the_fork_then_the_branch():
    from explorer.api import branch, joined

    h = fit(preset="line", loss="mse", lr=0.05, epochs=40, validation=0.25)
    b = branch(h, 15, lr=0.001)
    j = joined(h, b)
    np.testing.assert_array_equal(j.params[:15], h.params[:15])
    np.testing.assert_array_equal(j.params[15:], b.params)
    np.testing.assert_array_equal(j.loss[:15], h.loss[:15])
    np.testing.assert_array_equal(j.loss[15:], b.loss)
    np.testing.assert_array_equal(j.val_loss[15:], b.val_loss)
    assert j.last_epoch == 15 + b.last_epoch == h.last_epoch
    assert j.config["lr"] == 0.001
    with pytest.raises(ValueError, match="not a branch"):
        joined(h, h)
