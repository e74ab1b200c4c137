"""Load test of the real app: concurrent browser sessions, each checked against the engine,
then the server's memory over many distinct settings.

Run: ``python benchmarks/load_test.py [--sessions 8] [--actions 13] [--settings 200]``

1. Starts ``streamlit run streamlit_app.py`` on a free port at 127.0.0.1.
2. Opens ``--sessions`` Playwright contexts at once in one headless Chromium, each on its
   own preset, loss and learning rate (and one with momentum, one with Adam). Each takes
   ``--actions`` actions: the Train view player's Step, Back, Last, First and Play
   buttons and its epoch box, the learning-rate slider, the loss radio, and a URL load
   with other settings. After every action it reads the player (its epoch, its title
   "epoch K of E · loss = …", its step table, its loss line, its buttons, epoch box and
   scrubber) and the address bar (``epoch=K`` comes back once the epoch rests), and
   checks them against ``explorer.fit`` with the same settings at the shown epoch (to the
   digits shown: 4 significant digits at least). A session that showed anybody else's
   run would fail on E, the URL or the values.
3. Warms up (one load of each kind of setting to come), notes the server's RSS, then shows
   ``--settings`` distinct settings (URL loads, then the seed box within each group), half
   of them the widest MLP the sidebar offers, whose cached runs are the largest
   (about 4 MB each).

Counted: sessions, actions, mismatches with the engine, exceptions
(``[data-testid=stException]``), errors (``st.error`` boxes other than the expected
divergence note, tracebacks or errors in the server's log, failures of the test driver);
the server's RSS (VmRSS of the process and its children from /proc, sampled every
0.2 s) and its kernel peak (VmHWM).

Memory bound: the final RSS must be within ``--bound-mb`` (default 300 MB) of the RSS after
warm-up. The cache of runs, landscapes and comparisons is bounded by the memory its entries
hold (``CACHE_MB`` in ``webapp/runs.py``, 128 MB), which leaves about 170 MB for compiled
engines and allocator slack. Without a limit the 200 settings would keep all their runs
(about 100 x 4.3 MB + 100 x 0.3 MB = 460 MB more, above the bound). The RSS at each
quarter of the settings is printed too: with a working limit it levels off once the cache
is full.

Exit status 0 when every check passed (PASS), 1 otherwise (FAIL).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import browser_tools as bt  # noqa: E402

from explorer.train import enable_compile_cache  # noqa: E402
from webapp.runs import CACHE_MB  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8, help="concurrent browser sessions (>= 8)")
    ap.add_argument(
        "--actions",
        type=int,
        default=len(bt.ACTIONS),
        help="actions per session after its load (cycling Step, the sliders, Play, ...)",
    )
    ap.add_argument(
        "--settings", type=int, default=200, help="distinct settings for the memory run"
    )
    ap.add_argument(
        "--per-load", type=int, default=5, help="settings per URL load (the rest by the seed box)"
    )
    ap.add_argument(
        "--memory-contexts", type=int, default=1, help="browser contexts for the memory run"
    )
    ap.add_argument(
        "--bound-mb", type=float, default=300.0, help="allowed RSS growth over the warm-up RSS"
    )
    args = ap.parse_args()
    if args.sessions < 8:
        ap.error("--sessions must be at least 8")
    if not Path(bt.CHROMIUM).exists():
        print(f"Chromium not found at {bt.CHROMIUM} (apt-get install chromium)")
        return 1
    enable_compile_cache()  # this process's engine checks, as the app does
    log = bt.ARTIFACTS / "streamlit-load.log"
    t0 = time.time()
    with bt.streamlit_server(log) as server:
        pid = server.proc.pid
        rss_start = bt.rss_mb(pid)
        print(f"server {server.url} (pid {pid}, log {log}); RSS at start {rss_start:.0f} MB")
        with bt.MemorySampler(pid) as sampler:
            # 1. Concurrent sessions.
            t1 = time.time()
            print(f"\n{args.sessions} concurrent sessions, {args.actions} actions each ...")
            sessions_stats, sessions = asyncio.run(
                bt.concurrent_sessions(server.url, args.sessions, args.actions)
            )
            t_sessions = time.time() - t1
            rss_sessions = bt.rss_mb(pid)
            for s in sessions:
                bad = sum(1 for line in s.log if not line.endswith(": ok"))
                print(
                    f"  {s.name}: started {bt.session_settings(int(s.name[1:])).query()}, "
                    f"{len(s.log)} checks, {bad} failed; ended {s.s.query(s.epoch)}"
                )
            print(f"  done in {t_sessions:.0f} s; RSS {rss_sessions:.0f} MB")

            # 2. Warm-up, then the distinct settings.
            memory_stats = bt.Stats()
            memory_stats.merge(asyncio.run(bt.many_settings(server.url, bt.warmup_settings(), 1)))
            time.sleep(2)
            rss_warm = bt.rss_mb(pid)
            print(f"\nwarm-up done; RSS {rss_warm:.0f} MB")
            settings = bt.distinct_settings(args.settings, args.per_load)
            checkpoints: list[tuple[int, float]] = [(0, rss_warm)]
            quarter = max(args.settings // 4, 1)

            def progress(done: int) -> None:
                if done // quarter > (checkpoints[-1][0] // quarter):
                    checkpoints.append((done, bt.rss_mb(pid)))
                    print(f"  {done:4d} settings: RSS {checkpoints[-1][1]:.0f} MB", flush=True)

            t2 = time.time()
            print(f"{args.settings} distinct settings ({args.memory_contexts} context(s)) ...")
            memory_stats.merge(
                asyncio.run(bt.many_settings(server.url, settings, args.memory_contexts, progress))
            )
            t_memory = time.time() - t2
            rss_final = bt.rss_mb(pid)
            if checkpoints[-1][0] != args.settings:
                checkpoints.append((args.settings, rss_final))
        hwm = bt.hwm_mb(pid)
        peak = max(sampler.peak, hwm)
    total = time.time() - t0

    stats = bt.Stats()
    stats.merge(sessions_stats)
    stats.merge(memory_stats)
    stats.errors += [f"server log: {line}" for line in bt.log_problems(log)]
    bound = rss_warm + args.bound_mb
    memory_ok = rss_final <= bound
    ok = memory_ok and not (stats.mismatches or stats.exceptions or stats.errors)

    half = next((r for n, r in checkpoints if n >= args.settings // 2), rss_warm)
    print("\n=== Load test summary ===")
    rows = [
        ("concurrent sessions", f"{sessions_stats.sessions}"),
        ("actions checked (sessions)", f"{sessions_stats.actions}"),
        ("distinct settings (memory)", f"{args.settings} (+{len(bt.warmup_settings())} warm-up)"),
        ("actions checked (memory run)", f"{memory_stats.actions}"),
        ("actions checked, total", f"{stats.actions}"),
        ("mismatches with the engine", f"{len(stats.mismatches)}"),
        ("exceptions", f"{len(stats.exceptions)}"),
        ("errors (st.error, server log, driver)", f"{len(stats.errors)}"),
        ("server RSS at start", f"{rss_start:.0f} MB"),
        ("server RSS after sessions", f"{rss_sessions:.0f} MB"),
        ("server RSS after warm-up", f"{rss_warm:.0f} MB"),
        (f"server RSS after {args.settings // 2} settings", f"{half:.0f} MB"),
        (f"server RSS after {args.settings} settings", f"{rss_final:.0f} MB"),
        ("server peak RSS (sampled / VmHWM)", f"{sampler.peak:.0f} / {hwm:.0f} MB"),
        (f"memory bound (warm-up + {args.bound_mb:.0f} MB)", f"{bound:.0f} MB"),
        ("run cache limit", f"{CACHE_MB} MB"),
        (
            "time: sessions / memory run / total",
            f"{t_sessions:.0f} / {t_memory:.0f} / {total:.0f} s",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print("  RSS by settings shown: " + ", ".join(f"{n}: {r:.0f}" for n, r in checkpoints))
    print(f"  peak memory: {peak:.0f} MB")
    for kind in ("mismatches", "exceptions", "errors"):
        items = getattr(stats, kind)
        if items:
            print(f"\n{kind} ({len(items)}):")
            for line in items[:30]:
                print("  " + line)
    if not memory_ok:
        print(f"\nmemory: final RSS {rss_final:.0f} MB is above the bound {bound:.0f} MB")
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
