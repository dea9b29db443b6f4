"""The patient's start page and the staff's view of patients at their units."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from steg.programmes.outline import get_outline, get_version
from steg.programmes.progress import load_progress
from steg.questionnaires.due import due_items

from . import access
from .meetings import meetings_for_record
from .models import CARE_ROLES, Assessment, Enrolment, Meeting, Patient, Referral


def _own_enrolments(patient: Patient) -> list[Enrolment]:
    """The patient's enrolments, newest first, as ``access.own_enrolments`` has them but with
    each programme version from the process cache (versions never change) instead of read and
    parsed again, and without the therapist, whom the start page does not show."""
    rows = (
        patient.enrolments.select_related("unit")
        .annotate(version_hash=F("programme_version__content_hash"))
        .order_by("-created_at")
    )
    enrolments: list[Enrolment] = []
    for enrolment in rows:
        enrolment.programme_version = get_version(
            enrolment.programme_version_id, enrolment.version_hash
        )
        enrolments.append(enrolment)
    return enrolments


@login_required
def patient_start(request: HttpRequest) -> HttpResponse:
    """My treatments."""
    patient = access.get_own_patient(request)
    everything = _own_enrolments(patient) if patient else []
    # An invited treatment is not the patient's to open until they accept the invitation.
    enrolments = [e for e in everything if e.status != Enrolment.Status.INVITED]
    invited = [e for e in everything if e.status == Enrolment.Status.INVITED]
    due = due_items(enrolments, timezone.localdate(), get_language() or "sv")
    upcoming = (
        list(
            Meeting.objects.filter(
                patient=patient, status=Meeting.Status.BOOKED, ends_at__gte=timezone.now()
            ).order_by("starts_at")[:3]
        )
        if patient
        else []
    )
    return render(
        request,
        "care/patient_start.html",
        {
            "patient": patient,
            "enrolments": enrolments,
            "invited": invited,
            "due": due,
            "upcoming_meetings": upcoming,
        },
    )


@login_required
def unit_patients(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit, membership = access.get_unit_for_staff(request, unit_id)
    page = access.list_unit_patients(
        request, unit=unit, membership=membership, page_number=request.GET.get("page")
    )
    return render(request, "care/unit_patients.html", {"unit": unit, "page": page})


@login_required
def patient_record(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Everything about a patient at the units where the staff member works: identity, contact,
    referrals, assessment talks, treatments and meetings."""
    patient = access.get_patient_for_staff(request, patient_id, purpose="care")
    user = request.user
    my_units = {
        m.unit_id
        for m in user.staff_memberships  # type: ignore[union-attr]
        if m.role in CARE_ROLES
    }
    enrolments = [e for e in access.own_enrolments(patient) if e.unit_id in my_units]
    language = get_language() or "sv"
    treatments = [
        {
            "enrolment": enrolment,
            # Nothing to show before the patient has started.
            "progress": None
            if enrolment.status == Enrolment.Status.INVITED
            else load_progress(enrolment, get_outline(enrolment.programme_version, language)),
        }
        for enrolment in enrolments
    ]
    referrals = list(
        Referral.objects.filter(patient=patient, receiving_unit_id__in=my_units)
        .select_related("referring_unit", "receiving_unit", "referrer", "assigned_to")
        .order_by("-created_at", "-pk")
    )
    assessments = list(
        Assessment.objects.filter(patient=patient, unit_id__in=my_units)
        .select_related("therapist", "programme", "unit")
        .prefetch_related("enrolments")
        .order_by("-held_on", "-pk")
    )
    return render(
        request,
        "care/patient_record.html",
        {
            "patient": patient,
            "treatments": treatments,
            "referrals": referrals,
            "assessments": assessments,
            "meetings": meetings_for_record(patient, my_units),
            "can_book": bool(my_units & access.care_unit_ids(patient)),
        },
    )
