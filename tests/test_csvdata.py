"""CSV loading: the formats people export, and every way a file can be unusable."""

import numpy as np
import pytest

from explorer.csvdata import MAX_BYTES, MAX_LINE_CHARS, MAX_ROWS, DataError, load_csv, parse_csv

XS = [1.0, 2.5, -3.0]
YS = [4.0, -0.5, 1e-3]

GOOD = {
    "header": b"x,y\n1,4\n2.5,-0.5\n-3,1e-3\n",
    "no header": b"1,4\n2.5,-0.5\n-3,0.001\n",
    "crlf": b"x,y\r\n1,4\r\n2.5,-0.5\r\n-3,1E-3\r\n",
    "utf-8 bom": b"\xef\xbb\xbfx,y\n1,4\n2.5,-0.5\n-3,1e-3\n",
    "utf-16 le bom": "x,y\r\n1,4\r\n2.5,-0.5\r\n-3,1e-3\r\n".encode("utf-16"),
    "utf-16 be bom": b"\xfe\xff" + "x,y\n1,4\n2.5,-0.5\n-3,1e-3\n".encode("utf-16-be"),
    "semicolon decimal comma": b"x;y\n1;4\n2,5;-0,5\n-3;0,001\n",
    "tab": b"x\ty\n1\t4\n2.5\t-0.5\n-3\t1e-3\n",
    "tab decimal comma": b"1\t4\n2,5\t-0,5\n-3\t0,001\n",
    "whitespace": b"  1   4\n2.5 -0.5\n -3 1e-3\n",
    "blank lines": b"\nx,y\n\n1,4\n   \n2.5,-0.5\n\n-3,1e-3\n\n\n",
    "comments": b"# measured today\nx,y\n1,4\n# a note\n2.5,-0.5\n-3,1e-3\n",
    "quoted": b'"x","y"\n"1","4"\n"2.5","-0.5"\n"-3","1e-3"\n',
    "spaces around": b"x , y\n 1 , 4 \n2.5,  -0.5\n-3 ,1e-3\n",
    "no final newline": b"x,y\n1,4\n2.5,-0.5\n-3,1e-3",
}


@pytest.mark.parametrize("raw", GOOD.values(), ids=GOOD.keys())
def test_good_files_parse(raw):
    d = parse_csv(raw, "pts.csv")
    np.testing.assert_array_equal(d.x, XS)
    np.testing.assert_allclose(d.y, YS, rtol=1e-15)
    assert d.name == "pts.csv"
    assert (d.x_label, d.y_label) == ("x", "y")


def test_header_names_become_labels():
    d = parse_csv(b"time,speed\n0,1\n1,3\n")
    assert (d.x_label, d.y_label) == ("time", "speed")
    d = parse_csv(b"0,1\n1,3\n")
    assert (d.x_label, d.y_label) == ("x", "y")


def test_largest_allowed_values_and_rows():
    rows = MAX_ROWS
    raw = b"x,y\n" + b"1e6,-1e6\n" * rows
    d = parse_csv(raw)
    assert d.n == rows
    assert d.x[0] == 1e6 and d.y[0] == -1e6


def test_load_csv_reads_a_path(tmp_path):
    path = tmp_path / "speeds.csv"
    path.write_bytes(GOOD["crlf"])
    for source in (path, str(path)):
        d = load_csv(source)
        np.testing.assert_array_equal(d.x, XS)
        assert d.name == "speeds.csv"
    assert load_csv(GOOD["header"]).name == "data.csv"
    assert load_csv(path, name="mine").name == "mine"


def lines(*rows: str) -> bytes:
    return "".join(r + "\n" for r in rows).encode()


