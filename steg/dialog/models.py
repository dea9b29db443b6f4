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


class MessageQuerySet(models.QuerySet["Message"]):
    def unread_by_staff(self) -> MessageQuerySet:
        """Messages from the patient that no member of staff has read yet."""
        return self.filter(sender_role=Message.SenderRole.PATIENT, read_at__isnull=True)

    def unread_by_patient(self) -> MessageQuerySet:
        """Messages to the patient (from staff or automatic) that the patient has not read."""
        return self.exclude(sender_role=Message.SenderRole.PATIENT).filter(read_at__isnull=True)


class Message(models.Model):
    """One message in the conversation of an enrolment (one conversation per enrolment).

    Plain text only: shown escaped, with line breaks and links made clickable. A message may be
    linked to something the patient submitted (an exercise, a questionnaire response): it is
    then feedback, shown to the patient next to that answer too.
    """

    class SenderRole(models.TextChoices):
        PATIENT = "patient", _("patient")
        STAFF = "staff", _("therapist")
        SYSTEM = "system", _("automatic")

    class LinkKind(models.TextChoices):
        NONE = "", _("nothing")
        EXERCISE = "exercise", _("exercise")
        QUESTIONNAIRE = "questionnaire", _("questionnaire")

    MAX_LENGTH = 5000

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.PROTECT, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    sender_role = models.CharField(_("from"), max_length=10, choices=SenderRole.choices)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    # The sending form's one-time token: a retried or double-clicked send stores one message.
    client_token = models.CharField(max_length=64, blank=True)
    # What the message is feedback on: an exercise (its key) or a questionnaire response
    # ("<questionnaire id>/<YYYY-MM-DD>").
    link_kind = models.CharField(max_length=20, choices=LinkKind.choices, blank=True, default="")
    link_key = models.CharField(max_length=200, blank=True)
    # When the other side first read it (any member of staff for the patient's messages; the
    # patient for the others), and who: the read receipt shown to the sender.
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Rules that write automatic messages (issue: automation) name themselves here.
    rule = models.CharField(max_length=100, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["enrolment", "created_at"], name="dialog_message_thread"),
            models.Index(
                fields=["enrolment", "sender_role", "read_at"], name="dialog_message_unread"
            ),
            models.Index(fields=["enrolment", "link_kind", "link_key"], name="dialog_message_link"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "sender", "client_token"],
                condition=~models.Q(client_token=""),
                name="dialog_message_once_per_token",
            ),
            models.CheckConstraint(
                condition=models.Q(sender_role="system") | models.Q(sender__isnull=False),
                name="dialog_message_sender_unless_automatic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id} {self.sender_role} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def automatic(self) -> bool:
        return self.sender_role == self.SenderRole.SYSTEM


class MessageDraft(models.Model):
    """What someone has typed but not sent yet, kept while they write."""

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="message_drafts"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(blank=True)
    link_kind = models.CharField(max_length=20, blank=True)
    link_key = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "author", "link_kind", "link_key"],
                name="dialog_draft_one_per_author",
            )
        ]

    def __str__(self) -> str:
        return f"draft {self.enrolment_id} {self.author_id}"


class MessageTemplate(models.Model):
    """A unit's ready-made message, optionally for one programme, with placeholders such as
    {first_name}, {quit_date} and {days_tobacco_free} (see steg/dialog/placeholders.py)."""

    unit = models.ForeignKey(
        "accounts.Unit", on_delete=models.CASCADE, related_name="message_templates"
    )
    programme = models.ForeignKey(
        "programmes.Programme",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("programme"),
    )
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("in use"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["title", "pk"]
        indexes = [models.Index(fields=["unit", "is_active", "title"])]

    def __str__(self) -> str:
        return self.title


class InternalNote(models.Model):
    """A note on an enrolment for the care team: never shown to the patient."""

    MAX_LENGTH = 5000

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.PROTECT, related_name="internal_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(default=timezone.now)
    client_token = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["enrolment", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "author", "client_token"],
                condition=~models.Q(client_token=""),
                name="dialog_note_once_per_token",
            )
        ]

    def __str__(self) -> str:
        return f"note {self.enrolment_id} {self.created_at:%Y-%m-%d}"


class NotificationPreference(models.Model):
    """How a person wants to be told there is something new: channels and quiet hours.

    Without a row: e-mail and SMS wherever there is an address, no quiet hours.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    by_email = models.BooleanField(_("by e-mail"), default=True)
    by_sms = models.BooleanField(_("by SMS"), default=True)
    # Quiet hours in Europe/Stockholm; notifications that fall inside wait until they end.
    # Both empty: none. They may wrap midnight (22:00–07:00).
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
