"""The only way views reach patient data: check role and care relation, record the access.

Each helper answers 404 (never 403, so that nobody learns whether a record exists) when the
user has no right to the data, and records the attempt as well.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import F
from django.http import Http404, HttpRequest

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event

from .models import CARE_ROLES, Assessment, Enrolment, Meeting, Patient, Referral


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - views using these helpers require login
    return user


def _care_membership(user: User, unit_ids: set[int]) -> Membership | None:
    for membership in user.staff_memberships:
        if membership.unit_id in unit_ids and membership.role in CARE_ROLES:
            return membership
    return None


def care_unit_ids(patient: Patient) -> set[int]:
    """Units with a care relation to the patient: an enrolment there, or a referral to them
    that is open or led to an assessment talk (a referral closed unheard, say as sent to the
    wrong unit, gives no lasting relation)."""
    return set(patient.enrolments.values_list("unit_id", flat=True)) | set(
        patient.referrals.filter(Referral.CARE_RELATION).values_list("receiving_unit_id", flat=True)
    )


def staff_actor(user: User, unit_id: int) -> Actor | None:
    """The user acting in a care role at a unit, or None when they have no such role there."""
    membership = _care_membership(user, {unit_id})
    return Actor(user, membership.role, membership.unit) if membership else None


def get_patient_for_staff(request: HttpRequest, patient_id: int, *, purpose: str) -> Patient:
    """A patient's record for a member of staff with a care relation, or 404."""
    user = _user(request)
    patient = Patient.objects.filter(pk=patient_id).first()
    membership = None
    if patient is not None:
        membership = _care_membership(user, care_unit_ids(patient))
    if patient is None or membership is None:
        record_event(
            action="care.patient.access_denied",
            actor=Actor(user),
            request=request,
            patient=patient,
            object_type="care.patient",
            object_id=patient_id,
            purpose=purpose,
        )
        raise Http404("No such patient")
    record_event(
        action="care.patient.viewed",
        actor=Actor(user, membership.role, membership.unit),
        request=request,
        patient=patient,
        object_type="care.patient",
        object_id=patient.pk,
        purpose=purpose,
    )
    return patient


def get_own_patient(request: HttpRequest) -> Patient | None:
    """The logged-in patient's own record (recorded as a read), or None for staff-only users."""
    user = _user(request)
    patient = Patient.objects.filter(user=user).first()
    if patient is not None:
        record_event(
            action="care.patient.viewed_own",
            actor=Actor(user, "patient"),
            request=request,
            patient=patient,
            object_type="care.patient",
            object_id=patient.pk,
            purpose="self-service",
        )
    return patient


def get_unit_for_staff(request: HttpRequest, unit_id: int) -> tuple[Unit, Membership]:
    """A unit where the user works in a care role, or 404."""
    user = _user(request)
    for membership in user.staff_memberships:
        if membership.unit_id == unit_id and membership.role in CARE_ROLES:
            return membership.unit, membership
    record_event(
        action="care.unit.access_denied",
        actor=Actor(user),
        request=request,
        object_type="accounts.unit",
        object_id=unit_id,
        purpose="care",
    )
    raise Http404("No such unit")


def list_unit_patients(
    request: HttpRequest, *, unit: Unit, membership: Membership, page_number: str | None
) -> Page[Patient]:
    """One page of the patients enrolled at a unit, recorded as one list read."""
    patients = (
        Patient.objects.filter(enrolments__unit=unit)
        .distinct()
        .order_by("last_name", "first_name", "pk")
    )
    page = Paginator(patients, 25).get_page(page_number)
    record_event(
        action="care.patient.listed",
        actor=Actor(_user(request), membership.role, unit),
        request=request,
        object_type="accounts.unit",
        object_id=unit.pk,
        purpose="care",
        detail={"patients": [p.pk for p in page.object_list], "page": page.number},
    )
    return page


def own_enrolments(patient: Patient) -> list[Enrolment]:
    return list(
        patient.enrolments.select_related("unit", "programme_version", "therapist").order_by(
            "-created_at"
        )
    )


def get_enrolment_for_patient(request: HttpRequest, enrolment_id: int) -> Enrolment:
    """One of the logged-in patient's own enrolments, or 404 (and the attempt recorded)."""
    from steg.programmes.outline import get_version

    user = _user(request)
    enrolment = (
        # One query; the programme version (immutable) comes from the process cache, keyed
        # by its content hash, instead of being read and parsed again on every request.
        Enrolment.objects.select_related("patient", "unit")
        .annotate(version_hash=F("programme_version__content_hash"))
        .filter(pk=enrolment_id, patient__user=user)
        # Until the patient has accepted the invitation (terms and consent) the treatment is
        # not theirs to open.
        .exclude(status=Enrolment.Status.INVITED)
        .first()
    )
    if enrolment is None:
        record_event(
            action="care.enrolment.access_denied",
            actor=Actor(user, "patient"),
            request=request,
            object_type="care.enrolment",
            object_id=enrolment_id,
            purpose="self-service",
        )
        raise Http404("No such treatment")
    enrolment.programme_version = get_version(
        enrolment.programme_version_id, enrolment.version_hash
    )
    return enrolment


