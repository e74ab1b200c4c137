"""The real app in headless Chromium (Playwright): what AppTest cannot see.

These tests skip, saying why, where Debian's Chromium is missing; with REQUIRE_BROWSER=1
(as ``.ci/run`` sets) a missing browser is a failure. Screenshots of every state go to
``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_tools import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_browser, streamlit_server

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"

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
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    pg = context.new_page()
    pg.goto(server)
    settle(pg)
    yield pg
    context.close()


def settle(pg, extra_ms: int = 400) -> None:
    pg.wait_for_selector(IDLE, timeout=60_000)
    pg.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=60_000)
    pg.wait_for_timeout(extra_ms)
    pg.wait_for_selector(IDLE, timeout=60_000)


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_exception(pg) -> None:
    assert pg.locator("[data-testid=stException]").count() == 0


def loss_line(pg) -> str:
    return pg.get_by_text(re.compile(r"before → .* after")).first.inner_text()


def test_page_loads_without_exception(page):
    no_exception(page)
    assert page.locator("[data-testid=stPlotlyChart]").count() == 2
    assert page.get_by_text("epoch 0 · L1 = 2.422").count() >= 1
    shot(page, "01-loaded")


def test_keyboard_slider_changes_the_loss(page):
    before = loss_line(page)
    noise = page.locator("[data-testid=stSlider]").filter(has_text="Noise").get_by_role("slider")
    noise.focus()
    for _ in range(4):
        noise.press("ArrowRight")
    page.wait_for_timeout(300)
    settle(page)
    no_exception(page)
    assert loss_line(page) != before
    assert "noise=1.7" in page.url  # the URL carries the setting
    shot(page, "02-noise-moved")


def test_step_button_advances_the_epoch(page):
    assert "epoch 0 of 10" in page.locator("[data-testid=stMarkdown]").all_inner_texts().__str__()
    page.get_by_role("button", name="Step").click()
    page.wait_for_timeout(300)
    settle(page)
    no_exception(page)
    texts = " ".join(page.locator("[data-testid=stMarkdown]").all_inner_texts())
    assert "epoch 1 of 10" in texts
    assert page.get_by_text("epoch 1 · L1 = 2.401").count() >= 1
    shot(page, "03-stepped")


def test_plotly_play_advances_the_scrubber(page):
    label = page.locator("text.slider-label").first
    assert label.text_content().strip() == "epoch 0"
    page.locator("g.updatemenu-button").first.click()
    page.wait_for_function(
        "() => document.querySelector('text.slider-label').textContent.trim() === 'epoch 10'",
        timeout=15_000,
    )
    # The title follows the frames: the loss at epoch 10, as the engine computed it.
    page.wait_for_function(
        "() => [...document.querySelectorAll('text.gtitle')].some("
        "t => t.textContent.startsWith('epoch 10 · L1 = 2.214'))",
        timeout=15_000,
    )
    no_exception(page)
    shot(page, "04-played")


def test_compare_and_hand_views_render(page, server):
    page.goto(f"{server}/?view=Compare+losses&outliers=3&epochs=1000")
    settle(page, 800)
    no_exception(page)
    assert page.locator("[data-testid=stPlotlyChart]").count() == 2
    shot(page, "05-compare")
    page.goto(f"{server}/?view=Fit+by+hand")
    settle(page, 800)
    no_exception(page)
    assert page.get_by_text("L1: 2.42").count() >= 1
    shot(page, "06-hand")


def test_a_link_reopens_the_same_view(page, server):
    page.goto(f"{server}/?preset=roller-coaster&epoch=5")
    settle(page, 800)
    no_exception(page)
    texts = " ".join(page.locator("[data-testid=stMarkdown]").all_inner_texts())
    assert "epoch 5 of 10" in texts
    shot(page, "07-link")


def test_downloads_hold_the_run(page):
    import csv
    import io
    import json

    from explorer import fit

    h = fit(preset="fastai-quadratic", loss="l1", lr=0.01, epochs=10)
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
