"""Operations on referrals, assessments and treatments. Each is one transaction with its audit
event; each refuses bad input with a `CareError` (a message for the user) and changes nothing.

The care journey (docs/care-journey.md): a referral reaches a unit; a therapist records the
mandatory assessment talk and the patient's treatment choice; only an assessment that chose the
digital programme can lead to an enrolment (`enrol_patient`), which starts as *invited* until the
patient activates the invitation (`steg.care.invitations`).
"""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event
from steg.automation import engine as automation
from steg.dashboard.attention import attention_changed_on_commit
from steg.programmes.models import Programme, ProgrammeVersion

from .models import (
    CARE_ROLES,
    ENROLMENT_TRANSITIONS,
    Assessment,
    Enrolment,
    EnrolmentEvent,
    Patient,
    Referral,
)


class CareError(Exception):
    """A refused operation, with a message for the user (translated when shown)."""

    def __init__(self, message: str | Promise, *, code: str, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field


def actor_at(user: User, unit: Unit, *roles: str) -> Actor:
    """The user acting in one of `roles` (default: a care role) at `unit`, or CareError."""
    wanted = roles or CARE_ROLES
    for membership in user.staff_memberships:
        if membership.unit_id == unit.pk and membership.role in wanted:
            return Actor(user, membership.role, membership.unit)
    raise CareError(_("You do not work at this unit."), code="not_at_unit")


def therapists_of(unit: Unit) -> QuerySet[User]:
    """Staff who can take on patients at a unit (therapists and unit admins)."""
    return (
        User.objects.filter(
            memberships__unit=unit, memberships__role__in=CARE_ROLES, is_active=True
        )
        .distinct()
        .order_by("first_name", "last_name", "pk")
    )


def _require_therapist(unit: Unit, therapist: User | None) -> None:
    if therapist is not None and not therapists_of(unit).filter(pk=therapist.pk).exists():
        raise CareError(
            _("Choose a therapist who works at this unit."), code="therapist", field="therapist"
        )


# Referrals ---------------------------------------------------------------------------------


def referring_units(user: User) -> list[Unit]:
    """Units on whose behalf the user sends referrals."""
    return user.units_with_role(Membership.Role.REFERRER)


def receiving_units(user: User) -> QuerySet[Unit]:
    """Units this referrer may send to: those that take referrals in the referrer's regions."""
    organisations = {unit.organisation_id for unit in referring_units(user)}
    return Unit.objects.filter(accepts_referrals=True, organisation_id__in=organisations).order_by(
        "name"
    )


@dataclass(frozen=True)
class ReferralData:
    personnummer: str  # normalised, 12 digits
    first_name: str
    last_name: str
    phone: str
    email: str
    tobacco_type: str
    tobacco_amount: str
    reason: str
    contact_consent: bool


@dataclass(frozen=True)
class SentReferral:
    referral: Referral
    created: bool  # False: an open referral for this patient at this unit existed already


def send_referral(
    *,
    referrer: User,
    referring_unit: Unit,
    receiving_unit: Unit,
    data: ReferralData,
    request: HttpRequest | None = None,
) -> SentReferral:
    """Send a referral, or return the open referral for the same patient at the same unit.

    A patient without a record gets one from the identity number.
    """
    actor = actor_at(referrer, referring_unit, Membership.Role.REFERRER)
    if not receiving_units(referrer).filter(pk=receiving_unit.pk).exists():
        raise CareError(
            _("You cannot send referrals to this unit. Choose one of the units in the list."),
            code="receiving_unit",
            field="receiving_unit",
        )
    if not data.contact_consent:
        raise CareError(
            _("The patient must agree to be contacted by the unit before you send the referral."),
            code="consent",
            field="contact_consent",
        )
    try:
        with transaction.atomic():
            return _send_referral(actor, referrer, referring_unit, receiving_unit, data, request)
    except IntegrityError:
        # Two referrals for the same patient raced: the other one won; show it.
        existing = Referral.objects.filter(
            patient__personnummer=data.personnummer, receiving_unit=receiving_unit
        ).exclude(status=Referral.Status.CLOSED)
        found = existing.first()
        if found is None:
            raise
        return SentReferral(found, created=False)


def _send_referral(
    actor: Actor,
    referrer: User,
    referring_unit: Unit,
    receiving_unit: Unit,
    data: ReferralData,
    request: HttpRequest | None,
) -> SentReferral:
    patient, patient_created = Patient.objects.get_or_create(
        personnummer=data.personnummer,
        defaults={
            "first_name": data.first_name,
            "last_name": data.last_name,
            "phone": data.phone,
            "email": data.email,
        },
    )
    if not patient_created:
        if not _same_person(patient, data):
            # Never attach a referral to someone else's record, and never tell the referrer
            # whose record the number belongs to.
            raise CareError(
                _(
                    "The name does not match the personal identity number in our records. "
                    "Check both and try again, or contact the receiving unit."
                ),
                code="name_mismatch",
                field="personnummer",
            )
        # Fill in contact details the record lacks; never overwrite what is there.
        changed = []
        for field in ("phone", "email"):
            if not getattr(patient, field) and getattr(data, field):
                setattr(patient, field, getattr(data, field))
                changed.append(field)
        if changed:
            patient.save(update_fields=changed)
            record_event(
                action="care.patient.contact_added",
                actor=actor,
                request=request,
                patient=patient,
                object_type="care.patient",
                object_id=patient.pk,
                purpose="referral",
                detail={"fields": changed},
            )
    existing = (
        Referral.objects.select_for_update()
        .filter(patient=patient, receiving_unit=receiving_unit)
        .exclude(status=Referral.Status.CLOSED)
        .first()
    )
    if existing is not None:
        record_event(
            action="care.referral.duplicate_shown",
            actor=actor,
            request=request,
            patient=patient,
            object_type="care.referral",
            object_id=existing.pk,
            purpose="referral",
        )
        return SentReferral(existing, created=False)
    referral = Referral.objects.create(
        patient=patient,
        referring_unit=referring_unit,
        receiving_unit=receiving_unit,
        referrer=referrer,
        phone=data.phone,
        email=data.email,
        tobacco_type=data.tobacco_type,
        tobacco_amount=data.tobacco_amount,
        reason=data.reason,
        contact_consent=data.contact_consent,
    )
    if patient_created:
        record_event(
            action="care.patient.created",
            actor=actor,
            request=request,
            patient=patient,
            object_type="care.patient",
            object_id=patient.pk,
            purpose="referral",
        )
    record_event(
        action="care.referral.created",
        actor=actor,
        request=request,
        patient=patient,
        object_type="care.referral",
        object_id=referral.pk,
        purpose="referral",
        detail={"receiving_unit": receiving_unit.pk},
    )
    return SentReferral(referral, created=True)


def _name_parts(name: str) -> set[str]:
    return {part for part in unicodedata.normalize("NFC", name).casefold().split() if part}


def _same_person(patient: Patient, data: ReferralData) -> bool:
    """Whether the name given with an identity number fits the record's: the same last name,
    and at least one first name in common (people go by one of several first names)."""
    return _name_parts(patient.last_name) == _name_parts(data.last_name) and bool(
        _name_parts(patient.first_name) & _name_parts(data.first_name)
    )


def _locked_referral(referral: Referral) -> Referral:
    return Referral.objects.select_for_update().select_related("patient").get(pk=referral.pk)


@transaction.atomic
def assign_referral(
    referral: Referral,
    *,
    therapist: User | None,
    actor: User,
    request: HttpRequest | None = None,
) -> Referral:
    """Give an open referral to a therapist at its unit (or take it back: `therapist=None`)."""
    referral = _locked_referral(referral)
    who = actor_at(actor, referral.receiving_unit)
    if not referral.is_open:
        raise CareError(_("This referral is closed."), code="closed")
    _require_therapist(referral.receiving_unit, therapist)
    previous = referral.assigned_to_id
    referral.assigned_to = therapist
    if referral.status == Referral.Status.NEW and therapist is not None:
        referral.status = Referral.Status.IN_PROGRESS
    referral.save(update_fields=["assigned_to", "status", "updated_at"])
    record_event(
        action="care.referral.assigned",
        actor=who,
        request=request,
        patient=referral.patient,
        object_type="care.referral",
        object_id=referral.pk,
        purpose="care",
        detail={"from": previous, "to": therapist.pk if therapist else None},
    )
    return referral


@transaction.atomic
def close_referral(
    referral: Referral,
    *,
    reason: str,
    note: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> Referral:
    referral = _locked_referral(referral)
    who = actor_at(actor, referral.receiving_unit)
    if not referral.is_open:
        raise CareError(_("This referral is already closed."), code="closed")
    if reason not in Referral.CloseReason.values:
        raise CareError(_("Choose a reason for closing."), code="reason", field="reason")
    if reason == Referral.CloseReason.ENROLLED:
        raise CareError(
            _("A referral is closed as enrolled by enrolling the patient."),
            code="reason",
            field="reason",
        )
    _close(referral, reason, note)
    record_event(
        action="care.referral.closed",
        actor=who,
        request=request,
        patient=referral.patient,
        object_type="care.referral",
        object_id=referral.pk,
        purpose="care",
        detail={"reason": reason},
    )
    return referral


def _close(referral: Referral, reason: str, note: str = "") -> None:
    referral.status = Referral.Status.CLOSED
    referral.close_reason = reason
    referral.close_note = note
    referral.closed_at = timezone.now()
    referral.save(update_fields=["status", "close_reason", "close_note", "closed_at", "updated_at"])


# The assessment talk -----------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentData:
    held_on: datetime.date
    mode: str
    tobacco_type: str
    tobacco_use: str
    motivation: int
    confidence: int
    notes: str
    choice: str
    choice_reason: str
    programme: Programme | None = None
    dependence_test: str = ""
    dependence_answers: dict[str, Any] | None = None
    dependence_score: int | None = None


# A non-digital choice closes the referral with this reason.
_CLOSE_REASON_FOR_CHOICE = {
    Assessment.Choice.COUNSELLING: Referral.CloseReason.OTHER_TREATMENT,
    Assessment.Choice.APP: Referral.CloseReason.OTHER_TREATMENT,
    Assessment.Choice.NONE: Referral.CloseReason.NO_TREATMENT,
}


@transaction.atomic
def record_assessment(
    referral: Referral,
    *,
    data: AssessmentData,
    therapist: User,
    request: HttpRequest | None = None,
) -> Assessment:
    """Record the assessment talk held for a referral, with the patient's treatment choice."""
    referral = _locked_referral(referral)
    who = actor_at(therapist, referral.receiving_unit)
    if not referral.is_open:
        raise CareError(_("This referral is closed."), code="closed")
    if Assessment.objects.filter(referral=referral).exists():
        raise CareError(
            _("The assessment talk for this referral is already recorded."), code="assessed"
        )
    if data.held_on > timezone.localdate():
        raise CareError(
            _("The talk cannot be recorded before it has taken place. Check the date."),
            code="future",
            field="held_on",
        )
    if data.choice not in Assessment.Choice.values:
        raise CareError(_("Choose a treatment."), code="choice", field="choice")
    digital = data.choice in Assessment.DIGITAL_CHOICES
    if digital and data.programme is None:
        raise CareError(
            _("Choose the digital programme the patient will follow."),
            code="programme",
            field="programme",
        )
    assessment = Assessment.objects.create(
        referral=referral,
        patient=referral.patient,
        unit=referral.receiving_unit,
        therapist=therapist,
        held_on=data.held_on,
        mode=data.mode,
        tobacco_type=data.tobacco_type,
        tobacco_use=data.tobacco_use,
        motivation=data.motivation,
        confidence=data.confidence,
        notes=data.notes,
        choice=data.choice,
        choice_reason=data.choice_reason,
        programme=data.programme if digital else None,
        dependence_test=data.dependence_test,
        dependence_answers=data.dependence_answers or {},
        dependence_score=data.dependence_score,
    )
    if digital:
        referral.status = Referral.Status.ASSESSED
        referral.save(update_fields=["status", "updated_at"])
    else:
        _close(referral, _CLOSE_REASON_FOR_CHOICE[Assessment.Choice(data.choice)])
    record_event(
        action="care.assessment.recorded",
        actor=who,
        request=request,
        patient=referral.patient,
        object_type="care.assessment",
        object_id=assessment.pk,
        purpose="care",
        detail={"referral": referral.pk, "choice": data.choice},
    )
    return assessment


# Enrolment ---------------------------------------------------------------------------------


def latest_version(programme: Programme) -> ProgrammeVersion | None:
    return programme.versions.order_by("-number").first()


@transaction.atomic
def enrol_patient(
    *,
    assessment: Assessment,
    actor: User,
    version: ProgrammeVersion | None = None,
    therapist: User | None = None,
    quit_date: datetime.date | None = None,
    request: HttpRequest | None = None,
) -> Enrolment:
    """Enrol the patient of an assessment that chose the digital programme.

    This is the only way an enrolment comes about. It refuses, changing nothing, unless the
    assessment chose the digital programme, the version belongs to the programme chosen, the
    actor works in a care role at the assessment's unit, the assessment has not been used for
    an enrolment already, and the patient has no open treatment in the same programme. The
    enrolment starts as *invited*; `steg.care.invitations.send_invitation` goes with it.
    """
    # Lock the patient first (the order `invitations.activate` uses too): two enrolments of
    # one patient, from two units at the same moment, must not both pass the checks below.
    Patient.objects.select_for_update().filter(pk=assessment.patient_id).first()
    assessment = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("patient", "unit", "programme", "referral")
        .get(pk=assessment.pk)
    )
    who = actor_at(actor, assessment.unit)
    if not assessment.chose_digital or assessment.programme is None:
        raise CareError(
            _(
                "The assessment talk did not choose the digital programme, so the patient "
                "cannot be enrolled. Record a new assessment if the patient has changed their mind."
            ),
            code="not_digital",
        )
    if Enrolment.objects.filter(assessment=assessment).exists():
        raise CareError(
            _("The patient has already been enrolled after this assessment talk."),
            code="assessment_used",
        )
    if assessment.referral is not None and not assessment.referral.is_open:
        raise CareError(
            _(
                "The referral was closed after the assessment talk, so the patient cannot be "
                "enrolled on it. A new referral and assessment talk are needed."
            ),
            code="referral_closed",
        )
    version = version or latest_version(assessment.programme)
    if version is None or version.programme_id != assessment.programme_id:
        raise CareError(
            _("Enrol the patient in the programme chosen at the assessment talk."),
            code="programme",
            field="programme",
        )
    if Enrolment.objects.filter(
        patient=assessment.patient,
        programme_version__programme=assessment.programme,
        status__in=[Enrolment.Status.INVITED, Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED],
    ).exists():
        raise CareError(
            _("The patient already has an open treatment in this programme."), code="open"
        )
    if therapist is None and therapists_of(assessment.unit).filter(pk=actor.pk).exists():
        therapist = actor
    _require_therapist(assessment.unit, therapist)
    enrolment = Enrolment.objects.create(
        patient=assessment.patient,
        unit=assessment.unit,
        programme_version=version,
        assessment=assessment,
        therapist=therapist,
        guided=assessment.choice == Assessment.Choice.DIGITAL_GUIDED,
        status=Enrolment.Status.INVITED,
        quit_date=quit_date,
        attributes=_attributes_from_assessment(assessment, version),
    )
    EnrolmentEvent.objects.create(
        enrolment=enrolment,
        kind=EnrolmentEvent.Kind.STATUS,
        old_value="",
        new_value=Enrolment.Status.INVITED,
        actor=actor,
    )
    if assessment.referral is not None:
        _close(assessment.referral, Referral.CloseReason.ENROLLED)
    attention_changed_on_commit(enrolment.pk)
    record_event(
        action="care.enrolment.created",
        actor=who,
        request=request,
        patient=assessment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={
            "programme": version.programme.slug,
            "version": version.number,
            "assessment": assessment.pk,
        },
    )
    return enrolment


# The programme attribute `tobacco` (snus or smoking) follows from the tobacco named at the
# assessment, when the programme declares it.
_TOBACCO_ATTRIBUTE = {"cigarettes": "smoking", "snus": "snus", "both": "both"}


def _attributes_from_assessment(
    assessment: Assessment, version: ProgrammeVersion
) -> dict[str, str]:
    declared = version.attributes.get("tobacco")
    value = _TOBACCO_ATTRIBUTE.get(assessment.tobacco_type)
    if declared and value and value in declared.get("values", []):
        return {"tobacco": value}
    return {}


# Lifecycle ---------------------------------------------------------------------------------


REASON_REQUIRED = (Enrolment.Status.PAUSED, Enrolment.Status.DISCONTINUED)


def _locked_enrolment(enrolment: Enrolment) -> Enrolment:
    return (
        Enrolment.objects.select_for_update()
        .select_related("patient", "unit", "programme_version__programme")
        .get(pk=enrolment.pk)
    )


def _status_change(
    enrolment: Enrolment,
    new_status: str,
    *,
    actor: Actor,
    reason: str,
    request: HttpRequest | None,
) -> Enrolment:
    old = enrolment.status
    if old == new_status:
        return enrolment  # repeated request: already done
    if new_status not in ENROLMENT_TRANSITIONS.get(old, ()):
        raise CareError(
            _("A treatment that is %(old)s cannot become %(new)s.")
            % {
                "old": Enrolment.Status(old).label,
                "new": Enrolment.Status(new_status).label,
            },
            code="transition",
        )
    if new_status in REASON_REQUIRED and not reason.strip():
        raise CareError(_("Write the reason."), code="reason", field="reason")
    now = timezone.now()
    enrolment.status = new_status
    fields = ["status"]
    if new_status == Enrolment.Status.ACTIVE and enrolment.started_at is None:
        enrolment.started_at = now
        fields.append("started_at")
    if new_status in (Enrolment.Status.COMPLETED, Enrolment.Status.DISCONTINUED):
        enrolment.ended_at = now
        fields.append("ended_at")
    enrolment.save(update_fields=fields)
    if new_status in (Enrolment.Status.COMPLETED, Enrolment.Status.DISCONTINUED):
        _wind_up(enrolment, actor=actor, request=request, now=now)
    EnrolmentEvent.objects.create(
        enrolment=enrolment,
        kind=EnrolmentEvent.Kind.STATUS,
        old_value=old,
        new_value=new_status,
        reason=reason.strip(),
        actor=actor.user,
        created_at=now,
    )
    attention_changed_on_commit(enrolment.pk)
    automation.status_changed(enrolment, old)
    record_event(
        action="care.enrolment.status_changed",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={"from": old, "to": new_status, "reason": reason.strip()},
    )
    return enrolment


def _wind_up(
    enrolment: Enrolment, *, actor: Actor, request: HttpRequest | None, now: datetime.datetime
) -> None:
    """What ends with a treatment: its unused invitations and its meetings still to come."""
    from .meetings import cancel_meetings_of_ended_treatment
    from .models import Invitation

    Invitation.objects.filter(
        enrolment=enrolment, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    cancel_meetings_of_ended_treatment(enrolment, actor=actor, request=request)


def _require_open(enrolment: Enrolment) -> None:
    if not enrolment.is_open:
        raise CareError(_("This treatment has ended and can no longer be changed."), code="closed")


@transaction.atomic
def change_status(
    enrolment: Enrolment,
    new_status: str,
    *,
    actor: User,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Enrolment:
    """Pause, resume, complete or discontinue a treatment (staff at its unit).

    Activation (invited → active) is the patient's, through the invitation.
    """
    enrolment = _locked_enrolment(enrolment)
    who = actor_at(actor, enrolment.unit)
    if new_status not in Enrolment.Status.values:
        raise CareError(_("Choose what to do with the treatment."), code="status")
    if enrolment.status == Enrolment.Status.INVITED and new_status == Enrolment.Status.ACTIVE:
        raise CareError(
            _("The patient starts the treatment by activating the invitation."), code="invited"
        )
    return _status_change(enrolment, new_status, actor=who, reason=reason, request=request)


def activate_enrolment(
    enrolment: Enrolment, *, actor: Actor, request: HttpRequest | None
) -> Enrolment:
    """Invited → active, when the patient activates the invitation (caller holds the lock)."""
    return _status_change(
        enrolment, Enrolment.Status.ACTIVE, actor=actor, reason="", request=request
    )


@transaction.atomic
def assign_therapist(
    enrolment: Enrolment,
    *,
    therapist: User | None,
    actor: User,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Enrolment:
    """Hand a treatment over to another therapist at the same unit."""
    enrolment = _locked_enrolment(enrolment)
    who = actor_at(actor, enrolment.unit)
    _require_open(enrolment)
    _require_therapist(enrolment.unit, therapist)
    if enrolment.therapist_id == (therapist.pk if therapist else None):
        return enrolment
    old = enrolment.therapist
    enrolment.therapist = therapist
    enrolment.save(update_fields=["therapist"])
    attention_changed_on_commit(enrolment.pk)
    EnrolmentEvent.objects.create(
        enrolment=enrolment,
        kind=EnrolmentEvent.Kind.THERAPIST,
        old_value=old.get_full_name() if old else "",
        new_value=therapist.get_full_name() if therapist else "",
        reason=reason.strip(),
        actor=actor,
    )
    record_event(
        action="care.enrolment.therapist_changed",
        actor=who,
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={"from": old.pk if old else None, "to": therapist.pk if therapist else None},
    )
    return enrolment


@transaction.atomic
def set_guidance(
    enrolment: Enrolment,
    *,
    guided: bool,
    actor: User,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Enrolment:
    """Switch a treatment between guided (with a therapist) and self-help."""
    enrolment = _locked_enrolment(enrolment)
    who = actor_at(actor, enrolment.unit)
    _require_open(enrolment)
    if enrolment.guided == guided:
        return enrolment
    enrolment.guided = guided
    enrolment.save(update_fields=["guided"])
    attention_changed_on_commit(enrolment.pk)
    labels = {True: "guided", False: "self-help"}
    EnrolmentEvent.objects.create(
        enrolment=enrolment,
        kind=EnrolmentEvent.Kind.GUIDANCE,
        old_value=labels[not guided],
        new_value=labels[guided],
        reason=reason.strip(),
        actor=actor,
    )
    record_event(
        action="care.enrolment.guidance_changed",
        actor=who,
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={"guided": guided},
    )
    return enrolment
