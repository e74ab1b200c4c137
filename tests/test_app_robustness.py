"""The app under bad settings: junk links, the largest learning rate, hostile names,
and no mutable state shared between sessions."""

from __future__ import annotations

import importlib
import json
import pkgutil
import types
from pathlib import Path

import numpy as np
import pytest
from player_data import has_player, player
from streamlit.testing.v1 import AppTest

import webapp
from explorer import PRESETS
from explorer.figures import unpack

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def app_with(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return run(at)


def link_note(at: AppTest) -> str:
    notes = [w.value for w in at.warning if "this link" in w.value]
    assert len(notes) == 1, [w.value for w in at.warning]
    return notes[0]


JUNK = [
    ("points", "100000", 20),
    ("points", "-3", 20),
    ("points", "nan", 20),
    ("noise", "1e309", 1.5),
    ("noise", "-1", 1.5),
    ("seed", "-5", 42),
    ("seed", "99999999999999", 42),
    ("outliers", "50", 0),
    ("lr", "abc", 0.01),
    ("lr", "0", 0.01),
    ("lr", "1e9", 0.01),
    ("epochs", "99", 10),
    ("epochs", "1000000", 10),
    ("loss", "L3", "l1"),
    ("model", "<script>", "quadratic"),
    ("view", "Bogus", "Train"),
    ("opt", "", "sgd"),
]


def widget_value(at: AppTest, key: str):
    for kind in ("slider", "number_input", "select_slider", "selectbox", "radio", "button_group"):
        try:
            return getattr(at, kind)(key=key).value
        except KeyError:
            continue
    raise KeyError(key)


@pytest.mark.parametrize("key, value, default", JUNK, ids=[f"{k}={v}" for k, v, _ in JUNK])
def test_junk_link_values_are_ignored_with_a_note(key, value, default):
    at = app_with(**{key: value})
    assert widget_value(at, key) == default
    note = link_note(at)
    assert f"`{key}=" in note and "expected" in note


def test_fractional_whole_numbers_are_cut_and_said():
    at = app_with(points="30.7")
    assert widget_value(at, "points") == 30
    assert "`points=30.7`: taken as 30" in link_note(at)


def test_unknown_and_several_bad_parameters_are_all_listed():
    at = app_with(foo="1", points="0", lr="fast", hand_a="1e12")
    note = link_note(at)
    for part in ("`foo` is not a setting", "`points=0`", "`lr=fast`", "`hand_a=1e12`"):
        assert part in note
    at.button(key="dismiss_link_notes").click()
    run(at)
    assert not [w for w in at.warning if "this link" in w.value]


def test_good_link_has_no_note_and_missing_values_take_defaults():
    at = app_with(preset="line", loss="MSE")
    assert not at.warning
    assert widget_value(at, "lr") == 0.1  # the line preset's own
    assert widget_value(at, "loss") == "mse"


def test_link_to_an_epoch_beyond_the_run_says_so():
    at = app_with(epoch="50")
    assert any("asked for epoch 50" in w.value for w in at.warning)
    assert player(at)["epoch"] == 0


def test_link_to_an_epoch_opens_the_player_there():
    at = app_with(epoch="7", log="1")
    data = player(at)
    assert data["epoch"] == 7 and data["log"] is True
    assert not any("asked for epoch" in w.value for w in at.warning)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_largest_learning_rate_on_every_preset_in_the_app(preset):
    at = app_with(preset=preset, lr="10", epochs="10000")
    if has_player(at):
        data = player(at)
        for spec in (data["fit"], data["loss_fig"]):
            for trace in spec["data"]:
                if isinstance(trace.get("y"), dict):
                    assert np.isfinite(unpack(trace["y"])).all()
        for r in data["runs"]:
            for name in ("loss", "params", "grads", "frame_preds"):
                assert np.isfinite(r[name]).all()
    errors = " ".join(e.value for e in at.error)
    table = " ".join(m.value for m in at.markdown)
    assert "nan" not in table.lower() and "inf" not in table.lower().replace("info", "")
    if errors:
        assert "lower the learning rate" in errors


def test_hostile_column_and_file_names_are_only_text():
    at = app_with(preset="CSV upload")
    hostile = b"<img src=x onerror=alert(1)>,[link](http://evil.example)\n0,1\n1,2\n2,4\n"
    at.file_uploader(key="upload").set_value(("<b>x</b>%{y}.csv", hostile, "text/csv"))
    run(at)
    spec = player(at)["fit"]
    text = json.dumps(spec["layout"]) + json.dumps(spec["data"][0])
    # Plotly reads tags, entities and hover-template fields: the names are escaped for it,
    # whole (the core keeps names as written; only what renders them escapes).
    for bad in ("<img", "<b>", "%{y}"):
        assert bad not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    shown = " ".join(s.value for s in at.sidebar.success)
    # Markdown shows backslash-escaped characters as written: no tag, no link.
    assert "\\<b\\>x\\</b\\>" in shown and "\\[link\\]" in shown


def test_bad_upload_message_cannot_inject_markdown():
    at = app_with(preset="CSV upload")
    at.file_uploader(key="upload").set_value(
        ("a.csv", b"x,y\n1,2\n2,[click](http://evil.example)\n", "text/csv")
    )
    run(at)
    message = " ".join(e.value for e in at.sidebar.error)
    assert "line 3" in message
    assert "[click](http" not in message and "\\[click\\]" in message


def test_ui_modules_hold_no_mutable_module_state():
    mutable = (list, dict, set, bytearray)
    for info in pkgutil.iter_modules(webapp.__path__):
        module = importlib.import_module(f"webapp.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("__") or isinstance(value, (types.ModuleType, type)):
                continue
            assert not isinstance(value, mutable), (
                f"webapp.{info.name}.{name} is a mutable {type(value).__name__}"
            )


def test_cached_history_cannot_be_modified():
    from explorer import fit

    h = fit(epochs=5)
    for arr in (h.params, h.loss, h.grads, h.frame_preds, h.frame_epochs, h.grid, h.x, h.y):
        with pytest.raises(ValueError):
            arr[0] = 0


def test_hand_values_from_a_link_start_the_run_only_when_usable():
    at = app_with(start="fit by hand", hand_a="2.5", hand_b="1e12")
    a, b, _ = player(at)["runs"][0]["params"][0]
    assert a == 2.5
    assert abs(b) < 1e6  # the unusable value was not used
    assert "`hand_b=1e12`" in link_note(at)
