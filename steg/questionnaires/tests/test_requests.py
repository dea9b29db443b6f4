"""Requested questionnaires: a rule or the therapist makes a questionnaire due for one enrolment
on a day its schedule does not, and the patient fills it in like any other."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.programmes.actions import import_programme
from steg.programmes.models import ProgrammeVersion
from steg.questionnaires.actions import request_questionnaire
from steg.questionnaires.due import due_for_enrolment, due_items
from steg.questionnaires.models import QuestionnaireRequest, Response
from steg.testing.personas import EXAMPLE_PROGRAMME, World

# A follow-up anchored on the quit date: without one it is never due by its schedule.
CHECK_IN = """\
id: check-in
title: {sv: Avstämning, en: Check-in}
schedule:
  kind: offsets
  anchor: quit_date
  offsets: [90]
items:
  - linkId: wellbeing
    type: integer
    required: true
    minValue: 0
    maxValue: 10
    text: {sv: "Hur mår du, från 0 till 10?", en: "How are you, from 0 to 10?"}
"""

PROFILE = """\
id: tobacco-profile
title: {sv: Din tobak, en: Your tobacco}
items:
  - linkId: product
    type: choice
    required: true
    text: {sv: "Vad använder du?", en: "What do you use?"}
    answerOption:
      - code: smoking
        text: {sv: Cigaretter, en: Cigarettes}
      - code: snus
        text: {sv: Snus, en: Snus}
      - code: both
        text: {sv: Båda, en: Both}
"""

# Embedded only in a block for snus users: hidden for a smoker.
SNUS_CHECK = """\
id: snus-check
title: {sv: Snuskoll, en: Snus check}
schedule: {kind: once, start_day: 30}
items:
  - linkId: cans
    type: integer
    minValue: 0
    maxValue: 50
    text: {sv: Dosor per vecka, en: Cans per week}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def requests_programme(root: Path) -> Path:
    """The example programme with a quit-date follow-up, and a snus-only questionnaire."""
    folder = root / "requests"
    shutil.copytree(EXAMPLE_PROGRAMME, folder)
    manifest = folder / "programme.yaml"
    text = manifest.read_text(encoding="utf-8").replace(
        "steps:\n",
        "attributes:\n"
        "  tobacco:\n"
        "    values: [smoking, snus, both]\n"
        "    from: {questionnaire: tobacco-profile, item: product}\n"
        "steps:\n",
        1,
    )
    _write(manifest, text)
    for qid, body in (("check-in", CHECK_IN), ("tobacco-profile", PROFILE)):
        _write(folder / "questionnaires" / f"{qid}.yaml", body)
    _write(folder / "questionnaires" / "snus-check.yaml", SNUS_CHECK)
    for language in ("sv", "en"):
        page = folder / "pages" / language / "how-it-works.md"
        _write(
            page,
            page.read_text(encoding="utf-8")
            + "\n::: questionnaire snus-check when=tobacco:snus|both\n:::\n",
        )
    return folder


@pytest.fixture
def version(world: World, tmp_path: Path) -> ProgrammeVersion:
    return import_programme(requests_programme(tmp_path)).version


@pytest.fixture
def enrolment(world: World, version: ProgrammeVersion) -> Enrolment:
    """The patient persona's enrolment, and the other patient's, in the test programme."""
    Enrolment.objects.update(programme_version=version)
    world.enrolment.refresh_from_db()
    return world.enrolment


@pytest.fixture
def other_enrolment(world: World, enrolment: Enrolment) -> Enrolment:
    return Enrolment.objects.exclude(pk=enrolment.pk).get()


@pytest.fixture
def patient(client_as: Callable[[str], Client], world: World) -> Client:
    world.patient_user.language = "en"
    world.patient_user.save(update_fields=["language"])
    return client_as("patient")


def fill_url(enrolment: Enrolment, qid: str, day: datetime.date | None = None) -> str:
    url = reverse("questionnaires:fill", args=[enrolment.pk, qid])
    return f"{url}?day={day.isoformat()}" if day else url


def due_ids(
    enrolment: Enrolment, today: datetime.date | None = None
) -> dict[str, tuple[datetime.date, ...]]:
    return {
        item.questionnaire.id: item.days
        for item in due_for_enrolment(enrolment, today or timezone.localdate(), "en")
    }


def send_check_in(client: Client, enrolment: Enrolment, day: datetime.date) -> str:
    data = {"wellbeing": "7", "action": "submit", "token": f"c{day.isoformat()}"}
    response = client.post(fill_url(enrolment, "check-in", day), data)
    assert response.status_code == 302
    return str(response["Location"])


def start_page(client: Client) -> str:
    return client.get(reverse("care:patient_start")).content.decode()


