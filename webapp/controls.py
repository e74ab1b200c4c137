"""The sidebar: data, model and training controls, each section a function returning its
choices. Every control is bound to the URL (``bind="query-params"``), so a copied link
reopens the same view; choosing a preset writes its suggested settings into the controls.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import MappingProxyType

import streamlit as st

from explorer import LOSSES, OPTIMIZERS, PRESETS, DataError, Dataset, make_preset
from explorer.csvdata import LIMITS_TEXT, parse_csv
from explorer.data import safe_text
from explorer.models import ACTIVATIONS, MAX_DEGREE, MAX_RELUS

from .player import force_epoch

CSV = "csv"
CSV_LABEL = "CSV upload"
DEFAULT_PRESET = "fastai-quadratic"
LR_OPTIONS = tuple(float(f"{m}e{e}") for e in range(-6, 1) for m in (1, 2, 3, 5)) + (10.0,)
EPOCH_OPTIONS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000)
BATCH_OPTIONS = ("all", 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
MAX_UI_POINTS = 1000
MAX_UI_WIDTH = 16
# Labels are what the URL carries (Streamlit binds the formatted option), so keep them short.
MODEL_NOTES = MappingProxyType(
    {
        "line": "m·x + b",
        "quadratic": "a·x² + b·x + c",
        "polynomial": "c0 + c1·x + … + cd·x^d",
        "relu-sum": "c + Σ max(mᵢ·x + bᵢ, 0): lesson 3's rectified lines, added up",
        "mlp": "one hidden layer: b2 + Σ W2ⱼ·act(W1ⱼ·x + b1ⱼ)",
    }
)
START_LABELS = MappingProxyType(
    {"preset": "preset values", "random": "random", "hand": "fit by hand"}
)
LOSS_LABELS = MappingProxyType({"l1": "L1", "l2": "L2", "mse": "MSE", "huber": "Huber"})
# Compact forms for the radio's captions; the chosen loss's full formula is shown below it.
INLINE_FORMULAS = MappingProxyType(
    {
        "l1": r"$\tfrac{1}{n}\sum|\hat y - y|$",
        "l2": r"$\sqrt{\tfrac{1}{n}\sum(\hat y - y)^2}$",
        "mse": r"$\tfrac{1}{n}\sum(\hat y - y)^2$",
        "huber": r"$\tfrac{1}{n}\sum h_\delta(\hat y - y)$",
    }
)
OPT_LABELS = MappingProxyType({"sgd": "SGD", "momentum": "momentum", "adam": "Adam"})


@dataclass(frozen=True)
class DataChoice:
    dataset: Dataset
    key: tuple  # identifies the data for caches
    preset: str | None  # None for a CSV file


@dataclass(frozen=True)
class ModelChoice:
    name: str
    size: tuple  # (("degree", 3),) ...


@dataclass(frozen=True)
class TrainChoice:
    loss: str
    lr: float
    epochs: int
    optimizer: str
    momentum: float
    beta1: float
    beta2: float
    huber_delta: float
    batch_size: int | None
    start: str


def preset_defaults(preset: str) -> dict:
    """What choosing ``preset`` sets: its recipe's knobs and its suggested settings."""
    p = PRESETS.get(preset, PRESETS[DEFAULT_PRESET])
    d = p.defaults
    return dict(
        points=p.points,
        noise=p.noise,
        outliers=0,
        model=d.get("model", "quadratic"),
        degree=d.get("degree", 3),
        relus=d.get("relus", 2),
        width=d.get("width", 8),
        act=d.get("activation", "relu"),
        loss=d.get("loss", "l2"),
        lr=d.get("lr", 0.01),
        epochs=d.get("epochs", 100),
        opt=d.get("optimizer", "sgd"),
        start="preset" if d.get("init") else "random",
    )


def _apply_preset() -> None:
    # on_change of the preset: its settings replace the old ones (as the lesson's notebook).
    preset = st.session_state.get("preset")
    if preset in PRESETS:
        for key, value in preset_defaults(preset).items():
            st.session_state[key] = value
        force_epoch(0)


