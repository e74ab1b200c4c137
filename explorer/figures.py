"""Plotly figures as plain dicts: the player's fit and loss charts, the standalone animation,
fit by hand.

Figures are built as dicts in Plotly's schema with NumPy arrays packed as base64 typed
arrays, because building and validating ``plotly.graph_objects.Figure`` objects with a few
hundred frames costs tens of milliseconds on every rerun. Tests validate
every figure against Plotly's schema instead.
"""

from __future__ import annotations

import base64
import html
from types import MappingProxyType

import numpy as np

from .losses import LOSSES
from .models import Model
from .train import History

# The targets' and a single run's colours; compared runs take their loss's (Loss.color).
COLORS = MappingProxyType({"targets": "#1f2937", "model": "#e4572e"})
RUN_COLORS = ("#e4572e", "#2563eb", "#059669", "#7c3aed")  # compared runs, in order
FONT = MappingProxyType(dict(family='"Source Sans", sans-serif', size=14))  # Streamlit's face
DASHES = ("solid", "dash", "dot", "dashdot")  # compared runs stay apart where they overlap


def packed(values, dtype: str | None = None) -> dict:
    """A typed array for Plotly: ``{"dtype": "f4", "bdata": base64}``. Curves are drawn,
    not read, so float32 by default (half the bytes), or float64 when a finite value lies
    beyond float32's range (a diverging float64 run); ``dtype`` ("<f8", "<i4") overrides."""
    if dtype is None:
        arr = np.asarray(values, dtype=np.float64)
        big = np.abs(arr[np.isfinite(arr)]) > np.finfo(np.float32).max
        dtype = "<f8" if big.any() else "<f4"
    arr = np.ascontiguousarray(np.asarray(values, dtype=dtype))
    return {"dtype": dtype[1:], "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


def unpack(value) -> np.ndarray:
    """Inverse of ``packed`` (lists pass through), for tests and exports."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


def fmt(v: float) -> str:
    """A number for people: 4 significant digits, no float noise."""
    v = float(v)
    if v == 0:
        return "0"
    if 1e-5 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"


def y_range(y: np.ndarray, *curves: np.ndarray, pad: float = 0.12) -> list[float]:
    """A fixed y range: the targets with padding, stretched towards the curves but never
    so far that the targets become a flat line (at most 3 target spans)."""
    lo, hi = float(np.min(y)), float(np.max(y))
    span = hi - lo or max(abs(hi), 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    for c in curves:
        c = np.asarray(c)[np.isfinite(c)]
        if c.size:
            lo = max(min(lo, float(c.min())), lo - span)
            hi = min(max(hi, float(c.max())), hi + span)
    return [lo, hi]


def _axis(title: str, rng=None, log: bool = False) -> dict:
    ax = dict(title=dict(text=title), zeroline=False, gridcolor="#e5e7eb")
    if rng is not None:
        ax.update(range=rng, autorange=False)
    if log:
        ax["type"] = "log"
    return ax


def _layout(title: str, x_title: str, y_title: str, x_rng=None, y_rng=None, height=420) -> dict:
    return dict(
        title=dict(text=title, x=0.02, xanchor="left"),
        xaxis=_axis(x_title, x_rng),
        yaxis=_axis(y_title, y_rng),
        height=height,
        margin=dict(l=60, r=20, t=50, b=50),
        font=dict(FONT),
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="closest",
    )


def plotly_text(text: str) -> str:
    """``text`` as Plotly shows it literally: Plotly reads a few HTML tags and entities in
    titles and hover text, and ``%{...}`` in hover templates."""
    return html.escape(str(text), quote=False).replace("%", "&#37;").replace("{", "&#123;")


def _labels(labels) -> tuple[str, str]:
    return plotly_text(labels[0]), plotly_text(labels[1])


def _targets(x: np.ndarray, y: np.ndarray, labels=("x", "y"), held=None) -> dict:
    """The target points; those in ``held`` ((n,) bool: held out of training) hollow."""
    marker = dict(color=COLORS["targets"], size=7, opacity=0.8)
    name = "targets"
    if held is not None and np.any(held):
        marker["symbol"] = ["circle-open" if h else "circle" for h in held]
        marker["line"] = dict(width=2, color=COLORS["targets"])
        name = "targets (hollow: held out)"
    return dict(
        type="scatter",
        mode="markers",
        name=name,
        x=packed(x),
        y=packed(y),
        marker=marker,
        hovertemplate=f"{labels[0]}=%{{x:.4g}}<br>{labels[1]}=%{{y:.4g}}<extra>target</extra>",
    )


def _outline(h: History) -> bool:
    """A run of a curve model on an outline: targets (n, 2), curves (G, 2) over t."""
    return h.model.outputs == 2


def _curve_xy(points: np.ndarray) -> dict:
    """A curve's (G, 2) points as a trace's x and y (an outline run)."""
    points = np.asarray(points)
    return dict(x=packed(points[:, 0]), y=packed(points[:, 1]))


def _outline_targets(y: np.ndarray, held=None) -> dict:
    """An outline's points, in order and joined, closed (the last point is the first);
    those in ``held`` hollow."""
    trace = _targets(y[:, 0], y[:, 1], held=held)
    trace.update(mode="lines+markers", line=dict(color=COLORS["targets"], width=1))
    trace["hovertemplate"] = "x=%{x:.4g}<br>y=%{y:.4g}<extra>target</extra>"
    return trace


def _outline_axes(layout: dict, h: History, *curves: np.ndarray) -> None:
    """An outline's axes: x and y on one scale (a cat keeps its shape), each range from
    the targets stretched towards the curves (as ``y_range``)."""
    layout["xaxis"].update(range=y_range(h.y[:, 0], *(c[..., 0] for c in curves)))
    layout["yaxis"].update(
        range=y_range(h.y[:, 1], *(c[..., 1] for c in curves)), scaleanchor="x", scaleratio=1
    )
    layout["xaxis"]["autorange"] = layout["yaxis"]["autorange"] = False


def val_loss_traces(h: History, colour: str, panel: int = 0) -> list[dict]:
    """The loss on the held-out points by epoch (dotted) and its lowest epoch (a star), in
    loss panel ``panel``; [] for a run without held-out points."""
    if h.val_loss is None or not np.isfinite(h.val_loss).any():
        return []
    ax = "" if panel == 0 else str(panel + 1)
    k = np.arange(len(h.val_loss))
    best = int(np.nanargmin(h.val_loss))
    common = dict(type="scatter", xaxis=f"x{ax}", yaxis=f"y{ax}", showlegend=False)
    return [
        dict(
            common,
            mode="lines",
            name="held out",
            x=packed(k),
            y=packed(h.val_loss),
            line=dict(color=colour, width=2, dash="dot"),
            hovertemplate="epoch %{x}<br>held-out loss %{y:.5g}<extra>held out</extra>",
        ),
        dict(
            common,
            mode="markers+text",
            name="lowest held-out loss",
            x=[best],
            y=[float(h.val_loss[best])],
            text=[f"lowest held-out loss (epoch {best})"],
            textposition="top right",
            textfont=dict(size=11, color=colour),
            marker=dict(color=colour, size=12, symbol="star"),
            hovertemplate="epoch %{x}: the lowest held-out loss, %{y:.5g}<extra></extra>",
        ),
    ]


def epoch_title(h: History, epoch: int) -> str:
    loss = h.config.get("loss", "l2")
    return f"epoch {epoch} · {LOSSES[loss].short} = {fmt(h.loss[epoch])}"


EXPORT_FRAMES = 200  # frames in the standalone animation (a download, played by Plotly)


def fit_figure(h: History, labels=("x", "y"), frame_ms: int = 60) -> dict:
    """The fit, animated with Plotly's own Play / Pause and scrubber: the standalone page
    that ``to_html`` exports (the app draws runs with its player instead). At most
    ``EXPORT_FRAMES`` of the run's frames, spread over them as evenly as they come.

    Trace 0 is the targets, trace 1 the model's curve; frames replace only trace 1's y
    and the title; frames redraw (the title is layout, which only a redraw updates), which
    costs a few milliseconds a frame on these small plots.
    """
    labels = _labels(labels)
    outline = _outline(h)
    if len(h.frame_epochs) == 0:
        preds0 = np.full(h.frame_preds.shape[1:], np.nan)
        frame_epochs, frame_preds = np.array([], int), h.frame_preds
    else:
        pick = np.unique(np.round(np.linspace(0, len(h.frame_epochs) - 1, EXPORT_FRAMES)))
        pick = pick.astype(int)
        frame_epochs, frame_preds = h.frame_epochs[pick], h.frame_preds[pick]
        preds0 = frame_preds[0]
    layout = _layout(
        epoch_title(h, 0) if len(h.loss) else "the loss is not finite at the start",
        labels[0],
        labels[1],
        [float(h.grid[0]), float(h.grid[-1])],
        y_range(h.y, h.frame_preds),
    )
    curve = dict(
        type="scatter",
        mode="lines",
        name="model",
        x=packed(h.grid),
        y=packed(preds0),
        line=dict(color=COLORS["model"], width=3),
        hovertemplate="x=%{x:.4g}<br>prediction=%{y:.4g}<extra>model</extra>",
    )
    if outline:  # the curve (x(t), y(t)): every frame moves both coordinates
        curve.update(
            _curve_xy(preds0), hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}<extra>model</extra>"
        )
        _outline_axes(layout, h, h.frame_preds)
    frames = [
        dict(
            name=str(int(k)),
            data=[_curve_xy(p) if outline else dict(y=packed(p))],
            traces=[1],
            layout=dict(title=dict(text=epoch_title(h, int(k)))),
        )
        for k, p in zip(frame_epochs, frame_preds, strict=True)
    ]
    anim = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    if frames:
        layout["updatemenus"] = [
            dict(
                type="buttons",
                direction="left",
                showactive=False,
                x=0.11,
                y=0,
                xanchor="right",
                yanchor="top",
                pad=dict(t=62, r=8),
                buttons=[
                    dict(
                        label="▶ Play",
                        method="animate",
                        args=[
                            None,
                            dict(
                                frame=dict(duration=frame_ms, redraw=True),
                                transition=dict(duration=0),
                                fromcurrent=True,
                                mode="immediate",
                            ),
                        ],
                    ),
                    dict(label="❚❚ Pause", method="animate", args=[[None], anim]),
                ],
            )
        ]
        layout["sliders"] = [
            dict(
                active=0,
                x=0.13,
                len=0.87,
                y=0,
                xanchor="left",
                yanchor="top",
                pad=dict(t=45, b=0),
                currentvalue=dict(
                    prefix="epoch ", visible=True, xanchor="right", font=dict(size=13)
                ),
                steps=[
                    dict(label=f["name"], method="animate", args=[[f["name"]], anim])
                    for f in frames
                ],
            )
        ]
        layout["margin"]["b"] = 130
        layout["height"] = 500
    targets = _outline_targets(h.y, h.val_mask) if outline else _targets(h.x, h.y, labels)
    return dict(data=[targets, curve], layout=layout, frames=frames)


def hand_figure(x, y, grid, preds, title: str, labels=("x", "y"), rng=None) -> dict:
    """Targets and one curve (the fit-by-hand view)."""
    labels = _labels(labels)
    layout = _layout(
        title, labels[0], labels[1], [float(grid[0]), float(grid[-1])], rng or y_range(y, preds)
    )
    return dict(
        data=[
            _targets(x, y, labels),
            dict(
                type="scatter",
                mode="lines",
                name="your curve",
                x=packed(grid),
                y=packed(preds),
                line=dict(color=COLORS["model"], width=3),
            ),
        ],
        layout=layout,
    )


def to_html(fig: dict) -> str:
    """A standalone HTML page (plotly.js inlined) that plays the figure offline."""
    import plotly.io as pio

    return pio.to_html(fig, include_plotlyjs=True, full_html=True, auto_play=False, validate=False)


# ----------------------------------------------------------------------------- player
# The browser player (webapp/player.js) draws these once per run and then moves only the
# scatter traces it is told about: the model curves on the fit, the markers on the loss.


# A loss that rises by less than this share of itself rose by float64 rounding (5.6e-17 on a
# loss of 0.17 at the bottom of a line's valley), not because the step overshot.
RISE = 1e-12


def rises(loss: np.ndarray) -> np.ndarray:
    """Epochs k >= 1 whose loss is higher than at k - 1 by more than rounding (RISE): the
    step before them overshot."""
    loss = np.asarray(loss, float)
    return np.flatnonzero(np.diff(loss) > RISE * np.abs(loss[:-1])) + 1


def dead_relus(model: Model, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Which ReLUs of a relu-sum model are dead at ``params`` ((P,) or (K, P)): no point is
    on their active side (m[i]·x + b[i] <= 0 at every x), so m[i] and b[i] get a gradient
    of exactly 0. Booleans (..., R); (..., 0) for other models.

    m·x + b is monotonic in x, and stays so once rounded, so its largest value over the
    points is at the smallest or the largest x: two ends to check, not every point.
    """
    params = np.asarray(params, np.float64)
    if model.name != "relu-sum":
        return np.zeros((*params.shape[:-1], 0), bool)
    r = int(model.option("relus"))
    names = model.layout
    m = params[..., [names.index(f"m[{i}]") for i in range(r)]]
    b = params[..., [names.index(f"b[{i}]") for i in range(r)]]
    x = np.asarray(x, np.float64)
    return (x.min() * m + b <= 0) & (x.max() * m + b <= 0)


def past_the_bottom(loss: np.ndarray, grads: np.ndarray, lr: float) -> np.ndarray:
    """Epochs k (booleans (K,)) of a plain full-batch gradient descent run whose step
    went past the bottom while the loss was near 0 for a step of that size:

    - the loss left is less than the step would remove were the loss to keep falling as
      fast as the gradient says: lr·|g_k|² > loss_k;
    - the step passed the bottom along its direction: the gradient after it points back,
      g_k · g_(k+1) < 0 (so the last epoch, with no step after it, is never one).

    Under L1 and L2 this persists however close the fit comes, as their gradients do not
    shrink with the errors (MSE's do).
    """
    grads = np.asarray(grads, np.float64)
    loss = np.asarray(loss, np.float64)
    long_step = lr * np.sum(grads * grads, axis=-1) > loss
    turned = np.zeros(loss.shape, bool)
    turned[:-1] = np.sum(grads[:-1] * grads[1:], axis=-1) < 0
    return long_step & turned


def spans(flags: np.ndarray) -> list[list[int]]:
    """The runs of True in ``flags`` as inclusive ``[first, last]`` index pairs."""
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(f.astype(np.int8)))
    return [[int(a), int(b) - 1] for a, b in zip(edges[::2], edges[1::2], strict=True)]


