"""django-q2 entry points of the messenger connectors."""

from __future__ import annotations

from contactcenter.services.webhooks import webhook_event_process

__all__ = ["webhook_event_process"]
