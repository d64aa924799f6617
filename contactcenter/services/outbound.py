"""Sending messages to a connector's own endpoint until it acknowledges them, with retries.

A kind registers how one attempt is made (`register_outbound_attempt`); its sender calls
`outbound_delivery_start` from the send task. The first attempt runs at once in that task. A failed
attempt stores `next_attempt_at` (exponential backoff with jitter, or the endpoint's Retry-After if
longer); the timer loop claims due rows with an optimistic update and enqueues the next attempt as a
background task (django-q2's own scheduler ticks only every ~30 s). Each claim and each attempt pushes
`next_attempt_at` a lease ahead, so a task lost with its worker is picked up again after the lease.

Schedule: at most `MAX_ATTEMPTS` (8) attempts; the waits after attempts 1..7 are 30 s doubling to
32 min (±20 % jitter), about an hour in all. A 2xx is an acknowledgement; a 4xx other than 408 and 429
is permanent (the endpoint refuses this message); everything else (5xx, 408, 429, timeouts, network
errors) is retried. The message's delivery status follows: sent on acknowledgement, failed with the
reason after the last attempt.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from contactcenter.background import task_enqueue
from contactcenter.models import Connector, OutboundDelivery
from contactcenter.timers import register_timer

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30.0
JITTER = 0.2
# Longest wait an endpoint's Retry-After may ask for.
MAX_RETRY_AFTER_SECONDS = 3600.0
# An attempt (HTTP timeout plus queueing) takes far less; after this a claimed row is due again.
CLAIM_LEASE = timedelta(minutes=2)
BATCH = 200
ATTEMPT_TASK = "contactcenter.tasks.outbound_delivery_attempt"


@dataclass(frozen=True)
class AttemptOutcome:
    acknowledged: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


Attempt = Callable[[OutboundDelivery], AttemptOutcome]
_attempts: dict[str, Attempt] = {}


def register_outbound_attempt(kind: str) -> Callable[[Attempt], Attempt]:
    def decorator(fn: Attempt) -> Attempt:
        _attempts[kind] = fn
        return fn

    return decorator


def retry_delay_seconds(attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt: 30 s, 60 s, 120 s, ... with ±20 % jitter."""
    base = FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def outbound_delivery_start(*, message_id: int, connector: Connector) -> OutboundDelivery:
    """Create the message's delivery row (once) and make the first attempt now."""
    delivery, created = OutboundDelivery.objects.get_or_create(
        message_id=message_id,
        defaults={"connector": connector, "next_attempt_at": timezone.now() + CLAIM_LEASE},
    )
    if created:
        outbound_delivery_attempt(delivery_id=delivery.pk)
    return delivery


def outbound_delivery_attempt(*, delivery_id: int) -> str:
    """Make one attempt and record its outcome. Returns the delivery's status afterwards.

    The HTTP request runs outside any transaction or row lock; the outcome is written only if no other
    attempt recorded one meanwhile (the `attempts` counter is the version).
    """
    from openlines.services.delivery import channel_closed_reason, message_delivery_set

    delivery = OutboundDelivery.objects.select_related("connector").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != OutboundDelivery.Status.PENDING:
        return delivery.status if delivery is not None else ""
    attempt = _attempts.get(delivery.connector.kind)
    closed = channel_closed_reason(delivery.connector)
    if closed:
        outcome = AttemptOutcome(acknowledged=False, error=closed, permanent=True)
    elif attempt is None:
        outcome = AttemptOutcome(acknowledged=False, error="no sender for this channel", permanent=True)
    else:
        try:
            outcome = attempt(delivery)
        except Exception as error:
            logger.exception("outbound attempt %s failed unexpectedly", delivery.pk)
            outcome = AttemptOutcome(acknowledged=False, error=f"{type(error).__name__}: {error}")
    now = timezone.now()
    attempts = delivery.attempts + 1
    mine = OutboundDelivery.objects.filter(
        pk=delivery.pk, status=OutboundDelivery.Status.PENDING, attempts=delivery.attempts
    )
    fields = {
        "attempts": attempts,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:500],
    }
    if outcome.acknowledged:
        if mine.update(status=OutboundDelivery.Status.SENT, next_attempt_at=None, finished_at=now, **fields):
            message_delivery_set(message_id=delivery.message_id, status="sent")
            return OutboundDelivery.Status.SENT
    elif outcome.permanent or attempts >= MAX_ATTEMPTS:
        if mine.update(
            status=OutboundDelivery.Status.FAILED, next_attempt_at=None, finished_at=now, **fields
        ):
            message_delivery_set(message_id=delivery.message_id, status="failed", error=outcome.error)
            return OutboundDelivery.Status.FAILED
    else:
        wait = max(retry_delay_seconds(attempts), min(outcome.retry_after or 0.0, MAX_RETRY_AFTER_SECONDS))
        mine.update(next_attempt_at=now + timedelta(seconds=wait), **fields)
    return OutboundDelivery.Status.PENDING


@register_timer("outbound_deliveries")
def outbound_deliveries_claim(now: datetime) -> int:
    """Hand due retries to background tasks; a row is claimed by moving its `next_attempt_at` a lease
    ahead, conditioned on the value read, so concurrent timer processes never claim it twice."""
    due = (
        OutboundDelivery.objects.filter(status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:BATCH]
    )
    claimed = 0
    for pk, seen in list(due):
        if OutboundDelivery.objects.filter(
            pk=pk, status=OutboundDelivery.Status.PENDING, next_attempt_at=seen
        ).update(next_attempt_at=now + CLAIM_LEASE):
            task_enqueue(ATTEMPT_TASK, delivery_id=pk)
            claimed += 1
    return claimed
