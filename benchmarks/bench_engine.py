"""Benchmark the training engine (``explorer.fit`` and ``explorer.train.train``) against
plain-loop baselines.

Run from the project root, with the project's virtual environment:

    python benchmarks/bench_engine.py
    python benchmarks/bench_engine.py --repeats 20 --eager-epochs 100

(``.venv/bin/python benchmarks/bench_engine.py`` works too; the script puts the project
root on ``sys.path`` itself, so PYTHONPATH is not needed.) It takes well under 2 minutes.

What it measures, all on the CPU in float64 (the engine's precision; every baseline too):

1. 1,000 epochs on the ``fastai-quadratic`` preset (20 points), quadratic model
   a*x^2 + b*x + c from a = b = c = 1.1, L1 (mean absolute error), lr 0.01, plain SGD:
   - the engine through the public API: ``fit(preset="fastai-quadratic", ...)``, the
     whole call (settings resolved, data, start, padding, compiled run, host transfer of
     the history, History assembly) after a warm-up call, median of ``--repeats`` calls;
     and ``fit(epochs=0)``, its fixed cost;
   - the same through ``train`` (data, model and start made once, outside the timing);
   - ``fit`` of a second pair: the (loss, optimizer) pair a process compiles first runs
     alone; any other goes once through the switch over every pair (which costs more per
     call) while its own executable compiles in the background, then alone; timed after a
     first call with another loss and one with this pair;
   - a Python loop calling ``jax.value_and_grad`` eagerly each epoch (no jit); it is slow,
     so only ``--eager-epochs`` epochs are timed and the time is scaled to 1,000;
   - a Python loop around a jitted step function;
   - hand-written NumPy loops with the analytic gradient of the MAE
     (d/da = mean(sign(e) x^2), d/db = mean(sign(e) x), d/dc = mean(sign(e))), once
     written per parameter and once as one matrix product ``X @ sign(e) / n``.
   Every baseline records the same history as the engine (parameters, loss, gradient per
   epoch), and their final parameters are checked against the engine's.
2. 10,000 epochs on 10,000 points (noisy quadratic from ``fastai-quadratic``), L2 (RMSE),
   SGD, once compiled (median of a few calls).
3. The first ``train`` call, compile included, in a fresh Python subprocess (imports timed
   separately). The first call compiles its own (loss, optimizer) pair and the whole
   engine compiles in the background (``explorer.train.Engine``): the next call with
   another pair waits for it, and the child reports when it was ready.

Finally it prints the floors with PASS/FAIL: ``fit`` >= 20x faster than the NumPy loop
(issue 9; both NumPy loops are vectorised over the points, and both are checked) and
>= 1000x faster than the eager loop, 10k x 10k < 0.2 s once compiled, first call < 1 s.
Every ratio is of times measured in the same run, so a loaded machine slows both sides.
The exit status is 0 even when a floor fails (this is a report, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from explorer import fit  # noqa: E402
from explorer.data import make_preset  # noqa: E402
from explorer.models import build_model  # noqa: E402
from explorer.train import (  # noqa: E402
    compile_in_background,
    engine,
    train,
    wait_for_compiles,
)

compile_in_background()  # the engine as the app runs it (streamlit_app.py)

EPOCHS = 1_000
LR = 0.01
START = 1.1
BIG_EPOCHS = 10_000
BIG_POINTS = 10_000

FLOOR_NUMPY = 20.0  # fit at least this many times faster than the NumPy loop (issue 9)
FLOOR_EAGER = 1000.0  # ... than the eager jax.grad loop
FLOOR_BIG = 0.2  # seconds, 10k epochs x 10k points once compiled
FLOOR_FIRST = 1.0  # seconds, first call including compile

# Tolerance of the agreement check on final parameters. L1's gradient only sees the signs
# of the errors, so rounding in a different order can flip one sign near the fit
# and shift a trajectory by about one step (lr * mean(x^2) ~ 0.02).
AGREE_ATOL = 5e-2

FIRST_CALL_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from explorer.data import make_preset
from explorer.models import build_model
from explorer.train import compile_in_background, train, wait_for_compiles
compile_in_background()
t1 = time.perf_counter()
data = make_preset("fastai-quadratic")
model = build_model("quadratic")
p0 = np.full(3, 1.1, np.float64)
t2 = time.perf_counter()
h = train(data, model, p0, loss="l1", optimizer="sgd", lr=0.01, epochs=1000)
t3 = time.perf_counter()
h2 = train(data, model, p0, loss="l2", optimizer="adam", lr=0.05, epochs=500)
t4 = time.perf_counter()
wait_for_compiles()
t5 = time.perf_counter()
h3 = train(data, model, p0, loss="huber", optimizer="momentum", lr=0.02, epochs=700)
t6 = time.perf_counter()
print(json.dumps(dict(imports=t1 - t0, setup=t2 - t1, first=t3 - t2, second=t4 - t3,
                      whole=t5 - t2, third=t6 - t5, final=h.params[-1].tolist())))
"""


