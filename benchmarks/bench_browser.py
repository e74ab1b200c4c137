"""What a person waits for in the browser, in Chromium, as ratios to a bare app timed in
the same run.

Run: ``python benchmarks/bench_browser.py [--repeats N]``

It starts the explorer, ``bare_app.py`` (one slider, one small chart) and
``bare_select_app.py`` (the app's own learning-rate control and one small chart) on
127.0.0.1 and drives headless Chromium:

- the player's moves (Step, Back, a key, the scrubber): from the event to the next frame
  painted after the fit's curve and the table changed; floor: median <= 50 ms;
- a learning-rate slider move (keyboard) until the new run's loss curve is on screen,
  against the bare app's slider move until its chart is redrawn; floor: <= 1.5x;
- the compare view with four runs (the four losses): the same moves, floor 50 ms, and
  the learning-rate slider until the first run's new loss curve is drawn, against the
  same move on a single run; floor: <= 2x;
- the largest run the app offers (an MLP of 16 hidden units, 10,000 epochs): the size of
  what the player receives, and the time from receiving it to its first draw; floor: 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_tools import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

from webapp.controls import LR_OPTIONS  # noqa: E402

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
MOVE_FLOOR_MS = 50.0
SLIDER_FLOOR = 1.5
FIRST_DRAW_FLOOR_MS = 1000.0
BIG = "?preset=sine&model=mlp&width=16&epochs=10000&opt=Adam&lr=0.01"
FOUR = "view=Compare&compare=L1&compare=L2&compare=MSE&compare=Huber&epochs=100"
COMPARE_FLOOR = 2.0

# One move of the player, timed inside the page: the event, then frames until the fit's
# curve has changed on screen, then one more frame (painted).
MOVE = """async (action) => {
  const path = () => document.querySelector('.gx-fit .scatterlayer .trace:nth-child(2) path.js-line');
  const before = path().getAttribute('d');
  const table = document.querySelector('.gx-table').textContent;
  const t0 = performance.now();
  if (action === 'step' || action === 'back') {
    document.querySelector(`.gx-btn[data-action=${action}]`).click();
  } else if (action === 'key') {
    document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
  } else if (action === 'scrub') {
    const r = document.querySelector('.gx-range');
    r.value = String((Number(r.value) + 3) % (Number(r.max) + 1));
    r.dispatchEvent(new Event('input'));
  }
  const frame = () => new Promise((ok) => requestAnimationFrame(ok));
  for (let i = 0; i < 60; i++) {
    await frame();
    if (path().getAttribute('d') !== before && document.querySelector('.gx-table').textContent !== table) break;
  }
  await frame();
  return performance.now() - t0;
}"""

# Note what is on screen and start the clock at the real key press (Playwright's); stop it
# a frame after what is on screen has changed.
ARM = """(value) => {
  window.__value = new Function('return (' + value + ')()');
  window.__before = window.__value();
  window.__t0 = null;
  document.addEventListener('keydown',
    () => { if (window.__t0 === null) window.__t0 = performance.now(); }, {capture: true, once: true});
}"""
WAIT = """async () => {
  const frame = () => new Promise((ok) => requestAnimationFrame(ok));
  for (let i = 0; i < 1200 && window.__value() === window.__before; i++) await frame();
  await frame();
  return performance.now() - window.__t0;
}"""


def median(values: list[float]) -> float:
    return statistics.median(values)


def open_page(browser, url: str, wait_for: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=120_000)
    page.wait_for_selector(wait_for, timeout=120_000)
    page.wait_for_timeout(500)
    return page


def player_moves(browser, url: str, repeats: int, query: str = "epochs=100") -> dict[str, float]:
    page = open_page(browser, f"{url}/?{query}", ".gx-fit .main-svg")
    out = {}
    for action in ("step", "back", "key", "scrub"):
        times = []
        for i in range(repeats + 2):
            if action == "back" and i == 0:
                page.evaluate("() => document.querySelector('.gx-btn[data-action=last]').click()")
            if action == "key" and i == 0:
                page.evaluate("() => document.querySelector('.gx-btn[data-action=first]').click()")
            t = page.evaluate(MOVE, action)
            if i >= 2:  # the first moves warm the JIT
                times.append(t)
            page.wait_for_timeout(50)
        out[action] = median(times)
    page.close()
    return out


def slider_moves(browser, sides: list[tuple[str, str, str, str]], repeats: int) -> list[float]:
    """Median time of a slider move (keyboard) on each of ``sides``, each given as (url,
    slider selector, JS returning what is on screen, selector to wait for): from the key
    press to the frame after what is on screen changed. The sides take turns, a few moves
    each, so that a busy moment of the machine falls on both alike."""
    times: list[list[float]] = [[] for _ in sides]
    for rnd in range(3):
        for j, (url, slider, value, wait_for) in enumerate(sides):
            page = open_page(browser, url, wait_for)
            thumb = page.locator(slider).get_by_role("slider")
            for i in range(repeats // 3 + 1):
                thumb.focus()
                page.evaluate(ARM, value)
                page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                ms = page.evaluate(WAIT)
                page.wait_for_selector(IDLE)
                page.wait_for_timeout(300)
                if i > 0 or rnd > 0:  # the very first move trains a new run
                    times[j].append(ms)
            page.close()
    return [median(t) for t in times]


def big_run(browser, url: str) -> tuple[float, int]:
    sizes = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: sizes.append(len(f))))
    page.goto(url + "/" + BIG)
    page.wait_for_selector("[data-drawn]", timeout=180_000)
    gx = page.evaluate("() => ({...document.querySelector('.gx').dataset})")
    page.close()
    return float(gx["drawMs"]), float(gx["plotlyWaitMs"]), max(sizes)


def payload_bytes() -> int:
    from explorer import fit
    from explorer.figures import COLORS
    from webapp.player import timeline

    h = fit(preset="sine", model="mlp", width=16, epochs=10000, optimizer="adam", lr=0.01)
    t = timeline([("model", COLORS["model"], h)])
    data = dict(runs=list(t.runs), fit=t.fit, loss_fig=t.loss)
    return len(json.dumps(data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with (
        streamlit_server(ARTIFACTS / "bench-app.log") as app,
        streamlit_server(ARTIFACTS / "bench-bare.log", script="benchmarks/bare_app.py") as bare,
        streamlit_server(
            ARTIFACTS / "bench-bare-select.log", script="benchmarks/bare_select_app.py"
        ) as bare_select,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        moves = player_moves(browser, app.url, args.repeats)
        moves4 = player_moves(browser, app.url, args.repeats, FOUR)
        bare_chart = (
            "() => document.querySelector('[data-testid=stPlotlyChart] .scatterlayer "
            "path.js-line')?.getAttribute('d')"
        )
        chart_drawn = "[data-testid=stPlotlyChart] .main-svg"
        loss_curve = (
            "() => document.querySelector('.gx-loss .scatterlayer .trace:first-child "
            "path.js-line')?.getAttribute('d')"
        )
        lr_slider = "[data-testid=stSlider]:has-text('Learning rate')"
        bare_ms, select_ms, app_ms, four_ms = slider_moves(
            browser,
            [
                (bare.url, "[data-testid=stSlider]", bare_chart, chart_drawn),
                (bare_select.url, "[data-testid=stSlider]", bare_chart, chart_drawn),
                (app.url, lr_slider, loss_curve, ".gx-fit .main-svg"),
                (f"{app.url}/?{FOUR}", lr_slider, loss_curve, ".gx-fit .main-svg"),
            ],
            args.repeats,
        )
        draw_ms, plotly_ms, biggest_frame = big_run(browser, app.url)
        browser.close()

    print("The player's moves (event to the next frame painted with the new curve and table):")
    ok = True
    for action, ms in moves.items():
        good = ms <= MOVE_FLOOR_MS
        ok &= good
        print(
            f"  {action:6s} median {ms:6.1f} ms   floor {MOVE_FLOOR_MS:.0f} ms   {'ok' if good else 'OVER'}"
        )
    print("The same moves on the compare view with four runs:")
    for action, ms in moves4.items():
        good = ms <= MOVE_FLOOR_MS
        ok &= good
        print(
            f"  {action:6s} median {ms:6.1f} ms   floor {MOVE_FLOOR_MS:.0f} ms   {'ok' if good else 'OVER'}"
        )
    four = four_ms / app_ms
    ok &= four <= COMPARE_FLOOR
    print(
        f"Learning-rate slider with four runs: {four_ms:.0f} ms, {four:.2f}x the single run's "
        f"(floor {COMPARE_FLOOR}x)"
    )
    ratio = app_ms / bare_ms
    ok &= ratio <= SLIDER_FLOOR
    print(
        f"Learning-rate slider to the new run drawn: {app_ms:.0f} ms; bare app's slider to its "
        f"chart redrawn: {bare_ms:.0f} ms; ratio {ratio:.2f}x (floor {SLIDER_FLOOR}x)\n"
        f"  (the same control on a bare page, a select_slider of the {len(LR_OPTIONS)} learning "
        f"rates: {select_ms:.0f} ms; the app is {app_ms / select_ms:.2f}x that)"
    )
    size = payload_bytes()
    ok &= draw_ms <= FIRST_DRAW_FLOOR_MS
    print(
        f"MLP (16 units), 10,000 epochs: the player's data is {size / 1e6:.1f} MB of JSON "
        f"(largest websocket message {biggest_frame / 1e6:.1f} MB); received to first draw "
        f"{draw_ms:.0f} ms (floor {FIRST_DRAW_FLOOR_MS:.0f} ms), after waiting {plotly_ms:.0f} ms "
        "for Plotly.js itself (once per page)"
    )
    print("PASS" if ok else "SOME FLOORS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
