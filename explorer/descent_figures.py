"""The descent's charts for the player, as plain Plotly dicts with the data they move
through: the loss landscape over two parameters, the slope along each parameter, and
each point's pull on the gradient.

Each chart is drawn once per run; the player moves its scatter traces (and, for models
with more than two parameters, swaps the landscape's map) as the epoch moves, with fixed
axes, so that no epoch costs a redraw. What changes with the epoch is computed here, at a
few "detail" epochs (every epoch of a short run; for a long one, the first epochs and a
geometric spacing after, like the animation's frames), and the player says when it shows
the nearest of them instead of the epoch itself.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from .descent import (
    contributions_at,
    landscapes,
    least_squares_points,
    moved_most,
    predictions_at,
    slopes,
)
from .figures import _axis, _layout, packed, plotly_text
from .losses import LOSSES
from .train import History, frame_epochs

DETAIL_EPOCHS = 120  # epochs with a slope curve and each point's pull (at most)
MAP_EPOCHS = 24  # maps of the landscape for a model with more than two parameters
RESOLUTION = MappingProxyType({"exact": 61, "held": 41})  # grid points per axis
SLOPE_POINTS = 41  # values per parameter on each slope panel's curve
SLOPE_PANELS = 4
PULL_POINTS = 500  # the pull and the error lines are drawn for data up to this size
PULL_BUDGET = 60_000  # numbers per run for the pull: fewer epochs for more points
# The landscape: low loss dark (the valley floor), high loss light; the path white on it;
# the step green when the loss fell after it, magenta when it rose.
MAP_SCALE = (
    (0.0, "#081d58"),
    (0.25, "#225ea8"),
    (0.5, "#41b6c4"),
    (0.75, "#c7e9b4"),
    (1.0, "#ffffd9"),
)
STEP_COLORS = MappingProxyType({"fell": "#22c55e", "rose": "#d946ef"})
PULL_COLORS = MappingProxyType({"up": "#2563eb", "down": "#e4572e", "outlier": "#111827"})


def detail_epochs(h: History, most: int = DETAIL_EPOCHS) -> np.ndarray:
    """Every epoch of a run up to ``most`` epochs long; for longer runs, the first epochs
    and a geometric spacing after them, ending on the last finite epoch."""
    return frame_epochs(max(h.last_epoch, 0), most)


def _margin(lo: float, hi: float, share: float = 0.1) -> tuple[float, float]:
    pad = share * (hi - lo) if hi > lo else max(0.25 * abs(lo), 0.5)
    return lo - pad, hi + pad


# ----------------------------------------------------------------------------- landscape


def landscape_view(h: History, along: tuple[str, str] | None = None) -> dict:
    """The landscape over two parameters (default: the two that moved most), as the
    player draws it: the figure ``map`` (the map, the start and, for models linear in
    their parameters under MSE or L2, the whole model's least-squares optimum; drawn once
    per run: the player draws the path, the step and the point over it); the maps (one for
    a two-parameter model, whose map is the whole loss; else one per map epoch, every other
    parameter held at its value then), each with its own colour range and colour-bar
    ticks (``scales``) and, where there is one, the bottom of its slice (``bottoms``)."""
    along = moved_most(h) if along is None else tuple(along)
    exact = h.model.n_params == 2
    epochs = np.array([0]) if exact else detail_epochs(h, MAP_EPOCHS)
    res = RESOLUTION["exact" if exact else "held"]
    maps = landscapes(h, epochs.tolist(), along=along, resolution=res)
    first = maps[0]
    stack = np.stack([m.loss for m in maps])
    i = [h.param_names.index(a) for a in along]
    lsq = h.model.linear and h.config["loss"] in ("mse", "l2")
    # The bottom of each map's slice: the least squares of these two, the others held.
    bottoms = (
        [least_squares_points(h, int(e), tuple(i))[1].tolist() for e in epochs] if lsq else None
    )
    return dict(
        along=[int(i[0]), int(i[1])],
        names=list(along),
        exact=exact,
        epochs=[int(e) for e in epochs],
        resolution=res,
        maps=packed(stack),  # raw losses, (M, R, R): the player takes their log for colour
        scales=[_scale(m.loss) for m in maps],
        bottoms=bottoms,
        colors=dict(STEP_COLORS),
        fig=_landscape_figure(h, first, along, first.optimum if lsq and not exact else None),
    )


def _scale(loss: np.ndarray) -> dict:
    """One map's colour range (log10 of its lowest and highest finite loss) and the
    colour bar's ticks on it."""
    finite = loss[np.isfinite(loss) & (loss > 0)]
    lo, hi = (
        (float(np.log10(finite.min())), float(np.log10(finite.max())))
        if finite.size
        else (0.0, 1.0)
    )
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    vals, text = _log_ticks(lo, hi)
    return dict(zmin=lo, zmax=hi, tickvals=vals, ticktext=text)


