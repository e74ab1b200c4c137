"""The browser player: one timeline for the fit, the step table, the loss curve and the
controls (Streamlit Components v2, ``player.js``).

Python sends a run once; the browser then draws any epoch by itself. The epoch comes back
only when it stops moving, to go into the link (``epoch=``), without a new training run.
Plotly.js is the plotly package's own ``plotly.min.js``, loaded by a second component
that never changes, so Streamlit sends it once per page and refers to it by hash after.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import plotly
import streamlit as st

from explorer import LOSSES, OPTIMIZERS, History, descent_figures, figures
from explorer.csvdata import MAX_DRAWN
from explorer.descent import grad_scales, rounding_noise

HERE = Path(__file__).resolve().parent
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
TABLE_ROWS = 8  # parameters listed one per row; bigger models show the largest gradients
COMPARE_PARAMS = 4  # parameters shown per run in a comparison's table
LOG_SPAN = 1000  # the loss axis starts on a log scale when the loss spans this factor

_HIDDEN = ".st-key-gx_plotly { display: none; }"
_plotly_loader = st.components.v2.component(
    "gx_plotly",
    js=PLOTLY_JS.read_text(encoding="utf-8") + "\nexport default function () {}\n",
    css=_HIDDEN,
    isolate_styles=False,
)
_player = st.components.v2.component(
    "gx_player",
    js=(HERE / "player.js").read_text(encoding="utf-8"),
    css=(HERE / "player.css").read_text(encoding="utf-8") + _HIDDEN,
    isolate_styles=False,
)


@dataclass(frozen=True)
class Timeline:
    """Everything the player draws for one or more runs, built once and cached."""

    key: str
    fit_key: str  # the fit chart without its curves: same key, no redraw of the chart
    loss_key: str  # the loss chart's layout and traces, likewise
    runs: tuple[dict, ...]
    fit: dict
    loss: dict
    y_range: tuple[float, float]
    wide: bool  # the loss spans LOG_SPAN or more: open on a log axis
    descent: dict | None = None  # a single run's parameters by epoch (the descent's charts)


def _typed(values: np.ndarray) -> dict:
    """An array as {dtype, bdata}: float64 stays float64, so no digit is lost on the way."""
    arr = np.asarray(values)
    dtype = {"f": "<f8" if arr.dtype == np.float64 else "<f4", "i": "<i4", "u": "<i4"}[
        arr.dtype.kind
    ]
    return figures.packed(arr, dtype)


def run_payload_plain_sgd(h: History) -> bool:
    """Each step of the run is lr × gradient: plain SGD on all the points."""
    batch = h.config.get("batch_size")
    return h.config["optimizer"] == "sgd" and (batch is None or batch >= len(h.x))


def run_payload(name: str, colour: str, h: History, floor: float | None = None) -> dict:
    """One run as the player reads it (arrays packed, the run's settings by name)."""
    cfg = h.config
    batch = cfg.get("batch_size")
    minibatch = batch is not None and batch < len(h.x)
    plain_sgd = run_payload_plain_sgd(h)
    info = LOSSES[cfg["loss"]]
    # Its words, or, for a loss with settings of its own, their values (Huber (δ = 1)).
    loss_label = info.title(cfg) if info.settings else info.label
    return dict(
        name=name,
        color=colour,
        loss_label=loss_label,
        loss_short=LOSSES[cfg["loss"]].short,
        names=list(h.param_names),
        lr=float(cfg["lr"]),
        optimizer=cfg["optimizer"],
        optimizer_label=OPTIMIZERS[cfg["optimizer"]].label,
        plain_sgd=plain_sgd,
        minibatch=minibatch,
        batch=batch,
        diverged_at=h.diverged_at,
        last=h.last_epoch,
        loss=_typed(h.loss),
        params=_typed(h.params),
        grads=_typed(h.grads),
        frame_epochs=_typed(np.asarray(h.frame_epochs, np.int32)),
        frame_preds=figures.packed(h.frame_preds),
        # An outline run's curve is (x(t), y(t)): frames of (x, y) pairs, drawn as both.
        outline=bool(np.ndim(h.y) == 2),
        ranges=figures.loss_ranges(h.loss, floor, also=h.val_loss),
        rises=len(figures.rises(h.loss)),
        rise_spans=figures.spans(np.isin(np.arange(len(h.loss)), figures.rises(h.loss))),
        noise=rounding_noise_spans(h),
        notes=epoch_notes(h, plain_sgd),
    )


def rounding_noise_spans(h: History) -> list[list[int]]:
    """``[parameter, first, last]`` for each run of epochs at which that parameter's
    gradient is rounding noise around 0 (``descent.rounding_noise``): the table shows ≈ 0
    there, not the noise."""
    last = h.last_epoch + 1
    noise = rounding_noise(h.grads[:last], grad_scales(h))
    return [[i, a, b] for i in range(noise.shape[1]) for a, b in figures.spans(noise[:, i])]


def dead_relu_words(i: int, relus: int, momentum: bool = False) -> str:
    """Why a dead ReLU (number ``i`` of ``relus``) no longer learns, in plain words;
    ``momentum``: the optimizer carries steps over (momentum, Adam)."""
    m, b = f"m[{i}]", f"b[{i}]"
    who = "The ReLU is dead" if relus == 1 else f"ReLU {i} ({m}, {b}) is dead"
    then = (
        "gradient descent alone cannot revive it (only momentum left from earlier steps "
        "still moves them)"
        if momentum
        else "gradient descent can never revive it"
    )
    return (
        f"{who}: no point is on its active side ({m}·x + {b} ≤ 0 at every x), so a small "
        f"change of {m} or {b} changes nothing: their gradients are 0, and {then}."
    )


LOOSE_GRADIENT = MappingProxyType(
    {
        "l1": "L1's gradient does not shrink as the errors shrink: it adds up the sign of each "
        "error (L2's divides the errors by their size)",
        "l2": "L2's gradient does not shrink as the errors shrink: it divides the errors by their "
        "size (L1's adds up the sign of each error)",
    }
)


def epoch_notes(h: History, plain_sgd: bool) -> list[dict]:
    """Notes that hold at some epochs of a run: ``{kind, text, spans}``, where ``spans``
    lists the ``[first, last]`` epochs at which the note holds; the player shows the notes
    of the epoch it shows."""
    notes = []
    dead = figures.dead_relus(h.model, h.params, h.x)
    relus = dead.shape[-1]
    for i in range(relus):
        spans = figures.spans(dead[:, i])
        if spans:
            text = dead_relu_words(i, relus, momentum=h.config["optimizer"] != "sgd")
            text += (
                " Start from values that put its kink inside the data (fit by hand, or "
                "another seed)."
            )
            notes.append(dict(kind="warn", text=text, spans=spans))
    loss = h.config["loss"]
    if plain_sgd and loss in LOOSE_GRADIENT:
        spans = figures.spans(figures.past_the_bottom(h.loss, h.grads, float(h.config["lr"])))
        if spans:
            text = (
                "This step went past the bottom: the loss left is less than a step at this "
                "gradient removes (learning rate × gradient² is more than the loss), and the "
                f"gradient after it points back. {LOOSE_GRADIENT[loss]}, so a fixed learning "
                "rate keeps stepping past the bottom however close the fit. Lower the "
                "learning rate, or use MSE, whose gradient shrinks with the error."
            )
            notes.append(dict(kind="warn", text=text, spans=spans))
    return notes


def timeline(
    runs: Sequence[tuple[str, str, History]],
    labels=("x", "y"),
    outliers: tuple[int, ...] = (),
    loss_marks: Sequence[dict] = (),
) -> Timeline:
    """The player's data for ``[(name, colour, history), ...]`` (all with epoch 0 finite);
    ``outliers``: the points the outliers setting pushed off (ringed on the fit);
    ``loss_marks``: more traces for the loss chart (a branch's fork)."""
    fit = figures.player_fit_figure(list(runs), labels)
    loss = figures.player_loss_figure(list(runs))
    descent = None
    best = None
    if len(runs) == 1:
        h = runs[0][2]
        best = figures.best_fit(h)
        shown = figures.shown_params(h)
        plain = run_payload_plain_sgd(h)
        along = descent_figures.slope_params(h)
        descent = dict(
            shown=shown,
            params_fig=figures.player_params_figure(h, shown),
            best=None if best is None else dict(loss=best["loss"], params=best["params"].tolist()),
            slopes=descent_figures.slope_view(h, along, plain),
            pull=descent_figures.pull_view(h, along, outliers, labels),
        )
        # After the runs' own traces (the player moves those by index): the best fit, the
        # outliers, then the error lines, whose index the player is told.
        if best is not None:
            fit["data"].append(figures.best_fit_trace(h, best))
            loss["data"].append(figures.floor_trace(h, best["loss"]))
        if outliers:
            fit["data"].append(descent_figures.outliers_trace(h, outliers, labels))
        if descent["pull"] is not None:
            descent["error_trace"] = len(fit["data"])
            fit["data"].append(descent_figures.error_lines_trace())
    for i, (_, colour, h) in enumerate(runs):  # after the floor: part of the chart too
        loss["data"] += figures.val_loss_traces(h, colour, i)
    loss["data"] += list(loss_marks)
    if outliers and len(runs) > 1:  # (a single run's are ringed above, before its lines)
        fit["data"].append(descent_figures.outliers_trace(runs[0][2], outliers, labels))
    floor = None if best is None else best["loss"]
    payload = tuple(run_payload(n, c, h, floor) for n, c, h in runs)
    digest = hashlib.sha256()
    for (_, _, h), p in zip(runs, payload, strict=True):
        # What tells one run from another (the curves follow from the parameters).
        small = {k: v for k, v in p.items() if k not in ("loss", "params", "grads", "frame_preds")}
        digest.update(json.dumps(small, sort_keys=True, default=str).encode())
        for arr in (h.loss, h.params, h.grads, h.grid):
            digest.update(np.ascontiguousarray(arr).tobytes())
    # The runs' curves move without a redraw; the targets and the best fit are the chart.
    still = [dict(t, y=None) if 1 <= i <= len(runs) else t for i, t in enumerate(fit["data"])]
    fit_key = _digest([still, fit["layout"]])
    own = 3 * len(runs)  # the runs' loss traces; after them, the floor (part of the chart)
    loss_key = _digest(
        [loss["layout"], [t["name"] for t in loss["data"][:own]], loss["data"][own:]]
    )
    positive = np.concatenate([h.loss[h.loss > 0] for _, _, h in runs])
    wide = positive.size > 1 and float(positive.max()) > LOG_SPAN * float(positive.min())
    y_rng = fit["layout"]["yaxis"]["range"]
    return Timeline(
        digest.hexdigest()[:16],
        fit_key,
        loss_key,
        payload,
        fit,
        loss,
        (y_rng[0], y_rng[1]),
        wide,
        descent,
    )


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the epoch


def force_epoch(epoch: int) -> None:
    """Show ``epoch`` next time (a preset chosen, a link opened): the player's own epoch
    wins otherwise, so a new learning rate keeps the epoch in view."""
    nonce, _ = st.session_state.get("gx_force", (0, 0))
    st.session_state["gx_force"] = (nonce + 1, int(epoch))


def _reported(key: str, name: str):
    state = st.session_state.get(key)
    try:
        return state[name]
    except (KeyError, TypeError):
        return None


def _on_epoch(key: str) -> None:
    epoch = _reported(key, "epoch")
    if isinstance(epoch, int) and epoch >= 0:
        st.session_state["gx_epoch"] = epoch
        st.query_params["epoch"] = str(epoch)


def _on_log(key: str) -> None:
    log = _reported(key, "log")
    if isinstance(log, bool):
        st.session_state["gx_log"] = log
        st.query_params["log"] = "1" if log else "0"


def _on_along(key: str) -> None:
    along = _reported(key, "along")
    if isinstance(along, str) and along.count(",") == 1:
        st.session_state["gx_along"] = tuple(along.split(","))
        st.query_params["along"] = along


def _on_drawn(key: str) -> None:
    points = _reported(key, "drawn")
    if isinstance(points, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)
        for p in points
    ):
        from .controls import set_drawn  # controls imports this module

        set_drawn(points)
        st.session_state["gx_redraw"] = True


