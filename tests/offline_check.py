"""Does the page reach beyond its own server? For a browser test of the app offline.

``external_requests(url, chromium)`` loads the page in headless Chromium and lists every URL
it asks for on another host. Those requests are aborted, as they would fail without a
network, so the answer is the same on a machine with or without internet. The page's icon
links are listed too: headless Chromium does fetch the favicon as a page request (that is
how a ``:material/...:`` page icon shows up, fetched from fonts.gstatic.com), but a browser
may fetch it outside the page, where Playwright would not see it.
"""

from __future__ import annotations

import urllib.parse

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
ICON_LINKS = "Array.from(document.querySelectorAll('link[rel~=icon]'), link => link.href)"


def is_external(url: str) -> bool:
    """True for a network URL (http, https, ws, wss) whose host is not this machine."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname not in LOCAL_HOSTS


def external_requests(page_url: str, chromium_path: str | None = None, browser=None) -> list[str]:
    """Every URL on another host that the page at ``page_url`` requests or links as its icon.

    Args:
        page_url: the app, e.g. ``http://127.0.0.1:8501/``.
        chromium_path: the Chromium executable Playwright launches, unless
        browser: a Playwright Browser already running (as in the browser tests) is given.

    Returns:
        The external URLs in the order first seen, each once; empty for a page that works
        offline.
    """
    from playwright.sync_api import sync_playwright

    seen: list[str] = []

    def note(url: str) -> None:
        if is_external(url) and url not in seen:
            seen.append(url)

    def route(route) -> None:
        if is_external(route.request.url):
            note(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    def visit(b) -> None:
        context = b.new_context()
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda request: note(request.url))
            page.on("websocket", lambda ws: note(ws.url))
            page.goto(page_url)
            page.wait_for_selector(IDLE, timeout=90_000)
            page.wait_for_timeout(2_000)  # late requests: lazy chunks, fonts, the favicon
            for href in page.evaluate(ICON_LINKS):
                note(href)
        finally:
            context.close()

    if browser is not None:
        visit(browser)
        return seen
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            visit(b)
        finally:
            b.close()
    return seen
