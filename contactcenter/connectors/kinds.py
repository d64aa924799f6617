"""The kinds of communication channel a line can be connected to, and what each needs.

A *messenger account* kind connects one account on an external platform (a Telegram bot, a WhatsApp
phone number, a Facebook page, ...); such an account may feed only one line, which the database
enforces on (kind, account_id). The kinds' webhooks and senders come with the connectors issue; here
they declare only what the registry and its forms need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ConnectorKind(models.TextChoices):
    LIVECHAT = "livechat", _("Live chat")
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    VIBER = "viber", _("Viber")
    MESSENGER = "messenger", _("Facebook Messenger")
    INSTAGRAM = "instagram", _("Instagram Direct")
    REST = "rest", _("REST connector")

    @property
    def spec(self) -> KindSpec:
        return KIND_SPECS[self]


@dataclass(frozen=True)
class SecretField:
    """One credential of a kind; its value is stored but never shown again."""

    name: str
    label: StrOrPromise
    help_text: StrOrPromise


@dataclass(frozen=True)
class KindSpec:
    icon_letter: str
    color: str
    description: StrOrPromise
    is_messenger_account: bool
    account_label: StrOrPromise | None = None
    account_help: StrOrPromise | None = None
    secret_fields: tuple[SecretField, ...] = ()

    @property
    def has_account(self) -> bool:
        return self.account_label is not None


_APP_SECRET = SecretField(
    "app_secret", _("App secret"), _("From the Meta app settings; verifies the signature of webhooks.")
)

KIND_SPECS: dict[ConnectorKind, KindSpec] = {
    ConnectorKind.LIVECHAT: KindSpec(
        icon_letter="L",
        color="#2fc6f6",
        description=_("A chat widget on your website."),
        is_messenger_account=False,
    ),
    ConnectorKind.TELEGRAM: KindSpec(
        icon_letter="T",
        color="#229ed9",
        description=_("Messages to your Telegram bot."),
        is_messenger_account=True,
        account_label=_("Bot ID"),
        account_help=_("The number before the colon in the bot token; filled in from the token if empty."),
        secret_fields=(SecretField("bot_token", _("Bot token"), _("The token @BotFather gave you.")),),
    ),
    ConnectorKind.WHATSAPP: KindSpec(
        icon_letter="W",
        color="#25d366",
        description=_("WhatsApp Business through the WhatsApp Cloud API."),
        is_messenger_account=True,
        account_label=_("Phone number ID"),
        account_help=_("The phone number ID from the WhatsApp Business account (not the phone number)."),
        secret_fields=(
            SecretField("access_token", _("Access token"), _("A permanent system-user access token.")),
            _APP_SECRET,
            SecretField(
                "business_account_id",
                _("WhatsApp Business account ID"),
                _("The WABA ID our app subscribes to, from WhatsApp Manager."),
            ),
        ),
    ),
    ConnectorKind.VIBER: KindSpec(
        icon_letter="V",
        color="#7360f2",
        description=_("Messages to your Viber bot."),
        is_messenger_account=True,
        account_label=_("Bot URI"),
        account_help=_("The bot's URI from the Viber admin panel."),
        secret_fields=(SecretField("auth_token", _("Authentication token"), _("The bot's token.")),),
    ),
    ConnectorKind.MESSENGER: KindSpec(
        icon_letter="M",
        color="#0084ff",
        description=_("Messages to your Facebook page."),
        is_messenger_account=True,
        account_label=_("Page ID"),
        account_help=_("The numeric ID of the Facebook page."),
        secret_fields=(
            SecretField("page_access_token", _("Page access token"), _("A page access token for the page.")),
            _APP_SECRET,
        ),
    ),
    ConnectorKind.INSTAGRAM: KindSpec(
        icon_letter="I",
        color="#e1306c",
        description=_("Direct messages to your Instagram professional account."),
        is_messenger_account=True,
        account_label=_("Instagram account ID"),
        account_help=_("The numeric ID of the Instagram professional account."),
        secret_fields=(
            SecretField("access_token", _("Access token"), _("An access token for the account.")),
            _APP_SECRET,
        ),
    ),
    ConnectorKind.REST: KindSpec(
        icon_letter="R",
        color="#6b7280",
        description=_("Your own system sends and receives messages through our REST API."),
        is_messenger_account=False,
        account_label=_("External system ID"),
        account_help=_("Optional: an identifier of the connected system; unique across REST connectors."),
    ),
}
