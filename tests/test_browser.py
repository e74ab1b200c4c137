"""The real app in headless Chromium (Playwright): what AppTest cannot see.

The player (webapp/player.js) runs only in a browser: these tests press its buttons and
keys, drag its scrubber, play it, open links, and read what it shows, comparing every
number with ``explorer.fit``. They skip, saying why, where Debian's Chromium is missing;
with REQUIRE_BROWSER=1 (as ``.ci/run`` sets) a missing browser is a failure. Screenshots
of every state go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import pytest
from browser_tools import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LOSS_LABELS,
    require_browser,
    streamlit_server,
)
from reference import (
    features,
    lesson_points,
    line_points,
    np_gradient,
    np_gradient_terms,
    np_loss,
    np_sgd,
    roller_coaster_points,
)

from explorer import fit

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
SIZES = {"phone": (390, 844), "projector": (1024, 768), "laptop": (1280, 720), "hd": (1920, 1080)}
LESSON = dict(preset="fastai-quadratic", loss="l1", lr=0.01, epochs=10)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    require_browser()
    with streamlit_server(ARTIFACTS / "streamlit-browser-test.log") as srv:
        yield srv.url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, server):
    contexts = []

    def opener(query: str = "", size=(1400, 1000), player: bool = True):
        context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        contexts.append(context)
        pg = context.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.js_errors = errors
        pg.goto(f"{server}/{query}")
        if player:
            settle(pg)
        else:
            pg.wait_for_selector(IDLE, timeout=60_000)
            pg.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=60_000)
        return pg

    yield opener
    for c in contexts:
        c.close()


@pytest.fixture
def page(open_page):
    return open_page()


def settle(pg) -> None:
    pg.wait_for_selector(IDLE, timeout=60_000)
    pg.wait_for_selector(".gx-fit .main-svg", timeout=60_000)
    pg.wait_for_function("() => document.querySelector('.gx-table tbody tr') !== null")
    pg.wait_for_selector(IDLE, timeout=60_000)


def shot(pg, name: str) -> None:
    """The whole page: Streamlit scrolls its main column itself, so grow the window to it."""
    size = pg.viewport_size
    height = pg.evaluate(
        "() => Math.max(document.querySelector('[data-testid=stMain]').scrollHeight, innerHeight)"
    )
    pg.set_viewport_size({"width": size["width"], "height": height})
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    pg.set_viewport_size(size)


def no_exception(pg) -> None:
    assert pg.locator("[data-testid=stException]").count() == 0
    assert pg.js_errors == []


def number(text: str) -> float:
    return float(text.replace("\u2212", "-"))


# What the player shows, read in one go (one frame): its epoch everywhere it is written.
SNAPSHOT = """() => {
  const q = (s) => document.querySelector(s);
  const fit = q('.gx-fit'), loss = q('.gx-loss');
  const rows = [...document.querySelectorAll('.gx-table tbody tr')].map(
    (tr) => [...tr.children].map((c) => c.textContent));
  return {
    epoch: Number(q('.gx').dataset.epoch),
    playing: q('.gx').dataset.playing === '1',
    box: Number(q('.gx-epoch').value),
    range: Number(q('.gx-range').value),
    title: q('.gx-title').textContent,
    rows,
    lossline: q('.gx-lossline').textContent,
    notes: q('.gx-notes').textContent,
    off: q('.gx-off').hidden ? '' : q('.gx-off').textContent,
    marker: loss._fullData[2].x[0],
    curve: Array.from(fit._fullData[1].y),
    grid: Array.from(fit._fullData[1].x),
    disabled: Object.fromEntries([...document.querySelectorAll('.gx-btn')].map(
      (b) => [b.dataset.action, b.disabled])),
  };
}"""


def snapshot(pg) -> dict:
    return pg.evaluate(SNAPSHOT)


def click(pg, action: str) -> dict:
    pg.locator(f".gx-btn[data-action={action}]").click()
    return snapshot(pg)


def assert_shows(snap: dict, h, k: int) -> None:
    """Every view of the player shows epoch k of ``h``, as the engine computed it."""
    assert snap["epoch"] == snap["box"] == snap["range"] == snap["marker"] == k
    assert snap["title"].startswith(f"epoch {k} of {h.last_epoch} ")
    assert abs(number(snap["title"].split("= ")[1]) - h.loss[k]) <= 5e-4 * abs(h.loss[k])
    for row, name, value, grad in zip(
        snap["rows"], h.param_names, h.params[k], h.grads[k], strict=True
    ):
        assert row[0] == name
        assert abs(number(row[1]) - value) <= 5e-4 * max(abs(value), 1e-9)
        assert abs(number(row[2]) - grad) <= 5e-4 * max(abs(grad), 1e-9)
    a, b, c = h.params[k].astype(np.float64)
    x = np.asarray(snap["grid"])
    assert np.allclose(snap["curve"], a * x**2 + b * x + c, atol=1e-3)


def test_page_loads_at_epoch_0_without_exception(page):
    no_exception(page)
    h = fit(**LESSON)
    snap = snapshot(page)
    assert_shows(snap, h, 0)
    assert snap["title"] == "epoch 0 of 10 · L1 = 2.422"
    assert snap["disabled"] == dict(first=True, back=True, play=False, step=False, last=False)
    shot(page, "01-loaded")


def test_step_and_back_move_every_view_at_once_and_reach_the_link(page):
    h = fit(**LESSON)
    snap = click(page, "step")  # read at once: no server round trip in between
    assert_shows(snap, h, 1)
    assert snap["title"] == "epoch 1 of 10 · L1 = 2.401"
    assert snap["lossline"].startswith("L1 (mean absolute error): 2.401 before → 2.380 after")
    page.wait_for_function("() => location.search.includes('epoch=1')", timeout=10_000)
    assert_shows(click(page, "back"), h, 0)
    for _ in range(3):
        snap = click(page, "step")
    assert_shows(snap, h, 3)
    shot(page, "02-stepped")
    no_exception(page)


# The loss chart's epoch marker (its third trace) as the page holds it: the data Plotly
# drew, and where its point is on screen, in the x axis's units.
MARKER = """() => {
  const gd = document.querySelector('.gx-loss');
  const trace = gd._fullData[2];
  const group = [...gd.querySelectorAll('.scatterlayer .trace')].find(
    (g) => g.__data__ && g.__data__[0] && g.__data__[0].trace.index === 2);
  const point = group.querySelector('.point');
  const [px, py] = point.getAttribute('transform').match(/translate\\(([^,]+),([^)]+)\\)/).slice(1).map(Number);
  return {
    name: trace.name, x: trace.x[0], y: trace.y[0],
    drawnX: gd._fullLayout.xaxis.p2c(px), drawnY: gd._fullLayout.yaxis.p2c(py),
  };
}"""


def test_the_loss_chart_marker_follows_the_epoch(page):
    # The lesson's L1 run trained in NumPy gives the loss at each epoch; the marker on the
    # loss chart must sit at (k, loss k) for the epoch shown, whichever way it got there.
    x, y = lesson_points()
    path = np_sgd("l1", "quadratic", [1.1, 1.1, 1.1], x, y, lr=0.01, epochs=10)
    loss = [np_loss("l1", features("quadratic", x) @ p - y) for p in path]

    def assert_marker_at(k: int) -> None:
        page.wait_for_function(f"() => document.querySelector('.gx').dataset.epoch === '{k}'")
        m = page.evaluate(MARKER)
        assert m["x"] == k, m
        assert m["y"] == pytest.approx(loss[k], rel=1e-9), m
        assert m["drawnX"] == pytest.approx(k, abs=0.05), m  # on screen, not only in data
        assert m["drawnY"] == pytest.approx(loss[k], rel=0.01), m

    assert_marker_at(0)
    for k in (1, 2, 3):
        page.locator(".gx-btn[data-action=step]").click()
        assert_marker_at(k)
    page.locator(".gx-epoch").fill("7")
    page.locator(".gx-epoch").press("Enter")
    assert_marker_at(7)
    page.locator(".gx-btn[data-action=last]").click()
    assert_marker_at(10)
    page.locator(".gx-btn[data-action=back]").click()
    assert_marker_at(9)
    no_exception(page)


def test_keys_and_the_scrubber_move_the_epoch(page):
    h = fit(**LESSON)
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert_shows(snapshot(page), h, 2)
    page.keyboard.press("End")
    snap = snapshot(page)
    assert_shows(snap, h, 10)
    assert snap["disabled"]["step"] and snap["disabled"]["last"] and not snap["disabled"]["back"]
    assert "no update after it" in snap["notes"]
    page.keyboard.press("ArrowLeft")
    assert_shows(snapshot(page), h, 9)
    page.keyboard.press("Home")
    assert_shows(snapshot(page), h, 0)
    # The scrubber: a drag sends input events; its labels name the first and last epochs.
    page.eval_on_selector(
        ".gx-range", "r => { r.value = '7'; r.dispatchEvent(new Event('input')); }"
    )
    assert_shows(snapshot(page), h, 7)
    labels = page.locator(".gx-ticks span").all_text_contents()
    assert labels[0] == "0" and labels[-1] == "10"
    page.locator(".gx-epoch").fill("4")
    page.locator(".gx-epoch").press("Enter")
    assert_shows(snapshot(page), h, 4)
    no_exception(page)


def test_play_keeps_every_view_on_the_same_epoch_and_step_continues(open_page):
    settings = dict(LESSON, epochs=200)
    h = fit(**settings)
    pg = open_page("?epochs=200")
    pg.locator(".gx-speed select").select_option("4")  # 80 epochs a second: 200 in 2.5 s
    pg.locator(".gx-btn[data-action=play]").click()
    frames = pg.evaluate(
        f"""() => new Promise((done) => {{
          const out = [];
          const read = {SNAPSHOT};
          const tick = () => {{
            const s = read();
            out.push(s);
            if (!s.playing && out.length > 3) return done(out);
            requestAnimationFrame(tick);
          }};
          requestAnimationFrame(tick);
        }})"""
    )
    seen = sorted({f["epoch"] for f in frames})
    assert len(seen) >= 20, seen
    for f in frames:
        assert_shows(f, h, f["epoch"])
    last = frames[-1]
    assert_shows(last, h, 200)
    assert [number(c) for c in last["rows"][0][1:2]] == pytest.approx([h.params[200][0]], rel=5e-4)
    # Pause partway, then Step goes on from the epoch shown.
    pg.locator(".gx-btn[data-action=first]").click()
    pg.locator(".gx-btn[data-action=play]").click()
    pg.wait_for_timeout(700)
    pg.locator(".gx-btn[data-action=play]").click()  # pause
    shown = snapshot(pg)["epoch"]
    assert 0 < shown < 200
    assert_shows(click(pg, "step"), h, shown + 1)
    shot(pg, "03-played")
    no_exception(pg)


def test_a_link_opens_at_its_epoch(open_page):
    pg = open_page("?preset=roller-coaster&epoch=5")
    h = fit(preset="roller-coaster")
    assert_shows(snapshot(pg), h, 5)
    shot(pg, "04-link")
    no_exception(pg)


def test_the_overshoot_is_said_and_marked_at_lr_10(open_page):
    pg = open_page("?lr=10")
    h = fit(**dict(LESSON, lr=10.0))
    rose = [k for k in range(1, 11) if h.loss[k] > h.loss[k - 1]]
    assert rose
    snap = click(pg, "step") if rose[0] == 1 else snapshot(pg)
    pg.evaluate(
        f"() => {{ const r = document.querySelector('.gx-range'); r.value = '{rose[0] - 1}';"
        " r.dispatchEvent(new Event('input')); }"
    )
    snap = snapshot(pg)
    assert f"The loss rose at this step (epoch {rose[0] - 1} → {rose[0]})" in snap["notes"]
    assert "smaller learning rate" in snap["notes"]
    summary = pg.locator(".gx-lossbox .gx-small").text_content()
    assert f"The loss rose at {len(rose)} of 10 steps" in summary
    marked = pg.evaluate("() => Array.from(document.querySelector('.gx-loss')._fullData[1].x)")
    assert marked == rose
    shot(pg, "05-overshoot")
    no_exception(pg)


def test_epoch_notes_come_and_go_with_the_epoch(open_page):
    # The noise-free line, L2 at lr 0.1 from the preset's random start: from about epoch 25
    # every step goes past the bottom (L2's gradient does not shrink with the errors).
    pg = open_page("?preset=line&noise=0&loss=L2&lr=0.1&epoch=60")
    h = fit(preset="line", noise=0, loss="l2", lr=0.1)
    g = h.grads
    assert 0.1 * g[60] @ g[60] > h.loss[60] and g[60] @ g[61] < 0  # the rule, in NumPy
    snap = snapshot(pg)
    assert snap["epoch"] == 60
    assert "This step went past the bottom" in snap["notes"]
    assert "Lower the learning rate, or use MSE" in snap["notes"]
    shot(pg, "05b-past-the-bottom")
    snap = click(pg, "first")
    assert not (0.1 * g[0] @ g[0] > h.loss[0])
    assert "past the bottom" not in snap["notes"]
    # One ReLU started dead on the bathtub (1·x - 3 <= 0 at every x <= 2.5): said at every
    # epoch, the last one included.
    pg = open_page(
        "?preset=bathtub&model=relu-sum&relus=1&start=fit+by+hand"
        "&hand_m%5B0%5D=1&hand_b%5B0%5D=-3&epochs=10"
    )
    for action in ("first", "step", "last"):
        snap = click(pg, action) if action != "first" else snapshot(pg)
        assert "The ReLU is dead: no point is on its active side" in snap["notes"], action
    shot(pg, "05c-dead-relu")
    no_exception(pg)


def test_a_model_that_leaves_the_chart_says_where_it_went(open_page):
    pg = open_page("?loss=MSE&lr=0.3&epochs=10")
    h = fit(**dict(LESSON, loss="mse", lr=0.3))
    pg.keyboard.press("End")
    snap = snapshot(pg)
    assert snap["off"].startswith("The model is off the chart here")
    pred = h.predict(h.last_epoch, h.grid)
    said = re.search(r"down to (\S+)\.", snap["off"]).group(1)
    assert number(said) == pytest.approx(float(pred.min()), rel=0.05)
    no_exception(pg)


def test_rounding_never_hides_a_step(open_page):
    pg = open_page("?lr=1e-06")
    snap = click(pg, "step")
    value, after = snap["rows"][0][1], snap["rows"][0][4]
    assert value != after  # 1.1 -> 1.1000014, not 1.1 -> 1.1
    worked = pg.locator(".gx-text .gx-small").text_content()
    left, right = re.search(r"a: (\S+) .* = (\S+)\.", worked).groups()
    assert left != right
    no_exception(pg)


def test_log_scale_goes_into_the_link(page):
    page.locator(".gx-log input").check()
    page.wait_for_function("() => location.search.includes('log=1')", timeout=10_000)
    axis = page.evaluate("() => document.querySelector('.gx-loss').layout.yaxis.type")
    assert axis == "log"


def test_compare_scrubs_every_run_on_one_timeline(open_page):
    pg = open_page("?view=Compare&outliers=3&epochs=1000")
    pg.keyboard.press("End")
    snap = snapshot(pg)
    runs = {r[0]: r for r in snap["rows"]}
    assert set(runs) == {"L1", "L2"}
    for name, loss in (("L1", "l1"), ("L2", "l2")):
        h = fit(preset="fastai-quadratic", outliers=3, loss=loss, epochs=1000)
        assert abs(number(runs[name][1]) - h.loss[1000]) <= 5e-4 * h.loss[1000]
        assert abs(number(runs[name][3]) - h.params[1000][0]) <= 5e-4 * abs(h.params[1000][0])
    markers = pg.evaluate(
        "() => { const d = document.querySelector('.gx-loss')._fullData; return [d[2].x[0], d[5].x[0]]; }"
    )
    assert markers == [1000, 1000]
    shot(pg, "06-compare")
    no_exception(pg)


def test_fit_by_hand_renders(open_page, server):
    pg = open_page("?view=Fit+by+hand", player=False)
    assert pg.get_by_text("L1: 2.42").count() >= 1
    shot(pg, "07-hand")


def test_the_page_asks_nothing_of_the_internet(browser, server):
    from offline_check import external_requests

    assert external_requests(server, browser=browser) == []


# ----------------------------------------------------------------------------- screens

LAYOUT = """() => {
  const problems = [];
  const main = document.querySelector('[data-testid=stMain]') || document.documentElement;
  for (const el of [document.documentElement, main]) {
    if (el.scrollWidth > el.clientWidth + 1) problems.push(`horizontal scroll: ${el.scrollWidth} > ${el.clientWidth}`);
  }
  // On screen: a folded sidebar's buttons sit squeezed left of it, where nobody sees them.
  const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.right > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  for (const b of document.querySelectorAll('.gx button, [data-testid=stButton] button, [data-testid=stDownloadButton] button')) {
    if (visible(b) && b.scrollWidth > b.clientWidth + 1) problems.push(`cut button: ${b.textContent.trim()}`);
  }
  for (const t of document.querySelectorAll('.gx-table')) {
    if (t.scrollWidth > t.clientWidth + 1) problems.push(`table wider than its box: ${t.scrollWidth} > ${t.clientWidth}`);
  }
  const boxes = [...document.querySelectorAll(
    '.gx-title, .gx-btn, .gx-where, .gx-speed, .gx-ticks span, .gx-subtitle, .gx-log, .gx-lossline, .gx-range, .gx-pairlabel, .gx-chip')]
    .filter(visible).map((e) => [e, e.getBoundingClientRect()]);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, ra] = boxes[i], [b, rb] = boxes[j];
    if (a.contains(b) || b.contains(a)) continue;
    const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
    const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
    if (w > 2 && h > 2) problems.push(`overlap: "${a.textContent.trim().slice(0, 20)}" and "${b.textContent.trim().slice(0, 20)}"`);
  }
  for (const e of document.querySelectorAll('.gx-fit, .gx-loss, .gx-params, .gx-slopes, .gx-land, .gx-pull, [data-testid=stPlotlyChart]')) {
    const r = e.getBoundingClientRect();
    if (r.right > innerWidth + 1) problems.push('chart wider than the window');
  }
  return problems;
}"""


# The descent's charts as the page holds them: the parameters chart's epoch markers and
# the loss chart's floor line, read in the same frame as the epoch.
DESCENT = """() => {
  const params = document.querySelector('.gx-params');
  const loss = document.querySelector('.gx-loss');
  const marker = params._fullData[params._fullData.length - 1];
  const floor = loss._fullData.find((t) => t.name === 'best possible');
  return {
    epoch: Number(document.querySelector('.gx').dataset.epoch),
    names: params._fullData.slice(0, -1).map((t) => t.name),
    x: Array.from(marker.x), y: Array.from(marker.y),
    floor: floor ? floor.y[0] : null,
    box: params.getBoundingClientRect().toJSON(),
  };
}"""


def test_the_parameters_chart_follows_the_epoch_and_the_floor_is_least_squares(open_page):
    # Roller-coaster at lr 1e-5: only a moves (b and c barely), as the chart shows.
    pg = open_page("?preset=roller-coaster")
    # The chart is drawn two frames after the fit and the loss, which come first.
    pg.wait_for_function("() => document.querySelector('.gx-params')._fullData")
    x, y = roller_coaster_points()
    design = features("quadratic", x)
    path = np_sgd("mse", "quadratic", fit(preset="roller-coaster").params[0], x, y, 1e-5, 10)
    best = np.linalg.lstsq(design, y, rcond=None)[0]
    floor = float(np.mean((design @ best - y) ** 2))
    d = pg.evaluate(DESCENT)
    assert d["names"] == ["a", "b", "c"] and d["x"] == [0, 0, 0]
    assert d["floor"] == pytest.approx(floor, rel=1e-9)
    for action, k in (("step", 1), ("step", 2), ("last", 10), ("back", 9)):
        pg.locator(f".gx-btn[data-action={action}]").click()
        d = pg.evaluate(DESCENT)  # no waiting: the same frame as the click
        assert d["epoch"] == k and d["x"] == [k] * 3, d
        assert np.allclose(d["y"], path[k], rtol=1e-9), (d["y"], path[k])
    pg.eval_on_selector(".gx-range", "r => { r.value = '4'; r.dispatchEvent(new Event('input')); }")
    d = pg.evaluate(DESCENT)
    assert d["epoch"] == 4 and d["x"] == [4] * 3
    assert np.allclose(d["y"], path[4], rtol=1e-9)
    moved = np.ptp(path, axis=0)
    assert moved[0] > 10 * max(moved[1], moved[2])  # why it looks stuck: only a moves
    no_exception(pg)


# What the descent's views draw (their overlays keep it in the data's own numbers), read
# in the same frame as the epoch, and where the landscape's point is on screen.
DRAWN = """() => {
  const land = document.querySelector('.gx-land .gx-overlay');
  const slopes = document.querySelector('.gx-slopes .gx-overlay');
  const pull = document.querySelector('.gx-pull .gx-overlay');
  const map = document.querySelector('.gx-land-map');
  const dot = land.querySelector('circle');
  const xa = map._fullLayout.xaxis, ya = map._fullLayout.yaxis;
  return {
    epoch: Number(document.querySelector('.gx').dataset.epoch),
    land: land.gxDrawn, slopes: slopes.gxDrawn, pull: pull.gxDrawn,
    contour: map.querySelectorAll('.contourlayer path').length,
    dot: [xa.p2l(Number(dot.getAttribute('cx')) - xa._offset), ya.p2l(Number(dot.getAttribute('cy')) - ya._offset)],
    span: [xa.range, ya.range],
    bars: pull.querySelectorAll('rect.gx-o-bar').length,
    errors: Array.from(document.querySelector('.gx-fit')._fullData.find((t) => t.name === 'errors').y),
  };
}"""


def test_the_landscape_slopes_and_pull_follow_the_epoch(open_page):
    # The line preset under MSE: every number drawn against gradient descent in NumPy.
    pg = open_page("?preset=line&loss=MSE")
    pg.wait_for_function(
        "() => ['.gx-land', '.gx-slopes', '.gx-pull'].every((s) => "
        "document.querySelector(s + ' .gx-overlay').gxDrawn)",
        timeout=60_000,
    )
    h = fit(preset="line", loss="mse")
    lr = float(h.config["lr"])
    x, y = line_points()
    design = features("line", x)
    path = np_sgd("mse", "line", h.params[0], x, y, lr, 3)
    for action, k in (("step", 1), ("step", 2), ("step", 3), ("back", 2)):
        pg.locator(f".gx-btn[data-action={action}]").click()
        d = pg.evaluate(DRAWN)  # no waiting: the same frame as the click
        assert d["epoch"] == k and d["land"]["epoch"] == k and d["slopes"]["epoch"] == k
        g = np_gradient("mse", "line", path[k], x, y)
        loss = np_loss("mse", design @ path[k] - y)
        assert np.allclose(d["land"]["point"], path[k], rtol=1e-9)
        assert np.allclose(d["land"]["step"], -lr * g, rtol=1e-9)
        assert d["land"]["path"] == k + 1
        # The loss fell after this step, so the arrow is the "fell" one.
        after = np_loss("mse", design @ path[k + 1] - y) if k + 1 < len(path) else None
        if after is not None:
            assert d["land"]["rose"] == (after > loss)
        # The point is where the map's own axes put it (to a pixel).
        for v, (lo, hi), want in zip(d["dot"], d["span"], path[k], strict=True):
            assert abs(v - want) < 0.01 * (hi - lo)
        assert d["contour"] > 0  # the map is still drawn under what moves
        assert np.allclose(
            d["slopes"]["points"], [[path[k][0], loss], [path[k][1], loss]], rtol=1e-9
        )
        assert np.allclose(d["slopes"]["slopes"], g, rtol=1e-9)  # the tangent's slope
        assert np.allclose(d["slopes"]["steps"], -lr * g, rtol=1e-9)
        terms = np_gradient_terms("mse", "line", path[k], x, y)
        assert d["pull"]["epoch"] == k and d["pull"]["param"] == "m"
        assert np.allclose(d["pull"]["shares"], terms[:, 0], rtol=1e-9, atol=1e-15)
        assert sum(d["pull"]["shares"]) == pytest.approx(g[0], rel=1e-9)
        assert d["bars"] == x.size
        pred = design @ path[k]
        assert np.allclose(d["errors"][1::3], pred, rtol=1e-6)  # float32: drawn, not read
        assert np.allclose(d["errors"][0::3], y, rtol=1e-6)
    # The pull of b, at a click.
    pg.locator(".gx-chip", has_text="b").click()
    d = pg.evaluate(DRAWN)
    assert d["pull"]["param"] == "b"
    assert np.allclose(d["pull"]["shares"], np_gradient_terms("mse", "line", path[2], x, y)[:, 1])
    no_exception(pg)


def test_choosing_the_landscapes_parameters_redraws_it_and_goes_into_the_link(open_page):
    pg = open_page("?preset=roller-coaster")
    pg.wait_for_function(
        "() => document.querySelector('.gx-land .gx-overlay').gxDrawn", timeout=60_000
    )
    assert pg.locator(".gx-pairlabel select").nth(0).is_enabled()
    pg.locator(".gx-pairlabel select").nth(0).select_option(label="c")
    pg.wait_for_function("() => location.search.includes('along=c')", timeout=60_000)
    pg.wait_for_function(
        "() => document.querySelector('.gx-land-map')._fullLayout.xaxis.title.text === 'c'",
        timeout=60_000,
    )
    pg.wait_for_function("() => document.querySelector('.gx-land .gx-overlay').gxDrawn")
    d = pg.evaluate(DRAWN)
    h = fit(preset="roller-coaster")
    up = pg.evaluate("() => document.querySelector('.gx-land-map')._fullLayout.yaxis.title.text")
    assert np.allclose(d["land"]["point"], [h.params[0][2], h.params[0][h.param_names.index(up)]])
    assert d["contour"] > 0
    no_exception(pg)


# Where the sweep chart draws point i of its "final loss" trace, in page pixels.
SWEEP_POINT = """(i) => {
  const gd = [...document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')].find(
    (g) => g.data.some((t) => t.name === 'final loss'));
  gd.scrollIntoView({block: 'center'});
  const t = gd.data.find((t) => t.name === 'final loss');
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  const px = L.xaxis.l2p(Math.log10(t.x[i])) + L.margin.l + box.left;
  const py = L.yaxis.l2p(Math.log10(t.y[i])) + L.margin.t + box.top;
  return {lr: t.x[i], px, py};
}"""


def test_choosing_a_dot_on_the_sweep_trains_at_its_rate(open_page):
    pg = open_page("?preset=line&loss=MSE&sweep=true")
    pg.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=120_000)
    pg.wait_for_timeout(500)
    p = pg.evaluate(SWEEP_POINT, 30)  # lr 10^-2.5 = 0.00316, on the curve
    assert p["lr"] == pytest.approx(10**-2.5)
    pg.mouse.click(p["px"], p["py"])
    # The slider's nearest stop, 0.003, trains: the player shows that run.
    pg.wait_for_function("() => location.search.includes('lr=0.003')", timeout=60_000)
    settle(pg)
    pg.wait_for_function("() => document.querySelector('.gx-text').textContent.includes('0.003 ×')")
    no_exception(pg)


PLOT_POINT = """([sel, fx, fy]) => {
  const gd = document.querySelector(sel);
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  return {px: box.left + L.xaxis._offset + fx * L.xaxis._length,
          py: box.top + L.yaxis._offset + fy * L.yaxis._length,
          x: L.xaxis.p2l(fx * L.xaxis._length), y: L.yaxis.p2l(fy * L.yaxis._length),
          // two pixels in data units: where a mouse click lands, to the pixel
          dx: 2 * Math.abs(L.xaxis.p2l(1) - L.xaxis.p2l(0)),
          dy: 2 * Math.abs(L.yaxis.p2l(1) - L.yaxis.p2l(0))};
}"""


def _points(pg) -> list[tuple[float, float]]:
    text = pg.evaluate("() => new URLSearchParams(location.search).get('pts')") or ""
    return [tuple(float(v) for v in p.split("_")) for p in text.split("~") if p]


def test_drawing_points_by_clicking_fits_them_and_fills_the_link(open_page):
    pg = open_page("?preset=Draw+your+own&pts=", player=False)
    # An empty canvas: two clicks make two points, and the player takes over.
    for fx, fy in ((0.2, 0.8), (0.7, 0.3)):
        p = pg.evaluate(PLOT_POINT, ["[data-testid=stPlotlyChart] .js-plotly-plot", fx, fy])
        n = len(_points(pg))
        pg.mouse.click(p["px"], p["py"])
        pg.wait_for_function(
            f"() => (new URLSearchParams(location.search).get('pts') || '').split('~').filter(Boolean).length === {n + 1}",
            timeout=60_000,
        )
        pg.wait_for_selector(IDLE, timeout=60_000)
    # Where the clicks landed, to the canvas's grid (0.25 apart: the nearest of its points).
    assert np.allclose(_points(pg), [(2.0, 2.0), (7.0, 7.0)], atol=0.25)
    settle(pg)
    # On the fit chart, a click adds a point where it lands (4 significant digits)...
    p = pg.evaluate(PLOT_POINT, [".gx-fit", 0.5, 0.9])
    pg.mouse.click(p["px"], p["py"])
    pg.wait_for_function(
        "() => (new URLSearchParams(location.search).get('pts') || '').split('~').length === 3",
        timeout=60_000,
    )
    settle(pg)
    added = _points(pg)[2]
    assert abs(added[0] - p["x"]) <= p["dx"] and abs(added[1] - p["y"]) <= p["dy"]
    # ... and the run is fitted to the three points: the fit chart shows them.
    shown = pg.evaluate("() => Array.from(document.querySelector('.gx-fit')._fullData[0].x)")
    assert len(shown) == 3
    shot(pg, "draw-three-points")
    # A click on a point removes it.
    first = _points(pg)[0]
    p = pg.evaluate(
        """() => { const gd = document.querySelector('.gx-fit'), L = gd._fullLayout,
           box = gd.getBoundingClientRect(), t = gd._fullData[0];
           return {px: box.left + L.xaxis._offset + L.xaxis.l2p(t.x[0]),
                   py: box.top + L.yaxis._offset + L.yaxis.l2p(t.y[0])}; }"""
    )
    pg.mouse.click(p["px"], p["py"])
    pg.wait_for_function(
        "() => (new URLSearchParams(location.search).get('pts') || '').split('~').length === 2",
        timeout=60_000,
    )
    settle(pg)
    assert len(_points(pg)) == 2 and first not in _points(pg)
    no_exception(pg)


def test_the_cat_is_drawn_as_a_curve_in_the_plane_at_every_epoch(open_page):
    from explorer import fit

    pg = open_page("?preset=cat")
    h = fit(preset="cat")
    for action, k in (("last", h.last_epoch), ("first", 0)):
        pg.locator(f".gx-btn[data-action={action}]").click()
        pg.wait_for_timeout(400)
        shown = pg.evaluate(
            "() => { const t = document.querySelector('.gx-fit')._fullData[1];"
            " return [Array.from(t.x), Array.from(t.y)]; }"
        )
        f = int(np.searchsorted(h.frame_epochs, k, side="right")) - 1
        # The curve (x(t), y(t)) of the frame at k, both coordinates (float32 on the way).
        np.testing.assert_allclose(shown[0], h.frame_preds[f][:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(shown[1], h.frame_preds[f][:, 1], rtol=1e-5, atol=1e-6)
        # The error lines join each target to the curve's point at its t, in the plane.
        err = pg.evaluate(
            "() => { const d = document.querySelector('.gx-fit')._fullData;"
            " const t = d.find((t) => t.name === 'errors') || d[d.length - 1];"
            " return [Array.from(t.x).slice(0, 2), Array.from(t.y).slice(0, 2)]; }"
        )
        assert err[0][0] == pytest.approx(h.y[0, 0]) and err[1][0] == pytest.approx(h.y[0, 1])
    shot(pg, "cat-last-epoch")
    no_exception(pg)


def test_an_uploaded_csv_gets_settings_that_fit_it(open_page, tmp_path):
    # The case: ten rows with y about 60, where the defaults (L1, lr 0.01, 10
    # epochs, a random start) stall far from the line.
    rng = np.random.default_rng(1)
    x = np.arange(10.0)
    y = 60 + 3 * x + rng.normal(0, 2, 10)
    path = tmp_path / "ten.csv"
    path.write_text("x,y\n" + "\n".join(f"{a},{b:.4f}" for a, b in zip(x, y, strict=True)))
    pg = open_page("?preset=CSV+upload&model=line&loss=MSE")
    pg.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    pg.wait_for_function("() => location.search.includes('start=suggested')", timeout=60_000)
    settle(pg)
    assert pg.get_by_text("Suggested for your points").count() == 1
    # The run ends within 1% of the least-squares line's MSE (NumPy's lstsq).
    design = np.vander(x, 2)
    coef = np.linalg.lstsq(design, np.round(y, 4), rcond=None)[0]
    best = float(np.mean((design @ coef - np.round(y, 4)) ** 2))
    pg.locator(".gx-btn[data-action=last]").click()
    pg.wait_for_timeout(300)
    title = pg.locator(".gx-title").first.text_content()
    assert number(title.split("=")[-1]) <= 1.01 * best, title
    no_exception(pg)


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
@pytest.mark.parametrize(
    "view",
    ["Train", "Compare", "Train-big", "present", "draw", "branch", "held-out", "race", "cat"],
    ids=lambda v: v.split("+")[0],
)
def test_every_screen_size_is_clean(open_page, size, view):
    query = {
        "Train": "?lr=10&sweep=true",
        "Compare": "?view=Compare&"
        + "&".join(f"compare={quote_plus(label)}" for label in LOSS_LABELS.values()),
        "Train-big": "?preset=sine&opt=Adam&epochs=1000",
        "present": "?present=1",
        "draw": "?preset=Draw+your+own&pts=0_1~1_3~2_5.5~3_6.75~4_9",
        "branch": "?preset=line&loss=MSE&lr=0.05&epochs=50&branch=true&branch_at=15&then_lr=0.001",
        "held-out": "?preset=overfit&validation=0.25",
        "race": "?view=Compare&vary=Optimizer&epochs=100",
        "cat": "?preset=cat",
    }[view]
    pg = open_page(query, SIZES[size])
    pg.locator(".gx-btn[data-action=step]").click()
    pg.wait_for_timeout(300)
    problems = pg.evaluate(LAYOUT)
    name = f"size-{size}-{view.split('+')[0].lower()}"
    pg.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))
    shot(pg, name)
    assert problems == [], problems
    # Every value in the link was taken as written (no note that one was not).
    assert pg.get_by_text("could not be used as written").count() == 0
    if view == "present":
        assert pg.locator(".gx.gx-present").count() == 1
        assert pg.locator("[data-testid=stSidebar][data-collapsed=true]").count() == 1
    no_exception(pg)


def test_downloads_hold_the_run(page):
    import csv
    import io
    import json

    h = fit(**LESSON)
    with page.expect_download() as info:
        page.get_by_role("button", name="History (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
    assert rows[0][:5] == ["epoch", "loss", "a", "b", "c"] and len(rows) == 12
    assert abs(float(rows[2][2]) - float(h.params[1][0])) < 1e-6
    with page.expect_download() as info:
        page.get_by_role("button", name="History (JSON)").click()
    data = json.loads(Path(info.value.path()).read_text())
    assert len(data["history"]) == 11 and data["diverged_at"] is None
    with page.expect_download() as info:
        page.get_by_role("button", name="Animation (HTML)").click()
    html = Path(info.value.path()).read_text()
    assert "Plotly.newPlot" in html and "Plotly.addFrames" in html
    no_exception(page)


def test_a_race_of_optimizers_draws_every_path_on_one_landscape(open_page):
    from explorer import fit

    pg = open_page("?view=Compare&vary=Optimizer&epochs=100&preset=line&loss=MSE&lr=0.05")
    pg.wait_for_function(
        "() => document.querySelector('.gx-landbox svg.gx-overlay polyline') !== null",
        timeout=60_000,
    )
    for _ in range(20):
        pg.locator(".gx-btn[data-action=step]").click()
    pg.wait_for_timeout(500)
    drawn = pg.evaluate(
        """() => [...document.querySelectorAll('.gx-landbox .gx-o-otherpath')].map(
             (p) => [p.style.stroke, p.getAttribute('points').trim().split(/\\s+/).length])"""
    )
    # Momentum's and Adam's paths, each 21 points (epochs 0..20) long.
    assert [n for _, n in drawn] == [21, 21]
    assert len({c for c, _ in drawn}) == 2
    # Each path's last point is that run's parameters at epoch 20 (m, b), in pixels.
    last = pg.evaluate(
        """() => { const gd = document.querySelector('.gx-land .js-plotly-plot') ||
             document.querySelector('.gx-landbox .js-plotly-plot');
           const L = gd._fullLayout;
           return [...document.querySelectorAll('.gx-landbox .gx-o-otherpath')].map((p) => {
             const [x, y] = p.getAttribute('points').trim().split(/\\s+/).pop().split(',').map(Number);
             return [L.xaxis.p2l(x - L.xaxis._offset), L.yaxis.p2l(y - L.yaxis._offset)]; }); }"""
    )
    for (m, b), opt in zip(last, ("momentum", "adam"), strict=True):
        h = fit(preset="line", loss="mse", lr=0.05, epochs=100, optimizer=opt)
        assert m == pytest.approx(h.params[20, 0], abs=0.02) and b == pytest.approx(
            h.params[20, 1], abs=0.02
        )
    no_exception(pg)
