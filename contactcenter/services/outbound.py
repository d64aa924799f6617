"""Sending messages to a connector's own endpoint until it acknowledges them, with retries.

A kind registers how one attempt is made (`register_outbound_attempt`); its sender calls
`outbound_delivery_start` in the transaction that stores the message, so the delivery row commits with
the message (a transactional outbox). Queueing the first attempt after commit is only the fast path: when
the broker cannot be reached (Redis down) the row is made due at once, and the timer loop, which claims
due rows with an optimistic update, queues it when it can. A failed attempt stores `next_attempt_at`
(exponential backoff with jitter, or the endpoint's Retry-After if longer). Every queued attempt carries
its claim (the `next_attempt_at` lease it was queued with) and takes it again before sending, so an
attempt queued twice (a lost worker's task re-queued after its lease, a duplicate) sends once.
`claimed_at` is set while an attempt is queued or running; an agent may retry or cancel only when it
is not (`outbound_delivery_retry_now`, `outbound_delivery_cancel`).

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
from django.utils.translation import gettext as _

from contactcenter.background import task_enqueue_fast
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


class DeliveryRefused(Exception):
    """An agent's retry or cancel does not apply to the delivery as it is now."""


def outbound_delivery_start(*, message_id: int, connector: Connector) -> OutboundDelivery:
    """Create the message's delivery row in the caller's transaction (once per message: the sender is
    called when the message is stored) and queue its first attempt after commit."""
    now = timezone.now()
    claim = now + CLAIM_LEASE
    delivery = OutboundDelivery.objects.create(
        message_id=message_id, connector=connector, next_attempt_at=claim, claimed_at=now
    )
    _attempt_enqueue(delivery.pk, claim)
    return delivery


def _attempt_enqueue(delivery_id: int, claim: datetime) -> None:
    def release() -> None:
        # Not queued: due at once, for the timer loop (the row is committed, the broker is not reachable).
        OutboundDelivery.objects.filter(
            pk=delivery_id, status=OutboundDelivery.Status.PENDING, next_attempt_at=claim
        ).update(next_attempt_at=timezone.now(), claimed_at=None)

    task_enqueue_fast(ATTEMPT_TASK, delivery_id=delivery_id, claim=claim, on_failure=release)


def outbound_delivery_attempt(*, delivery_id: int, claim: datetime | None = None) -> str:
    """Make one attempt and record its outcome. Returns the delivery's status afterwards.

    The attempt first takes the row: an optimistic update from `claim` (the lease it was queued with) to
    a new lease; a run that finds the row moved on (sent, cancelled, or claimed by another run) does
    nothing. The HTTP request runs outside any transaction or row lock; the outcome is written only if the
    row still holds this run's lease.
    """
    from openlines.services.delivery import channel_closed_reason, message_delivery_set

    now = timezone.now()
    lease = now + CLAIM_LEASE
    rows = OutboundDelivery.objects.filter(pk=delivery_id, status=OutboundDelivery.Status.PENDING)
    if claim is not None:
        rows = rows.filter(next_attempt_at=claim)
    if not rows.update(next_attempt_at=lease, claimed_at=now):
        delivery = OutboundDelivery.objects.filter(pk=delivery_id).first()
        return delivery.status if delivery is not None else ""
    delivery = OutboundDelivery.objects.select_related("connector").get(pk=delivery_id)
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
        pk=delivery.pk,
        status=OutboundDelivery.Status.PENDING,
        attempts=delivery.attempts,
        next_attempt_at=lease,
    )
    fields = {
        "attempts": attempts,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:500],
        "claimed_at": None,
    }
    if outcome.acknowledged:
        if mine.update(status=OutboundDelivery.Status.SENT, next_attempt_at=None, finished_at=now, **fields):
            message_delivery_set(message_id=delivery.message_id, status="sent", attempts=attempts)
            return OutboundDelivery.Status.SENT
    elif outcome.permanent or attempts >= delivery.max_attempts:
        if mine.update(
            status=OutboundDelivery.Status.FAILED, next_attempt_at=None, finished_at=now, **fields
        ):
            message_delivery_set(
                message_id=delivery.message_id, status="failed", error=outcome.error, attempts=attempts
            )
            return OutboundDelivery.Status.FAILED
    else:
        # After an agent's retry of a failed message the schedule starts again from the first wait.
        nth = attempts - (delivery.max_attempts - MAX_ATTEMPTS)
        wait = max(retry_delay_seconds(nth), min(outcome.retry_after or 0.0, MAX_RETRY_AFTER_SECONDS))
        next_attempt_at = now + timedelta(seconds=wait)
        if mine.update(next_attempt_at=next_attempt_at, **fields):
            message_delivery_set(
                message_id=delivery.message_id,
                status="pending",
                error=outcome.error,
                attempts=attempts,
                next_attempt_at=next_attempt_at,
            )
    return OutboundDelivery.Status.PENDING


