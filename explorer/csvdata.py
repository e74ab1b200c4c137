"""Loading your own points from CSV text: two numeric columns x, y, header optional.

Every problem raises ``DataError`` with a message that says what is wrong and where
(``line 7: ...``). The loader never evaluates anything it reads and only parses numbers.

What people's files look like, and what happens to them:

* UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark (Excel's
  "Unicode text") or without one, and Windows-1252 / Latin-1 (an older Excel's "CSV") are
  read; anything else that is not text (NUL or control bytes, a workbook, a PDF, a web
  page) is refused as such.
* Comma, semicolon, tab or whitespace separated, as the first line shows; with semicolons
  or tabs a decimal comma (``2,5``) is read as a decimal point. In a comma-separated file a
  comma inside a number is ambiguous (``"1,250"``: decimal or thousands?) and is refused.
* Empty trailing columns (``1,2,,`` from a spreadsheet) are ignored, as are blank or
  empty rows (``,,``) and ``#`` comments; a Unicode minus (``−3``) is a minus.
* Missing values (empty, ``NA``, ``#N/A``, ``null``), NaN and inf, values beyond ±1e6,
  more than two columns, a repeated header, too many rows or bytes and too long lines are
  refused with the line they are on.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from .data import MAX_POINTS, MIN_POINTS, Dataset, clean_text

MAX_BYTES = 1_048_576  # 1 MiB
MAX_ROWS = MAX_POINTS
MAX_ABS = 1e6  # keeps x**8 of an 8th-degree polynomial (1e48) and its gradients finite
MAX_LINE_CHARS = 1_000

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NONFINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
_MISSING = {"na", "n/a", "#n/a", "null", "none", "nil", "-", "?"}
# Spreadsheet error values: a line starting with one is data, not a "#" comment.
_SHEET_ERROR = re.compile(r"#(N/A|DIV/0!|VALUE!|REF!|NAME\?|NUM!|NULL!|SPILL!|CALC!)", re.I)
_INTEGER = re.compile(r"[+-]?\d+")
# Control bytes no text file has (tab, line feed, carriage return and form feed allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive, such as an Excel (.xlsx) or OpenDocument (.ods) workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_MARKUP = (
    ("<!doctype html", "a web page (HTML)"),
    ("<html", "a web page (HTML)"),
    ("<?xml", "an XML document"),
)
_SAVE_AS = "export or save the data as CSV (UTF-8) and use that file"

LIMITS_TEXT = (
    f"Two numeric columns x, y (header optional; comma, semicolon or tab separated), "
    f"{MIN_POINTS} to {MAX_ROWS:,} rows, values within ±{MAX_ABS:g}, at most "
    f"{MAX_BYTES // 1024} KiB."
)


class DataError(ValueError):
    """A CSV file that cannot be used; the message names the problem and the line."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def load_csv(source: bytes | str | Path, name: str | None = None) -> Dataset:
    """Parse CSV bytes (or read a file path) into a Dataset.

    Args:
        source: the file's bytes, or a path to read (the command line only).
        name: name to show for the data; the file name by default.

    Returns:
        The Dataset, with the header's column names when the file has a header.

    Raises:
        DataError: the file is not usable; the message says why and where.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise DataError(_too_big(size))
            raw = path.read_bytes()
        except OSError as err:
            raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    else:
        raw = bytes(source)
    return parse_csv(raw, name or "data.csv")


def _too_big(size: int) -> str:
    return f"the file is {size:,} bytes; the limit is {MAX_BYTES:,} bytes (1 MiB)"


def _binary() -> DataError:
    return DataError(
        "this looks like a binary file (it contains NUL or other control bytes), not CSV text"
    )


def _utf16_codec(raw: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when ``raw`` looks like UTF-16 without a byte-order
    mark: at least half of every other byte NUL (the high byte of ASCII characters, so
    digits, separators and line ends), hardly any of the bytes between."""
    if len(raw) < 4:
        return None
    even, odd = raw[0::2], raw[1::2]
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.5 * len(zeros) and other.count(0) <= 0.1 * len(other):
            return codec
    return None


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise DataError(_too_big(len(raw)))
    for signature, what in _SIGNATURES:
        if raw.startswith(signature):
            raise DataError(f"this is {what}, not CSV text; {_SAVE_AS}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError("the file starts like UTF-16 text but does not decode as it") from None
        if _CONTROL.search(text.encode("utf-8")):
            raise _binary()
        return text
    if b"\x00" in raw:
        codec = _utf16_codec(raw)
        if codec is None:
            raise _binary()
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            raise DataError(
                "this looks like UTF-16 text without a byte-order mark, but it does not decode "
                "as it; save it as CSV UTF-8"
            ) from None
        if _CONTROL.search(text.encode("utf-8")):
            raise _binary()
        return text
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
    # Not UTF-8: an older spreadsheet's "CSV" is Windows-1252 (Latin-1 plus a few signs).
    # Numbers are ASCII in every one of them, so only a header's accents are at stake.
    if _CONTROL.search(raw):
        raise _binary()
    try:
        return raw.removeprefix(b"\xef\xbb\xbf").decode("cp1252")
    except UnicodeDecodeError:
        raise DataError(
            "the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8", line
        ) from None


def _delimiter(line: str) -> str | None:
    for sep in ("\t", ";", ","):
        if sep in line:
            return sep
    return None  # whitespace


def _split(line: str, sep: str | None) -> list[str]:
    if sep is None:
        fields = line.split()
    else:  # quote-aware: "1,5" is one field
        try:
            fields = next(csv.reader([line], delimiter=sep, skipinitialspace=True))
        except (csv.Error, StopIteration):
            fields = line.split(sep)
    fields = [f.strip().strip('"').strip("'").strip() for f in fields]
    while len(fields) > 2 and fields[-1] == "":
        fields.pop()  # "1,2,," : a spreadsheet's empty trailing columns
    return fields


def _normal(text: str) -> str:
    return text.replace("\u2212", "-")  # a Unicode minus sign, as typeset or copied


def _number(text: str, sep: str | None, line: int, column: str) -> float:
    if text == "":
        raise DataError(f"the {column} value is missing", line)
    if text.lower() in _MISSING:
        raise DataError(f"the {column} value is missing ({text!r})", line)
    text = _normal(text)
    if sep in ("\t", ";") and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # decimal comma, unambiguous with these separators
    if _NONFINITE.fullmatch(text):
        raise DataError(
            f"{column} is {text!r}; only finite numbers are allowed (no NaN or inf)", line
        )
    if sep == "," and "," in text and _NUMBER.fullmatch(text.replace(",", "")):
        raise DataError(
            f"{column} is {text!r}: a comma inside a number is ambiguous in a comma-separated "
            "file (decimal comma or thousands?); use decimal points, or separate the columns "
            "with semicolons or tabs",
            line,
        )
    if not _NUMBER.fullmatch(text):
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise DataError(f"{column} is {shown!r}, which is not a number", line)
    value = float(text)
    if not abs(value) <= MAX_ABS:
        raise DataError(f"{column} = {text} is outside the allowed range ±{MAX_ABS:g}", line)
    return value


def _is_header(fields: list[str]) -> bool:
    return not any(
        _NUMBER.fullmatch(_normal(f).replace(",", ".")) or _NONFINITE.fullmatch(f) for f in fields
    )


def _wrong_columns(fields: list[str], sep: str | None, line: int) -> DataError:
    n = len(fields)
    if n == 1 and sep is None:
        what = "no comma, semicolon, tab or space between values"
    else:
        what = {None: "whitespace", "\t": "tab", ";": "semicolon", ",": "comma"}[sep] + " separated"
    message = f"found {n} column{'s' if n != 1 else ''} ({what}); expected 2: x and y"
    if sep == "," and n == 4 and all(_INTEGER.fullmatch(f) for f in fields):
        # 1,5,2,5: x = 1,5 and y = 2,5 written with decimal commas
        message += " (decimal commas? then separate the columns with semicolons or tabs)"
    return DataError(message, line)


def parse_csv(raw: bytes, name: str = "data.csv") -> Dataset:
    """Parse CSV bytes into a Dataset (see ``load_csv``)."""
    if not raw.strip():
        raise DataError("the file is empty")
    text = _decode(raw)
    if not text.strip():
        raise DataError("the file is empty")
    head = text.lstrip()[:20].lower()
    for start, what in _MARKUP:
        if head.startswith(start):
            raise DataError(f"this is {what}, not CSV text; {_SAVE_AS}")
    sep: str | None = None
    header: list[str] | None = None
    xs: list[float] = []
    ys: list[float] = []
    first_row = 0
    first = True
    # Only CR, LF and CRLF end a line (str.splitlines also splits at form feeds and the
    # like, which would put the line numbers in messages off from an editor's).
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise DataError(
                f"the line is {len(line):,} characters long; the limit is {MAX_LINE_CHARS:,}",
                number,
            )
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not _SHEET_ERROR.match(stripped)):
            continue
        if first:
            sep = _delimiter(stripped)
        fields = _split(stripped, sep)
        if not any(fields):
            continue  # ",," : a spreadsheet's empty row
        if len(fields) != 2:
            raise _wrong_columns(fields, sep, number)
        if first:
            first = False
            if _is_header(fields):
                header = fields
                continue
        elif header is not None and fields == header:
            raise DataError(
                "the header line appears again here (two files pasted together?); keep only "
                "the first one",
                number,
            )
        if len(xs) >= MAX_ROWS:
            raise DataError(f"more than {MAX_ROWS:,} data rows; the limit is {MAX_ROWS:,}", number)
        xs.append(_number(fields[0], sep, number, "x"))
        ys.append(_number(fields[1], sep, number, "y"))
        first_row = first_row or number
    if len(xs) < MIN_POINTS:
        if xs:
            found = f"found only 1 data row (line {first_row})"
        elif header:
            found = (
                f"found the header ({', '.join(h[:20] for h in header)}) but no data rows under it"
            )
        else:
            found = "found no data rows (only blank lines and comments)"
        raise DataError(f"{found}; need at least {MIN_POINTS} points")
    x_label, y_label = header if header and all(header) else ["x", "y"]
    return Dataset(
        np.array(xs),
        np.array(ys),
        name=name,
        description=f"{name}: {len(xs)} points",
        x_label=x_label[:40],
        y_label=y_label[:40],
    )


