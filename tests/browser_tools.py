"""Load testing the real app: a Streamlit server, concurrent Playwright sessions, the
server's memory, and every number on screen checked against the engine.

Shared by ``tests/test_load.py`` (small, in the suite) and ``benchmarks/load_test.py``
(the full run). Each browser session drives its own settings through the sidebar
widgets, the Train view's player (``webapp/player.js``: its buttons and epoch box, all
in the browser) and URL loads; after every action it reads the player (its epoch, its
title "epoch K of E · loss = …", its step table, its loss line, its controls), the error
boxes and the address bar (which gets ``epoch=K`` once the player has sent the epoch
back), and compares them with ``explorer.fit`` run with the same settings in this
process. A session that showed another session's run would fail on the epoch count, the
URL or the values.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from explorer import fit  # noqa: E402

# What the page shows and the link holds, written out here rather than taken from the
# app's own tables and formatters, so that a change there is a difference the checks see.
DEFAULT_PRESET = "fastai-quadratic"
# The learning-rate slider's options and the labels the link carries for them.
LR_LABELS = {
    1e-06: "1e-06", 2e-06: "2e-06", 3e-06: "3e-06", 5e-06: "5e-06",
    1e-05: "1e-05", 2e-05: "2e-05", 3e-05: "3e-05", 5e-05: "5e-05",
    0.0001: "0.0001", 0.0002: "0.0002", 0.0003: "0.0003", 0.0005: "0.0005",
    0.001: "0.001", 0.002: "0.002", 0.003: "0.003", 0.005: "0.005",
    0.01: "0.01", 0.02: "0.02", 0.03: "0.03", 0.05: "0.05",
    0.1: "0.1", 0.2: "0.2", 0.3: "0.3", 0.5: "0.5",
    1.0: "1", 2.0: "2", 3.0: "3", 5.0: "5",
    10.0: "10",
}  # fmt: skip
LR_OPTIONS = tuple(LR_LABELS)
LOSS_LABELS = {"l1": "L1", "l2": "L2", "mse": "MSE", "huber": "Huber"}  # the radio's
LOSS_NAMES = {  # the loss line's
    "l1": "L1 (mean absolute error)",
    "l2": "L2 (root mean squared error)",
    "mse": "MSE (mean squared error)",
    "huber": "Huber (δ = 1)",  # with its setting's value
}
OPT_LABELS = {"sgd": "SGD", "momentum": "momentum", "adam": "Adam"}
# The settings choosing each preset puts in the sidebar (the README's Presets table, with
# the epochs): loss, learning rate, epochs, optimizer; every MLP starts 8 wide.
PRESET_DEFAULTS = {
    "fastai-quadratic": dict(loss="l1", lr=0.01, epochs=10, opt="sgd"),
    "roller-coaster": dict(loss="mse", lr=1e-05, epochs=10, opt="sgd"),
    "line": dict(loss="l2", lr=0.1, epochs=100, opt="sgd"),
    "sine": dict(loss="mse", lr=0.05, epochs=2000, opt="adam"),
    "abs": dict(loss="l2", lr=0.05, epochs=500, opt="sgd"),
    "bathtub": dict(loss="l2", lr=0.05, epochs=1000, opt="sgd"),
}
DEFAULT_WIDTH = 8

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1300}
DIVERGED = re.compile(
    r"The loss diverged at epoch \d+: lower the learning rate|not a finite number even at the start"
)
CHECK_TIMEOUT = 90.0  # seconds a session waits for its page to show the expected state
POLL = 0.05  # seconds between reads of a page that is not there yet
PAGE_TIMEOUT_MS = 90_000  # Playwright's waits: 8 fresh pages at once are slow on 2 cores


# ----------------------------------------------------------------------------- server


def require_browser() -> None:
    """Skip the calling test, saying why, where Chromium is missing; fail instead when
    REQUIRE_BROWSER=1 (as CI sets)."""
    import pytest

    if Path(CHROMIUM).exists():
        return
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path


@contextmanager
def streamlit_server(
    log: Path, timeout: float = 90, script: str = "streamlit_app.py"
) -> Iterator[Server]:
    """The real app (or ``script``) on a free port at 127.0.0.1, stopped (terminate, then
    kill) on exit."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                script,
                "--server.headless=true",
                f"--server.port={port}",
                "--server.address=127.0.0.1",
                "--browser.gatherUsageStats=false",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"streamlit did not start; see {log}")
                time.sleep(0.3)
            yield Server(url, proc, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


def log_problems(log: Path) -> list[str]:
    """Lines of the server's log that speak of a traceback, an error or an exception."""
    pattern = re.compile(r"Traceback|\bERROR\b|Exception|Error:")
    return [
        line.rstrip()
        for line in log.read_text(errors="replace").splitlines()
        if pattern.search(line)
    ]


# ----------------------------------------------------------------------------- memory


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc; psutil is not installed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (VmRSS), in MB."""
    return sum(_status_kb(p, "VmRSS") for p in process_tree(pid)) / 1024


def hwm_mb(pid: int) -> float:
    """The kernel's peak resident memory (VmHWM) of ``pid`` and its descendants, in MB."""
    return sum(_status_kb(p, "VmHWM") for p in process_tree(pid)) / 1024


class MemorySampler:
    """Samples the server's RSS in a thread; ``peak`` is the largest sample."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.time()
        while not self._stop.is_set():
            self.samples.append((time.time() - t0, rss_mb(self.pid)))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max((r for _, r in self.samples), default=0.0)


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """One run as the sidebar sets it; the model is always the preset's own."""

    preset: str
    loss: str  # engine name: l1, l2, mse, huber
    lr: float  # one of LR_OPTIONS
    epochs: int  # one of EPOCH_OPTIONS
    seed: int = 42
    opt: str | None = None  # None: the preset's optimizer
    width: int | None = None  # the MLP's hidden units; None: the preset's

    @property
    def optimizer(self) -> str:
        return self.opt or PRESET_DEFAULTS[self.preset]["opt"]

    def labels(self) -> dict[str, str]:
        """The URL's values (Streamlit binds the formatted labels)."""
        out = {
            "preset": self.preset,
            "loss": LOSS_LABELS[self.loss],
            "lr": LR_LABELS[self.lr],
            "epochs": str(self.epochs),
            "seed": str(self.seed),
            "opt": OPT_LABELS[self.optimizer],
        }
        if self.width is not None:
            out["width"] = str(self.width)
        return out

    def query(self, epoch: int = 0) -> str:
        q = self.labels()
        if epoch:
            q["epoch"] = str(epoch)
        return "/?" + urllib.parse.urlencode(q)

    def default_labels(self) -> dict[str, str]:
        """What the URL means when it leaves a key out (the widgets' defaults)."""
        d = PRESET_DEFAULTS[self.preset]
        return {
            "preset": DEFAULT_PRESET,
            "loss": LOSS_LABELS[d["loss"]],
            "lr": LR_LABELS[d["lr"]],
            "epochs": str(d["epochs"]),
            "seed": "42",
            "opt": OPT_LABELS[d["opt"]],
            "width": str(DEFAULT_WIDTH),
        }

    def fit_kwargs(self) -> dict:
        """The same run through the engine's API (the model and start are the preset's)."""
        size = {} if self.width is None else {"width": self.width}
        return dict(
            preset=self.preset,
            loss=self.loss,
            lr=self.lr,
            epochs=self.epochs,
            seed=self.seed,
            optimizer=self.optimizer,
            **size,
        )


_engine_lock = threading.Lock()
_histories: OrderedDict[Settings, object] = OrderedDict()
MAX_HISTORIES = 64  # this process keeps the latest runs only (a big one is about 9.5 MB)


def engine_history(s: Settings):
    """``explorer.fit`` with the same settings as the page (the latest ones cached)."""
    with _engine_lock:
        if s in _histories:
            _histories.move_to_end(s)
        else:
            _histories[s] = fit(**s.fit_kwargs())
            while len(_histories) > MAX_HISTORIES:
                _histories.popitem(last=False)
        return _histories[s]


async def history(s: Settings):
    return await asyncio.to_thread(engine_history, s)


# ----------------------------------------------------------------------------- reading a page

# The Train view's player (webapp/player.js) is in the page itself, not in a frame or a
# shadow root: one ``div.gx`` holding the buttons, the epoch box, the scrubber, the title,
# the two Plotly charts, the step table and the loss line.
SNAPSHOT_JS = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  const players = document.querySelectorAll('.gx');
  const gx = players.length ? players[0] : null;
  const q = (sel) => (gx ? gx.querySelector(sel) : null);
  const text = (sel) => { const e = q(sel); return e ? e.textContent.trim() : null; };
  const table = q('.gx-table table');
  // Headers: the long wording (the short one is for phones, hidden by CSS).
  const head = table ? [...table.querySelectorAll('thead th')].map(
      th => (th.querySelector('.gx-long') || th).textContent.trim()) : [];
  const body = table ? [...table.querySelectorAll('tbody tr')].map(
      r => [...r.cells].map(c => c.textContent.trim())) : [];
  return {
    idle: !!app && app.getAttribute('data-test-script-state') === 'notRunning',
    players: players.length,
    epoch: gx && gx.dataset.epoch !== undefined ? gx.dataset.epoch : null,
    playing: gx && gx.dataset.playing !== undefined ? gx.dataset.playing : null,
    title: text('.gx-title'),
    lossline: text('.gx-lossline'),
    box: q('.gx-epoch') ? q('.gx-epoch').value : null,
    range: q('.gx-range') ? q('.gx-range').value : null,
    disabled: gx ? Object.fromEntries([...gx.querySelectorAll('.gx-btn[data-action]')]
        .map(b => [b.dataset.action, b.disabled])) : {},
    table: table ? [head, ...body] : null,
    charts: ['.gx-fit', '.gx-loss'].filter(s => q(s + ' .main-svg')).length,
    errors: [...document.querySelectorAll('[data-testid=stAlertContentError]')].map(e => e.innerText.trim()),
    exceptions: [...document.querySelectorAll('[data-testid=stException]')].map(e => e.innerText.trim()),
    url: location.href,
  };
}"""

TITLE_TEXT = re.compile(r"^epoch (\d+) of (\d+) · (.+?) = (\S+)$")
LOSS_TEXT = re.compile(r"^(.+?): (\S+) before → (\S+) after \((\S+)\)$")
LAST_TEXT = re.compile(r"^(.+?) at the last epoch: (\S+)$")
BUTTONS = ("first", "back", "play", "step", "last")


def number(cell: str) -> float:
    """A number as the player writes it: U+2212 for minus, ∞ for infinity."""
    return float(cell.replace("−", "-").replace("∞", "inf"))


def tolerance(cell: str, digits: int = 4) -> float:
    """Half a unit in the last significant digit ``cell`` can be trusted to.

    The player's ``fmt(v, digits)`` shows ``digits`` significant digits, trailing zeros
    dropped (kept in a before/after pair), and more digits when it takes more to show that
    a value changed: so the cell's own digits count when there are more of them (an
    integer's trailing zeros are not digits shown). In exponent form (below 1e-5 or from
    1e5) one digit fewer is assumed at least, as an earlier ``fmt`` showed.
    """
    shown = abs(number(cell))
    if shown == 0 or not math.isfinite(shown):
        return 0.0
    mantissa, _, exponent = cell.lstrip("+−-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    written = (whole + fraction).lstrip("0")
    if not fraction:
        written = written.rstrip("0")
    significant = max(digits - 1 if exponent else digits, len(written))
    return 0.5 * 10.0 ** (math.floor(math.log10(shown)) - significant + 1)


def close(cell: str, value: float, digits: int = 4) -> bool:
    """The cell is ``value`` rounded as the player rounds (see ``tolerance``), with a
    float32 ulp or two of slack: relative 5e-4 at 4 significant digits, tighter where the
    cell shows more."""
    try:
        shown = number(cell)
        tol = tolerance(cell, digits)
    except ValueError:
        return False
    value = float(value)
    if not math.isfinite(value):
        return shown == value
    return abs(shown - value) <= tol * (1 + 1e-6) + 2e-7 * abs(value)


def unexpected_errors(snap: dict) -> list[str]:
    return [e for e in snap["errors"] if not DIVERGED.search(e)]


def check(snap: dict, s: Settings, epoch: int, h) -> list[str]:
    """Every difference between the page and the engine's history at ``epoch``."""
    problems: list[str] = []
    last = h.last_epoch
    errors = " ".join(snap["errors"])
    if h.diverged_at is not None:
        want = (
            f"diverged at epoch {h.diverged_at}"
            if last >= 0
            else "not a finite number even at the start"
        )
        if want not in errors:
            problems.append(f"divergence note {want!r} missing (errors: {snap['errors']})")
    elif DIVERGED.search(errors):
        problems.append(f"divergence note shown for a finite run: {snap['errors']}")
    problems += _check_url(snap["url"], s, epoch)
    if last < 0:
        return problems + (["a player for a run with no finite epoch"] if snap["players"] else [])
    if snap["players"] != 1:
        return problems + [f"{snap['players']} players on the page, expected 1"]
    m = TITLE_TEXT.match(snap["title"] or "")
    if m is None:
        return problems + [f"player title {snap['title']!r}, expected 'epoch K of E · loss = …'"]
    shown = (snap["epoch"], int(m[1]), int(m[2]))
    if shown != (str(epoch), epoch, last):
        return problems + [
            f"player at data-epoch {snap['epoch']}, title epoch {m[1]} of {m[2]}; "
            f"expected epoch {epoch} of {last}"
        ]
    problems += _check_controls(snap, epoch, last)
    short = LOSS_LABELS[s.loss]
    if m[3] != short or not close(m[4], h.loss[epoch]):
        problems.append(f"title {m[0]!r}, engine {short} = {float(h.loss[epoch]):.6g}")
    problems += _check_table(snap["table"], s, epoch, h)
    problems += _check_loss_line(snap["lossline"], s, epoch, h)
    if snap["charts"] < 2:
        problems.append(f"{snap['charts']} charts drawn, expected 2")
    return problems


