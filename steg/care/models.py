"""Patients and their treatments at care units."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from steg.accounts.models import Membership, Unit, User
from steg.lib import personnummer

# Roles whose members have a care relation with the patients enrolled at their unit.
CARE_ROLES = (Membership.Role.THERAPIST, Membership.Role.UNIT_ADMIN)


class PatientQuerySet(models.QuerySet["Patient"]):
    def in_care_of(self, user: User) -> PatientQuerySet:
        """Patients with whom this member of staff has a care relation.

        A care relation is a referral to, or an enrolment at, a unit where the user works in a
        care role.
        """
        units = Membership.objects.filter(user=user, role__in=CARE_ROLES).values("unit_id")
        referred = Referral.objects.filter(Referral.CARE_RELATION, receiving_unit__in=units)
        return self.filter(
            models.Q(enrolments__unit__in=units) | models.Q(pk__in=referred.values("patient_id"))
        ).distinct()


class Patient(models.Model):
    """A resident in care, identified by a Swedish personal identity or co-ordination number."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patient",
    )
    personnummer = models.CharField(_("personal identity number"), max_length=12, unique=True)
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail address"), blank=True)
    # The IANA time zone the patient lives in: automatic messages and reminders are timed in it.
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Stockholm")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def personnummer_display(self) -> str:
        return personnummer.format_display(self.personnummer)


