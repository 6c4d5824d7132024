"""Reading a station register for ``beatsync import``: records numbered by their line.

A register typed into a spreadsheet or exported from an old system arrives as
JSON Lines (one record a line) or one JSON array. Each record keeps the line
it started on, so a refusal names the line the desk officer has to fix.
:func:`import_register` is the whole import (``beatsync import`` is it plus
the screen); the replica's :meth:`~FieldReplica.save_records` does the
storing, exactly as for a record saved by hand.

An imported record's id is a name-based uuid (RFC 4122 version 5) of the
record as read and the device id: importing the same file again gives the
same ids, which the replica skips, so a re-run (after fixing the refused
lines) adds no duplicates. The id is a hash, as random-looking as a uuid4
and with no personal data in it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import schemas
from field_client.records import RECORD_TYPES, now_stamp
from field_client.register_rows import rename_path, row_to_record, transition_reason
from field_client.ui.fields import Form
from sync.errors import BadRequest
from sync.revid import canonical_json, user_fields

if TYPE_CHECKING:
    from field_client.replica import FieldReplica

__all__ = [
    "IMPORT_NAMESPACE",
    "BadRegister",
    "Imported",
    "Problem",
    "Row",
    "Source",
    "import_id",
    "import_register",
    "problems_of",
    "read_register",
    "records_to_import",
]

# Fixed for BeatSync imports: the same record and device always give the same id.
IMPORT_NAMESPACE = uuid.UUID("5f0c7a52-8a8e-4d1b-9a37-3f1c2d6b7e10")
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Source:
    """One record of the file, as parsed, and the line it starts on (1-based)."""

    line: int
    value: Any


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the record at ``line`` was refused: the dotted ``field`` ("" = the whole record)."""

    line: int
    field: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class BadRegister(BadRequest):
    """The file cannot be read as records at all (not UTF-8, a broken JSON array)."""

    error = "bad_register"
    default_reason = "The file is not JSON Lines or a JSON array of records."


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: records stored (or that a dry run would store), skipped, refused."""

    total: int
    imported: int
    already_imported: int
    problems: list[Problem]  # by line; a record may have several

    @property
    def refused(self) -> int:
        return len({p.line for p in self.problems})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def read_register(data: bytes) -> Iterator[Source | Problem]:
    """Every record of a JSON Lines file or a JSON array, or the line's problem.

    A JSON Lines line that is not JSON is one ``Problem`` (the other lines
    still count); a broken JSON array cannot be read past the break, so it
    raises ``BadRegister`` naming the line (nothing is imported then).
    """
    try:
        text = data.decode("utf-8-sig")  # spreadsheets often write a byte-order mark
    except UnicodeDecodeError as exc:
        raise BadRegister(f"the file is not UTF-8 text (byte {exc.start})") from None
    start = _skip(text, 0)
    if text.startswith("[", start):
        yield from _array(text, start)
        return
    # Only "\n" ends a line: str.splitlines would also split at U+2028 and
    # friends, which JSON allows unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield Source(number, _DECODER.decode(line))
        except ValueError as exc:
            yield Problem(number, "", f"not valid JSON ({_short(exc)})")


def _array(text: str, pos: int) -> Iterator[Source]:
    line, counted = 1, 0

    def line_at(at: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, at)
        counted = at
        return line

    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        pos = _skip(text, pos + 1)
    else:
        while True:
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except ValueError as exc:
                raise BadRegister(f"line {line_at(pos)}: not valid JSON ({_short(exc)})") from None
            yield Source(line_at(pos), value)
            pos = _skip(text, end)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
            elif text.startswith("]", pos):
                pos = _skip(text, pos + 1)
                break
            else:
                raise BadRegister(f"line {line_at(pos)}: expected ',' or ']' in the JSON array")
    if pos != len(text):
        raise BadRegister(f"line {line_at(pos)}: text after the end of the JSON array")


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _short(exc: ValueError) -> str:
    # json's message ends with "line 1 column 5 (char 4)": the line is said already.
    message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    return message.split(": line ")[0]


def import_id(record: Mapping[str, Any], device_id: str) -> str:
    """The record's id on this device: the same for the same record, hex like a uuid4."""
    name = device_id.encode() + b"\n" + canonical_json(record)
    return uuid.uuid5(IMPORT_NAMESPACE, name.decode()).hex