def get_enrolment_for_staff(request: HttpRequest, enrolment_id: int, *, purpose: str) -> Enrolment:
    """An enrolment at a unit where the user works in a care role, or 404; the read recorded."""
    from steg.programmes.outline import get_version

    user = _user(request)
    enrolment = (
        # The programme version from the process cache, as for the patient (it never changes).
        Enrolment.objects.select_related("patient", "unit")
        .annotate(version_hash=F("programme_version__content_hash"))
        .filter(pk=enrolment_id)
        .first()
    )
    membership = _care_membership(user, {enrolment.unit_id}) if enrolment else None
    if enrolment is None or membership is None:
        record_event(
            action="care.enrolment.access_denied",
            actor=Actor(user),
            request=request,
            patient=enrolment.patient if enrolment else None,
            object_type="care.enrolment",
            object_id=enrolment_id,
            purpose=purpose,
        )
        raise Http404("No such treatment")
    record_event(
        action="care.enrolment.viewed",
        actor=Actor(user, membership.role, membership.unit),
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose=purpose,
    )
    enrolment.programme_version = get_version(
        enrolment.programme_version_id, enrolment.version_hash
    )
    return enrolment


def get_referral_for_staff(request: HttpRequest, referral_id: int, *, purpose: str) -> Referral:
    """A referral received by a unit where the user works in a care role, or 404; read recorded."""
    user = _user(request)
    referral = (
        Referral.objects.select_related(
            "patient", "receiving_unit", "referring_unit", "referrer", "assigned_to"
        )
        .filter(pk=referral_id)
        .first()
    )
    membership = _care_membership(user, {referral.receiving_unit_id}) if referral else None
    if referral is None or membership is None:
        record_event(
            action="care.referral.access_denied",
            actor=Actor(user),
            request=request,
            patient=referral.patient if referral else None,
            object_type="care.referral",
            object_id=referral_id,
            purpose=purpose,
        )
        raise Http404("No such referral")
    record_event(
        action="care.referral.viewed",
        actor=Actor(user, membership.role, membership.unit),
        request=request,
        patient=referral.patient,
        object_type="care.referral",
        object_id=referral.pk,
        purpose=purpose,
    )
    return referral


def get_assessment_for_staff(
    request: HttpRequest, assessment_id: int, *, purpose: str
) -> Assessment:
    """An assessment held at a unit where the user works in a care role, or 404; read recorded."""
    user = _user(request)
    assessment = (
        Assessment.objects.select_related("patient", "unit", "programme", "referral", "therapist")
        .filter(pk=assessment_id)
        .first()
    )
    membership = _care_membership(user, {assessment.unit_id}) if assessment else None
    if assessment is None or membership is None:
        record_event(
            action="care.assessment.access_denied",
            actor=Actor(user),
            request=request,
            patient=assessment.patient if assessment else None,
            object_type="care.assessment",
            object_id=assessment_id,
            purpose=purpose,
        )
        raise Http404("No such assessment")
    record_event(
        action="care.assessment.viewed",
        actor=Actor(user, membership.role, membership.unit),
        request=request,
        patient=assessment.patient,
        object_type="care.assessment",
        object_id=assessment.pk,
        purpose=purpose,
    )
    return assessment


def get_meeting_for_staff(request: HttpRequest, meeting_id: int, *, purpose: str) -> Meeting:
    """A meeting at a unit where the user works in a care role, or 404; the read recorded."""
    user = _user(request)
    meeting = (
        Meeting.objects.select_related("patient", "unit", "therapist").filter(pk=meeting_id).first()
    )
    membership = _care_membership(user, {meeting.unit_id}) if meeting else None
    if meeting is None or membership is None:
        record_event(
            action="care.meeting.access_denied",
            actor=Actor(user),
            request=request,
            patient=meeting.patient if meeting else None,
            object_type="care.meeting",
            object_id=meeting_id,
            purpose=purpose,
        )
        raise Http404("No such meeting")
    record_event(
        action="care.meeting.viewed",
        actor=Actor(user, membership.role, membership.unit),
        request=request,
        patient=meeting.patient,
        object_type="care.meeting",
        object_id=meeting.pk,
        purpose=purpose,
    )
    return meeting


def get_meeting_for_patient(request: HttpRequest, meeting_id: int) -> Meeting:
    """One of the logged-in patient's own meetings, or 404 (and the attempt recorded)."""
    user = _user(request)
    meeting = (
        Meeting.objects.select_related("patient", "unit", "therapist")
        .filter(pk=meeting_id, patient__user=user)
        .first()
    )
    if meeting is None:
        record_event(
            action="care.meeting.access_denied",
            actor=Actor(user, "patient"),
            request=request,
            object_type="care.meeting",
            object_id=meeting_id,
            purpose="self-service",
        )
        raise Http404("No such meeting")
    record_event(
        action="care.meeting.viewed_own",
        actor=Actor(user, "patient"),
        request=request,
        patient=meeting.patient,
        object_type="care.meeting",
        object_id=meeting.pk,
        purpose="self-service",
    )
    return meeting
