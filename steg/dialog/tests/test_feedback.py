"""Feedback on what the patient submitted: given by the care team on the patient's own submitted
exercises and questionnaires only, shown to the patient next to the answer and in the
conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.dialog import messages as dialog
from steg.dialog.models import Message, Notification
from steg.programmes.models import ExerciseAnswer, Page, StepOpening
from steg.questionnaires.models import Response
from steg.testing.personas import World

from .test_notify import HEALTH_TERMS

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

EXERCISE_PAGE = "first-exercise"
EXERCISE = "why-try"
ANSWER = "Jag vill orka leka med barnen."


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


def submit_exercise(enrolment: Enrolment, *, status: str = ExerciseAnswer.Status.SUBMITTED) -> None:
    """The patient's answer to "why-try", on a page they can open (test scaffolding)."""
    now = timezone.now()
    StepOpening.objects.get_or_create(
        enrolment=enrolment,
        step_key="try-it",
        defaults={"opened_by": enrolment.therapist, "opened_at": now},
    )
    ExerciseAnswer.objects.create(
        enrolment=enrolment,
        key=EXERCISE,
        page=Page.objects.get(version=enrolment.programme_version, key=EXERCISE_PAGE),
        draft=ANSWER,
        submitted_text=ANSWER if status == ExerciseAnswer.Status.SUBMITTED else "",
        status=status,
        updated_at=now,
        submitted_at=now if status == ExerciseAnswer.Status.SUBMITTED else None,
    )


def submit_mood(enrolment: Enrolment) -> Response:
    now = timezone.now()
    return Response.objects.create(
        enrolment=enrolment,
        questionnaire_id="mood",
        day=timezone.localdate(),
        status=Response.Status.SUBMITTED,
        answers={},
        language="sv",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )


def feedback_url(enrolment: Enrolment, kind: str, key: str) -> str:
    return reverse("dialog:feedback", args=[enrolment.pk, kind, key])


def give(client: Client, url: str, body: str = "Fint skrivet!", form: str = "f1") -> TestResponse:
    """Send feedback from the form whose one-time token is `form`."""
    return client.post(url, {"body": body, "token": form})


def test_feedback_on_an_exercise_shows_next_to_the_answer_and_in_the_conversation(
    world: World, english: Callable[[str], Client]
) -> None:
    submit_exercise(world.enrolment)
    url = feedback_url(world.enrolment, "exercise", EXERCISE)
    therapist = english("therapist")
    page = therapist.get(url)
    assertContains(page, ANSWER)
    assertContains(page, "Feedback on: Your first exercise")
    assert AuditEvent.objects.filter(action="dialog.feedback.viewed").count() == 1
    response = give(therapist, url, "Fint skrivet, Pia!")
    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.link_kind, message.link_key) == ("exercise", EXERCISE)

    patient = english("patient")
    exercise_page = patient.get(
        reverse("programmes:page", args=[world.enrolment.pk, EXERCISE_PAGE])
    )
    assertContains(exercise_page, "Feedback from your care team")
    assertContains(exercise_page, "Fint skrivet, Pia!")
    thread = patient.get(reverse("dialog:patient_messages", args=[world.enrolment.pk]))
    assertContains(thread, "Feedback on:")
    assertContains(
        thread,
        reverse("programmes:page", args=[world.enrolment.pk, EXERCISE_PAGE])
        + f"#exercise-{EXERCISE}",
    )
    assertContains(thread, "Your first exercise")


def test_feedback_on_a_questionnaire_shows_on_its_result(
    world: World, english: Callable[[str], Client]
) -> None:
    response = submit_mood(world.enrolment)
    key = f"mood/{response.day.isoformat()}"
    therapist = english("therapist")
    assert therapist.get(feedback_url(world.enrolment, "questionnaire", key)).status_code == 200
    give(therapist, feedback_url(world.enrolment, "questionnaire", key), "Tack för svaren!")
    result = english("patient").get(
        reverse(
            "questionnaires:result", args=[world.enrolment.pk, "mood", response.day.isoformat()]
        )
    )
    assertContains(result, "Feedback from your care team")
    assertContains(result, "Tack för svaren!")


def test_the_staff_conversation_offers_feedback_on_what_was_sent(
    world: World, english: Callable[[str], Client]
) -> None:
    submit_exercise(world.enrolment)
    submit_mood(world.enrolment)
    page = english("therapist").get(reverse("dialog:staff_messages", args=[world.enrolment.pk]))
    assertContains(page, "Give feedback", count=2)
    assertContains(
        page, f'<option value="exercise:{EXERCISE}">Your first exercise</option>', html=True
    )
    response = english("therapist").post(
        reverse("dialog:staff_send", args=[world.enrolment.pk]),
        {"body": "Bra!", "token": "t", "link": f"exercise:{EXERCISE}", "action": "send"},
    )
    assert response.status_code == 302
    assert Message.objects.get().link_key == EXERCISE


