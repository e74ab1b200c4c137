"""Downloads of a run: the history as CSV and JSON."""

from __future__ import annotations

import io
import json

from .train import History


def history_csv(h: History) -> str:
    """One row per epoch: epoch, loss, the held-out points' loss (``val_loss``, for a run
    with held-out points), every parameter, every gradient."""
    out = io.StringIO()
    names = h.param_names
    held = ["val_loss"] if h.val_loss is not None else []
    out.write(",".join(["epoch", "loss", *held, *names, *(f"grad_{n}" for n in names)]) + "\n")
    for k in range(len(h.loss)):
        cells = [str(k), repr(float(h.loss[k]))]
        cells += [repr(float(h.val_loss[k]))] if held else []
        cells += [repr(float(v)) for v in h.params[k]]
        cells += [repr(float(v)) for v in h.grads[k]]
        out.write(",".join(cells) + "\n")
    return out.getvalue()


def history_json(h: History) -> str:
    """The command line's ``--json`` object."""
    return json.dumps(h.to_dict(), allow_nan=False)
