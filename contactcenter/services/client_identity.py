"""Who wrote an inbound messenger message: one client per person, with a readable name.

- WhatsApp knows a person by the phone's `wa_id` and (since 2026) a business-scoped user id (BSUID); a
  payload may carry either or both. The client is found by either id (`external_id` or `alias_id`) and
  the id it was not created with is kept as its `alias_id`, so one person stays one client and one chat.
- Messenger and Instagram webhooks carry no name: the profile is looked up through the Graph API in a
  background task after the message is stored (never delaying it), cached on the client and refreshed
  after `PROFILE_FRESH`; a failed lookup is tried again on a later message after `PROFILE_RETRY`.
- Until a name is known the client is called e.g. "Facebook Messenger user 1234", never nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from contactcenter.background import task_enqueue_fast
from contactcenter.connectors.adapters.base import ChannelApiError, InboundMessage
from contactcenter.connectors.channels import adapter_for, credentials_for
from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from openlines.services.events import event_publish
from openlines.session_models import Chat, Client, Session

logger = logging.getLogger(__name__)

PROFILE_TASK = "contactcenter.connectors.tasks.client_profile_refresh"
PROFILE_KINDS = ("messenger", "instagram")
PROFILE_FRESH = timedelta(days=7)
PROFILE_RETRY = timedelta(hours=1)
# Kinds whose clients may come under a second id (`InboundMessage.sender_alias`).
ALIAS_KINDS = ("whatsapp",)
_URL_MAX = 1000


def client_identity(*, connector: Connector, inbound: InboundMessage) -> tuple[str, str]:
    """The client id and chat id to store `inbound` under: those of the client already known by any of
    the sender's ids (and its chat on this line), else the message's own."""
    if connector.kind not in ALIAS_KINDS:
        return inbound.sender_id, inbound.chat_id
    ids = [value for value in (inbound.sender_id, inbound.sender_alias) if value]
    known = (
        Client.objects.filter(connector=connector)
        .filter(Q(external_id__in=ids) | Q(alias_id__in=ids))
        .order_by("pk")
        .values_list("pk", "external_id", "alias_id")
        .first()
    )
    if known is None:
        return inbound.sender_id, inbound.chat_id
    pk, external_id, alias_id = known
    other = next((value for value in ids if value != external_id), "")
    if other and not alias_id:
        Client.objects.filter(pk=pk, alias_id="").update(alias_id=other[:255])
    chat_id = (
        Chat.objects.filter(client_id=pk, line_id=connector.line_id)
        .order_by("-pk")
        .values_list("external_chat_id", flat=True)
        .first()
    )
    return external_id, chat_id or inbound.chat_id


def client_fallback_name(*, connector: Connector, external_id: str) -> str:
    """A readable name for a client whose platform gave none, e.g. "Facebook Messenger user 1234"."""
    try:
        channel = str(ConnectorKind(connector.kind).label)
    except ValueError:
        channel = connector.kind
    return (_("%(channel)s user %(id)s") % {"channel": channel, "id": external_id[-4:]})[:255]


def _stamp(value: object) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def client_profile_request(*, connector: Connector, client: Client) -> None:
    """Queue a profile lookup (after the commit) when the client's cached profile is missing or old."""
    if connector.kind not in PROFILE_KINDS:
        return
    now = timezone.now()
    fetched = _stamp(client.extra.get("profile_fetched_at"))
    tried = _stamp(client.extra.get("profile_tried_at"))
    if fetched is not None and now - fetched < PROFILE_FRESH:
        return
    if tried is not None and now - tried < PROFILE_RETRY:
        return
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.extra.get("profile_tried_at") != client.extra.get("profile_tried_at"):
            return  # another message of the client queued it meanwhile
        locked.extra = {**locked.extra, "profile_tried_at": now.isoformat()}
        locked.save(update_fields=["extra"])
        # Best effort: a lost push is tried again with the client's next message after PROFILE_RETRY.
        task_enqueue_fast(PROFILE_TASK, client.pk)


def client_profile_refresh(client_id: int) -> None:
    """Task body: fetch the client's profile and store it; a failure is logged and tried again later."""
    client = Client.objects.select_related("connector").filter(pk=client_id).first()
    if client is None:
        return
    connector = client.connector
    try:
        profile = adapter_for(connector).fetch_profile(credentials_for(connector), client.external_id)
    except ChannelApiError as exc:
        logger.warning("profile of client %s not fetched: %s", client.pk, exc.error.code)
        return
    if profile is None:
        return
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client_id)
        # Only a name we gave (the fallback, or an earlier profile's) is replaced, never one set by hand.
        ours = {"", client_fallback_name(connector=connector, external_id=client.external_id)}
        ours.add(str(client.extra.get("profile_name", "")))
        fields = ["extra"]
        if profile.name and client.name in ours:
            client.name = profile.name[:255]
            fields.append("name")
        if profile.avatar_url and len(profile.avatar_url) <= _URL_MAX:
            client.avatar_url = profile.avatar_url
            fields.append("avatar_url")
        if profile.profile_url and len(profile.profile_url) <= _URL_MAX:
            client.profile_url = profile.profile_url
            fields.append("profile_url")
        client.extra = {
            **client.extra,
            "profile_fetched_at": timezone.now().isoformat(),
            "profile_name": profile.name or "",
            **({"username": profile.username} if profile.username else {}),
        }
        client.save(update_fields=fields)
        session = Session.objects.filter(chat__client=client).order_by("-id").first()
        if session is not None and "name" in fields:
            event_publish(
                type="client.update",
                session=session,
                payload={"client_id": client.pk, "name": client.name},
            )