@dataclass(frozen=True, slots=True)
class Row:
    """A register row made a record: its line, and the form whose names it used."""

    line: int
    record: dict[str, Any]
    form: Form | None


def records_to_import(
    sources: Sequence[Source],
    *,
    record_type: str | None,
    device_id: str,
    officer_id: str = "",
    at: str = "",
) -> tuple[list[Row], list[Problem]]:
    """The rows ready for ``FieldReplica.save_records``, and the lines refused already.

    A record without ``type`` takes ``record_type``. A row in the CLI's names
    becomes the record the CLI would make, and what a typed-in record gets is
    filled in (:mod:`field_client.register_rows`). CouchDB metadata in the
    file (``_id``, ``_rev``, ``_attachments``) is not used: the record gets
    its import id (of the row as written) and is a new record.
    """
    rows: list[Row] = []
    problems: list[Problem] = []
    for source in sources:
        if not isinstance(source.value, dict):
            problems.append(Problem(source.line, "", "a record must be a JSON object {...}"))
            continue
        raw = dict(source.value)
        if "type" not in raw:
            if record_type is None:
                reason = "is missing: give the file's record type with --type"
                problems.append(Problem(source.line, "type", reason))
                continue
            raw["type"] = record_type
        if raw["type"] not in RECORD_TYPES:
            reason = f"must be one of {', '.join(RECORD_TYPES)} on an officer's device"
            problems.append(Problem(source.line, "type", reason))
            continue
        record, form, wrong = row_to_record(user_fields(raw), officer_id=officer_id, at=at)
        if wrong:
            problems += [Problem(source.line, field, reason) for field, reason in wrong]
            continue
        rows.append(Row(source.line, {**record, "_id": import_id(raw, device_id)}, form))
    return rows, problems


def problems_of(row: Row, error: schemas.RecordInvalid, role: str) -> list[Problem]:
    """One ``Problem`` per field the validator named, by the row's own names."""
    if isinstance(error, schemas.TransitionNotAllowed):
        return [Problem(row.line, "status", transition_reason(row.record, role))]
    return [
        Problem(
            row.line,
            rename_path(row.form, e.path),
            e.message.removeprefix(f"{e.path}: ") if e.path else e.message,
        )
        for e in error.errors
    ]


async def import_register(
    replica: FieldReplica,
    data: bytes,
    *,
    record_type: str | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    on_progress: Callable[[int, int], None] | None = None,
) -> Imported:
    """Import the register ``data`` (JSON Lines or a JSON array) into ``replica``.

    Refused records do not stop the others; records imported before are
    skipped. ``on_progress(done, total)`` follows the batches. A file that
    cannot be read raises ``BadRegister`` before anything is stored.
    """
    read = list(read_register(data))
    sources = [item for item in read if isinstance(item, Source)]
    problems = [item for item in read if isinstance(item, Problem)]
    settings = replica.settings
    records, refused = records_to_import(
        sources,
        record_type=record_type,
        device_id=settings.device_id,
        officer_id=settings.officer_id,
        at=now_stamp(),
    )
    problems += refused
    before, total = len(problems), len(read)
    if on_progress is not None:
        on_progress(before, total)
    report = await replica.save_records(
        [row.record for row in records],
        batch_size=batch_size,
        skip_existing=True,
        dry_run=dry_run,
        on_progress=None if on_progress is None else lambda done: on_progress(before + done, total),
    )
    for index, error in report.refused:
        problems += problems_of(records[index], error, settings.role)
    return Imported(
        total=total,
        imported=len(report.saved),
        already_imported=len(report.existing),
        problems=sorted(problems, key=lambda p: p.line),
    )
