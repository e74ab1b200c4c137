"""Independent references the tests compare the engine, the command line and the app with:
textbook loss formulas in float64 NumPy, central finite differences, the presets' published
recipes, and gradient descent on the line and the quadratic with hand-derived gradients."""

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


# ----------------------------------------------------------------------------- points

# The presets' published recipes, written out here (tests/test_data.py checks the presets
# against the same formulas), so that a test needs no preset to know its points.


def lesson_points(seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """fast.ai lesson 3: y = (3x² + 2x + 1)(1 + N(0, 0.15)) + N(0, 1.5) at 20 points on
    [-2, 2], ``np.random.RandomState(seed)``, the multiplicative noise drawn first."""
    x = np.linspace(-2, 2, 20)
    rng = np.random.RandomState(seed)
    mult = rng.normal(scale=0.15, size=20)
    add = rng.normal(scale=1.5, size=20)
    return x, (3 * x**2 + 2 * x + 1) * (1 + mult) + add


def roller_coaster_points(seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """fastbook ch. 4: speed = randn(20)·3 + 0.75(t - 9.5)² + 1 for t = 0..19."""
    t = np.arange(20, dtype=np.float64)
    return t, np.random.RandomState(seed).randn(20) * 3 + 0.75 * (t - 9.5) ** 2 + 1


def line_points(seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The line preset: y = 2x + 1 + N(0, 0.5) at 30 points on [-2, 2]."""
    x = np.linspace(-2, 2, 30)
    return x, 2 * x + 1 + np.random.RandomState(seed).normal(scale=0.5, size=30)


# ----------------------------------------------------------------------------- training


def features(model: str, x: np.ndarray) -> np.ndarray:
    """d(prediction)/d(parameter) for the models linear in their parameters: (n, P), columns
    in the order m, b (line) or a, b, c (quadratic)."""
    x = np.asarray(x, np.float64)
    if model == "line":
        return np.stack([x, np.ones_like(x)], axis=1)
    if model == "quadratic":
        return np.stack([x**2, x, np.ones_like(x)], axis=1)
    raise AssertionError(f"no reference features for model {model!r}")


def np_gradient(loss: str, model: str, p, x, y, delta: float = 1.0) -> np.ndarray:
    """The gradient of ``loss`` with respect to the parameters, derived by hand (float64)."""
    phi = features(model, x)
    e = phi @ np.asarray(p, np.float64) - np.asarray(y, np.float64)
    n = e.size
    if loss == "l1":
        de = np.sign(e) / n
    elif loss == "l2":
        de = e / (n * np.sqrt(np.mean(e**2)))
    elif loss == "mse":
        de = 2 * e / n
    elif loss == "huber":
        de = np.clip(e, -delta, delta) / n
    else:
        raise AssertionError(f"no reference gradient for loss {loss!r}")
    return de @ phi


def np_sgd(loss: str, model: str, p0, x, y, lr: float, epochs: int, delta: float = 1.0):
    """Full-batch gradient descent in float64 NumPy: (epochs + 1, P) parameters, the start
    first, each row the previous minus lr × gradient."""
    path = [np.asarray(p0, np.float64)]
    for _ in range(epochs):
        path.append(path[-1] - lr * np_gradient(loss, model, path[-1], x, y, delta))
    return np.array(path)


# ----------------------------------------------------------------------------- descent


def np_predict(model: str, p, x: np.ndarray, activation: str = "relu") -> np.ndarray:
    """The models' formulas in float64 NumPy, from the flat parameters in the order the
    README's JSON lists them: line m, b; quadratic a, b, c; relu-sum m[0..r-1], b[0..r-1],
    c; mlp W1[0..w-1], b1[...], W2[...], b2."""
    p, x = np.asarray(p, np.float64), np.asarray(x, np.float64)
    if model in ("line", "quadratic"):
        return features(model, x) @ p
    if model == "relu-sum":
        r = (p.size - 1) // 2
        m, b, c = p[:r], p[r : 2 * r], p[-1]
        return c + np.maximum(np.outer(x, m) + b, 0).sum(axis=1)
    if model == "mlp":
        w = (p.size - 1) // 3
        w1, b1, w2, b2 = p[:w], p[w : 2 * w], p[2 * w : 3 * w], p[-1]
        z = np.outer(x, w1) + b1
        act = {
            "relu": lambda z: np.maximum(z, 0),
            "tanh": np.tanh,
            "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        }[activation](z)
        return b2 + act @ w2
    raise AssertionError(f"no reference formula for model {model!r}")


def np_gradient_terms(loss: str, model: str, p, x, y, delta: float = 1.0) -> np.ndarray:
    """Each point's term of ``np_gradient`` (n, P): dL/dpred_i times the features of point
    i, derived by hand; the rows add up to the gradient."""
    phi = features(model, x)
    e = phi @ np.asarray(p, np.float64) - np.asarray(y, np.float64)
    n = e.size
    de = {
        "l1": lambda: np.sign(e) / n,
        "l2": lambda: e / (n * np.sqrt(np.mean(e**2))),
        "mse": lambda: 2 * e / n,
        "huber": lambda: np.clip(e, -delta, delta) / n,
    }[loss]()
    return de[:, None] * phi


# fastai 2's learning-rate suggestions, transcribed from fastai/callback/schedule.py
# (``valley``, ``minimum``, ``steep``) with NumPy in place of torch tensors.


def fastai_valley(lrs, losses) -> float:
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def fastai_minimum(lrs, losses) -> float:
    return float(lrs[np.argmin(losses)]) / 10


def fastai_steep(lrs, losses) -> float:
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return float(lrs[np.argmin(grads)])
