"""django-q2 entry points of the open lines engine."""

from __future__ import annotations

from openlines.services.bots import bot_webhook_post
from openlines.services.delivery import message_send
from openlines.services.transcripts import transcript_mail_send

__all__ = ["bot_webhook_post", "message_send", "transcript_mail_send"]
