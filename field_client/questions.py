"""The CLI's questions: every field of a form, in the form's order, each answer
checked by the schema as it is given and asked again until it is right.

The fields, their order and the messages are the officer's app's
(:data:`field_client.ui.fields.FORMS`), and an answer is judged by building
the record from the answers so far and validating it (:func:`check`): an
answer is refused here exactly when the save, or the gateway, would refuse
it, but while the officer still has the person in front of them, not after
the last question.

A command given every required field as a flag asks nothing (scripts); once
it asks anything, or at a terminal, it asks every field, the optional ones
skipped with Enter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

import schemas
from field_client.records import MAX_PHOTO_BYTES, MAX_PHOTOS, Photo, now_stamp, photo_kind
from field_client.ui.fields import Field, Form, field_errors

__all__ = ["ask_form", "ask_neighbours", "ask_photos", "asking", "check", "photo_file"]

# The schema's cap on neighbours' statements.
MAX_NEIGHBOURS = 50

Errors = dict[str, tuple[str, dict[str, Any]]]


def check(form: Form, values: Mapping[str, str], extra: Mapping[str, Any] | None = None) -> Errors:
    """``{form field: (message, its values)}`` for the record these answers make.

    Fields not answered yet are reported too (as missing); a caller looks only
    at the fields it has asked. ``extra`` is merged into the record (a visit's
    neighbours' statements).
    """
    at = now_stamp()
    try:
        record = {**form.build(values, "officer", at), **(extra or {})}
        record.setdefault("schema_version", schemas.CURRENT_VERSIONS[form.record_type])
        schemas.validate(record)
    except schemas.RecordInvalid as exc:
        return field_errors(form, exc)
    return {}


def _sentence(problem: tuple[str, dict[str, Any]]) -> str:
    message, values = problem
    return message % values if values else message


def _prompt_text(spec: Field) -> str:
    if spec.kind == "datetime":
        return f"{spec.label} (like 2026-05-01 10:30; Enter for now)"
    hint = f"; {spec.hint[0].lower()}{spec.hint[1:].rstrip('.')}" if spec.hint else ""
    return f"{spec.label} (Enter to skip{hint})" if not spec.required else spec.label


def _prompt(spec: Field) -> str:
    options: dict[str, Any] = {"err": True}
    if spec.choices:
        options["type"] = click.Choice([value for value, _ in spec.choices])
    if not spec.required:
        options.update(default="", show_default=False)
    return str(click.prompt(_prompt_text(spec), **options)).strip()


def asking(form: Form, given: Mapping[str, Any]) -> bool:
    """Whether a command asks questions: at a terminal, or when a required field
    is not among the flags ``given``."""
    return sys.stdin.isatty() or any(
        spec.required and given.get(spec.name) in (None, "") for spec in form.fields
    )


def ask_form(
    form: Form, given: Mapping[str, str | None], fail: Callable[[str], Any]
) -> dict[str, str]:
    """The answers to ``form``: the flags ``given`` (checked, ``fail`` with the
    message when one is wrong), the rest asked one by one."""
    values = {name: str(value) for name, value in given.items() if value not in (None, "")}
    asked = asking(form, given)
    found = check(form, values)
    for spec in form.fields:  # the flags first: a wrong one is said before any question
        if spec.name in values and (problem := found.get(spec.name)):
            fail(f"--{spec.name.replace('_', '-')}: {_sentence(problem)}")
    for spec in form.fields:
        if spec.name in values or not asked:
            continue
        while True:
            answer = _prompt(spec)
            values[spec.name] = answer
            problem = check(form, values).get(spec.name)
            if problem is None:
                break
            click.echo(f"  {_sentence(problem)} Try again.", err=True)
        if not values[spec.name]:
            del values[spec.name]
    return values


def _until_empty(text: str) -> str:
    """One more of a list's items, or ``""`` when the officer presses Enter."""
    answer = click.prompt(
        f"{text} (Enter when there are no more)", default="", show_default=False, err=True
    )
    return str(answer).strip()


def ask_neighbours(form: Form, values: Mapping[str, str]) -> list[dict[str, str]]:
    """Neighbours' statements, one name and statement at a time, until an empty name."""
    rows: list[dict[str, str]] = []
    while len(rows) < MAX_NEIGHBOURS:
        name = _until_empty("Neighbour's name")
        if not name:
            break
        while True:
            statement = click.prompt(f"What {name} said", err=True).strip()
            row = {"name": name, "statement": statement}
            found = check(form, values, {"neighbours_statements": [*rows, row]})
            problem = found.get(f"neighbour_name_{len(rows) + 1}") or found.get(
                f"neighbour_statement_{len(rows) + 1}"
            )
            if problem is None:
                break
            click.echo(f"  {_sentence(problem)} Try again.", err=True)
        rows.append(row)
    return rows


def photo_file(path: Path) -> tuple[str, Photo] | str:
    """``(attachment name, photo)`` of a JPEG or PNG file, or why it cannot be attached."""
    if path.stat().st_size > MAX_PHOTO_BYTES:
        return f"{path.name} is too large: at most {MAX_PHOTO_BYTES // 1024} KB."
    data = path.read_bytes()
    kind = photo_kind(data)
    if kind is None:
        return f"{path.name} is not a JPEG or PNG picture."
    content_type, ext = kind
    return f"{path.stem}.{ext}", (content_type, data)


def ask_photos(already: Sequence[str] = ()) -> dict[str, Photo]:
    """Photo files, one path at a time, until an empty answer; each checked as given."""
    photos: dict[str, Photo] = {}
    while len(photos) + len(already) < MAX_PHOTOS:
        answer = _until_empty("Photo file to attach")
        if not answer:
            break
        path = Path(answer).expanduser()
        found = photo_file(path) if path.is_file() else f"There is no file {path}."
        if isinstance(found, str):
            click.echo(f"  {found} Try again.", err=True)
            continue
        name, photo = found
        while name in photos or name in already:
            name = f"{len(photos) + 1}-{name}"
        photos[name] = photo
    return photos