def _log_ticks(zmin: float, zmax: float) -> tuple[list[float], list[str]]:
    """Colour-bar ticks at round losses on the log axis: 1, 2, 5 times powers of ten, or
    every whole multiple for a range within a decade or so, or whole powers for a wide
    one; at least three where the range allows."""
    span = zmax - zmin
    for mults in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        if span >= 3 and mults != (1,):
            break
        step = max(1, int(np.ceil(span / 6))) if mults == (1,) else 1
        vals = [
            float(np.log10(m) + e)
            for e in range(int(np.floor(zmin)), int(np.ceil(zmax)) + 1, step)
            for m in mults
            if zmin <= np.log10(m) + e <= zmax
        ]
        if len(vals) >= 3:
            break
    if len(vals) < 2:
        vals = [zmin, zmax]
    return vals, [_tick_text(10**v) for v in vals]


def _tick_text(v: float) -> str:
    """A round loss for the colour bar: 0.05, 20, 5000, 2e4 (no 5e+03)."""
    if 1 <= v < 1e4 and abs(v - round(v)) < 1e-9 * v:
        return str(round(v))
    if 1e-3 <= v < 1e4:
        return f"{v:.3g}"
    mant, exp = f"{v:.0e}".split("e")
    return f"{mant}e{int(exp)}"


def _landscape_figure(h, first, along, optimum) -> dict:
    xname, yname = (plotly_text(a) for a in along)
    sc = _scale(first.loss)
    zmin, zmax = sc["zmin"], sc["zmax"]
    levels = 24
    contour = dict(
        type="contour",
        name="loss",
        x=packed(first.xs, "<f8"),
        y=packed(first.ys, "<f8"),
        z=None,  # the player fills in log10(loss) of the map shown, and the loss itself
        customdata=None,
        zauto=False,
        zmin=zmin,
        zmax=zmax,
        autocontour=False,
        contours=dict(start=zmin, end=zmax, size=(zmax - zmin) / levels, coloring="heatmap"),
        line=dict(width=0.6, color="rgba(255,255,255,0.35)"),
        colorscale=[list(c) for c in MAP_SCALE],
        colorbar=dict(
            title=dict(text="loss", side="right"),
            tickvals=sc["tickvals"],
            ticktext=sc["ticktext"],
            thickness=12,
            len=1.0,
            x=1.0,
            xanchor="left",
            xpad=8,
        ),
        hovertemplate=(
            f"{xname} = %{{x:.4g}}<br>{yname} = %{{y:.4g}}<br>loss %{{customdata:.4g}}"
            "<extra></extra>"
        ),
    )
    common = dict(type="scatter", x=[None], y=[None], showlegend=False)
    still = [
        contour,
        dict(
            common,
            mode="markers",
            name="start",
            x=[float(first.path[0, 0])],
            y=[float(first.path[0, 1])],
            marker=dict(color="white", size=9, symbol="circle-open", line=dict(width=2)),
            hovertemplate=f"start: {xname} = %{{x:.6g}}, {yname} = %{{y:.6g}}<extra></extra>",
        ),
    ]
    if optimum is not None:
        # The whole model's optimum, every parameter free: off this slice's floor while the
        # others are away from theirs (the player stars the slice's own bottom in white).
        still.append(
            dict(
                common,
                mode="markers",
                name="least squares",
                x=[float(optimum[0])],
                y=[float(optimum[1])],
                marker=dict(color="#9ca3af", size=14, symbol="star-open", line=dict(width=2)),
                cliponaxis=False,
                hovertemplate=(
                    f"the best possible fit, every parameter free:<br>{xname} = %{{x:.6g}}, "
                    f"{yname} = %{{y:.6g}}<extra></extra>"
                ),
            )
        )
    layout = _layout(
        "",
        xname,
        yname,
        [float(first.xs[0]), float(first.xs[-1])],
        [float(first.ys[0]), float(first.ys[-1])],
    )
    for key in ("title", "height"):
        layout.pop(key)
    layout.update(
        autosize=True, showlegend=False, dragmode=False, margin=dict(l=60, r=78, t=12, b=46)
    )
    for ax in ("xaxis", "yaxis"):
        layout[ax]["fixedrange"] = True
    return dict(map=dict(data=still, layout=layout))


