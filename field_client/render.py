"""How the CLI shows things: rich tables for people, JSON for scripts."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import datetime
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from field_client.decisions import Decision, decision_of
from field_client.importing import Problem
from field_client.reports import Status, SyncReport

__all__ = [
    "emit_json",
    "flatten",
    "local_time",
    "problems_table",
    "record_list",
    "record_table",
    "status_table",
    "sync_summary",
]

# Short enough to read aloud, long enough to be unique in one station's data;
# the CLI accepts any unique prefix of a record id.
SHORT_ID = 8

_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "complaint": (
        ("Complainant", "complainant.name"),
        ("Category", "category"),
        ("Status", "status"),
        ("Place", "incident.place"),
        ("Recorded", "created_at"),
    ),
    "visitor_entry": (
        ("Visitor", "visitor.name"),
        ("To meet", "whom_to_meet"),
        ("Expected", "expected_at"),
        ("In", "time_in"),
        ("Out", "time_out"),
    ),
    "verification_visit": (
        ("Kind", "kind"),
        ("Subject", "subject.name"),
        # "assigned": asked for by a certificate request, not yet made.
        ("Status", "status"),
        ("Recommendation", "recommendation"),
        ("Visited", "visit_time"),
    ),
}


def emit_json(console: Console, value: Any) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    console.file.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _at(doc: Mapping[str, Any], path: str) -> str:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    return "" if value is None else str(value)


def flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """``(dotted field, text)`` of every field, lists of objects numbered from 1."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and isinstance(value[0], Mapping):
        for index, item in enumerate(value, 1):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def record_table(doc: Mapping[str, Any]) -> Table:
    table = Table(title=f"{doc.get('type', 'record')} {doc['_id']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in flatten({k: v for k, v in doc.items() if k != "signature"}):
        table.add_row(key, value)
    if doc.get("_conflicts"):
        table.add_row(
            "[red]CONFLICT[/red]",
            "edited on another device too: " + ", ".join(doc["_conflicts"]),
        )
    if decision := decision_of(doc):
        table.add_row("[green]Office's decision[/green]", escape(_decision_text(decision)))
    return table


def _decision_text(decision: Decision) -> str:
    return f"{decision.reason} (by {decision.by}, {local_time(decision.at)})"


def _conflict_mark(doc: Mapping[str, Any], conflicted: Set[str]) -> str:
    if doc.get("_conflicts") or doc["_id"] in conflicted:
        return "open"
    return "decided" if decision_of(doc) else ""


# Columns holding an ISO time; shown in the device's own zone, to the minute.
_TIME_PATHS = frozenset({"created_at", "expected_at", "time_in", "time_out", "visit_time"})


def local_time(value: str) -> str:
    """``2026-12-04T00:00:00+00:00`` as ``2026-12-04 05:30`` on a device in India.

    Stored times are UTC; an officer reads the clock on the wall. A value that is
    not an ISO time is shown as it is rather than hidden.
    """
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:  # a naive time's zone is unknown: shown as stored
            return moment.astimezone().strftime("%Y-%m-%d %H:%M")
    return value


def record_list(
    record_type: str, docs: Sequence[Mapping[str, Any]], conflicted: Set[str] = frozenset()
) -> Table:
    """The list's table; ``conflicted``: ids of records in an undecided conflict."""
    table = Table(title=f"{len(docs)} {record_type.replace('_', ' ')} record(s)")
    table.add_column("Id", style="cyan", no_wrap=True)
    for title, path in _COLUMNS[record_type]:
        # A time split over two lines reads as two values; names may wrap instead.
        table.add_column(title, overflow="fold", no_wrap=path in _TIME_PATHS)
    # A conflict column only when a record has one: open, or decided by the office.
    marked = any(_conflict_mark(doc, conflicted) for doc in docs)
    if marked:
        table.add_column("Conflict", no_wrap=True)
    for doc in docs:
        cells = [
            local_time(_at(doc, path)) if path in _TIME_PATHS else _at(doc, path)
            for _, path in _COLUMNS[record_type]
        ]
        table.add_row(
            doc["_id"][:SHORT_ID], *cells, *([_conflict_mark(doc, conflicted)] if marked else [])
        )
    return table


def status_table(status: Status) -> Table:
    table = Table(title="BeatSync on this device", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row(
        "Officer", f"{status.officer_id} (station {status.station_id}, beat {status.beat_id})"
    )
    table.add_row("Device", status.device_id)
    table.add_row("Server", status.server_url or "not enrolled (sync disabled)")
    for record_type, count in status.records.items():
        table.add_row(f"{record_type.replace('_', ' ')} records", str(count))
    pending = status.pending_records
    table.add_row(
        "Waiting to sync",
        f"[yellow]{pending} record change(s)[/yellow]" if pending else "nothing",
    )
    table.add_row("Last successful sync", status.last_sync_at or "never")
    if status.conflicts:
        for conflict in status.conflicts:
            table.add_row(
                "[red]Conflict[/red]",
                f"{conflict.record_type} {conflict.record_id[:SHORT_ID]}: edited on another "
                f"device too ({len(conflict.others) + 1} versions)",
            )
    else:
        table.add_row("Conflicts", "none")
    for refused in status.refused:
        # The server's words, escaped: "[string, ...]" is not console markup.
        table.add_row(
            "[red]Refused by the server[/red]",
            escape(
                f"{refused.record_id[:SHORT_ID]} ({refused.error}): {refused.reason}"
                f" (at {refused.at}; offered again at every sync)"
            ),
        )
    return table


def sync_summary(report: SyncReport) -> str:
    """One line of console markup; the servers' words in it are escaped."""
    text = f"Synced: sent {report.pushed}, received {report.pulled} record(s)."
    if report.refused:
        reasons = "; ".join(f"{r.get('id')}: {r.get('reason')}" for r in report.refused[:5])
        text += f" The server refused {len(report.refused)}: {escape(reasons)}"
    for decided in report.decided:
        what = f"{decided['type'].replace('_', ' ')} {decided['id'][:SHORT_ID]}"
        text += f"\nThe office decided the conflict on {what}: " + escape(
            _decision_text(Decision(decided["at"], decided["by"], decided["reason"]))
        )
    return text


def problems_table(problems: Sequence[Problem]) -> Table:
    """Refused records: the line to fix, the field and the reason."""
    table = Table("Line", "Field", "Reason", title="Refused")
    for problem in problems:
        table.add_row(str(problem.line), problem.field or "(record)", problem.reason)
    return table