def player_fit_figure(runs: list[tuple[str, str, History]], labels=("x", "y")) -> dict:
    """Targets (trace 0) and one model curve per run (traces 1..R) at epoch 0.

    ``runs`` is ``[(name, colour, history), ...]``; the y range stays on the data,
    whatever the runs do: a curve that flies off leaves the points readable (the player
    says where it went), and the chart stays put when only the training changes.
    """
    labels = _labels(labels)
    first = runs[0][2]
    if _outline(first):
        return _player_outline_figure(runs)
    curves = []
    for i, (name, colour, h) in enumerate(runs):
        y0 = h.frame_preds[0] if len(h.frame_epochs) else np.full_like(h.grid, np.nan)
        curves.append(
            dict(
                type="scatter",
                mode="lines",
                name=name,
                x=packed(h.grid),
                y=packed(y0),
                line=dict(color=colour, width=3, dash=DASHES[i % len(DASHES)]),
                hovertemplate=f"x=%{{x:.4g}}<br>prediction=%{{y:.4g}}<extra>{name}</extra>",
            )
        )
    layout = _layout(
        "",
        labels[0],
        labels[1],
        [float(first.grid[0]), float(first.grid[-1])],
        y_range(first.y, pad=0.2),
    )
    layout.pop("title")
    layout.pop("height")  # the player's stylesheet sizes its charts
    layout["autosize"] = True
    layout["margin"] = dict(l=56, r=12, t=34, b=48)
    layout["legend"] = dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0.0)
    targets = _targets(first.x, first.y, labels, first.val_mask)
    return dict(data=[targets, *curves], layout=layout)


