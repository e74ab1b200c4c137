"""The CSV corpus in tests/data through every door: the loader, the app's real upload
widget and the command line's ``--data``.

Each file either loads (when a person would expect it to) or is refused with one message
that says what is wrong and, where it applies, on which line; the app keeps showing the
previous data and no exception reaches the page; the command line exits non-zero with
``error: ...`` and no traceback. ``tests/data/make_corpus.py`` writes the files and
``tests/data/README.md`` lists them.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from player_data import player
from streamlit.testing.v1 import AppTest

from explorer.cli import main
from explorer.csvdata import DataError, load_csv
from explorer.figures import unpack

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
APP = str(REPO / "streamlit_app.py")
GOOD = "good.csv"  # uploaded first in the app, so there is previous data to keep
GOOD_X, GOOD_Y = [0, 1, 2, 3], [1, 3, 5, 7]
NOT_DATA = {"make_corpus.py", "README.md"}


@dataclass(frozen=True)
class Loads:
    n: int
    x: list | np.ndarray
    y: list | np.ndarray
    labels: tuple[str, str] = ("x", "y")


@dataclass(frozen=True)
class Refused:
    line: int | None  # the line the message names, None for problems of the whole file
    words: tuple[str, ...]


def loads(x, y, labels=("x", "y")) -> Loads:
    return Loads(len(x), x, y, labels)


def refused(line: int | None, *words: str) -> Refused:
    return Refused(line, words)


X3, Y3 = [1, 2, 3], [4, 5, 6]
XD, YD = [1, 2.5, -3], [4, -0.5, 1e-3]  # with decimals, signs and an exponent
LIMIT = np.arange(10_000)

EXPECTED: dict[str, Loads | Refused] = {
    # --- load ---
    GOOD: loads(GOOD_X, GOOD_Y, ("time", "speed")),
    "ok_no_header.csv": loads([0.5, 1.5, 2.5], [2, 4, 8]),
    "ok_two_rows.csv": loads([1, 2], [10, 20]),
    "ok_duplicate_x.csv": loads([1, 1, 2, 2, 3], [2, 3, 5, 4, 7]),
    "ok_semicolon_decimal_comma.csv": loads(XD, YD),
    "ok_tab_separated.tsv": loads(XD, YD),
    "ok_tab_decimal_comma.txt": loads([0, 0.5, 1], [0, 1.25, 5], ("Zeit", "Weg")),
    "ok_whitespace_separated.txt": loads(XD, YD),
    "ok_quoted.csv": loads(XD, YD),
    "ok_utf8_bom.csv": loads(X3, Y3),
    "ok_crlf.csv": loads(X3, Y3),
    "ok_cr_only.csv": loads(X3, Y3),
    "ok_utf16le_bom_tabs.txt": loads(XD, YD),
    "ok_utf16be_bom_tabs.txt": loads(XD, YD),
    "ok_utf16le_no_bom.csv": loads(X3, Y3),
    "ok_utf16be_no_bom.csv": loads(X3, Y3),
    "ok_utf16le_no_bom_chinese_header.csv": loads(X3, Y3, ("温度", "压力")),
    "ok_windows1252_header.csv": loads([10, 20, 30], [1.5, 2.5, 4], ("température (°C)", "débit")),
    "ok_comments_and_blank_lines.csv": loads(X3, Y3),
    "ok_trailing_empty_columns.csv": loads(X3, Y3),
    "ok_unicode_minus.csv": loads([-1, 0, 1], [2, -0.5, 3]),
    "ok_values_at_limit.csv": loads([-1e6, 1e6, 0], [1e6, -1e6, 0]),
    "ok_no_final_newline.csv": loads(X3, Y3),
    "ok_rows_at_limit.csv": loads(LIMIT, LIMIT % 7),
    # --- refused: one message, what is wrong and where ---
    "bad_empty.csv": refused(None, "the file is empty"),
    "bad_blank_lines_only.csv": refused(None, "the file is empty"),
    "bad_header_only.csv": refused(None, "header (x, y)", "no data rows under it"),
    "bad_comments_only.csv": refused(None, "no data rows", "at least 2 points"),
    "bad_single_row.csv": refused(None, "only 1 data row (line 2)", "at least 2 points"),
    "bad_text_in_y.csv": refused(3, "y is 'four', which is not a number"),
    "bad_text_in_x.csv": refused(2, "x is 'abc', which is not a number"),
    "bad_unit_in_value.csv": refused(2, "x is '1 km', which is not a number"),
    "bad_python_expression.csv": refused(3, "__import__", "not a number"),
    "bad_spreadsheet_formula.csv": refused(2, "y is '=A1*2', which is not a number"),
    "bad_nan.csv": refused(3, "y is 'NaN'", "finite"),
    "bad_inf.csv": refused(3, "x is '-inf'", "finite"),
    "bad_missing_y.csv": refused(3, "the y value is missing"),
    "bad_missing_x.csv": refused(2, "the x value is missing"),
    "bad_na_missing.csv": refused(3, "the y value is missing ('NA')"),
    "bad_excel_na_error.csv": refused(3, "the x value is missing ('#N/A')"),
    "bad_excel_div0.csv": refused(3, "y is '#DIV/0!', which is not a number"),
    "bad_three_columns.csv": refused(1, "found 3 columns (comma separated); expected 2"),
    "bad_extra_column_in_row.csv": refused(3, "found 3 columns (comma separated); expected 2"),
    "bad_one_column.csv": refused(1, "found 1 column", "expected 2"),
    "bad_comma_decimal_commas.csv": refused(1, "found 4 columns", "decimal commas"),
    "bad_quoted_decimal_commas.csv": refused(2, "x is '1,5'", "comma inside a number"),
    "bad_mixed_separators.csv": refused(3, "found 1 column (semicolon separated)"),
    "bad_repeated_header.csv": refused(4, "header line appears again"),
    "bad_1e300.csv": refused(3, "1e300 is outside the allowed range"),
    "bad_too_many_rows.csv": refused(10_002, "more than 10,000 data rows"),
    "bad_over_size_limit.csv": refused(None, "the file is 1,053,394 bytes", "1 MiB"),
    "bad_very_long_line.csv": refused(3, "1,202 characters long", "limit is 1,000"),
    "bad_binary_garbage.csv": refused(None, "binary file", "not CSV text"),
    "bad_binary_without_nul.csv": refused(None, "binary file", "not CSV text"),
    "bad_xlsx_renamed.csv": refused(None, "Excel (.xlsx)", "not CSV text", "save"),
    "bad_html_page.csv": refused(None, "web page (HTML)", "not CSV text"),
    "bad_crlf_error_on_line_3.csv": refused(3, "y is 'oops', which is not a number"),
    "bad_utf16_error_on_line_4.txt": refused(4, "y is 'oops', which is not a number"),
    "bad_utf16_no_bom_cut_short.csv": refused(None, "UTF-16", "byte-order mark", "UTF-8"),
    "bad_undecodable_bytes.csv": refused(3, "neither UTF-8 nor Windows-1252", "UTF-8"),
}

NAMES = list(EXPECTED)
MIME = {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".txt": "text/plain"}


def expected_message(e: Refused) -> list[str]:
    """What the message must contain (with ``line N:`` first where a line applies)."""
    return ([f"line {e.line}:"] if e.line else []) + list(e.words)


# --- the corpus itself ------------------------------------------------------------------


def corpus_files() -> dict[str, bytes]:
    return runpy.run_path(str(DATA / "make_corpus.py"))["FILES"]


def test_corpus_is_what_the_generator_writes_and_is_all_tested():
    files = corpus_files()
    on_disk = {p.name for p in DATA.iterdir() if p.is_file()} - NOT_DATA
    assert on_disk == set(files) == set(EXPECTED)
    for name, raw in files.items():
        assert (DATA / name).read_bytes() == raw, f"{name}: run tests/data/make_corpus.py"
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([^`]+)` \|", readme, re.M)
    assert sorted(listed) == sorted(EXPECTED)
    refused_files = [n for n, e in EXPECTED.items() if isinstance(e, Refused)]
    assert len(refused_files) >= 25
    assert all(n.startswith("bad_") for n in refused_files)
    assert all(
        n.startswith("ok_") or n == GOOD for n, e in EXPECTED.items() if isinstance(e, Loads)
    )


# --- (a) the loader -----------------------------------------------------------------------


def check_dataset(d, e: Loads, name: str) -> None:
    assert d.n == e.n
    np.testing.assert_allclose(d.x, e.x, rtol=1e-15)
    np.testing.assert_allclose(d.y, e.y, rtol=1e-15)
    assert (d.x_label, d.y_label) == e.labels
    assert d.name == name


@pytest.mark.parametrize("name", NAMES)
def test_loader(name):
    e = EXPECTED[name]
    if isinstance(e, Loads):
        check_dataset(load_csv(DATA / name), e, name)
        return
    with pytest.raises(DataError) as info:
        load_csv(DATA / name)
    message = str(info.value)
    assert info.value.line == e.line
    assert message.startswith(f"line {e.line}: ") if e.line else not message.startswith("line")
    for words in e.words:
        assert words in message
    assert "\n" not in message


# --- (b) the app's upload widget --------------------------------------------------------------


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [x.message for x in at.exception]
    return at


def upload(at: AppTest, name: str) -> AppTest:
    raw = (DATA / name).read_bytes()
    at.file_uploader(key="upload").set_value((name, raw, MIME[Path(name).suffix]))
    return run(at)


def shown_targets(at: AppTest) -> tuple[np.ndarray, np.ndarray, str]:
    """The player's fit chart: its target points and its x axis title."""
    spec = player(at)["fit"]
    data = spec["data"]
    assert data[0]["name"] == "targets"
    title = spec["layout"].get("xaxis", {}).get("title", {})
    return unpack(data[0]["x"]), unpack(data[0]["y"]), title.get("text", "")