def test_feedback_on_an_unsubmitted_exercise_is_refused(
    world: World, english: Callable[[str], Client]
) -> None:
    submit_exercise(world.enrolment, status=ExerciseAnswer.Status.DRAFT)
    therapist = english("therapist")
    assert therapist.get(feedback_url(world.enrolment, "exercise", EXERCISE)).status_code == 404
    assert give(therapist, feedback_url(world.enrolment, "exercise", EXERCISE)).status_code == 404
    response = therapist.post(
        reverse("dialog:staff_send", args=[world.enrolment.pk]),
        {"body": "Bra!", "token": "t", "link": f"exercise:{EXERCISE}", "action": "send"},
    )
    assertContains(
        response, "Feedback can only be given on an exercise or a questionnaire", status_code=422
    )
    assert not Message.objects.exists()


def test_feedback_on_someone_elses_submission_is_refused(
    world: World, english: Callable[[str], Client]
) -> None:
    other = Enrolment.objects.exclude(pk=world.enrolment.pk).get()
    submit_exercise(other)
    therapist = english("therapist")
    # The other patient's item, through this patient's conversation: not theirs.
    response = therapist.post(
        reverse("dialog:staff_send", args=[world.enrolment.pk]),
        {"body": "Bra!", "token": "t", "link": f"exercise:{EXERCISE}", "action": "send"},
    )
    assertContains(response, "Feedback can only be given", status_code=422)
    # The other patient's conversation: not this therapist's.
    assert therapist.get(feedback_url(other, "exercise", EXERCISE)).status_code == 404
    assert give(therapist, feedback_url(other, "exercise", EXERCISE)).status_code == 404
    assert not Message.objects.exists()
    with pytest.raises(dialog.MessageError):
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.therapist,
            role="staff",
            body="Bra!",
            client_token="x",
            link_kind="exercise",
            link_key=EXERCISE,
            request=None,
        )


@pytest.mark.parametrize(
    "link", ["questionnaire:mood/not-a-day", "questionnaire:nope/2026-01-01", "party:x", "exercise"]
)
def test_a_made_up_feedback_link_is_refused(
    world: World, english: Callable[[str], Client], link: str
) -> None:
    response = english("therapist").post(
        reverse("dialog:staff_send", args=[world.enrolment.pk]),
        {"body": "Bra!", "token": "t", "link": link, "action": "send"},
    )
    assert response.status_code == 422
    assert not Message.objects.exists()


def test_the_patient_cannot_send_feedback(world: World, english: Callable[[str], Client]) -> None:
    submit_exercise(world.enrolment)
    assert (
        english("patient").get(feedback_url(world.enrolment, "exercise", EXERCISE)).status_code
        == 404
    )
    with pytest.raises(dialog.MessageError):
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.patient_user,
            role="patient",
            body="Bra!",
            client_token="x",
            link_kind="exercise",
            link_key=EXERCISE,
            request=None,
        )
    assert not Message.objects.exists()


def test_feedback_is_notified_without_health_information(
    world: World, english: Callable[[str], Client]
) -> None:
    submit_exercise(world.enrolment)
    give(english("therapist"), feedback_url(world.enrolment, "exercise", EXERCISE), "Rökfri snart!")
    (notification,) = Notification.objects.filter(kind="new_feedback")
    text = f"{notification.subject}\n{notification.body}".lower()
    assert not [term for term in HEALTH_TERMS if term in text]
    assert EXERCISE not in text
    assert "exercise" not in text


def test_the_same_feedback_form_sent_twice_stores_one_message(
    world: World, english: Callable[[str], Client]
) -> None:
    submit_exercise(world.enrolment)
    url = feedback_url(world.enrolment, "exercise", EXERCISE)
    therapist = english("therapist")
    give(therapist, url, form="same")
    give(therapist, url, form="same")
    assert Message.objects.count() == 1


def test_markup_in_feedback_and_answers_is_shown_as_text(
    world: World, english: Callable[[str], Client]
) -> None:
    submit_exercise(world.enrolment)
    ExerciseAnswer.objects.update(submitted_text="<img src=x onerror=alert(1)>")
    url = feedback_url(world.enrolment, "exercise", EXERCISE)
    page = english("therapist").get(url)
    assertNotContains(page, "<img src=x")
    give(english("therapist"), url, "<script>alert(1)</script>")
    exercise_page = english("patient").get(
        reverse("programmes:page", args=[world.enrolment.pk, EXERCISE_PAGE])
    )
    assertNotContains(exercise_page, "<script>alert(1)</script>")
    assertContains(exercise_page, "&lt;script&gt;alert(1)&lt;/script&gt;")
