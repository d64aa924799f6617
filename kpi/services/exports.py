"""Export of the filtered chat list to CSV or XLSX: the same query and columns as the page.

Small lists are answered at once (CSV streams whatever its size); a large XLSX is written by a background
task into MEDIA_ROOT/exports while the page polls the job's progress.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import QueryDict
from django.utils.translation import gettext as _
from openpyxl import Workbook

from contactcenter.background import task_enqueue_fast
from contactcenter.text import export_value
from kpi.columns import COLUMNS_BY_KEY, NOT_EXPORTED, cell_export
from kpi.forms import ChatListFilterForm
from kpi.models import ChatExport
from kpi.selectors import chat_list_columns, session_list

AnyUser = AbstractBaseUser | AnonymousUser
FORMATS = ("csv", "xlsx")
PROGRESS_EVERY = 1000


def export_columns(*, user: AnyUser) -> list[str]:
    return [key for key in chat_list_columns(user=user) if key not in NOT_EXPORTED]


def export_rows(*, user: AnyUser, filters: dict[str, Any]) -> Iterator[list[Any]]:
    """The header, then one row per session of the filtered list (all pages), in the list's order."""
    keys = export_columns(user=user)
    columns = [COLUMNS_BY_KEY[key] for key in keys]
    yield [str(column.label) for column in columns]
    for session in session_list(user=user, filters=filters).iterator(chunk_size=2000):
        yield [cell_export(column, session) for column in columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(*, user: AnyUser, filters: dict[str, Any]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # lets spreadsheet programs read the file as UTF-8
    for row in export_rows(user=user, filters=filters):
        yield writer.writerow([csv_safe(export_value(value)) for value in row])


def csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ would run as a formula in spreadsheet programs (clients type these).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def xlsx_write(*, user: AnyUser, filters: dict[str, Any], target: Any, job: ChatExport | None = None) -> int:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Conversations")
    count = -1
    for count, row in enumerate(export_rows(user=user, filters=filters)):
        # Stored text may hold control characters (older versions, imports) that XLSX cannot: never a 500.
        sheet.append([csv_safe(export_value(value)) for value in row])
        if job is not None and count and count % PROGRESS_EVERY == 0:
            ChatExport.objects.filter(pk=job.pk).update(done=count)
    workbook.save(target)
    return max(count, 0)


def xlsx_bytes(*, user: AnyUser, filters: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    xlsx_write(user=user, filters=filters, target=buffer)
    return buffer.getvalue()


def filters_from_query(query: str) -> dict[str, Any]:
    return ChatListFilterForm(QueryDict(query)).filters()


def chat_export_start(*, user: AnyUser, export_format: str, query: str, total: int) -> ChatExport:
    job = ChatExport.objects.create(
        user_id=cast(int, user.pk), format=export_format, query=query[:4000], total=total
    )
    def refuse() -> None:
        # An export is asked for by someone waiting for it: failed visibly, never queued silently later.
        ChatExport.objects.filter(pk=job.pk, state=ChatExport.State.PENDING).update(
            state=ChatExport.State.FAILED,
            error=_("The background task queue could not be reached; start the export again later."),
        )

    task_enqueue_fast("kpi.tasks.chat_export_run", str(job.pk), on_failure=refuse)
    return job


def export_path(job: ChatExport) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / f"{job.pk}.{job.format}"


def chat_export_write(*, export_id: str) -> None:
    job = ChatExport.objects.get(pk=export_id)
    user = get_user_model().objects.get(pk=job.user_id)
    ChatExport.objects.filter(pk=job.pk).update(state=ChatExport.State.RUNNING)
    path = export_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    filters = filters_from_query(job.query)
    try:
        if job.format == "xlsx":
            done = xlsx_write(user=user, filters=filters, target=str(path), job=job)
        else:
            done = -1
            with path.open("w", encoding="utf-8", newline="") as handle:
                for done, chunk in enumerate(csv_stream(user=user, filters=filters)):
                    handle.write(chunk)
                    if done and done % PROGRESS_EVERY == 0:
                        ChatExport.objects.filter(pk=job.pk).update(done=done)
            done = max(done - 1, 0)  # minus the BOM and the header
        ChatExport.objects.filter(pk=job.pk).update(state=ChatExport.State.DONE, done=done, file=str(path))
    except Exception as exc:
        ChatExport.objects.filter(pk=job.pk).update(state=ChatExport.State.FAILED, error=str(exc)[:500])
        raise
