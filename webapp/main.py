"""The page, section by section: sidebar controls, then the chosen view."""

from __future__ import annotations

from types import MappingProxyType

import streamlit as st

from explorer import PRESETS, build_model
from explorer.api import resolve
from explorer.registry import SETTINGS, suggested

from . import lr_view, player, views
from .controls import (
    DEFAULT_PRESET,
    Choices,
    data_ui,
    model_ui,
    start_options,
    suggestion_ui,
    training_ui,
)
from .links import VIEWS, check_link, link_hand_values, show_link_notes
from .runs import get_run

# What the page does, in the words of each view: watching it learn only where a player plays.
CAPTIONS = MappingProxyType(
    {
        "Train": "Fit a function to points by gradient descent and watch it learn: predict, "
        "measure the loss, follow the gradient downhill, repeat.",
        "Compare": "Fit the same points with one setting changed (the loss, the optimizer, the "
        "learning rate, ...), from the same start, and watch how each run learns.",
        "Fit by hand": "Fit a function to points yourself: move the sliders, read the loss, and "
        "let the gradient tell you which way is downhill.",
    }
)


def header(present: bool) -> str:
    st.markdown("### :material/trending_down: Gradient Explorer")
    caption = st.empty()  # above the view's buttons, in the words of the view chosen
    view = st.segmented_control(
        "View",
        VIEWS,
        default="Train",
        required=True,
        key="view",
        bind="query-params",
        label_visibility="collapsed",
    )
    if not present:
        caption.caption(CAPTIONS[view])
    return view


def hand_values(names: list[str]) -> dict[str, float]:
    """The fit-by-hand sliders' values (from this session or the link)."""
    out = link_hand_values(names)
    for n in names:
        v = st.session_state.get(f"hand_{n}")
        if v is not None:
            out[n] = float(v)
    return out


def keep_hand_values_in_link(view: str, start: str, hand: dict[str, float]) -> None:
    """A run that starts from fit-by-hand values carries them in its link, whichever view
    is open (the sliders bind them only while the fit-by-hand view shows them)."""
    if start != "hand" or view == "Fit by hand":
        return
    for name, value in hand.items():
        st.query_params[f"hand_{name}"] = f"{value:.10g}"
    if not hand:
        st.info(
            "Start from **fit by hand** was chosen, but no values were set by hand yet: "
            "the run starts from random values. Open **Fit by hand** to set them.",
            icon=":material/pan_tool:",
        )


def is_present() -> bool:
    """Presenter mode (``present=1`` in the link): sidebar folded, large type, big Step."""
    return st.query_params.get("present") == "1"


def main() -> None:
    present = is_present()
    st.set_page_config(
        page_title="Gradient Explorer",
        page_icon="📉",  # an emoji icon is drawn in the page; a :material: one is fetched online
        layout="wide",
        initial_sidebar_state="collapsed" if present else "auto",
    )
    player.load_plotly()
    notes = check_link()  # before any widget takes (or silently drops) the link's values
    view = header(present)
    # Notes come and go; in one container they never move the player below them (a moved
    # element is a new one to the browser, and the player would be built again).
    notices = st.container()
    with notices:
        show_link_notes(notes)
    varied = None
    if view == "Compare":  # the setting the comparison varies: the sidebar says so
        varied = st.session_state.get("vary", st.query_params.get("vary", "loss"))
        varied = {SETTINGS[n].label: n for n in SETTINGS}.get(varied, varied)
    choices = sidebar(varied)
    if choices.data_key[0] == "drawn" and choices.dataset is None:
        views.draw_canvas(present)  # fewer than two points: nothing to fit yet
        return
    names = build_model(choices.values["model"], **choices.values).layout
    hand = hand_values(names)
    with notices:
        keep_hand_values_in_link(view, choices.start, hand)
    init = {
        "preset": None,
        "suggested": choices.suggestion.init if choices.suggestion else {},
        "random": {},
        "hand": hand,
    }[choices.start]
    spec = resolve(preset=choices.preset, data=choices.dataset, init=init, **choices.values)
    if choices.preset is None and choices.data_key[0] != "drawn":
        notices.caption(
            ":material/link_off: The link to this view holds every setting but not your "
            "uploaded CSV: whoever opens it must upload the same file."
        )

    if view == "Compare":
        views.compare_view(spec, choices, init, present)
    elif view == "Fit by hand":
        views.hand_view(spec)
    else:
        run = get_run(spec, choices.data_key)
        views.train_view(run, present, draw=choices.data_key[0] == "drawn")
        if run.timeline is not None and not present:
            lr_view.show(spec, run)


def sidebar(varied: str | None = None) -> Choices:
    """The sidebar's sections, top to bottom: what to run. ``varied``: the setting the
    compare view varies (its widget says the comparison overrides it)."""
    preset, dataset, data_key, values = data_ui()
    defaults = suggested(preset or DEFAULT_PRESET)
    defaults["start"] = "preset" if defaults.get("init") else "random"
    outputs = PRESETS[preset].outputs if preset in PRESETS else 1
    if dataset is not None:
        outputs = dataset.outputs
    if outputs == 2 and preset is None:
        # Your own outline: the cat's suggestions, with a corner for each point drawn (more
        # would leave the curve free between the points).
        corners = SETTINGS["corners"]
        n = min(max(dataset.n - 1, int(corners.low)), int(corners.high))
        defaults = {**defaults, **PRESETS["cat"].defaults, "corners": n}
    values |= model_ui(defaults, varied, outputs)
    suggestion = suggestion_ui(dataset, data_key, values) if preset is None else None
    offered = start_options(preset, values["model"], suggestion)
    train, start = training_ui(defaults, offered, varied, outputs == 2)
    return Choices(preset, dataset, data_key, values | train, start, suggestion)
