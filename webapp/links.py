"""Checking the settings a link carries, before the widgets read them.

Streamlit silently drops a URL value that its widget cannot take; the explorer says so,
once per session, so that a person opening a mangled link knows which settings were not
applied. Each setting's rule comes from the same declaration as its widget
(``controls.setting_widget``), so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import streamlit as st

from explorer import PRESETS
from explorer.api import VARIES
from explorer.csvdata import DataError, parse_points
from explorer.registry import DEFAULT_PRESET, SETTINGS, suggested
from explorer.settings import Setting

from .controls import (
    CSV_LABEL,
    DRAW_LABEL,
    POINTS_LINK,
    START_LABELS,
    compare_key,
    label,
    value_options,
    widget_range,
)

VIEWS = ("Train", "Compare", "Fit by hand")

# A rule takes the link's text and gives None when the widget takes it as it is, else a
# note for people.
Rule = Callable[[str], str | None]


def _number(low: float, high: float, whole: bool = False) -> Rule:
    expected = f"expected {'a whole number' if whole else 'a number'} from {low:g} to {high:g}"

    def check(text: str) -> str | None:
        try:
            v = float(text)
        except ValueError:
            return expected
        if not math.isfinite(v):
            return expected
        if whole:
            # Streamlit's integer widgets cut the fraction off (2.5 -> 2).
            if not low <= int(v) <= high:
                return expected
            return None if v == int(v) else f"taken as {int(v)}"
        return None if low <= v <= high else expected

    return check


def _one_of(options) -> Rule:
    options = [str(o) for o in options]
    shown = (
        ", ".join(options) if len(options) <= 8 else f"{', '.join(options[:6])}, … {options[-1]}"
    )
    return lambda text: None if text in options else f"expected one of {shown}"


def setting_rule(s: Setting, high: float | None = None) -> Rule:
    """The rule of ``s``'s widget; ``high`` is the cap from ``s.high_from``."""
    if s.choices:
        return _one_of([label(s, c) for c in s.choices])
    if s.options:
        return _one_of([label(s, o) for o in s.options])
    low, top, _ = widget_range(s, high)
    return _number(low, top, whole=s.whole)


# The app's own link keys, beside the settings'.
def _two_names(text: str) -> str | None:
    names = text.split(",")
    if len(names) != 2 or not all(n.strip() for n in names):
        return "expected two parameter names with a comma between, such as m,b"
    if names[0].strip() == names[1].strip():
        return "expected two different parameters"
    return None


def _points(text: str) -> str | None:
    try:
        parse_points(text)
    except DataError as err:
        return f"{err} (the drawing starts from the points shown before)"
    return None


UI_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "preset": _one_of([*PRESETS, DRAW_LABEL, CSV_LABEL]),
        POINTS_LINK: _points,  # drawn points (csvdata.points_text)
        "std": _one_of(["true", "false"]),  # your own data's x standardised
        "outline": _one_of(["true", "false"]),  # drawn points as an outline, in order
        "start": _one_of(START_LABELS.values()),
        "view": _one_of(VIEWS),
        "epoch": _number(0, SETTINGS["epochs"].high, whole=True),
        # The values the compare view compares, one key per setting it can vary.
        **{
            compare_key(name): _one_of(
                [label(SETTINGS[name], v) for v in value_options(SETTINGS[name])]
            )
            for name in VARIES
            if name not in ("model", "epochs")
        },
        "vary": _one_of([SETTINGS[name].label for name in VARIES]),
        # A branch of the run (views.branch_ui): on, from which epoch, with what.
        "branch": _one_of(["true", "false"]),
        "branch_at": _number(0, SETTINGS["epochs"].high, whole=True),
        **{
            f"then_{SETTINGS[name].link}": _one_of(
                [label(SETTINGS[name], v) for v in value_options(SETTINGS[name])]
            )
            for name in ("lr", "optimizer", "loss")
        },
        "log": _one_of(["0", "1"]),
        "sweep": _one_of(["true", "false"]),
        "along": _two_names,  # the landscape's parameters (the model decides which exist)
        "present": _one_of(["0", "1"]),
    }
)
RULES: Mapping[str, Rule] = MappingProxyType(
    {**{s.link: setting_rule(s) for s in SETTINGS.values()}, **UI_RULES}
)
BY_LINK: Mapping[str, Setting] = MappingProxyType({s.link: s for s in SETTINGS.values()})
HAND = _number(-1e6, 1e6)


def _rule(key: str) -> Rule | None:
    """The rule for ``key``, with a cap another setting in the link sets (outliers can be
    at most the number of points)."""
    if key.startswith("hand_"):
        return HAND
    s = BY_LINK.get(key)
    if s is None or s.high_from is None:
        return RULES.get(key)
    cap_setting = SETTINGS[s.high_from]
    text = st.query_params.get(cap_setting.link)
    if text is not None and RULES[cap_setting.link](text) is None:
        cap = float(text)
    else:
        preset = st.query_params.get("preset")
        cap = suggested(preset if preset in PRESETS else DEFAULT_PRESET)[s.high_from]
    return setting_rule(s, high=int(cap) if s.whole else cap)


def check_link() -> list[str]:
    """Notes on the link's settings that will be ignored (first run of a session only)."""
    if "link_notes" in st.session_state:
        return st.session_state["link_notes"]
    notes = []
    for key in st.query_params:
        rule = _rule(key)
        values = st.query_params.get_all(key)
        if rule is None:
            notes.append(f"`{_short(key)}` is not a setting of this app")
            continue
        for value in values:
            problem = rule(value)
            if problem:
                notes.append(f"`{key}={_short(value)}`: {problem}")
    st.session_state["link_notes"] = notes
    epoch = st.query_params.get("epoch")
    if epoch is not None and RULES["epoch"](epoch) is None:
        st.session_state["link_epoch"] = int(float(epoch))
    log = st.query_params.get("log")
    if log is not None and RULES["log"](log) is None:
        st.session_state["gx_log"] = log == "1"
    along = st.query_params.get("along")
    if along is not None and RULES["along"](along) is None:
        st.session_state["gx_along"] = tuple(n.strip() for n in along.split(","))
    return notes


def link_hand_values(names: list[str]) -> dict[str, float]:
    """The fit-by-hand values the link carries (``hand_a=...``), the usable ones."""
    out = {}
    for n in names:
        text = st.query_params.get(f"hand_{n}")
        if text is not None and HAND(text) is None:  # absent, or noted as unusable
            out[n] = float(text)
    return out


def _short(text: str) -> str:
    text = "".join(ch for ch in text if ch.isprintable() and ch not in "`\\")
    return text if len(text) <= 40 else text[:37] + "…"


def _dismiss() -> None:
    st.session_state["link_notes"] = []


def show_link_notes(notes: list[str]) -> None:
    if not notes:
        return
    with st.container(border=True):
        st.warning(
            "Some settings in this link could not be used as written (the others were left "
            "at their defaults):\n" + "\n".join(f"- {n}" for n in notes),
            icon=":material/link_off:",
        )
        st.button("Dismiss", key="dismiss_link_notes", on_click=_dismiss)
