"""``beatsync complaint|visitor|visit|import``: recording on the device."""

from __future__ import annotations

import mimetypes
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from field_client import render
from field_client.cli_support import (
    _CATEGORIES,
    _COMPLAINT_STATUSES,
    _ID_PROOFS,
    _RECOMMENDATIONS,
    _VISIT_KINDS,
    EXIT_ERROR,
    _app,
    _ask,
    _ask_optional,
    _fail,
    _from_json_option,
    _paging,
    _passphrase,
    _progress_bar,
    _read_json,
    _resolve,
    _save,
    _saved,
    _show_list,
    _with_replica,
    cli,
)
from field_client.importing import BadRegister, Imported, import_register
from field_client.records import RECORD_TYPES, now_stamp

# forms and the replica are imported by the commands that use them, so that
# `beatsync --help` loads neither (see field_client.cli).
if TYPE_CHECKING:
    from field_client.replica import FieldReplica

# -- complaints ------------------------------------------------------------------


@cli.group()
def complaint() -> None:
    """Record, update, show and list complaints."""


@complaint.command("new")
@click.option("--name", help="Complainant's name.")
@click.option("--phone", help="Complainant's mobile number (10 digits).")
@click.option("--address", help="Complainant's address.")
@click.option("--category", type=click.Choice(_CATEGORIES), help="What kind of complaint.")
@click.option("--description", help="What happened, in the complainant's words.")
@click.option("--place", help="Where it happened.")
@click.option(
    "--incident-time", help="When it happened (e.g. 2024-05-01T10:30:00+05:30); default now."
)
@click.option("--gps", help="Where it happened as latitude,longitude.")
@_from_json_option
def complaint_new(from_json: str | None, **fields: Any) -> None:
    """Record a new complaint (asks for anything not given as an option)."""
    from field_client import forms

    if from_json:
        _save({"type": "complaint", **_read_json(from_json)})
        return
    at = now_stamp()
    record = forms.complaint(
        name=_ask(fields["name"], "Complainant's name"),
        phone=_ask_optional(fields["phone"], "Complainant's mobile number"),
        address=_ask(fields["address"], "Complainant's address"),
        category=_ask(fields["category"], "Category", type=click.Choice(_CATEGORIES)),
        description=_ask(fields["description"], "What happened"),
        place=_ask(fields["place"], "Where it happened"),
        incident_time=fields["incident_time"] or at,
        gps=_parse_gps(fields["gps"]),
        officer_id="",  # filled below, once the replica (and so the officer) is known
        at=at,
    )

    async def work(replica: FieldReplica) -> tuple[str, str]:
        record["action_log"][0]["by"] = replica.settings.officer_id
        return await replica.save_record(record)

    _saved("complaint", _with_replica(work))


def _parse_gps(text: str | None) -> dict[str, float] | None:
    from field_client import forms

    try:
        return forms.parse_gps(text)
    except ValueError as exc:
        _fail(str(exc))


@complaint.command("update")
@click.argument("record_id")
@click.option("--status", type=click.Choice(_COMPLAINT_STATUSES), help="New status.")
@click.option("--note", help="A note for the action log.")
@click.option("--assign", help="Officer id to assign the complaint to.")
@click.option("--fir-number", help="FIR number, when converted to an FIR.")
@_from_json_option
def complaint_update(
    record_id: str,
    status: str | None,
    note: str | None,
    assign: str | None,
    fir_number: str | None,
    from_json: str | None,
) -> None:
    """Update complaint RECORD_ID (its first 8 characters are enough).

    Every change is written to the complaint's action log.
    """
    changes = _read_json(from_json) if from_json else None
    if changes is None and not (status or note or assign or fir_number):
        note = _ask(None, "Note to add to the action log")

    async def work(replica: FieldReplica) -> tuple[str, str]:
        from field_client import forms

        old = await _resolve(replica, record_id, "complaint")
        if changes is not None:
            new = {**old, **changes, "_id": old["_id"], "_rev": old["_rev"]}
        else:
            new = forms.complaint_update(
                old,
                status=status,
                note=note,
                assign=assign,
                fir_number=fir_number,
                officer_id=replica.settings.officer_id,
                at=now_stamp(),
            )
        return await replica.save_record(new)

    _saved("complaint", _with_replica(work))


def _show(record_id: str, record_type: str) -> None:
    async def work(replica: FieldReplica) -> dict[str, Any]:
        return await _resolve(replica, record_id, record_type)

    doc, app = _with_replica(work), _app()
    if app.as_json:
        render.emit_json(app.out, doc)
    else:
        app.out.print(render.record_table(doc))


@complaint.command("show")
@click.argument("record_id")
def complaint_show(record_id: str) -> None:
    """Show every field of complaint RECORD_ID, and whether it is in conflict."""
    _show(record_id, "complaint")