def test_a_requested_questionnaire_is_due_although_its_schedule_is_not(
    enrolment: Enrolment, patient: Client
) -> None:
    today = timezone.localdate()
    assert "check-in" not in due_ids(enrolment)  # no quit date: never due by its schedule
    assert "Check-in" not in start_page(patient)

    assert request_questionnaire(
        enrolment=enrolment, questionnaire_id="check-in", day=today, rule="weekly-check"
    )

    assert due_ids(enrolment)["check-in"] == (today,)
    assert "Check-in" in start_page(patient)
    listing = patient.get(reverse("questionnaires:list", args=[enrolment.pk])).content.decode()
    assert f"{fill_url(enrolment, 'check-in')}?day={today.isoformat()}" in listing
    stored = QuestionnaireRequest.objects.get()
    assert (stored.rule, stored.requested_by, stored.day) == ("weekly-check", None, today)
    event = AuditEvent.objects.get(action="questionnaires.request.created")
    assert event.patient_id == enrolment.patient_id
    assert event.detail["questionnaire"] == "check-in"
    assert event.purpose == "automation"


def test_the_patient_sends_the_requested_day_and_then_it_is_no_longer_due(
    enrolment: Enrolment, patient: Client
) -> None:
    today = timezone.localdate()
    request_questionnaire(enrolment=enrolment, questionnaire_id="check-in", day=today)

    form = patient.get(fill_url(enrolment, "check-in", today))
    assert form.status_code == 200
    assert "How are you, from 0 to 10?" in form.content.decode()
    assert patient.get(fill_url(enrolment, "check-in")).status_code == 200  # no day: today's
    result = send_check_in(patient, enrolment, today)

    assert result.endswith(f"/check-in/{today.isoformat()}/")
    assert patient.get(result).status_code == 200
    sent = Response.objects.get(enrolment=enrolment, questionnaire_id="check-in")
    assert (sent.day, sent.status) == (today, Response.Status.SUBMITTED)
    assert "check-in" not in due_ids(enrolment)
    assert "Check-in" not in start_page(patient)
    # Opening it again shows the answers sent.
    assert patient.get(fill_url(enrolment, "check-in"))["Location"] == result


def test_a_requested_day_stays_open_until_answered_and_a_future_one_waits(
    enrolment: Enrolment, patient: Client, client_as: Callable[[str], Client]
) -> None:
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    request_questionnaire(enrolment=enrolment, questionnaire_id="check-in", day=tomorrow)

    assert "check-in" not in due_ids(enrolment)
    refused = patient.get(fill_url(enrolment, "check-in", tomorrow))
    assert refused["Location"].endswith(reverse("questionnaires:list", args=[enrolment.pk]))

    # Ten days later it is still open (a schedule's day without backfill would have closed).
    later = timezone.now() + datetime.timedelta(days=10)
    with time_machine.travel(later, tick=False):
        assert due_ids(enrolment)["check-in"] == (tomorrow,)
        send_check_in(client_as("patient"), enrolment, tomorrow)
        assert "check-in" not in due_ids(enrolment)


def test_a_new_request_opens_a_questionnaire_already_answered_again(
    enrolment: Enrolment, patient: Client
) -> None:
    today = timezone.localdate()
    earlier = today - datetime.timedelta(days=10)
    request_questionnaire(enrolment=enrolment, questionnaire_id="check-in", day=earlier)
    send_check_in(patient, enrolment, earlier)
    request_questionnaire(enrolment=enrolment, questionnaire_id="check-in", day=today)

    assert due_ids(enrolment)["check-in"] == (today,)
    send_check_in(patient, enrolment, today)
    assert sorted(Response.objects.values_list("day", flat=True)) == [earlier, today]


def test_a_request_for_a_day_already_answered_is_met_by_that_answer(
    enrolment: Enrolment, patient: Client
) -> None:
    today = timezone.localdate()
    data = {"used": "false", "craving": "2", "action": "submit", "token": "d"}
    assert patient.post(fill_url(enrolment, "diary", today), data).status_code == 302

    assert request_questionnaire(enrolment=enrolment, questionnaire_id="diary", day=today)
    assert "diary" not in due_ids(enrolment)


def test_a_repeated_request_creates_nothing(enrolment: Enrolment, world: World) -> None:
    today = timezone.localdate()
    first = request_questionnaire(
        enrolment=enrolment, questionnaire_id="check-in", day=today, requested_by=world.therapist
    )
    before = list(QuestionnaireRequest.objects.values())
    again = request_questionnaire(
        enrolment=enrolment, questionnaire_id="check-in", day=today, rule="another-rule"
    )

    assert (first, again) == (True, False)
    assert list(QuestionnaireRequest.objects.values()) == before
    [event] = AuditEvent.objects.filter(action="questionnaires.request.created")
    assert (event.actor_id, event.actor_role, event.purpose) == (
        world.therapist.pk,
        "therapist",
        "care",
    )


def test_an_unknown_questionnaire_is_refused(enrolment: Enrolment) -> None:
    with pytest.raises(ValueError, match="no-such-form"):
        request_questionnaire(
            enrolment=enrolment, questionnaire_id="no-such-form", day=timezone.localdate()
        )

    assert not QuestionnaireRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="questionnaires.request.created").exists()