# ----------------------------------------------------------------------------- drawn points

MAX_DRAWN = 200  # points drawn by clicking: enough for any shape, and a link of ~3 KB
DRAWN_NAME = "drawn points"
_DRAWN_PAIR = re.compile(r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)_(-?\d+(?:\.\d+)?(?:e-?\d+)?)")


def points_text(x, y) -> str:
    """Points as a link's compact text, ``x_y~x_y~...``, each value to 4 significant
    digits and written with characters a URL keeps as they are (no ``+``)."""
    return "~".join(f"{_short(a)}_{_short(b)}" for a, b in zip(x, y, strict=True))


def _short(v: float) -> str:
    text = f"{float(v):.4g}"
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text


def parse_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``points_text``'s form (0 to MAX_DRAWN of them); DataError saying
    what is wrong otherwise."""
    text = text.strip()
    if not text:
        return np.zeros(0), np.zeros(0)
    pairs = text.split("~")
    if len(pairs) > MAX_DRAWN:
        raise DataError(f"{len(pairs)} drawn points; at most {MAX_DRAWN} can be drawn")
    xs, ys = [], []
    for i, pair in enumerate(pairs, 1):
        m = _DRAWN_PAIR.fullmatch(pair)
        if m is None:
            raise DataError(f"drawn point {i} ({clean_text(pair, 30)!r}) is not x_y")
        a, b = float(m.group(1)), float(m.group(2))
        if not (abs(a) <= MAX_ABS and abs(b) <= MAX_ABS):
            raise DataError(f"drawn point {i}: values must be within ±{MAX_ABS:g}")
        xs.append(a)
        ys.append(b)
    return np.array(xs), np.array(ys)


def drawn_dataset(x, y) -> Dataset:
    """Drawn points as data (DataError when there are fewer than MIN_POINTS)."""
    if len(x) < MIN_POINTS:
        raise DataError(f"draw at least {MIN_POINTS} points to fit")
    return Dataset(np.asarray(x), np.asarray(y), DRAWN_NAME, "Points drawn by clicking.")


def drawn_outline(x, y) -> Dataset:
    """Drawn points, in the order drawn, as a closed outline to fit by a curve model:
    targets the points themselves (and the first again, closing it) at t = the share of
    the outline's perimeter walked to each (``data.outline_at``'s t). DataError for fewer
    than three points or points that all coincide."""
    if len(x) < 3:
        raise DataError("draw at least 3 points, in order, for an outline")
    pts = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], axis=1)
    loop = np.vstack([pts, pts[:1]])
    walked = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(loop, axis=0).T))])
    if walked[-1] == 0:
        raise DataError("the drawn points all coincide: an outline needs some length")
    return Dataset(walked / walked[-1], loop, DRAWN_NAME, "An outline drawn by clicking, in order.")
