"""The main views: train (fit, stepping, numbers, loss), compare losses, fit by hand."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import LOSSES, build_model, figures
from explorer.export import history_csv, history_json
from explorer.figures import fmt
from explorer.train import evaluate

from . import charts
from .controls import DataChoice, ModelChoice, TrainChoice
from .links import note_epoch_beyond
from .runs import Run, get_run, hand_ranges

TABLE_ROWS = 8  # parameters listed one per row; bigger models show the largest steps


def _set_epoch(value: int) -> None:
    st.session_state["epoch"] = value


def _shift_epoch(delta: int, last: int) -> None:
    st.session_state["epoch"] = min(max(int(st.session_state.get("epoch", 0)) + delta, 0), last)


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


def train_view(run: Run, t: TrainChoice) -> None:
    divergence_note(run)
    if run.history.last_epoch < 0:
        return
    _epoch_panel(run, t)


@st.fragment
def _epoch_panel(run: Run, t: TrainChoice) -> None:
    # A fragment: stepping reruns only this panel in the browser.
    h = run.history
    last = h.last_epoch
    note_epoch_beyond(last)
    if int(st.session_state.get("epoch", 0)) > last:
        st.session_state["epoch"] = last
    epoch = _stepper(last)
    # Other optimizers add a "step taken" column: give the table half the width then.
    plain_sgd = t.optimizer == "sgd" and t.batch_size is None
    left, right = st.columns([5, 4] if plain_sgd else [1, 1], gap="medium")
    with right:
        epoch_table(h, epoch, t)
    with left:
        charts.show(figures.at_epoch(run.fit_fig, h, epoch), key="fit_chart")
    finite = h.loss[h.loss > 0]
    wide = finite.size > 1 and finite.max() > 1000 * finite.min()
    log = st.toggle(
        "Log scale",
        value=bool(wide),
        key="log_loss",
        help="Show the loss on a logarithmic axis (on by default when it spans 1000x or more).",
    )
    charts.show(figures.mark_epoch(run.loss_figs[int(log)], h, epoch), key="loss_chart")
    downloads(run)


def _stepper(last: int) -> int:
    c = st.columns([1, 1, 1.3, 1, 1, 3.2], gap="small", vertical_alignment="center")
    c[0].button(
        "First",
        icon=":material/first_page:",
        key="first",
        help="The start (epoch 0)",
        on_click=_set_epoch,
        args=(0,),
        width="stretch",
    )
    c[1].button(
        "Back",
        icon=":material/chevron_left:",
        key="back",
        help="One epoch back",
        on_click=_shift_epoch,
        args=(-1, last),
        width="stretch",
    )
    epoch = c[2].number_input(
        "Epoch",
        0,
        last,
        0,
        step=1,
        key="epoch",
        bind="query-params",
        label_visibility="collapsed",
        help="The epoch shown: type one or use the buttons.",
    )
    c[3].button(
        "Step",
        icon=":material/chevron_right:",
        icon_position="right",
        key="forward",
        help="One epoch forward",
        on_click=_shift_epoch,
        args=(1, last),
        width="stretch",
        type="primary",
    )
    c[4].button(
        "Last",
        icon=":material/last_page:",
        icon_position="right",
        key="last",
        help="The last epoch",
        on_click=_set_epoch,
        args=(last,),
        width="stretch",
    )
    c[5].markdown(f"epoch **{int(epoch)}** of {last}")
    return int(epoch)


def epoch_table(h, epoch: int, t: TrainChoice) -> None:
    """Each parameter's value, gradient, lr × gradient and value after the step."""
    names = h.param_names
    has_next = epoch < h.last_epoch
    plain_sgd = t.optimizer == "sgd" and t.batch_size is None
    p, g = h.params[epoch], h.grads[epoch]
    nxt = h.params[epoch + 1] if has_next else None
    order = np.arange(len(names))
    if len(names) > TABLE_ROWS:
        order = np.argsort(-np.abs(g))[: TABLE_ROWS - 2]
    head = "| parameter | value | gradient | lr × gradient | value after step |"
    if not plain_sgd:
        head = "| parameter | value | gradient | lr × grad | step taken | after step |"
    rows = [head, "|" + " ---: |" * (head.count("|") - 1)]
    for i in order:
        after = fmt(nxt[i]) if has_next else "—"
        cells = [f"**{names[i]}**", fmt(p[i]), fmt(g[i]), fmt(t.lr * g[i])]
        if not plain_sgd:
            cells.append(fmt(nxt[i] - p[i]) if has_next else "—")
        rows.append("| " + " | ".join(cells + [after]) + " |")
    st.markdown("\n".join(rows))
    if len(names) > len(order):
        step = np.abs(nxt - p).max() if has_next else 0.0
        st.caption(
            f"The {len(order)} parameters with the largest gradients of {len(names)}; "
            f"gradient norm {fmt(np.linalg.norm(g))}, largest step {fmt(step)}."
        )
    loss_name = LOSSES[h.config["loss"]].label
    if has_next:
        i = int(order[0])
        change = float(h.loss[epoch + 1] - h.loss[epoch])
        st.markdown(
            f"**{loss_name}**: {fmt(h.loss[epoch])} before → {fmt(h.loss[epoch + 1])} after "
            f"({'+' if change >= 0 else '−'}{fmt(abs(change))})"
        )
        if plain_sgd:
            st.caption(
                f"The step, for **{names[i]}**: {fmt(p[i])} − {fmt(t.lr)} × ({fmt(g[i])}) = {fmt(nxt[i])}. "
                "Every parameter moves against its gradient, scaled by the learning rate."
            )
        else:
            why = (
                "mini-batches each take their own step"
                if t.batch_size
                else "the optimizer reshapes the step"
            )
            st.caption(f"With {t.optimizer} ({why}), the step taken is not simply lr × gradient.")
    else:
        st.markdown(f"**{loss_name}** at the last epoch: {fmt(h.loss[epoch])}")
        st.caption("The last epoch: no update after it.")


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
        lambda: figures.to_html(run.fit_fig),
        "gradient-explorer.html",
        "text/html",
        key="dl_html",
        on_click="ignore",
        width="stretch",
        help="A standalone page that plays offline.",
    )


