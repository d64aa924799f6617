"""Writes on consent agreements: an edit is a new version, never a change of what a client accepted."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from openlines.models import Agreement, OpenLine
from openlines.session_models import Client


@transaction.atomic
def agreement_revise(*, agreement: Agreement) -> Agreement:
    """Store an edited agreement (changed in memory) as its next version, if its title or text changed.

    The stored row keeps the old wording for the consents already given; lines that used it move to the
    new version. Returns the row now in effect (`agreement` itself, saved as the new version).
    """
    if agreement.pk is None:
        agreement.save()
        return agreement
    stored = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if (stored.title, stored.text) == (agreement.title, agreement.text):
        return stored
    agreement.pk = None
    agreement._state.adding = True
    agreement.version = stored.version + 1
    agreement.previous = stored
    agreement.save()
    OpenLine.objects.filter(agreement=stored).update(agreement=agreement)
    return agreement


# --- Consent of a client (reference §1.5 "Agreement") -----------------------------------------------------

CONSENT_SALT = "openlines.agreement.consent"


def agreement_path(*, line: OpenLine, client: Client | None = None) -> str:
    """The public page showing the line's agreement; with `client`, personal (it can record their consent)."""
    path = reverse("livechat:agreement", kwargs={"code": line.code})
    if client is None:
        return path
    return f"{path}?{urlencode({'c': signing.dumps(client.pk, salt=CONSENT_SALT)})}"


def agreement_url(*, line: OpenLine, client: Client | None = None) -> str:
    """`agreement_path` made absolute with `SITE_URL`, else the channels' public address
    (`CONNECTORS_PUBLIC_URL`); the path alone when neither is set."""
    base = settings.SITE_URL or settings.CONNECTORS_PUBLIC_URL
    return f"{base}{agreement_path(line=line, client=client)}"


def consent_client_from_token(*, line: OpenLine, token: str) -> Client | None:
    """The client a personal agreement link was made for (None for a forged or foreign token)."""
    try:
        client_id = signing.loads(token, salt=CONSENT_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(client_id, int):
        return None
    return Client.objects.filter(pk=client_id, chats__line=line).distinct().first()


@transaction.atomic
def client_consent_record(*, client: Client, line: OpenLine, at: datetime | None = None) -> Client:
    """The client accepted the line's agreement: when, and which version (kept with the client)."""
    stored = Client.objects.select_for_update().get(pk=client.pk)
    if stored.consent_at is None:
        stored.consent_at = at or timezone.now()
        stored.extra = {**stored.extra, "consent_agreement_id": line.agreement_id}
        stored.save(update_fields=["consent_at", "extra"])
    # The caller's copy follows, so a later write of its `extra` does not undo this one.
    client.consent_at, client.extra = stored.consent_at, stored.extra
    return stored