def _player_outline_figure(runs: list[tuple[str, str, History]]) -> dict:
    """``player_fit_figure`` of outline runs: the targets in order (trace 0) and each run's
    curve (x(t), y(t)) at epoch 0 (traces 1..R), x and y on one scale. A player moving
    these curves sets both their x and y from ``History.frame_preds[k]`` (F, G, 2)."""
    first = runs[0][2]
    curves = []
    for i, (name, colour, h) in enumerate(runs):
        p0 = h.frame_preds[0] if len(h.frame_epochs) else np.full((len(h.grid), 2), np.nan)
        curves.append(
            dict(
                type="scatter",
                mode="lines",
                name=name,
                **_curve_xy(p0),
                line=dict(color=colour, width=3, dash=DASHES[i % len(DASHES)]),
                hovertemplate=f"x=%{{x:.4g}}<br>y=%{{y:.4g}}<extra>{name}</extra>",
            )
        )
    layout = _layout("", "x", "y")
    _outline_axes(layout, first)
    layout.pop("title")
    layout.pop("height")
    layout["autosize"] = True
    layout["margin"] = dict(l=56, r=12, t=34, b=48)
    layout["legend"] = dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0.0)
    return dict(data=[_outline_targets(first.y, first.val_mask), *curves], layout=layout)


