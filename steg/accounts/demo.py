"""The demo organisation and accounts loaded by `manage.py load_demo` (and `make run`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.db import transaction

from steg.audit.actions import Actor
from steg.care.actions import enrol_patient
from steg.care.models import Enrolment, Patient
from steg.programmes.actions import import_programme

from .models import Membership, Organisation, Unit, User

# Published in the README for the demo only; never use these anywhere else.
DEMO_PASSWORD = "Demo-steg-2026"  # noqa: S105
DEMO_TOTP_SECRET = "STEGDEMOSTEGDEMOSTEGDEMOSTEGDEMO"  # noqa: S105
DEMO_REGION = "Region Demo"
DEMO_UNIT = "Tobaksavvänjning Demo vårdcentral"
OTHER_REGION = "Region Grannlandet"
OTHER_UNIT = "Tobaksavvänjning Grannby vårdcentral"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    first_name: str
    last_name: str


PATIENT = DemoAccount("patient", "patient@steg.example", "Alva", "Andersson")
THERAPIST = DemoAccount("therapist", "therapist@steg.example", "Tove", "Berg")
OTHER_THERAPIST = DemoAccount("therapist (other region)", "therapist2@steg.example", "Olle", "Ek")
AUTHOR = DemoAccount("author", "author@steg.example", "Ada", "Lind")
UNIT_ADMIN = DemoAccount("unit admin", "admin@steg.example", "Mats", "Holm")
DEMO_ACCOUNTS = [PATIENT, THERAPIST, OTHER_THERAPIST, AUTHOR, UNIT_ADMIN]
DEMO_PATIENT_PERSONNUMMER = "191212121212"  # Skatteverket's published test number
DEMO_PROGRAMME = Path(settings.BASE_DIR) / "programmes" / "example"
TOBACCO_PROGRAMME = Path(settings.BASE_DIR) / "programmes" / "tobacco-cessation"


def _user(account: DemoAccount) -> User:
    user, created = User.objects.get_or_create(
        email=account.email,
        defaults={"first_name": account.first_name, "last_name": account.last_name},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _staff(account: DemoAccount, unit: Unit, role: str) -> User:
    user = _user(account)
    Membership.objects.get_or_create(user=user, unit=unit, role=role)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
        RecoveryCodes.activate(user)
    return user


@transaction.atomic
def load_demo() -> None:
    region, _ = Organisation.objects.get_or_create(name=DEMO_REGION)
    unit, _ = Unit.objects.get_or_create(organisation=region, name=DEMO_UNIT)
    other_region, _ = Organisation.objects.get_or_create(name=OTHER_REGION)
    other_unit, _ = Unit.objects.get_or_create(organisation=other_region, name=OTHER_UNIT)

    therapist = _staff(THERAPIST, unit, Membership.Role.THERAPIST)
    _staff(OTHER_THERAPIST, other_unit, Membership.Role.THERAPIST)
    _staff(AUTHOR, unit, Membership.Role.AUTHOR)
    _staff(UNIT_ADMIN, unit, Membership.Role.UNIT_ADMIN)

    patient_user = _user(PATIENT)
    patient, _ = Patient.objects.get_or_create(
        personnummer=DEMO_PATIENT_PERSONNUMMER,
        defaults={
            "user": patient_user,
            "first_name": PATIENT.first_name,
            "last_name": PATIENT.last_name,
            "email": PATIENT.email,
            "phone": "070-000 00 00",
        },
    )
    for folder in (DEMO_PROGRAMME, TOBACCO_PROGRAMME):
        version = import_programme(folder).version
        if not Enrolment.objects.filter(
            patient=patient, programme_version__programme=version.programme
        ).exists():
            enrol_patient(
                patient=patient,
                unit=unit,
                version=version,
                actor=Actor(therapist, Membership.Role.THERAPIST, unit),
            )
