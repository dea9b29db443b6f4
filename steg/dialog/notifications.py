"""notify(): queue an e-mail and/or SMS to one person, rendered in their language.

Every kind of notification has three templates in templates/dialog/notifications/:
``<kind>.subject.txt``, ``<kind>.email.txt`` and ``<kind>.sms.txt``. They say only that there
is something in Steg, and give a link: never health information (no unit or programme names,
nothing about the treatment). See docs/notifications.md.
"""

from __future__ import annotations

import datetime
import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from steg.audit.actions import Actor, record_event

from .models import Notification
from .preferences import held_until, preference_for
from .tasks import enqueue_delivery

if TYPE_CHECKING:
    from steg.accounts.models import User
    from steg.care.models import Patient

logger = logging.getLogger(__name__)

# Each kind and the context it needs (`site_url` is always added).
KINDS: dict[str, frozenset[str]] = {
    "invitation": frozenset({"link", "code", "code_url", "expires"}),
    "meeting_booked": frozenset({"link", "starts_at"}),
    "meeting_changed": frozenset({"link", "starts_at"}),
    "meeting_cancelled": frozenset({"link", "starts_at"}),
    "meeting_reminder": frozenset({"link", "starts_at"}),
    "reschedule_requested": frozenset({"link"}),
    "new_message": frozenset({"link"}),
    "new_feedback": frozenset({"link"}),
    "patient_wrote": frozenset({"link"}),
    # From an automation rule (steg.automation): a diary day missed, a follow-up due ...
    "reminder": frozenset({"link"}),
}

# Context values that open something (an invitation's link and code): kept in the stored body
# only until the notification is sent, see Notification.redacted_body.
SECRETS: dict[str, frozenset[str]] = {"invitation": frozenset({"link", "code"})}
REDACTED = "[…]"

TEMPLATE_DIR = "dialog/notifications"
SMS_MAX_LENGTH = 300


def notify(
    *,
    kind: str,
    email: str = "",
    phone: str = "",
    user: User | None = None,
    patient: Patient | None = None,
    context: dict[str, Any] | None = None,
    language: str | None = None,
) -> list[Notification]:
    """Queue one notification per channel that has an address (e-mail if `email`, SMS if `phone`)
    and that the recipient `user` has not turned off.

    `user` is the person it goes to, when they have an account: their preferences apply (see
    steg/dialog/preferences.py): a channel they turned off gets no row, and a notification
    created in their quiet hours waits until the quiet hours end (`next_attempt_at`). Without
    `user`, and for the kinds in WITHOUT_PREFERENCES (an invitation), neither applies.

    Renders templates/dialog/notifications/<kind>.subject.txt, <kind>.email.txt and
    <kind>.sms.txt with `context` (+ `site_url` = settings.SITE_URL) in `language` (default:
    user.language or "sv"), inside translation.override. Creates Notification rows in the
    caller's transaction and, with transaction.on_commit, enqueues the delivery task for each
    (for the end of the quiet hours, when it waits).
    Raises ValueError for an unknown kind (or when the context lacks what the kind needs).
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}; known: {', '.join(KINDS)}")
    context = dict(context or {})
    missing = KINDS[kind] - context.keys()
    if missing:
        raise ValueError(f"Notification {kind!r} needs {', '.join(sorted(missing))} in its context")
    context["site_url"] = settings.SITE_URL
    language = _language(language, user)
    preference = preference_for(user.pk if user is not None else None, kind)
    email = email.strip() if preference is None or preference.by_email else ""
    phone = phone.strip() if preference is None or preference.by_sms else ""

    secrets = SECRETS.get(kind, frozenset())
    masked = {**context, **dict.fromkeys(secrets, REDACTED)}

    def body(channel: str, values: dict[str, Any]) -> str:
        return _text(render_to_string(f"{TEMPLATE_DIR}/{kind}.{channel}.txt", values))

    rows: list[Notification] = []
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        if email:
            rows.append(
                Notification(
                    kind=kind,
                    channel=Notification.Channel.EMAIL,
                    address=email,
                    subject=_one_line(
                        render_to_string(f"{TEMPLATE_DIR}/{kind}.subject.txt", context)
                    )[:200],
                    body=body("email", context),
                    redacted_body=body("email", masked) if secrets else "",
                )
            )
        if phone:
            text = body("sms", context)
            if len(text) > SMS_MAX_LENGTH:
                logger.warning(
                    "SMS %r is %d characters long (over %d)", kind, len(text), SMS_MAX_LENGTH
                )
            rows.append(
                Notification(
                    kind=kind,
                    channel=Notification.Channel.SMS,
                    address=phone,
                    body=text,
                    redacted_body=body("sms", masked) if secrets else "",
                )
            )
    now = timezone.now()
    starts_at = context.get("starts_at")
    held = held_until(
        preference,
        kind=kind,
        now=now,
        starts_at=starts_at if isinstance(starts_at, datetime.datetime) else None,
    )
    for row in rows:
        row.user = user
        row.patient = patient
        row.created_at = now
        row.next_attempt_at = held or now
        row.save()
        transaction.on_commit(partial(enqueue_delivery, row.pk, run_after=held))
    return rows


def _language(language: str | None, user: User | None) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    for candidate in (language, user.language if user is not None else None):
        if candidate in known:
            return str(candidate)
    return str(settings.LANGUAGE_CODE)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text(text: str) -> str:
    """Trailing spaces off every line, at most one empty line in a row, no blank start or end."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


RetryOutcome = Literal["queued", "not_failed", "has_secrets"]


@transaction.atomic
def retry_failed_notification(
    *, notification: Notification, actor: Actor, request: HttpRequest | None = None
) -> RetryOutcome:
    """Give a failed notification one more attempt, now (or when the recipient's quiet hours
    end): queued again, delivery enqueued on commit, and an audit event written.

    Only a failed one is retried: a second click, or one that is already queued or sent,
    changes nothing ("not_failed"). A kind with secrets (an invitation) is not retried: its
    link and code were blanked out when it failed, so a new invitation must be sent instead
    ("has_secrets"). The attempts count on: if this attempt fails too, it is failed again.
    """
    if notification.kind in SECRETS:
        return "has_secrets"
    now = timezone.now()
    held = held_until(
        preference_for(notification.user_id, notification.kind), kind=notification.kind, now=now
    )
    updated = Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.FAILED
    ).update(status=Notification.Status.QUEUED, next_attempt_at=held or now)
    if not updated:
        return "not_failed"
    record_event(
        action="dialog.notification.retried",
        actor=actor,
        request=request,
        patient=notification.patient,
        object_type="dialog.notification",
        object_id=notification.pk,
        purpose="administration",
        detail={"kind": notification.kind, "channel": notification.channel},
    )
    transaction.on_commit(partial(enqueue_delivery, notification.pk, run_after=held))
    return "queued"