def _check_url(url: str, s: Settings, epoch: int) -> list[str]:
    """The link holds this session's settings, and the epoch shown (the player sends it
    back about 300 ms after the epoch stops moving)."""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    out = []
    defaults = s.default_labels()
    for key, want in s.labels().items():
        got = q.get(key, defaults[key])
        if got != want:
            out.append(f"URL {key}={got!r}, expected {want!r}")
    got_epoch = q.get("epoch", "0")
    if got_epoch != str(epoch):
        out.append(f"URL epoch={got_epoch!r}, expected {epoch}")
    return out


def _check_controls(snap: dict, epoch: int, last: int) -> list[str]:
    """Paused; the epoch box and the scrubber at the epoch; the buttons disabled exactly
    at the ends (Play only when there is nothing to play)."""
    out = []
    if snap["playing"] != "0":
        out.append(f"player data-playing={snap['playing']!r}, expected paused ('0')")
    if snap["box"] != str(epoch) or snap["range"] != str(epoch):
        out.append(f"epoch box {snap['box']!r}, scrubber {snap['range']!r}, expected {epoch}")
    want = {
        "first": epoch <= 0,
        "back": epoch <= 0,
        "play": last == 0,
        "step": epoch >= last,
        "last": epoch >= last,
    }
    if snap["disabled"] != want:
        out.append(f"buttons disabled {snap['disabled']}, expected {want}")
    return out


