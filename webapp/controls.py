"""The sidebar: data, model and training controls, each section a function returning its
choices. Every widget is made from its setting's declaration (``explorer.registry``) and
bound to the URL (``bind="query-params"``), so a copied link reopens the same view;
choosing a preset writes its suggested settings into the controls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import MappingProxyType

import streamlit as st

from explorer import LOSSES, MODELS, OPTIMIZERS, PRESETS, DataError, Dataset, make_preset
from explorer.csvdata import (
    LIMITS_TEXT,
    MAX_DRAWN,
    drawn_dataset,
    drawn_outline,
    parse_csv,
    parse_points,
    points_text,
)
from explorer.data import clean_text
from explorer.losses import CURVE_WORDS, LOSS_SETTINGS
from explorer.optim import OPTIMIZER_SETTINGS
from explorer.registry import DEFAULT_PRESET, PRESET, SETTINGS, suggested
from explorer.settings import Setting
from explorer.suggest import Suggestion, suggest

from .player import force_epoch

CSV = "csv"
CSV_LABEL = "CSV upload"
DRAW = "draw"
DRAW_LABEL = "Draw your own"
SOURCE_LABELS = MappingProxyType({CSV: CSV_LABEL, DRAW: DRAW_LABEL})
POINTS_LINK = "pts"  # drawn points in the link: csvdata.points_text
# A slider of more stops than this is a number box instead (the seed).
MAX_SLIDER_STOPS = 100_000
START_LABELS = MappingProxyType(
    {
        "preset": "preset values",
        "suggested": "suggested values",
        "random": "random",
        "hand": "fit by hand",
    }
)
# How a choice is shown (and so written in the link: Streamlit binds the shown option).
CHOICE_LABELS = MappingProxyType(
    {
        "loss": lambda k: LOSSES[k].short,
        "optimizer": lambda k: OPTIMIZERS[k].short,
    }
)
LR_OPTIONS = SETTINGS["lr"].options


@dataclass(frozen=True)
class Choices:
    """What the sidebar says to run.

    Attributes:
        preset: the preset, or None for your own points (a CSV file, drawn points).
        dataset: your own points (None for a preset, which ``resolve`` draws; None too
            for fewer than two drawn points, which cannot be fitted).
        data_key: identifies the data for caches.
        values: every shown setting's value, by setting name.
        start: where the parameters begin: a key of START_LABELS.
    """

    preset: str | None
    dataset: Dataset | None
    data_key: tuple
    values: dict
    start: str
    suggestion: Suggestion | None = None  # settings suggested for your own points


def label(s: Setting, value) -> str:
    """How a value of ``s`` is shown on its widget and written in the link."""
    if value is None or value == s.none_label:
        return s.none_label or ""
    if s.name in CHOICE_LABELS:
        return CHOICE_LABELS[s.name](value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def widget_range(s: Setting, high: float | None = None) -> tuple[float, float, float]:
    """(low, high, step) of the slider of a number setting; ``high`` caps it further."""
    low, top, step = s.ui or (s.low, s.high, 1 if s.whole else 0.01)
    if high is not None:
        top = min(top, high)
    return low, top, step


def link_defaults(preset: str | None) -> dict:
    """What choosing ``preset`` sets, by widget key: its recipe's knobs and suggestions."""
    values = suggested(preset)
    out = {s.link: _widget_value(s, values[name]) for name, s in SETTINGS.items()}
    out["start"] = "preset" if values.get("init") else "random"
    return out


def _widget_value(s: Setting, value):
    if s.options:
        return _nearest(s.options, value) if value is not None else s.none_label
    if s.choices:
        return value
    return int(value) if s.whole else float(value)


VARIED_NOTE = ":material/compare_arrows: Compare varies this: the values chosen there are used."


def setting_widget(s: Setting, default, high: float | None = None, where=None, varied=None):
    """The widget of ``s`` (slider, number box, select or stops slider), bound to the link
    under ``s.link``; returns the value in the setting's own terms (None for "all").
    ``varied``: the setting the compare view varies; its widget is greyed and says so."""
    where = where or st.sidebar
    common = dict(key=s.link, bind="query-params", help=s.help, disabled=s.name == varied)
    if s.name == varied:
        where.caption(VARIED_NOTE)
    if s.choices:
        value = where.selectbox(
            s.label,
            s.choices,
            index=s.choices.index(default),
            format_func=lambda v: label(s, v),
            **common,
        )
    elif s.options:
        value = where.select_slider(
            s.label,
            s.options,
            value=_widget_value(s, default),
            format_func=lambda v: label(s, v),
            **common,
        )
    else:
        low, top, step = widget_range(s, high)
        kind = int if s.whole else float
        low, top, step, start = kind(low), kind(top), kind(step), kind(min(default, top))
        if (top - low) / step > MAX_SLIDER_STOPS:
            value = where.number_input(s.label, low, top, start, step=step, **common)
        else:
            value = where.slider(s.label, low, top, start, step=step, **common)
    return None if value == s.none_label else value


