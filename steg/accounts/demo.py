"""The demo organisation and accounts loaded by `manage.py load_demo` (and `make run`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from steg.audit.actions import Actor
from steg.care import actions
from steg.care.models import Assessment, Enrolment, Patient, TobaccoType
from steg.dialog.models import MessageTemplate
from steg.programmes.actions import import_programme
from steg.programmes.models import Programme, ProgrammeVersion

from .models import Membership, Organisation, Unit, User

# Published in the README for the demo only; never use these anywhere else.
DEMO_PASSWORD = "Demo-steg-2026"  # noqa: S105
DEMO_TOTP_SECRET = "STEGDEMOSTEGDEMOSTEGDEMOSTEGDEMO"  # noqa: S105
DEMO_REGION = "Region Demo"
DEMO_UNIT = "Tobaksavvänjning Demo vårdcentral"
OTHER_REGION = "Region Grannlandet"
OTHER_UNIT = "Tobaksavvänjning Grannby vårdcentral"
DEMO_HEALTH_CENTRE = "Demo vårdcentral"


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
REFERRER = DemoAccount("referrer", "referrer@steg.example", "Rakel", "Nord")
DEMO_ACCOUNTS = [PATIENT, THERAPIST, OTHER_THERAPIST, AUTHOR, UNIT_ADMIN, REFERRER]
DEMO_PATIENT_PERSONNUMMER = "191212121212"  # Skatteverket's published test number
NEW_REFERRAL_PERSONNUMMER = "197902149876"  # in the 98xx series of Skatteverket's test numbers
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
    health_centre, _ = Unit.objects.get_or_create(organisation=region, name=DEMO_HEALTH_CENTRE)
    other_region, _ = Organisation.objects.get_or_create(name=OTHER_REGION)
    other_unit, _ = Unit.objects.get_or_create(organisation=other_region, name=OTHER_UNIT)
    Unit.objects.filter(pk__in=[unit.pk, other_unit.pk]).update(accepts_referrals=True)
    unit.refresh_from_db()

    therapist = _staff(THERAPIST, unit, Membership.Role.THERAPIST)
    _staff(OTHER_THERAPIST, other_unit, Membership.Role.THERAPIST)
    _staff(AUTHOR, unit, Membership.Role.AUTHOR)
    _staff(UNIT_ADMIN, unit, Membership.Role.UNIT_ADMIN)
    referrer = _staff(REFERRER, health_centre, Membership.Role.REFERRER)

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
            _demo_treatment(patient, unit, health_centre, referrer, therapist, version)
    _demo_message_templates(unit)
    # A new referral in the inbox, for trying the care journey from the start.
    if not Patient.objects.filter(personnummer=NEW_REFERRAL_PERSONNUMMER).exists():
        actions.send_referral(
            referrer=referrer,
            referring_unit=health_centre,
            receiving_unit=unit,
            data=actions.ReferralData(
                personnummer=NEW_REFERRAL_PERSONNUMMER,
                first_name="Nils",
                last_name="Nyström",
                phone="070-111 22 33",
                email="nils@steg.example",
                tobacco_type=TobaccoType.CIGARETTES,
                tobacco_amount="15 cigaretter om dagen",
                reason="Vill sluta röka, har försökt själv två gånger.",
                contact_consent=True,
            ),
        )


def _demo_treatment(
    patient: Patient,
    unit: Unit,
    health_centre: Unit,
    referrer: User,
    therapist: User,
    version: ProgrammeVersion,
) -> Enrolment:
    """The demo patient's way into a programme, through the same steps as anyone's: a referral,
    the assessment talk choosing the programme, enrolment and activation."""
    referral = actions.send_referral(
        referrer=referrer,
        referring_unit=health_centre,
        receiving_unit=unit,
        data=actions.ReferralData(
            personnummer=patient.personnummer,
            first_name=patient.first_name,
            last_name=patient.last_name,
            phone=patient.phone,
            email=patient.email,
            tobacco_type=TobaccoType.SNUS,
            tobacco_amount="En dosa om dagen",
            reason="Vill sluta med snus inför graviditet.",
            contact_consent=True,
        ),
    ).referral
    assessment = actions.record_assessment(
        referral,
        therapist=therapist,
        data=actions.AssessmentData(
            held_on=timezone.localdate(),
            mode="phone",
            tobacco_type=TobaccoType.SNUS,
            tobacco_use="En dosa om dagen sedan tio år.",
            motivation=8,
            confidence=6,
            notes="Demo: samtal per telefon.",
            choice=Assessment.Choice.DIGITAL_GUIDED,
            choice_reason="Vill arbeta på egen tid med stöd.",
            programme=version.programme,
        ),
    )
    enrolment = actions.enrol_patient(assessment=assessment, actor=therapist, version=version)
    enrolment.terms_version = settings.STEG_TERMS_VERSION
    enrolment.consented_at = timezone.now()
    enrolment.save(update_fields=["terms_version", "consented_at"])
    return actions.activate_enrolment(enrolment, actor=Actor(patient.user, "patient"), request=None)


# The demo unit's message templates (Swedish, with placeholders; see docs/messages.md): the
# title, whether it is for the tobacco programme only, and the text.
DEMO_MESSAGE_TEMPLATES = [
    (
        "Välkommen",
        False,
        "Hej {first_name}!\n\n"
        "Välkommen! Jag heter {therapist_name} och är din behandlare. Här kan du skriva till mig "
        "när du vill, så svarar jag så snart jag kan, oftast inom två arbetsdagar.\n\n"
        "Börja gärna med det första steget i lugn och ro, och hör av dig om något är oklart.\n\n"
        "Vänliga hälsningar\n{therapist_name}",
    ),
    (
        "Slutdagen: uppmuntran",
        True,
        "Hej {first_name}!\n\n"
        "I dag är dagen! Du har bestämt dig för att sluta, och det är ett stort steg. Suget kommer "
        "och går, och det brukar gå över på några minuter. Drick ett glas vatten, ta en promenad "
        "eller ring någon när det känns tufft.\n\n"
        "Jag tänker på dig i dag. Skriv gärna och berätta hur det går!\n\n"
        "{therapist_name}",
    ),
    (
        "Efter ett snedsteg",
        True,
        "Hej {first_name}!\n\n"
        "Tack för att du berättar. Ett snedsteg betyder inte att du har misslyckats: många som "
        "till slut blir tobaksfria har snubblat på vägen. Sedan din slutdag den {quit_date} har "
        "det gått {days_tobacco_free} dagar, och du har visat att du klarar mycket.\n\n"
        "Fundera på vad som hände just då: var var du, vem var du med och hur kände du dig? Då är "
        "du bättre förberedd nästa gång. Släng det som finns kvar och fortsätt som förut.\n\n"
        "Hör av dig om du vill prata om det.\n\n"
        "{therapist_name}",
    ),
    (
        "Grattis till de tobaksfria dagarna",
        True,
        "Hej {first_name}!\n\n"
        "Nu har det gått {days_tobacco_free} dagar sedan din slutdag. Grattis, det är riktigt bra "
        "gjort! Titta gärna i sparkalkylen hur mycket du redan har sparat.\n\n"
        "{therapist_name}",
    ),
]


def _demo_message_templates(unit: Unit) -> None:
    """A few message templates for the demo unit; loading the demo again changes nothing."""
    tobacco = Programme.objects.filter(slug="tobacco-cessation").first()
    for title, tobacco_only, body in DEMO_MESSAGE_TEMPLATES:
        MessageTemplate.objects.get_or_create(
            unit=unit,
            title=title,
            defaults={"body": body, "programme": tobacco if tobacco_only else None},
        )
