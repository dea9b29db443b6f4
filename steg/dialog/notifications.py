"""notify(): queue an e-mail and/or SMS to one person, rendered in their language.

Every kind of notification has three templates in templates/dialog/notifications/:
``<kind>.subject.txt``, ``<kind>.email.txt`` and ``<kind>.sms.txt``. They say only that there
is something in Steg, and give a link: never health information (no unit or programme names,
nothing about the treatment). See docs/notifications.md.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Notification
from .tasks import deliver_notification

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
    """Queue one notification per channel that has an address (e-mail if `email`, SMS if `phone`).

    Renders templates/dialog/notifications/<kind>.subject.txt, <kind>.email.txt and
    <kind>.sms.txt with `context` (+ `site_url` = settings.SITE_URL) in `language` (default:
    user.language or "sv"), inside translation.override. Creates Notification rows in the
    caller's transaction and, with transaction.on_commit, enqueues the delivery task for each.
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
    email = email.strip()
    phone = phone.strip()

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
    for row in rows:
        row.user = user
        row.patient = patient
        row.created_at = now
        row.next_attempt_at = now
        row.save()
        transaction.on_commit(partial(_enqueue_delivery, row.pk))
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


def _enqueue_delivery(notification_id: int) -> None:
    try:
        deliver_notification.enqueue(notification_id)
    except Exception:
        # The row stays queued: `manage.py send_notifications` delivers it later.
        logger.exception("Could not enqueue delivery of notification %s", notification_id)
