"""The page, section by section: sidebar controls, then the chosen view."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import build_model

from . import views
from .controls import DEFAULT_PRESET, data_ui, model_ui, preset_defaults, training_ui
from .links import HAND, VIEWS, check_link, show_link_notes
from .runs import get_run, start_values


def header() -> str:
    st.markdown("## :material/trending_down: Gradient Explorer")
    st.caption(
        "Fit a function to points by gradient descent and watch it learn: predict, measure the "
        "loss, follow the gradient downhill, repeat. Press ▶ Play on the chart, or step one epoch at a time."
    )
    return st.segmented_control(
        "View",
        VIEWS,
        default="Train",
        required=True,
        key="view",
        bind="query-params",
        label_visibility="collapsed",
    )


def hand_values(names: list[str]) -> dict[str, float]:
    """The fit-by-hand sliders' values (from this session or the link)."""
    out = {}
    for n in names:
        v = st.session_state.get(f"hand_{n}")
        if v is None:
            text = st.query_params.get(f"hand_{n}")
            if text is None or HAND(text) is not None:  # absent, or noted as unusable
                continue
            v = float(text)
        out[n] = float(v)
    return out


def main() -> None:
    st.set_page_config(
        page_title="Gradient Explorer",
        page_icon=":material/trending_down:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    notes = check_link()  # before any widget takes (or silently drops) the link's values
    view = header()
    show_link_notes(notes)
    data = data_ui()
    defaults = preset_defaults(data.preset or DEFAULT_PRESET)
    model = model_ui(defaults)
    t = training_ui(defaults)
    seed = int(st.session_state.get("seed", 42))
    names = build_model(model.name, **dict(model.size)).layout
    init = start_values(data, model, t, hand_values(names))
    run = get_run(data, model, t, init, seed)
    if view == "Compare losses":
        views.compare_view(data, model, t, init, seed)
    elif view == "Fit by hand":
        views.hand_view(
            data,
            model,
            t,
            run.history.params[0] if run.history.last_epoch >= 0 else np.zeros(len(names)),
        )
    else:
        views.train_view(run, t)
