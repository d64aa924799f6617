"""django-q2 entry points of the KPI app."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils.translation import gettext as _


def kpi_overdue_mail_send(user_ids: list[int], text: str) -> int:
    """E-mail a late-answer notification to those of `user_ids` who have an address."""
    addresses = [
        email
        for email in get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .values_list("email", flat=True)
        if email
    ]
    if not addresses:
        return 0
    return send_mail(
        subject=_("Response time exceeded"),
        message=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=addresses,
    )


def kpi_overdue_mails_send(mails: list[tuple[list[int], str]]) -> int:
    """One task per batch of late-answer notifications (see kpi.services.clocks)."""
    return sum(kpi_overdue_mail_send(user_ids, text) for user_ids, text in mails)


def chat_export_run(export_id: str) -> None:
    from kpi.services.exports import chat_export_write

    chat_export_write(export_id=export_id)