def loss_ranges(loss: np.ndarray, floor: float | None = None, also=None) -> dict:
    """The loss chart's axis ranges: x over the epochs, y from 0 (linear) or over the
    positive losses (log, in decades), so that switching scales or runs never autoranges;
    a positive ``floor`` (the best possible loss) and the values ``also`` (the held-out
    loss) are kept in view."""
    loss = np.asarray(loss, float)
    last = max(len(loss) - 1, 1)
    if also is not None:
        also = np.asarray(also, float)
        loss = np.concatenate([loss, also[np.isfinite(also)]])
    top = float(loss.max()) if loss.size else 1.0
    positive = loss[loss > 0]
    if floor is not None and floor > 0 and positive.size:
        positive = np.append(positive, floor)
    lo, hi = (np.log10(positive.min()), np.log10(positive.max())) if positive.size else (0, 1)
    pad = 0.08 * max(hi - lo, 0.5)
    return dict(
        x=[-0.02 * last, 1.02 * last], y=[0.0, 1.08 * top or 1.0], y_log=[lo - pad, hi + pad]
    )


def player_loss_figure(runs: list[tuple[str, str, History]], log: bool = False) -> dict:
    """Loss by epoch, one panel per run (each loss in its own units).

    Per run r the traces are 3r: the loss, 3r + 1: the epochs where the loss rose (the
    step before overshot), 3r + 2: the current-epoch marker the player moves. A linear
    axis starts at 0, so a small change looks small (ranges from ``loss_ranges``).
    """
    n = len(runs)
    gap = 0.1 if n > 1 else 0.0
    width = (1 - gap * (n - 1)) / n
    layout = _layout("", "", "")
    layout.pop("title")
    layout.pop("height")
    layout["autosize"] = True
    layout["showlegend"] = False
    layout["margin"] = dict(l=56, r=14, t=30 if n > 1 else 12, b=48)
    layout["annotations"] = []
    data = []
    for i, (name, colour, h) in enumerate(runs):
        ax = "" if i == 0 else str(i + 1)
        x0 = i * (width + gap)
        rng = loss_ranges(h.loss, also=h.val_loss)
        # One "epoch" title under the panels, and few ticks, so narrow panels stay legible.
        layout[f"xaxis{ax}"] = dict(
            _axis("epoch" if i == (n - 1) // 2 else "", rng["x"]),
            domain=[x0, x0 + width],
            anchor=f"y{ax}",
            nticks=6 if n == 1 else 3,
        )
        yaxis = dict(_axis("loss" if i == 0 else "", rng["y_log"] if log else rng["y"]))
        yaxis.update(anchor=f"x{ax}", type="log" if log else "linear")
        layout[f"yaxis{ax}"] = yaxis
        k = np.arange(len(h.loss))
        up = rises(h.loss)
        common = dict(type="scatter", xaxis=f"x{ax}", yaxis=f"y{ax}")
        data += [
            dict(
                common,
                mode="lines",
                name=name,
                x=packed(k),
                y=packed(h.loss),
                line=dict(color=colour, width=2),
                hovertemplate=f"epoch %{{x}}<br>loss %{{y:.5g}}<extra>{name}</extra>",
            ),
            dict(
                common,
                mode="markers",
                name="loss rose",
                x=packed(up),
                y=packed(h.loss[up]),
                # Thousands of small rises (a long zig-zag) would cost seconds of SVG:
                # Plotly draws an even subset; the player's summary gives the count.
                marker=dict(
                    color="#b45309", size=6, symbol="triangle-up", opacity=0.75, maxdisplayed=200
                ),
                hovertemplate="epoch %{x}: the loss rose to %{y:.5g}<extra>overshoot</extra>",
            ),
            dict(
                common,
                mode="markers",
                name="this epoch",
                x=[0],
                y=[float(h.loss[0])] if len(h.loss) else [None],
                marker=dict(
                    color=COLORS["targets"], size=11, symbol="circle-open", line=dict(width=3)
                ),
                cliponaxis=False,  # whole at the last epoch, on the panel's edge
                hovertemplate="epoch %{x}<br>loss %{y:.5g}<extra>this epoch</extra>",
            ),
        ]
        if n > 1:
            layout["annotations"].append(
                dict(
                    text=f"<b>{name}</b>",
                    x=x0 + width / 2,
                    y=1.0,
                    yanchor="bottom",
                    xref="paper",
                    yref="paper",
                    showarrow=False,
                    font=dict(size=13),
                )
            )
    return dict(data=data, layout=layout)


# ----------------------------------------------------------------------------- the descent

PARAM_COLORS = ("#2563eb", "#059669", "#7c3aed", "#d97706", "#db2777", "#0891b2")
BEST = "#6b7280"  # the least-squares optimum: grey, dashed


def shown_params(h: History, most: int = len(PARAM_COLORS)) -> list[int]:
    """The parameters a chart of every epoch shows: all of them, or for bigger models the
    ``most`` whose values spanned the widest range over the run (in ``param_names`` order)."""
    p = h.model.n_params
    if p <= most:
        return list(range(p))
    movement = np.ptp(h.params, axis=0) if len(h.params) else np.zeros(p)
    return sorted(np.argsort(-movement, kind="stable")[:most].tolist())


def player_params_figure(h: History, shown: list[int]) -> dict:
    """Each shown parameter against the epoch (traces 0..S-1) and, last, the current
    epoch's values (one marker per parameter) that the player moves."""
    k = np.arange(len(h.loss))
    data = []
    for j, i in enumerate(shown):
        name = plotly_text(h.param_names[i])
        data.append(
            dict(
                type="scatter",
                mode="lines",
                name=name,
                x=packed(k),
                y=packed(h.params[:, i]),
                line=dict(color=PARAM_COLORS[j % len(PARAM_COLORS)], width=2),
                hovertemplate=f"epoch %{{x}}<br>{name} = %{{y:.6g}}<extra></extra>",
            )
        )
    data.append(
        dict(
            type="scatter",
            mode="markers",
            name="this epoch",
            showlegend=False,
            x=[0] * len(shown),
            y=[float(h.params[0, i]) for i in shown] if len(h.params) else [None] * len(shown),
            marker=dict(color=COLORS["targets"], size=9, symbol="circle-open", line=dict(width=2)),
            cliponaxis=False,
            hoverinfo="skip",
        )
    )
    vals = h.params[:, shown] if len(h.params) else np.zeros((1, 1))
    lo, hi = float(np.min(vals)), float(np.max(vals))
    pad_ = 0.08 * (hi - lo) if hi > lo else max(0.1 * abs(hi), 0.5)
    last = max(len(h.loss) - 1, 1)
    layout = _layout("", "epoch", "value", [-0.02 * last, 1.02 * last], [lo - pad_, hi + pad_])
    layout.pop("title")
    layout.pop("height")
    layout["autosize"] = True
    layout["xaxis"]["nticks"] = 6
    layout["margin"] = dict(l=56, r=14, t=30, b=44)
    layout["legend"] = dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0)
    return dict(data=data, layout=layout)