def _apply_preset() -> None:
    # on_change of the preset: its settings replace the old ones (as the lesson's notebook);
    # the seed stays, so the same draw of a new recipe can be compared.
    preset = st.session_state.get("preset")
    if preset in PRESETS:
        for key, value in link_defaults(preset).items():
            if key != SETTINGS["seed"].link:
                st.session_state[key] = value
        force_epoch(0)


def data_ui() -> tuple[str | None, Dataset | None, tuple, dict]:
    """Data section: preset or CSV, and the recipe's knobs.

    Returns:
        (preset or None, the CSV's dataset or None, data key, knob values by name).
    """
    st.sidebar.header("Data")
    source = st.sidebar.selectbox(
        "Target points",
        (*PRESETS, DRAW, CSV),
        format_func=lambda k: SOURCE_LABELS.get(k, k),
        key="preset",
        bind="query-params",
        on_change=_apply_preset,
        help=f"{PRESET.help.rstrip('.')}; or draw or upload your own.",
    )
    base = suggested(source if source in PRESETS else DEFAULT_PRESET)
    seed = setting_widget(SETTINGS["seed"], base["seed"])
    if source != DRAW:
        st.query_params.pop(POINTS_LINK, None)
    if source in (CSV, DRAW):
        dataset, key = _csv_ui() if source == CSV else _draw_ui()
        dataset, key = _standardise_ui(dataset, key)
        values = dict(seed=seed, validation=_validation_ui(base))
        return None, dataset, key, values
    if source not in PRESETS:
        source = DEFAULT_PRESET
    st.sidebar.caption(PRESETS[source].description)
    points = setting_widget(SETTINGS["points"], base["points"])
    noise = setting_widget(SETTINGS["noise"], base["noise"])
    outliers = setting_widget(SETTINGS["outliers"], base["outliers"], high=points)
    values = dict(seed=seed, points=points, noise=noise, outliers=outliers)
    st.session_state["last_data"] = make_preset(source, **values)
    values["validation"] = _validation_ui(base)
    return source, None, ("preset", source, points, noise, outliers, seed), values


def _validation_ui(base: dict) -> float:
    """The share of points held out of training (hollow on the fit; their loss dotted
    beside the training loss)."""
    return setting_widget(SETTINGS["validation"], base["validation"])


def _csv_ui() -> tuple[Dataset, tuple]:
    upload = st.sidebar.file_uploader(
        "CSV file (x, y)", type=["csv", "txt", "tsv"], key="upload", help=LIMITS_TEXT
    )
    previous = st.session_state.get("last_data") or make_preset(DEFAULT_PRESET)
    kept = ("kept", previous.name, previous.x.tobytes(), previous.y.tobytes())
    if upload is None:
        st.sidebar.info(f"Upload a file. Meanwhile: {plain(previous.name)}.")
        return previous, kept
    raw = upload.getvalue()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        dataset = _parse_upload(digest, raw, upload.name)
    except DataError as err:
        st.sidebar.error(
            f"**{plain(clean_text(upload.name, 60))}** can't be used: {plain(str(err))}. "
            f"Still showing {plain(previous.name)}."
        )
        return previous, kept
    st.sidebar.success(
        plain(f"{dataset.name}: {dataset.n} points ({dataset.x_label}, {dataset.y_label})")
    )
    st.session_state["last_data"] = dataset
    return dataset, ("csv", digest)


def _draw_ui() -> tuple[Dataset | None, tuple]:
    text = st.session_state.get("gx_drawn")
    if text is None:
        # First time here: the link's points, else the points shown until now (to edit).
        text = st.query_params.get(POINTS_LINK)
        try:
            parse_points(text or "")
        except DataError:
            text = None  # the link's note says why
        if text is None:
            previous = st.session_state.get("last_data") or make_preset(DEFAULT_PRESET)
            n = min(previous.n, MAX_DRAWN)
            text = points_text(previous.x[:n], previous.y[:n])
        st.session_state["gx_drawn"] = text
    st.query_params[POINTS_LINK] = text
    x, y = parse_points(text)
    st.sidebar.caption(
        f"**{len(x)} point{'s' * (len(x) != 1)}** (at most {MAX_DRAWN}). Click on the fit "
        "chart to add a point there; click a point to remove it. The link carries them."
    )
    st.sidebar.button(
        "Clear all points",
        icon=":material/delete_sweep:",
        key="clear_drawn",
        on_click=set_drawn,
        args=([],),
        disabled=not len(x),
    )
    outline = st.sidebar.toggle(
        "As an outline (in order)",
        key="outline",
        bind="query-params",
        help="Fit a closed curve t -> (x(t), y(t)) through the points in the order you "
        "clicked them, as the cat preset does, instead of a function y(x).",
    )
    try:
        dataset = drawn_outline(x, y) if outline else drawn_dataset(x, y)
    except DataError as err:
        if outline and len(x) >= 2:
            st.sidebar.caption(f"{plain(str(err))}.")
        return None, ("drawn", text, outline)
    return dataset, ("drawn", text, outline)


