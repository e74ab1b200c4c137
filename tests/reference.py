"""Independent references the tests compare the engine with: textbook loss formulas in
float64 NumPy and central finite differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def np_loss(name: str, e: np.ndarray, delta: float = 1.0) -> float:
    """The textbook formula in float64, over the real points only."""
    e = np.asarray(e, np.float64)
    a = np.abs(e)
    if name == "l1":
        return float(np.mean(a))
    if name == "l2":
        return float(np.sqrt(np.mean(e**2)))
    if name == "mse":
        return float(np.mean(e**2))
    if name == "huber":
        return float(np.mean(np.where(a <= delta, 0.5 * e**2, delta * (a - 0.5 * delta))))
    raise AssertionError(f"no reference formula for loss {name!r}")


def finite_differences(
    f: Callable[[np.ndarray], float], at: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central differences of ``f`` at ``at`` (float64), one entry at a time."""
    at = np.asarray(at, np.float64)
    out = np.empty_like(at)
    for i in range(at.size):
        up, down = at.copy(), at.copy()
        up[i] += h
        down[i] -= h
        out[i] = (f(up) - f(down)) / (2 * h)
    return out
