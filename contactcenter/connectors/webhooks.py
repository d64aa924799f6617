"""Webhook endpoints of the messenger connectors.

`/connectors/<kind>/<uuid>/` serves one channel; `/connectors/<kind>/` is the app-level URL Meta may post
every account of an app to, routed by the account ids in the body (phone number id, page id, Instagram
id). Order of checks: the rate limit per channel (429 with Retry-After; an app-level URL counts per
client address), body size (413), the platform handshake, the signature or secret over the raw body
in constant time (403, nothing stored), the payload (400 with the reason), then the raw event is stored
under the platform's ids (a replay answers 200 and stores nothing) and processed by a background task.
"""

from __future__ import annotations

import uuid as uuid_lib

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from contactcenter.connectors.adapters import ADAPTER_KINDS, get_adapter
from contactcenter.connectors.adapters.base import ChannelAdapter, PayloadError, WebhookRequest
from contactcenter.connectors.channels import credentials_for
from contactcenter.models import Connector
from contactcenter.numbers import is_decimal
from contactcenter.ratelimit import client_ip, webhook_limit
from contactcenter.services.webhooks import webhook_dedup_key, webhook_event_store

MAX_BODY_BYTES = 1024 * 1024


def _text(status: int, text: str = "") -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _limited(key: str) -> HttpResponse | None:
    """A 429 when this webhook is over its rate limit: the platforms retry later (and nothing is stored)."""
    state = webhook_limit(key)
    if not state.limited:
        return None
    response = _text(
        429, _("Too many requests; retry in %(seconds)d seconds.") % {"seconds": state.retry_after}
    )
    response["Retry-After"] = str(state.retry_after)
    return response


def _read(request: HttpRequest) -> WebhookRequest | HttpResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if is_decimal(declared) and int(declared) > MAX_BODY_BYTES:
        return _text(413, _("The request body is too large."))
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _text(413, _("The request body is too large."))
    return WebhookRequest(request.method or "GET", dict(request.headers), request.GET.dict(), body)


def _handle(
    adapter: ChannelAdapter[object], connectors: list[Connector], webhook: WebhookRequest
) -> HttpResponseBase:
    refused = None
    for connector in connectors:
        answer = adapter.handshake(webhook, credentials_for(connector))
        if answer is not None and answer.status == 200:
            return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
        refused = answer or refused
    if refused is not None:
        return HttpResponse(refused.body, status=refused.status, content_type=refused.content_type)
    if webhook.method != "POST":
        return _text(405)
    verified = [c for c in connectors if adapter.verify(webhook, credentials_for(c))]
    if not verified:
        return _text(403, _("The signature is missing or wrong."))
    try:
        batch = adapter.parse(webhook.body)
    except PayloadError as exc:
        return _text(400, exc.reason)
    key = webhook_dedup_key(batch, webhook.body)
    for connector in verified:
        webhook_event_store(connector=connector, body=webhook.body, headers=webhook.headers, dedup_key=key)
    return _text(200, "ok")


@csrf_exempt
def connector_webhook(request: HttpRequest, kind: str, uuid: str) -> HttpResponseBase:
    """One channel's webhook."""
    if kind not in ADAPTER_KINDS:
        return _text(404)
    try:
        key = uuid_lib.UUID(uuid)
    except ValueError:
        return _text(404)
    connector = Connector.objects.filter(kind=kind, uuid=key, active=True).first()
    if connector is None:
        return _text(404)
    refused = _limited(f"{kind}:{connector.uuid}")
    if refused is not None:
        return refused
    webhook = _read(request)
    if isinstance(webhook, HttpResponse):
        return webhook
    return _handle(get_adapter(kind), [connector], webhook)


@csrf_exempt
def meta_app_webhook(request: HttpRequest, kind: str) -> HttpResponseBase:
    """The app-level URL of a Meta kind: the account ids in the body name the channel(s)."""
    if kind not in ("whatsapp", "messenger", "instagram"):
        return _text(404)
    refused = _limited(f"{kind}:ip:{client_ip(request)}")
    if refused is not None:
        return refused
    webhook = _read(request)
    if isinstance(webhook, HttpResponse):
        return webhook
    adapter = get_adapter(kind)
    active = Connector.objects.filter(kind=kind, active=True)
    if webhook.method == "GET":
        # The handshake names no account: any channel of this kind whose verify token matches.
        connectors = list(active)
    else:
        keys = adapter.route_keys(webhook.body)
        connectors = list(active.filter(account_id__in=keys)) if keys else []
    if not connectors:
        if webhook.method != "POST":
            return _text(403)
        try:
            adapter.parse(webhook.body)
        except PayloadError as exc:
            return _text(400, exc.reason)
        # An account of the app that no channel here serves (e.g. a page disconnected from us): nothing is
        # stored, but answer 200, because Meta turns off an app's whole webhook after failing for long.
        return _text(200, "ignored")
    return _handle(adapter, connectors, webhook)