class Enrolment(models.Model):
    """A patient's treatment in one programme version at a care unit."""

    class Status(models.TextChoices):
        INVITED = "invited", _("invited")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        COMPLETED = "completed", _("completed")
        DISCONTINUED = "discontinued", _("discontinued")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="enrolments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="enrolments")
    # The assessment talk that chose this treatment. Required: nobody is enrolled without one
    # (enforced by `actions.enrol_patient` and by the database).
    assessment = models.ForeignKey(
        "Assessment",
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("assessment"),
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_enrolments",
        verbose_name=_("therapist"),
    )
    guided = models.BooleanField(_("guided by a therapist"), default=True)
    programme_version = models.ForeignKey(
        "programmes.ProgrammeVersion",
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("programme version"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.INVITED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    quit_date = models.DateField(_("quit date"), null=True, blank=True)
    # Given by the patient on activation: the terms of use (their version) and the consent to
    # digital treatment.
    terms_version = models.CharField(_("terms version"), max_length=32, blank=True)
    consented_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    # Facts about the patient that programme content adapts to, set by staff (for example at
    # the assessment talk): {"tobacco": "snus"}. Names and values are declared by the
    # programme (programme.yaml `attributes`).
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["patient", "-created_at"]),
            models.Index(fields=["therapist", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.patient} – {self.programme_version}"

    @property
    def title(self) -> str:
        """The programme's title in the active language."""
        return self.programme_version.title(translation.get_language() or "sv")

    @property
    def is_open(self) -> bool:
        """Whether the patient can still work in the programme (a closed one stays readable)."""
        return self.status in (self.Status.INVITED, self.Status.ACTIVE, self.Status.PAUSED)


# Lifecycle of an enrolment: which status may follow which.
ENROLMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    Enrolment.Status.INVITED: (Enrolment.Status.ACTIVE, Enrolment.Status.DISCONTINUED),
    Enrolment.Status.ACTIVE: (
        Enrolment.Status.PAUSED,
        Enrolment.Status.COMPLETED,
        Enrolment.Status.DISCONTINUED,
    ),
    Enrolment.Status.PAUSED: (
        Enrolment.Status.ACTIVE,
        Enrolment.Status.COMPLETED,
        Enrolment.Status.DISCONTINUED,
    ),
    Enrolment.Status.COMPLETED: (),
    Enrolment.Status.DISCONTINUED: (),
}


class EnrolmentEvent(models.Model):
    """One change in an enrolment's life: its status, its therapist or its guidance."""

    class Kind(models.TextChoices):
        STATUS = "status", _("status")
        THERAPIST = "therapist", _("therapist")
        GUIDANCE = "guidance", _("guidance")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    old_value = models.CharField(_("from"), max_length=200, blank=True)
    new_value = models.CharField(_("to"), max_length=200, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("treatment event")
        verbose_name_plural = _("treatment events")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["enrolment", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.old_value} → {self.new_value}"

    def _label(self, value: str) -> str:
        if self.kind == self.Kind.STATUS and value in Enrolment.Status.values:
            return str(Enrolment.Status(value).label)
        if self.kind == self.Kind.GUIDANCE:
            return str({"guided": _("guided"), "self-help": _("self-help")}.get(value, value))
        return value

    @property
    def old_label(self) -> str:
        return self._label(self.old_value)

    @property
    def new_label(self) -> str:
        return self._label(self.new_value)


class TobaccoType(models.TextChoices):
    CIGARETTES = "cigarettes", _("cigarettes")
    SNUS = "snus", _("snus")
    BOTH = "both", _("cigarettes and snus")
    OTHER = "other", _("other tobacco or nicotine")


class MeetingMode(models.TextChoices):
    PHONE = "phone", _("phone")
    VIDEO = "video", _("video")
    PHYSICAL = "physical", _("meeting in person")


class Referral(models.Model):
    """A referral from a referring clinician to a cessation unit."""

    class Status(models.TextChoices):
        NEW = "new", _("new")
        IN_PROGRESS = "in_progress", _("in progress")
        ASSESSED = "assessed", _("assessed")
        CLOSED = "closed", _("closed")

    class CloseReason(models.TextChoices):
        ENROLLED = "enrolled", _("enrolled in a digital programme")
        OTHER_TREATMENT = "other_treatment", _("other treatment chosen")
        NO_TREATMENT = "no_treatment", _("no treatment now")
        NO_CONTACT = "no_contact", _("the patient could not be reached")
        DECLINED = "declined", _("the patient declined")
        WRONG_UNIT = "wrong_unit", _("sent to the wrong unit")
        OTHER = "other", _("other reason")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referrals")
    referring_unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        related_name="sent_referrals",
        verbose_name=_("referring unit"),
    )
    receiving_unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        related_name="received_referrals",
        verbose_name=_("receiving unit"),
    )
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sent_referrals",
        verbose_name=_("referrer"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_referrals",
        verbose_name=_("assigned therapist"),
    )
    # Contact details as the referrer gave them (the patient record may change later).
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail address"), blank=True)
    tobacco_type = models.CharField(_("tobacco"), max_length=20, choices=TobaccoType.choices)
    tobacco_amount = models.CharField(_("amount per day"), max_length=200)
    reason = models.TextField(_("reason for referral"), max_length=4000)
    contact_consent = models.BooleanField(_("the patient agrees to be contacted"))
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    close_reason = models.CharField(
        _("reason for closing"), max_length=20, choices=CloseReason.choices, blank=True
    )
    close_note = models.TextField(_("note"), blank=True, max_length=4000)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["receiving_unit", "status", "-created_at"]),
            models.Index(fields=["receiving_unit", "assigned_to", "-created_at"]),
            models.Index(fields=["referrer", "-created_at"]),
            # The inbox's default page: a unit's open referrals, newest first, read in order
            # from the index however many there are (no sort of them all).
            models.Index(
                fields=["receiving_unit", "-created_at", "-id"],
                condition=models.Q(status__in=["new", "in_progress", "assessed"]),
                name="referral_open_inbox",
            ),
        ]
        constraints = [
            # At most one open referral for a patient at a unit.
            models.UniqueConstraint(
                fields=["patient", "receiving_unit"],
                condition=~models.Q(status="closed"),
                name="referral_one_open_per_patient_and_unit",
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient} → {self.receiving_unit}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

    # Referrals that give the receiving unit a care relation with the patient: open ones, and
    # closed ones after an assessment talk was held.
    CARE_RELATION = ~models.Q(status="closed") | models.Q(assessment__isnull=False)


class Assessment(models.Model):
    """The mandatory assessment talk and the treatment the patient chose there."""

    class Choice(models.TextChoices):
        DIGITAL_GUIDED = "digital_guided", _("the digital programme, guided by a therapist")
        DIGITAL_SELF_HELP = "digital_self_help", _("the digital programme as self-help")
        COUNSELLING = "counselling", _("traditional counselling")
        APP = "app", _("a recommended app")
        NONE = "none", _("no treatment now")

    DIGITAL_CHOICES = (Choice.DIGITAL_GUIDED, Choice.DIGITAL_SELF_HELP)

    referral = models.OneToOneField(
        Referral, on_delete=models.PROTECT, related_name="assessment", null=True, blank=True
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assessments")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="assessments",
        verbose_name=_("therapist"),
    )
    held_on = models.DateField(_("date of the talk"))
    mode = models.CharField(_("how the talk was held"), max_length=20, choices=MeetingMode.choices)
    tobacco_type = models.CharField(_("tobacco"), max_length=20, choices=TobaccoType.choices)
    tobacco_use = models.TextField(_("tobacco use"), max_length=4000)
    # The dependence test (the programme's FTND or FTND-ST), its answers and its score.
    dependence_test = models.CharField(_("dependence test"), max_length=64, blank=True)
    dependence_answers = models.JSONField(default=dict, blank=True)
    dependence_score = models.PositiveSmallIntegerField(
        _("dependence score"), null=True, blank=True
    )
    motivation = models.PositiveSmallIntegerField(_("motivation (0–10)"))
    confidence = models.PositiveSmallIntegerField(_("confidence (0–10)"))
    notes = models.TextField(_("notes"), blank=True, max_length=10000)
    choice = models.CharField(_("treatment choice"), max_length=20, choices=Choice.choices)
    choice_reason = models.TextField(_("reason for the choice"), max_length=4000)
    programme = models.ForeignKey(
        "programmes.Programme",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("programme"),
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("assessment talk")
        verbose_name_plural = _("assessment talks")
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["patient", "-held_on"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(motivation__lte=10) & models.Q(confidence__lte=10),
                name="assessment_scales_0_to_10",
            ),
            # A digital choice names the programme; other choices do not.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        choice__in=["digital_guided", "digital_self_help"],
                        programme__isnull=False,
                    )
                    | (
                        ~models.Q(choice__in=["digital_guided", "digital_self_help"])
                        & models.Q(programme__isnull=True)
                    )
                ),
                name="assessment_digital_choice_names_programme",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.held_on}"

    @property
    def chose_digital(self) -> bool:
        return self.choice in self.DIGITAL_CHOICES


