"""Shared personas for tests: one patient, staff in two regions, an author, admins, a referrer.

Staff personas have a TOTP authenticator with a known secret, as staff must.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.conf import settings
from django.utils import timezone

from steg.accounts.models import Membership, Organisation, RegionAdmin, Unit, User
from steg.care.models import Assessment, Enrolment, Patient, Referral
from steg.programmes.actions import import_programme
from steg.programmes.models import Programme, ProgrammeVersion

EXAMPLE_PROGRAMME = Path(settings.BASE_DIR) / "programmes" / "example"

PASSWORD = "Correct-horse-42"  # noqa: S105
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105


def totp_code(secret: str = TOTP_SECRET, *, at: float | None = None) -> str:
    counter = int(at if at is not None else time.time()) // 30
    return format_hotp_value(hotp_value(secret, counter))


@dataclass
class World:
    region: Organisation
    unit: Unit
    other_region: Organisation
    other_unit: Unit
    patient_user: User
    patient: Patient
    enrolment: Enrolment
    other_patient: Patient
    therapist: User
    other_therapist: User
    author: User
    unit_admin: User
    region_admin: User
    referrer: User
    referring_unit: Unit

    def persona(self, name: str) -> User | None:
        return {
            "anonymous": None,
            "patient": self.patient_user,
            "therapist": self.therapist,
            "other_therapist": self.other_therapist,
            "author": self.author,
            "admin": self.unit_admin,
            "region_admin": self.region_admin,
            "referrer": self.referrer,
        }[name]


def make_user(email: str, first_name: str, last_name: str) -> User:
    return User.objects.create_user(email, PASSWORD, first_name=first_name, last_name=last_name)


def make_staff(email: str, name: str, unit: Unit, role: str) -> User:
    first, last = name.split(" ", 1)
    user = make_user(email, first, last)
    Membership.objects.create(user=user, unit=unit, role=role)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, TOTP_SECRET)
    return user


def make_assessment(
    patient: Patient,
    unit: Unit,
    programme: Programme,
    *,
    therapist: User | None = None,
    referrer: User | None = None,
    choice: str = Assessment.Choice.DIGITAL_GUIDED,
    enrolled: bool = False,
) -> Assessment:
    """An assessment talk that chose `programme` (what an enrolment needs), with its referral
    when a referrer is given: assessed and open for a digital choice, closed otherwise or when
    `enrolled`.

    Test scaffolding only; the application goes through steg.care.actions.
    """
    digital = choice in Assessment.DIGITAL_CHOICES
    referral = None
    if referrer is not None:
        closed = enrolled or not digital
        referral = Referral.objects.create(
            patient=patient,
            referring_unit=referrer.staff_memberships[0].unit,
            receiving_unit=unit,
            referrer=referrer,
            status=Referral.Status.CLOSED if closed else Referral.Status.ASSESSED,
            close_reason=(
                ""
                if not closed
                else Referral.CloseReason.ENROLLED
                if digital
                else Referral.CloseReason.OTHER_TREATMENT
            ),
            closed_at=timezone.now() if closed else None,
            tobacco_type="snus",
            tobacco_amount="1 dosa",
            reason="Vill sluta",
            contact_consent=True,
        )
    return Assessment.objects.create(
        referral=referral,
        patient=patient,
        unit=unit,
        therapist=therapist,
        held_on=timezone.localdate(),
        mode="phone",
        tobacco_type="snus",
        tobacco_use="1 dosa per dag",
        motivation=8,
        confidence=6,
        choice=choice,
        choice_reason="Vill arbeta på egen tid",
        programme=programme if digital else None,
    )


def start_treatment(
    patient: Patient,
    unit: Unit,
    version: ProgrammeVersion,
    *,
    therapist: User | None = None,
    quit_date: datetime.date | None = None,
    started_at: datetime.datetime | None = None,
) -> Enrolment:
    """An active enrolment with the assessment it needs (test scaffolding, no audit events)."""
    return Enrolment.objects.create(
        patient=patient,
        unit=unit,
        programme_version=version,
        assessment=make_assessment(patient, unit, version.programme, therapist=therapist),
        therapist=therapist,
        status=Enrolment.Status.ACTIVE,
        started_at=started_at or timezone.now(),
        quit_date=quit_date,
    )


def build_world() -> World:
    region = Organisation.objects.create(name="Region Test")
    unit = Unit.objects.create(
        organisation=region, name="Tobaksavvänjning Testby", accepts_referrals=True
    )
    referring_unit = Unit.objects.create(organisation=region, name="Vårdcentral Testby")
    other_region = Organisation.objects.create(name="Region Annan")
    other_unit = Unit.objects.create(
        organisation=other_region, name="Tobaksavvänjning Annanby", accepts_referrals=True
    )
    therapist = make_staff("therapist@test.example", "Tea Terapeut", unit, "therapist")
    other_therapist = make_staff(
        "other@test.example", "Olle Annan", other_unit, Membership.Role.THERAPIST
    )
    referrer = make_staff(
        "referrer@test.example", "Rolf Remiss", referring_unit, Membership.Role.REFERRER
    )

    patient_user = make_user("patient@test.example", "Pia", "Patient")
    patient = Patient.objects.create(
        user=patient_user,
        personnummer="191212121212",
        first_name="Pia",
        last_name="Patient",
        email="patient@test.example",
    )
    version = import_programme(EXAMPLE_PROGRAMME).version
    enrolment = Enrolment.objects.create(
        patient=patient,
        unit=unit,
        programme_version=version,
        assessment=make_assessment(
            patient, unit, version.programme, therapist=therapist, referrer=referrer, enrolled=True
        ),
        therapist=therapist,
        status=Enrolment.Status.ACTIVE,
        started_at=timezone.now(),
    )
    other_patient = Patient.objects.create(
        personnummer="198112189876", first_name="Otto", last_name="Annan"
    )
    Enrolment.objects.create(
        patient=other_patient,
        unit=other_unit,
        programme_version=version,
        assessment=make_assessment(
            other_patient, other_unit, version.programme, therapist=other_therapist
        ),
        therapist=other_therapist,
        status=Enrolment.Status.ACTIVE,
        started_at=timezone.now(),
    )
    author = make_staff("author@test.example", "Ada Author", unit, Membership.Role.AUTHOR)
    unit_admin = make_staff("admin@test.example", "Adam Admin", unit, Membership.Role.UNIT_ADMIN)
    region_admin = make_user("region@test.example", "Rut", "Region")
    RegionAdmin.objects.create(user=region_admin, organisation=region)
    TOTP.activate(region_admin, TOTP_SECRET)
    return World(
        region=region,
        unit=unit,
        other_region=other_region,
        other_unit=other_unit,
        patient_user=patient_user,
        patient=patient,
        enrolment=enrolment,
        other_patient=other_patient,
        therapist=therapist,
        other_therapist=other_therapist,
        author=author,
        unit_admin=unit_admin,
        region_admin=region_admin,
        referrer=referrer,
        referring_unit=referring_unit,
    )
