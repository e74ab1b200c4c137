"""Benchmark the loss landscape and the learning-rate sweep (``explorer.descent``,
``explorer.rates``) against baselines timed in the same run.

Run from the project root, with the project's virtual environment:

    python benchmarks/bench_descent.py
    python benchmarks/bench_descent.py --repeats 20

What it measures, on the CPU in float64, every time the median of ``--repeats`` warm calls:

1. ``landscape(h, resolution=101)`` of a run on 1,000 points (the line preset with the
   MSE, and the lesson's quadratic with L1): 10,201 losses over 1,000 points each. The
   floor is 50 ms; beside it, the same grid in NumPy (each row of the grid one broadcast
   array, the loss written out) and one 1,000-epoch ``fit`` of the same run, as yardsticks.
2. ``sweep`` of 61 learning rates (1e-6 to 10) x 1,000 epochs against one 1,000-epoch
   ``fit`` of the same settings: the floor is 10x (the lesson's quadratic with L1, and the
   line with the MSE, where the large rates diverge). An MLP of 64 units with Adam is shown
   for reference: its work is 61x one run's, so the floor is not expected there.

The first call of each (compile included) is printed too. The exit status is 0 even when
a floor fails (this is a report, not a test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from explorer import fit, landscape, sweep  # noqa: E402
from explorer.train import wait_for_compiles  # noqa: E402

FLOOR_LANDSCAPE = 0.050  # seconds, 101 x 101 grid of a 1,000-point run, warm
FLOOR_SWEEP = 10.0  # sweep of 61 rates x 1,000 epochs / one 1,000-epoch fit
RESOLUTION = 101
POINTS = 1000


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def first(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def numpy_grid(h, land) -> np.ndarray:
    """The landscape of a line or quadratic under MSE or L1 in NumPy, one row at a time."""
    i0, i1 = (h.param_names.index(a) for a in land.along)
    powers = {"line": (1, 0), "quadratic": (2, 1, 0)}[h.model.name]
    design = np.stack([h.x**k for k in powers], axis=1)
    p = h.params[land.epoch]
    others = [k for k in range(p.size) if k not in (i0, i1)]
    rest = design[:, others] @ p[others] - h.y  # (n,)
    out = np.empty((land.ys.size, land.xs.size))
    for i, b in enumerate(land.ys):
        e = land.xs[:, None] * design[:, i0] + (b * design[:, i1] + rest)  # (R, n)
        out[i] = np.mean(e * e, axis=1) if h.config["loss"] == "mse" else np.abs(e).mean(axis=1)
    return out


def bench_landscape(name: str, settings: dict, repeats: int) -> float:
    h = fit(points=POINTS, **settings)
    wait_for_compiles()  # the engine's background compile, not timed with the landscape
    compile_s = first(lambda: landscape(h, resolution=RESOLUTION))
    t_land, land = timed(lambda: landscape(h, resolution=RESOLUTION), repeats)
    t_numpy, grid = timed(lambda: numpy_grid(h, land), max(3, repeats // 4))
    t_fit, _ = timed(lambda: fit(points=POINTS, **{**settings, "epochs": 1000}), repeats)
    agree = np.max(np.abs(grid - land.loss) / np.maximum(np.abs(grid), 1e-300))
    print(f"   {name}: along {land.along[0]}, {land.along[1]}")
    print(f"     first call (compiles)              {first_ms(compile_s)}")
    print(f"     landscape, warm                     {t_land * 1e3:9.2f} ms")
    print(
        f"     NumPy, the same grid                {t_numpy * 1e3:9.2f} ms   "
        f"(landscape is {t_numpy / t_land:.1f}x faster; largest relative difference {agree:.1e})"
    )
    print(
        f"     one 1,000-epoch fit of this run     {t_fit * 1e3:9.2f} ms   "
        f"(landscape / fit = {t_land / t_fit:.2f})"
    )
    return t_land


def first_ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def bench_sweep(name: str, settings: dict, repeats: int) -> float:
    lrs = np.geomspace(1e-6, 10, 61)
    compile_s = first(lambda: sweep(lrs, epochs=1000, **settings))
    t_sweep, s = timed(lambda: sweep(lrs, epochs=1000, **settings), repeats)
    first(lambda: fit(epochs=1000, **settings))
    wait_for_compiles()
    t_fit, _ = timed(lambda: fit(epochs=1000, **settings), repeats)
    diverged = sum(d is not None for d in s.diverged_at)
    print(f"   {name}: {diverged} of 61 rates diverge")
    print(f"     first call (compiles)              {first_ms(compile_s)}")
    print(f"     sweep, 61 rates x 1,000 epochs      {t_sweep * 1e3:9.2f} ms")
    print(f"     one fit, 1,000 epochs               {t_fit * 1e3:9.2f} ms")
    print(f"     ratio sweep / fit                   {t_sweep / t_fit:9.2f}x")
    return t_sweep / t_fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    t_start = time.perf_counter()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average"
        f" {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1/5/15 min); timings are noisy"
        " when other processes compete for the CPUs"
    )

    print(f"\n== 1. landscape, {RESOLUTION} x {RESOLUTION} grid, {POINTS:,} points")
    lands = {
        "line, MSE": bench_landscape(
            "line, MSE", dict(preset="line", loss="mse", epochs=100), args.repeats
        ),
        "quadratic, L1": bench_landscape(
            "quadratic, L1 (lesson 3)", dict(preset="fastai-quadratic", epochs=100), args.repeats
        ),
    }

    print("\n== 2. sweep, 61 learning rates from 1e-6 to 10, 1,000 epochs each")
    sweeps = {
        "quadratic, L1": bench_sweep("quadratic, L1, SGD (lesson 3, 20 points)", {}, args.repeats),
        "line, MSE": bench_sweep(
            "line, MSE, SGD (30 points)", dict(preset="line", loss="mse"), args.repeats
        ),
    }
    mlp = bench_sweep(
        "for reference: MLP of 64 tanh units, Adam, sine (no floor)",
        dict(preset="sine", model="mlp", width=64, activation="tanh", optimizer="adam"),
        max(3, args.repeats // 4),
    )

    print("\n== floors")
    checks = [
        (
            f"landscape {name} <= {FLOOR_LANDSCAPE * 1e3:.0f} ms",
            t <= FLOOR_LANDSCAPE,
            f"{t * 1e3:.1f} ms",
        )
        for name, t in lands.items()
    ] + [
        (f"sweep {name} <= {FLOOR_SWEEP:.0f}x one fit", r <= FLOOR_SWEEP, f"{r:.2f}x")
        for name, r in sweeps.items()
    ]
    for name, ok, shown in checks:
        print(f"   {'PASS' if ok else 'FAIL'}  {name:<40} measured {shown}")
    print(f"   (MLP sweep, no floor: {mlp:.1f}x one fit)")
    failed = [name for name, ok, _ in checks if not ok]
    print(f"\n{len(failed)} of {len(checks)} checks failed" if failed else "\nall checks PASS")
    print(
        f"(benchmark wall time {time.perf_counter() - t_start:.1f} s; load average now"
        f" {' '.join(f'{v:.2f}' for v in os.getloadavg())})"
    )


if __name__ == "__main__":
    main()
