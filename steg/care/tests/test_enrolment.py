"""Enrolment needs a recorded assessment talk that chose the digital programme — every way round.

And the treatment's lifecycle: invited → active ⇄ paused → completed | discontinued, each change
with who, when and why; handover within the unit; guided or self-help.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care import actions
from steg.care.models import Assessment, Enrolment, EnrolmentEvent, Patient
from steg.lib.personnummer import luhn_check_digit
from steg.programmes.actions import import_programme
from steg.programmes.models import ProgrammeVersion
from steg.testing.personas import World, make_assessment

TOBACCO_PROGRAMME = Path(settings.BASE_DIR) / "programmes" / "tobacco-cessation"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def newcomer(world: World) -> Patient:
    return Patient.objects.create(
        personnummer=f"19500101123{luhn_check_digit('500101123')}",
        first_name="Nils",
        last_name="Nykomling",
        email="nils@test.example",
        phone="070-123 45 67",
    )


@pytest.fixture
def version(world: World) -> ProgrammeVersion:
    return world.enrolment.programme_version


def assessment_for(
    world: World, patient: Patient, version: ProgrammeVersion, choice: str = "digital_guided"
) -> Assessment:
    return make_assessment(
        patient,
        world.unit,
        version.programme,
        therapist=world.therapist,
        referrer=world.referrer,
        choice=choice,
    )


def audit_actions(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- every way to enrol without the right assessment fails ----------------------------------


@pytest.mark.parametrize("choice", ["counselling", "app", "none"])
def test_the_action_refuses_an_assessment_that_chose_another_treatment(
    world: World, newcomer: Patient, version: ProgrammeVersion, choice: str
) -> None:
    assessment = assessment_for(world, newcomer, version, choice)
    with pytest.raises(actions.CareError) as refused:
        actions.enrol_patient(assessment=assessment, actor=world.therapist)
    assert refused.value.code == "not_digital"
    assert not Enrolment.objects.filter(patient=newcomer).exists()
    assert not audit_actions("care.enrolment.created")


def test_the_action_refuses_a_version_of_another_programme(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    other = import_programme(TOBACCO_PROGRAMME).version
    assessment = assessment_for(world, newcomer, version)
    with pytest.raises(actions.CareError) as refused:
        actions.enrol_patient(assessment=assessment, actor=world.therapist, version=other)
    assert refused.value.code == "programme"
    assert not Enrolment.objects.filter(patient=newcomer).exists()


def test_the_action_refuses_staff_of_another_unit_and_other_roles(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    assessment = assessment_for(world, newcomer, version)
    for outsider in (world.other_therapist, world.author, world.referrer, world.region_admin):
        with pytest.raises(actions.CareError):
            actions.enrol_patient(assessment=assessment, actor=outsider)
    assert not Enrolment.objects.filter(patient=newcomer).exists()


def test_one_assessment_gives_at_most_one_enrolment(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    assessment = assessment_for(world, newcomer, version)
    first = actions.enrol_patient(assessment=assessment, actor=world.therapist)
    actions.change_status(first, "discontinued", actor=world.therapist, reason="Flyttat")
    with pytest.raises(actions.CareError) as refused:
        actions.enrol_patient(assessment=assessment, actor=world.therapist)
    assert refused.value.code == "assessment_used"
    assert Enrolment.objects.filter(patient=newcomer).count() == 1


def test_a_patient_has_at_most_one_open_treatment_per_programme(
    world: World, version: ProgrammeVersion
) -> None:
    # The world's patient is already active in the example programme.
    assessment = assessment_for(world, world.patient, version)
    with pytest.raises(actions.CareError) as refused:
        actions.enrol_patient(assessment=assessment, actor=world.therapist)
    assert refused.value.code == "open"


def test_the_database_refuses_an_enrolment_without_an_assessment(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.create(patient=newcomer, unit=world.unit, programme_version=version)


def test_the_database_refuses_a_digital_choice_without_a_programme(
    world: World, newcomer: Patient
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Assessment.objects.create(
            patient=newcomer,
            unit=world.unit,
            therapist=world.therapist,
            held_on=timezone.localdate(),
            mode="phone",
            tobacco_type="snus",
            tobacco_use="x",
            motivation=5,
            confidence=5,
            choice="digital_guided",
            choice_reason="x",
            programme=None,
        )


def test_the_enrol_page_for_another_treatment_choice_offers_no_form_and_refuses_a_post(
    world: World, newcomer: Patient, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    assessment = assessment_for(world, newcomer, version, "counselling")
    url = reverse("care:enrol", args=[assessment.pk])
    therapist = client_as("therapist")

    page = therapist.get(url)
    assert page.status_code == 200
    assert b'name="version"' not in page.content
    assert "did not choose the digital programme" in page.content.decode() or (
        "valde inte det digitala" in page.content.decode()
    )

    posted = therapist.post(url, {"version": version.pk, "therapist": world.therapist.pk})
    assert posted.status_code == 409
    assert not Enrolment.objects.filter(patient=newcomer).exists()


def test_a_tampered_version_from_another_programme_is_refused_by_the_form(
    world: World, newcomer: Patient, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    other = import_programme(TOBACCO_PROGRAMME).version
    assessment = assessment_for(world, newcomer, version)
    response = client_as("therapist").post(
        reverse("care:enrol", args=[assessment.pk]),
        {"version": other.pk, "therapist": world.therapist.pk},
    )
    assert response.status_code == 422
    assert not Enrolment.objects.filter(patient=newcomer).exists()


def test_a_tampered_therapist_from_another_unit_is_refused(
    world: World, newcomer: Patient, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    assessment = assessment_for(world, newcomer, version)
    response = client_as("therapist").post(
        reverse("care:enrol", args=[assessment.pk]),
        {"version": version.pk, "therapist": world.other_therapist.pk},
    )
    assert response.status_code == 422
    assert not Enrolment.objects.filter(patient=newcomer).exists()


def test_staff_of_another_unit_cannot_reach_the_enrol_page_and_the_attempt_is_audited(
    world: World, newcomer: Patient, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    assessment = assessment_for(world, newcomer, version)
    url = reverse("care:enrol", args=[assessment.pk])
    for persona in ("other_therapist", "author", "referrer", "region_admin", "patient"):
        assert client_as(persona).get(url).status_code == 404
        assert client_as(persona).post(url, {"version": version.pk}).status_code == 404
    assert not Enrolment.objects.filter(patient=newcomer).exists()
    denied = audit_actions("care.assessment.access_denied")
    assert len(denied) == 10
    assert all(event.patient == newcomer for event in denied)


def test_there_is_no_admin_site_to_create_enrolments_in(client_as: Callable[[str], Client]) -> None:
    assert "django.contrib.admin" not in settings.INSTALLED_APPS
    assert client_as("admin").get("/admin/").status_code == 404


def test_only_the_enrolment_action_creates_enrolments() -> None:
    # Any future view, API or command must go through actions.enrol_patient: no other
    # application code creates an Enrolment.
    root = Path(settings.BASE_DIR) / "steg"
    creators = []
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts or path.parts[-2] == "testing":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("create", "bulk_create", "get_or_create", "update_or_create")
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "objects"
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "Enrolment"
            ):
                creators.append(f"{path.relative_to(root)}:{node.lineno}")
    assert len(creators) == 1 and creators[0].startswith("care/actions.py"), creators


# --- enrolling through the page ----------------------------------------------------------------


def test_enrolling_after_a_digital_assessment_invites_the_patient(
    world: World, newcomer: Patient, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    assessment = assessment_for(world, newcomer, version, "digital_self_help")
    response = client_as("therapist").post(
        reverse("care:enrol", args=[assessment.pk]),
        {"version": version.pk, "therapist": world.therapist.pk, "quit_date": ""},
    )
    enrolment = Enrolment.objects.get(patient=newcomer)
    assert response.status_code == 302
    assert response["Location"] == reverse("care:enrolment_manage", args=[enrolment.pk])
    assert enrolment.status == Enrolment.Status.INVITED
    assert enrolment.assessment == assessment
    assert enrolment.guided is False
    assert enrolment.therapist == world.therapist
    assert enrolment.invitations.count() == 1
    referral = assessment.referral
    assert referral is not None
    referral.refresh_from_db()
    assert referral.status == "closed"
    assert referral.close_reason == "enrolled"
    [event] = audit_actions("care.enrolment.created")
    assert event.actor == world.therapist and event.patient == newcomer


def test_the_invited_patient_cannot_open_the_treatment_before_activating(
    world: World, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    other = import_programme(TOBACCO_PROGRAMME).version
    assessment = assessment_for(world, world.patient, other)
    enrolment = actions.enrol_patient(assessment=assessment, actor=world.therapist)
    patient = client_as("patient")
    assert patient.get(reverse("programmes:overview", args=[enrolment.pk])).status_code == 404
    start = patient.get(reverse("care:patient_start")).content.decode()
    assert reverse("programmes:overview", args=[enrolment.pk]) not in start
    assert reverse("care:invitation_code") in start


# --- lifecycle ---------------------------------------------------------------------------------


def status_url(enrolment: Enrolment) -> str:
    return reverse("care:enrolment_status", args=[enrolment.pk])


def test_pause_needs_a_reason_and_changes_nothing_without_one(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").post(
        status_url(world.enrolment), {"status": "paused", "reason": "  "}
    )
    assert response.status_code == 422
    world.enrolment.refresh_from_db()
    assert world.enrolment.status == "active"
    assert not EnrolmentEvent.objects.filter(enrolment=world.enrolment).exists()


def test_pause_and_resume_are_recorded_with_who_when_and_why(
    world: World, client_as: Callable[[str], Client]
) -> None:
    therapist = client_as("therapist")
    paused = therapist.post(
        status_url(world.enrolment), {"status": "paused", "reason": "Semester två veckor"}
    )
    assert paused.status_code == 302
    world.enrolment.refresh_from_db()
    assert world.enrolment.status == "paused"
    # Repeating the same request changes nothing more.
    therapist.post(status_url(world.enrolment), {"status": "paused", "reason": "igen"})
    resumed = client_as("admin").post(status_url(world.enrolment), {"status": "active"})
    assert resumed.status_code == 302
    world.enrolment.refresh_from_db()
    assert world.enrolment.status == "active"

    events = list(EnrolmentEvent.objects.filter(enrolment=world.enrolment))
    assert [(e.old_value, e.new_value, e.actor, e.reason) for e in events] == [
        ("active", "paused", world.therapist, "Semester två veckor"),
        ("paused", "active", world.unit_admin, ""),
    ]
    audited = audit_actions("care.enrolment.status_changed")
    assert [e.detail["to"] for e in audited] == ["paused", "active"]
    assert audited[0].detail["reason"] == "Semester två veckor"
    page = therapist.get(reverse("care:enrolment_manage", args=[world.enrolment.pk]))
    assert "Semester två veckor" in page.content.decode()


def test_a_paused_treatment_is_readable_but_not_writable_for_the_patient(
    world: World, client_as: Callable[[str], Client]
) -> None:
    actions.change_status(world.enrolment, "paused", actor=world.therapist, reason="Paus")
    patient = client_as("patient")
    assert (
        patient.get(reverse("programmes:page", args=[world.enrolment.pk, "welcome"])).status_code
        == 200
    )
    start = patient.get(reverse("care:patient_start")).content.decode()
    assert "paus" in start.lower()


def test_a_completed_treatment_stays_readable_and_printable(
    world: World, client_as: Callable[[str], Client]
) -> None:
    actions.change_status(world.enrolment, "completed", actor=world.therapist)
    world.enrolment.refresh_from_db()
    assert world.enrolment.ended_at is not None
    patient = client_as("patient")
    assert patient.get(reverse("programmes:overview", args=[world.enrolment.pk])).status_code == 200
    assert (
        patient.get(reverse("programmes:page", args=[world.enrolment.pk, "welcome"])).status_code
        == 200
    )
    assert patient.get(reverse("programmes:pdf", args=[world.enrolment.pk])).status_code == 200


def test_a_closed_treatment_cannot_be_reopened(
    world: World, client_as: Callable[[str], Client]
) -> None:
    actions.change_status(world.enrolment, "discontinued", actor=world.therapist, reason="Avbröt")
    response = client_as("therapist").post(status_url(world.enrolment), {"status": "active"})
    assert response.status_code == 422
    world.enrolment.refresh_from_db()
    assert world.enrolment.status == "discontinued"


def test_staff_cannot_activate_an_invited_treatment_for_the_patient(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    enrolment = actions.enrol_patient(
        assessment=assessment_for(world, newcomer, version), actor=world.therapist
    )
    with pytest.raises(actions.CareError) as refused:
        actions.change_status(enrolment, "active", actor=world.therapist)
    assert refused.value.code == "invited"


def test_an_unknown_status_is_refused_clearly(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").post(status_url(world.enrolment), {"status": "deleted"})
    assert response.status_code == 422
    world.enrolment.refresh_from_db()
    assert world.enrolment.status == "active"


def test_handover_goes_to_a_therapist_of_the_same_unit_only(
    world: World, client_as: Callable[[str], Client]
) -> None:
    url = reverse("care:enrolment_therapist", args=[world.enrolment.pk])
    therapist = client_as("therapist")
    refused = therapist.post(url, {"therapist": world.other_therapist.pk})
    assert refused.status_code == 422
    world.enrolment.refresh_from_db()
    assert world.enrolment.therapist == world.therapist

    handed = therapist.post(url, {"therapist": world.unit_admin.pk, "reason": "Föräldraledig"})
    assert handed.status_code == 302
    world.enrolment.refresh_from_db()
    assert world.enrolment.therapist == world.unit_admin
    [event] = EnrolmentEvent.objects.filter(enrolment=world.enrolment, kind="therapist")
    assert event.reason == "Föräldraledig"
    assert audit_actions("care.enrolment.therapist_changed")[0].detail == {
        "from": world.therapist.pk,
        "to": world.unit_admin.pk,
    }


def test_guided_and_self_help_can_be_switched(
    world: World, client_as: Callable[[str], Client]
) -> None:
    url = reverse("care:enrolment_guidance", args=[world.enrolment.pk])
    assert client_as("therapist").post(url, {"guidance": "self_help"}).status_code == 302
    world.enrolment.refresh_from_db()
    assert world.enrolment.guided is False
    assert client_as("therapist").post(url, {"guidance": "robot"}).status_code == 422


@pytest.mark.parametrize(
    "name", ["care:enrolment_status", "care:enrolment_therapist", "care:enrolment_guidance"]
)
def test_staff_of_another_unit_cannot_change_a_treatment(
    world: World, client_as: Callable[[str], Client], name: str
) -> None:
    url = reverse(name, args=[world.enrolment.pk])
    response = client_as("other_therapist").post(
        url, {"status": "paused", "reason": "x", "therapist": world.other_therapist.pk}
    )
    assert response.status_code == 404
    world.enrolment.refresh_from_db()
    assert world.enrolment.status == "active" and world.enrolment.therapist == world.therapist
    assert audit_actions("care.enrolment.access_denied")


# --- the staff's patient record ------------------------------------------------------------


def test_the_record_shows_referrals_assessments_treatments_and_meetings(
    world: World, client_as: Callable[[str], Client]
) -> None:
    page = client_as("therapist").get(reverse("care:patient_record", args=[world.patient.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "19121212-1212" in html
    assert world.referring_unit.name in html  # the referral
    assert reverse("care:referral_detail", args=[world.enrolment.assessment.referral_id]) in html
    assert "Vill arbeta på egen tid" in html  # the assessment's reason
    assert reverse("care:enrolment_manage", args=[world.enrolment.pk]) in html
    assert reverse("care:meeting_new", args=[world.patient.pk]) in html


def test_the_record_runs_a_fixed_number_of_queries(
    world: World,
    client_as: Callable[[str], Client],
    version: ProgrammeVersion,
) -> None:
    client = client_as("therapist")
    url = reverse("care:patient_record", args=[world.patient.pk])
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for _ in range(5):
        make_assessment(
            world.patient,
            world.unit,
            version.programme,
            therapist=world.therapist,
            referrer=world.referrer,
            choice="none",
        )
    with CaptureQueriesContext(connection) as large:
        client.get(url)
    assert len(large.captured_queries) == len(small.captured_queries)


# --- what closes with a referral or a treatment --------------------------------------------


def test_an_assessment_whose_referral_was_closed_afterwards_cannot_lead_to_enrolment(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    assessment = assessment_for(world, newcomer, version)
    assert assessment.referral is not None
    actions.close_referral(assessment.referral, reason="declined", actor=world.therapist)
    with pytest.raises(actions.CareError) as refused:
        actions.enrol_patient(assessment=assessment, actor=world.therapist)
    assert refused.value.code == "referral_closed"
    assert not Enrolment.objects.filter(patient=newcomer).exists()


def test_a_referral_closed_without_a_talk_leaves_no_care_relation(
    world: World, newcomer: Patient, client_as: Callable[[str], Client]
) -> None:
    from steg.care.models import Referral

    referral = Referral.objects.create(
        patient=newcomer,
        referring_unit=world.referring_unit,
        receiving_unit=world.unit,
        referrer=world.referrer,
        tobacco_type="snus",
        tobacco_amount="1",
        reason="x",
        contact_consent=True,
    )
    record = reverse("care:patient_record", args=[newcomer.pk])
    assert client_as("therapist").get(record).status_code == 200
    actions.close_referral(referral, reason="wrong_unit", actor=world.therapist)
    assert client_as("therapist").get(record).status_code == 404
    # The closed referral itself stays readable in the unit's inbox.
    detail = reverse("care:referral_detail", args=[referral.pk])
    assert client_as("therapist").get(detail).status_code == 200


def test_ending_a_treatment_cancels_its_coming_meetings_and_its_invitations(
    world: World, newcomer: Patient, version: ProgrammeVersion
) -> None:
    import datetime

    from steg.care.invitations import send_invitation
    from steg.care.models import Meeting

    enrolment = actions.enrol_patient(
        assessment=assessment_for(world, newcomer, version), actor=world.therapist
    )
    issued = send_invitation(enrolment, actor=world.therapist)
    start = timezone.now() + datetime.timedelta(days=2)
    meeting = Meeting.objects.create(
        patient=newcomer,
        unit=world.unit,
        therapist=world.therapist,
        enrolment=enrolment,
        kind="follow_up",
        mode="phone",
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
    )
    actions.change_status(enrolment, "discontinued", actor=world.therapist, reason="Avböjde")
    meeting.refresh_from_db()
    issued.invitation.refresh_from_db()
    assert meeting.status == "cancelled"
    assert issued.invitation.revoked_at is not None


def test_an_ended_treatment_cannot_be_handed_over_or_switched(world: World) -> None:
    actions.change_status(world.enrolment, "completed", actor=world.therapist)
    with pytest.raises(actions.CareError):
        actions.assign_therapist(world.enrolment, therapist=world.unit_admin, actor=world.therapist)
    with pytest.raises(actions.CareError):
        actions.set_guidance(world.enrolment, guided=False, actor=world.therapist)
    world.enrolment.refresh_from_db()
    assert world.enrolment.therapist == world.therapist and world.enrolment.guided
