"""The main views: train (fit, stepping, numbers, loss), compare losses, fit by hand."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import LOSSES, figures
from explorer.api import (
    MAX_COMPARED,
    Comparison,
    RunSpec,
    branch,
    compare_specs,
    joined,
    start,
    vary_specs,
)
from explorer.csvdata import parse_points
from explorer.descent import ROUNDING_NOISE
from explorer.export import history_csv, history_json
from explorer.figures import fmt
from explorer.registry import SETTINGS
from explorer.settings import Setting
from explorer.train import evaluate

from . import charts, player
from .controls import Choices, compare_key, label, value_options, vary_options
from .links import link_hand_values
from .runs import CACHE, Run, get_run, hand_ranges, landscape

TABLE_ROWS = player.TABLE_ROWS


def divergence_note(run: Run) -> None:
    h = run.history
    if h.diverged_at is None:
        return
    if h.last_epoch < 0:
        st.error(
            "The loss is not a finite number even at the start: the data or the start values "
            "are too large for this model. Try smaller values or another model."
        )
        return
    st.error(
        f"**The loss diverged at epoch {h.diverged_at}: lower the learning rate.** "
        f"The loss, a parameter or a gradient stopped being a finite number; the charts "
        f"show epochs 0 to {h.last_epoch}."
    )


def _link_epoch(last: int) -> None:
    """Open at the epoch the link asked for, once per session."""
    asked = st.session_state.pop("link_epoch", None)
    if asked is None:
        return
    if asked > last:
        st.warning(
            f"The link asked for epoch {asked}, but this run has epochs 0 to {last}: showing epoch 0.",
            icon=":material/link_off:",
        )
        asked = 0
    player.force_epoch(asked)


def train_view(run: Run, present: bool = False, draw: bool = False) -> None:
    """The player for ``run``; with ``draw``, a click on the fit chart adds or removes a
    drawn point."""
    with st.container():  # notes here never move the player (see main)
        divergence_note(run)
        if run.timeline is not None:
            _link_epoch(run.history.last_epoch)
    if run.timeline is None:
        return
    slot = st.container()  # the player, above the branch controls that decide which
    fork = branch_ui(run) if not present else None
    with slot:
        if fork is None:
            _train_player(run, present, draw)
        else:
            _compare_player(fork, "Training loss by epoch", present, key="branch_player")
        held_out_note(run.history)  # right under the charts it explains
    downloads(run)


def branch_ui(run: Run) -> player.Timeline | None:
    """Branch from an epoch: this run, and a run that takes its parameters at that epoch
    with other settings, on one timeline (``explorer.branch``). None when off."""
    h = run.history
    on = bool(st.session_state.get("branch", st.query_params.get("branch") == "true"))
    with st.expander(
        "Branch: change a setting from an epoch on", icon=":material/call_split:", expanded=on
    ):
        on = st.toggle(
            "Branch this run",
            key="branch",
            bind="query-params",
            help="A second run starts from this run's parameters at the epoch chosen, with "
            "the settings chosen; both play on one timeline.",
        )
        cols = st.columns([1, 2, 1, 1])
        at = cols[0].number_input(
            "From epoch",
            0,
            max(h.last_epoch - 1, 0),
            min(player.shown_epoch(), max(h.last_epoch - 1, 0)),
            key="branch_at",
            bind="query-params",
        )
        then = {}
        for col, name in zip(cols[1:], ("lr", "optimizer", "loss"), strict=True):
            s = SETTINGS[name]
            options = value_options(s)
            then[name] = col.selectbox(
                s.label + " after",
                options,
                index=options.index(h.config[name]) if h.config[name] in options else 0,
                format_func=lambda v, s=s: label(s, v),
                key=f"then_{s.link}",
                bind="query-params",
            )
    if not on or h.last_epoch < 1:
        return None
    changes = {k: v for k, v in then.items() if v != h.config[k]}
    try:
        key = ("branch", run.key, int(at), tuple(sorted(changes.items())))
        fork = CACHE.get(key, lambda: _branch_timeline(run, int(at), changes))
    except ValueError as err:
        st.warning(f"This branch cannot run: {err}.", icon=":material/call_split:")
        return None
    said = ", ".join(
        f"{SETTINGS[k].label.lower()} {label(SETTINGS[k], v)}" for k, v in changes.items()
    )
    fresh = (
        " Its optimizer starts afresh there (momentum's velocity and Adam's averages at 0), "
        "so even unchanged settings can take other steps."
        if h.config["optimizer"] != "sgd" or changes.get("optimizer", "sgd") != "sgd"
        else ""
    )
    st.caption(
        f":material/call_split: Both runs share epochs 0 to {at}; from there the branch "
        + (f"trains with {said}." if said else "changes nothing, so it repeats this run.")
        + fresh
    )
    return fork


def _branch_timeline(run: Run, at: int, changes: dict) -> player.Timeline:
    h = run.history
    b = joined(h, branch(h, at, **changes))
    # Where the branch leaves the run, in its loss panel.
    top = float(np.nanmax(b.loss[: b.last_epoch + 1]))
    fork = dict(
        type="scatter",
        mode="lines+text",
        x=[at, at],
        y=[0, top],
        xaxis="x2",
        yaxis="y2",
        line=dict(color="#6b7280", width=1, dash="dot"),
        text=["", f"fork at {at}"],
        textposition="top right",
        hoverinfo="skip",
        showlegend=False,
    )
    return player.timeline(
        [
            ("this run", figures.RUN_COLORS[0], h),
            ("branch", figures.RUN_COLORS[1], b),  # short: it titles a loss panel on a phone
        ],
        run.labels,
        loss_marks=[fork],
    )


def held_out_note(h) -> None:
    """What the held-out points and their loss say (for a run that holds some out)."""
    if h.val_loss is None or not np.isfinite(h.val_loss).any():
        return
    best = int(np.nanargmin(h.val_loss))
    n = int(h.val_mask.sum())
    turn = (
        f" After epoch {best} it rises while the training loss keeps falling: the fit is "
        "learning the noise of the points it sees (overfitting); stopping at the star would "
        "have kept the fit that does best on new points."
        if best < h.last_epoch and h.val_loss[h.last_epoch] > 1.05 * h.val_loss[best]
        else ""
    )
    st.caption(
        f"The {n} hollow point{'s' * (n != 1)} are held out: the run never trains on them. "
        f"The dotted curve is the same loss on them; the star marks its lowest, at epoch "
        f"{best}.{turn}"
    )


@st.fragment
def _train_player(run: Run, present: bool, draw: bool = False) -> None:
    # A fragment: the epoch coming back for the link reruns only this; drawn points (new
    # data, a new run) rerun the whole page.
    if st.session_state.pop("gx_redraw", False):
        st.rerun(scope="app")
    h = run.history
    land, note = landscape(run, st.session_state.get("gx_along"))
    if note:
        # Said once (another model, or a link's names): the two that moved most from then on.
        st.caption(note)
        st.session_state.pop("gx_along", None)
        st.query_params.pop("along", None)
    player.show(
        "train_player",
        run.timeline,
        loss_title=f"{LOSSES[h.config['loss']].title(h.config)} by epoch",
        present=present,
        landscape=land,
        draw=_drawn_points() if draw else None,
    )


CANVAS = (0.0, 10.0, 0.25)  # the empty drawing's x and y range, and its click grid


def draw_canvas(present: bool = False) -> None:
    """Where drawing starts with fewer than two points: an empty chart on which a click
    adds a point (the fit chart takes over from the second one)."""
    from .controls import set_drawn

    drawn = st.session_state.get("gx_drawn", "")
    x, y = parse_points(drawn)
    st.info(
        "Click on the chart to add points; from the second one on, the fit follows every "
        "point you add or remove.",
        icon=":material/touch_app:",
    )
    low, high, step = CANVAS
    grid = np.arange(low, high + step / 2, step)
    gx, gy = np.meshgrid(grid, grid)
    fig = dict(
        data=[
            # Invisible points everywhere: a click selects the nearest, 0.25 apart.
            dict(
                type="scatter",
                mode="markers",
                x=gx.ravel().tolist(),
                y=gy.ravel().tolist(),
                marker=dict(size=14, opacity=0),
                hoverinfo="none",
                showlegend=False,
            ),
            dict(
                type="scatter",
                mode="markers",
                x=x.tolist(),
                y=y.tolist(),
                marker=dict(size=10, color=figures.COLORS["targets"]),
                hoverinfo="skip",
                showlegend=False,
            ),
        ],
        layout=dict(
            xaxis=dict(range=[low, high], title="x", fixedrange=True),
            yaxis=dict(range=[low, high], title="y", fixedrange=True),
            height=420,
            margin=dict(l=50, r=20, t=20, b=50),
            dragmode=False,
        ),
    )
    n = st.session_state.get("gx_canvas", 0)
    event = st.plotly_chart(
        fig,
        key=f"canvas_{n}",
        on_select="rerun",
        selection_mode="points",
        config=dict(displayModeBar=False),
    )
    picked = [p for p in (event.selection.get("points") or []) if p.get("curve_number") == 0]
    if picked:
        st.session_state["gx_canvas"] = n + 1  # a fresh chart: no selection left over
        set_drawn([*zip(x.tolist(), y.tolist(), strict=True), (picked[0]["x"], picked[0]["y"])])
        st.rerun()


def _drawn_points() -> list[list[float]]:
    """The drawn points as [[x, y], ...], in the order drawn (an outline's too: its
    targets are these in the plane, its x is t)."""
    x, y = parse_points(st.session_state.get("gx_drawn", ""))
    return [[float(a), float(b)] for a, b in zip(x, y, strict=True)]


def downloads(run: Run) -> None:
    h = run.history
    st.markdown(
        "**Keep or share this run** — the address bar holds every setting, so a copied link reopens this view."
    )
    c = st.columns(3)
    c[0].download_button(
        "History (CSV)",
        lambda: history_csv(h),
        "history.csv",
        "text/csv",
        key="dl_csv",
        on_click="ignore",
        width="stretch",
    )
    c[1].download_button(
        "History (JSON)",
        lambda: history_json(h),
        "history.json",
        "application/json",
        key="dl_json",
        on_click="ignore",
        width="stretch",
    )
    c[2].download_button(
        "Animation (HTML)",
        lambda: figures.to_html(figures.fit_figure(run.history, run.labels)),
        "gradient-explorer.html",
        "text/html",
        key="dl_html",
        on_click="ignore",
        width="stretch",
        help="A standalone page that plays offline.",
    )


def _default_values(s: Setting, current) -> list:
    if s.name == "loss":
        return ["l1", "l2"]
    options = value_options(s)
    if s.choices:
        return options[:3]
    i = options.index(current) if current in options else 0
    return list(dict.fromkeys(options[k] for k in (max(i - 2, 0), i, min(i + 2, len(options) - 1))))


def _run_label(s: Setting, value) -> str:
    if s.choices:
        return label(s, value)
    return f"{s.link} {label(s, value)}"


def compare_view(spec: RunSpec, choices: Choices, init, present: bool = False) -> None:
    vary = st.selectbox(
        "What varies",
        vary_options(choices.values["model"]),
        format_func=lambda k: SETTINGS[k].label,
        key="vary",
        bind="query-params",
        help="One setting takes 2 to 4 values; everything else is the sidebar's: the same data, "
        "start and mini-batches.",
    )
    s = SETTINGS[vary]
    options = value_options(s)
    chosen = st.multiselect(
        f"{s.label}: values to compare",
        options,
        default=_default_values(s, choices.values.get(vary)),
        format_func=lambda v: label(s, v),
        key=compare_key(vary),
        bind="query-params",
        max_selections=MAX_COMPARED,
        help="Each is trained on the same data, from the same start, with every other setting "
        "as in the sidebar.",
    )
    if len(chosen) < (1 if vary == "loss" else 2):
        st.info(f"Choose {'at least one loss' if vary == 'loss' else 'two to four values'}.")
        return
    try:
        if vary == "loss":
            specs = compare_specs(spec, chosen)
        else:
            given = {k: v for k, v in choices.values.items() if k != vary}
            specs = vary_specs(
                vary, chosen, dict(preset=choices.preset, data=choices.dataset, init=init, **given)
            )
    except ValueError as err:
        st.warning(f"These runs cannot be compared: {err}.", icon=":material/compare_arrows:")
        return
    runs = {v: get_run(sp, choices.data_key) for v, sp in specs.items()}
    names = {v: _run_label(s, v) for v in runs}
    hist = {v: r.history for v, r in runs.items()}
    notices = st.container()  # notes here never move the player (see main)
    for v, r in runs.items():
        if r.history.diverged_at is not None:
            notices.warning(
                f"{names[v]} diverged at epoch {r.history.diverged_at}: its curves stop there. "
                "Lower the learning rate."
            )
    if all(h.last_epoch < 0 for h in hist.values()):
        notices.error("No run has a finite loss at the start.")
        return
    live = {v: r for v, r in runs.items() if r.history.last_epoch >= 0}
    with notices:
        _link_epoch(max(r.history.last_epoch for r in live.values()))
    if vary == "loss":
        _compare_tips(choices)
    colors = {
        v: LOSSES[v].color if vary == "loss" else figures.RUN_COLORS[i] for i, v in enumerate(live)
    }
    key = ("compare", tuple((names[v], colors[v], r.key) for v, r in live.items()))
    timeline = CACHE.get(key, lambda: _compare_timeline(live, names, colors))
    first = next(iter(live.values())).history
    title = (
        "Training loss by epoch"
        if vary == "loss"
        else f"{LOSSES[first.config['loss']].title(first.config)} by epoch"
    )
    # Runs of one model and one loss (the optimizer, the rate or the batch varies): their
    # paths on one landscape, the first run's.
    land = None
    if vary in ("optimizer", "lr", "batch_size") and not present:
        land, _ = landscape(next(iter(live.values())), st.session_state.get("gx_along"))
    _compare_player(timeline, title, present, landscape=land)
    ended = {v: r.history for v, r in live.items()}
    comparison = Comparison(next(iter(specs.values())), ended, vary, specs)
    best = comparison.best()
    metric = LOSSES[comparison.default_metric()].label
    st.markdown(
        f"**Final results, after epoch {max(h.last_epoch for h in ended.values())}** (every "
        "metric computed on the final parameters of each run, whatever epoch the player shows)"
    )
    table = _compare_table(comparison, names, best)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="compare_table",
        column_config={c: st.column_config.NumberColumn(format="%.4g") for c in list(table)[3:]},
    )
    if best is not None:
        st.caption(
            f"★ best: the lowest final {metric} on the training points, every run measured "
            "the same way whatever it was trained on (a run that diverged is never best)."
        )


def _compare_timeline(live: dict, names: dict, colors: dict) -> player.Timeline:
    first = next(iter(live.values()))
    return player.timeline(
        [(names[k], colors[k], r.history) for k, r in live.items()],
        first.labels,
        first.outliers,  # ringed: the points L1 shrugs off and L2 is pulled towards
    )


@st.fragment
def _compare_player(
    tl: player.Timeline, title: str, present: bool, key: str = "compare_player", landscape=None
) -> None:
    player.show(key, tl, loss_title=title, present=present, landscape=landscape)


def _set_state(**values) -> None:
    for key, value in values.items():
        st.session_state[key] = value


def _compare_tips(choices: Choices) -> None:
    tips = []
    # Buttons as wide as their words, side by side while they fit, then wrapped.
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    if choices.preset is not None and choices.values["outliers"] == 0:
        tips.append("raise **Outliers** to see L1 shrug them off while L2 is pulled towards them")
        row.button(
            "Add 3 outliers",
            icon=":material/scatter_plot:",
            key="add_outliers",
            on_click=_set_state,
            kwargs=dict(outliers=3),
            width="content",
        )
    epochs = choices.values["epochs"]
    if epochs < 1000:
        tips.append(f"{epochs} epochs may stop before each loss has settled")
        row.button(
            "Train 1000 epochs",
            icon=":material/fast_forward:",
            key="more_epochs",
            on_click=_set_state,
            kwargs=dict(epochs=1000),
            width="content",
        )
    if tips:
        row.caption("Tip: " + "; ".join(tips) + ".")


def _compare_table(comparison: Comparison, names: dict, best) -> dict[str, list]:
    """Columns of the final results (a data frame scrolls inside its box on a phone;
    numbers stay numbers, so it aligns them and keeps every digit for a copy)."""
    rows = comparison.table()
    spec = comparison.spec
    h = next(iter(comparison.runs.values()))
    params = h.param_names[:TABLE_ROWS]
    cols: dict[str, list] = {
        "run": [names[v] + (" ★" if v == best else "") for v in comparison.runs],
        "trained on": [LOSSES[r["loss"]].label for r in rows],
        "epochs": [r["epochs_run"] for r in rows],
    }
    cols.update({LOSSES[m].title(spec.values): [r[f"final_{m}"] for r in rows] for m in LOSSES})
    if any(f"val_{m}" in r for r in rows for m in LOSSES):
        cols.update(
            {
                f"held out: {LOSSES[m].title(spec.values)}": [r.get(f"val_{m}") for r in rows]
                for m in LOSSES
            }
        )
    if all(g.param_names == h.param_names for g in comparison.runs.values()):
        # (runs of other model sizes have other parameters: no common columns)
        cols.update({p: [r.get(p) for r in rows] for p in params})
    return cols


def gradient_advice(g: float, scale: float) -> tuple[str, str]:
    """A gradient entry as the fit-by-hand table shows it, and what to do with its
    parameter to lower the loss. ``scale`` is the sum of the sizes of the per-point terms
    the entry adds up (``Evaluation.grad_scale``): next to it, a gradient of 1e-9 of it or
    less is rounding noise around 0 (or 0 itself, when every term is 0)."""
    if scale == 0 or abs(g) <= ROUNDING_NOISE * scale:
        if g == 0:
            return "0", "leave it: at a minimum in this direction"
        return "≈ 0", "leave it: at a minimum in this direction (the gradient is rounding noise)"
    return fmt(g), "increase it" if g < 0 else "decrease it"


def _train_from_hand(names: list[str]) -> None:
    st.session_state["start"] = "hand"
    st.session_state["view"] = "Train"
    player.force_epoch(0)


def hand_view(spec: RunSpec) -> None:
    model = spec.model
    names = model.layout
    if len(names) > 4:
        st.info(
            f"Fitting by hand needs a model with at most 4 parameters; this one has {len(names)}. "
            "Choose the line, the quadratic, a polynomial of degree 3 or less, or one ReLU."
        )
        return
    ds = spec.data
    st.markdown(
        "Move the sliders to fit the curve yourself, as in lesson 3. The title shows the loss: "
        "that one number is all gradient descent looks at."
    )
    ranges = hand_ranges(spec)
    first = start(spec)  # the run's start, without training it
    cols = st.columns(len(names))
    values = []
    linked = link_hand_values(names)
    for col, name, s in zip(cols, names, first, strict=True):
        lo, hi, step = ranges[name]
        default = float(np.clip(np.round(linked.get(name, s) / step) * step, lo, hi))
        values.append(
            col.slider(
                name, lo, hi, default, step=step, key=f"hand_{name}", persist_state="session"
            )
        )
    # Not bound to the link by Streamlit, which drops a slider's value from the link while
    # the slider is hidden: the values stay in the link for a run that starts from them.
    for name, v in zip(names, values, strict=True):
        st.query_params[f"hand_{name}"] = f"{v:.10g}"
    p = np.asarray(values, np.float64)
    span = float(np.ptp(ds.x)) or 2.0
    grid = np.linspace(ds.x.min() - 0.05 * span, ds.x.max() + 0.05 * span, 200)
    preds = np.asarray(model.predict(p, grid))
    loss = LOSSES[spec.loss]
    measured = evaluate(model, p, ds.x, ds.y, spec.loss, **spec.loss_settings)
    metrics = measured.metrics
    # Significant digits: a small loss (0.004) must not read as 0.
    title = f"{loss.title(spec.values)}: {fmt(metrics[spec.loss])}"
    left, right = st.columns([3, 2], gap="medium")
    with left:
        charts.show(
            figures.hand_figure(ds.x, ds.y, grid, preds, title, (ds.x_label, ds.y_label)),
            key="hand_chart",
        )
    with right:
        dead = figures.dead_relus(model, p, ds.x)
        idle = {f"{w}[{i}]" for i in np.flatnonzero(dead) for w in "mb"}
        rows = [
            "| parameter | value | gradient | to lower the loss |",
            "| ---: | ---: | ---: | :--- |",
        ]
        for name, v, g, scale in zip(names, p, measured.grad, measured.grad_scale, strict=True):
            shown, hint = gradient_advice(g, scale)
            if name in idle:
                hint = "no effect: the ReLU is dead (see below)"
            rows.append(f"| **{name}** | {fmt(v)} | {shown} | {hint} |")
        st.markdown("\n".join(rows))
        for i in np.flatnonzero(dead):
            st.warning(
                player.dead_relu_words(int(i), dead.size)
                + f" Move b[{i}] up (or change the sign of m[{i}]) until the kink is inside "
                "the data.",
                icon=":material/block:",
            )
        st.caption(
            f"The gradient of the {loss.label}: how fast the loss grows as each parameter "
            "grows. Gradient descent moves every parameter the other way."
        )
        st.markdown(
            "  \n".join(f"{LOSSES[m].title(spec.values)}: **{fmt(v)}**" for m, v in metrics.items())
        )
    st.button(
        "Start gradient descent from here",
        type="primary",
        key="train_from_hand",
        on_click=_train_from_hand,
        args=(names,),
    )
