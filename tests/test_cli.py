"""The command line: JSON that round-trips the API's results, readable tables, and clean
errors (exit code, "error:", never a traceback)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from reference import features, lesson_points, line_points, np_gradient, np_loss, np_sgd

from explorer import PRESETS, compare, fit
from explorer.cli import main

REPO = Path(__file__).resolve().parents[1]


def run_cli(argv, capsys):
    """Run ``main(argv)``; returns (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse rejects bad flags this way
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def json_round(value):
    return json.loads(json.dumps(value))


def check_history_json(got: dict, h) -> None:
    """``got`` (parsed --json) holds exactly the History ``h``."""
    assert set(got) == {"config", "x", "y", "param_names", "param_groups", "history", "diverged_at"}
    assert got["config"] == json_round(h.config)
    assert got["x"] == h.x.tolist()
    assert got["y"] == h.y.tolist()
    assert got["param_names"] == h.param_names
    assert got["param_groups"] == h.model.groups
    assert got["diverged_at"] == h.diverged_at
    assert len(got["history"]) == len(h.loss)
    for k, row in enumerate(got["history"]):
        assert set(row) == {"epoch", "loss", "params", "grads"}
        assert row["epoch"] == k
        assert row["loss"] == float(h.loss[k])
        for key, flat in (("params", h.params[k]), ("grads", h.grads[k])):
            assert list(row[key]) == h.model.groups
            for name, value in h.model.unflatten(flat).items():
                np.testing.assert_array_equal(np.array(row[key][name]), value)
                assert np.shape(row[key][name]) == value.shape


def test_fit_json_round_trips_the_history(capsys):
    code, out, err = run_cli(["fit", "--epochs", "5", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    h = fit(epochs=5)
    check_history_json(got, h)
    assert len(got["history"]) == 6
    assert got["config"]["preset"] == "fastai-quadratic"
    # The preset's suggested start, exactly.
    assert got["history"][0]["params"] == dict.fromkeys("abc", 1.1)


def test_fit_json_with_vector_params_uses_nested_lists(capsys):
    argv = ["fit", "--preset", "abs", "--model", "relu-sum", "--relus", "2", "--epochs", "3"]
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    check_history_json(got, fit(preset="abs", model="relu-sum", relus=2, epochs=3))
    assert got["param_names"] == ["m[0]", "m[1]", "b[0]", "b[1]", "c"]
    assert got["param_groups"] == ["m", "b", "c"]
    first = got["history"][0]["params"]
    assert isinstance(first["m"], list) and len(first["m"]) == 2
    assert isinstance(first["b"], list) and len(first["b"]) == 2
    assert isinstance(first["c"], float)
    assert got["config"]["relus"] == 2


def test_fit_flags_reach_the_run(capsys):
    argv = ["fit", "--init", "a=1.1", "b=1.1", "c=1.1", "--loss", "l1", "--lr", "0.01"]
    code, out, err = run_cli([*argv, "--epochs", "10", "--optimizer", "sgd", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    h = fit(init={"a": 1.1, "b": 1.1, "c": 1.1}, loss="l1", lr=0.01, epochs=10, optimizer="sgd")
    check_history_json(got, h)
    assert round(got["history"][0]["loss"], 4) == 2.4219
    assert got["config"]["init"] == {"a": 1.1, "b": 1.1, "c": 1.1}
    assert got["config"]["loss"] == "l1"


def test_fit_reads_a_csv_file(tmp_path, capsys):
    path = tmp_path / "pts.csv"
    path.write_text("t,speed\n0,1\n1,2.5\n2,6\n3,11\n")
    code, out, err = run_cli(["fit", "--data", str(path), "--epochs", "4", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    assert got["x"] == [0.0, 1.0, 2.0, 3.0]
    assert got["y"] == [1.0, 2.5, 6.0, 11.0]
    assert got["config"]["data"] == "pts.csv"
    check_history_json(got, fit(data=path, epochs=4))


def test_diverged_run_json(capsys):
    code, out, err = run_cli(
        ["fit", "--loss", "mse", "--lr", "1000", "--epochs", "50", "--json"], capsys
    )
    assert code == 0, err
    got = json.loads(out)
    assert isinstance(got["diverged_at"], int)
    assert len(got["history"]) == got["diverged_at"]


def table_rows(out: str) -> tuple[list[str], list[list[str]]]:
    lines = out.strip().splitlines()
    head = lines[0].split()
    rows = [line.split() for line in lines[1:] if line.split()[0].lstrip("-").isdigit()]
    return head, rows


def test_fit_table_has_a_row_per_epoch_for_short_runs(capsys):
    code, out, err = run_cli(["fit", "--epochs", "10"], capsys)
    assert code == 0, err
    head, rows = table_rows(out)
    assert head == ["epoch", "loss", "a", "b", "c", "d/da", "d/db", "d/dc"]
    assert [int(r[0]) for r in rows] == list(range(11))
    assert all(len(r) == len(head) for r in rows)
    # The lesson's L1 run from 1.1, lr 0.01, in NumPy; its first loss is the notebook's 2.4219.
    x, y = lesson_points()
    path = np_sgd("l1", "quadratic", [1.1, 1.1, 1.1], x, y, lr=0.01, epochs=10)
    loss = [np_loss("l1", features("quadratic", x) @ p - y) for p in path]
    assert rows[0][1] == "2.4219"
    np.testing.assert_allclose([float(r[1]) for r in rows], loss, rtol=5e-5)
    assert "shown" not in out


def test_fit_table_prints_the_loss_parameters_and_gradients_of_each_epoch(capsys):
    # The line preset, MSE, from m = 0.5, b = -1: every number of the table against
    # gradient descent in NumPy (d/dm = 2·mean(e·x), d/db = 2·mean(e), e = m·x + b - y).
    argv = ["fit", "--preset", "line", "--model", "line", "--loss", "mse", "--lr", "0.1"]
    code, out, err = run_cli([*argv, "--epochs", "8", "--init", "m=0.5", "b=-1"], capsys)
    assert code == 0, err
    head, rows = table_rows(out)
    assert head == ["epoch", "loss", "m", "b", "d/dm", "d/db"]
    x, y = line_points()
    path = np_sgd("mse", "line", [0.5, -1.0], x, y, lr=0.1, epochs=8)
    assert [int(r[0]) for r in rows] == list(range(9))
    for k, row in enumerate(rows):
        p = path[k]
        expected = [
            np_loss("mse", features("line", x) @ p - y),
            *p,
            *np_gradient("mse", "line", p, x, y),
        ]
        # Printed with 5 significant digits: within 5e-5 of each value, relatively.
        shown = [float(c) for c in row[1:]]
        np.testing.assert_allclose(shown, expected, rtol=5e-5, err_msg=f"epoch {k}: {row}")
    # Parameters and gradients differ by far more than the tolerance, so a swap would show.
    grads = np.array([np_gradient("mse", "line", p, x, y) for p in path])
    assert np.all(np.abs(path - grads) > 0.1)


def test_fit_table_is_thinned_for_long_runs(capsys):
    code, out, err = run_cli(["fit", "--epochs", "1000"], capsys)
    assert code == 0, err
    head, rows = table_rows(out)
    epochs = [int(r[0]) for r in rows]
    assert 10 <= len(epochs) <= 40
    assert epochs[0] == 0 and epochs[-1] == 1000
    assert epochs == sorted(set(epochs))
    assert "of 1001 epochs shown" in out


def test_fit_table_says_when_the_run_diverged(capsys):
    code, out, err = run_cli(["fit", "--loss", "mse", "--lr", "1000", "--epochs", "50"], capsys)
    assert code == 0, err
    assert "diverged at epoch" in out


def test_compare_table_has_a_row_per_loss(capsys):
    code, out, err = run_cli(["compare", "--losses", "l1,l2", "--epochs", "5"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["trained", "on"]
    assert [line.split()[0] for line in lines[1:-1]] == ["l1", "l2"]
    # The last line names the best run by the first loss (explorer.Comparison.best).
    assert lines[-1].startswith("best: ") and "lowest final l1 on the training points" in lines[-1]
    code, out, err = run_cli(["compare", "--losses", "l1,l2,mse,huber", "--epochs", "5"], capsys)
    assert code == 0, err
    assert [line.split()[0] for line in out.strip().splitlines()[1:-1]] == [
        "l1",
        "l2",
        "mse",
        "huber",
    ]


def test_compare_json(capsys):
    code, out, err = run_cli(["compare", "--losses", "l1,l2", "--epochs", "5", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    assert got["losses"] == ["l1", "l2"]
    assert got["table"] == json_round(compare(losses="l1,l2", epochs=5).table())
    # Independently: the lesson's start (1.1), lr 0.01, 5 steps of each loss in NumPy.
    x, y = lesson_points()
    for row, loss in zip(got["table"], ["l1", "l2"], strict=True):
        assert row["loss"] == loss and row["epochs_run"] == 5 and row["diverged_at"] is None
        final = np_sgd(loss, "quadratic", [1.1, 1.1, 1.1], x, y, lr=0.01, epochs=5)[-1]
        np.testing.assert_allclose([row["a"], row["b"], row["c"]], final, rtol=1e-9)
        e = features("quadratic", x) @ final - y
        for metric in ("l1", "l2", "mse", "huber"):
            assert row[f"final_{metric}"] == pytest.approx(np_loss(metric, e), rel=1e-9)


def test_compare_json_is_strict_json_when_a_metric_overflows(capsys):
    # Trained on L1 the run stays finite (no divergence), but its final MSE (about 1e320)
    # and L2 overflow float64. The table prints "-" for them; --json must still print valid
    # JSON (null) and succeed.
    argv = ["compare", "--losses", "l1", "--init", "a=1e160", "--epochs", "3"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    head, rows = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert dict(zip(head[2:], rows[1:], strict=True))["mse"] == "-"
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code == 0, err
    got = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert got["table"][0]["epochs_run"] == 3
    assert got["table"][0]["diverged_at"] is None
    assert got["table"][0]["final_mse"] is None and got["table"][0]["final_l2"] is None


def test_compare_table_when_the_first_run_is_not_finite_even_at_the_start(capsys):
    # a = 1e160: MSE's loss (about 1e320) is infinite at epoch 0, so the MSE run has no
    # epoch at all; the L1 run is finite and its parameters must still have their columns.
    argv = ["compare", "--losses", "mse,l1", "--init", "a=1e160", "--epochs", "3"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    lines = out.splitlines()
    head = lines[0].split()
    assert head == ["trained", "on", "epochs", "l1", "l2", "mse", "huber", "a", "b", "c"]
    assert lines[1].split() == ["mse"] + ["-"] * 8
    assert lines[2] == "  (mse: the loss is not a finite number even at the start; no values)"
    l1 = lines[3].split()
    assert l1[:2] == ["l1", "3"]
    h = fit(loss="l1", init={"a": 1e160}, epochs=3)
    np.testing.assert_allclose([float(v) for v in l1[-3:]], h.params[-1], rtol=1e-4)
    # mse, the first loss, is not finite for either run: l1's is about 1e320.
    assert (
        lines[4]
        == "best: none (lowest final mse on the training points: every run diverged or is not finite)"
    )
    assert len(lines) == 5
    assert "last finite epoch" not in out


def test_presets_lists_every_preset(capsys):
    code, out, err = run_cli(["presets"], capsys)
    assert code == 0, err
    assert [line.split()[0] for line in out.strip().splitlines()] == list(PRESETS)


def test_python_dash_m_explorer(tmp_path):
    # python -m explorer keeps a persistent compile cache: keep it out of the home directory.
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIENT_EXPLORER_CACHE": str(tmp_path / "jax")}
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "fit", "--epochs", "3", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    h = fit(epochs=3)
    assert len(got["history"]) == 4
    np.testing.assert_allclose([r["loss"] for r in got["history"]], h.loss, rtol=1e-6)


def files_under(folder: Path) -> set[str]:
    """Every file below ``folder`` (none if there is no such folder)."""
    return {str(f) for f in folder.rglob("*") if f.is_file()}


def test_the_suite_keeps_the_compile_cache_in_a_temporary_folder():
    # tests/conftest.py points GRADIENT_EXPLORER_CACHE at a folder of this session's own.
    cache = Path(os.environ.get("GRADIENT_EXPLORER_CACHE", "unset"))
    assert cache.is_dir()
    assert cache.is_relative_to(tempfile.gettempdir())
    assert not cache.is_relative_to(Path.home())
    # What an entry point's enable_compile_cache() gives JAX in a child process.
    script = (
        "import jax; from explorer.train import enable_compile_cache; "
        "enable_compile_cache(); print(jax.config.jax_compilation_cache_dir)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == str(cache)


def test_a_cli_process_writes_its_compile_cache_there_not_in_home(tmp_path):
    cache = Path(os.environ.get("GRADIENT_EXPLORER_CACHE") or tmp_path / "unset")
    # The process gets a home of its own: were the setting not inherited, its cache would
    # land in that home's .cache. (Watching the real ~/.cache instead would fail whenever
    # an app started outside the tests writes its own cache there meanwhile.)
    home = tmp_path / "home"
    home.mkdir()
    before = files_under(cache)
    # An MLP width no other test uses, so this process compiles (and stores) new engines.
    argv = ["fit", "--preset", "sine", "--model", "mlp", "--width", "37", "--epochs", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "explorer", *argv],
        cwd=REPO,
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(home.rglob("*")) == []
    assert files_under(cache) > before, "no new compile cache files in the suite's folder"


def bad_csv(tmp_path) -> str:
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,abc\n")
    return str(path)


BAD_ARGS = {
    "unknown preset": (["fit", "--preset", "nope"], "invalid choice"),
    "unknown loss": (["fit", "--loss", "l7"], "invalid choice"),
    "preset and data": (["fit", "--preset", "line", "--data", "x.csv"], "not allowed with"),
    "init without value": (["fit", "--init", "a"], "NAME=VALUE"),
    "init not finite": (["fit", "--init", "a=nan"], "finite"),
    "negative lr": (["fit", "--lr", "-1"], "lr must be a number in [0, 1000]"),
    "nan lr": (["fit", "--lr", "nan"], "lr must be"),
    "too many epochs": (["fit", "--epochs", "20000"], "epochs"),
    "missing data file": (["fit", "--data", "{tmp}/missing.csv"], "cannot read"),
    "malformed csv": (["fit", "--data", "{bad}"], "line 3"),
    "unknown init name": (["fit", "--init", "z=1"], "no parameter 'z'"),
    "bad degree": (["fit", "--model", "polynomial", "--degree", "9"], "degree"),
    "bad batch size": (["fit", "--batch-size", "0"], "batch_size must be a whole number from 1"),
    "bad seed": (["fit", "--seed", "-1"], "seed"),
    "bad points": (["fit", "--points", "1"], "points"),
    "bad outliers": (["fit", "--outliers", "99"], "outliers"),
    "bad compare loss": (["compare", "--losses", "l1,l7"], "unknown loss"),
    "no command": ([], "required"),
}


@pytest.mark.parametrize(("argv", "words"), BAD_ARGS.values(), ids=BAD_ARGS.keys())
def test_bad_input_exits_non_zero_with_an_error_line(argv, words, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, bad=bad_csv(tmp_path)) for a in argv]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert words in err
    assert out == ""


# argparse's own errors, each with words of argparse's message for it.
ARGPARSE_ERRORS = {
    "bad choice": (["fit", "--model", "cubic"], "argument --model: invalid choice: 'cubic'"),
    "bad choice in compare": (["compare", "--optimizer", "sgdx"], "invalid choice: 'sgdx'"),
    "missing value": (["fit", "--epochs"], "argument --epochs: expected one argument"),
    "missing init values": (["fit", "--init"], "expected at least one argument"),
    "unknown flag": (["fit", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    "unknown flag before command": (["--frobnicate", "fit"], "--frobnicate"),
    "bad int": (["fit", "--epochs", "x"], "argument --epochs: invalid int value: 'x'"),
    "bad float": (["fit", "--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    "unknown command": (["fitt"], "invalid choice: 'fitt'"),
    "no command": ([], "the following arguments are required: command"),
    "bad init pair": (["fit", "--init", "a"], "expected NAME=VALUE, got 'a'"),
}


@pytest.mark.parametrize(("argv", "words"), ARGPARSE_ERRORS.values(), ids=ARGPARSE_ERRORS.keys())
def test_argparse_errors_are_one_line_and_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("error: "), err
    assert words in err
    assert "usage:" not in err
    assert out == ""


def test_argparse_error_in_a_real_process_is_one_line():
    # The issue's own command, through ``python -m explorer``: stderr is exactly one line.
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "fit", "--model", "cubic"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: argument --model: invalid choice: 'cubic' "
        "(choose from 'line', 'quadratic', 'polynomial', 'relu-sum', 'mlp', 'relu-curve', "
        "'mlp-curve', 'fourier-curve')\n"
    )


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["compare", "-h"]])
def test_help_still_prints_the_usage(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 0
    assert err == ""
    prog = " ".join(["python -m explorer", *argv[:-1]])
    assert out.startswith(f"usage: {prog} [-h]")
    assert "--help" in out


def test_a_several_line_message_is_still_one_error_line(monkeypatch, capsys):
    def fail(**settings):
        raise ValueError("first line\nsecond line")

    monkeypatch.setattr("explorer.cli.fit", fail)
    code, out, err = run_cli(["fit"], capsys)
    assert (code, out, err) == (2, "", "error: first line second line\n")
