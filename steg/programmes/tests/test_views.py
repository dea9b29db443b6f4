"""The patient's programme pages: progress, unlocking, exercises, checklists, the therapist
opening a step, and a fixed number of queries whatever the history or programme size."""

from __future__ import annotations

import datetime
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.programmes import outline
from steg.programmes.actions import import_programme
from steg.programmes.models import (
    ChecklistTick,
    ExerciseAnswer,
    Page,
    PageProgress,
    ProgressEvent,
    StepOpening,
)
from steg.testing.personas import EXAMPLE_PROGRAMME, World, make_user, start_treatment

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EXERCISE_PAGE = "first-exercise"
EXERCISE = "why-try"
CHECKLIST = "getting-started"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(name: str, enrolment: Enrolment, *args: str) -> str:
    return reverse(f"programmes:{name}", args=[enrolment.pk, *args])


def path_of(response: Response) -> str:
    assert response.status_code == 302, response.status_code
    return urlsplit(response["Location"]).path


def events(enrolment: Enrolment, kind: str) -> list[str]:
    return list(
        ProgressEvent.objects.filter(enrolment=enrolment, kind=kind)
        .order_by("pk")
        .values_list("subject", flat=True)
    )


def audit_actions(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


@pytest.fixture
def patient(client_as: Callable[[str], Client]) -> Client:
    return client_as("patient")


@pytest.fixture
def english(world: World) -> None:
    """The patient reads in English (assertions on interface text use the English msgids)."""
    world.patient_user.language = "en"
    world.patient_user.save(update_fields=["language"])


def read(client: Client, enrolment: Enrolment, page_key: str) -> Response:
    return client.post(url("mark_read", enrolment, page_key))


@pytest.fixture
def try_it_open(world: World, patient: Client) -> None:
    """The patient has read the first step, so the exercise step is open."""
    for key in ("welcome", "how-it-works"):
        assert read(patient, world.enrolment, key).status_code == 302


def post_exercise(
    client: Client,
    enrolment: Enrolment,
    text: str,
    *,
    action: str = "save",
    form: str = "form-1",
    htmx: bool = False,
) -> Response:
    data = {f"{EXERCISE}-text": text, f"{EXERCISE}-token": form, f"{EXERCISE}-action": action}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url("exercise", enrolment, EXERCISE_PAGE, EXERCISE), data, headers=headers)


def answer(enrolment: Enrolment) -> ExerciseAnswer | None:
    return ExerciseAnswer.objects.filter(enrolment=enrolment, key=EXERCISE).first()


# --- overview and continue --------------------------------------------------------------------


def test_overview_shows_every_step_with_pages_read_and_exercises_done(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    post_exercise(patient, world.enrolment, "To feel better.", action="submit")

    response = patient.get(url("overview", world.enrolment))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Example programme" in html
    for title in ("Welcome", "Try it yourself", "Looking back"):
        assert title in html
    assert "You have read 2 of 4 pages." in html
    assert "You have done 1 of 1 exercises." in html
    assert "2 of 2 pages read" in html  # the first step
    assert "0 of 1 pages read · 1 of 1 exercises done" in html  # the exercise step
    # The step that opens after a week is listed, but not as a link.
    assert url("step", world.enrolment, "welcome") in html
    assert url("step", world.enrolment, "try-it") in html
    assert url("step", world.enrolment, "looking-back") not in html
    assert "Locked" in html


def test_continue_goes_to_the_first_unread_page_of_an_open_step(
    world: World, patient: Client
) -> None:
    enrolment = world.enrolment
    assert path_of(patient.get(url("continue", enrolment))) == url("page", enrolment, "welcome")
    read(patient, enrolment, "welcome")
    assert path_of(patient.get(url("continue", enrolment))) == url(
        "page", enrolment, "how-it-works"
    )
    read(patient, enrolment, "how-it-works")
    assert path_of(patient.get(url("continue", enrolment))) == url("page", enrolment, EXERCISE_PAGE)


def test_continue_goes_to_the_last_page_viewed_when_every_open_page_is_read(
    world: World, patient: Client
) -> None:
    enrolment = world.enrolment
    for key in ("welcome", "how-it-works", EXERCISE_PAGE):
        read(patient, enrolment, key)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=5)):
        patient.get(url("page", enrolment, "how-it-works"))

    assert path_of(patient.get(url("continue", enrolment))) == url(
        "page", enrolment, "how-it-works"
    )


