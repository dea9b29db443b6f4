"""Delivery of queued notifications, as a background task and from `send_notifications`.

A delivery first claims the notification with a conditional UPDATE: only a queued row whose
next attempt is due is taken, and taking it moves `next_attempt_at` forward by a lease. A
second worker, a retried task or the management command running at the same time finds
nothing to claim, so a notification is never sent twice; a sent one is never touched again.
If a worker dies while sending, the lease runs out and the notification is tried again.
"""

from __future__ import annotations

import datetime
import logging
from typing import Literal

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from .models import Notification
from .preferences import held_until, preference_for
from .sms import get_sms_backend

logger = logging.getLogger(__name__)

# How long a claimed notification is left to its worker before another may try it.
CLAIM_LEASE = datetime.timedelta(minutes=10)
MAX_RETRY_DELAY = datetime.timedelta(hours=6)
EMAIL_TIMEOUT_SECONDS = 30

Outcome = Literal["sent", "retry", "failed", "skipped"]


@task()
def deliver_notification(notification_id: int) -> str:
    """Send one queued notification (does nothing unless it is queued and due)."""
    return deliver(notification_id)


def enqueue_delivery(notification_id: int, *, run_after: datetime.datetime | None = None) -> None:
    """Enqueue the delivery task, to run at once or, given `run_after`, not before then.

    A task backend that cannot defer (the immediate one in tests) is not given a deferred
    delivery: `manage.py send_notifications` sends it when it falls due. Never raises: if the
    enqueue fails, the row stays queued and the command sends it.
    """
    try:
        job = deliver_notification
        if run_after is not None:
            if not job.get_backend().supports_defer:
                return
            job = job.using(run_after=run_after)
        job.enqueue(notification_id)
    except Exception:
        logger.exception("Could not enqueue delivery of notification %s", notification_id)


def deliver(notification_id: int) -> Outcome:
    """Claim, send and record one notification; see the module's docstring."""
    now = timezone.now()
    claimed = (
        Notification.objects.due(now)
        .filter(pk=notification_id)
        .update(attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE)
    )
    if not claimed:
        return "skipped"
    notification = Notification.objects.get(pk=notification_id)
    try:
        _send(notification)
    except Exception as exc:
        return _record_failure(notification, exc)
    notification.status = Notification.Status.SENT
    notification.sent_at = timezone.now()
    notification.last_error = ""
    notification.save(update_fields=["status", "sent_at", "last_error", *_redact(notification)])
    return "sent"


def _redact(notification: Notification) -> list[str]:
    """Blank the secrets out of a body that will not be sent (again); the fields changed.

    The development outbox keeps them: there, showing what was sent is the point.
    """
    if not notification.redacted_body or settings.STEG_DEV_OUTBOX:
        return []
    notification.body = notification.redacted_body
    notification.redacted_body = ""
    return ["body", "redacted_body"]


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential back-off: the base delay after the first attempt, doubling after each."""
    base = datetime.timedelta(seconds=settings.STEG_NOTIFY_RETRY_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)


def _send(notification: Notification) -> None:
    if notification.channel == Notification.Channel.EMAIL:
        connection = get_connection(
            timeout=getattr(settings, "EMAIL_TIMEOUT", None) or EMAIL_TIMEOUT_SECONDS
        )
        EmailMessage(
            subject=notification.subject,
            body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.address],
            headers={"Auto-Submitted": "auto-generated"},
            connection=connection,
        ).send()
    elif notification.channel == Notification.Channel.SMS:
        get_sms_backend().send(notification.address, notification.body)
    else:
        raise ValueError(f"unknown channel {notification.channel!r}")


def _record_failure(notification: Notification, exc: Exception) -> Outcome:
    notification.last_error = _describe(exc, notification.body)
    final = notification.attempts >= settings.STEG_NOTIFY_MAX_ATTEMPTS
    redacted = []
    if final:
        notification.status = Notification.Status.FAILED
        redacted = _redact(notification)
    else:
        retry_at = timezone.now() + retry_delay(notification.attempts)
        # A retry that would fall in the recipient's quiet hours waits for their end.
        preference = preference_for(notification.user_id, notification.kind)
        notification.next_attempt_at = (
            held_until(preference, kind=notification.kind, now=retry_at) or retry_at
        )
    notification.save(update_fields=["status", "last_error", "next_attempt_at", *redacted])
    logger.warning(
        "Notification %s (%s by %s) failed on attempt %s%s: %s",
        notification.pk,
        notification.kind,
        notification.channel,
        notification.attempts,
        ", giving up" if final else "",
        notification.last_error,
    )
    if final:
        return "failed"
    _schedule_retry(notification)
    return "retry"


def _describe(exc: Exception, body: str) -> str:
    """The error's class and message, shortened, with the body cut out should it appear."""
    message = " ".join(str(exc).split())
    if body:
        message = message.replace(" ".join(body.split()), "[body]")
    return f"{type(exc).__name__}: {message}"[:200]


def _schedule_retry(notification: Notification) -> None:
    """Enqueue the next attempt for its time, when the task backend can defer; otherwise (or if
    that fails) `manage.py send_notifications` picks it up when it falls due."""
    enqueue_delivery(notification.pk, run_after=notification.next_attempt_at)
