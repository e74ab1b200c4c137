"""Write the CSV corpus in this folder: files people upload, good and malformed.

    python tests/data/make_corpus.py

Deterministic: the same bytes on every run and every machine (noise from SHA-256, a
zip with fixed dates and no compression), so the committed files are exactly what this
script writes; ``tests/test_bad_data.py`` checks that, and what every file does in the
loader, the app's upload and the command line. README.md says what each file is and what
it should do. Files named ``ok_*`` (and ``good.csv``) load; ``bad_*`` are refused.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_BYTES = 1_048_576  # explorer.csvdata's limits, repeated so the script stands alone
MAX_ROWS = 10_000


def text(*lines: str, end: str = "\n") -> bytes:
    return "".join(line + end for line in lines).encode()


def rows_at_limit() -> bytes:
    # x from 0 to 9999, y a sawtooth: 10,000 rows, the most a file may have.
    return text("x,y", *(f"{i},{i % 7}" for i in range(MAX_ROWS)))


def too_many_rows() -> bytes:
    return text("x,y", *(f"{i},{i % 7}" for i in range(MAX_ROWS + 1)))


def over_size_limit() -> bytes:
    # Fewer rows than the limit and lines shorter than the limit, every value a fine
    # number: only the size (just over 1 MiB) is wrong.
    pad = "0" * 50
    rows = [f"{i}.{pad}1,{i % 10}.{pad}2" for i in range(9_500)]
    raw = text("x,y", *rows)
    assert MAX_BYTES < len(raw) < MAX_BYTES + 50_000 and len(rows) <= MAX_ROWS
    return raw


def noise(seed: str, n: int) -> bytes:
    """``n`` bytes that look random, the same everywhere (SHA-256 in counter mode)."""
    out = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(n // 32 + 1))
    return out[:n]


def binary_garbage() -> bytes:
    data = noise("garbage", 4096)
    assert b"\x00" in data
    return data


def binary_without_nul() -> bytes:
    data = noise("no NUL", 4200).replace(b"\x00", b"")[:4096]
    assert b"\x00" not in data and len(data) == 4096
    return data


def xlsx_renamed() -> bytes:
    # The start of an Excel workbook: a zip holding XML (stored, fixed dates: deterministic).
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, body in (
            ("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
            ("xl/workbook.xml", '<?xml version="1.0"?><workbook/>'),
            ("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet/>'),
        ):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # the same on every platform
            z.writestr(info, body)
    return out.getvalue()


UTF16_TEXT = "x\ty\r\n1\t4\r\n2,5\t-0,5\r\n-3\t0,001\r\n"  # Excel's "Unicode text": tabs

FILES: dict[str, bytes] = {
    # --- files that load ---
    "good.csv": text("time,speed", "0,1", "1,3", "2,5", "3,7"),
    "ok_no_header.csv": text("0.5,2", "1.5,4", "2.5,8"),
    "ok_two_rows.csv": text("x,y", "1,10", "2,20"),
    "ok_duplicate_x.csv": text("x,y", "1,2", "1,3", "2,5", "2,4", "3,7"),
    "ok_semicolon_decimal_comma.csv": text("x;y", "1;4", "2,5;-0,5", "-3;0,001"),
    "ok_tab_separated.tsv": text("x\ty", "1\t4", "2.5\t-0.5", "-3\t1e-3"),
    "ok_tab_decimal_comma.txt": text("Zeit\tWeg", "0\t0", "0,5\t1,25", "1\t5"),
    "ok_whitespace_separated.txt": text("  1   4", "2.5 -0.5", " -3 1e-3"),
    "ok_quoted.csv": text('"x","y"', '"1","4"', '"2.5","-0.5"', '"-3","1e-3"'),
    "ok_utf8_bom.csv": b"\xef\xbb\xbf" + text("x,y", "1,4", "2,5", "3,6"),
    "ok_crlf.csv": text("x,y", "1,4", "2,5", "3,6", end="\r\n"),
    "ok_cr_only.csv": text("x,y", "1,4", "2,5", "3,6", end="\r"),
    "ok_utf16le_bom_tabs.txt": b"\xff\xfe" + UTF16_TEXT.encode("utf-16-le"),
    "ok_utf16be_bom_tabs.txt": b"\xfe\xff" + UTF16_TEXT.encode("utf-16-be"),
    "ok_utf16le_no_bom.csv": "x,y\r\n1,4\r\n2,5\r\n3,6\r\n".encode("utf-16-le"),
    "ok_utf16be_no_bom.csv": "x,y\n1,4\n2,5\n3,6\n".encode("utf-16-be"),
    "ok_utf16le_no_bom_chinese_header.csv": "温度,压力\n1,4\n2,5\n3,6\n".encode("utf-16-le"),
    "ok_windows1252_header.csv": "température (°C),débit\n10,1.5\n20,2.5\n30,4\n".encode("cp1252"),
    "ok_comments_and_blank_lines.csv": text(
        "# speeds measured on 2024-01-01", "", "x,y", "1,4", "   ", "# a note", "2,5", "", "3,6"
    ),
    "ok_trailing_empty_columns.csv": text("x,y,,", "1,4,,", "2,5,,", ",,,", "3,6,,"),
    "ok_unicode_minus.csv": text("x,y", "\u22121,2", "0,\u22120.5", "1,3"),
    "ok_values_at_limit.csv": text("x,y", "-1e6,1000000", "1E+06,-1000000.0", "0,0"),
    "ok_no_final_newline.csv": b"x,y\n1,4\n2,5\n3,6",
    "ok_rows_at_limit.csv": rows_at_limit(),
    # --- files that are refused, each with one message saying what and where ---
    "bad_empty.csv": b"",
    "bad_blank_lines_only.csv": b" \n\r\n\t\n",
    "bad_header_only.csv": text("x,y"),
    "bad_comments_only.csv": text("# no data yet", "#x,y"),
    "bad_single_row.csv": text("x,y", "1,2"),
    "bad_text_in_y.csv": text("x,y", "1,2", "3,four", "5,6"),
    "bad_text_in_x.csv": text("1,2", "abc,4", "5,6"),
    "bad_unit_in_value.csv": text("distance,time", "1 km,2", "2 km,3"),
    "bad_python_expression.csv": text("x,y", "1,2", "3,__import__('os').system('echo hi')"),
    "bad_spreadsheet_formula.csv": text("x,y", "1,=A1*2", "2,4"),
    "bad_nan.csv": text("x,y", "1,2", "3,NaN", "4,5"),
    "bad_inf.csv": text("x,y", "1,2", "-inf,3"),
    "bad_missing_y.csv": text("x,y", "1,2", "3,", "4,5"),
    "bad_missing_x.csv": text("1,2", ",3", "4,5"),
    "bad_na_missing.csv": text('"x","y"', '"1",2', '"2",NA', '"3",4'),
    "bad_excel_na_error.csv": text("x,y", "1,2", "#N/A,3", "4,5"),
    "bad_excel_div0.csv": text("x,y", "1,2", "2,#DIV/0!", "3,4"),
    "bad_three_columns.csv": text("x,y,z", "1,2,3", "4,5,6"),
    "bad_extra_column_in_row.csv": text("x,y", "1,2", "3,4,5", "6,7"),
    "bad_one_column.csv": text("y", "1", "2", "3"),
    "bad_comma_decimal_commas.csv": text("1,5,2,5", "3,5,4,5"),
    "bad_quoted_decimal_commas.csv": text('"x","y"', '"1,5","2,5"', '"3,5","4,5"'),
    "bad_mixed_separators.csv": text("x;y", "1;2", "3,4", "5;6"),
    "bad_repeated_header.csv": text("x,y", "1,2", "3,4", "x,y", "5,6"),
    "bad_1e300.csv": text("x,y", "1,2", "3,1e300"),
    "bad_too_many_rows.csv": too_many_rows(),
    "bad_over_size_limit.csv": over_size_limit(),
    "bad_very_long_line.csv": text("x,y", "1,2", "3," + "4" * 1_200, "5,6"),
    "bad_binary_garbage.csv": binary_garbage(),
    "bad_binary_without_nul.csv": binary_without_nul(),
    "bad_xlsx_renamed.csv": xlsx_renamed(),
    "bad_html_page.csv": text(
        "<!DOCTYPE html>", '<html lang="en">', "<head><title>data.csv</title></head>", "</html>"
    ),
    "bad_crlf_error_on_line_3.csv": text("x,y", "1,2", "3,oops", "4,5", end="\r\n"),
    "bad_utf16_error_on_line_4.txt": b"\xff\xfe"
    + "x\ty\r\n1\t2\r\n3\t4\r\n5\toops\r\n".encode("utf-16-le"),
    "bad_utf16_no_bom_cut_short.csv": "x,y\n1,2\n3,4\n".encode("utf-16-le")[:-1],
    "bad_undecodable_bytes.csv": text("x,y", "1,2") + b"3,\x81\x8d\n",
}


def main() -> None:
    for name, raw in FILES.items():
        (HERE / name).write_bytes(raw)
    print(f"wrote {len(FILES)} files, {sum(map(len, FILES.values())):,} bytes, to {HERE}")


if __name__ == "__main__":
    main()
