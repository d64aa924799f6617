from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactCenterConfig(AppConfig):
    name = "contactcenter"
    verbose_name = _("Contact center")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their registrations: the leave and presence timers, the deploy checks.
        from contactcenter import checks, leave_timer, presence_timer  # noqa: F401
        from contactcenter.connectors.selectors import line_connector_names
        from contactcenter.services import (
            inbound_media,  # noqa: F401  (the media download retry timer)
            messenger_outbound,  # noqa: F401  (messenger senders, retry timer)
        )
        from openlines.selectors import CHANNEL_PROVIDERS

        if line_connector_names not in CHANNEL_PROVIDERS:
            CHANNEL_PROVIDERS.append(line_connector_names)
        from contactcenter.connectors import rest  # noqa: F401  (registers the REST connector's sender)
        from contactcenter.services import outbound  # noqa: F401  (registers the outbound retry timer)
        from contactcenter.socket_access import socket_access_connect

        socket_access_connect()