def test_overview_offers_continue_with_the_first_unread_page(world: World, patient: Client) -> None:
    read(patient, world.enrolment, "welcome")
    response = patient.get(url("overview", world.enrolment))
    assert response.context["continue_page"].key == "how-it-works"
    assert url("continue", world.enrolment) in response.content.decode()


# --- pages ------------------------------------------------------------------------------------


def test_viewing_a_page_records_a_page_viewed_event(world: World, patient: Client) -> None:
    response = patient.get(url("page", world.enrolment, "welcome"))

    assert response.status_code == 200
    assert "Hej och välkommen!" in response.content.decode()
    assert events(world.enrolment, ProgressEvent.Kind.PAGE_VIEWED) == ["welcome"]
    progress = PageProgress.objects.get(enrolment=world.enrolment)
    assert progress.read_at is None


def test_marking_a_page_read_records_page_read_and_goes_to_the_next_page(
    world: World, patient: Client
) -> None:
    response = read(patient, world.enrolment, "welcome")

    assert path_of(response) == url("page", world.enrolment, "how-it-works")
    assert events(world.enrolment, ProgressEvent.Kind.PAGE_READ) == ["welcome"]
    progress = PageProgress.objects.get(enrolment=world.enrolment, page__key="welcome")
    assert progress.read_at is not None
    [event] = audit_actions("programmes.page.read")
    assert event.patient == world.patient


def test_marking_a_page_read_twice_records_it_once(world: World, patient: Client) -> None:
    read(patient, world.enrolment, "welcome")
    first = PageProgress.objects.get(enrolment=world.enrolment, page__key="welcome").read_at
    read(patient, world.enrolment, "welcome")

    assert events(world.enrolment, ProgressEvent.Kind.PAGE_READ) == ["welcome"]
    again = PageProgress.objects.get(enrolment=world.enrolment, page__key="welcome").read_at
    assert again == first


def test_reading_every_page_of_a_step_opens_the_after_previous_step(
    world: World, patient: Client
) -> None:
    enrolment = world.enrolment
    assert patient.get(url("step", enrolment, "try-it")).status_code == 404
    assert patient.get(url("page", enrolment, EXERCISE_PAGE)).status_code == 404

    read(patient, enrolment, "welcome")
    assert patient.get(url("page", enrolment, EXERCISE_PAGE)).status_code == 404
    response = read(patient, enrolment, "how-it-works")

    # The last page of the step leads straight into the step it opened.
    assert path_of(response) == url("page", enrolment, EXERCISE_PAGE)
    assert patient.get(url("step", enrolment, "try-it")).status_code == 200
    assert patient.get(url("page", enrolment, EXERCISE_PAGE)).status_code == 200


def test_a_step_seven_days_after_the_start_is_locked_until_then(
    world: World, client_as: Callable[[str], Client]
) -> None:
    enrolment = world.enrolment
    start = timezone.now().astimezone(STOCKHOLM).replace(hour=10, minute=0, second=0)
    enrolment.started_at = start
    enrolment.save(update_fields=["started_at"])
    opens = datetime.datetime.combine(
        start.date() + datetime.timedelta(days=7), datetime.time(0), tzinfo=STOCKHOLM
    )

    with time_machine.travel(opens - datetime.timedelta(minutes=1), tick=False):
        patient = client_as("patient")
        assert patient.get(url("step", enrolment, "looking-back")).status_code == 404
        assert patient.get(url("page", enrolment, "looking-back")).status_code == 404
    denied = audit_actions("programmes.access_denied")
    assert [(e.object_type, e.object_id) for e in denied] == [
        ("programmes.step", "looking-back"),
        ("programmes.page", "looking-back"),
    ]
    assert all(e.patient == world.patient for e in denied)
    assert not PageProgress.objects.filter(page__key="looking-back").exists()

    with time_machine.travel(opens + datetime.timedelta(minutes=1), tick=False):
        patient = client_as("patient")
        assert patient.get(url("step", enrolment, "looking-back")).status_code == 200
        response = patient.get(url("page", enrolment, "looking-back"))
        assert response.status_code == 200
        assert "Det har gått en vecka" in response.content.decode()


def test_a_locked_page_cannot_be_marked_read(world: World, patient: Client) -> None:
    assert read(patient, world.enrolment, "looking-back").status_code == 404
    assert read(patient, world.enrolment, EXERCISE_PAGE).status_code == 404
    assert not PageProgress.objects.exists()
    assert len(audit_actions("programmes.access_denied")) == 2


