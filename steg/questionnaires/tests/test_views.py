"""The patient's questionnaire pages: fill in, drafts, enableWhen, submit, result, charts."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.programmes.models import ProgressEvent
from steg.questionnaires import logic
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response
from steg.testing.personas import World

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as HttpResponse


@pytest.fixture
def patient(client_as: Callable[[str], Client]) -> Client:
    return client_as("patient")


@pytest.fixture
def english(world: World) -> None:
    world.patient_user.language = "en"
    world.patient_user.save(update_fields=["language"])


def fill_url(world: World, qid: str, day: datetime.date | None = None) -> str:
    url = reverse("questionnaires:fill", args=[world.enrolment.pk, qid])
    return f"{url}?day={day.isoformat()}" if day else url


def post(
    client: Client,
    world: World,
    qid: str,
    data: Mapping[str, object],
    *,
    day: datetime.date | None = None,
    htmx: bool = False,
) -> HttpResponse:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(fill_url(world, qid, day or timezone.localdate()), data, headers=headers)


GOOD_MOOD = {"feeling": "bad", "hardest": ["sleep", "worry"], "stress": "8", "token": "t1"}


def test_the_form_shows_every_enabled_question_and_hides_the_follow_up(
    world: World, patient: Client, english: None
) -> None:
    response = patient.get(fill_url(world, "mood"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "How have you felt over the past week?" in html
    assert "How stressed have you felt?" in html
    assert "<legend>How have you felt over the past week?" in html
    assert "What has been hardest?" not in html  # only after answering "Bad"
    assert "A number from 0 to 10." in html


def test_answering_as_you_go_shows_the_follow_up_question_and_saves_a_draft(
    world: World, patient: Client, english: None
) -> None:
    response = post(patient, world, "mood", {"feeling": "bad", "token": "t"}, htmx=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "What has been hardest?" in html
    assert "<html" not in html
    assert "Your answers were saved at" in html
    draft = Response.objects.get(enrolment=world.enrolment, questionnaire_id="mood")
    assert draft.status == Response.Status.DRAFT
    assert draft.answers == {"feeling": ["bad"]}

    # Changing the answer hides the follow-up again, and its answer is not kept.
    response = post(
        patient, world, "mood", {"feeling": "good", "hardest": ["sleep"], "token": "t"}, htmx=True
    )
    assert "What has been hardest?" not in response.content.decode()
    draft.refresh_from_db()
    assert draft.answers == {"feeling": ["good"]}


def test_a_saved_draft_fills_the_form_again(world: World, patient: Client, english: None) -> None:
    response = post(patient, world, "mood", {"feeling": "mixed", "stress": "4", "action": "save"})

    assert response.status_code == 302
    html = patient.get(response["Location"]).content.decode()
    assert 'value="mixed" id="q-feeling-1" checked' in html
    assert 'value="4"' in html


def test_submitting_with_errors_lists_them_at_the_top_and_stores_nothing(
    world: World, patient: Client, english: None
) -> None:
    response = post(
        patient, world, "mood", {"feeling": "bad", "stress": "11", "action": "submit", "token": "x"}
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert 'class="error-summary"' in html
    summary_link = '<a href="#q-stress">How stressed have you felt? – Write a whole number'
    assert summary_link in html
    assert 'aria-invalid="true"' in html
    assert "<title>Error:" in html
    assert not Response.objects.filter(status=Response.Status.SUBMITTED).exists()


def test_a_missing_required_answer_is_refused_on_submit(
    world: World, patient: Client, english: None
) -> None:
    response = post(patient, world, "mood", {"stress": "3", "action": "submit", "token": "x"})

    assert response.status_code == 422
    assert "#q-feeling-0" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"feeling": "terrible", "stress": "3"},  # a tampered option value
        {"feeling": ["good", "bad"], "stress": "3"},  # two answers to a single choice
        {"feeling": "good", "stress": "three"},  # not a number
        {"feeling": "good", "stress": "3", "note": "x" * 1001},  # over the length limit
    ],
)
def test_bad_answers_are_refused_with_a_message_and_nothing_stored(
    world: World, patient: Client, data: dict[str, object]
) -> None:
    response = post(patient, world, "mood", {**data, "action": "submit", "token": "x"})

    assert response.status_code == 422
    assert 'class="field-error"' in response.content.decode()
    assert not Response.objects.exists()


def test_submitting_scores_at_once_and_shows_the_feedback(
    world: World, patient: Client, english: None
) -> None:
    response = post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})

    assert response.status_code == 302
    result = patient.get(response["Location"])
    html = result.content.decode()
    assert "Your score: 10" in html
    assert "Hard right now" in html
    assert "It sounds as if things have been hard." in html
    stored = Response.objects.get(enrolment=world.enrolment, questionnaire_id="mood")
    assert stored.status == Response.Status.SUBMITTED
    # The stored score is what the scoring function gives for the stored answers.
    questionnaire = get_questionnaire(world.enrolment.programme_version, "mood")
    assert questionnaire is not None
    answers = logic.answers_from_json(questionnaire, stored.answers)
    recomputed = logic.score(questionnaire, answers)
    assert recomputed is not None
    assert stored.score == logic.score_as_json(recomputed)
    assert recomputed.total == Decimal(10)
    assert [flag.key for flag in recomputed.flags] == ["very-hard-week"]
    event = AuditEvent.objects.get(action="questionnaires.response.submitted")
    assert event.patient_id == world.patient.pk
    assert event.detail["band"] == "heavier"
    submitted = ProgressEvent.Kind.QUESTIONNAIRE_SUBMITTED
    assert ProgressEvent.objects.filter(kind=submitted).count() == 1


def test_a_double_submit_stores_one_response(world: World, patient: Client) -> None:
    first = post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})
    second = post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Response.objects.count() == 1
    assert AuditEvent.objects.filter(action="questionnaires.response.submitted").count() == 1


def test_a_submitted_response_is_final(world: World, patient: Client) -> None:
    post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})
    before = list(Response.objects.values())

    other = {"feeling": "good", "stress": "0", "action": "submit", "token": "t2"}
    again = post(patient, world, "mood", other)

    assert again.status_code == 302
    assert list(Response.objects.values()) == before
    # Opening the form again goes to the result.
    assert patient.get(fill_url(world, "mood"))["Location"].endswith("/")


def test_diary_days_in_the_window_can_be_filled_and_others_are_refused(
    world: World, patient: Client, english: None
) -> None:
    today = timezone.localdate()
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        started_at=timezone.now() - datetime.timedelta(days=10)
    )
    entry = {"used": "true", "amount": "4", "craving": "6", "action": "submit", "token": "d"}
    for offset in (0, 1, 3):
        day = today - datetime.timedelta(days=offset)
        response = post(patient, world, "diary", {**entry, "token": f"d{offset}"}, day=day)
        assert response.status_code == 302, offset

    for day in (today - datetime.timedelta(days=4), today + datetime.timedelta(days=1)):
        response = post(patient, world, "diary", {**entry, "token": "late"}, day=day)
        assert response.status_code == 302
        assert response["Location"].endswith(
            reverse("questionnaires:list", args=[world.enrolment.pk])
        )
    assert sorted(
        Response.objects.filter(questionnaire_id="diary").values_list("day", flat=True)
    ) == [today - datetime.timedelta(days=d) for d in (3, 1, 0)]


def test_a_date_that_cannot_be_read_gets_a_message(world: World, patient: Client) -> None:
    url = reverse("questionnaires:fill", args=[world.enrolment.pk, "diary"]) + "?day=2026-02-30"
    response = patient.get(url, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("/questionnaires/")


def test_unknown_questionnaire_answers_404_and_is_recorded(world: World, patient: Client) -> None:
    response = patient.get(fill_url(world, "no-such-form"))

    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="questionnaires.access_denied").exists()


def test_another_patients_enrolment_answers_404(world: World, patient: Client) -> None:
    other = Enrolment.objects.exclude(pk=world.enrolment.pk).get()
    response = patient.get(reverse("questionnaires:fill", args=[other.pk, "mood"]))

    assert response.status_code == 404


def test_a_paused_treatment_changes_nothing(world: World, patient: Client) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.PAUSED)

    response = post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})
    htmx = post(patient, world, "mood", {"feeling": "bad", "token": "t"}, htmx=True)

    assert response.status_code == 302
    assert htmx["HX-Redirect"].endswith("/questionnaires/")  # the whole page, with a message
    assert not Response.objects.exists()


def test_the_start_page_and_the_list_show_what_is_due(
    world: World, patient: Client, english: None
) -> None:
    start = patient.get(reverse("care:patient_start")).content.decode()
    assert "To fill in" in start
    assert "How are you?" in start
    assert "Diary" in start

    post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})
    start = patient.get(reverse("care:patient_start")).content.decode()
    assert "How are you?" not in start
    listing = patient.get(reverse("questionnaires:list", args=[world.enrolment.pk]))
    assert "How are you?" in listing.content.decode()
    assert "Sent:" in listing.content.decode()


def test_measurements_show_a_chart_and_a_table(
    world: World, patient: Client, english: None
) -> None:
    today = timezone.localdate()
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        started_at=timezone.now() - datetime.timedelta(days=5)
    )
    for offset, craving in ((2, "7"), (1, "5"), (0, "3")):
        day = today - datetime.timedelta(days=offset)
        data = {"used": "false", "craving": craving, "action": "submit", "token": f"m{offset}"}
        assert post(patient, world, "diary", data, day=day).status_code == 302

    html = patient.get(reverse("questionnaires:measurements", args=[world.enrolment.pk]))
    text = html.content.decode()
    assert html.status_code == 200
    assert 'role="img"' in text
    assert "How strong was your strongest craving today?" in text
    assert "3 entries" in text
    assert text.count("<tr>") >= 4  # header and three entries


def test_the_programme_page_shows_the_questionnaire_block(
    world: World, patient: Client, english: None
) -> None:
    from steg.programmes.models import StepOpening

    StepOpening.objects.create(
        enrolment=world.enrolment,
        step_key="looking-back",
        opened_by=world.therapist,
        opened_at=timezone.now(),
    )
    url = reverse("programmes:page", args=[world.enrolment.pk, "looking-back"])
    html = patient.get(url).content.decode()

    assert "Fill in the questionnaire" in html
    assert fill_url(world, "mood") in html


def test_the_fill_page_runs_a_fixed_number_of_queries(
    world: World, patient: Client, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    patient.get(fill_url(world, "diary"))
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        started_at=timezone.now() - datetime.timedelta(days=3)
    )
    for offset in (3, 2, 1):
        day = timezone.localdate() - datetime.timedelta(days=offset)
        data = {"used": "false", "craving": "2", "action": "submit", "token": f"q{offset}"}
        post(patient, world, "diary", data, day=day)
    with django_assert_max_num_queries(8):
        assert patient.get(fill_url(world, "diary")).status_code in (200, 302)
    with django_assert_max_num_queries(8):
        assert (
            patient.get(reverse("questionnaires:measurements", args=[world.enrolment.pk]))
        ).status_code == 200


def test_an_htmx_change_that_cannot_be_saved_sends_the_whole_page_on(
    world: World, patient: Client
) -> None:
    post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})
    # Another tab still has the form open and the patient changes an answer there.
    response = post(patient, world, "mood", {"feeling": "good", "token": "other"}, htmx=True)

    assert response.status_code == 200
    assert response["HX-Redirect"].endswith(f"/{timezone.localdate().isoformat()}/")
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.PAUSED)
    paused = post(patient, world, "diary", {"used": "false", "token": "p"}, htmx=True)
    assert paused["HX-Redirect"].endswith("/questionnaires/")
    assert not Response.objects.filter(questionnaire_id="diary").exists()


def test_stored_answers_that_no_longer_fit_do_not_break_the_pages(
    world: World, patient: Client
) -> None:
    now = timezone.now()
    today = timezone.localdate()
    common = {"enrolment": world.enrolment, "language": "sv", "created_at": now, "updated_at": now}
    Response.objects.create(questionnaire_id="mood", day=today, answers={"stress": ["x"]}, **common)
    Response.objects.create(
        questionnaire_id="diary",
        day=today,
        answers={"craving": ["not a number"]},
        score={"nonsense": True},
        status=Response.Status.SUBMITTED,
        submitted_at=now,
        **common,
    )

    assert patient.get(fill_url(world, "mood")).status_code == 200
    result = reverse("questionnaires:result", args=[world.enrolment.pk, "diary", today.isoformat()])
    assert patient.get(result).status_code == 200
    measurements = reverse("questionnaires:measurements", args=[world.enrolment.pk])
    assert patient.get(measurements).status_code == 200


def test_a_closed_treatment_still_lists_the_answers_sent(
    world: World, patient: Client, english: None
) -> None:
    post(patient, world, "mood", {**GOOD_MOOD, "action": "submit"})
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.COMPLETED)

    html = patient.get(reverse("questionnaires:list", args=[world.enrolment.pk])).content.decode()

    assert "How are you?" in html
    assert "Sent:" in html
    assert "Fill in for today" not in html


def test_a_question_that_appears_gets_its_initial_answer(world: World) -> None:
    from steg.questionnaires.parse import load_questionnaire_text
    from steg.questionnaires.views import _with_initial

    questionnaire = load_questionnaire_text(
        """id: t
languages: [en]
title: {en: T}
items:
  - {linkId: smokes, type: boolean, text: {en: "Do you smoke?"}}
  - linkId: per-pack
    type: integer
    initial: [20]
    text: {en: Per pack}
    enableWhen: [{question: smokes, operator: "=", answer: true}]
"""
    )
    shown = frozenset({"smokes", "per-pack"})

    assert _with_initial(questionnaire, {"smokes": ["true"]}, shown)["per-pack"] == ["20"]
    # What the patient typed (even nothing) is kept.
    kept = _with_initial(questionnaire, {"smokes": ["true"], "per-pack": [""]}, shown)
    assert kept["per-pack"] == [""]
