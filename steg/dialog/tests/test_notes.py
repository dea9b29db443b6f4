"""Internal notes on a treatment: for the care team only, never shown to the patient, every read
and every note recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.dialog.models import InternalNote
from steg.testing.personas import World

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

NOTE = "Ringde 14:00, svarade inte. Försöker igen i morgon."


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def english(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def notes_url(enrolment: Enrolment) -> str:
    return reverse("dialog:notes", args=[enrolment.pk])


def add_note(client: Client, enrolment: Enrolment, body: str = NOTE, form: str = "n1") -> Response:
    """Add a note from the form whose one-time token is `form`."""
    return client.post(notes_url(enrolment), {"body": body, "token": form})


def test_a_therapist_adds_a_note_and_colleagues_read_it(
    world: World, english: Callable[[str], Client]
) -> None:
    response = add_note(english("therapist"), world.enrolment)
    assert response.status_code == 302
    note = InternalNote.objects.get()
    assert (note.author, note.body) == (world.therapist, NOTE)
    page = english("admin").get(notes_url(world.enrolment))
    assertContains(page, NOTE)
    assertContains(page, "Tea Terapeut")


def test_adding_and_reading_notes_is_recorded(
    world: World, english: Callable[[str], Client]
) -> None:
    add_note(english("therapist"), world.enrolment)
    added = AuditEvent.objects.get(action="dialog.note.added")
    assert added.actor == world.therapist
    assert added.patient == world.patient
    assert NOTE not in str(added.detail)
    english("admin").get(notes_url(world.enrolment))
    read = AuditEvent.objects.get(action="dialog.notes.viewed")
    assert read.actor == world.unit_admin
    assert read.actor_role == "unit_admin"
    assert read.detail["notes"] == [InternalNote.objects.get().pk]


def test_notes_are_never_shown_to_the_patient(
    world: World, english: Callable[[str], Client]
) -> None:
    add_note(english("therapist"), world.enrolment)
    patient = english("patient")
    assert patient.get(notes_url(world.enrolment)).status_code == 404
    assert add_note(patient, world.enrolment, "Från patienten", form="p1").status_code == 404
    assert InternalNote.objects.count() == 1
    assert AuditEvent.objects.filter(
        action="care.enrolment.access_denied", actor=world.patient_user
    ).exists()
    for url in (
        reverse("care:patient_start"),
        reverse("programmes:overview", args=[world.enrolment.pk]),
        reverse("dialog:patient_messages", args=[world.enrolment.pk]),
        reverse("questionnaires:list", args=[world.enrolment.pk]),
    ):
        page = patient.get(url)
        assert page.status_code == 200, url
        assertNotContains(page, "Ringde 14:00")
        assertNotContains(page, notes_url(world.enrolment))


def test_another_units_therapist_gets_404(world: World, english: Callable[[str], Client]) -> None:
    other = english("other_therapist")
    assert other.get(notes_url(world.enrolment)).status_code == 404
    assert add_note(other, world.enrolment).status_code == 404
    assert not InternalNote.objects.exists()


def test_the_same_form_sent_twice_stores_one_note(
    world: World, english: Callable[[str], Client]
) -> None:
    therapist = english("therapist")
    add_note(therapist, world.enrolment, form="same")
    add_note(therapist, world.enrolment, form="same")
    assert InternalNote.objects.count() == 1
    assert AuditEvent.objects.filter(action="dialog.note.added").count() == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [(" \n ", "Write the note before you save it."), ("x" * 5001, "The note is 5001 characters")],
)
def test_empty_or_over_long_notes_are_refused(
    world: World, english: Callable[[str], Client], body: str, error: str
) -> None:
    response = add_note(english("therapist"), world.enrolment, body)
    assertContains(response, error, status_code=422)
    assert not InternalNote.objects.exists()


def test_markup_in_notes_is_shown_as_text(world: World, english: Callable[[str], Client]) -> None:
    add_note(english("therapist"), world.enrolment, "<script>alert(1)</script>")
    page = english("therapist").get(notes_url(world.enrolment))
    assertNotContains(page, "<script>alert(1)</script>")
    assertContains(page, "&lt;script&gt;alert(1)&lt;/script&gt;")


def test_a_closed_treatment_can_still_get_notes(
    world: World, english: Callable[[str], Client]
) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.COMPLETED)
    assert add_note(english("therapist"), world.enrolment).status_code == 302
