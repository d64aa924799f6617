"""Writes on open lines: create, update, queue, language of the texts, delete.

Callers validate first (`openlines.validation.parse_line_settings`); these functions store what they get.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction

from openlines.default_texts import default_text
from openlines.models import TEXT_FIELDS, OpenLine, QueueMember, default_language
from openlines.validation import QueueEntry


def line_retranslate_texts(*, line: OpenLine, old_language: str) -> list[str]:
    """Move the line's texts from `old_language` to its current language; returns the changed fields.

    Only texts that still equal the old language's default are replaced: a text the administrator wrote
    is theirs and stays as it is, whatever the language.
    """
    if old_language == line.language_id:
        return []
    changed = []
    for key, field in TEXT_FIELDS.items():
        if getattr(line, field) == default_text(key, old_language):
            setattr(line, field, default_text(key, line.language_id))
            changed.append(field)
    return changed


def line_save(
    *, line: OpenLine, old_language: str | None = None, by: AbstractBaseUser | AnonymousUser | None = None
) -> OpenLine:
    """Save a line edited in memory (e.g. by the admin form) with its audit fields and texts in its language.

    `old_language` is the language the texts were in before the edit; for a new line that is the site
    language its defaults were made in.
    """
    if old_language is None:
        old_language = default_language() if line._state.adding else line.language_id
    adding = line._state.adding
    line_retranslate_texts(line=line, old_language=old_language)
    if by is not None and by.is_authenticated:
        line.modified_by_id = by.pk
    line.save()
    if not adding:
        # A raised limit, another mode, availability no longer checked: clients waiting in the line's
        # queue may now have an agent.
        from openlines.services.routing import line_distribute

        transaction.on_commit(partial(line_distribute, line.pk))
    return line


def line_queue_set(*, line: OpenLine, entries: Sequence[QueueEntry]) -> list[QueueMember]:
    """Replace the line's queue with `entries`, in their order."""
    with transaction.atomic():
        line.queue.all().delete()
        return [
            QueueMember.objects.create(
                line=line,
                user=entry.get("user"),
                department=entry.get("department"),
                exclude_heads=bool(entry.get("exclude_heads")),
                display_name=entry.get("display_name") or "",
                work_position=entry.get("work_position") or "",
                sort=(position + 1) * 10,
            )
            for position, entry in enumerate(entries)
        ]


def _assign(line: OpenLine, values: Mapping[str, Any]) -> dict[str, list[int]]:
    many: dict[str, list[int]] = {}
    for name, value in values.items():
        if name == "queue":
            continue
        field = OpenLine._meta.get_field(name)
        if isinstance(field, models.ManyToManyField):
            many[name] = list(value)
        else:
            setattr(line, name, value)
    return many


@transaction.atomic
def line_create(
    *,
    values: Mapping[str, Any],
    queue: Sequence[QueueEntry] | None = None,
    by: AbstractBaseUser | None = None,
) -> OpenLine:
    """Create a line from validated values; texts not given come in the line's language."""
    line = OpenLine()
    many = _assign(line, values)
    if not line.line_name:
        from openlines.selectors import next_line_name

        line.line_name = next_line_name()
    line_save(line=line, old_language=default_language(), by=by)
    for name, ids in many.items():
        getattr(line, name).set(ids)
    if queue is not None:
        line_queue_set(line=line, entries=queue)
    return line


@transaction.atomic
def line_update(
    *,
    line: OpenLine,
    values: Mapping[str, Any],
    queue: Sequence[QueueEntry] | None = None,
    by: AbstractBaseUser | None = None,
) -> OpenLine:
    """Apply validated values (all or some settings) to a line."""
    old_language = line.language_id
    many = _assign(line, values)
    line_save(line=line, old_language=old_language, by=by)
    for name, ids in many.items():
        getattr(line, name).set(ids)
    if queue is not None:
        line_queue_set(line=line, entries=queue)
    return line


def line_delete(*, line: OpenLine) -> None:
    """Delete a line with its queue and its channels that have no clients. Raises ProtectedError when it
    has conversation history (its own, or of its channels' clients): that is never deleted as a side
    effect; the line is switched off instead."""
    line.delete()