def compare_view(
    data: DataChoice, model: ModelChoice, t: TrainChoice, init: tuple, seed: int
) -> None:
    names = tuple(LOSSES)
    chosen = st.multiselect(
        "Losses to compare",
        names,
        default=["l1", "l2"],
        format_func=lambda k: LOSSES[k].label,
        key="compare",
        bind="query-params",
        help="Each is trained on the same data, from the same start, with the same learning rate and epochs.",
    )
    if not chosen:
        st.info("Choose at least one loss.")
        return
    runs = {name: get_run(data, model, t, init, seed, loss=name) for name in chosen}
    hist = {name: r.history for name, r in runs.items()}
    labels = next(iter(runs.values())).labels
    for name, r in runs.items():
        if r.history.diverged_at is not None:
            st.warning(
                f"{LOSSES[name].label} diverged at epoch {r.history.diverged_at}: its curves stop there. Lower the learning rate."
            )
    if all(h.last_epoch < 0 for h in hist.values()):
        st.error("No run has a finite loss at the start.")
        return
    live = {k: h for k, h in hist.items() if h.last_epoch >= 0}
    charts.show(figures.compare_fit_figure(live, labels), key="compare_fit")
    _compare_tips(data, t)
    log = st.toggle("Log scale", key="log_compare")
    charts.show(figures.compare_loss_figure(live, log), key="compare_loss")
    st.markdown("**Final results** (every metric computed on the final parameters of each run)")
    st.markdown(_compare_table(live))


def _set_state(**values) -> None:
    for key, value in values.items():
        st.session_state[key] = value


