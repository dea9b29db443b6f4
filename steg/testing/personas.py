"""Shared personas for tests: one patient, staff in two regions, an author and an admin.

Staff personas have a TOTP authenticator with a known secret, as staff must.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.conf import settings
from django.utils import timezone

from steg.accounts.models import Membership, Organisation, RegionAdmin, Unit, User
from steg.care.models import Enrolment, Patient
from steg.programmes.actions import import_programme

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

    def persona(self, name: str) -> User | None:
        return {
            "anonymous": None,
            "patient": self.patient_user,
            "therapist": self.therapist,
            "other_therapist": self.other_therapist,
            "author": self.author,
            "admin": self.unit_admin,
            "region_admin": self.region_admin,
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


def build_world() -> World:
    region = Organisation.objects.create(name="Region Test")
    unit = Unit.objects.create(organisation=region, name="Tobaksavvänjning Testby")
    other_region = Organisation.objects.create(name="Region Annan")
    other_unit = Unit.objects.create(organisation=other_region, name="Tobaksavvänjning Annanby")

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
        status=Enrolment.Status.ACTIVE,
        started_at=timezone.now(),
    )
    therapist = make_staff("therapist@test.example", "Tea Terapeut", unit, "therapist")
    other_therapist = make_staff(
        "other@test.example", "Olle Annan", other_unit, Membership.Role.THERAPIST
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
    )