@complaint.command("list")
@click.option("--status", type=click.Choice(_COMPLAINT_STATUSES), help="Only this status.")
@_paging
def complaint_list(status: str | None, limit: int, show_all: bool) -> None:
    """List the complaints on this device (the first 50 unless --limit or --all)."""
    _show_list(
        "complaint",
        lambda d: status is None or d.get("status") == status,
        None if show_all else limit,
    )


# -- visitors --------------------------------------------------------------------


@cli.group()
def visitor() -> None:
    """The station visitor register: who came in, who left."""


@visitor.command("in")
@click.option("--name", help="Visitor's name.")
@click.option("--phone", help="Visitor's mobile number.")
@click.option("--purpose", help="Why they came.")
@click.option("--to-meet", "whom_to_meet", help="Whom they came to meet.")
@click.option(
    "--id-type",
    type=click.Choice(_ID_PROOFS),
    help="Identity document shown.",
)
@click.option("--id-last4", help="Only the LAST 4 characters of the document number.")
@_from_json_option
def visitor_in(from_json: str | None, **fields: Any) -> None:
    """Register a visitor coming in (time in is now)."""
    from field_client import forms

    if from_json:
        _save({"type": "visitor_entry", **_read_json(from_json)})
        return
    _save(
        forms.visitor_in(
            name=_ask(fields["name"], "Visitor's name"),
            phone=_ask_optional(fields["phone"], "Visitor's mobile number"),
            purpose=_ask(fields["purpose"], "Purpose of the visit"),
            whom_to_meet=_ask(fields["whom_to_meet"], "Whom they came to meet"),
            id_type=fields["id_type"],
            id_last4=fields["id_last4"],
            at=now_stamp(),
        )
    )


@visitor.command("out")
@click.argument("record_id")
def visitor_out(record_id: str) -> None:
    """Mark visitor RECORD_ID as gone (time out is now)."""

    async def work(replica: FieldReplica) -> tuple[str, str]:
        from field_client import forms

        old = await _resolve(replica, record_id, "visitor_entry")
        return await replica.save_record(forms.visitor_out(old, at=now_stamp()))

    _saved("visitor_entry", _with_replica(work))


@visitor.command("checkin")
@click.argument("record_id")
def visitor_checkin(record_id: str) -> None:
    """Check in visitor RECORD_ID, announced on the portal (time in is now)."""

    async def work(replica: FieldReplica) -> tuple[str, str]:
        from field_client import forms

        old = await _resolve(replica, record_id, "visitor_entry")
        if "time_in" in old:
            raise click.ClickException("This visitor is already checked in.")
        return await replica.save_record(forms.visitor_checkin(old, at=now_stamp()))

    _saved("visitor_entry", _with_replica(work))


def _register_filter(inside: bool, expected: bool) -> Callable[[Mapping[str, Any]], bool]:
    def keep(doc: Mapping[str, Any]) -> bool:
        if expected:
            return "time_in" not in doc
        return not inside or ("time_in" in doc and "time_out" not in doc)

    return keep


@visitor.command("list")
@click.option("--inside", is_flag=True, help="Only visitors who came in and have not left.")
@click.option("--expected", is_flag=True, help="Only visitors announced on the portal, not yet in.")
@_paging
def visitor_list(inside: bool, expected: bool, limit: int, show_all: bool) -> None:
    """List the visitor register on this device (the first 50 unless --limit or --all)."""
    _show_list("visitor_entry", _register_filter(inside, expected), None if show_all else limit)


# -- verification visits -----------------------------------------------------------


@cli.group()
def visit() -> None:
    """Verification visits (passport, character, tenant, domestic help, employee)."""