def _columns(head: list[str], plain: bool) -> dict[str, int] | None:
    """Where each quantity is in the table, found by its header (the wording may vary:
    "lr × gradient" or "lr × grad", "value after step" or "after step")."""
    cols = {}
    for j, h in enumerate(head):
        h = h.strip().lower()
        if h == "value":
            cols["value"] = j
        elif h == "gradient":
            cols["gradient"] = j
        elif h.startswith("lr ×"):
            cols["lr × gradient"] = j
        elif h.startswith("step"):
            cols["step taken"] = j
        elif h.endswith("after step"):
            cols["after step"] = j
    want = {"value", "gradient", "lr × gradient", "after step"} | (
        set() if plain else {"step taken"}
    )
    if set(cols) != want or not head or head[0] != "parameter":
        return None
    return cols


def _is_noise(h, epoch: int, i: int) -> bool:
    from explorer.descent import grad_scales, rounding_noise

    scale = grad_scales(h)[epoch, i]
    return bool(rounding_noise(h.grads[epoch, i], scale))


def _check_table(table, s: Settings, epoch: int, h) -> list[str]:
    if not table:
        return ["no epoch table"]
    plain = s.optimizer == "sgd"
    cols = _columns(table[0], plain)
    if cols is None:
        return [f"table header {table[0]} (optimizer {s.optimizer})"]
    names = h.param_names
    p, g = h.params[epoch], h.grads[epoch]
    nxt = h.params[epoch + 1] if epoch < h.last_epoch else None
    want_rows = len(names) if len(names) <= 8 else 6
    out = []
    if len(table) - 1 != want_rows:
        out.append(f"{len(table) - 1} table rows, expected {want_rows}")
    shown = []
    for row in table[1:]:
        name = row[0]
        if name not in names:
            out.append(f"row {name!r} is not a parameter of {s.preset}'s model ({names})")
            continue
        if len(row) != len(table[0]):
            out.append(f"row {row} has {len(row)} cells, the header {len(table[0])}")
            continue
        i = names.index(name)
        shown.append(i)
        # In float64, as the player computes them from the same float32 history.
        expected = {
            "value": float(p[i]),
            "gradient": float(g[i]),
            "lr × gradient": float(s.lr) * float(g[i]),
            "step taken": None if nxt is None else float(nxt[i]) - float(p[i]),
            "after step": None if nxt is None else float(nxt[i]),
        }
        for col, j in cols.items():
            cell, want = row[j], expected[col]
            if cell == "≈ 0" and col in ("gradient", "lr × gradient"):
                # The page says the gradient is rounding noise: the engine's entry must be
                # (not 0, at most 1e-9 of the summed sizes of its per-point terms).
                if not _is_noise(h, epoch, i):
                    out.append(f"{name} {col}: page ≈ 0, engine {want:.8g} (not rounding noise)")
                continue
            ok = cell == "—" if want is None else cell != "—" and close(cell, want)
            if not ok:
                note = "—" if want is None else f"{want:.8g}"
                out.append(f"{name} {col}: page {cell}, engine {note}")
    if len(names) > 8 and shown:
        # A big model lists its largest gradients at this epoch.
        hidden = [abs(float(g[i])) for i in range(len(names)) if i not in shown]
        smallest = min(abs(float(g[i])) for i in shown)
        if hidden and max(hidden) > smallest:
            out.append(f"rows {[names[i] for i in shown]} are not the largest gradients")
    return out