def data_ui() -> DataChoice:
    """Data section: preset or CSV, and the recipe's knobs."""
    st.sidebar.header("Data")
    source = st.sidebar.selectbox(
        "Target points",
        (*PRESETS, CSV),
        format_func=lambda k: CSV_LABEL if k == CSV else k,
        key="preset",
        bind="query-params",
        on_change=_apply_preset,
        help="Presets follow fast.ai lesson 3 and fastbook chapter 4; or upload your own.",
    )
    base = preset_defaults(source if source in PRESETS else DEFAULT_PRESET)
    seed = st.sidebar.number_input(
        "Seed",
        0,
        2**31 - 1,
        42,
        step=1,
        key="seed",
        bind="query-params",
        help="Seeds the noise, the outliers, the random start and the mini-batch shuffle.",
    )
    if source == CSV:
        return _csv_ui()
    if source not in PRESETS:
        source = DEFAULT_PRESET
    st.sidebar.caption(PRESETS[source].description)
    points = st.sidebar.slider(
        "Number of points", 2, MAX_UI_POINTS, base["points"], key="points", bind="query-params"
    )
    noise = st.sidebar.slider(
        "Noise",
        0.0,
        10.0,
        float(base["noise"]),
        step=0.05,
        key="noise",
        bind="query-params",
        help="Standard deviation of the added noise (the recipe's own level by default).",
    )
    outliers = st.sidebar.slider(
        "Outliers",
        0,
        min(10, points),
        min(int(base["outliers"]), points),
        key="outliers",
        bind="query-params",
        help="Points thrown far above the curve: where L1 and L2 disagree.",
    )
    dataset = make_preset(source, points=points, noise=noise, outliers=outliers, seed=seed)
    st.session_state["last_data"] = dataset
    return DataChoice(dataset, ("preset", source, points, noise, outliers, seed), source)


def _csv_ui() -> DataChoice:
    upload = st.sidebar.file_uploader(
        "CSV file (x, y)", type=["csv", "txt", "tsv"], key="upload", help=LIMITS_TEXT
    )
    previous = st.session_state.get("last_data") or make_preset(DEFAULT_PRESET)
    if upload is None:
        st.sidebar.info(f"Upload a file. Meanwhile: {plain(previous.name)}.")
        return DataChoice(
            previous, ("kept", previous.name, previous.x.tobytes(), previous.y.tobytes()), None
        )
    raw = upload.getvalue()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        dataset = _parse_upload(digest, raw, upload.name)
    except DataError as err:
        st.sidebar.error(
            f"**{plain(safe_text(upload.name, 60))}** can't be used: {plain(str(err))}. "
            f"Still showing {plain(previous.name)}."
        )
        return DataChoice(
            previous, ("kept", previous.name, previous.x.tobytes(), previous.y.tobytes()), None
        )
    st.sidebar.success(
        plain(f"{dataset.name}: {dataset.n} points ({dataset.x_label}, {dataset.y_label})")
    )
    st.session_state["last_data"] = dataset
    return DataChoice(dataset, ("csv", digest), None)


def plain(text: str) -> str:
    """Text shown through Markdown exactly as written (file contents quoted in messages)."""
    escaped = "".join("\\" + ch if ch in _MARKDOWN else ch for ch in text)
    # GitHub-flavoured Markdown links bare addresses too.
    return escaped.replace("://", ":\\/\\/").replace("www.", "www\\.")


_MARKDOWN = frozenset("\\`*_[]<>$~|")


@st.cache_resource(max_entries=16, show_spinner=False)
def _parse_upload(digest: str, _raw: bytes, name: str) -> Dataset:
    return parse_csv(_raw, name)


