"""What needs a therapist's attention: one denormalised row per open enrolment.

The dashboard sorts a unit's patients by what needs attention first. Working that out from
messages, answers, meetings and schedules on every request would cost time in proportion to
the unit's size, so each open enrolment keeps an `Attention` row, recomputed whenever
something it is made from changes (`steg.dashboard.attention.attention_changed`) and, for the
flags that change with time alone, by a scheduled command (`refresh_attention`). `FlagCounts`
keeps the number of patients with each flag per unit and therapist, so that the counts at the
top of the dashboard cost the same whatever the size of the unit. See docs/dashboard.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Flag:
    """One reason for attention: its name in URLs, its label, its weight in the priority, the
    condition on `Attention` that says a row has it, and its counter on `FlagCounts`."""

    key: str
    label: str | Promise
    weight: int
    condition: Q
    counter: str


# In order of urgency. The weights are powers of two, so a patient with a more urgent flag
# always comes before one without it, whatever the less urgent flags of either.
FLAGS: tuple[Flag, ...] = (
    Flag("slip", _("slip or relapse"), 128, Q(slip_reported_at__isnull=False), "slip"),
    Flag("score", _("score flag"), 64, Q(score_flags__gt=0), "score_flags"),
    # Raised by the programme's automation rules (steg.automation), until staff handle them.
    Flag("rule", _("flagged by a rule"), 32, Q(rule_flags__gt=0), "rule_flags"),
    Flag("unread", _("unread messages"), 16, Q(unread_messages__gt=0), "unread"),
    Flag("feedback", _("awaiting feedback"), 8, Q(awaiting_feedback__gt=0), "awaiting_feedback"),
    Flag("meeting", _("meeting today"), 4, Q(meeting_today=True), "meeting_today"),
    Flag("follow-up", _("follow-up due"), 2, Q(followup_due=True), "followup_due"),
    Flag("inactive", _("inactive"), 1, Q(inactive=True), "inactive"),
)
FLAGS_BY_KEY = {flag.key: flag for flag in FLAGS}


class Attention(models.Model):
    """The dashboard's row for one open (invited, active or paused) enrolment.

    There is no row for a completed or discontinued treatment. Every field is derived: the
    row can be recomputed at any time from the enrolment's messages, answers and meetings
    (`manage.py rebuild_attention` does it for all).
    """

    enrolment = models.OneToOneField(
        "care.Enrolment", on_delete=models.CASCADE, primary_key=True, related_name="attention"
    )
    # Copied from the enrolment, so that the dashboard's queries need no join to filter.
    patient = models.ForeignKey("care.Patient", on_delete=models.CASCADE, related_name="+")
    # Indexed by the dashboard's indexes below, which lead with them.
    unit = models.ForeignKey(
        "accounts.Unit", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(max_length=20)
    guided = models.BooleanField(default=True)

    # Messages from the patient that no member of staff has read.
    unread_messages = models.PositiveIntegerField(default=0)
    # Submitted exercises and questionnaires (not diaries) with no staff feedback after them.
    awaiting_feedback = models.PositiveIntegerField(default=0)
    # Submitted responses whose score raised a flag, with no staff feedback after them.
    score_flags = models.PositiveIntegerField(default=0)
    # Flags raised by automation rules that no member of staff has handled yet.
    rule_flags = models.PositiveIntegerField(default=0)
    # When the patient last reported a slip that no member of staff has written about since;
    # None: no slip to attend to.
    slip_reported_at = models.DateTimeField(null=True, blank=True)
    # The patient's latest activity (pages, exercises, questionnaires, messages); None: none.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Since when nothing has been heard from the patient: the latest activity, or the start of
    # the treatment when there has been none. Inactivity and the dashboard's order use it.
    quiet_since = models.DateTimeField()
    inactive = models.BooleanField(default=False)
    # The next (or today's) booked meeting, and whether it is today (Swedish time).
    next_meeting_at = models.DateTimeField(null=True, blank=True)
    meeting_today = models.BooleanField(default=False)
    # The window of the next follow-up questionnaire not yet answered (closes: None when it
    # stays open until answered), and whether it is open now.
    followup_opens_on = models.DateField(null=True, blank=True)
    followup_closes_on = models.DateField(null=True, blank=True)
    followup_due = models.BooleanField(default=False)
    # The sum of the weights of the flags the row has (FLAGS).
    priority = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    # The patient changed something the row is made from and the row has not been recomputed
    # since (`attention_stale`): the dashboard recomputes such rows before it reads them, and
    # the scheduled refresh recomputes the rest.
    stale = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("attention")
        verbose_name_plural = _("attention")
        indexes = [
            # The dashboard's order within each scope: my patients, and a unit's.
            models.Index(
                fields=["therapist", "-priority", "quiet_since", "enrolment"],
                name="attention_therapist_order",
            ),
            models.Index(
                fields=["unit", "-priority", "quiet_since", "enrolment"],
                name="attention_unit_order",
            ),
            # One small partial index per flag and scope: a filtered page reads only the rows
            # that have the flag, already in the dashboard's order.
            *(
                models.Index(
                    fields=[scope, "-priority", "quiet_since", "enrolment"],
                    condition=flag.condition,
                    name=f"attention_{scope[0]}_{flag.key.replace('-', '')}",
                )
                for flag in FLAGS
                for scope in ("therapist", "unit")
            ),
            # The rows to recompute before a dashboard is read, per unit.
            models.Index(fields=["unit"], condition=models.Q(stale=True), name="attention_stale"),
            # The scheduled refresh: rows whose time-based flags may change.
            models.Index(fields=["status", "quiet_since"], name="attention_quiet"),
            models.Index(fields=["next_meeting_at"], name="attention_next_meeting"),
            models.Index(fields=["followup_opens_on"], name="attention_followup_opens"),
            models.Index(fields=["followup_closes_on"], name="attention_followup_closes"),
        ]

    def __str__(self) -> str:
        return f"attention {self.enrolment_id} ({self.priority})"

    @property
    def flags(self) -> list[Flag]:
        """The flags this row has, most urgent first."""
        return [flag for flag in FLAGS if self.priority & flag.weight]


class FlagCounts(models.Model):
    """How many open enrolments at a unit, per therapist (None: no therapist), have each flag.

    Kept in step with the `Attention` rows: every change of a row adds its difference here
    (in the same transaction), and `rebuild_attention` counts everything again.
    """

    unit = models.ForeignKey("accounts.Unit", on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    patients = models.IntegerField(default=0)
    slip = models.IntegerField(default=0)
    score_flags = models.IntegerField(default=0)
    rule_flags = models.IntegerField(default=0)
    unread = models.IntegerField(default=0)
    awaiting_feedback = models.IntegerField(default=0)
    meeting_today = models.IntegerField(default=0)
    followup_due = models.IntegerField(default=0)
    inactive = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("flag counts")
        verbose_name_plural = _("flag counts")
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "therapist"],
                condition=Q(therapist__isnull=False),
                name="flagcounts_unit_therapist",
            ),
            models.UniqueConstraint(
                fields=["unit"],
                condition=Q(therapist__isnull=True),
                name="flagcounts_unit_unassigned",
            ),
        ]

    def __str__(self) -> str:
        return f"counts {self.unit_id}/{self.therapist_id}: {self.patients}"


COUNTERS: tuple[str, ...] = ("patients", *(flag.counter for flag in FLAGS))
