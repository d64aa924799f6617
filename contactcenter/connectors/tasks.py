"""django-q2 entry points of the messenger connectors."""

from __future__ import annotations

from contactcenter.services.client_identity import client_profile_refresh
from contactcenter.services.inbound_media import media_download_retry
from contactcenter.services.webhooks import webhook_event_process

__all__ = ["client_profile_refresh", "media_download_retry", "webhook_event_process"]
