"""The learning rate, under the player: the same run at 61 learning rates (final and best
loss), the stability limit where the theory gives one, and fastai's ``lr_find``. It is about
the learning rate, not the epoch, so its charts are drawn on the server; choosing a rate
on the sweep trains the run at it."""

from __future__ import annotations

import math

import streamlit as st

from explorer import figures, lr_find, sweep
from explorer.api import RunSpec
from explorer.figures import fmt
from explorer.rates import DEFAULT_LRS, limit_of

from . import charts
from .controls import LR_OPTIONS
from .runs import Run

SWEEP_KEY = "lr_sweep"
MAX_CACHED = 8


def _settings(spec: RunSpec) -> dict:
    """``fit``'s settings for this run, without its learning rate."""
    values = {k: v for k, v in spec.values.items() if k != "lr"}
    return dict(data=spec.data, init=dict(spec.init), **values)


def sweep_key(run: Run) -> tuple:
    """The run's key without its learning rate: every rate of a sweep is the same sweep."""
    data_key, used, init = run.key
    return (data_key, tuple((k, v) for k, v in used if k != "lr"), init)


@st.cache_resource(max_entries=MAX_CACHED, show_spinner=False)
def _sweep(key: tuple, _spec: RunSpec):
    return sweep(DEFAULT_LRS, **_settings(_spec))


@st.cache_resource(max_entries=MAX_CACHED, show_spinner=False)
def _finder(key: tuple, _spec: RunSpec):
    return lr_find(**_settings(_spec))


def nearest_lr(lr: float) -> float:
    """The learning-rate slider's stop nearest ``lr`` (in log scale)."""
    numbers = [o for o in LR_OPTIONS if not isinstance(o, str)]
    return min(numbers, key=lambda o: abs(math.log(o) - math.log(lr)))


def _choose_lr() -> None:
    # on_select of the sweep: train at the rate chosen (before the slider is made).
    try:
        points = st.session_state[SWEEP_KEY]["selection"]["points"]
    except (KeyError, TypeError):
        return
    xs = [p.get("x") for p in points if isinstance(p.get("x"), (int, float)) and p["x"] > 0]
    if xs:
        st.session_state["lr"] = nearest_lr(float(xs[0]))


def why_no_limit(spec: RunSpec) -> str:
    v = spec.values
    if not spec.model.linear:
        return "this model is not linear in its parameters, so its curvature changes as it trains"
    if v["loss"] != "mse":
        return (
            f"it holds for the MSE, whose curvature is constant; this run uses {spec.loss.upper()}"
        )
    if v["optimizer"] != "sgd":
        return "it holds for plain gradient descent; this run's optimizer reshapes each step"
    return "it holds for full-batch steps; this run takes mini-batches"


def show(spec: RunSpec, run: Run) -> None:
    h = run.history
    lr = float(h.config["lr"])
    st.markdown("#### The learning rate")
    # Opt-in: 61 runs and lr_find take seconds for a new run, and a slider move must not.
    if not st.toggle(
        "Sweep 61 learning rates and run fastai's lr_find",
        key="sweep",
        bind="query-params",
        help="Trains this run at 61 learning rates from 1e-6 to 10 (one vectorised call) "
        "and runs lr_find: a few seconds the first time for each run.",
    ):
        return
    st.caption(
        "The same run (same data, start and epochs) trained at 61 learning rates from 1e-6 "
        "to 10: the loss after the last epoch (final) and the lowest on the way (best). "
        "Choose a dot to train at that rate."
    )
    key = sweep_key(run)
    with st.spinner("Training at 61 learning rates…"):
        sw = _sweep(key, spec)
    limit = limit_of(spec)
    fig = figures.sweep_figure(
        sw.lrs, sw.final_loss, sw.best_loss, sw.diverged_at, lr, limit, sw.start_loss
    )
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Loss after the run, by learning rate**")
        charts.show(fig, SWEEP_KEY, theme=None, on_select=_choose_lr, selection_mode="points")
        diverged = [r for r, d in zip(sw.lrs, sw.diverged_at, strict=True) if d is not None]
        words = [
            "Orange dots: the loss after the last epoch; blue rings: the lowest on the way; "
            "dotted line: this run's rate"
            + ("; dashed purple line: the stability limit." if limit is not None else ".")
        ]
        if diverged:
            words.append(
                f"From lr {fmt(min(diverged))} up, the run diverges (✕ on the top edge): "
                "each step overshoots the valley by more than the last."
            )
        blew = sw.final_loss > figures.BLEW_UP * sw.start_loss
        if blew.any():
            words.append(
                f"Runs that end above {fmt(figures.BLEW_UP)} times the start loss are drawn "
                f"on the top edge too (the first at lr {fmt(sw.lrs[blew].min())})."
            )
        if limit is not None:
            words.append(
                f"The stability limit 2/λmax = {fmt(limit)} (λmax: the largest curvature of "
                "the MSE, a constant for this model): above it, plain gradient descent "
                "grows the error along the steepest direction at every step."
            )
        else:
            words.append(f"No stability limit is drawn: {why_no_limit(spec)}.")
        st.caption(" ".join(words))
    with right:
        st.markdown("**fastai's learning-rate finder (`lr_find`)**")
        if spec.values["batch_size"] is not None:
            st.caption(
                "lr_find takes full-batch steps; set the batch size to all points to see it."
            )
            return
        with st.spinner("Running lr_find…"):
            finder = _finder(key, spec)
        charts.show(figures.lr_find_figure(finder), "lr_find", theme=None)
        st.caption(
            "One step per learning rate, growing from 1e-7 until the loss blows up (the "
            "smoothed loss). fastai suggests the valley ★"
            + (f" ({fmt(finder.suggestion)})" if finder.suggestion is not None else "")
            + ", a rate where the loss is still falling steadily; ◆ the rate at the lowest "
            "loss divided by 10"
            + (f" ({fmt(finder.minimum)})" if finder.minimum is not None else "")
            + "; ▼ where the loss falls fastest"
            + (f" ({fmt(finder.steepest)})" if finder.steepest is not None else "")
            + "."
        )