# (file bytes, line the message must name or None, words the message must contain)
BAD = {
    "empty": (b"", None, "empty"),
    "only whitespace": (b" \n\r\n\t\n", None, "empty"),
    "header only": (lines("x,y"), None, "no data rows"),
    "one row": (lines("x,y", "1,2"), None, "only 1 data row"),
    "text in a number": (lines("x,y", "1,2", "3,four", "5,6"), 3, "not a number"),
    "text in x": (lines("1,2", "abc,4"), 2, "x is 'abc'"),
    "nan": (lines("x,y", "1,2", "3,NaN"), 3, "finite"),
    "inf": (lines("1,2", "inf,3"), 2, "finite"),
    "minus infinity": (lines("1,2", "3,-Infinity"), 2, "finite"),
    "missing value": (lines("x,y", "1,2", "3,", "4,5"), 3, "missing"),
    "missing x": (lines("1,2", ",3"), 2, "missing"),
    "3 columns": (lines("x,y", "1,2", "3,4,5"), 3, "3 columns"),
    "3 columns at the start": (lines("1,2,3", "4,5,6"), 1, "3 columns"),
    "1 column": (lines("1", "2", "3"), 1, "1 column"),
    "1e300": (lines("1,2", "3,1e300"), 2, "outside the allowed range"),
    "1e400 overflows": (lines("1,2", "1e400,3"), 2, "outside the allowed range"),
    "too many rows": (b"1,2\n" * (MAX_ROWS + 1), MAX_ROWS + 1, "more than"),
    "too many rows with header": (b"x,y\n" + b"1,2\n" * (MAX_ROWS + 1), MAX_ROWS + 2, "more than"),
    "too many bytes": (b"1,2\n" * (MAX_BYTES // 4 + 1), None, "1 MiB"),
    "binary with NUL": (bytes(range(256)) * 4, None, "binary"),
    # Not UTF-8: read as Windows-1252 (an older Excel's CSV), so the stray byte is an "é"
    "not utf-8": (lines("x,y", "1,2") + b"3,\xe9\n", 3, "y is 'é', which is not a number"),
    "neither utf-8 nor windows-1252": (lines("x,y", "1,2") + b"3,\x81\n", 3, "UTF-8"),
    "very long line": (lines("1,2", "3," + "4" * MAX_LINE_CHARS, "5,6"), 2, "characters long"),
    "python expression": (lines("1,2", "3,__import__('os')"), 2, "not a number"),
    "thousands separator": (lines("1,2", "3,1_000"), 2, "not a number"),
}


@pytest.mark.parametrize(("raw", "line", "words"), BAD.values(), ids=BAD.keys())
def test_bad_files_raise_data_error_naming_the_line(raw, line, words):
    with pytest.raises(DataError) as info:
        parse_csv(raw)
    err = info.value
    assert isinstance(err, ValueError)  # the command line reports ValueErrors without a traceback
    assert words in str(err)
    assert err.line == line
    if line is None:
        assert not str(err).startswith("line")
    else:
        assert str(err).startswith(f"line {line}: ")


@pytest.mark.parametrize("odd", ["\x0c", "\x1e", "\x85", "\u2028"], ids=repr)
def test_line_numbers_count_only_real_line_breaks(odd):
    # A stray form feed, record separator, NEL or LINE SEPARATOR inside a line is not a new
    # line for an editor, a spreadsheet or Python's csv module, so it must not shift the line
    # number the message names: "3,abc" is on line 3.
    raw = f"x,y\n1,2{odd}\n3,abc\n".encode()
    with pytest.raises(DataError) as info:
        parse_csv(raw)
    assert info.value.line == 3
    assert str(info.value).startswith("line 3: ")


def test_bad_path_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_csv(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="cannot read"):
        load_csv(tmp_path)  # a directory
    big = tmp_path / "big.csv"
    big.write_bytes(b"1,2\n" * (MAX_BYTES // 4 + 1))
    with pytest.raises(DataError, match="limit"):
        load_csv(big)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(lines("x,y", "1,2", "3,oops"))
    with pytest.raises(DataError, match=r"^line 3: "):
        load_csv(bad)