def best_fit(h: History) -> dict | None:
    """The least-squares optimum of a model linear in its parameters trained under MSE or
    L2 (the lowest loss any parameters reach, not only gradient descent's): its parameters,
    its curve on ``h.grid`` ((G, 2) for an outline run) and its loss (the run's own). None
    for other runs."""
    if not h.model.linear or h.config.get("loss") not in ("mse", "l2"):
        return None
    from .train import evaluate  # the loss as the engine computes it

    best = h.model.least_squares(h.x, h.y)
    loss = evaluate(h.model, best, h.x, h.y, h.config["loss"]).loss
    preds = np.asarray(h.model.predict(best, np.asarray(h.grid, np.float64)))
    return dict(params=best, preds=preds, loss=float(loss))


def best_fit_trace(h: History, best: dict) -> dict:
    """The least-squares curve on the fit chart: grey, dashed, under the model's (for an
    outline run, the curve (x(t), y(t)))."""
    trace = dict(
        type="scatter",
        mode="lines",
        name="best possible",
        x=packed(h.grid),
        y=packed(best["preds"]),
        line=dict(color=BEST, width=2, dash="dash"),
        hovertemplate="x=%{x:.4g}<br>prediction=%{y:.4g}<extra>least squares</extra>",
    )
    if _outline(h):
        trace.update(_curve_xy(best["preds"]), hovertemplate="x=%{x:.4g}<br>y=%{y:.4g}")
    return trace