def set_drawn(points) -> None:
    """Keep ``points`` ([[x, y], ...], from the fit chart's clicks) as the drawn data."""
    points = list(points)[:MAX_DRAWN]
    text = points_text([p[0] for p in points], [p[1] for p in points])
    st.session_state["gx_drawn"] = text
    st.query_params[POINTS_LINK] = text
    force_epoch(0)


def _standardise_ui(dataset: Dataset | None, key: tuple) -> tuple[Dataset | None, tuple]:
    """Your own data's x standardised when the toggle (in the link: ``std``) is on."""
    if dataset is None or dataset.outputs == 2:
        return dataset, key  # (an outline's x is t, from 0 to 1)
    on = st.sidebar.toggle(
        "Standardise x",
        key="std",
        bind="query-params",
        help="Fit to (x - mean) / spread instead of x: every parameter's gradient then has "
        "a similar size, and one learning rate suits them all.",
    )
    if not on:
        return dataset, key
    return dataset.standardised(), (*key, "standardised")


def plain(text: str) -> str:
    """Text shown through Markdown exactly as written (file contents quoted in messages)."""
    escaped = "".join("\\" + ch if ch in _MARKDOWN else ch for ch in text)
    # GitHub-flavoured Markdown links bare addresses too.
    return escaped.replace("://", ":\\/\\/").replace("www.", "www\\.")


_MARKDOWN = frozenset("\\`*_[]<>$~|")


@st.cache_resource(max_entries=16, show_spinner=False)
def _parse_upload(digest: str, _raw: bytes, name: str) -> Dataset:
    return parse_csv(_raw, name)


def model_ui(defaults: dict, varied: str | None = None, outputs: int = 1) -> dict:
    """Model section: the family and its size settings, by name. Only the models that fit
    the data are offered: functions y(x) for points, curves t -> (x(t), y(t)) for an
    outline (``outputs`` 2)."""
    st.sidebar.header("Model")
    s = SETTINGS["model"]
    offered = tuple(m for m in s.choices if MODELS[m].outputs == outputs)
    if defaults["model"] not in offered:  # your own outline: the cat's model and settings
        defaults = {**defaults, **PRESETS["cat"].defaults}
    if st.session_state.get(s.link) not in (None, *offered):
        st.session_state[s.link] = defaults["model"]  # another kind of data: its own model
    name = st.sidebar.selectbox(
        s.label,
        offered,
        index=offered.index(defaults["model"]) if defaults["model"] in offered else 0,
        key=s.link,
        bind="query-params",
        help=s.help,
        disabled=varied == "model",
    )
    st.sidebar.caption(MODELS[name].words)
    values = {"model": name}
    for s in MODELS[name].settings:
        values[s.name] = setting_widget(s, defaults[s.name], varied=varied)
    return values


def training_ui(
    defaults: dict, start_offered: tuple[str, ...], varied: str | None = None, outline=False
) -> tuple[dict, str]:
    """Training section: loss, learning rate, epochs, optimizer, batch, start.

    Returns:
        (the settings by name, the start: a key of START_LABELS).
    """
    st.sidebar.header("Training")
    loss_setting = SETTINGS["loss"]
    names = loss_setting.choices
    if varied == "loss":
        st.sidebar.caption(VARIED_NOTE)
    loss = st.sidebar.radio(
        loss_setting.label,
        names,
        index=names.index(defaults["loss"]),
        format_func=lambda k: label(loss_setting, k),
        captions=[f"{LOSSES[k].words} {LOSSES[k].inline}" for k in names],
        key=loss_setting.link,
        bind="query-params",
        disabled=varied == "loss",
    )
    st.sidebar.latex((outline and LOSSES[loss].curve_formula) or LOSSES[loss].formula)
    if outline:
        st.sidebar.caption(CURVE_WORDS)
    values = {"loss": loss}
    # Every compared loss's settings (Huber's delta) when the comparison varies the loss;
    # every optimizer's when it varies the optimizer.
    own = LOSS_SETTINGS if varied == "loss" else LOSSES[loss].settings
    for s in own:
        values[s.name] = setting_widget(s, defaults[s.name])
    for name in ("lr", "epochs", "optimizer"):
        values[name] = setting_widget(SETTINGS[name], defaults[name], varied=varied)
    own = OPTIMIZER_SETTINGS if varied == "optimizer" else OPTIMIZERS[values["optimizer"]].settings
    for s in own:
        values[s.name] = setting_widget(s, defaults[s.name])
    values["batch_size"] = setting_widget(
        SETTINGS["batch_size"], defaults["batch_size"], varied=varied
    )
    if st.session_state.get("start", "random") not in start_offered:
        # "preset values" is offered only where the preset has values for this model.
        st.session_state["start"] = "random"
    start = st.sidebar.radio(
        "Start from",
        start_offered,
        index=start_offered.index(defaults["start"])
        if defaults["start"] in start_offered
        else start_offered.index("random"),
        format_func=START_LABELS.get,
        key="start",
        bind="query-params",
        help="Where the parameters begin. Runs with the same start can be compared.",
    )
    return values, start