@register_timer("outbound_deliveries")
def outbound_deliveries_claim(now: datetime) -> int:
    """Hand due attempts to background tasks: first attempts whose fast path was lost, retries whose wait
    is over, attempts whose lease ran out (their worker died). A row is claimed by moving its
    `next_attempt_at` a lease ahead, conditioned on the value read, so concurrent timer processes never
    claim it twice."""
    due = (
        OutboundDelivery.objects.filter(status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:BATCH]
    )
    claimed = 0
    for pk, seen in list(due):
        claim = now + CLAIM_LEASE
        if OutboundDelivery.objects.filter(
            pk=pk, status=OutboundDelivery.Status.PENDING, next_attempt_at=seen
        ).update(next_attempt_at=claim, claimed_at=now):
            _attempt_enqueue(pk, claim)
            claimed += 1
    return claimed


def _in_flight(delivery: OutboundDelivery, now: datetime) -> bool:
    return (
        delivery.claimed_at is not None
        and delivery.next_attempt_at is not None
        and delivery.next_attempt_at > now
    )


def outbound_delivery_retry_now(*, message_id: int) -> OutboundDelivery:
    """An agent's "try now": a failed delivery gets a fresh schedule, a waiting retry is made due; either
    way the next attempt is queued at once. Refused while an attempt is queued or running, or once sent."""
    from openlines.services.delivery import message_delivery_set

    delivery = OutboundDelivery.objects.filter(message_id=message_id).first()
    if delivery is None:
        raise DeliveryRefused(_("This message is not sent through a channel that retries."))
    now = timezone.now()
    claim = now + CLAIM_LEASE
    rows = OutboundDelivery.objects.filter(pk=delivery.pk, status=delivery.status, attempts=delivery.attempts)
    if delivery.status == OutboundDelivery.Status.FAILED:
        updated = rows.update(
            status=OutboundDelivery.Status.PENDING,
            max_attempts=delivery.attempts + MAX_ATTEMPTS,
            next_attempt_at=claim,
            claimed_at=now,
            finished_at=None,
        )
    elif delivery.status == OutboundDelivery.Status.PENDING and not _in_flight(delivery, now):
        updated = rows.filter(next_attempt_at=delivery.next_attempt_at).update(
            next_attempt_at=claim, claimed_at=now
        )
    elif delivery.status == OutboundDelivery.Status.PENDING:
        raise DeliveryRefused(_("The message is being sent right now."))
    else:
        raise DeliveryRefused(_("The message was sent already."))
    if not updated:
        raise DeliveryRefused(_("The message is being sent right now."))
    message_delivery_set(
        message_id=message_id,
        status="pending",
        error=delivery.last_error,
        attempts=delivery.attempts,
        next_attempt_at=now,
    )
    _attempt_enqueue(delivery.pk, claim)
    delivery.refresh_from_db()
    return delivery


def outbound_delivery_cancel(*, message_id: int) -> OutboundDelivery:
    """An agent stops the retries of a pending message: it fails as "cancelled by agent". Refused while
    an attempt is queued or running (it may be reaching the client right now), or once sent or failed."""
    from openlines.services.delivery import message_delivery_set

    delivery = OutboundDelivery.objects.filter(message_id=message_id).first()
    if delivery is None:
        raise DeliveryRefused(_("This message is not sent through a channel that retries."))
    now = timezone.now()
    if delivery.status != OutboundDelivery.Status.PENDING:
        raise DeliveryRefused(_("Only a message that is still being sent can be cancelled."))
    reason = _("Cancelled by agent.")
    if _in_flight(delivery, now) or not OutboundDelivery.objects.filter(
        pk=delivery.pk,
        status=OutboundDelivery.Status.PENDING,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        claimed_at__isnull=delivery.claimed_at is None,
    ).update(
        status=OutboundDelivery.Status.FAILED,
        next_attempt_at=None,
        claimed_at=None,
        finished_at=now,
        last_error=reason,
    ):
        raise DeliveryRefused(_("The message is being sent right now; try again in a moment."))
    message_delivery_set(message_id=message_id, status="failed", error=reason, attempts=delivery.attempts)
    delivery.refresh_from_db()
    return delivery
