"""The assessment talk: recorded against a referral, with the dependence test scored as published
and the patient's treatment choice."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care.models import Assessment, Patient, Referral
from steg.programmes.models import Programme
from steg.testing.personas import World

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime.datetime(2026, 3, 10, 14, 0, tzinfo=STOCKHOLM)
TODAY = datetime.date(2026, 3, 10)

# FTND answers and their points as published (Heatherton et al. 1991): 3 + 1 + 1 + 1 + 1 + 0.
FTND = {
    "dep-first-cigarette": "within-5",
    "dep-forbidden-places": "yes",
    "dep-hate-most": "first-in-morning",
    "dep-per-day": "11-20",
    "dep-first-hours": "yes",
    "dep-when-ill": "no",
}
FTND_SCORE = 7
# FTND-ST answers (Ebbert et al. 2006): 2 + 2 + 0 + 1 + 0 + 1.
FTND_ST = {
    "dep-first-dip": "6-30",
    "dep-swallow-juice": "always",
    "dep-hate-most": "any-other",
    "dep-per-week": "2-3",
    "dep-first-hours": "no",
    "dep-when-ill": "yes",
}
FTND_ST_SCORE = 6


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _march_tenth() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def as_en(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


@pytest.fixture
def programme(world: World) -> Programme:
    return world.enrolment.programme_version.programme


def open_referral(world: World, tobacco: str = "cigarettes") -> Referral:
    patient = Patient.objects.create(
        personnummer="198505051238", first_name="Nora", last_name="Nikotin"
    )
    return Referral.objects.create(
        patient=patient,
        referring_unit=world.referring_unit,
        receiving_unit=world.unit,
        referrer=world.referrer,
        tobacco_type=tobacco,
        tobacco_amount="20 cigaretter om dagen",
        reason="Vill sluta",
        contact_consent=True,
        created_at=NOW - datetime.timedelta(days=7),
    )


@pytest.fixture
def referral(world: World) -> Referral:
    return open_referral(world)


def url(referral: Referral) -> str:
    return reverse("care:assessment_new", args=[referral.pk])


def talk(chosen: Programme | None, /, **changes: Any) -> dict[str, Any]:
    """A complete assessment talk for a smoker who chose the guided digital programme."""
    data: dict[str, Any] = {
        "held_on": "2026-03-09",
        "mode": "video",
        "tobacco_type": "cigarettes",
        "tobacco_use": "20 cigaretter om dagen i 15 år",
        "dependence_test": "ftnd",
        **FTND,
        "motivation": "8",
        "confidence": "5",
        "notes": "Har försökt sluta två gånger tidigare.",
        "choice": "digital_guided",
        "choice_reason": "Vill ha stöd men arbeta på egen tid.",
        "programme": chosen.pk if chosen else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def nothing_recorded(referral: Referral, status: str = Referral.Status.NEW) -> bool:
    referral.refresh_from_db()
    return (
        not Assessment.objects.filter(referral=referral).exists()
        and referral.status == status
        and not AuditEvent.objects.filter(action="care.assessment.recorded").exists()
    )


def test_the_form_starts_from_the_referral_and_asks_the_ftnd_for_a_smoker(
    referral: Referral, as_en: Callable[[str], Client]
) -> None:
    response = as_en("therapist").get(url(referral))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["held_on"].value() == TODAY
    assert form["tobacco_type"].value() == "cigarettes"
    assert form["tobacco_use"].value() == "20 cigaretter om dagen"
    text = response.content.decode()
    assert "Fagerström Test for Nicotine Dependence" in text
    assert 'name="dep-first-cigarette"' in text
    assert 'name="dependence_test" value="ftnd"' in text
    assert 'name="dep-first-dip"' not in text
    event = AuditEvent.objects.get(action="care.referral.viewed")
    assert event.patient == referral.patient


def test_a_digital_choice_is_recorded_with_the_ftnd_scored_as_published(
    world: World, referral: Referral, programme: Programme, as_en: Callable[[str], Client]
) -> None:
    client = as_en("therapist")
    response = client.post(url(referral), talk(programme))

    assert response.status_code == 302
    assert response["Location"] == reverse("care:referral_detail", args=[referral.pk])
    assessment = Assessment.objects.get(referral=referral)
    assert assessment.patient == referral.patient
    assert assessment.unit == world.unit
    assert assessment.therapist == world.therapist
    assert assessment.held_on == datetime.date(2026, 3, 9)
    assert assessment.mode == "video"
    assert assessment.dependence_test == "ftnd"
    assert assessment.dependence_score == FTND_SCORE
    assert assessment.dependence_answers == {
        key.removeprefix("dep-"): [value] for key, value in FTND.items()
    }
    assert (assessment.motivation, assessment.confidence) == (8, 5)
    assert assessment.choice == "digital_guided"
    assert assessment.programme == programme
    referral.refresh_from_db()
    assert referral.status == Referral.Status.ASSESSED
    event = AuditEvent.objects.get(action="care.assessment.recorded")
    assert event.detail == {"referral": referral.pk, "choice": "digital_guided"}
    # The referral's page sums up the talk and offers the enrolment.
    page = client.get(response["Location"]).content.decode()
    assert "The assessment talk is recorded. The patient can now be enrolled." in page
    assert "Fagerström Test for Nicotine Dependence: 7 (High nicotine dependence)" in page
    assert "High dependence (FTND 7 or more)" in page
    assert reverse("care:enrol", args=[assessment.pk]) in page
    assert reverse("care:assessment_new", args=[referral.pk]) not in page


def test_a_snus_user_answers_the_ftnd_st_scored_as_published(
    world: World, programme: Programme, client_as: Callable[[str], Client]
) -> None:
    referral = open_referral(world, tobacco="snus")
    client = client_as("therapist")
    page = client.get(url(referral)).content.decode()
    assert 'name="dep-first-dip"' in page
    assert 'name="dependence_test" value="ftnd-st"' in page
    data = talk(programme, tobacco_type="snus", dependence_test="ftnd-st")
    for key in FTND:
        data.pop(key)

    response = client.post(url(referral), {**data, **FTND_ST})

    assert response.status_code == 302
    assessment = Assessment.objects.get(referral=referral)
    assert assessment.dependence_test == "ftnd-st"
    assert assessment.dependence_score == FTND_ST_SCORE


@pytest.mark.parametrize(
    ("choice", "reason"),
    [("counselling", "other_treatment"), ("app", "other_treatment"), ("none", "no_treatment")],
)
def test_a_choice_other_than_the_digital_programme_closes_the_referral(
    choice: str,
    reason: str,
    referral: Referral,
    programme: Programme,
    as_en: Callable[[str], Client],
) -> None:
    client = as_en("therapist")
    # A programme chosen by mistake is not kept for a choice that names none.
    response = client.post(url(referral), talk(programme, choice=choice))

    assert response.status_code == 302
    assessment = Assessment.objects.get(referral=referral)
    assert assessment.choice == choice
    assert assessment.programme is None
    referral.refresh_from_db()
    assert referral.status == Referral.Status.CLOSED
    assert referral.close_reason == reason
    page = client.get(response["Location"]).content.decode()
    assert "The assessment talk is recorded and the referral is closed." in page
    assert reverse("care:enrol", args=[assessment.pk]) not in page


def test_other_tobacco_has_no_dependence_test(
    world: World, programme: Programme, client_as: Callable[[str], Client]
) -> None:
    referral = open_referral(world, tobacco="other")
    client = client_as("therapist")
    assert 'name="dep-' not in client.get(url(referral)).content.decode()

    response = client.post(url(referral), talk(programme, tobacco_type="other", dependence_test=""))

    assert response.status_code == 302
    assessment = Assessment.objects.get(referral=referral)
    assert (assessment.dependence_test, assessment.dependence_score) == ("", None)
    assert assessment.dependence_answers == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"held_on": "2026-03-11"}, "held_on"),
        ({"held_on": "2026-02-28"}, "held_on"),  # before the referral came
        ({"held_on": "2026-02-30"}, "held_on"),
        ({"motivation": "11"}, "motivation"),
        ({"confidence": "-1"}, "confidence"),
        ({"motivation": "eight"}, "motivation"),
        ({"programme": ""}, "programme"),
        ({"choice": "digital_self_help", "programme": ""}, "programme"),
        ({"choice": "hypnosis"}, "choice"),
        ({"choice": None}, "choice"),
        ({"programme": "999999"}, "programme"),
        ({"programme": "1; DROP TABLE"}, "programme"),
        ({"mode": "carrier pigeon"}, "mode"),
        ({"tobacco_type": "pipe"}, "tobacco_type"),
        ({"choice_reason": "  "}, "choice_reason"),
        ({"tobacco_use": ""}, "tobacco_use"),
    ],
)
def test_bad_or_tampered_input_is_refused_and_nothing_is_stored(
    changes: dict[str, Any],
    field: str,
    referral: Referral,
    programme: Programme,
    as_en: Callable[[str], Client],
) -> None:
    response = as_en("therapist").post(url(referral), talk(programme, **changes))

    assert response.status_code == 422
    assert field in response.context["form"].errors, response.context["form"].errors
    assert "There is a problem" in response.content.decode()
    assert nothing_recorded(referral)


def test_a_future_date_is_refused_with_a_clear_message(
    referral: Referral, programme: Programme, as_en: Callable[[str], Client]
) -> None:
    response = as_en("therapist").post(url(referral), talk(programme, held_on="2026-03-11"))

    assert "The talk cannot be recorded before it has taken place. Check the date." in (
        response.content.decode()
    )


def test_the_digital_programme_must_be_named(
    referral: Referral, as_en: Callable[[str], Client]
) -> None:
    response = as_en("therapist").post(url(referral), talk(None))

    assert response.status_code == 422
    assert "Choose the digital programme the patient will follow." in response.content.decode()
    assert nothing_recorded(referral)


@pytest.mark.parametrize(
    "answers",
    [
        {**FTND, "dep-per-day": "a thousand"},  # not one of the options
        {k: v for k, v in FTND.items() if k != "dep-when-ill"},  # one question unanswered
        {**FTND, "dep-first-cigarette": ["within-5", "after-60"]},  # two answers to one
        {},
    ],
)
def test_the_dependence_test_must_be_answered_with_its_own_options(
    answers: dict[str, Any],
    referral: Referral,
    programme: Programme,
    client_as: Callable[[str], Client],
) -> None:
    data = {k: v for k, v in talk(programme).items() if not k.startswith("dep-")}

    response = client_as("therapist").post(url(referral), {**data, **answers})

    assert response.status_code == 422
    assert response.context["section"].errors
    assert nothing_recorded(referral)


def test_changing_the_tobacco_without_javascript_brings_up_the_other_test(
    referral: Referral, programme: Programme, as_en: Callable[[str], Client]
) -> None:
    client = as_en("therapist")
    # The FTND was shown for the referral's cigarettes; the patient turns out to use snus.
    response = client.post(url(referral), talk(programme, tobacco_type="snus"))

    assert response.status_code == 422
    text = response.content.decode()
    assert "The tobacco has changed, so the dependence test has too." in text
    assert 'name="dep-first-dip"' in text
    assert 'name="dependence_test" value="ftnd-st"' in text
    # What was written stays in the form.
    assert "Har försökt sluta två gånger tidigare." in text
    assert nothing_recorded(referral)

    data = {k: v for k, v in talk(programme).items() if not k.startswith("dep-")}
    data.update(tobacco_type="snus", dependence_test="ftnd-st", **FTND_ST)
    assert client.post(url(referral), data).status_code == 302
    assert Assessment.objects.get(referral=referral).dependence_score == FTND_ST_SCORE


def test_with_htmx_the_test_follows_the_tobacco_at_once(
    referral: Referral, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").get(
        url(referral), {"tobacco_type": "snus"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="dependence-test">')
    assert 'name="dep-first-dip"' in text
    assert "<html" not in text


def test_a_link_with_the_tobacco_opens_the_form_with_its_test(
    referral: Referral, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").get(url(referral), {"tobacco": "snus"})

    assert response.context["form"]["tobacco_type"].value() == "snus"
    assert 'name="dep-first-dip"' in response.content.decode()
    assert client_as("therapist").get(url(referral), {"tobacco": "x"}).status_code == 200


def test_a_second_assessment_talk_is_refused(
    referral: Referral, programme: Programme, as_en: Callable[[str], Client]
) -> None:
    client = as_en("admin")
    assert client.post(url(referral), talk(programme)).status_code == 302

    again = client.post(url(referral), talk(programme, choice="none", held_on="2026-03-10"))

    assert again.status_code == 302
    assert Assessment.objects.filter(referral=referral).count() == 1
    assert Assessment.objects.get(referral=referral).choice == "digital_guided"
    assert AuditEvent.objects.filter(action="care.assessment.recorded").count() == 1
    page = client.get(url(referral), follow=True)
    assert "The assessment talk for this referral is already recorded." in page.content.decode()


def test_a_closed_referral_gets_no_assessment_talk(
    referral: Referral, programme: Programme, client_as: Callable[[str], Client]
) -> None:
    Referral.objects.filter(pk=referral.pk).update(
        status=Referral.Status.CLOSED, close_reason="declined"
    )

    response = client_as("therapist").post(url(referral), talk(programme))

    assert response.status_code == 302
    assert nothing_recorded(referral, status=Referral.Status.CLOSED)


@pytest.mark.parametrize("persona", ["other_therapist", "referrer", "author", "patient"])
def test_staff_without_a_care_role_at_the_unit_get_404_and_nothing_is_stored(
    persona: str, referral: Referral, programme: Programme, client_as: Callable[[str], Client]
) -> None:
    client = client_as(persona)

    assert client.get(url(referral)).status_code == 404
    assert client.post(url(referral), talk(programme)).status_code == 404

    assert nothing_recorded(referral)
    assert AuditEvent.objects.filter(action="care.referral.access_denied").count() == 2