def shown_epoch() -> int:
    """The epoch the player last reported (or was sent to)."""
    return int(st.session_state.get("gx_epoch", 0))


def load_plotly() -> None:
    """Send Plotly.js to this browser page, on the session's first run only.

    Its 4.8 MB would otherwise be serialised and hashed on every rerun (about 8 ms, for a
    message the page already holds); once run, the module leaves ``globalThis.Plotly``
    behind even after Streamlit drops the element from the page.
    """
    slot = st.empty()  # always there, so that the elements after it keep their places
    if not st.session_state.get("gx_plotly_sent"):
        with slot:
            _plotly_loader(key="gx_plotly")
        st.session_state["gx_plotly_sent"] = True


def show(
    key: str,
    t: Timeline,
    *,
    loss_title: str,
    present: bool = False,
    landscape: dict | None = None,
    draw: list | None = None,
) -> None:
    """Mount the player for the timeline ``t`` (and, for a single run, its ``landscape``:
    ``descent_figures.landscape_view`` with a ``key``). ``draw``: the drawn points
    ([[x, y], ...]); a click on the fit chart then adds or removes one (``_on_drawn``)."""
    nonce, epoch = st.session_state.get("gx_force", (0, 0))
    log = st.session_state.get("gx_log")
    data = dict(
        key=t.key,
        fit_key=t.fit_key,
        loss_key=t.loss_key,
        runs=list(t.runs),
        fit=t.fit,
        loss_fig=t.loss,
        y_range=list(t.y_range),
        loss_title=loss_title,
        table_rows=TABLE_ROWS,
        compare_params=COMPARE_PARAMS,
        epoch=epoch,
        nonce=nonce,
        log=bool(t.wide if log is None else log),
        present=present,
        descent=t.descent,
        landscape=landscape,
        draw=None if draw is None else dict(points=draw, max=MAX_DRAWN),
    )
    _player(
        key=key,
        data=data,
        on_epoch_change=lambda: _on_epoch(key),
        on_log_change=lambda: _on_log(key),
        on_along_change=lambda: _on_along(key),
        on_drawn_change=lambda: _on_drawn(key),
    )