class Invitation(models.Model):
    """A one-time invitation to activate an enrolment: a link and a short code, stored hashed."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    channels = models.JSONField(default=list, blank=True)
    # Wrong identity numbers given on activation; too many revoke the invitation.
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["enrolment", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.enrolment_id} {self.created_at:%Y-%m-%d}"

    def is_usable(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.used_at is None and self.revoked_at is None and self.expires_at > now


class Meeting(models.Model):
    """A booked phone, video or physical meeting between a therapist and a patient."""

    class Kind(models.TextChoices):
        ASSESSMENT = "assessment", _("assessment talk")
        FOLLOW_UP = "follow_up", _("treatment meeting")

    class Status(models.TextChoices):
        BOOKED = "booked", _("booked")
        CANCELLED = "cancelled", _("cancelled")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="meetings")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="meetings")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="meetings",
        verbose_name=_("therapist"),
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="meetings"
    )
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, null=True, blank=True, related_name="meetings"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    mode = models.CharField(_("mode"), max_length=20, choices=MeetingMode.choices)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    place = models.CharField(_("place"), max_length=300, blank=True)
    video_url = models.URLField(_("video link"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.BOOKED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    reschedule_requested_at = models.DateTimeField(null=True, blank=True)
    reschedule_message = models.TextField(_("message"), blank=True, max_length=2000)
    # Bumped on every change, so that calendar programs replace their copy (.ics SEQUENCE).
    sequence = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["starts_at", "pk"]
        indexes = [
            models.Index(fields=["therapist", "status", "starts_at"]),
            models.Index(fields=["patient", "status", "starts_at"]),
            models.Index(fields=["status", "reminder_sent_at", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="meeting_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)