def floor_trace(h: History, loss: float) -> dict:
    """The least-squares loss as a floor line across the loss chart."""
    last = max(len(h.loss) - 1, 1)
    text = f"best possible: {fmt(loss)}"
    return dict(
        type="scatter",
        mode="lines+text",
        name="best possible",
        x=[0, last],
        y=[loss, loss],
        # Under the line at the left: nothing is drawn there (no loss is below the floor,
        # and the curve starts high), where at the right the curve closes in on it.
        text=[text, ""],
        textposition="bottom right",
        textfont=dict(color=BEST, size=12),
        line=dict(color=BEST, width=1.5, dash="dash"),
        hovertemplate=f"{text} (least squares)<extra></extra>",
    )


# ----------------------------------------------------------------------------- learning rates


def _log_range(values, pad: float = 0.08) -> list[float]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return [-1.0, 1.0]
    lo, hi = float(np.log10(v.min())), float(np.log10(v.max()))
    extra = pad * max(hi - lo, 0.5)
    return [lo - extra, hi + extra]


def _lr_layout(y_title: str, lrs, y_rng) -> dict:
    lx = np.log10(np.asarray(lrs, float))
    layout = _layout("", "learning rate", y_title)
    layout.pop("title")
    layout.pop("height")
    layout["autosize"] = True
    layout["xaxis"].update(type="log", range=[float(lx.min()) - 0.1, float(lx.max()) + 0.1])
    layout["xaxis"]["exponentformat"] = "power"
    layout["yaxis"].update(type="log", range=y_rng, autorange=False, exponentformat="power")
    layout["height"] = 420
    layout["margin"] = dict(l=60, r=16, t=30, b=48)
    layout["showlegend"] = False  # the captions under the charts name each mark
    layout["yaxis"]["dtick"] = "D2"  # log ticks at 1, 2, 5 only
    return layout


