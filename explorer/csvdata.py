"""Loading your own points from CSV text: two numeric columns x, y, header optional.

Every problem raises ``DataError`` with a message that says what is wrong and where
(``line 7: ...``). The loader never evaluates anything it reads and only parses numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .data import MAX_POINTS, MIN_POINTS, Dataset

MAX_BYTES = 1_048_576  # 1 MiB
MAX_ROWS = MAX_POINTS
MAX_ABS = 1e6  # larger values overflow float32 squares and gradients
MAX_LINE_CHARS = 1_000

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NONFINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)

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


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise DataError(_too_big(len(raw)))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError("the file starts like UTF-16 text but does not decode as it") from None
    if b"\x00" in raw:
        raise DataError("this looks like a binary file (it contains NUL bytes), not CSV text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            "the file is not UTF-8 text (a spreadsheet export? save it as CSV UTF-8)", line
        ) from None


def _delimiter(line: str) -> str | None:
    for sep in ("\t", ";", ","):
        if sep in line:
            return sep
    return None  # whitespace


def _split(line: str, sep: str | None) -> list[str]:
    fields = line.split(sep) if sep else line.split()
    return [f.strip().strip('"').strip("'").strip() for f in fields]


def _number(text: str, sep: str | None, line: int, column: str) -> float:
    if text == "":
        raise DataError(f"the {column} value is missing", line)
    if sep in ("\t", ";") and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # decimal comma, unambiguous with these separators
    if _NONFINITE.fullmatch(text):
        raise DataError(
            f"{column} is {text!r}; only finite numbers are allowed (no NaN or inf)", line
        )
    if not _NUMBER.fullmatch(text):
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise DataError(f"{column} is {shown!r}, which is not a number", line)
    value = float(text)
    if not abs(value) <= MAX_ABS:
        raise DataError(f"{column} = {text} is outside the allowed range ±{MAX_ABS:g}", line)
    return value


def parse_csv(raw: bytes, name: str = "data.csv") -> Dataset:
    """Parse CSV bytes into a Dataset (see ``load_csv``)."""
    if not raw.strip():
        raise DataError("the file is empty")
    text = _decode(raw)
    sep: str | None = None
    header: list[str] | None = None
    xs: list[float] = []
    ys: list[float] = []
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
        if not stripped or stripped.startswith("#"):
            continue
        if first:
            sep = _delimiter(stripped)
        fields = _split(stripped, sep)
        if len(fields) != 2:
            what = {None: "whitespace", "\t": "tab", ";": "semicolon", ",": "comma"}[sep]
            raise DataError(
                f"found {len(fields)} column{'s' if len(fields) != 1 else ''} ({what} separated); "
                "expected 2: x and y",
                number,
            )
        if first:
            first = False
            if not any(
                _NUMBER.fullmatch(f.replace(",", ".")) or _NONFINITE.fullmatch(f) for f in fields
            ):
                header = fields
                continue
        if len(xs) >= MAX_ROWS:
            raise DataError(f"more than {MAX_ROWS:,} data rows; the limit is {MAX_ROWS:,}", number)
        xs.append(_number(fields[0], sep, number, "x"))
        ys.append(_number(fields[1], sep, number, "y"))
    if len(xs) < MIN_POINTS:
        found = "no data rows" if not xs else f"only {len(xs)} data row"
        raise DataError(f"found {found}; need at least {MIN_POINTS} points")
    x_label, y_label = header if header and all(header) else ["x", "y"]
    return Dataset(
        np.array(xs),
        np.array(ys),
        name=name,
        description=f"{name}: {len(xs)} points",
        x_label=x_label[:40],
        y_label=y_label[:40],
    )
