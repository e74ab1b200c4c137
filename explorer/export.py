"""Downloads of a run: the history as CSV and JSON."""

from __future__ import annotations

import io
import json

import numpy as np

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


def curve_svg(h: History, epoch: int | None = None, size: int = 400) -> str:
    """An outline run as a standalone SVG picture: the targets as dots joined in their
    order (grey), the model's curve (x(t), y(t)) over t in [0, 1] at ``epoch`` (the last
    finite one by default) in blue, equal scales on both axes, y up.

    Raises:
        ValueError: a run of a function y(x), or one with no finite epoch.
    """
    if h.model.outputs != 2:
        raise ValueError("curve_svg draws outline runs (a curve model on an outline preset)")
    if h.last_epoch < 0:
        raise ValueError("the run has no finite epoch to draw")
    epoch = h.last_epoch if epoch is None else epoch
    curve = h.predict(epoch, h.grid)
    both = np.vstack([h.y, curve])
    lo, hi = both.min(axis=0), both.max(axis=0)
    scale = 0.9 * size / max(float((hi - lo).max()), 1e-12)
    centre = (lo + hi) / 2

    def points(p: np.ndarray) -> str:
        px = size / 2 + (p[:, 0] - centre[0]) * scale
        py = size / 2 - (p[:, 1] - centre[1]) * scale
        return " ".join(f"{a:.2f},{b:.2f}" for a, b in zip(px, py, strict=True))

    dots = points(h.y).split()
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}">',
            '<rect width="100%" height="100%" fill="white"/>',
            f'<polyline points="{" ".join(dots)}" fill="none" stroke="#bbb" stroke-width="1"/>',
            *(
                f'<circle cx="{d.split(",")[0]}" cy="{d.split(",")[1]}" r="3" fill="#555"/>'
                for d in dots
            ),
            f'<polyline points="{points(curve)}" fill="none" stroke="#2563eb" stroke-width="2.5"/>',
            f'<text x="8" y="18" font-family="sans-serif" font-size="13">{h.model.name}, '
            f"epoch {epoch}, {h.config.get('loss', '')} {float(h.loss[epoch]):.4g}</text>",
            "</svg>",
        ]
    )