def model_ui(defaults: dict) -> ModelChoice:
    """Model section: the family and its size."""
    st.sidebar.header("Model")
    name = st.sidebar.selectbox(
        "Function to fit",
        tuple(MODEL_NOTES),
        index=tuple(MODEL_NOTES).index(defaults["model"]),
        key="model",
        bind="query-params",
    )
    st.sidebar.caption(MODEL_NOTES[name])
    size: tuple = ()
    if name == "polynomial":
        size = (
            (
                "degree",
                st.sidebar.slider(
                    "Degree", 1, MAX_DEGREE, defaults["degree"], key="degree", bind="query-params"
                ),
            ),
        )
    elif name == "relu-sum":
        size = (
            (
                "relus",
                st.sidebar.slider(
                    "Number of ReLUs",
                    1,
                    MAX_RELUS,
                    defaults["relus"],
                    key="relus",
                    bind="query-params",
                ),
            ),
        )
    elif name == "mlp":
        width = st.sidebar.slider(
            "Hidden units", 1, MAX_UI_WIDTH, defaults["width"], key="width", bind="query-params"
        )
        act = st.sidebar.selectbox(
            "Activation",
            tuple(ACTIVATIONS),
            index=tuple(ACTIVATIONS).index(defaults["act"]),
            key="act",
            bind="query-params",
        )
        size = (("width", width), ("activation", act))
    return ModelChoice(name, size)


def lr_label(v: float) -> str:
    return f"{v:g}"


def training_ui(defaults: dict) -> TrainChoice:
    """Training section: loss, learning rate, epochs, optimizer, batch, start."""
    st.sidebar.header("Training")
    names = tuple(LOSSES)
    loss = st.sidebar.radio(
        "Loss",
        names,
        index=names.index(defaults["loss"]),
        format_func=LOSS_LABELS.get,
        captions=[f"{LOSSES[k].words} {INLINE_FORMULAS[k]}" for k in names],
        key="loss",
        bind="query-params",
    )
    st.sidebar.latex(LOSSES[loss].formula)
    delta = 1.0
    if loss == "huber":
        delta = st.sidebar.slider(
            "Huber delta", 0.05, 10.0, 1.0, step=0.05, key="delta", bind="query-params"
        )
    lr = st.sidebar.select_slider(
        "Learning rate",
        LR_OPTIONS,
        value=_nearest(LR_OPTIONS, defaults["lr"]),
        format_func=lr_label,
        key="lr",
        bind="query-params",
        help="The step is learning rate × gradient (log scale, 1e-6 to 10).",
    )
    epochs = st.sidebar.select_slider(
        "Epochs",
        EPOCH_OPTIONS,
        value=_nearest(EPOCH_OPTIONS, defaults["epochs"]),
        key="epochs",
        bind="query-params",
        help="Passes over the data; each is one step of gradient descent (full batch).",
    )
    opts = tuple(OPTIMIZERS)
    optimizer = st.sidebar.selectbox(
        "Optimizer",
        opts,
        index=opts.index(defaults["opt"]),
        format_func=OPT_LABELS.get,
        key="opt",
        bind="query-params",
        help="; ".join(f"{o.label}: {o.words}" for o in OPTIMIZERS.values()),
    )
    momentum, beta1, beta2 = 0.9, 0.9, 0.999
    if optimizer == "momentum":
        momentum = st.sidebar.slider(
            "Momentum", 0.0, 0.99, 0.9, step=0.01, key="momentum", bind="query-params"
        )
    elif optimizer == "adam":
        beta1 = st.sidebar.slider(
            "Adam beta1", 0.0, 0.99, 0.9, step=0.01, key="beta1", bind="query-params"
        )
        beta2 = st.sidebar.select_slider(
            "Adam beta2", (0.9, 0.99, 0.999, 0.9999), value=0.999, key="beta2", bind="query-params"
        )
    batch = st.sidebar.select_slider(
        "Batch size",
        BATCH_OPTIONS,
        value="all",
        key="batch",
        bind="query-params",
        help="'all' is full-batch gradient descent; smaller batches take several shuffled steps per epoch.",
    )
    start = st.sidebar.radio(
        "Start from",
        tuple(START_LABELS),
        index=tuple(START_LABELS).index(defaults["start"]),
        format_func=START_LABELS.get,
        key="start",
        bind="query-params",
        help="Where the parameters begin. Runs with the same start can be compared.",
    )
    return TrainChoice(
        loss,
        float(lr),
        int(epochs),
        optimizer,
        float(momentum),
        float(beta1),
        float(beta2),
        float(delta),
        None if batch == "all" else int(batch),
        start,
    )


def _nearest(options, value):
    return min(options, key=lambda o: abs(o - value) / max(abs(value), 1e-12))
