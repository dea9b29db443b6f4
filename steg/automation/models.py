"""The automation engine's records: each firing of a rule, and the flags rules raise.

A `Firing` is one rule on one occasion for one enrolment. It is written when the occasion is
known (an event happened, or a time was computed) and is unique on (enrolment, rule,
occasion): however often a task is retried, a scheduler ticks or workers race, the rule fires
at most once for that occasion. See docs/automation.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Firing(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("scheduled")
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        CANCELLED = "cancelled", _("cancelled")
        FAILED = "failed", _("failed")

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="firings"
    )
    rule = models.CharField(_("rule"), max_length=100)
    # What makes this firing one of its kind, e.g. "activated", "quit_date:2026-03-05",
    # "response:812", "since:2026-02-01", "meeting:31:2026-03-05T09:00:00+00:00".
    occasion = models.CharField(_("occasion"), max_length=120)
    trigger = models.CharField(_("trigger"), max_length=30)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # When the rule is meant to fire.
    scheduled_for = models.DateTimeField(_("scheduled for"))
    # When a scheduler may next hand it to a worker: `scheduled_for` at first, then moved on by
    # a lease when handed out (so that a lost task is handed out again) and by the back-off
    # after a failure.
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # What the event carried (e.g. the submitted response's id).
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    fired_at = models.DateTimeField(_("fired"), null=True, blank=True)
    # What was done (action kinds and their outcome) or why it was skipped.
    result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("rule firing")
        verbose_name_plural = _("rule firings")
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "rule", "occasion"], name="firing_once_per_occasion"
            )
        ]
        indexes = [
            # The scheduler's only query: pending firings whose time has come.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="firing_due",
            ),
            # The patient overview (fired and scheduled) and rescheduling, per enrolment.
            models.Index(fields=["enrolment", "status", "scheduled_for"], name="firing_enrolment"),
            # The admins' list of failures.
            models.Index(fields=["-fired_at"], condition=Q(status="failed"), name="firing_failed"),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.rule} @ {self.occasion} ({self.status})"


class RuleFlag(models.Model):
    """A rule flagged the enrolment for the therapist, maybe suggesting a step up the care
    ladder; it shows on the dashboard until a member of staff marks it handled."""

    class Level(models.TextChoices):
        NONE = "", _("no step up")
        PHONE_VIDEO = "phone_video", _("a phone or video call")
        MEETING = "meeting", _("a meeting in person")

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="rule_flags"
    )
    firing = models.OneToOneField(Firing, on_delete=models.CASCADE, related_name="flag")
    rule = models.CharField(_("rule"), max_length=100)
    # The reason, per language, as the programme's rule gives it.
    reasons = models.JSONField(default=dict)
    step_up = models.CharField(
        _("suggested step up"), max_length=20, choices=Level.choices, blank=True
    )
    created_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("rule flag")
        verbose_name_plural = _("rule flags")
        indexes = [
            models.Index(
                fields=["enrolment", "created_at"],
                condition=Q(handled_at__isnull=True),
                name="ruleflag_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.rule}"

    def reason(self, language: str) -> str:
        return str(self.reasons.get(language) or next(iter(self.reasons.values()), ""))
