"""Notifications: one row per message to one address on one channel, kept as the record."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationQuerySet(models.QuerySet["Notification"]):
    def due(self, now: datetime.datetime) -> NotificationQuerySet:
        """Queued notifications whose next attempt is not in the future."""
        return self.filter(status=Notification.Status.QUEUED, next_attempt_at__lte=now)

    def newest_first(self) -> NotificationQuerySet:
        return self.order_by("-created_at", "-id")


class Notification(models.Model):
    """An e-mail or SMS that Steg sends (or has sent). The body never holds health information:
    only that there is something in Steg, and a link (see docs/notifications.md)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=40)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))
    # The body with its secrets (an invitation's link and code) blanked out: it replaces the
    # body once the notification is sent or has failed for good, so that the database does not
    # keep a way into someone's treatment (except with the development outbox on).
    redacted_body = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    patient = models.ForeignKey(
        "care.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # The kind of error and a short message from the backend; never the body.
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # When the next delivery attempt may start; a worker that claims the notification moves it
    # forward by a lease, so nobody else takes it while it is being sent.
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="dialog_notification_newest"),
            models.Index(fields=["status", "next_attempt_at"], name="dialog_notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} to {self.address} ({self.status})"
