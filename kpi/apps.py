from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpiConfig(AppConfig):
    name = "kpi"
    verbose_name = _("Quality and KPI")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contactcenter.services.demo import register_demo_history_loader
        from contactcenter.signals import availability_changed
        from kpi import (
            receivers,
            timers,  # noqa: F401  (registers the overdue check)
        )
        from kpi.demo import kpi_demo_history_load
        from openlines import signals

        register_demo_history_loader(kpi_demo_history_load)

        signals.session_created.connect(receivers.on_session_created, dispatch_uid="kpi.session_created")
        signals.client_message_received.connect(
            receivers.on_client_message, dispatch_uid="kpi.client_message"
        )
        signals.agent_message_sent.connect(receivers.on_agent_message, dispatch_uid="kpi.agent_message")
        signals.session_operator_changed.connect(receivers.on_operator_changed, dispatch_uid="kpi.operator")
        signals.session_closed.connect(receivers.on_session_closed, dispatch_uid="kpi.closed")
        availability_changed.connect(receivers.on_availability_changed, dispatch_uid="kpi.availability")