def _check_loss_line(text: str | None, s: Settings, epoch: int, h) -> list[str]:
    label = LOSS_NAMES[s.loss]
    if epoch < h.last_epoch:
        m = LOSS_TEXT.match(text or "")
        if m is None:
            return [f"loss line {text!r}, expected 'loss: … before → … after (change)'"]
        before, after = float(h.loss[epoch]), float(h.loss[epoch + 1])
        if not (
            m[1] == label
            and close(m[2], before)
            and close(m[3], after)
            and close(m[4].lstrip("+"), after - before, digits=3)
        ):
            return [f"loss line {m[0]!r}, engine {label}: {before:.6g} → {after:.6g}"]
        return []
    m = LAST_TEXT.match(text or "")
    if m is None:
        return [f"loss line {text!r}, expected '… at the last epoch: …'"]
    if m[1] != label or not close(m[2], h.loss[epoch]):
        return [f"last loss line {m[0]!r}, engine {label}: {float(h.loss[epoch]):.6g}"]
    return []


# ----------------------------------------------------------------------------- sessions


@dataclass
class Stats:
    sessions: int = 0
    actions: int = 0
    checks: int = 0
    mismatches: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: Stats) -> None:
        self.sessions += other.sessions
        self.actions += other.actions
        self.checks += other.checks
        self.mismatches += other.mismatches
        self.exceptions += other.exceptions
        self.errors += other.errors