def markdown_text(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)  # the app escapes Markdown in file contents


def app_showing_the_good_file() -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=120))  # opens on a preset
    assert at.selectbox(key="preset").value != "csv"
    at.selectbox(key="preset").set_value("csv")
    run(at)
    upload(at, GOOD)
    x, y, x_title = shown_targets(at)
    assert x.tolist() == GOOD_X and y.tolist() == GOOD_Y and x_title == "time"
    assert not at.error
    return at


@pytest.mark.parametrize("name", NAMES)
def test_app_upload(name):
    e = EXPECTED[name]
    at = upload(app_showing_the_good_file(), name)
    x, y, x_title = shown_targets(at)
    if isinstance(e, Loads):
        assert not at.error
        np.testing.assert_allclose(x, e.x, rtol=1e-6)
        np.testing.assert_allclose(y, e.y, rtol=1e-6)
        assert x_title == e.labels[0]
        assert [f"{e.n} points" in s.value for s in at.sidebar.success] == [True]
        return
    assert len(at.sidebar.error) == 1 and len(at.error) == 1  # one message, in the sidebar
    message = markdown_text(at.sidebar.error[0].value)
    assert "can't be used" in message
    for words in expected_message(e):
        assert words in message, message
    assert message.endswith(f"Still showing {GOOD}.")
    # the previous data stays on screen
    assert x.tolist() == GOOD_X and y.tolist() == GOOD_Y and x_title == "time"


# --- (c) the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_cli(name, capsys):
    e = EXPECTED[name]
    code = main(["fit", "--data", str(DATA / name), "--epochs", "2"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if isinstance(e, Loads):
        assert code == 0, err
        assert out.split()[:2] == ["epoch", "loss"] and err == ""
        return
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1  # one line
    for words in expected_message(e):
        assert words in err


@pytest.mark.parametrize("name", ["bad_text_in_y.csv", "bad_binary_garbage.csv"])
def test_cli_subprocess_has_no_traceback(name, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GRADIENT_EXPLORER_CACHE": str(tmp_path / "jax"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "fit", "--data", str(DATA / name), "--epochs", "2"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    for words in expected_message(EXPECTED[name]):
        assert words in proc.stderr