def _compare_tips(data: DataChoice, t: TrainChoice) -> None:
    tips = []
    c = st.columns([1, 1, 3], vertical_alignment="center")
    if data.preset is not None and data.key[4] == 0:
        tips.append("raise **Outliers** to see L1 shrug them off while L2 is pulled towards them")
        c[0].button(
            "Add 3 outliers",
            icon=":material/scatter_plot:",
            key="add_outliers",
            on_click=_set_state,
            kwargs=dict(outliers=3),
            width="stretch",
        )
    if t.epochs < 1000:
        tips.append(f"{t.epochs} epochs may stop before each loss has settled")
        c[1].button(
            "Train 1000 epochs",
            icon=":material/fast_forward:",
            key="more_epochs",
            on_click=_set_state,
            kwargs=dict(epochs=1000),
            width="stretch",
        )
    if tips:
        c[2].caption("Tip: " + "; ".join(tips) + ".")


def _compare_table(runs) -> str:
    first = next(iter(runs.values()))
    params = first.param_names[:TABLE_ROWS]
    head = ["trained on", "epochs", *(LOSSES[m].label.split(" (")[0] for m in LOSSES), *params]
    rows = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for name, h in runs.items():
        k = h.last_epoch
        metrics = evaluate(h.model, h.params[k], h.x, h.y, name, h.config["huber_delta"]).metrics
        cells = [
            LOSSES[name].label,
            str(k),
            *(fmt(metrics[m]) for m in LOSSES),
            *(fmt(v) for v in h.params[k][: len(params)]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _train_from_hand(names: list[str]) -> None:
    st.session_state["start"] = "hand"
    st.session_state["view"] = "Train"
    st.session_state["epoch"] = 0


def hand_view(
    data: DataChoice, model_choice: ModelChoice, t: TrainChoice, start: np.ndarray
) -> None:
    model = build_model(model_choice.name, **dict(model_choice.size))
    names = model.layout
    if len(names) > 4:
        st.info(
            f"Fitting by hand needs a model with at most 4 parameters; this one has {len(names)}. "
            "Choose the line, the quadratic, a polynomial of degree 3 or less, or one ReLU."
        )
        return
    ds = data.dataset
    st.markdown(
        "Move the sliders to fit the curve yourself, as in lesson 3. The title shows the loss: "
        "that one number is all gradient descent looks at."
    )
    ranges = hand_ranges(ds, model.name, names)
    cols = st.columns(len(names))
    values = []
    for col, name, s in zip(cols, names, start, strict=True):
        lo, hi, step = ranges[name]
        default = float(np.clip(np.round(s / step) * step, lo, hi))
        values.append(
            col.slider(
                name,
                lo,
                hi,
                default,
                step=step,
                key=f"hand_{name}",
                bind="query-params",
                persist_state="session",
            )
        )
    p = np.asarray(values, np.float32)
    span = float(np.ptp(ds.x)) or 2.0
    grid = np.linspace(ds.x.min() - 0.05 * span, ds.x.max() + 0.05 * span, 200)
    preds = np.asarray(model.predict(p, grid.astype(np.float32)))
    measured = evaluate(model, p, ds.x, ds.y, t.loss, t.huber_delta)
    metrics = measured.metrics
    title = f"{LOSSES[t.loss].label.split(' (')[0]}: {metrics[t.loss]:.2f}"
    left, right = st.columns([3, 2], gap="medium")
    with left:
        charts.show(
            figures.hand_figure(ds.x, ds.y, grid, preds, title, (ds.x_label, ds.y_label)),
            key="hand_chart",
        )
    with right:
        grad = measured.grad
        rows = [
            "| parameter | value | gradient | to lower the loss |",
            "| ---: | ---: | ---: | :--- |",
        ]
        for name, v, g in zip(names, p, grad, strict=True):
            hint = "increase it" if g < 0 else "decrease it" if g > 0 else "leave it"
            rows.append(f"| **{name}** | {fmt(v)} | {fmt(g)} | {hint} |")
        st.markdown("\n".join(rows))
        st.caption(
            f"The gradient of the {LOSSES[t.loss].label}: how fast the loss grows as each parameter "
            "grows. Gradient descent moves every parameter the other way."
        )
        st.markdown("  \n".join(f"{LOSSES[m].label}: **{fmt(v)}**" for m, v in metrics.items()))
    st.button(
        "Start gradient descent from here",
        type="primary",
        key="train_from_hand",
        on_click=_train_from_hand,
        args=(names,),
    )