# ----------------------------------------------------------------------------- slopes


def slope_params(h: History, most: int = SLOPE_PANELS) -> list[int]:
    """The parameters of the slope panels and the pull: all of them, or the ``most`` with
    the largest gradients over the run (in ``param_names`` order)."""
    p = h.model.n_params
    if p <= most:
        return list(range(p))
    size = np.max(np.abs(h.grads[: h.last_epoch + 1]), axis=0) if h.last_epoch >= 0 else np.zeros(p)
    return sorted(np.argsort(-size, kind="stable")[:most].tolist())


def steps(h: History, epochs: np.ndarray, plain_sgd: bool) -> np.ndarray:
    """(E, P) the step each parameter takes after each epoch: -lr x gradient for plain
    SGD (drawn even at the last epoch: the step the run would take next), the change to
    the next epoch otherwise (0 at the last)."""
    if plain_sgd:
        return -float(h.config["lr"]) * h.grads[epochs]
    nxt = np.minimum(epochs + 1, h.last_epoch)
    return h.params[nxt] - h.params[epochs]


def slope_view(h: History, along: list[int], plain_sgd: bool) -> dict:
    """The slope panels: for each parameter in ``along``, the loss along it over a fixed
    span (its whole path and every step, with a margin), every other parameter at its
    value at each detail epoch."""
    epochs = detail_epochs(h)
    last = h.last_epoch
    path = h.params[: last + 1][:, along]
    ends = path[epochs] + steps(h, epochs, plain_sgd)[:, along]
    both = np.vstack([path, ends])
    if h.model.linear:
        # Out to the least-squares optimum too: a parameter the descent barely moves (lr
        # too small for it) would otherwise get a span so narrow that its curve looks flat.
        both = np.vstack([both, h.model.least_squares(h.x, h.y)[along]])
    spans = np.array(
        [_margin(float(lo), float(hi)) for lo, hi in zip(both.min(0), both.max(0), strict=True)]
    )
    values = slopes(h, epochs, along, spans, SLOPE_POINTS)
    y_ranges = []
    own = h.loss[epochs]
    for s in range(len(along)):
        v = values[:, s, :]
        v = v[np.isfinite(v)]
        lo = float(min(v.min(), own.min())) if v.size else float(own.min())
        hi = float(own.max())
        lo, hi = lo - 0.12 * (hi - lo or 1.0), hi + 0.25 * (hi - lo or 1.0)
        y_ranges.append([lo, hi])
    return dict(
        along=along,
        epochs=packed(epochs, "<i4"),
        spans=spans.tolist(),
        values=packed(values),
        fig=_slope_figure(h, along, spans, y_ranges),
    )