@visit.command("record")
@click.option(
    "--kind",
    type=click.Choice(_VISIT_KINDS),
    help="What is being verified.",
)
@click.option("--name", help="The person verified.")
@click.option("--father-name", help="Their father's name.")
@click.option("--phone", help="Their mobile number.")
@click.option("--address", help="The address visited.")
@click.option("--findings", help="What you found.")
@click.option(
    "--recommendation",
    type=click.Choice(_RECOMMENDATIONS),
    help="Your recommendation.",
)
@click.option(
    "--neighbour",
    "neighbours",
    multiple=True,
    metavar="NAME=STATEMENT",
    help="A neighbour's statement (repeatable).",
)
@click.option("--gps", help="Where you are, as latitude,longitude.")
@click.option(
    "--photo",
    "photos",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A photo file to attach, kept encrypted (repeatable).",
)
@_from_json_option
def visit_record(
    from_json: str | None, neighbours: tuple[str, ...], photos: tuple[Path, ...], **fields: Any
) -> None:
    """Record a verification visit made now."""
    from field_client import forms

    attached = {
        path.name: (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            path.read_bytes(),
        )
        for path in photos
    }
    if from_json:
        _save({"type": "verification_visit", **_read_json(from_json)}, attached)
        return
    statements = []
    for item in neighbours:
        name, sep, statement = item.partition("=")
        if not sep:
            _fail("--neighbour takes NAME=STATEMENT")
        statements.append({"name": name.strip(), "statement": statement.strip()})
    _save(
        forms.visit(
            kind=_ask(
                fields["kind"],
                "Kind of verification",
                type=click.Choice(_VISIT_KINDS),
            ),
            name=_ask(fields["name"], "Name of the person verified"),
            father_name=_ask_optional(fields["father_name"], "Father's name"),
            phone=_ask_optional(fields["phone"], "Their mobile number"),
            address=_ask(fields["address"], "Address visited"),
            findings=_ask(fields["findings"], "Findings"),
            recommendation=_ask(
                fields["recommendation"],
                "Recommendation",
                type=click.Choice(_RECOMMENDATIONS),
            ),
            gps=_parse_gps(fields["gps"]),
            neighbours=statements,
            at=now_stamp(),
        )
    )


@visit.command("list")
@_paging
def visit_list(limit: int, show_all: bool) -> None:
    """List the verification visits on this device (the first 50 unless --limit or --all)."""
    _show_list("verification_visit", limit=None if show_all else limit)


# -- import ------------------------------------------------------------------------

# Refusals shown on screen; --errors FILE has them all.
_SHOWN_PROBLEMS = 20


@cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--type",
    "record_type",
    type=click.Choice(RECORD_TYPES),
    help='The type of the records in FILE that do not say their own "type".',
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every refusal to this file, one JSON object a line (line, field, reason).",
)
@click.option("--dry-run", is_flag=True, help="Check every record and report; store nothing.")
def import_(file: Any, record_type: str | None, errors_file: Path | None, dry_run: bool) -> None:
    """Move an existing register into this device: the records of FILE are
    checked, signed and stored encrypted, like records typed in one by one.

    FILE holds JSON records, one per line (JSON Lines), or one JSON array of
    them; '-' reads standard input. Give --type when the records have no
    "type" field (complaint, visitor_entry or verification_visit). Station,
    beat, officer and times are filled in as for any record.

    A wrong record does not stop the others: the refused ones are listed at
    the end with their line, field and reason (exit code 1). Fix those lines
    and run the same import again: records already imported are skipped, never
    stored twice. Start with --dry-run to check a file without storing anything.

    \b
    Examples:
      beatsync import --dry-run register.jsonl
      beatsync import --type visitor_entry --errors refused.jsonl visitors.json
    """
    app, name = _app(), Path(getattr(file, "name", "FILE")).name
    passphrase = _passphrase()  # asked before the progress bar takes the terminal
    data = file.read()
    with _progress_bar(app) as bar:
        task = bar.add_task("Checking " if dry_run else "Importing", total=None)

        async def work(replica: FieldReplica) -> Imported:
            try:
                return await import_register(
                    replica,
                    data,
                    record_type=record_type,
                    dry_run=dry_run,
                    on_progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except BadRegister as exc:
                raise BadRegister(f"{name}: {exc.reason}. Nothing was imported.") from None

        result = _with_replica(work, passphrase)
    if errors_file is not None:
        errors_file.write_bytes(
            b"".join(orjson.dumps(p.as_json()) + b"\n" for p in result.problems)
        )
    _import_summary(name, result, dry_run=dry_run, errors_file=errors_file)
    if result.problems:
        sys.exit(EXIT_ERROR)


def _import_summary(
    name: str, result: Imported, *, dry_run: bool, errors_file: Path | None
) -> None:
    app, problems = _app(), result.problems
    if app.as_json:
        render.emit_json(
            app.out,
            {
                "ok": not problems,
                "dry_run": dry_run,
                "total": result.total,
                "imported": result.imported,
                "already_imported": result.already_imported,
                "refused": result.refused,
                "errors": [p.as_json() for p in problems],
            },
        )
        return
    verb = "would be imported (dry run: nothing was stored)" if dry_run else "imported"
    app.out.print(
        f"{name}: {result.imported} record(s) {verb};"
        f" already imported: {result.already_imported}; refused: {result.refused}.",
        highlight=False,
    )
    if not problems:
        return
    app.out.print(render.problems_table(problems[:_SHOWN_PROBLEMS]))
    if len(problems) > _SHOWN_PROBLEMS:
        where = f"all are in {errors_file}" if errors_file else "--errors FILE lists them all"
        app.out.print(f"... and {len(problems) - _SHOWN_PROBLEMS} more ({where}).")
    app.out.print(
        "Fix those lines and run the same import again: records already imported are skipped."
    )
