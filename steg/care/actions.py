"""Operations on patients' treatments. Each is one transaction with its audit event."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from steg.accounts.models import Unit
from steg.audit.actions import Actor, record_event
from steg.programmes.models import ProgrammeVersion

from .models import Enrolment, Patient


@transaction.atomic
def enrol_patient(
    *,
    patient: Patient,
    unit: Unit,
    version: ProgrammeVersion,
    actor: Actor,
    request: HttpRequest | None = None,
    status: str = Enrolment.Status.ACTIVE,
    quit_date: datetime.date | None = None,
) -> Enrolment:
    """Enrol a patient in a programme version at a unit (the care-journey issue adds the
    mandatory assessment and the invitation in front of this)."""
    enrolment = Enrolment.objects.create(
        patient=patient,
        unit=unit,
        programme_version=version,
        status=status,
        started_at=timezone.now() if status == Enrolment.Status.ACTIVE else None,
        quit_date=quit_date,
    )
    record_event(
        action="care.enrolment.created",
        actor=actor,
        request=request,
        patient=patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={"programme": version.programme.slug, "version": version.number},
    )
    return enrolment