def test_another_patients_enrolment_answers_404_and_is_recorded(
    world: World, patient: Client
) -> None:
    other = Enrolment.objects.get(patient=world.other_patient)
    for response in (
        patient.get(url("overview", other)),
        patient.get(url("page", other, "welcome")),
        patient.get(url("step", other, "welcome")),
        read(patient, other, "welcome"),
    ):
        assert response.status_code == 404
        assert b"Otto" not in response.content
    denied = audit_actions("care.enrolment.access_denied")
    assert len(denied) == 4
    assert {e.object_id for e in denied} == {str(other.pk)}
    assert all(e.actor == world.patient_user for e in denied)
    assert not PageProgress.objects.filter(enrolment=other).exists()


def test_staff_get_404_on_the_patients_programme_pages(
    world: World, client_as: Callable[[str], Client]
) -> None:
    # The therapist sees the patient's work in the patient record, not through these pages.
    response = client_as("therapist").get(url("overview", world.enrolment))
    assert response.status_code == 404


def test_a_page_key_of_another_version_answers_404(
    world: World, patient: Client, tmp_path: Path
) -> None:
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE_PROGRAMME, copy)
    manifest = copy / "programme.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            "      - how-it-works\n", "      - how-it-works\n      - new-in-version-2\n"
        ),
        encoding="utf-8",
    )
    for language in ("sv", "en"):
        (copy / "pages" / language / "new-in-version-2.md").write_text(
            "---\ntitle: Ny\nminutes: 1\n---\nNytt.\n", encoding="utf-8"
        )
    second = import_programme(copy).version
    assert second.number == 2
    assert Page.objects.filter(version=second, key="new-in-version-2").exists()

    response = patient.get(url("page", world.enrolment, "new-in-version-2"))

    assert response.status_code == 404
    [event] = audit_actions("programmes.access_denied")
    assert event.object_id == "new-in-version-2"


# --- exercises --------------------------------------------------------------------------------


def test_saving_a_draft_keeps_it_unsent(world: World, patient: Client, try_it_open: None) -> None:
    response = post_exercise(patient, world.enrolment, "A first thought")

    assert response.status_code == 302
    assert response["Location"].endswith(f"#exercise-{EXERCISE}")
    saved = answer(world.enrolment)
    assert saved is not None
    assert saved.draft == "A first thought"
    assert saved.status == ExerciseAnswer.Status.DRAFT
    assert saved.submitted_text == ""
    assert saved.submitted_at is None
    assert events(world.enrolment, ProgressEvent.Kind.EXERCISE_SAVED) == [EXERCISE]
    # The page shows the draft in the answer field.
    page = patient.get(url("page", world.enrolment, EXERCISE_PAGE))
    assert "A first thought</textarea>" in page.content.decode()


