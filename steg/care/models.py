"""Patients and their treatments at care units."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from steg.accounts.models import Membership, Unit, User
from steg.lib import personnummer

# Roles whose members have a care relation with the patients enrolled at their unit.
CARE_ROLES = (Membership.Role.THERAPIST, Membership.Role.UNIT_ADMIN)


class PatientQuerySet(models.QuerySet["Patient"]):
    def in_care_of(self, user: User) -> PatientQuerySet:
        """Patients with whom this member of staff has a care relation.

        A care relation is an enrolment at a unit where the user works in a care role.
        Referrals will widen this (issue: care journey).
        """
        return self.filter(
            enrolments__unit__memberships__user=user,
            enrolments__unit__memberships__role__in=CARE_ROLES,
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
    quit_date = models.DateField(_("quit date"), null=True, blank=True)
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