def _vline(name: str, x: float, y_rng, color: str, dash: str, label: str) -> dict:
    return dict(
        type="scatter",
        mode="lines",
        name=name,
        x=[x, x],
        y=[10 ** y_rng[0], 10 ** y_rng[1]],
        line=dict(color=color, width=2, dash=dash),
        hovertemplate=f"{label}<extra></extra>",
    )


BLEW_UP = 1e3  # a run that ends above this many times its start loss is drawn on the top edge


def sweep_figure(
    lrs, final, best, diverged_at, lr: float, limit: float | None, start_loss: float
) -> dict:
    """Final and best loss against the learning rate (log-log), one run per rate: runs
    that diverged, or ended above ``BLEW_UP`` times the start loss, sit on the top edge
    (their epoch of divergence or their loss in the hover); the run's own rate and, where
    it applies, the stability limit 2/λmax are vertical lines."""
    lrs = np.asarray(lrs, float)
    final = np.asarray(final, float)
    best = np.asarray(best, float)
    div = np.array([d is not None for d in diverged_at])
    cap = BLEW_UP * start_loss if np.isfinite(start_loss) and start_loss > 0 else np.inf
    up = ~div & np.isfinite(final) & (final > cap)
    ok = ~div & np.isfinite(final) & ~up
    seen = np.isfinite(best) & (best <= cap)
    rng = _log_range(np.concatenate([final[ok], best[seen], [start_loss]]))
    rng[1] += 0.1 * (rng[1] - rng[0])
    top = 10 ** rng[1]
    edge = div | up
    hover = [
        f"diverged at epoch {d}" if d is not None else f"final loss {fmt(f)}"
        for d, f, e in zip(diverged_at, final, edge, strict=True)
        if e
    ]
    data = [
        dict(
            type="scatter",
            mode="lines+markers",
            name="final loss",
            x=lrs[ok].tolist(),
            y=final[ok].tolist(),
            line=dict(color=COLORS["model"], width=2),
            marker=dict(color=COLORS["model"], size=8),
            hovertemplate="lr %{x:.3g}<br>final loss %{y:.4g}<extra>choose to train at it</extra>",
        ),
        dict(
            type="scatter",
            mode="markers",
            name="best loss",
            x=lrs[seen].tolist(),
            y=best[seen].tolist(),
            marker=dict(color="#2563eb", size=7, symbol="circle-open", line=dict(width=2)),
            hovertemplate="lr %{x:.3g}<br>best loss %{y:.4g}<extra>choose to train at it</extra>",
        ),
        dict(
            type="scatter",
            mode="markers",
            name="off the top",
            x=lrs[edge].tolist(),
            y=[top] * int(edge.sum()),
            customdata=hover,
            marker=dict(
                color="#b91c1c", size=9, symbol="x-thin", line=dict(width=2, color="#b91c1c")
            ),
            cliponaxis=False,
            hovertemplate="lr %{x:.3g}<br>%{customdata}<extra>off the top</extra>",
        ),
        _vline("this run", lr, rng, COLORS["targets"], "dot", f"this run: lr {fmt(lr)}"),
    ]
    if limit is not None:
        text = f"stability limit 2/λmax = {fmt(limit)}"
        data.append(_vline("2/λmax", limit, rng, "#7c3aed", "dash", text))
    return dict(data=data, layout=_lr_layout("loss after the run", lrs, rng))


