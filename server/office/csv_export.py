"""Any list of the office as a CSV file, streamed a page at a time.

A cell a spreadsheet would take for a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return: OWASP, "CSV Injection") is written
with a leading apostrophe, so a record text such as ``=HYPERLINK(...)``
opens as text on the office PC, never as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Final

from aiohttp import web

__all__ = ["csv_response", "safe_cell"]

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _lines(rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode()


async def csv_response(
    request: web.Request,
    filename: str,
    header: Sequence[str],
    pages: AsyncIterator[Iterable[Sequence[object]]],
) -> web.StreamResponse:
    """``header`` then every page's rows, written as they are read."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    # A byte order mark: spreadsheet programs then read the Hindi as UTF-8.
    await response.write(b"\xef\xbb\xbf" + _lines([header]))
    async for rows in pages:
        await response.write(_lines(rows))
    await response.write_eof()
    return response