def test_saving_a_draft_with_htmx_answers_with_a_fragment(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    response = post_exercise(patient, world.enrolment, "Typing…", htmx=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Draft saved at" in html
    assert "<html" not in html
    assert "<textarea" not in html
    saved = answer(world.enrolment)
    assert saved is not None
    assert saved.draft == "Typing…"
    assert saved.status == ExerciseAnswer.Status.DRAFT


def test_submitting_stores_the_answer_as_sent(
    world: World, patient: Client, try_it_open: None
) -> None:
    response = post_exercise(patient, world.enrolment, "I want to sleep better.", action="submit")

    assert response.status_code == 302
    saved = answer(world.enrolment)
    assert saved is not None
    assert saved.status == ExerciseAnswer.Status.SUBMITTED
    assert saved.submitted_text == "I want to sleep better."
    assert saved.submitted_at is not None
    assert events(world.enrolment, ProgressEvent.Kind.EXERCISE_SUBMITTED) == [EXERCISE]
    [event] = audit_actions("programmes.exercise.submitted")
    assert event.patient == world.patient
    # The answer text is patient data: the audit log keeps only its length.
    assert "sleep" not in str(event.detail)


def test_submitting_with_htmx_answers_with_a_fragment_saying_it_was_sent(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    response = post_exercise(patient, world.enrolment, "Sent by htmx", action="submit", htmx=True)

    assert response.status_code == 200
    assert "Sent at" in response.content.decode()
    saved = answer(world.enrolment)
    assert saved is not None
    assert saved.status == ExerciseAnswer.Status.SUBMITTED


def test_a_double_submit_with_the_same_token_stores_one_submission(
    world: World, patient: Client, try_it_open: None
) -> None:
    post_exercise(patient, world.enrolment, "Once", action="submit", form="same")
    first = answer(world.enrolment)
    assert first is not None

    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=3)):
        response = post_exercise(patient, world.enrolment, "Once", action="submit", form="same")

    assert response.status_code == 302
    again = answer(world.enrolment)
    assert again is not None
    assert again.submitted_at == first.submitted_at
    assert again.updated_at == first.updated_at
    assert events(world.enrolment, ProgressEvent.Kind.EXERCISE_SUBMITTED) == [EXERCISE]
    assert len(audit_actions("programmes.exercise.submitted")) == 1


def test_sending_again_from_a_new_form_updates_the_answer(
    world: World, patient: Client, try_it_open: None
) -> None:
    post_exercise(patient, world.enrolment, "Once", action="submit", form="first-form")
    post_exercise(patient, world.enrolment, "Twice", action="submit", form="second-form")

    saved = answer(world.enrolment)
    assert saved is not None
    assert saved.submitted_text == "Twice"
    assert len(events(world.enrolment, ProgressEvent.Kind.EXERCISE_SUBMITTED)) == 2


def test_an_empty_submit_is_refused_with_422_and_the_draft_is_kept(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    post_exercise(patient, world.enrolment, "My draft")
    before = answer(world.enrolment)

    response = post_exercise(patient, world.enrolment, "  \n ", action="submit", form="t2")

    assert response.status_code == 422
    assert "Write your answer before you send it." in response.content.decode()
    after = answer(world.enrolment)
    assert after is not None and before is not None
    assert after.draft == "My draft"
    assert after.status == ExerciseAnswer.Status.DRAFT
    assert after.updated_at == before.updated_at
    assert events(world.enrolment, ProgressEvent.Kind.EXERCISE_SUBMITTED) == []


def test_an_empty_submit_with_htmx_answers_422_with_the_message(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    response = post_exercise(patient, world.enrolment, "", action="submit", htmx=True)

    assert response.status_code == 422
    assert "Write your answer before you send it." in response.content.decode()
    assert answer(world.enrolment) is None


def test_an_answer_over_the_limit_is_refused_with_422_and_nothing_is_stored(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    too_long = "x" * 5001

    response = post_exercise(patient, world.enrolment, too_long, action="submit")

    assert response.status_code == 422
    html = response.content.decode()
    assert "Your answer is 5001 characters long. The limit is 5000 characters" in html
    # Nothing is lost: the text is still in the form.
    assert too_long in html
    assert answer(world.enrolment) is None
    assert not ProgressEvent.objects.filter(
        kind__in=[ProgressEvent.Kind.EXERCISE_SAVED, ProgressEvent.Kind.EXERCISE_SUBMITTED]
    ).exists()


def test_an_answer_of_exactly_the_limit_is_saved(
    world: World, patient: Client, try_it_open: None
) -> None:
    response = post_exercise(patient, world.enrolment, "x" * 5000)
    assert response.status_code == 302
    saved = answer(world.enrolment)
    assert saved is not None
    assert len(saved.draft) == 5000


def test_an_unknown_exercise_answers_404(world: World, patient: Client, try_it_open: None) -> None:
    response = patient.post(
        url("exercise", world.enrolment, EXERCISE_PAGE, "no-such-exercise"),
        {"no-such-exercise-text": "x", "no-such-exercise-token": "t"},
    )
    assert response.status_code == 404
    assert not ExerciseAnswer.objects.exists()


@pytest.mark.parametrize("status", [Enrolment.Status.PAUSED, Enrolment.Status.COMPLETED])
def test_a_paused_or_completed_treatment_changes_nothing(
    world: World, patient: Client, try_it_open: None, status: str
) -> None:
    post_exercise(patient, world.enrolment, "Before the pause")
    world.enrolment.status = status
    world.enrolment.save(update_fields=["status"])
    before = {
        "answers": list(ExerciseAnswer.objects.values()),
        "ticks": list(ChecklistTick.objects.values()),
        "read": list(PageProgress.objects.values_list("page_id", "read_at")),
        "events": ProgressEvent.objects.exclude(kind=ProgressEvent.Kind.PAGE_VIEWED).count(),
    }

    responses = [
        post_exercise(patient, world.enrolment, "Changed", action="save", form="p1"),
        post_exercise(patient, world.enrolment, "Changed", action="submit", form="p2"),
        patient.post(
            url("checklist", world.enrolment, EXERCISE_PAGE, CHECKLIST),
            {"items": ["getting-started-1"]},
        ),
        read(patient, world.enrolment, EXERCISE_PAGE),
    ]

    for response in responses:
        assert response.status_code == 302
        assert path_of(response) == url("page", world.enrolment, EXERCISE_PAGE)
    after = {
        "answers": list(ExerciseAnswer.objects.values()),
        "ticks": list(ChecklistTick.objects.values()),
        "read": list(PageProgress.objects.values_list("page_id", "read_at")),
        "events": ProgressEvent.objects.exclude(kind=ProgressEvent.Kind.PAGE_VIEWED).count(),
    }
    assert after == before
    # The page is still readable, without the answer form.
    page = patient.get(url("page", world.enrolment, EXERCISE_PAGE))
    assert page.status_code == 200
    assert "Before the pause" in page.content.decode()
    assert "<textarea" not in page.content.decode()


def test_an_htmx_save_on_a_paused_treatment_answers_with_a_message_and_changes_nothing(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    world.enrolment.status = Enrolment.Status.PAUSED
    world.enrolment.save(update_fields=["status"])

    responses = [
        post_exercise(patient, world.enrolment, "Typed while paused", htmx=True),
        tick(patient, world.enrolment, ["getting-started-1"], htmx=True),
    ]

    for response in responses:
        # htmx swaps 409 into the status line (see the htmx-config in layout.html).
        assert response.status_code == 409
        html = response.content.decode()
        assert "This treatment is not active" in html
        assert "<html" not in html
    assert answer(world.enrolment) is None
    assert ticks(world.enrolment) == {}


# --- checklists -------------------------------------------------------------------------------


def tick(client: Client, enrolment: Enrolment, items: list[str], *, htmx: bool = False) -> Response:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        url("checklist", enrolment, EXERCISE_PAGE, CHECKLIST), {"items": items}, headers=headers
    )


def ticks(enrolment: Enrolment) -> dict[str, bool]:
    return dict(
        ChecklistTick.objects.filter(enrolment=enrolment).values_list("item_key", "checked")
    )


def test_checklist_ticks_are_saved(world: World, patient: Client, try_it_open: None) -> None:
    response = tick(patient, world.enrolment, ["getting-started-1", "getting-started-3"])

    assert response.status_code == 302
    assert response["Location"].endswith(f"#checklist-{CHECKLIST}")
    assert ticks(world.enrolment) == {
        "getting-started-1": True,
        "getting-started-2": False,
        "getting-started-3": True,
    }
    tick(patient, world.enrolment, ["getting-started-2"])
    assert ticks(world.enrolment) == {
        "getting-started-1": False,
        "getting-started-2": True,
        "getting-started-3": False,
    }
    page = patient.get(url("page", world.enrolment, EXERCISE_PAGE)).content.decode()
    assert 'value="getting-started-2" id="check-getting-started-2" checked' in page


def test_checklist_ticks_with_htmx_answer_with_a_fragment(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    response = tick(patient, world.enrolment, ["getting-started-1"], htmx=True)
    assert response.status_code == 200
    assert "Saved at" in response.content.decode()
    assert "<html" not in response.content.decode()
    assert ticks(world.enrolment)["getting-started-1"] is True


def test_an_unknown_checklist_item_is_refused(
    world: World, patient: Client, try_it_open: None
) -> None:
    response = tick(patient, world.enrolment, ["getting-started-1", "not-an-item"])

    assert response.status_code == 302
    assert ticks(world.enrolment) == {}
    assert not ProgressEvent.objects.filter(kind=ProgressEvent.Kind.CHECKLIST_TICKED).exists()
    # An unknown checklist answers 404.
    response = patient.post(
        url("checklist", world.enrolment, EXERCISE_PAGE, "no-such-list"), {"items": []}
    )
    assert response.status_code == 404


def test_an_unknown_checklist_item_with_htmx_answers_422_with_a_message(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    response = tick(patient, world.enrolment, ["not-an-item"], htmx=True)

    assert response.status_code == 422
    assert "The checklist could not be saved. Try again." in response.content.decode()
    assert ticks(world.enrolment) == {}


def test_ticking_the_same_items_again_changes_nothing(
    world: World, patient: Client, try_it_open: None
) -> None:
    tick(patient, world.enrolment, ["getting-started-1"])
    first = list(ChecklistTick.objects.order_by("pk").values())
    events_after_first = ProgressEvent.objects.filter(
        kind=ProgressEvent.Kind.CHECKLIST_TICKED
    ).count()

    tick(patient, world.enrolment, ["getting-started-1"])

    assert list(ChecklistTick.objects.order_by("pk").values()) == first
    assert (
        ProgressEvent.objects.filter(kind=ProgressEvent.Kind.CHECKLIST_TICKED).count()
        == events_after_first
    )


# --- the therapist opens a step ---------------------------------------------------------------


def open_step_url(enrolment: Enrolment, step_key: str) -> str:
    return reverse("programmes:open_step", args=[enrolment.pk, step_key])


def test_the_therapist_opens_a_locked_step_for_a_patient_in_their_care(
    world: World, client_as: Callable[[str], Client], patient: Client
) -> None:
    enrolment = world.enrolment
    assert patient.get(url("page", enrolment, "looking-back")).status_code == 404

    response = client_as("therapist").post(open_step_url(enrolment, "looking-back"))

    assert path_of(response) == reverse("care:patient_record", args=[world.patient.pk])
    opening = StepOpening.objects.get(enrolment=enrolment)
    assert (opening.step_key, opening.opened_by) == ("looking-back", world.therapist)
    [event] = audit_actions("programmes.step.opened")
    assert event.actor == world.therapist
    assert event.patient == world.patient
    assert event.detail == {"step": "looking-back"}
    assert events(enrolment, ProgressEvent.Kind.STEP_OPENED) == ["looking-back"]
    assert patient.get(url("page", enrolment, "looking-back")).status_code == 200

    # Opening it again changes nothing.
    client_as("therapist").post(open_step_url(enrolment, "looking-back"))
    assert StepOpening.objects.count() == 1
    assert len(audit_actions("programmes.step.opened")) == 1


def test_another_units_therapist_cannot_open_a_step(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("other_therapist").post(open_step_url(world.enrolment, "looking-back"))

    assert response.status_code == 404
    assert not StepOpening.objects.exists()
    assert audit_actions("programmes.step.opened") == []
    [denied] = audit_actions("care.enrolment.access_denied")
    assert denied.actor == world.other_therapist


def test_the_patient_cannot_open_a_step_themselves(world: World, patient: Client) -> None:
    response = patient.post(open_step_url(world.enrolment, "looking-back"))

    assert response.status_code == 404
    assert not StepOpening.objects.exists()


def test_opening_an_unknown_step_answers_404(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").post(open_step_url(world.enrolment, "no-such-step"))
    assert response.status_code == 404
    assert not StepOpening.objects.exists()


def test_opening_a_step_needs_a_post(world: World, client_as: Callable[[str], Client]) -> None:
    response = client_as("therapist").get(open_step_url(world.enrolment, "looking-back"))
    assert response.status_code == 405
    assert not StepOpening.objects.exists()


# --- a fixed number of queries ----------------------------------------------------------------

# A first request with nothing cached (see ``cold_get``): these include the outline's queries,
# and a page the first view's writes (PostgreSQL runs one statement more there).
OVERVIEW_QUERIES = 13
PAGE_QUERIES = 17


def add_history(enrolment: Enrolment, size: int) -> None:
    """`size` answers, ticks and progress events, and every page viewed and read."""
    now = timezone.now()
    pages = list(Page.objects.filter(version=enrolment.programme_version))
    PageProgress.objects.bulk_create(
        PageProgress(
            enrolment=enrolment, page=page, first_viewed_at=now, last_viewed_at=now, read_at=now
        )
        for page in pages
    )
    ExerciseAnswer.objects.bulk_create(
        ExerciseAnswer(
            enrolment=enrolment,
            key=f"answer-{i}",
            page=pages[0],
            draft="draft",
            submitted_text="sent",
            status=ExerciseAnswer.Status.SUBMITTED,
            updated_at=now,
            submitted_at=now,
        )
        for i in range(size)
    )
    ChecklistTick.objects.bulk_create(
        ChecklistTick(enrolment=enrolment, item_key=f"item-{i}", checked=True, updated_at=now)
        for i in range(size)
    )
    ProgressEvent.objects.bulk_create(
        ProgressEvent(
            enrolment=enrolment, kind=ProgressEvent.Kind.PAGE_VIEWED, subject="x", created_at=now
        )
        for _ in range(size)
    )


def make_programme(root: Path, pages: int) -> Path:
    """A valid programme folder with `pages` pages over three steps, each with an exercise
    and a checklist."""
    folder = root / f"big-{pages}"
    keys = [f"page-{i}" for i in range(1, pages + 1)]
    thirds = [keys[: pages // 3], keys[pages // 3 : 2 * pages // 3], keys[2 * pages // 3 :]]
    steps = []
    for number, (unlock, step_pages) in enumerate(
        zip(["immediately", "after_previous", "therapist"], thirds, strict=True), start=1
    ):
        steps.append(
            f"  - key: step-{number}\n"
            f"    title: {{sv: Steg {number}, en: Step {number}}}\n"
            f"    unlock: {unlock}\n"
            f"    pages: [{', '.join(step_pages)}]\n"
        )
    (folder / "pages" / "sv").mkdir(parents=True)
    (folder / "pages" / "en").mkdir(parents=True)
    (folder / "programme.yaml").write_text(
        f"slug: big-{pages}\n"
        "title: {sv: Stort program, en: Big programme}\n"
        "description: {sv: Många sidor., en: Many pages.}\n"
        "audience: {sv: Alla., en: Everyone.}\n"
        "languages: [sv, en]\n"
        "guidance: guided\n"
        "steps:\n" + "".join(steps),
        encoding="utf-8",
    )
    for i, key in enumerate(keys, start=1):
        for language in ("sv", "en"):
            (folder / "pages" / language / f"{key}.md").write_text(
                f"---\ntitle: Sida {i}\nminutes: 3\n---\nText på sidan {i}.\n\n"
                f"::: exercise exercise-{i}\nSkriv något.\n:::\n\n"
                f"::: checklist list-{i}\n- Ett\n- Två\n:::\n\n"
                "::: aid my-answers\n:::\n",
                encoding="utf-8",
            )
    return folder


def cold_get(client: Client, path: str) -> Response:
    """A request with no outline cached, as after a restart: the worst case."""
    outline._load_outline.cache_clear()
    return client.get(path)


@pytest.mark.parametrize("history", [0, 50])
def test_the_overview_runs_a_fixed_number_of_queries_whatever_the_history(
    world: World,
    patient: Client,
    django_assert_max_num_queries: DjangoAssertNumQueries,
    history: int,
) -> None:
    add_history(world.enrolment, history)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        response = cold_get(patient, url("overview", world.enrolment))
    assert response.status_code == 200


@pytest.mark.parametrize("history", [0, 50])
def test_a_page_runs_a_fixed_number_of_queries_whatever_the_history(
    world: World,
    patient: Client,
    django_assert_max_num_queries: DjangoAssertNumQueries,
    history: int,
) -> None:
    add_history(world.enrolment, history)
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = cold_get(patient, url("page", world.enrolment, "welcome"))
    assert response.status_code == 200


@pytest.mark.parametrize("pages", [3, 30])
def test_overview_and_page_run_a_fixed_number_of_queries_whatever_the_programme_size(
    world: World,
    patient: Client,
    tmp_path: Path,
    django_assert_max_num_queries: DjangoAssertNumQueries,
    pages: int,
) -> None:
    version = import_programme(make_programme(tmp_path, pages)).version
    enrolment = start_treatment(world.patient, world.unit, version)
    add_history(enrolment, pages)
    last_open = Page.objects.filter(version=version, step__key="step-2").order_by("position").last()
    assert last_open is not None

    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        response = cold_get(patient, url("overview", enrolment))
    assert response.status_code == 200
    assert response.context["progress"].pages_total == pages
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = cold_get(patient, url("page", enrolment, last_open.key))
    assert response.status_code == 200


# A returning patient, with the programme's outline and version cached: the user, the enrolment
# (its version from the cache), the progress (two: the pages, ticks and openings; the answers)
# and the header's inbox; a page adds recording the view (the update or insert and the event,
# in a savepoint here: a transaction in production).
RETURNING_OVERVIEW_QUERIES = 5
RETURNING_PAGE_QUERIES = 9


@pytest.mark.parametrize("history", [0, 50])
@pytest.mark.parametrize(
    ("name", "args", "bound"),
    [("overview", (), RETURNING_OVERVIEW_QUERIES), ("page", ("welcome",), RETURNING_PAGE_QUERIES)],
)
def test_a_returning_patients_pages_run_a_fixed_number_of_queries_whatever_the_history(
    world: World,
    patient: Client,
    django_assert_max_num_queries: DjangoAssertNumQueries,
    history: int,
    name: str,
    args: tuple[str, ...],
    bound: int,
) -> None:
    add_history(world.enrolment, history)
    address = url(name, world.enrolment, *args)
    assert patient.get(address).status_code == 200
    with django_assert_max_num_queries(bound):
        response = patient.get(address)
    assert response.status_code == 200


def test_the_progress_is_read_in_two_queries(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from steg.programmes.progress import load_progress

    add_history(world.enrolment, 5)
    StepOpening.objects.create(
        enrolment=world.enrolment, step_key="looking-back", opened_at=timezone.now()
    )
    version = world.enrolment.programme_version
    programme = outline.get_outline(version, "sv")
    with CaptureQueriesContext(connection) as queries:
        progress = load_progress(world.enrolment, programme)
    assert len(queries) == 2
    pages = Page.objects.filter(version=version)
    assert progress.read_page_ids == {page.pk for page in pages}
    assert progress.ticks == {f"item-{i}": True for i in range(5)}
    assert progress.step("looking-back").unlocked
    assert progress.last_viewed_page_id in progress.viewed_page_ids


def test_the_programme_version_comes_from_the_cache_as_a_copy_of_its_own(world: World) -> None:
    version = world.enrolment.programme_version
    first = outline.get_version(version.pk, version.content_hash)
    second = outline.get_version(version.pk, version.content_hash)
    assert first == second == version
    assert first is not second and first._state is not second._state
    assert first.programme.slug == version.programme.slug
    with pytest.raises(type(version).DoesNotExist):
        outline.get_version(version.pk, "another hash")


def test_the_text_shared_between_patients_carries_none_of_their_ticks(
    world: World, patient: Client, try_it_open: None
) -> None:
    """Text blocks are rendered once per version and language and shared; the checklist in
    between is each patient's own."""
    version = world.enrolment.programme_version
    info = outline.get_outline(version, "sv").page_by_key[EXERCISE_PAGE]
    [checklist] = [b for b in info.blocks if b["type"] == "checklist"]
    item = checklist["items"][0][0]
    ChecklistTick.objects.create(
        enrolment=world.enrolment, item_key=item, checked=True, updated_at=timezone.now()
    )
    other_user = make_user("olle@test.example", "Olle", "Annan")
    world.other_patient.user = other_user
    world.other_patient.save(update_fields=["user"])
    theirs = start_treatment(world.other_patient, world.unit, version)
    StepOpening.objects.create(enrolment=theirs, step_key=info.step_key, opened_at=timezone.now())
    other = Client()
    other.force_login(other_user)

    mine_first = patient.get(url("page", world.enrolment, EXERCISE_PAGE)).content.decode()
    their_page = other.get(url("page", theirs, EXERCISE_PAGE)).content.decode()
    mine_again = patient.get(url("page", world.enrolment, EXERCISE_PAGE)).content.decode()

    ticked = f'id="check-{item}" checked'
    assert ticked in mine_first and ticked in mine_again
    assert ticked not in their_page
    for html in (mine_first, their_page, mine_again):
        assert "Skriv hellre kort än inte alls." in html


# --- media ------------------------------------------------------------------------------------

STEPS_PNG = EXAMPLE_PROGRAMME / "media" / "steps.png"


def media_url(data: bytes) -> str:
    return reverse("programmes:media", args=[hashlib.sha256(data).hexdigest()])


def test_programme_media_is_served_to_a_logged_in_user_with_an_immutable_cache_header(
    world: World, patient: Client, try_it_open: None
) -> None:
    data = STEPS_PNG.read_bytes()
    # The page refers to the image by its hash.
    page = patient.get(url("page", world.enrolment, EXERCISE_PAGE)).content.decode()
    assert f'src="{media_url(data)}"' in page

    response = patient.get(media_url(data))

    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"immutable", "private", "max-age=31536000"} <= cache_control


def test_programme_media_is_served_to_staff_as_well(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").get(media_url(STEPS_PNG.read_bytes()))
    assert response.status_code == 200


def test_unknown_programme_media_answers_404(world: World, patient: Client) -> None:
    response = patient.get(media_url(b"not a file we have"))
    assert response.status_code == 404
    assert "immutable" not in response.get("Cache-Control", "")
    assert patient.get(reverse("programmes:media", args=["not-a-hash"])).status_code == 404


def test_anonymous_requests_for_programme_media_go_to_the_login_page(
    world: World, client_as: Callable[[str], Client]
) -> None:
    path = media_url(STEPS_PNG.read_bytes())
    response = client_as("anonymous").get(path)

    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    assert parts.path == reverse("account_login")
    assert parts.query == f"next={path}"
    assert b"PNG" not in response.content
