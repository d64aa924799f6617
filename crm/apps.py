from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contactcenter.services.demo import register_demo_loader
        from crm import receivers
        from crm.services.demo import crm_demo_load
        from openlines import signals
        from openlines.services.routing import register_crm_responsible_resolver

        signals.session_created.connect(receivers.on_session_created, dispatch_uid="crm.recognize")
        signals.client_message_received.connect(receivers.on_client_message, dispatch_uid="crm.tracker")
        signals.agent_message_sent.connect(receivers.on_agent_message, dispatch_uid="crm.answered")
        signals.session_operator_changed.connect(receivers.on_operator_changed, dispatch_uid="crm.operator")
        signals.session_closed.connect(receivers.on_session_closed, dispatch_uid="crm.completed")
        signals.contact_form_filled.connect(receivers.on_contact_form_filled, dispatch_uid="crm.form")
        register_crm_responsible_resolver(receivers.crm_forward_resolver)
        register_demo_loader(crm_demo_load)

        from crm.selectors import client_email_for, crm_links_for_session
        from openlines.selectors import CLIENT_PANEL_PROVIDERS
        from openlines.services.transcripts import _email_resolvers, register_client_email_resolver

        if client_email_for not in _email_resolvers:
            register_client_email_resolver(client_email_for)  # the transcript goes to the record's e-mail
        if crm_links_for_session not in CLIENT_PANEL_PROVIDERS:
            # The workspace's client panel lists the records bound to the conversation.
            CLIENT_PANEL_PROVIDERS.append(crm_links_for_session)
