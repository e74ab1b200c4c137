"""Mutation testing of the core with mutmut 3, by hand (slow: never in CI, never collected).

    .venv/bin/python tests/mutation/run.py              # run, then score every file
    .venv/bin/python tests/mutation/run.py --fresh      # forget earlier results first
    .venv/bin/python tests/mutation/run.py --report     # score the last run, run nothing
    .venv/bin/python tests/mutation/run.py --diffs      # ... and show each survivor's diff
    .venv/bin/python tests/mutation/run.py --left-out   # the left-out tests vs the survivors

mutmut is configured in pyproject.toml ([tool.mutmut]); it copies the project into
mutants/ (gitignored), remembers its results there and, when run again, tests only the
mutants of functions that changed. This script runs ``mutmut run`` with at most two
workers (the machine has two cores), then prints for each mutated file the mutants
killed out of those tested and the survivors by mutmut's names (``mutmut show NAME``
prints one's diff, ``mutmut apply NAME`` writes it into the source to try it). It exits
non-zero if a file scores under 90%, or if the run did not finish.

A mutant counts as killed when a test failed (killed), the tests could not even be
collected (collection error), they ran out of time (timeout) or the process died
(segfault: a crash, or SIGKILL); it is missed when every test passed (survived), when no
selected test calls its function (no tests), when pytest could not start (error) or when
mutmut could not tell (suspicious).

A missed mutant named in ``equivalent.txt`` (beside this script; ``NAME  reason`` lines)
changes nothing anyone can observe: it is counted apart, and a file's score is killed /
(tested - equivalent). The raw killed / tested is printed too. A mutant listed there that
a test kills is reported, to be taken off the list.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).resolve().with_name("equivalent.txt")
FILES = ("train.py", "losses.py", "models.py", "optim.py", "api.py")
THRESHOLD = 90.0

# The exit codes mutmut 3.8.1 records in mutants/**/*.meta (its mutmut/stats.py), with two
# departures. 255 is the -1 of a worker whose pytest raised before running a test (mutmut
# calls it a timeout): here it is an error, missed, because nothing was tested. 2 is
# pytest's exit when collecting the tests failed (mutmut: "interrupted by user", but its
# fork server ignores Ctrl-C): the mutant broke the tests' imports, so it is killed.
STATUS = {
    1: "killed",
    3: "killed",
    2: "collection error",
    0: "survived",
    5: "no tests",
    33: "no tests",
    None: "not checked",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "error",
    -11: "segfault",
    -9: "segfault",
}
KILLED = {"killed", "collection error", "timeout", "segfault", "type check"}
MISSED = {"survived", "no tests", "suspicious", "error"}
UNFINISHED = {"not checked"}


def mutmut_command() -> str:
    exe = Path(sys.executable).parent / "mutmut"
    if exe.exists():
        return str(exe)
    found = shutil.which("mutmut")
    if not found:
        sys.exit("mutmut is not installed: pip install -r requirements-dev.txt")
    return found


def run_mutmut(max_children: int, names: list[str]) -> int:
    env = dict(os.environ)
    # CPU only: no probing for GPU or TPU plugins in each mutant's process.
    env.setdefault("JAX_PLATFORMS", "cpu")
    cmd = [mutmut_command(), "run", "--max-children", str(max_children), *names]
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def load_results() -> dict[str, dict]:
    """{file: {"codes": {mutant: exit code}, "durations": {...}}} from mutmut's meta files."""
    results = {}
    for name in FILES:
        meta = ROOT / "mutants" / "explorer" / f"{name}.meta"
        if not meta.exists():
            results[name] = {"codes": {}, "durations": {}}
            continue
        data = json.loads(meta.read_text())
        results[name] = {
            "codes": data["exit_code_by_key"],
            "durations": data.get("durations_by_key", {}),
        }
    return results


def load_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """{mutant name: why it is equivalent} from ``NAME  reason`` lines (# comments)."""
    out = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit(f"{path.name}: {name} has no reason")
        out[name] = reason.strip()
    return out


def status(code) -> str:
    return STATUS.get(code, "suspicious")


