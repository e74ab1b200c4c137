"""The command line: ``python -m explorer fit|compare|sweep|lr-find|landscape|presets``.

``fit --branch-at K --then lr=0.001`` branches the run (``explorer.branch``); ``compare
--vary NAME --values A,B`` varies any setting but the data's (``explorer.compare``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

import numpy as np

from .api import VARIES, Comparison, branch, compare, fit
from .data import PRESETS
from .descent import Landscape, landscape
from .losses import LOSSES
from .lrfind import LRFind, lr_find
from .rates import DEFAULT_LRS, Sweep, limit_of, sweep
from .registry import PRESET, SETTINGS
from .settings import Setting
from .train import History, frame_epochs

TABLE_PARAMS = 6  # parameters (and gradients) shown as columns; --json has them all


def _error_line(message: object) -> str:
    return f"error: {' '.join(str(message).splitlines())}\n"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: ...`` line with status 2, as every
    other CLI error is, instead of the usage block; ``--help`` still prints the usage.
    Subparsers take their parent's class, so they do the same."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, _error_line(message))


def _init_pair(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number") from None
    if not np.isfinite(number):
        raise argparse.ArgumentTypeError(f"{name}: the value must be finite")
    return name.strip(), number


def _then_pair(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of ``--then``: a setting and its value, checked by its declaration."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in SETTINGS:
        raise argparse.ArgumentTypeError(
            f"unknown setting {name!r}; the settings are {', '.join(SETTINGS)}"
        )
    try:
        return name, SETTINGS[name].parse(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _flag_help(s: Setting) -> str:
    default = (
        "all points"
        if s.default is None
        else (f"{s.default:g}" if isinstance(s.default, float) else s.default)
    )
    accepted = "" if s.choices else f"; {s.bounds_text()}"
    if s.high_from:
        accepted += f", at most {s.high_from}"
    return f"{s.help.rstrip('.')} (default: {default}, or the preset's{accepted})"


def _add_run_flags(p: argparse.ArgumentParser, with_loss: bool, skip: tuple[str, ...] = ()) -> None:
    """The run's flags (data, one per setting, ``--init``, ``--json``); ``skip`` names
    settings the command sets itself (``lr`` for a sweep)."""
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--preset", choices=list(PRESETS), help=f"{PRESET.help} (default {PRESET.default})"
    )
    src.add_argument("--data", metavar="FILE.csv", help="your own points: two columns x, y")
    for s in SETTINGS.values():  # one flag per declared setting
        if (s.name == "loss" and not with_loss) or s.name in skip:
            continue
        p.add_argument(
            s.flag,
            type=s.kind,
            choices=list(s.choices) or None,
            help=_flag_help(s),
        )
    p.add_argument(
        "--init",
        nargs="+",
        type=_init_pair,
        metavar="NAME=VALUE",
        help="initial values, e.g. a=1.1 b=1.1",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m explorer", description="Gradient descent, epoch by epoch.")
    sub = parser.add_subparsers(dest="command", required=True)
    fit_p = sub.add_parser(
        "fit",
        help="train one run and print its history",
        description="Train one run and print its history. With --branch-at K: train it, "
        "then a branch from its epoch K (its parameters there, a fresh optimizer state, the "
        "same points) with the settings --then changes, and print the branch's history "
        "(its epoch 0 is the run's epoch K). For example: fit --preset line --epochs 100 "
        "--branch-at 20 --then lr=0.01 optimizer=adam",
    )
    fit_p.add_argument(
        "--branch-at",
        type=int,
        metavar="K",
        help="branch from epoch K of the run (0 to its last epoch) and print the branch",
    )
    fit_p.add_argument(
        "--then",
        nargs="+",
        type=_then_pair,
        metavar="NAME=VALUE",
        help="what the branch changes: any setting but the data's and the model's, e.g. "
        "lr=0.001 optimizer=adam batch_size=4 (default epochs: what is left of the run)",
    )
    _add_run_flags(fit_p, with_loss=True)
    cmp = sub.add_parser(
        "compare",
        help="train the same run once per value of one setting (losses by default)",
        description="Train the same run once per value of one setting, everything else "
        "equal: the same points (and held-out points), the same seed, so the same start "
        "where the model is the same, the same mini-batch shuffles. --losses l1,l2 (the "
        "default) is --vary loss --values l1,l2. Prints each run's final value of every "
        "loss on the training points (and on the held-out points), its parameters and the "
        "best run.",
    )
    cmp.add_argument(
        "--losses",
        help=f"comma-separated, from {', '.join(LOSSES)} (default l1,l2 when no --vary)",
    )
    cmp.add_argument(
        "--vary",
        choices=list(VARIES),
        metavar="NAME",
        help=f"the setting that varies: one of {', '.join(VARIES)}",
    )
    cmp.add_argument(
        "--values",
        metavar="A,B,...",
        help="its 2 to 4 values, comma-separated (e.g. sgd,adam or 0.1,0.01; all for a "
        "batch of every point)",
    )
    cmp.add_argument(
        "--best-by",
        choices=[*LOSSES, *(f"val_{m}" for m in LOSSES)],
        metavar="METRIC",
        help="rank the runs by this loss's final value on the training points, or val_ "
        "and a loss on the held-out points (default: the first run's loss)",
    )
    _add_run_flags(cmp, with_loss=True)
    # No abbreviations: --lr must not be taken for --lrs.
    swp = sub.add_parser(
        "sweep", help="train the same run at many learning rates at once", allow_abbrev=False
    )
    swp.add_argument(
        "--lrs",
        help="comma-separated learning rates (default: 61 from 1e-6 to 10, log-spaced)",
    )
    _add_run_flags(swp, with_loss=True, skip=("lr",))
    _add_run_flags(
        sub.add_parser("lr-find", help="fastai's learning-rate finder: 100 steps, lr 1e-7 up"),
        with_loss=True,
        skip=("lr", "epochs"),
    )
    land = sub.add_parser("landscape", help="the loss over a grid of two parameters")
    land.add_argument("--epoch", type=int, default=0, help="hold the others as at this epoch")
    land.add_argument(
        "--along", nargs=2, metavar="NAME", help="two parameters (default: the two that moved most)"
    )
    land.add_argument("--resolution", type=int, default=61, help="grid points per axis")
    land.add_argument(
        "--span",
        nargs=4,
        type=float,
        metavar=("LO0", "HI0", "LO1", "HI1"),
        help="the grid's ranges (default: the path, the start and the best fit)",
    )
    _add_run_flags(land, with_loss=True)
    sub.add_parser("presets", help="list the data presets")
    return parser


def _settings(args: argparse.Namespace) -> dict:
    keys = ["preset", "data", *SETTINGS]
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if args.init:
        out["init"] = dict(args.init)
    return out


def _fmt(v: float) -> str:
    return f"{v:>11.5g}"


def history_table(h: History) -> str:
    """Readable table: epoch, loss (and the held-out points' loss), parameters, gradients;
    thinned for long runs."""
    names = h.param_names[:TABLE_PARAMS]
    held = h.val_loss is not None
    head = ["epoch", "loss", *(["val_loss"] if held else [])] + names
    head += [f"d/d{n}" for n in names]
    lines = [" ".join(f"{c:>11}" for c in head)]
    last = h.last_epoch
    shown = frame_epochs(last, 40) if last >= 0 else []
    for k in shown:
        row = [f"{k:>11d}", _fmt(h.loss[k]), *([_fmt(h.val_loss[k])] if held else [])]
        row += [_fmt(v) for v in h.params[k, : len(names)]]
        row += [_fmt(v) for v in h.grads[k, : len(names)]]
        lines.append(" ".join(row))
    notes = []
    if len(shown) < last + 1:
        notes.append(f"({len(shown)} of {last + 1} epochs shown; --json has every epoch)")
    if len(h.param_names) > len(names):
        notes.append(f"({len(h.param_names) - len(names)} more parameters; --json has them all)")
    if held:
        idx = ", ".join(str(i) for i in np.flatnonzero(h.val_mask))
        notes.append(
            f"(loss: on the {int(np.sum(h.train_mask))} training points; val_loss: on the "
            f"{int(np.sum(h.val_mask))} held out, points {idx})"
        )
    if h.diverged_at is not None:
        notes.append(
            f"The loss diverged at epoch {h.diverged_at}: the loss, a parameter or a gradient "
            "stopped being a finite number. Lower the learning rate."
        )
    return "\n".join(lines + notes)


CURVE_ROWS = 8  # target points shown under an outline's history; --json has them all


def curve_table(h: History) -> str:
    """An outline run's targets beside the curve at the last epoch: t, the target's x and
    y, the curve's x(t) and y(t) and the distance between them, at about CURVE_ROWS points
    spread around the outline."""
    if h.last_epoch < 0:
        return "(no finite epoch: no curve to show)"
    fitted = h.predict(h.last_epoch, h.x)
    head = ["t", "target x", "target y", "x(t)", "y(t)", "distance"]
    lines = [f"the curve at epoch {h.last_epoch} against the targets:"]
    lines.append(" ".join(f"{c:>11}" for c in head))
    shown = np.unique(np.linspace(0, h.x.size - 1, CURVE_ROWS).round().astype(int))
    for i in shown:
        gap = float(np.hypot(*(fitted[i] - h.y[i])))
        cells = [h.x[i], h.y[i, 0], h.y[i, 1], fitted[i, 0], fitted[i, 1], gap]
        lines.append(" ".join(_fmt(v) for v in cells))
    mean = float(np.mean(np.hypot(*(fitted - h.y).T)))
    lines.append(
        f"({len(shown)} of {h.x.size} points shown; mean distance {mean:.5g}; --json has "
        "every point and the curve)"
    )
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return f"{'-':>11}"
    return f"{v:>11d}" if isinstance(v, int) else _fmt(v)


def _value(s: Setting, value) -> str:
    """A value of a compared setting, as its column shows it."""
    if value is None:
        return s.none_label or "-"
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def compare_table(rows: list[dict], vary: str = "loss") -> str:
    """One line per run: the value of ``vary``, epochs run, every metric on the training
    points (and on the held-out points), the parameters (columns from every row)."""
    metric_cols = [f"final_{m}" for m in LOSSES]
    val_cols = [f"val_{m}" for m in LOSSES if any(f"val_{m}" in r for r in rows)]
    not_params = {vary, "loss", "epochs_run", "diverged_at", *metric_cols, *val_cols}
    # Parameter columns from every row, in order: a run that was not finite even at the
    # start has none, and it may come first; runs of models of other sizes have others.
    params = list(dict.fromkeys(k for r in rows for k in r if k not in not_params))
    params = params[:TABLE_PARAMS]
    first = "trained on" if vary == "loss" else vary
    head = [first, "epochs"] + [c.removeprefix("final_") for c in metric_cols] + val_cols + params
    lines = [" ".join(f"{c:>11}" for c in head)]
    for r in rows:
        label = _value(SETTINGS[vary], r[vary])
        cells = [f"{label:>11}", _cell(r["epochs_run"])]
        cells += [_cell(r.get(c)) for c in metric_cols + val_cols]
        cells += [_cell(r.get(p)) for p in params]
        lines.append(" ".join(cells))
        if r["epochs_run"] is None:
            lines.append(
                f"  ({label}: the loss is not a finite number even at the start; no values)"
            )
        elif r["diverged_at"] is not None:
            lines.append(
                f"  ({label} diverged at epoch {r['diverged_at']}; values are from the last finite epoch)"
            )
    return "\n".join(lines)


def best_line(cmp: Comparison, by: str | None) -> str:
    """Which run is best, and by what."""
    by = by or cmp.default_metric()
    where = "held-out" if by.startswith("val_") else "training"
    rule = f"lowest final {by.removeprefix('val_')} on the {where} points"
    best = cmp.best(by)
    if best is None:
        return f"best: none ({rule}: every run diverged or is not finite)"
    shown = _value(SETTINGS[cmp.vary], best)
    name = "" if cmp.vary == "loss" else f"{cmp.vary} "
    return f"best: {name}{shown} ({rule}; --best-by chooses)"


def sweep_table(s: Sweep) -> str:
    """One row per learning rate: final and best loss, the epoch it diverged at."""
    lines = [" ".join(f"{c:>11}" for c in ("lr", "final loss", "best loss", "diverged"))]
    for r in s.rows():
        cells = [_fmt(r["lr"]), _cell(r["final_loss"]), _cell(r["best_loss"])]
        lines.append(" ".join([*cells, _cell(r["diverged_at"])]))
    epochs = s.spec.values["epochs"]
    lines.append(f"loss at the start {s.start_loss:.5g}; {epochs} epochs at each rate")
    limit = limit_of(s.spec)
    if limit is not None:
        lines.append(
            f"full-batch SGD on the MSE diverges above lr = {limit:.5g} (2 / the Hessian's "
            "largest eigenvalue)"
        )
    return "\n".join(lines)


FINDER_ROWS = 10  # steps shown by lr-find; --json has them all


def finder_table(f: LRFind) -> str:
    """lr_find's steps (thinned to about FINDER_ROWS), where it stopped and its suggestions."""
    lines = [" ".join(f"{c:>11}" for c in ("step", "lr", "smoothed", "raw loss"))]
    every = -(-len(f.lrs) // FINDER_ROWS)
    shown = sorted({*range(0, len(f.lrs), every), len(f.lrs) - 1})
    for k in shown:
        cells = [f"{k:>11d}", _fmt(f.lrs[k]), _fmt(f.losses[k]), _fmt(f.raw[k])]
        lines.append(" ".join(cells))
    if len(shown) < len(f.lrs):
        lines.append(f"({len(shown)} of {len(f.lrs)} steps shown; --json has every step)")
    if f.stopped_at is not None:
        lines.append(f"stopped at step {f.stopped_at}: the smoothed loss passed 4x its lowest")
    if f.suggestion is None:
        lines.append("no suggestion: too few steps before the loss blew up")
    else:
        lines.append(
            f"suggestion (valley) {f.suggestion:.3g}; minimum/10 {f.minimum:.3g}; "
            f"steepest {f.steepest if f.steepest is None else format(f.steepest, '.3g')}"
        )
    return "\n".join(lines)


def landscape_text(land: Landscape) -> str:
    """The grid's size and axes, its lowest point and the run's path in the two."""
    a, b = land.along
    size = f"{len(land.xs)} x {len(land.ys)}"
    lines = [f"{land.loss_name} over {a} and {b}, the others as at epoch {land.epoch}: {size} grid"]
    for name, values in ((a, land.xs), (b, land.ys)):
        lines.append(f"  {name:>6} from {values[0]:.5g} to {values[-1]:.5g}")
    low = land.minimum
    if low is None:
        lines.append("  the loss is not finite anywhere on the grid")
    else:
        lines.append(f"  lowest on the grid {low[2]:.5g} at {a} = {low[0]:.5g}, {b} = {low[1]:.5g}")
    first, last = land.path[0], land.path[-1]
    lines.append(
        f"  the run: {a} {first[0]:.5g} -> {last[0]:.5g}, {b} {first[1]:.5g} -> {last[1]:.5g} "
        f"(epochs 0 to {len(land.path) - 1})"
    )
    if land.optimum is not None:
        lines.append(f"  least squares: {a} = {land.optimum[0]:.5g}, {b} = {land.optimum[1]:.5g}")
    return "\n".join(lines)


def branch_note(h: History, b: History) -> str:
    """What the branch changed, from which epoch, and where each run ended."""
    info = b.config["branch"]
    k, parent = info["epoch"], info["parent"]
    changed = ", ".join(
        f"{name} {_value(SETTINGS[name], parent.get(name))} -> {_value(SETTINGS[name], value)}"
        for name, value in info["changed"].items()
        if parent.get(name) != value
    )
    lines = [
        f"(a branch from epoch {k} of the run: its epoch j is the run's epoch {k} + j; "
        f"{('changed: ' + changed) if changed else 'nothing changed'})"
    ]
    for name, run in (("the run", h), ("the branch", b)):
        last = run.last_epoch
        if last >= 0:
            loss = run.config["loss"]
            lines.append(f"{name} ends at {loss} {run.loss[last]:.5g} (its epoch {last})")
    return "\n".join(lines)


def _compare(args: argparse.Namespace, settings: dict) -> Comparison:
    if args.vary is None:
        if args.values is not None:
            raise ValueError("--values needs --vary NAME, the setting they are values of")
        return compare(losses=args.losses, **settings)
    if args.losses is not None:
        raise ValueError("give --losses or --vary with --values, not both")
    if args.values is None:
        raise ValueError(f"--vary {args.vary} needs --values, e.g. --values A,B")
    if args.vary in settings:
        flag = SETTINGS[args.vary].flag
        raise ValueError(f"{args.vary} is what varies: give its values in --values, not {flag}")
    return compare(vary=args.vary, values=args.values, **settings)


def _without(config: dict, *keys: str) -> dict:
    """A run's config without the settings a command sets itself."""
    return {k: v for k, v in config.items() if k not in keys}


def _dump(value) -> None:
    print(json.dumps(value, allow_nan=False))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name, p in PRESETS.items():
                print(f"{name:18} {p.description}")
            return 0
        settings = _settings(args)
        if args.command == "sweep":
            s = sweep(args.lrs if args.lrs is not None else DEFAULT_LRS, **settings)
            if args.json:
                config = _without(s.spec.config(), "lr")
                _dump({"config": config, "start_loss": s.start_loss, "table": s.rows()})
            else:
                print(sweep_table(s))
            return 0
        if args.command == "lr-find":
            f = lr_find(**settings)
            if args.json:
                _dump({"config": _without(f.spec.config(), "lr", "epochs"), **f.to_dict()})
            else:
                print(finder_table(f))
            return 0
        if args.command == "landscape":
            h = fit(**settings)
            span = None if args.span is None else (tuple(args.span[:2]), tuple(args.span[2:]))
            land = landscape(
                h, epoch=args.epoch, along=args.along, resolution=args.resolution, span=span
            )
            if args.json:
                _dump({"config": h.config, **land.to_dict()})
            else:
                print(landscape_text(land))
            return 0
        if args.command == "fit":
            if args.then and args.branch_at is None:
                raise ValueError("--then needs --branch-at K, the epoch to branch from")
            h = fit(**settings)
            if args.branch_at is not None:
                b = branch(h, args.branch_at, **dict(args.then or ()))
                if args.json:
                    _dump(b.to_dict())
                else:
                    print(history_table(b))
                    print(branch_note(h, b))
                return 0
            if args.json:
                print(json.dumps(h.to_dict(), allow_nan=False))
            else:
                print(history_table(h))
                if h.model.outputs == 2:
                    print(curve_table(h))
            return 0
        cmp = _compare(args, settings)
        rows = cmp.table()
        if args.json:
            out = {"vary": cmp.vary, "values": cmp.values}
            if cmp.vary == "loss":
                out["losses"] = cmp.values
            by = args.best_by or cmp.default_metric()
            _dump({**out, "best_by": by, "best": cmp.best(by), "table": rows})
        else:
            print(compare_table(rows, cmp.vary))
            print(best_line(cmp, args.best_by))
        return 0
    except ValueError as err:  # DataError included: bad input, never a traceback
        sys.stderr.write(_error_line(err))
        return 2
