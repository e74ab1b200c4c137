"""Fit a cat: how long each curve model takes to draw the outline presets, and pictures.

Run from the project root, with the project's virtual environment:

    python benchmarks/bench_cat.py
    python benchmarks/bench_cat.py --out /tmp/cats --repeats 5

For each run below (the cat's suggested settings, the other two curve models on the cat
with the README's settings, the heart's and the star's suggestions), in a fresh Python
process: the imports, the first ``fit`` (its compile included; the compile cache is a
fresh temporary folder, so nothing is loaded from disk), then the median of ``--repeats``
calls once compiled; the loss at the start and at the end and their ratio. It writes
``OUT/<run>.svg`` (``explorer.export.curve_svg``: the targets as dots, the final curve in
blue) and, where Chromium is installed, ``OUT/<run>.png`` to look at. The exit status is
0 whatever the numbers (a report, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "cat-relu-curve": dict(preset="cat"),
    "cat-fourier-curve": dict(
        preset="cat", model="fourier-curve", terms=12, optimizer="sgd", lr=0.5, epochs=300
    ),
    "cat-mlp-curve": dict(
        preset="cat", model="mlp-curve", width=64, optimizer="adam", lr=0.01, epochs=10000
    ),
    "heart": dict(preset="heart"),
    "star": dict(preset="star"),
}

CHILD = """
import json, statistics, sys, time
t0 = time.perf_counter()
import explorer
from explorer import fit
from explorer.export import curve_svg
imports = time.perf_counter() - t0
settings, repeats, svg = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
h = fit(**settings)
first = time.perf_counter() - t0
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    h = fit(**settings)
    times.append(time.perf_counter() - t0)
open(svg, "w").write(curve_svg(h))
print(json.dumps(dict(
    imports=imports, first=first, warm=statistics.median(times), start=float(h.loss[0]),
    end=float(h.loss[-1]), epochs=h.config["epochs"], model=h.config["model"],
    diverged_at=h.diverged_at,
)))
"""


def png(svg: Path, size: int = 400) -> Path | None:
    """The SVG as a PNG through headless Chromium, or None without it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    out = svg.with_suffix(".png")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={out}",
            f"--window-size={size},{size}",
            svg.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return out if out.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "explorer-cats"))
    parser.add_argument("--repeats", type=int, default=5, help="warm calls timed per run")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load[0]:.2f}")
    head = ("run", "model", "epochs", "imports", "first fit", "warm fit", "loss start", "end")
    print(f"{head[0]:>18} {head[1]:>14} {head[2]:>6} " + " ".join(f"{h:>10}" for h in head[3:]))
    for name, settings in RUNS.items():
        svg = out / f"{name}.svg"
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, PYTHONPATH=str(ROOT), GRADIENT_EXPLORER_CACHE=cache)
            done = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(settings), str(args.repeats), str(svg)],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
                check=False,
            )
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        ratio = r["end"] / r["start"]
        print(
            f"{name:>18} {r['model']:>14} {r['epochs']:>6} {r['imports']:>9.2f}s "
            f"{r['first']:>9.2f}s {1000 * r['warm']:>8.1f}ms {r['start']:>10.4g} "
            f"{r['end']:>10.4g}  (end/start {ratio:.2g}"
            + (f", diverged at {r['diverged_at']}" if r["diverged_at"] is not None else "")
            + ")"
        )
        picture = png(svg)
        print(f"{'':>18} {picture or svg}")
    print(f"load average now {os.getloadavg()[0]:.2f}; {statistics.mean(load):.2f} at the start")


if __name__ == "__main__":
    main()