def report(results: dict[str, dict], diffs: bool, equivalent: dict[str, str] | None = None) -> bool:
    """Print the score table and the survivors; True when every file reaches THRESHOLD."""
    equivalent = equivalent or {}
    ok = True
    total = Counter()
    all_n = all_killed = all_eq = 0
    print()
    print(
        f"{'file':<12} {'mutants':>7} {'killed':>7} {'equiv':>6} {'missed':>7} "
        f"{'score':>7} {'raw':>7}  details"
    )
    for name in FILES:
        codes = results[name]["codes"]
        counts = Counter(status(c) for c in codes.values())
        total.update(counts)
        n = sum(counts.values()) - counts["skipped"]
        killed = sum(counts[s] for s in KILLED)
        eq = sum(1 for k, c in codes.items() if status(c) in MISSED and k in equivalent)
        missed = sum(counts[s] for s in MISSED) - eq
        score = 100.0 * killed / (n - eq) if n > eq else 0.0
        raw = 100.0 * killed / n if n else 0.0
        all_n, all_killed, all_eq = all_n + n, all_killed + killed, all_eq + eq
        unfinished = sum(counts[s] for s in UNFINISHED)
        if n == 0 or unfinished or score < THRESHOLD:
            ok = False
        details = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        flag = "" if n and not unfinished and score >= THRESHOLD else "  <-- under 90%"
        print(
            f"{name:<12} {n:>7} {killed:>7} {eq:>6} {missed:>7} {score:>6.1f}% {raw:>6.1f}%  "
            f"{details}{flag}"
        )
    score = 100.0 * all_killed / max(all_n - all_eq, 1)
    raw = 100.0 * all_killed / max(all_n, 1)
    missed = all_n - all_killed - all_eq - sum(total[s] for s in UNFINISHED)
    print(
        f"{'all':<12} {all_n:>7} {all_killed:>7} {all_eq:>6} {missed:>7} {score:>6.1f}% {raw:>6.1f}%"
    )
    print("score = killed / (mutants - equivalent); raw = killed / mutants")
    if any(total[s] for s in UNFINISHED):
        print(f"\nunfinished: {sum(total[s] for s in UNFINISHED)} mutants not tested (run again)")
    if total["error"]:
        print(
            f"\n{total['error']} mutants ended in an error before any test ran: the setup is "
            "broken, not the tests (pytest in mutants/ with MUTANT_UNDER_TEST set shows why)"
        )
    codes = {k: c for name in FILES for k, c in results[name]["codes"].items()}
    stale = sorted(k for k in equivalent if k in codes and status(codes[k]) in KILLED)
    unknown = sorted(k for k in equivalent if k not in codes)
    if stale:
        print(f"\nListed as equivalent but killed (take them off {EQUIVALENT.name}):")
        for key in stale:
            print(f"  {key}")
    if unknown:
        print(f"\nListed as equivalent but not a mutant of this run ({EQUIVALENT.name}):")
        for key in unknown:
            print(f"  {key}")

    print("\nSurvivors (missed mutants), by file:")
    for name in FILES:
        missed_names = sorted(
            (k for k, c in results[name]["codes"].items() if status(c) in MISSED),
            key=_natural,
        )
        if not missed_names:
            continue
        n_eq = sum(1 for k in missed_names if k in equivalent)
        print(f"\n{name} ({len(missed_names) - n_eq} missed, {n_eq} equivalent)")
        for key in missed_names:
            label = status(results[name]["codes"][key])
            note = "" if label == "survived" else f"  [{label}]"
            if key in equivalent:
                note += f"  [equivalent: {equivalent[key]}]"
            print(f"  {key}{note}")
            if diffs:
                shown = subprocess.run(
                    [mutmut_command(), "show", key],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                for line in shown.stdout.splitlines():
                    if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                        print(f"      {line}")
    return ok


def check_left_out(names: list[str]) -> None:
    """Run the slow tests the mutation runs leave out (pytest_plugin.LEFT_OUT) against each
    of ``names``, in mutants/ as mutmut would: do they kill a survivor the run missed?"""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    env = dict(os.environ, MUTATION_LEFT_OUT_ONLY="1", PY_IGNORE_IMPORTMISMATCH="1")
    env.setdefault("JAX_PLATFORMS", "cpu")
    for name in names:
        env["MUTANT_UNDER_TEST"] = name
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--rootdir=.", "-x", "-q"]
            + cfg["pytest_add_cli_args_test_selection"]
            + cfg["pytest_add_cli_args"],
            cwd=ROOT / "mutants",
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        verdict = {0: "survives them too", 1: "KILLED by a left-out test"}.get(
            done.returncode, f"exit {done.returncode}"
        )
        last = (done.stdout.strip().splitlines() or [""])[-1]
        print(f"{name}: {verdict} ({time.monotonic() - start:.0f} s; {last})", flush=True)


def _natural(key: str):
    head, _, number = key.rpartition("__mutmut_")
    return (head, int(number) if number.isdigit() else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-children", type=int, default=2, help="workers (default 2)")
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first")
    parser.add_argument("--report", action="store_true", help="score the last run only")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff")
    parser.add_argument(
        "--left-out",
        action="store_true",
        help="run the tests mutation runs leave out against the survivors (or NAMEs), only",
    )
    parser.add_argument("names", nargs="*", help="mutant names or globs to (re)test")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    if args.left_out:
        results = load_results()
        equivalent = load_equivalent()
        names = args.names or [
            k
            for name in FILES
            for k, c in sorted(results[name]["codes"].items(), key=lambda kc: _natural(kc[0]))
            if status(c) == "survived" and k not in equivalent
        ]
        check_left_out(names)
        return 0
    if not args.report:
        if args.fresh:
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        load = os.getloadavg()[0]
        start = time.monotonic()
        code = run_mutmut(args.max_children, args.names)
        wall = time.monotonic() - start
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = used.ru_utime + used.ru_stime
        print(
            f"\nmutmut run: exit {code}, {wall:.0f} s wall ({wall / 60:.1f} min), "
            f"{cpu:.0f} s CPU; load average {load:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end (2 cores: above 2, other work slowed it)"
        )
        if code != 0:
            return code
    if not (ROOT / "mutants").exists():
        print("no results: run without --report first")
        return 1
    return 0 if report(load_results(), args.diffs, load_equivalent()) else 1


if __name__ == "__main__":
    sys.exit(main())
