"""Script time of the app's reruns, as ratios to a bare app, measured with AppTest.

Run: ``python benchmarks/bench_app.py [--repeats N]``

In one run it times the bare app (``bare_app.py``: one slider, one small chart) and the
explorer's first run, a learning-rate change (a new training run each time), a loss change
and opening the loss comparison, on the default lesson-3 setting (10 epochs) and on a
1,000-epoch run. Medians are printed with their ratio to the bare app's median rerun.
Stepping is not here: it happens in the browser, without a rerun (``bench_browser.py``).
It also breaks down what one ``st.plotly_chart`` of the 200-frame animation (the HTML
export's figure) costs, validated (a plain dict) against prebuilt (what the app passes).
Floor: a slider change <= 10x.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from webapp.controls import LR_OPTIONS  # noqa: E402

SLIDER_FLOOR = 10.0


def timed(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = (time.perf_counter() - start) * 1e3
    if at.exception:
        raise RuntimeError(f"the app raised: {at.exception[0].message}")
    return elapsed


def median(values: list[float]) -> float:
    return statistics.median(values)


def bare_rerun(repeats: int) -> float:
    at = AppTest.from_file(str(ROOT / "benchmarks" / "bare_app.py"), default_timeout=60)
    at.run()
    times = []
    for i in range(repeats):
        at.slider(key="n").set_value(2 + i % 40)
        times.append(timed(at))
    return median(times)


def explorer_scenarios(repeats: int, epochs: int) -> dict[str, float]:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    out = {"first run": timed(at)}
    at.select_slider(key="epochs").set_value(epochs)
    timed(at)
    # Every value new, so every change trains a new run (no cache hits).
    lrs = [v for v in LR_OPTIONS if 1e-5 <= v <= 0.05 and v != 0.01]
    out["learning-rate change"] = median(
        [timed(_set(at, at.select_slider(key="lr"), v)) for v in lrs[:repeats]]
    )
    at.select_slider(key="lr").set_value(0.01)
    timed(at)
    losses = ["l2", "mse", "huber", "l1"]
    out["loss change"] = median(
        [timed(_set(at, at.radio(key="loss"), losses[i % 4])) for i in range(repeats)]
    )
    opens = []
    for _ in range(repeats):
        at.button_group(key="view").set_value("Train")
        timed(at)
        at.button_group(key="view").set_value("Compare")
        opens.append(timed(at))
    out["open comparison"] = median(opens)
    return out


def _set(at: AppTest, widget, value) -> AppTest:
    widget.set_value(value)
    return at


def chart_cost(repeats: int) -> tuple[float, float]:
    """One plotly_chart of the 200-frame figure: as a plain dict vs prebuilt."""
    import plotly.io as pio
    import plotly.tools

    from explorer import figures, fit
    from webapp.charts import _Prebuilt

    fig = figures.fit_figure(fit(epochs=1000))

    def plain():
        pio.to_json(plotly.tools.return_figure_from_figure_or_data(fig, True), validate=False)

    def prebuilt():
        pio.to_json(
            plotly.tools.return_figure_from_figure_or_data(_Prebuilt(fig), True), validate=False
        )

    def clock(fn):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
        return median(times)

    return clock(plain), clock(prebuilt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    bare = bare_rerun(args.repeats * 2)
    print(f"bare app rerun (yardstick): {bare:.2f} ms")
    failed = False
    for epochs in (10, 1000):
        print(f"\nexplorer, fastai-quadratic, {epochs} epochs:")
        for name, ms in explorer_scenarios(args.repeats, epochs).items():
            ratio = ms / bare
            floor = {
                "learning-rate change": SLIDER_FLOOR,
                "loss change": SLIDER_FLOOR,
            }.get(name)
            verdict = ""
            if floor is not None:
                ok = ratio <= floor
                failed |= not ok
                verdict = f"  (floor {floor:g}x: {'PASS' if ok else 'FAIL'})"
            print(f"  {name:22} {ms:8.2f} ms  {ratio:6.1f}x bare{verdict}")
    plain, prebuilt = chart_cost(args.repeats)
    print(
        f"\none st.plotly_chart of the 200-frame fit figure: validated dict {plain:.2f} ms, "
        f"prebuilt {prebuilt:.2f} ms ({plain / prebuilt:.0f}x less)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
