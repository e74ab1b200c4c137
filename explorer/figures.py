"""Plotly figures as plain dicts: the animated fit, the loss curve, comparisons.

Figures are built as dicts in Plotly's schema with NumPy arrays packed as base64 typed
arrays, because building and validating ``plotly.graph_objects.Figure`` objects with a few
hundred frames costs tens of milliseconds on every rerun (REFERENCE.md). Tests validate
every figure against Plotly's schema instead.
"""

from __future__ import annotations

import base64
from types import MappingProxyType

import numpy as np

from .losses import LOSSES
from .train import History

COLORS = MappingProxyType(
    {
        "targets": "#1f2937",
        "model": "#e4572e",
        "start": "#9ca3af",
        "l1": "#2563eb",
        "l2": "#e4572e",
        "mse": "#16a34a",
        "huber": "#9333ea",
    }
)
FONT = MappingProxyType(dict(family="Source Sans Pro, sans-serif", size=14))


def packed(values) -> dict:
    """A float32 typed array for Plotly: ``{"dtype": "f4", "bdata": base64}``."""
    arr = np.ascontiguousarray(np.asarray(values, dtype="<f4"))
    return {"dtype": "f4", "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


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


def _targets(x: np.ndarray, y: np.ndarray, labels=("x", "y")) -> dict:
    return dict(
        type="scatter",
        mode="markers",
        name="targets",
        x=packed(x),
        y=packed(y),
        marker=dict(color=COLORS["targets"], size=7, opacity=0.8),
        hovertemplate=f"{labels[0]}=%{{x:.4g}}<br>{labels[1]}=%{{y:.4g}}<extra>target</extra>",
    )


def epoch_title(h: History, epoch: int) -> str:
    loss = h.config.get("loss", "l2")
    return f"epoch {epoch} · {LOSSES[loss].label.split(' ')[0]} = {fmt(h.loss[epoch])}"


def fit_figure(h: History, labels=("x", "y"), frame_ms: int = 60) -> dict:
    """The fit, animated over the run's frames with Play / Pause and an epoch scrubber.

    Trace 0 is the targets, trace 1 the model's curve; frames replace only trace 1's y
    and the title; frames redraw (the title is layout, which only a redraw updates), which
    costs a few milliseconds a frame on these small plots.
    """
    if len(h.frame_epochs) == 0:
        preds0 = np.full_like(h.grid, np.nan)
        frame_epochs = np.array([], int)
    else:
        preds0 = h.frame_preds[0]
        frame_epochs = h.frame_epochs
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
    frames = [
        dict(
            name=str(int(k)),
            data=[dict(y=packed(p))],
            traces=[1],
            layout=dict(title=dict(text=epoch_title(h, int(k)))),
        )
        for k, p in zip(frame_epochs, h.frame_preds, strict=True)
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
    return dict(data=[_targets(h.x, h.y, labels), curve], layout=layout, frames=frames)


def at_epoch(fig: dict, h: History, epoch: int) -> dict:
    """``fig`` from ``fit_figure`` showing ``epoch`` (a shallow copy; ``fig`` is shared)."""
    out = dict(fig)
    curve = dict(fig["data"][1], y=packed(h.predict(epoch, h.grid)), name=f"model at epoch {epoch}")
    out["data"] = [fig["data"][0], curve]
    layout = dict(fig["layout"], title=dict(fig["layout"]["title"], text=epoch_title(h, epoch)))
    if "sliders" in layout:
        names = [s["label"] for s in layout["sliders"][0]["steps"]]
        if str(epoch) in names:
            layout["sliders"] = [dict(layout["sliders"][0], active=names.index(str(epoch)))]
    out["layout"] = layout
    return out


def loss_figure(h: History, log: bool = False, height: int = 300) -> dict:
    """The loss at every epoch (trace 0); ``mark_epoch`` adds the current-epoch marker."""
    k = np.arange(len(h.loss))
    label = LOSSES[h.config.get("loss", "l2")].label
    layout = _layout(f"{label} by epoch", "epoch", "loss", height=height)
    layout["yaxis"]["type"] = "log" if log else "linear"
    layout["showlegend"] = False
    layout["margin"] = dict(l=60, r=20, t=40, b=45)
    return dict(
        data=[
            dict(
                type="scatter",
                mode="lines",
                name="loss",
                x=packed(k),
                y=packed(h.loss),
                line=dict(color=COLORS["model"], width=2),
                hovertemplate="epoch %{x}<br>loss %{y:.5g}<extra></extra>",
            )
        ],
        layout=layout,
    )


def mark_epoch(fig: dict, h: History, epoch: int) -> dict:
    """``loss_figure`` with a marker at ``epoch`` (a shallow copy)."""
    marker = dict(
        type="scatter",
        mode="markers",
        name="this epoch",
        x=[epoch],
        y=[float(h.loss[epoch])],
        marker=dict(color=COLORS["targets"], size=11, symbol="circle-open", line=dict(width=3)),
        hovertemplate="epoch %{x}<br>loss %{y:.5g}<extra>this epoch</extra>",
    )
    return dict(fig, data=[fig["data"][0], marker])


def compare_fit_figure(runs: dict[str, History], labels=("x", "y")) -> dict:
    """Targets, the shared start, and each loss's final fit overlaid."""
    first = next(iter(runs.values()))
    curves = [
        dict(
            type="scatter",
            mode="lines",
            name="start",
            x=packed(first.grid),
            y=packed(first.predict(0, first.grid)),
            line=dict(color=COLORS["start"], width=2, dash="dot"),
        )
    ]
    finals = []
    for name, h in runs.items():
        if h.last_epoch < 0:
            continue
        pred = h.predict(h.last_epoch, h.grid)
        finals.append(pred)
        note = f" (diverged at {h.diverged_at})" if h.diverged_at is not None else ""
        curves.append(
            dict(
                type="scatter",
                mode="lines",
                name=f"{LOSSES[name].label.split(' (')[0]}{note}",
                x=packed(h.grid),
                y=packed(pred),
                line=dict(color=COLORS[name], width=3),
            )
        )
    layout = _layout(
        f"Final fits after {first.config.get('epochs')} epochs, same start",
        labels[0],
        labels[1],
        [float(first.grid[0]), float(first.grid[-1])],
        y_range(first.y, *finals),
    )
    return dict(data=[_targets(first.x, first.y, labels), *curves], layout=layout)


def compare_loss_figure(runs: dict[str, History], log: bool = False) -> dict:
    """Loss curves side by side, one panel per loss (each in its own units)."""
    n = len(runs)
    gap = 0.06
    width = (1 - gap * (n - 1)) / n
    data, layout = [], _layout("Training loss by epoch", "", "", height=300)
    layout["showlegend"] = False
    layout["margin"] = dict(l=50, r=20, t=60, b=45)
    layout["annotations"] = []
    for i, (name, h) in enumerate(runs.items()):
        ax = "" if i == 0 else str(i + 1)
        x0 = i * (width + gap)
        layout[f"xaxis{ax}"] = dict(_axis("epoch"), domain=[x0, x0 + width], anchor=f"y{ax}")
        layout[f"yaxis{ax}"] = dict(_axis(""), anchor=f"x{ax}", type="log" if log else "linear")
        data.append(
            dict(
                type="scatter",
                mode="lines",
                name=name,
                x=packed(np.arange(len(h.loss))),
                y=packed(h.loss),
                xaxis=f"x{ax}",
                yaxis=f"y{ax}",
                line=dict(color=COLORS[name], width=2),
                hovertemplate=f"epoch %{{x}}<br>{name} %{{y:.5g}}<extra></extra>",
            )
        )
        layout["annotations"].append(
            dict(
                text=f"<b>{LOSSES[name].label}</b>",
                x=x0 + width / 2,
                y=1.08,
                xref="paper",
                yref="paper",
                showarrow=False,
                font=dict(size=13),
            )
        )
    return dict(data=data, layout=layout)


def hand_figure(x, y, grid, preds, title: str, labels=("x", "y"), rng=None) -> dict:
    """Targets and one curve (the fit-by-hand view)."""
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
