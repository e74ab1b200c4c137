"""The settings registry: one declaration per setting, and everything made from it.

The last test is the README's worked example: it pastes the README's pinball loss into a
copy of the project and checks that the command line, the comparison, the app's widget and
the link rules all take it, with nothing else edited.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import LOSSES, MODELS, OPTIMIZERS, compare, fit
from explorer.api import resolve
from explorer.cli import build_parser
from explorer.registry import SETTINGS, markdown_tables

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_tables_are_the_registrys():
    start = README.index("<!-- registry tables: begin -->") + len("<!-- registry tables: begin -->")
    end = README.index("<!-- registry tables: end -->")
    assert README[start:end].strip() == markdown_tables()


def test_every_entry_declares_its_settings_and_they_are_in_the_table():
    own = [s for reg in (LOSSES, OPTIMIZERS, MODELS) for e in reg.values() for s in e.settings]
    assert own, "some entry has settings of its own"
    for s in own:
        assert SETTINGS[s.name] is s
    # Names are flags and keywords; links use their own keys: each unique.
    assert len({s.flag for s in SETTINGS.values()}) == len(SETTINGS)
    assert len({s.link for s in SETTINGS.values()}) == len(SETTINGS)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_has_a_flag_that_reaches_the_run(name):
    s = SETTINGS[name]
    actions = {
        a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["fit"]._actions
    }
    assert name in actions and actions[name].option_strings == [s.flag]
    if s.choices:
        assert list(actions[name].choices) == list(s.choices)


@pytest.mark.parametrize(
    "given, message",
    [
        (dict(lr=-0.1), "lr must be a number in [0, 1000], not -0.1"),
        (dict(lr=float("nan")), "lr must be"),
        (dict(epochs=2.5), "epochs must be a whole number from 0 to 10000, not 2.5"),
        (dict(momentum=1.0), "momentum must be a number in [0, 1), not 1.0"),
        (dict(huber_delta=0), "huber_delta must be a number in (0, 1000000], not 0"),
        (dict(points=5, outliers=8), "outliers must be a whole number from 0 to 5, not 8"),
        (dict(degree=9, model="polynomial"), "degree must be a whole number from 1 to 8"),
        (dict(activation="gelu"), "unknown activation 'gelu'"),
        (dict(loss="l3"), "unknown loss 'l3'"),
        (dict(batch_size=0), "batch_size must be a whole number from 1 to 10000, not 0"),
        (dict(learning_rate=0.1), "unknown setting 'learning_rate'"),
    ],
)
def test_fit_refuses_values_outside_the_declared_bounds(given, message):
    with pytest.raises(ValueError) as err:
        fit(epochs=given.pop("epochs", 1), **given)
    assert message in str(err.value)


def test_unused_settings_do_not_make_another_run():
    # SGD reads no momentum, L1 no delta; a batch of all the points is full batch.
    a = resolve(preset="line", loss="l1", optimizer="sgd", batch_size=None)
    b = resolve(
        preset="line", loss="l1", optimizer="sgd", momentum=0.5, huber_delta=3, batch_size=64
    )
    assert a.used == b.used
    assert b.used["batch_size"] is None and "momentum" not in b.used
    assert fit(preset="line", epochs=2, batch_size=64).config["batch_size"] is None
    c = resolve(preset="line", optimizer="adam", beta1=0.5)
    assert c.used["beta1"] == 0.5 and c.used["beta2"] == 0.999


def test_a_presets_size_and_start_apply_to_its_own_model_only():
    spec = resolve(preset="fastai-quadratic")
    assert dict(spec.init) == {"a": 1.1, "b": 1.1, "c": 1.1}
    assert resolve(preset="fastai-quadratic", model="line").init == ()
    assert resolve(preset="abs").model.size == (("relus", 2),)
    assert resolve(preset="abs", model="relu-sum", relus=3).model.size == (("relus", 3),)


def test_compare_refuses_a_single_loss_argument():
    with pytest.raises(ValueError, match="takes no loss="):
        compare(loss="l1", epochs=1)


def test_the_link_outliers_rule_follows_the_points_in_the_link():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["points"] = "5"
    at.query_params["outliers"] = "8"
    at.run()
    assert not at.exception
    notes = [w.value for w in at.warning if "this link" in w.value]
    assert len(notes) == 1 and "`outliers=8`: expected a whole number from 0 to 5" in notes[0]
    assert at.slider(key="points").value == 5


def test_fit_by_hand_does_not_train(monkeypatch):
    import webapp.runs

    def no_training(spec):
        raise AssertionError("fit by hand trained a run")

    monkeypatch.setattr(webapp.runs, "run", no_training)
    webapp.runs.CACHE.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["view"] = "Fit by hand"
    at.query_params["epochs"] = "10000"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    # The lesson's start, read without training: a = b = c = 1.1.
    assert [at.slider(key=f"hand_{n}").value for n in "abc"] == pytest.approx([1.1] * 3)


# ------------------------------------------------------------------ the README's example


def _example_entry() -> str:
    block = README.split("<!-- example loss: begin -->")[1].split("<!-- example loss: end -->")[0]
    return re.search(r"```py\n(.*?)```", block, re.S).group(1)


@pytest.fixture(scope="module")
def project_with_pinball(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pinball")
    for part in ("explorer", "webapp", ".streamlit"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "streamlit_app.py", root)
    losses = root / "explorer" / "losses.py"
    text = losses.read_text(encoding="utf-8")
    marker = '        # Add a loss here (README, "Adding a loss").\n'
    assert marker in text
    losses.write_text(text.replace(marker, _example_entry() + marker), encoding="utf-8")
    return root


def _python(root: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_example_loss_is_one_entry_in_one_file(project_with_pinball):
    root = project_with_pinball
    out = _cli(
        root,
        "fit",
        "--preset",
        "line",
        "--loss",
        "pinball",
        "--tau",
        "0.9",
        "--epochs",
        "3",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["config"]["loss"] == "pinball" and got["config"]["tau"] == 0.9
    # The pinball loss of the start, from its definition in NumPy.
    x, y = np.array(got["x"]), np.array(got["y"])
    p = got["history"][0]["params"]
    r = y - (p["m"] * x + p["b"])
    expected = np.mean(np.maximum(0.9 * r, (0.9 - 1) * r))
    assert got["history"][0]["loss"] == pytest.approx(expected, rel=1e-12)

    bad = _cli(root, "fit", "--loss", "pinball", "--tau", "1")
    assert bad.returncode == 2 and "tau must be a number in (0, 1), not 1.0" in bad.stderr

    cmp = _cli(root, "compare", "--losses", "l1,pinball", "--epochs", "2")
    assert cmp.returncode == 0, cmp.stderr
    assert "pinball" in cmp.stdout.splitlines()[0]


def test_readme_example_loss_appears_in_the_app_and_its_links(project_with_pinball):
    out = _python(
        project_with_pinball,
        """
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file("streamlit_app.py", default_timeout=120)
        at.query_params["loss"] = "Pinball"
        at.query_params["tau"] = "0.9"
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.radio(key="loss").value == "pinball"
        assert at.slider(key="tau").label == "Quantile τ"
        assert at.slider(key="tau").value == 0.9
        assert not [w.value for w in at.warning if "this link" in w.value]
        bad = AppTest.from_file("streamlit_app.py", default_timeout=120)
        bad.query_params["loss"] = "Pinball"
        bad.query_params["tau"] = "2"
        bad.run()
        notes = [w.value for w in bad.warning if "this link" in w.value]
        assert "`tau=2`: expected a number from 0.05 to 0.95" in notes[0], notes
        print("ok")
        """,
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_preset_values_are_offered_only_where_the_preset_has_them():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert at.radio(key="start").value == "preset"  # the lesson's a = b = c = 1.1
    at.selectbox(key="preset").set_value("csv")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    # A CSV has no preset values: the start says what the run does.
    assert at.radio(key="start").value == "random"
    assert at.radio(key="start").options == ["random", "fit by hand"]
    at.selectbox(key="preset").set_value("fastai-quadratic")
    at.run()
    at.selectbox(key="model").set_value("line")
    at.run()
    assert at.radio(key="start").value == "random"  # the lesson's values are for a quadratic
