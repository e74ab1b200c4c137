"""Downloads of a run: the history as CSV and JSON."""

from __future__ import annotations

import io
import json

from .train import History


def history_csv(h: History) -> str:
    """One row per epoch: epoch, loss, every parameter, every gradient."""
    out = io.StringIO()
    names = h.param_names
    out.write(",".join(["epoch", "loss", *names, *(f"grad_{n}" for n in names)]) + "\n")
    for k in range(len(h.loss)):
        cells = [str(k), repr(float(h.loss[k]))]
        cells += [repr(float(v)) for v in h.params[k]]
        cells += [repr(float(v)) for v in h.grads[k]]
        out.write(",".join(cells) + "\n")
    return out.getvalue()


def history_json(h: History) -> str:
    """The command line's ``--json`` object."""
    return json.dumps(h.to_dict(), allow_nan=False)