def lr_find_figure(finder) -> dict:
    """fastai's ``lr_find`` curve (smoothed loss against the growing learning rate) with
    its suggestions marked: valley (fastai's default), minimum / 10, steepest."""
    # As fastai plots it: without the last 5 steps (skip_end=5), where the loss blows up.
    keep = max(len(finder.lrs) - 5, 1)
    lrs = np.asarray(finder.lrs, float)[:keep]
    losses = np.asarray(finder.losses, float)[:keep]
    ok = np.isfinite(losses)
    lo, hi = (float(losses[ok].min()), float(losses[ok].max())) if ok.any() else (0.0, 1.0)
    rng = [lo - 0.05 * (hi - lo or 1.0), hi + 0.05 * (hi - lo or 1.0)]
    data = [
        dict(
            type="scatter",
            mode="lines",
            name="loss",
            x=lrs[ok].tolist(),
            y=losses[ok].tolist(),
            line=dict(color=COLORS["targets"], width=2),
            hovertemplate="lr %{x:.3g}<br>smoothed loss %{y:.4g}<extra></extra>",
        )
    ]
    marks = (
        ("valley", finder.suggestion, "#e4572e", "star"),
        ("min/10", finder.minimum, "#2563eb", "diamond"),
        ("steepest", finder.steepest, "#059669", "triangle-down"),
    )
    for name, at, colour, symbol in marks:
        if at is None or not ok.any():
            continue
        y = float(np.interp(np.log(at), np.log(lrs[ok]), losses[ok]))
        data.append(
            dict(
                type="scatter",
                mode="markers",
                name=f"{name}: {fmt(at)}",
                x=[float(at)],
                y=[y],
                marker=dict(
                    color=colour, size=13, symbol=symbol, line=dict(width=1, color="white")
                ),
                hovertemplate=f"{name}<br>lr %{{x:.3g}}<extra></extra>",
            )
        )
    layout = _lr_layout("smoothed loss", lrs, rng)
    layout["yaxis"].update(type="linear", exponentformat="B")
    layout["yaxis"].pop("dtick")
    return dict(data=data, layout=layout)
