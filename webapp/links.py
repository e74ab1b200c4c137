"""Checking the settings a link carries, before the widgets read them.

Streamlit silently drops a URL value that its widget cannot take; the explorer says so,
once per session, so that a person opening a mangled link knows which settings were not
applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import streamlit as st

from explorer import LOSSES, MODELS, OPTIMIZERS, PRESETS
from explorer.models import ACTIVATIONS, MAX_DEGREE, MAX_RELUS

from .controls import (
    BATCH_OPTIONS,
    CSV_LABEL,
    EPOCH_OPTIONS,
    LOSS_LABELS,
    LR_OPTIONS,
    MAX_UI_POINTS,
    MAX_UI_WIDTH,
    OPT_LABELS,
    START_LABELS,
    lr_label,
)

VIEWS = ("Train", "Compare losses", "Fit by hand")


def _number(low: float, high: float, whole: bool = False) -> Callable[[str], str | None]:
    """A rule: None when the widget takes the value as it is, else a note for people."""
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


def _one_of(options) -> Callable[[str], str | None]:
    options = [str(o) for o in options]
    shown = (
        ", ".join(options) if len(options) <= 8 else f"{', '.join(options[:6])}, … {options[-1]}"
    )
    return lambda text: None if text in options else f"expected one of {shown}"


RULES: Mapping[str, tuple[Callable[[str], bool], str]] = MappingProxyType(
    {
        "preset": _one_of([*PRESETS, CSV_LABEL]),
        "seed": _number(0, 2**31 - 1, whole=True),
        "points": _number(2, MAX_UI_POINTS, whole=True),
        "noise": _number(0, 10),
        "outliers": _number(0, 10, whole=True),
        "model": _one_of(MODELS),
        "degree": _number(1, MAX_DEGREE, whole=True),
        "relus": _number(1, MAX_RELUS, whole=True),
        "width": _number(1, MAX_UI_WIDTH, whole=True),
        "act": _one_of(ACTIVATIONS),
        "loss": _one_of([LOSS_LABELS[k] for k in LOSSES]),
        "delta": _number(0.05, 10),
        "lr": _one_of([lr_label(v) for v in LR_OPTIONS]),
        "epochs": _one_of(EPOCH_OPTIONS),
        "opt": _one_of([OPT_LABELS[k] for k in OPTIMIZERS]),
        "momentum": _number(0, 0.99),
        "beta1": _number(0, 0.99),
        "beta2": _one_of([0.9, 0.99, 0.999, 0.9999]),
        "batch": _one_of(BATCH_OPTIONS),
        "start": _one_of(START_LABELS.values()),
        "view": _one_of(VIEWS),
        "epoch": _number(0, 10_000, whole=True),
        "compare": _one_of([LOSSES[k].label for k in LOSSES]),
        "log": _one_of(["0", "1"]),
        "present": _one_of(["0", "1"]),
    }
)
HAND = _number(-1e6, 1e6)


def check_link() -> list[str]:
    """Notes on the link's settings that will be ignored (first run of a session only)."""
    if "link_notes" in st.session_state:
        return st.session_state["link_notes"]
    notes = []
    for key in st.query_params:
        rule = HAND if key.startswith("hand_") else RULES.get(key)
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
