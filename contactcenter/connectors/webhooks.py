"""Webhook endpoints of the messenger connectors.

`/connectors/<kind>/<uuid>/` serves one channel; `/connectors/<kind>/` is the app-level URL Meta may post
every account of an app to. Meta allows one callback URL per app, so a Meta event POST is routed by the
account ids in the body (phone number id, page id, Instagram id) at either URL: each item reaches the
channel that owns its account, verified with that channel's app secret; an account no channel owns is
counted as an unrouted webhook (shown on the Contact Center page) and still answered 200.

Order of checks: the rate limit per channel (429 with Retry-After; an app-level URL counts per client
address), body size (413), the platform handshake, the signature or secret over the raw body
in constant time (403, nothing stored), the payload (400 with the reason), then the raw event is stored
under the platform's ids (a replay answers 200 and stores nothing) and processed by a background task.
"""

from __future__ import annotations

import logging
import uuid as uuid_lib

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from contactcenter.connectors.adapters import ADAPTER_KINDS, get_adapter
from contactcenter.connectors.adapters.base import ChannelAdapter, PayloadError, WebhookRequest
from contactcenter.connectors.channels import META_KINDS, credentials_for
from contactcenter.models import Connector
from contactcenter.numbers import is_decimal
from contactcenter.ratelimit import client_ip, webhook_limit
from contactcenter.services.webhooks import (
    webhook_dedup_key,
    webhook_event_store,
    webhook_unrouted_record,
)

logger = logging.getLogger(__name__)

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


def _handshake(
    adapter: ChannelAdapter[object], connectors: list[Connector], webhook: WebhookRequest
) -> HttpResponseBase | None:
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
    return None


def _store(
    adapter: ChannelAdapter[object], connectors: list[Connector], webhook: WebhookRequest
) -> HttpResponseBase:
    try:
        batch = adapter.parse(webhook.body)
    except PayloadError as exc:
        return _text(400, exc.reason)
    key = webhook_dedup_key(batch, webhook.body)
    for connector in connectors:
        webhook_event_store(connector=connector, body=webhook.body, headers=webhook.headers, dedup_key=key)
    return _text(200, "ok")


def _handle(
    adapter: ChannelAdapter[object], connectors: list[Connector], webhook: WebhookRequest
) -> HttpResponseBase:
    answered = _handshake(adapter, connectors, webhook)
    if answered is not None:
        return answered
    verified = [c for c in connectors if adapter.verify(webhook, credentials_for(c))]
    if not verified:
        return _text(403, _("The signature is missing or wrong."))
    return _store(adapter, verified, webhook)


def _meta_post(
    adapter: ChannelAdapter[object], kind: str, received_by: Connector | None, webhook: WebhookRequest
) -> HttpResponseBase:
    """A Meta event POST, wherever it arrived: each account named in it goes to the channel that owns it,
    verified with that channel's app secret; accounts no channel owns are recorded as unrouted."""
    keys = adapter.route_keys(webhook.body)
    if not keys and received_by is not None:
        return _handle(adapter, [received_by], webhook)
    owners = list(Connector.objects.filter(kind=kind, active=True, account_id__in=keys)) if keys else []
    verified = [c for c in owners if adapter.verify(webhook, credentials_for(c))]
    # Items of an account whose channel's secret does not verify the body (e.g. a wrong app secret entered
    # on that channel) are not delivered either: they count as unrouted too, never silently dropped.
    unowned = [key for key in keys if key not in {c.account_id for c in verified}]
    authentic = bool(verified) or _signed_by_a_channel(adapter, kind, received_by, webhook)
    if not authentic:
        if received_by is not None or owners:
            return _text(403, _("The signature is missing or wrong."))
        try:
            adapter.parse(webhook.body)
        except PayloadError as exc:
            return _text(400, exc.reason)
        # Signed with no secret we know (another app, or a rotated secret): nothing is stored, but answer
        # 200, because Meta turns off an app's whole webhook after failing for long.
        logger.warning("%s webhook for accounts %s: no channel's app secret verifies it", kind, keys)
        return _text(200, "ignored")
    response = _store(adapter, verified, webhook)
    if response.status_code == 200 and unowned:
        webhook_unrouted_record(kind=kind, account_ids=unowned)
    return response


def _signed_by_a_channel(
    adapter: ChannelAdapter[object], kind: str, received_by: Connector | None, webhook: WebhookRequest
) -> bool:
    """Whether the body carries the signature of an app we know: the receiving channel's, or (at the
    app-level URL) any channel's of this kind, active or not."""
    candidates = [received_by] if received_by is not None else list(Connector.objects.filter(kind=kind))
    return any(adapter.verify(webhook, credentials_for(c)) for c in candidates)


@csrf_exempt
def connector_webhook(request: HttpRequest, kind: str, uuid: str) -> HttpResponseBase:
    """One channel's webhook."""
    if kind not in ADAPTER_KINDS:
        return _text(404)
    try:
        key = uuid_lib.UUID(uuid)
    except ValueError:
        return _text(404)
    connector = Connector.objects.filter(kind=kind, uuid=key).first()
    if connector is None:
        return _text(404)
    # A deactivated Meta channel's URL may still be the app's one callback URL: its events for the app's
    # other accounts are routed like the app-level URL's. Any other request to an inactive channel is 404.
    routes_for_app = kind in META_KINDS and request.method == "POST"
    if not connector.active and not routes_for_app:
        return _text(404)
    refused = _limited(f"{kind}:{connector.uuid}")
    if refused is not None:
        return refused
    webhook = _read(request)
    if isinstance(webhook, HttpResponse):
        return webhook
    adapter = get_adapter(kind)
    if routes_for_app:
        return _meta_post(adapter, kind, connector if connector.active else None, webhook)
    return _handle(adapter, [connector], webhook)


@csrf_exempt
def meta_app_webhook(request: HttpRequest, kind: str) -> HttpResponseBase:
    """The app-level URL of a Meta kind: the account ids in the body name the channel(s)."""
    if kind not in META_KINDS:
        return _text(404)
    refused = _limited(f"{kind}:ip:{client_ip(request)}")
    if refused is not None:
        return refused
    webhook = _read(request)
    if isinstance(webhook, HttpResponse):
        return webhook
    adapter = get_adapter(kind)
    if webhook.method == "POST":
        return _meta_post(adapter, kind, None, webhook)
    # The handshake names no account: any channel of this kind whose verify token matches.
    connectors = list(Connector.objects.filter(kind=kind, active=True))
    if not connectors:
        return _text(403)
    answered = _handshake(adapter, connectors, webhook)
    return answered if answered is not None else _text(405)