def timed(fn, repeats: int) -> tuple[float, list[float], object]:
    """Median wall time of ``fn()`` over ``repeats`` calls, all the times, last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f} ms"


# ----------------------------------------------------------------------------- baselines


def quad_mae(p, x, y):
    pred = p[0] * x**2 + p[1] * x + p[2]
    return jnp.mean(jnp.abs(pred - y))


quad_mae_vg = jax.value_and_grad(quad_mae)


def eager_loop(x, y, p0, epochs: int) -> np.ndarray:
    """jax.value_and_grad called eagerly each epoch (not wrapped in jit); returns params.

    Not under ``jax.disable_jit()``: jnp's own internally jitted helpers stay cached, which
    makes this baseline faster (about 7 vs 10 ms/epoch here), i.e. the harder one to beat.
    """
    p = jnp.asarray(p0)
    hp, hl, hg = [], [], []
    for _ in range(epochs):
        loss, g = quad_mae_vg(p, x, y)
        hp.append(p)
        hl.append(loss)
        hg.append(g)
        p = p - LR * g
    loss, g = quad_mae_vg(p, x, y)
    hp.append(p)
    hl.append(loss)
    hg.append(g)
    params, _, _ = (np.stack(jax.device_get(h)) for h in (hp, hl, hg))
    return params


@jax.jit
def jit_step(p, x, y):
    loss, g = quad_mae_vg(p, x, y)
    return p - LR * g, loss, g


def jit_loop(x, y, p0, epochs: int) -> np.ndarray:
    """A Python loop around a jitted step; the history is fetched once at the end."""
    p = jnp.asarray(p0)
    hp, hl, hg = [], [], []
    for _ in range(epochs):
        new, loss, g = jit_step(p, x, y)
        hp.append(p)
        hl.append(loss)
        hg.append(g)
        p = new
    _, loss, g = jit_step(p, x, y)
    hp.append(p)
    hl.append(loss)
    hg.append(g)
    params, _, _ = (np.stack(jax.device_get(h)) for h in (hp, hl, hg))
    return params


def numpy_loop(x, y, p0, epochs: int) -> np.ndarray:
    """Analytic MAE gradient written per parameter: mean(sign(e) x^2), mean(sign(e) x), ..."""
    x2 = x * x
    p = p0.copy()
    hp = np.empty((epochs + 1, 3), np.float64)
    hl = np.empty(epochs + 1, np.float64)
    hg = np.empty((epochs + 1, 3), np.float64)
    for k in range(epochs + 1):
        a, b, c = p
        e = a * x2 + b * x + c - y
        s = np.sign(e)
        g = np.array([np.mean(s * x2), np.mean(s * x), np.mean(s)], np.float64)
        hp[k], hl[k], hg[k] = p, np.mean(np.abs(e)), g
        p = p - np.float64(LR) * g
    return hp


def numpy_matrix_loop(x, y, p0, epochs: int) -> np.ndarray:
    """The same gradient as one matrix product: X @ sign(e) / n with X = [x^2; x; 1]."""
    features = np.stack([x * x, x, np.ones_like(x)])
    n = np.float64(x.size)
    p = p0.copy()
    hp = np.empty((epochs + 1, 3), np.float64)
    hl = np.empty(epochs + 1, np.float64)
    hg = np.empty((epochs + 1, 3), np.float64)
    for k in range(epochs + 1):
        e = p @ features - y
        g = features @ np.sign(e) / n
        hp[k], hl[k], hg[k] = p, np.abs(e).mean(), g
        p = p - np.float64(LR) * g
    return hp


# ----------------------------------------------------------------------------- sections


def bench_small(repeats: int, eager_epochs: int) -> dict:
    data = make_preset("fastai-quadratic")
    model = build_model("quadratic")
    p0 = np.full(3, START, np.float64)
    x64, y64 = data.x.astype(np.float64), data.y.astype(np.float64)
    xj, yj = jnp.asarray(x64), jnp.asarray(y64)

    def run_engine(epochs=EPOCHS):
        return train(data, model, p0, loss="l1", optimizer="sgd", lr=LR, epochs=epochs)

    def run_fit(epochs=EPOCHS):
        return fit(
            preset="fastai-quadratic",
            model="quadratic",
            init=dict.fromkeys("abc", START),
            loss="l1",
            optimizer="sgd",
            lr=LR,
            epochs=epochs,
        )

    print(
        f"== 1. {EPOCHS:,} epochs, fastai-quadratic ({data.n} points), quadratic, L1, SGD lr {LR}"
    )
    print(f"   start a = b = c = {START}; jax {jax.__version__} on {jax.devices()[0]}")
    run_fit()  # warm-up: compile excluded
    wait_for_compiles()  # the whole engine, compiled in the background after a first call
    t_fit, all_fit, hist = timed(run_fit, repeats)
    t_fit_zero, _, _ = timed(lambda: run_fit(0), repeats)
    t_engine, _, train_hist = timed(run_engine, repeats)
    t_zero, _, _ = timed(lambda: run_engine(0), repeats)
    # The pair a process compiles first runs alone; any other, the first time it is used,
    # goes through the whole engine's switch over every (loss, optimizer) pair while its own
    # executable compiles in the background, and alone after that. Time that pair too: a
    # fresh engine whose first call was another loss, then this pair used once.
    engine.cache_clear()
    train(data, model, p0, loss="l2", optimizer="sgd", lr=LR, epochs=EPOCHS)
    wait_for_compiles()
    run_fit()  # its first use: through the whole engine, its own compile queued
    wait_for_compiles()
    t_fit_whole, _, whole_hist = timed(run_fit, repeats)
    assert np.array_equal(hist.params, whole_hist.params), "the two paths disagree"
    ref = hist.params  # (EPOCHS + 1, 3)
    assert np.array_equal(ref, train_hist.params), "fit and train disagree"

    eager_loop(xj, yj, p0, 3)  # warm-up: the eager ops' first dispatch
    eager_repeats = max(1, min(3, repeats))
    t_eager_part, _, eager_p = timed(lambda: eager_loop(xj, yj, p0, eager_epochs), eager_repeats)
    t_eager = t_eager_part * EPOCHS / eager_epochs

    jit_loop(xj, yj, p0, 3)  # warm-up: compile the step
    loop_repeats = max(1, min(5, repeats))
    t_jit, _, jit_p = timed(lambda: jit_loop(xj, yj, p0, EPOCHS), loop_repeats)
    t_np, _, np_p = timed(lambda: numpy_loop(x64, y64, p0, EPOCHS), loop_repeats)
    t_npm, _, npm_p = timed(lambda: numpy_matrix_loop(x64, y64, p0, EPOCHS), loop_repeats)

    print(
        f"   fit() full call               {ms(t_fit)}  ({t_fit / EPOCHS * 1e6:.2f} us/epoch;"
        f" median of {repeats}, min {ms(min(all_fit)).strip()})"
    )
    print(f"   fit(epochs=0)                 {ms(t_fit_zero)}  (fixed cost per call)")
    print(
        f"   fit() of a second pair        {ms(t_fit_whole)}  (after a first call with another"
        " loss and one with this pair: its own executable, compiled in the background)"
    )
    print(f"   train() full call             {ms(t_engine)}  (data, model, start made once)")
    print(f"   train(epochs=0)               {ms(t_zero)}  (fixed cost per call)")
    rows = [
        (
            f"eager jax.grad loop (x{EPOCHS // eager_epochs} scaled)",
            t_eager,
            f"timed {eager_epochs} epochs: {ms(t_eager_part).strip()}, scaled per epoch to {EPOCHS:,}",
        ),
        ("python loop + jitted step", t_jit, f"median of {loop_repeats}"),
        ("numpy loop (per-parameter)", t_np, f"median of {loop_repeats}"),
        ("numpy loop (matrix X@sign(e))", t_npm, f"median of {loop_repeats}"),
    ]
    print(f"   {'baseline':<32}{'time':>13}  {'/ fit':>10}  {'/ fit of a second pair':>26}")
    for name, t, note in rows:
        print(f"   {name:<32}{ms(t)}  {t / t_fit:9.1f}x  {t / t_fit_whole:25.1f}x  ({note})")

    print(f"   agreement of final parameters with the engine (atol {AGREE_ATOL:g}):")
    print(f"     engine after {EPOCHS} epochs: {np.array2string(ref[-1], precision=5)}")
    checks = [
        ("eager jax.grad loop", eager_p[-1], ref[eager_epochs], eager_epochs),
        ("python loop + jitted step", jit_p[-1], ref[-1], EPOCHS),
        ("numpy loop (per-parameter)", np_p[-1], ref[-1], EPOCHS),
        ("numpy loop (matrix)", npm_p[-1], ref[-1], EPOCHS),
    ]
    agree = True
    for name, got, want, at in checks:
        diff = float(np.max(np.abs(got - want)))
        ok = diff <= AGREE_ATOL
        agree &= ok
        print(
            f"     {name:<28} at epoch {at:>5}: {np.array2string(got, precision=5)}"
            f"  max |diff| {diff:.2e}  {'OK' if ok else 'MISMATCH'}"
        )
    return dict(
        fit=t_fit,
        fit_zero=t_fit_zero,
        fit_whole=t_fit_whole,
        engine=t_engine,
        eager=t_eager,
        jit=t_jit,
        numpy=t_np,
        numpy_matrix=t_npm,
        agree=agree,
    )


def bench_big(repeats: int) -> float:
    data = make_preset("fastai-quadratic", points=BIG_POINTS)
    model = build_model("quadratic")
    p0 = np.full(3, START, np.float64)

    def run():
        return train(data, model, p0, loss="l2", optimizer="sgd", lr=LR, epochs=BIG_EPOCHS)

    print(
        f"\n== 2. {BIG_EPOCHS:,} epochs x {data.n:,} points (noisy quadratic), quadratic, L2 (RMSE),"
        f" SGD lr {LR}"
    )
    t = time.perf_counter()
    run()
    t_first = time.perf_counter() - t
    wait_for_compiles()  # not timed alongside the background compile
    t_big, all_big, hist = timed(run, repeats)
    print(f"   first call in this process (compiles for this data size): {ms(t_first)}")
    print(
        f"   once compiled: {ms(t_big)} median of {repeats}"
        f" ({', '.join(f'{s * 1e3:.1f}' for s in all_big)} ms);"
        f" {t_big / BIG_EPOCHS * 1e6:.2f} us/epoch, {t_big / BIG_EPOCHS / data.n * 1e9:.2f} ns/point-epoch"
    )
    print(
        f"   final params {np.array2string(hist.params[-1], precision=4)}, final loss"
        f" {float(hist.loss[-1]):.4f}, diverged_at {hist.diverged_at}"
    )
    return t_big


def bench_first_call(runs: int) -> float:
    print(f"\n== 3. first train() call in a fresh Python subprocess ({runs} runs)")
    print(f"   settings as in 1 ({EPOCHS:,} epochs, L1, SGD); imports timed separately")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    firsts = []
    for i in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", FIRST_CALL_CHILD],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        firsts.append(r["first"])
        print(
            f"   run {i + 1}: imports {ms(r['imports']).strip()}, data+model {ms(r['setup']).strip()},"
            f" first train() {ms(r['first']).strip()} (compile of its loss and optimizer"
            f" included); next call with another loss/optimizer/lr/epochs"
            f" {ms(r['second']).strip()} (waits for the whole engine, compiled in the"
            f" background); whole engine ready {ms(r['whole']).strip()} after the first call"
            f" began; a call after that {ms(r['third']).strip()}"
        )
    t = statistics.median(firsts)
    print(f"   median first call: {ms(t).strip()}")
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=20, help="engine calls to take the median of"
    )
    parser.add_argument(
        "--eager-epochs", type=int, default=100, help="epochs timed for the eager loop (scaled)"
    )
    parser.add_argument("--big-repeats", type=int, default=5, help="calls for 10k x 10k")
    parser.add_argument("--first-runs", type=int, default=3, help="fresh subprocesses to time")
    args = parser.parse_args()
    if not 1 <= args.eager_epochs <= EPOCHS:
        parser.error(f"--eager-epochs must be from 1 to {EPOCHS}")

    t_start = time.perf_counter()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average"
        f" {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1/5/15 min); timings are noisy"
        " when other processes compete for the CPUs\n"
    )
    small = bench_small(max(1, args.repeats), args.eager_epochs)
    t_big = bench_big(max(1, args.big_repeats))
    t_first = bench_first_call(max(1, args.first_runs))

    e = small["fit"]
    floors = [
        (
            f"fit >= {FLOOR_NUMPY:g}x faster than numpy loop (per-parameter)",
            small["numpy"] / e,
            small["numpy"] / e >= FLOOR_NUMPY,
            "x",
        ),
        (
            f"fit >= {FLOOR_NUMPY:g}x faster than numpy loop (matrix form)",
            small["numpy_matrix"] / e,
            small["numpy_matrix"] / e >= FLOOR_NUMPY,
            "x",
        ),
        (
            f"fit of a second pair >= {FLOOR_NUMPY:g}x numpy loop (matrix)",
            small["numpy_matrix"] / small["fit_whole"],
            small["numpy_matrix"] / small["fit_whole"] >= FLOOR_NUMPY,
            "x",
        ),
        (
            f"fit >= {FLOOR_EAGER:g}x faster than eager jax.grad loop",
            small["eager"] / e,
            small["eager"] / e >= FLOOR_EAGER,
            "x",
        ),
        (
            f"10k epochs x 10k points < {FLOOR_BIG:g} s once compiled",
            t_big,
            t_big < FLOOR_BIG,
            " s",
        ),
        (f"first call incl. compile < {FLOOR_FIRST:g} s", t_first, t_first < FLOOR_FIRST, " s"),
    ]
    print("\n== floors")
    for name, value, ok, unit in floors:
        shown = f"{value:.1f}x" if unit == "x" else f"{value:.3f} s"
        print(f"   {'PASS' if ok else 'FAIL'}  {name:<58} measured {shown}")
    agree = small["agree"]
    print(
        f"   {'PASS' if agree else 'FAIL'}  {'baselines agree with the engine (final params)':<58}"
    )
    failed = [name for name, _, ok, _ in floors if not ok] + ([] if agree else ["agreement"])
    print(f"\n{len(failed)} of {len(floors) + 1} checks failed" if failed else "\nall checks PASS")
    print(
        f"(benchmark wall time {time.perf_counter() - t_start:.1f} s; load average now"
        f" {' '.join(f'{v:.2f}' for v in os.getloadavg())})"
    )


if __name__ == "__main__":
    main()