class Session:
    """One browser context driving one user's settings, checking each state it reaches."""

    def __init__(self, name: str, page, base_url: str, settings: Settings, stats: Stats):
        self.name, self.page, self.base_url = name, page, base_url
        self.s, self.epoch, self.stats = settings, 0, stats
        self.h = None
        self.log: list[str] = []
        self.last_snapshot: dict | None = None

    async def open(self, s: Settings, epoch: int = 0, what: str = "load") -> None:
        """A URL load: a fresh server session with these settings."""
        self.h = await history(s)
        self.s, self.epoch = s, min(epoch, max(self.h.last_epoch, 0))
        await self.page.goto(self.base_url + s.query(self.epoch))
        await self.verify(f"{what} {s.query(self.epoch)}")

    async def step(self) -> None:
        await self._click("step")
        self.epoch = min(self.epoch + 1, self.h.last_epoch)
        await self.verify("Step")

    async def back(self) -> None:
        await self._click("back")
        self.epoch = max(self.epoch - 1, 0)
        await self.verify("Back")

    async def first(self) -> None:
        await self._click("first")
        self.epoch = 0
        await self.verify("First")

    async def last(self) -> None:
        await self._click("last")
        self.epoch = self.h.last_epoch
        await self.verify("Last")

    async def play(self) -> None:
        """Play from here (from epoch 0 at the end) to the last epoch, where it pauses."""
        await self._click("play")
        if self.h.last_epoch > 0:
            self.epoch = self.h.last_epoch
        await self.verify("Play")

    async def type_epoch(self, k: int) -> None:
        k = min(k, self.h.last_epoch)
        if self.h.last_epoch >= 0:
            box = self.page.locator(".gx .gx-epoch")
            await box.fill(str(k))
            await box.press("Enter")
            self.epoch = k
        await self.verify(f"type epoch {k}")

    async def lr_widget(self, direction: int) -> None:
        """One notch of the learning-rate slider with the keyboard."""
        i = LR_OPTIONS.index(self.s.lr)
        j = min(max(i + direction, 0), len(LR_OPTIONS) - 1)
        slider = self.page.locator(".st-key-lr").get_by_role("slider")
        await slider.focus()
        await slider.press("ArrowRight" if direction > 0 else "ArrowLeft")
        await self._changed(replace(self.s, lr=LR_OPTIONS[j]), f"lr slider → {LR_OPTIONS[j]:g}")

    async def seed_widget(self, seed: int) -> None:
        """Type a seed: new data and a new start, so a new run, without reloading."""
        box = self.page.locator(".st-key-seed input")
        await box.fill(str(seed))
        await box.press("Enter")
        await self._changed(replace(self.s, seed=seed), f"seed box → {seed}")

    async def loss_widget(self, loss: str) -> None:
        option = self.page.locator(".st-key-loss [data-testid=stRadioOption]").nth(
            list(LOSS_LABELS).index(loss)
        )
        await option.click()
        await self._changed(replace(self.s, loss=loss), f"loss radio → {LOSS_LABELS[loss]}")

    async def _changed(self, s: Settings, what: str) -> None:
        self.h = await history(s)
        self.s = s
        self.epoch = min(self.epoch, self.h.last_epoch) if self.h.last_epoch >= 0 else 0
        await self.verify(what)

    async def _click(self, action: str) -> None:
        """Click one of the player's buttons. One that should be disabled (at an end) is
        clicked anyway, past Playwright's wait for it to be enabled: nothing may move. A
        run with no finite epoch has no player, so nothing to click."""
        if self.h.last_epoch < 0:
            return
        last = self.h.last_epoch
        disabled = {
            "first": self.epoch <= 0,
            "back": self.epoch <= 0,
            "play": last == 0,
            "step": self.epoch >= last,
            "last": self.epoch >= last,
        }[action]
        await self.page.locator(f".gx .gx-btn[data-action={action}]").click(force=disabled)

    async def verify(self, what: str) -> None:
        """Wait (polling) until the page is idle and shows this session's expected state;
        record a mismatch if it never does, and any exception or unexpected error box."""
        self.stats.actions += 1
        await self.page.wait_for_timeout(60)  # let the rerun start
        deadline = time.time() + CHECK_TIMEOUT
        while True:
            snap = await self.page.evaluate(SNAPSHOT_JS)
            problems = check(snap, self.s, self.epoch, self.h)
            if snap["idle"] and (not problems or snap["exceptions"]):
                break
            if time.time() > deadline:
                break
            await asyncio.sleep(POLL)
        self.stats.checks += 1
        self.last_snapshot = snap
        where = f"[{self.name}] after {what} (settings {self.s.query(self.epoch)})"
        self.log.append(f"{what}: {'ok' if not problems else '; '.join(problems)}")
        if snap["exceptions"]:
            self.stats.exceptions.append(f"{where}: {snap['exceptions'][0][:500]}")
            await self._screenshot("exception")
        for e in unexpected_errors(snap):
            self.stats.errors.append(f"{where}: st.error {e[:300]!r}")
        if problems:
            self.stats.mismatches.append(f"{where}: {'; '.join(problems[:4])}")
            await self._screenshot("mismatch")

    async def _screenshot(self, kind: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        n = len(self.stats.mismatches) + len(self.stats.exceptions)
        try:
            await self.page.screenshot(
                path=str(ARTIFACTS / f"load-{kind}-{self.name}-{n}.png"), full_page=True
            )
        except Exception:  # noqa: BLE001 - a screenshot is a courtesy
            pass


# Different presets, losses, learning rates (and an optimizer, a seed) for each session.
SESSION_SETTINGS = (
    Settings("fastai-quadratic", "l1", 0.01, 10),
    Settings("roller-coaster", "mse", 1e-5, 10),
    Settings("line", "mse", 0.01, 100),
    Settings("sine", "mse", 0.01, 200),  # MLP with Adam: the table's "step taken" column
    Settings("abs", "l2", 0.05, 500),
    Settings("bathtub", "huber", 0.02, 300),
    Settings("fastai-quadratic", "l2", 0.001, 50, opt="momentum"),
    Settings("line", "l1", 0.1, 20, seed=7),
)


def session_settings(i: int) -> Settings:
    s = SESSION_SETTINGS[i % len(SESSION_SETTINGS)]
    return s if i < len(SESSION_SETTINGS) else replace(s, seed=100 + i)


# The actions a session cycles through after its first load: the player's buttons
# (Step, Back, Last, First, Play), the learning-rate slider, the loss radio, the player's
# epoch box, and a URL load with other settings.
ACTIONS = (
    "step",
    "step",
    "lr_down",
    "step",
    "back",
    "loss",
    "last",
    "type_epoch",
    "url",
    "step",
    "first",
    "play",
    "lr_up",
)


async def drive_session(
    browser, base_url: str, i: int, n_actions: int, stats: Stats, actions=ACTIONS
) -> Session:
    """Open session ``i`` with its settings, then take ``n_actions`` actions (cycling
    ``actions``), checking the page after each."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = await context.new_page()
    session = Session(f"s{i}", page, base_url, session_settings(i), stats)
    stats.sessions += 1
    losses = list(LOSS_LABELS)
    try:
        await session.open(session.s)
        for k in range(n_actions):
            action = actions[k % len(actions)]
            if action == "step":
                await session.step()
            elif action == "back":
                await session.back()
            elif action == "first":
                await session.first()
            elif action == "last":
                await session.last()
            elif action == "play":
                await session.play()
            elif action == "type_epoch":
                await session.type_epoch(3 + i)
            elif action == "lr_down":
                await session.lr_widget(-1)
            elif action == "lr_up":
                await session.lr_widget(+1)
            elif action == "lr_or_loss":  # even sessions the slider, odd ones the radio
                if i % 2 == 0:
                    await session.lr_widget(-1)
                else:
                    nxt = losses[(losses.index(session.s.loss) + 1 + i % 3) % len(losses)]
                    await session.loss_widget(nxt)
            elif action == "loss":
                # Each session moves to a different loss than its neighbours.
                nxt = losses[(losses.index(session.s.loss) + 1 + i % 3) % len(losses)]
                await session.loss_widget(nxt)
            elif action == "url":
                j = LR_OPTIONS.index(session.s.lr)
                s = replace(session.s, lr=LR_OPTIONS[max(j - 1, 0)], seed=session.s.seed + 1)
                await session.open(s, epoch=2, what="URL")
            else:
                raise ValueError(f"unknown action {action!r}")
    except Exception as err:  # noqa: BLE001 - counted, and the other sessions go on
        stats.errors.append(f"[s{i}] the test driver failed: {type(err).__name__}: {err}")
    finally:
        await context.close()
    return session


async def concurrent_sessions(
    base_url: str, n_sessions: int, n_actions: int, actions=ACTIONS
) -> tuple[Stats, list[Session]]:
    """``n_sessions`` Playwright contexts in one Chromium, all driven at once."""
    from playwright.async_api import async_playwright

    stats = Stats()
    # The engine's histories for the first loads, before the browsers compete for the CPU.
    for i in range(n_sessions):
        await history(session_settings(i))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            sessions = await asyncio.gather(
                *(
                    drive_session(browser, base_url, i, n_actions, stats, actions)
                    for i in range(n_sessions)
                )
            )
        finally:
            await browser.close()
    return stats, list(sessions)


# ----------------------------------------------------------------------------- many settings

MEMORY_EPOCHS = (10000, 100, 3000, 1000, 10, 300)
BIG_WIDTH = 16  # the widest MLP the sidebar offers: the largest runs the cache can hold


def distinct_settings(n: int, per_load: int = 5, first_seed: int = 1000) -> list[Settings]:
    """``n`` settings that are all different runs (each its own seed, hence its own data).

    They come in groups of ``per_load`` that differ only in the seed (one URL load, then
    the seed box). Every other group is the sine preset's MLP at its widest (16 hidden
    units: at 10,000 epochs about 9.5 MB of float64 history, and 11.8 MB of player data,
    per run), so that a cache without a limit would show;
    the others cycle the remaining presets. Losses, learning rates (the preset's and up to
    two notches below) and epochs (10 to 10,000) cycle too.
    """
    others = [p for p in PRESET_DEFAULTS if p != "sine"]
    losses = list(LOSS_LABELS)
    out = []
    for i in range(n):
        g = i // per_load
        big = g % 2 == 0
        preset = "sine" if big else others[(g // 2) % len(others)]
        base = LR_OPTIONS.index(PRESET_DEFAULTS[preset]["lr"])
        lr = LR_OPTIONS[max(base - (g // 2) % 3, 0)]
        loss = losses[(g // 3) % len(losses)]
        epochs = MEMORY_EPOCHS[(g // 2) % len(MEMORY_EPOCHS)]
        width = BIG_WIDTH if big else None
        out.append(Settings(preset, loss, lr, epochs, seed=first_seed + i, width=width))
    assert len(set(out)) == n
    return out


def warmup_settings(settings: list[Settings] | None = None) -> list[Settings]:
    """One setting (with its own seed) of each kind of model and each loss in ``settings``
    (default: every preset's, and the widest MLP, with MSE), so that every engine and
    every (loss, optimizer) pair the settings use is compiled, and every code path has
    run, before the memory baseline."""
    kinds = [(p, None, "mse") for p in PRESET_DEFAULTS] + [("sine", BIG_WIDTH, "mse")]
    if settings is not None:
        kinds = list(dict.fromkeys((s.preset, s.width, s.loss) for s in settings))
    return [
        Settings(p, loss, PRESET_DEFAULTS[p]["lr"], 100, 900 + k, None, w)
        for k, (p, w, loss) in enumerate(kinds)
    ]


async def many_settings(
    base_url: str,
    settings: list[Settings],
    n_contexts: int = 2,
    on_progress=None,
) -> Stats:
    """Show every setting once, checking each page against the engine: a URL load (a new
    server session, at epoch 3) when more than the seed changes, else the seed box.
    ``n_contexts`` contexts share the list; ``on_progress(done)`` after each URL load's
    group of settings."""
    from playwright.async_api import async_playwright

    stats = Stats()
    # Runs of settings that differ only in the seed stay together, in one context.
    groups: list[list[Settings]] = []
    for s in settings:
        if groups and s == replace(groups[-1][-1], seed=s.seed):
            groups[-1].append(s)
        else:
            groups.append([s])
    done = 0

    async def worker(k: int, browser) -> None:
        nonlocal done
        context = await browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = await context.new_page()
        session = Session(f"m{k}", page, base_url, settings[0], stats)
        stats.sessions += 1
        try:
            while groups:
                group = groups.pop(0)
                await session.open(group[0], epoch=3)
                for s in group[1:]:
                    await session.seed_widget(s.seed)
                done += len(group)
                if on_progress is not None:
                    on_progress(done)
        except Exception as err:  # noqa: BLE001 - counted
            stats.errors.append(f"[m{k}] the test driver failed: {type(err).__name__}: {err}")
        finally:
            await context.close()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(worker(k, browser) for k in range(n_contexts)))
        finally:
            await browser.close()
    return stats
