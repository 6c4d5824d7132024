"""``beatsync complaint|visitor|visit|import``: recording on the device."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from field_client import forms, questions, render
from field_client.cli_support import (
    _CATEGORIES,
    _COMPLAINT_STATUSES,
    _ID_PROOFS,
    _RECOMMENDATIONS,
    _VISIT_KINDS,
    EXIT_ERROR,
    _app,
    _ask,
    _checked_passphrase,
    _fail,
    _from_json_option,
    _paging,
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
from field_client.records import RECORD_TYPES, Photo, now_stamp
from field_client.register_rows import EXAMPLES
from field_client.ui.fields import FORMS, Form

# The replica is imported by the commands that open it, so that `beatsync
# --help` loads neither SQLite nor aiohttp (see tests/test_command_start.py).
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
    "--incident-time",
    help="When it happened, e.g. '2026-05-01 10:30' (this device's time zone); default now.",
)
@click.option("--gps", help="Where it happened as latitude,longitude.")
@_from_json_option
def complaint_new(from_json: str | None, **fields: Any) -> None:
    """Record a new complaint: asks for every field not given as an option,
    checking each answer as it is given (optional ones: Enter to skip).

    \b
    Examples:
      beatsync complaint new
      beatsync complaint new --name "Ram Kumar" --phone 9876543210 \\
        --address "Kankarbagh, Patna" --category theft \\
        --description "Phone snatched." --place "Mithapur bus stand"
    """
    if from_json:
        _save({"type": "complaint", **_read_json(from_json)})
        return
    _save_form(FORMS["complaint"], _answers(FORMS["complaint"], fields))


def _answers(form: Form, given: Mapping[str, Any]) -> dict[str, str]:
    return questions.ask_form(form, given, _fail)


def _save_form(
    form: Form,
    values: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
    photos: Mapping[str, Photo] | None = None,
) -> None:
    """Build the record from the answers as the officer's app does, then save it."""

    async def work(replica: FieldReplica) -> tuple[str, str]:
        record = {**form.build(values, replica.settings.officer_id, now_stamp()), **(extra or {})}
        return await replica.save_record(record, photos=photos)

    _saved(form.record_type, _with_replica(work))


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
    """Register a visitor coming in (time in is now): asks for every field not
    given as an option, checking each answer as it is given."""
    if from_json:
        _save({"type": "visitor_entry", **_read_json(from_json)})
        return
    _save_form(FORMS["visitor_entry"], _answers(FORMS["visitor_entry"], fields))


@visitor.command("out")
@click.argument("record_id")
def visitor_out(record_id: str) -> None:
    """Mark visitor RECORD_ID as gone (time out is now)."""

    async def work(replica: FieldReplica) -> tuple[str, str]:
        old = await _resolve(replica, record_id, "visitor_entry")
        return await replica.save_record(forms.visitor_out(old, at=now_stamp()))

    _saved("visitor_entry", _with_replica(work))


@visitor.command("checkin")
@click.argument("record_id")
def visitor_checkin(record_id: str) -> None:
    """Check in visitor RECORD_ID, announced on the portal (time in is now)."""

    async def work(replica: FieldReplica) -> tuple[str, str]:
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
    """Record a verification visit made now: asks for every field not given as
    an option, then the neighbours' statements and the photos, checking each
    answer as it is given."""
    attached = dict(_photo_flag(path) for path in photos)
    if from_json:
        _save({"type": "verification_visit", **_read_json(from_json)}, attached)
        return
    form = FORMS["verification_visit"]
    statements = []
    for item in neighbours:
        name, sep, statement = item.partition("=")
        if not sep:
            _fail("--neighbour takes NAME=STATEMENT")
        statements.append({"name": name.strip(), "statement": statement.strip()})
    values = _answers(form, fields)
    if questions.asking(form, fields):
        statements = statements or questions.ask_neighbours(form, values)
        attached = attached or questions.ask_photos()
    _save_form(form, values, {"neighbours_statements": statements}, attached)


def _photo_flag(path: Path) -> tuple[str, Photo]:
    found = questions.photo_file(path)
    if isinstance(found, str):
        _fail(f"--photo: {found}")
    return found


@visit.command("list")
@_paging
def visit_list(limit: int, show_all: bool) -> None:
    """List the verification visits on this device (the first 50 unless --limit or --all)."""
    _show_list("verification_visit", limit=None if show_all else limit)


# -- import ------------------------------------------------------------------------

# Refusals shown on screen; --errors FILE has them all.
_SHOWN_PROBLEMS = 20


@cli.command("import")
@click.argument("file", type=click.File("rb"), required=False)
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
@click.option(
    "--example",
    type=click.Choice(RECORD_TYPES),
    help="Print a complete example line of this type (start your file from it) and stop.",
)
def import_(
    file: Any, record_type: str | None, errors_file: Path | None, dry_run: bool, example: str | None
) -> None:
    """Move an existing register into this device: the records of FILE are
    checked, signed and stored encrypted, like records typed in one by one.

    FILE holds one record per line, each a JSON object (JSON Lines; a
    spreadsheet can save it), or one JSON array of them; '-' reads standard
    input. A line uses the names `beatsync complaint new`, `visitor in` and
    `visit record` ask for (see their --help; dashes or underscores), plus
    "type" (complaint, visitor_entry or verification_visit; or give --type):

    \b
      complaint:          name phone address category description place
                          incident_time gps
      visitor_entry:      name phone purpose to_meet id_type id_last4
      verification_visit: kind name father_name phone address findings
                          recommendation gps neighbours_statements

    Optional ones may be left out. What a record typed in gets is filled in
    when the line does not say it: station, beat, officer; a complaint's
    status (registered) and action log; the incident time, time in or
    visit time (the line's "created_at" when it has one, so an old register
    keeps its dates, else now). The schema's own shape (what --from-json
    takes) is accepted too. A wrong name is refused with the name to use.

    A wrong record does not stop the others: the refused ones are listed at
    the end with their line, field and reason (exit code 1). Fix those lines
    and run the same import again: records already imported are skipped, never
    stored twice. Start with --dry-run to check a file without storing anything.

    \b
    Examples:
      beatsync import --example complaint > register.jsonl
      beatsync import --dry-run register.jsonl
      beatsync import --type visitor_entry --errors refused.jsonl visitors.json
    """
    if example is not None:
        click.echo(EXAMPLES[example])
        return
    if file is None:
        raise click.UsageError("Give the FILE to import ('-' for standard input), or --example.")
    app, name = _app(), Path(getattr(file, "name", "FILE")).name
    passphrase = _checked_passphrase()  # asked before the progress bar takes the terminal
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
