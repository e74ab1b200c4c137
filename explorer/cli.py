"""The command line: ``python -m explorer fit|compare|presets``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

import numpy as np

from .api import compare, fit
from .data import PRESETS
from .losses import LOSSES
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


def _add_run_flags(p: argparse.ArgumentParser, with_loss: bool) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--preset", choices=list(PRESETS), help=f"{PRESET.help} (default {PRESET.default})"
    )
    src.add_argument("--data", metavar="FILE.csv", help="your own points: two columns x, y")
    for s in SETTINGS.values():  # one flag per declared setting
        if s.name == "loss" and not with_loss:
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
    _add_run_flags(
        sub.add_parser("fit", help="train one run and print its history"), with_loss=True
    )
    cmp = sub.add_parser("compare", help="train the same run with several losses")
    cmp.add_argument(
        "--losses",
        default="l1,l2",
        help=f"comma-separated, from {', '.join(LOSSES)} (default l1,l2)",
    )
    _add_run_flags(cmp, with_loss=False)
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
    """Readable table: epoch, loss, parameters, gradients; thinned for long runs."""
    names = h.param_names[:TABLE_PARAMS]
    head = ["epoch", "loss"] + names + [f"d/d{n}" for n in names]
    lines = [" ".join(f"{c:>11}" for c in head)]
    last = h.last_epoch
    shown = frame_epochs(last, 40) if last >= 0 else []
    for k in shown:
        row = [f"{k:>11d}", _fmt(h.loss[k])]
        row += [_fmt(v) for v in h.params[k, : len(names)]]
        row += [_fmt(v) for v in h.grads[k, : len(names)]]
        lines.append(" ".join(row))
    notes = []
    if len(shown) < last + 1:
        notes.append(f"({len(shown)} of {last + 1} epochs shown; --json has every epoch)")
    if len(h.param_names) > len(names):
        notes.append(f"({len(h.param_names) - len(names)} more parameters; --json has them all)")
    if h.diverged_at is not None:
        notes.append(
            f"The loss diverged at epoch {h.diverged_at}: the loss, a parameter or a gradient "
            "stopped being a finite number. Lower the learning rate."
        )
    return "\n".join(lines + notes)


def _cell(v) -> str:
    if v is None:
        return f"{'-':>11}"
    return f"{v:>11d}" if isinstance(v, int) else _fmt(v)


def compare_table(rows: list[dict], losses: list[str]) -> str:
    metric_cols = [f"final_{m}" for m in LOSSES]
    not_params = {"loss", "epochs_run", "diverged_at", *metric_cols}
    # Parameter columns from every row, in order: a run that was not finite even at the
    # start has none, and it may come first.
    params = list(dict.fromkeys(k for r in rows for k in r if k not in not_params))
    params = params[:TABLE_PARAMS]
    head = ["trained on", "epochs"] + [c.removeprefix("final_") for c in metric_cols] + params
    lines = [" ".join(f"{c:>11}" for c in head)]
    for r in rows:
        cells = [f"{r['loss']:>11}", _cell(r["epochs_run"])]
        cells += [_cell(r.get(c)) for c in metric_cols]
        cells += [_cell(r.get(p)) for p in params]
        lines.append(" ".join(cells))
        if r["epochs_run"] is None:
            lines.append(
                f"  ({r['loss']}: the loss is not a finite number even at the start; no values)"
            )
        elif r["diverged_at"] is not None:
            lines.append(
                f"  ({r['loss']} diverged at epoch {r['diverged_at']}; values are from the last finite epoch)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name, p in PRESETS.items():
                print(f"{name:18} {p.description}")
            return 0
        settings = _settings(args)
        if args.command == "fit":
            h = fit(**settings)
            if args.json:
                print(json.dumps(h.to_dict(), allow_nan=False))
            else:
                print(history_table(h))
            return 0
        cmp = compare(losses=args.losses, **settings)
        rows = cmp.table()
        if args.json:
            print(json.dumps({"losses": list(cmp.runs), "table": rows}, allow_nan=False))
        else:
            print(compare_table(rows, list(cmp.runs)))
        return 0
    except ValueError as err:  # DataError included: bad input, never a traceback
        sys.stderr.write(_error_line(err))
        return 2
