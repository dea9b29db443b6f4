"""The patient's start page and the staff's view of patients at their units."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from steg.programmes.outline import get_outline
from steg.programmes.progress import load_progress
from steg.questionnaires.due import due_items

from . import access
from .models import CARE_ROLES


@login_required
def patient_start(request: HttpRequest) -> HttpResponse:
    """My treatments."""
    patient = access.get_own_patient(request)
    enrolments = access.own_enrolments(patient) if patient else []
    due = due_items(enrolments, timezone.localdate(), get_language() or "sv")
    return render(
        request,
        "care/patient_start.html",
        {"patient": patient, "enrolments": enrolments, "due": due},
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
            "progress": load_progress(
                enrolment, get_outline(enrolment.programme_version, language)
            ),
        }
        for enrolment in enrolments
    ]
    return render(
        request, "care/patient_record.html", {"patient": patient, "treatments": treatments}
    )
