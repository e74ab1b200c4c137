"""The offline check (tests/offline_check.py) on a page whose external requests are known."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from browser_tools import CHROMIUM, require_browser
from offline_check import external_requests, is_external

# Looks like a finished Streamlit page; asks for two local and four external things.
PAGE = """<!doctype html>
<html><head>
<link rel="shortcut icon" href="https://icons.example.invalid/favicon.svg">
<link rel="stylesheet" href="/local.css">
</head><body>
<div data-testid="stApp" data-test-script-state="notRunning">
<img src="/local.png"><img src="http://images.example.invalid/a.png">
</div>
<script>
fetch("https://api.example.invalid/data?x=1").catch(() => {});
setTimeout(() => fetch("http://late.example.invalid/b").catch(() => {}), 500);
</script>
</body></html>
"""
EXPECTED = {
    "https://icons.example.invalid/favicon.svg",
    "http://images.example.invalid/a.png",
    "https://api.example.invalid/data?x=1",
    "http://late.example.invalid/b",
}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def page_url(tmp_path):
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "local.css").write_text("body { margin: 0 }")
    (tmp_path / "local.png").write_bytes(b"")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
        finally:
            server.shutdown()
            thread.join()


@pytest.mark.browser
def test_lists_every_external_request_and_nothing_local(page_url):
    require_browser()
    found = external_requests(page_url, CHROMIUM)
    assert set(found) == EXPECTED
    assert len(found) == len(EXPECTED)


@pytest.mark.parametrize(
    ("url", "external"),
    [
        ("http://127.0.0.1:8501/static/js/a.js", False),
        ("ws://127.0.0.1:8501/_stcore/stream", False),
        ("http://localhost:8501/", False),
        ("http://[::1]:8501/", False),
        ("data:image/svg+xml,<svg></svg>", False),
        ("blob:http://127.0.0.1:8501/1234", False),
        ("https://fonts.gstatic.com/s/i/short-term/release/x/24px.svg", True),
        ("wss://example.com/stream", True),
        ("http://127.0.0.2/", True),
    ],
)
def test_is_external(url, external):
    assert is_external(url) == external