def test_a_questionnaire_of_another_programme_version_is_refused(world: World) -> None:
    # The persona's enrolment is still in the example programme, which has no check-in.
    with pytest.raises(ValueError):
        request_questionnaire(
            enrolment=world.enrolment, questionnaire_id="check-in", day=timezone.localdate()
        )


def test_a_request_for_another_patients_enrolment_is_not_visible_to_this_patient(
    enrolment: Enrolment, other_enrolment: Enrolment, patient: Client
) -> None:
    today = timezone.localdate()
    request_questionnaire(enrolment=other_enrolment, questionnaire_id="check-in", day=today)

    assert due_ids(other_enrolment)["check-in"] == (today,)
    assert "check-in" not in due_ids(enrolment)
    assert "Check-in" not in start_page(patient)
    listing = patient.get(reverse("questionnaires:list", args=[enrolment.pk])).content.decode()
    assert "Check-in" not in listing
    own = patient.get(fill_url(enrolment, "check-in", today))
    assert own["Location"].endswith(reverse("questionnaires:list", args=[enrolment.pk]))
    refused = patient.post(
        fill_url(enrolment, "check-in", today), {"wellbeing": "3", "action": "submit"}
    )
    assert refused.status_code == 302
    assert patient.get(fill_url(other_enrolment, "check-in", today)).status_code == 404
    assert not Response.objects.exists()


def _smoker_asked_for_the_snus_check(enrolment: Enrolment, patient: Client) -> bool:
    """The patient says they smoke (which hides the snus check) and the snus check is
    requested for today; returns whether the request was stored."""
    today = timezone.localdate()
    data = {"product": "smoking", "action": "submit", "token": "p"}
    assert patient.post(fill_url(enrolment, "tobacco-profile", today), data).status_code == 302
    return request_questionnaire(enrolment=enrolment, questionnaire_id="snus-check", day=today)


def test_a_questionnaire_hidden_for_the_patient_stays_hidden_when_requested(
    enrolment: Enrolment, patient: Client
) -> None:
    assert _smoker_asked_for_the_snus_check(enrolment, patient)
    assert "snus-check" not in due_ids(enrolment)
    assert "Snus check" not in start_page(patient)


def test_a_questionnaire_hidden_for_the_patient_cannot_be_filled_in_from_a_link(
    enrolment: Enrolment, patient: Client
) -> None:
    _smoker_asked_for_the_snus_check(enrolment, patient)
    url = fill_url(enrolment, "snus-check", timezone.localdate())

    shown = patient.get(url, follow=True)
    assert shown.redirect_chain[-1][0] == reverse("questionnaires:list", args=[enrolment.pk])
    assert "This questionnaire is not part of your treatment." in shown.content.decode()
    sent = patient.post(url, {"cans": "3", "action": "submit", "token": "s"})
    assert sent.status_code == 302
    assert not Response.objects.filter(questionnaire_id="snus-check").exists()

    # For a snus user it is open as before.
    Enrolment.objects.filter(pk=enrolment.pk).update(attributes={"tobacco": "snus"})
    assert patient.get(url).status_code == 200


def test_a_paused_treatment_lists_no_requested_questionnaire(enrolment: Enrolment) -> None:
    request_questionnaire(
        enrolment=enrolment, questionnaire_id="check-in", day=timezone.localdate()
    )
    Enrolment.objects.filter(pk=enrolment.pk).update(status=Enrolment.Status.PAUSED)
    enrolment.refresh_from_db()

    assert "check-in" not in due_ids(enrolment)


def _start_page_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("care:patient_start")).status_code == 200
    return len(captured)


def test_the_due_list_costs_the_same_with_one_request_or_several(
    enrolment: Enrolment,
    other_enrolment: Enrolment,
    patient: Client,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    today = timezone.localdate()
    request_questionnaire(enrolment=enrolment, questionnaire_id="check-in", day=today)
    # Warm the caches (outline, questionnaires, each enrolment's programme version).
    patient.get(reverse("care:patient_start"))
    due_items([enrolment, other_enrolment], today, "en")
    one = _start_page_queries(patient)
    with CaptureQueriesContext(connection) as captured:
        due_items([enrolment, other_enrolment], today, "en")
    one_for_two = len(captured)

    for days_ago in (1, 2, 5):
        request_questionnaire(
            enrolment=enrolment,
            questionnaire_id="check-in",
            day=today - datetime.timedelta(days=days_ago),
        )
    request_questionnaire(enrolment=enrolment, questionnaire_id="mood", day=today)
    request_questionnaire(enrolment=other_enrolment, questionnaire_id="check-in", day=today)

    assert _start_page_queries(patient) == one
    with django_assert_num_queries(one_for_two) as captured:
        items = due_items([enrolment, other_enrolment], today, "en")
    # One query for the requests of both enrolments.
    asked = [q["sql"] for q in captured.captured_queries if "questionnairerequest" in q["sql"]]
    assert len(asked) == 1
    check_ins = {i.enrolment.pk: i.days for i in items if i.questionnaire.id == "check-in"}
    assert len(check_ins[enrolment.pk]) == 4
    assert check_ins[other_enrolment.pk] == (today,)