def _slope_figure(h: History, along: list[int], spans, y_ranges) -> dict:
    """The axes of one panel per parameter in ``along`` (2 to a row), fixed for the run:
    the player draws the loss along each parameter, the tangent, the point and the step
    over them at the epoch shown."""
    n = len(along)
    cols = 1 if n == 1 else 2
    rows = -(-n // cols)
    gx, gy = 0.14, 0.22 if rows > 1 else 0.0
    w = (1 - gx * (cols - 1)) / cols
    hgt = (1 - gy * (rows - 1)) / rows
    layout = _layout("", "", "")
    for key in ("title", "height", "xaxis", "yaxis"):
        layout.pop(key)
    layout.update(autosize=True, showlegend=False, margin=dict(l=56, r=14, t=12, b=44))
    data = []
    for s, i in enumerate(along):
        ax = "" if s == 0 else str(s + 1)
        r, c = divmod(s, cols)
        x0, y1 = c * (w + gx), 1 - r * (hgt + gy)
        name = plotly_text(h.param_names[i])
        layout[f"xaxis{ax}"] = dict(
            _axis(name, [float(spans[s][0]), float(spans[s][1])]),
            domain=[x0, x0 + w],
            anchor=f"y{ax}",
            nticks=4,
            tickangle=0,
            tickformat="~g",
            exponentformat="e",
        )
        layout[f"yaxis{ax}"] = dict(
            _axis("loss" if c == 0 else "", y_ranges[s]),
            domain=[y1 - hgt, y1],
            anchor=f"x{ax}",
            nticks=4,
            exponentformat="e",
        )
        # The player draws the curve, the tangent, the point and the step over the axes.
        data.append(
            dict(
                type="scatter",
                xaxis=f"x{ax}",
                yaxis=f"y{ax}",
                x=[None],
                y=[None],
                mode="lines",
                name=f"loss along {name}",
                hoverinfo="skip",
            )
        )
    return dict(data=data, layout=layout)


# ----------------------------------------------------------------------------- the pull


def pull_view(
    h: History, along: list[int], outliers: tuple[int, ...] = (), labels=("x", "y")
) -> dict | None:
    """Each point's share of the gradient for each parameter in ``along`` and each point's
    prediction, at the detail epochs (fewer for many points: PULL_BUDGET numbers at most);
    None for more than PULL_POINTS points."""
    n = len(h.x)
    if n > PULL_POINTS or h.last_epoch < 0:
        return None
    per_epoch = n * (len(along) + 1)
    most = max(2, min(DETAIL_EPOCHS, PULL_BUDGET // per_epoch))
    epochs = detail_epochs(h, most)
    shares = contributions_at(h, epochs.tolist())[:, :, along]  # (E, n, S)
    preds = predictions_at(h, epochs.tolist())
    xmin, xmax = float(np.min(h.x)), float(np.max(h.x))
    xname = plotly_text(labels[0])
    # Legend only: the player draws the bars over the axes, at the epoch shown.
    data = [
        dict(
            type="scatter",
            mode="markers",
            name=name,
            x=[None],
            y=[None],
            marker=dict(color=PULL_COLORS[kind], symbol="square", size=12),
            hoverinfo="skip",
        )
        for kind, name in (("up", "pulls it up"), ("down", "pulls it down"))
    ]
    top = float(np.max(np.abs(shares[0]))) if shares.size else 0.0
    top = 1.15 * top if top > 0 else 1.0
    layout = _layout(
        "", xname, "pull (−its term of the gradient)", _margin(xmin, xmax, 0.04), [-top, top]
    )
    for key in ("title", "height"):
        layout.pop(key)
    layout.update(
        autosize=True,
        dragmode=False,
        margin=dict(l=56, r=14, t=30, b=44),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0),
    )
    layout["xaxis"]["fixedrange"] = True
    layout["yaxis"].update(
        fixedrange=True, zeroline=True, zerolinecolor="#9ca3af", exponentformat="e"
    )
    return dict(
        along=along,
        words=LOSSES[h.config["loss"]].pull,
        epochs=packed(epochs, "<i4"),
        shares=packed(shares, "<f8"),
        preds=packed(preds),  # (E, n), or (E, n, 2) (x, y) pairs for an outline's curve
        outline=bool(np.ndim(h.y) == 2),
        x=packed(h.x, "<f8"),
        outliers=list(outliers),
        colors=dict(PULL_COLORS),
        fig=dict(data=data, layout=layout),
    )


def error_lines_trace() -> dict:
    """Each point's error on the fit chart: a grey line from the point to the curve, that
    the player fills in at the epoch shown."""
    return dict(
        type="scatter",
        mode="lines",
        name="errors",
        x=[None],
        y=[None],
        line=dict(color="#9ca3af", width=1),
        hoverinfo="skip",
        showlegend=False,  # the player's words say what the grey lines are
    )


def outliers_trace(h: History, outliers: tuple[int, ...], labels=("x", "y")) -> dict:
    """The points the outliers setting pushed off, ringed on the fit chart."""
    idx = list(outliers)
    x0, y0 = (plotly_text(v) for v in labels)
    return dict(
        type="scatter",
        mode="markers",
        name="outliers (added)",
        x=packed(h.x[idx], "<f8"),
        y=packed(h.y[idx], "<f8"),
        # An open symbol takes its colour from marker.color.
        marker=dict(color="#dc2626", size=15, symbol="circle-open", line=dict(width=2)),
        hovertemplate=f"{x0}=%{{x:.4g}}<br>{y0}=%{{y:.4g}}<extra>outlier (added)</extra>",
    )


__all__ = [
    "detail_epochs",
    "landscape_view",
    "pull_view",
    "slope_params",
    "slope_view",
]