def start_options(
    preset: str | None, model: str, suggestion: Suggestion | None = None
) -> tuple[str, ...]:
    """The starts on offer: preset values only where the preset suggests some for
    ``model``; suggested values only where a suggestion for your own points has some."""
    d = PRESETS[preset].defaults if preset in PRESETS else {}
    has = bool(d.get("init")) and d.get("model") == model
    offered = {"preset": has, "suggested": bool(suggestion and suggestion.init)}
    return tuple(k for k in START_LABELS if offered.get(k, True))


def suggestion_ui(dataset: Dataset | None, data_key: tuple, values: dict) -> Suggestion | None:
    """Settings that work on your own points (``explorer.suggest``): applied to the
    training controls when a file is uploaded, and for drawn points when asked (each
    click would otherwise move them); shown with their reasons."""
    if dataset is None or data_key[0] not in ("csv", "drawn") or dataset.outputs == 2:
        return None  # (before any upload, the points shown until now are kept as they are)
    key = (data_key, tuple(sorted(values.items())))
    kept = st.session_state.get("gx_suggestion")
    if kept is not None and kept[0] == key:
        suggestion = kept[1]
    else:
        drawn = data_key[0] == "drawn"
        asked = drawn and st.sidebar.button(
            "Suggest settings for these points",
            icon=":material/auto_fix_high:",
            key="suggest_drawn",
            help="A learning rate from a sweep, enough epochs and a start on the points' scale.",
        )
        from_link = kept is None and any(
            SETTINGS[n].link in st.query_params for n in ("lr", "epochs")
        )
        if (drawn and not asked) or (from_link and not asked):
            if from_link:  # a shared link's own settings win over a suggestion
                st.session_state["gx_suggestion"] = (key, None)
            return None
        loss = st.session_state.get(SETTINGS["loss"].link, SETTINGS["loss"].default)
        optimizer = st.session_state.get(SETTINGS["optimizer"].link, SETTINGS["optimizer"].default)
        with st.spinner("Finding settings that work on your points…"):
            suggestion = _suggest(key, dataset, values, loss, optimizer)
        st.session_state["gx_suggestion"] = (key, suggestion)
        for name, value in suggestion.values.items():
            st.session_state[SETTINGS[name].link] = _widget_value(SETTINGS[name], value)
        if suggestion.init:
            st.session_state["start"] = "suggested"
        force_epoch(0)
    if suggestion is None:
        return None
    with st.sidebar.expander("Suggested for your points", icon=":material/auto_fix_high:"):
        st.markdown("\n".join(f"- {plain(r)}" for r in suggestion.reasons))
    return suggestion


@st.cache_resource(max_entries=16, show_spinner=False)
def _suggest(key: tuple, _data: Dataset, values: dict, loss: str, optimizer: str) -> Suggestion:
    known = {k: v for k, v in values.items() if k in SETTINGS}
    return suggest(_data, **known, loss=loss, optimizer=optimizer)


def _nearest(options, value):
    numbers = [o for o in options if not isinstance(o, str)]
    return min(numbers, key=lambda o: abs(o - value) / max(abs(value), 1e-12))


# ----------------------------------------------------------------------------- compare


def vary_options(model: str) -> tuple[str, ...]:
    """What the compare view can vary: the loss, the optimizer, the learning rate, the
    batch size and the model's own size settings."""
    return ("loss", "optimizer", "lr", "batch_size", *(s.name for s in MODELS[model].settings))


def value_options(s: Setting) -> list:
    """The values of ``s`` a comparison offers: its choices, its slider's stops, or every
    whole number of its slider."""
    if s.choices:
        return list(s.choices)
    if s.options:
        return [None if o == s.none_label else o for o in s.options]
    low, top, _ = widget_range(s)
    return list(range(int(low), int(top) + 1))


def compare_key(name: str) -> str:
    """The link key of the values compared for setting ``name`` (``compare`` for losses,
    as before)."""
    return "compare" if name == "loss" else f"compare_{SETTINGS[name].link}"
