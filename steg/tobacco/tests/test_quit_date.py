"""Setting and changing the quit date: validation, audit, access, and what follows the date."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.programmes.aids import AidContext
from steg.programmes.models import ExerciseAnswer, Page
from steg.programmes.outline import get_outline
from steg.programmes.progress import load_progress
from steg.questionnaires.models import Response
from steg.testing.personas import World
from steg.tobacco.aids import savings_context

from .conftest import submit_response

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime.datetime(2026, 6, 10, 12, 0, tzinfo=STOCKHOLM)
TODAY = datetime.date(2026, 6, 10)


def url(enrolment: Enrolment) -> str:
    return reverse("tobacco:quit_date", args=[enrolment.pk])


def page_url(enrolment: Enrolment, key: str) -> str:
    return reverse("programmes:page", args=[enrolment.pk, key])


def audit_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="care.enrolment.quit_date_set").order_by("pk"))


@pytest.fixture(autouse=True)
def _june_tenth() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_the_patient_sets_the_quit_date_and_goes_back_to_the_page(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tools = page_url(tobacco_enrolment, "tools")
    response = patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-15", "next": tools})

    assert response.status_code == 302
    assert response["Location"] == tools
    tobacco_enrolment.refresh_from_db()
    assert tobacco_enrolment.quit_date == datetime.date(2026, 6, 15)
    (event,) = audit_events()
    assert event.detail == {"old": None, "new": "2026-06-15"}
    assert event.patient == tobacco_enrolment.patient
    assert event.object_id == str(tobacco_enrolment.pk)
    assert event.actor_role == "patient"
    page = patient_en.get(tools)
    assert b"Your quit date is now 15 June 2026." in page.content


def test_changing_the_quit_date_records_old_and_new(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 15)
    tobacco_enrolment.save(update_fields=["quit_date"])
    patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-08"})
    (event,) = audit_events()
    assert event.detail == {"old": "2026-06-15", "new": "2026-06-08"}


def test_the_same_date_again_changes_nothing_and_records_nothing(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 15)
    tobacco_enrolment.save(update_fields=["quit_date"])
    response = patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-15"}, follow=True)
    assert b"Your quit date is still 15 June 2026." in response.content
    assert audit_events() == []


@pytest.mark.parametrize("value", ["2026-05-11", "2026-09-08"])
def test_the_limits_themselves_are_allowed(
    tobacco_enrolment: Enrolment, patient_en: Client, value: str
) -> None:
    response = patient_en.post(url(tobacco_enrolment), {"quit_date": value})
    assert response.status_code == 302
    tobacco_enrolment.refresh_from_db()
    assert tobacco_enrolment.quit_date == datetime.date.fromisoformat(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-05-10", "The quit date can be at most 30 days back. Choose 11 May 2026 or later."),
        ("2026-09-09", "The quit date can be at most 90 days ahead. Choose 8 September 2026 or"),
        ("2026-02-30", "Enter a real date, for example 2026-06-10."),
        ("next tuesday", "Enter a real date, for example 2026-06-10."),
        ("", "Choose your quit date."),
    ],
)
def test_a_date_out_of_range_or_not_a_date_is_refused_and_nothing_changes(
    tobacco_enrolment: Enrolment, patient_en: Client, value: str, message: str
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 15)
    tobacco_enrolment.save(update_fields=["quit_date"])
    tools = page_url(tobacco_enrolment, "tools")

    response = patient_en.post(url(tobacco_enrolment), {"quit_date": value, "next": tools})

    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert 'class="error-summary"' in html
    assert f'name="next" value="{tools}"' in html  # the way back is kept
    tobacco_enrolment.refresh_from_db()
    assert tobacco_enrolment.quit_date == datetime.date(2026, 6, 15)
    assert audit_events() == []


def test_the_messages_are_in_the_patients_language(
    tobacco_enrolment: Enrolment, patient: Client
) -> None:
    # Swedish is the default language; the form's field label comes from the catalogue.
    response = patient.post(url(tobacco_enrolment), {"quit_date": "2026-01-01"})
    assert response.status_code == 422
    assert '<html lang="sv">' in response.content.decode()
    assert "11 maj 2026" in response.content.decode()


def test_a_treatment_that_is_not_active_refuses_the_change(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.status = Enrolment.Status.PAUSED
    tobacco_enrolment.save(update_fields=["status"])
    tools = page_url(tobacco_enrolment, "tools")

    response = patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-12", "next": tools})

    assert response.status_code == 302 and response["Location"] == tools
    tobacco_enrolment.refresh_from_db()
    assert tobacco_enrolment.quit_date is None
    assert audit_events() == []
    page = patient_en.get(url(tobacco_enrolment))
    assert b"cannot be changed" in page.content
    assert b'name="quit_date"' not in page.content


def test_the_page_shows_the_form_without_javascript(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    response = patient_en.get(url(tobacco_enrolment))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="date"' in html and 'min="2026-05-11"' in html and 'max="2026-09-08"' in html
    # Without a `next`, the way back is the programme overview.
    overview = reverse("programmes:overview", args=[tobacco_enrolment.pk])
    assert f'name="next" value="{overview}"' in html


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_next_must_stay_on_the_site(
    tobacco_enrolment: Enrolment, patient_en: Client, next_url: str
) -> None:
    response = patient_en.post(
        url(tobacco_enrolment), {"quit_date": "2026-06-12", "next": next_url}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("programmes:overview", args=[tobacco_enrolment.pk])


@pytest.mark.parametrize("persona", ["therapist", "other_therapist", "author", "admin"])
def test_nobody_but_the_patient_reaches_the_quit_date(
    tobacco_enrolment: Enrolment, client_as: Callable[[str], Client], persona: str
) -> None:
    client = client_as(persona)
    assert client.get(url(tobacco_enrolment)).status_code == 404
    assert client.post(url(tobacco_enrolment), {"quit_date": "2026-06-12"}).status_code == 404
    tobacco_enrolment.refresh_from_db()
    assert tobacco_enrolment.quit_date is None


def test_another_patients_treatment_is_404_and_the_attempt_recorded(
    world: World, patient_en: Client
) -> None:
    other = Enrolment.objects.exclude(patient=world.patient).get()
    response = patient_en.post(url(other), {"quit_date": "2026-06-12"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.quit_date is None
    assert AuditEvent.objects.filter(
        action="care.enrolment.access_denied", object_id=str(other.pk)
    ).exists()


def test_anonymous_visitors_are_sent_to_log_in(
    tobacco_enrolment: Enrolment, client_as: Callable[[str], Client]
) -> None:
    response = client_as("anonymous").post(url(tobacco_enrolment), {"quit_date": "2026-06-12"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_only_get_and_post(tobacco_enrolment: Enrolment, patient_en: Client) -> None:
    assert patient_en.put(url(tobacco_enrolment)).status_code == 405


# --------------------------------------------------------------------------- what follows


def test_changing_the_quit_date_moves_a_step_and_keeps_every_answer(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 20)
    tobacco_enrolment.save(update_fields=["quit_date"])
    plan = Page.objects.get(version=tobacco_enrolment.programme_version, key="plan")
    for key in ("reasons", "triggers"):
        ExerciseAnswer.objects.create(
            enrolment=tobacco_enrolment,
            key=key,
            page=plan,
            draft=f"utkast {key}",
            submitted_text=f"svar {key}",
            status=ExerciseAnswer.Status.SUBMITTED,
            updated_at=NOW,
            submitted_at=NOW,
        )
    submit_response(tobacco_enrolment, "motivation", {"importance": [8]})
    answers_before = list(
        ExerciseAnswer.objects.order_by("pk").values_list("key", "draft", "submitted_text")
    )
    responses_before = list(Response.objects.order_by("pk").values_list("pk", "answers"))
    outline = get_outline(tobacco_enrolment.programme_version, "en")

    def first_days() -> tuple[bool, datetime.datetime | None]:
        enrolment = Enrolment.objects.get(pk=tobacco_enrolment.pk)
        step = load_progress(enrolment, outline).step("first-days")
        return step.unlocked, step.availability.opens_at

    assert first_days() == (False, datetime.datetime(2026, 6, 21, tzinfo=STOCKHOLM))
    assert patient_en.get(page_url(tobacco_enrolment, "after-quitting")).status_code == 404

    patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-05"})

    assert first_days() == (True, datetime.datetime(2026, 6, 6, tzinfo=STOCKHOLM))
    assert patient_en.get(page_url(tobacco_enrolment, "after-quitting")).status_code == 200

    patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-07-01"})

    assert first_days() == (False, datetime.datetime(2026, 7, 2, tzinfo=STOCKHOLM))
    assert (
        list(ExerciseAnswer.objects.order_by("pk").values_list("key", "draft", "submitted_text"))
        == answers_before
    )
    assert list(Response.objects.order_by("pk").values_list("pk", "answers")) == responses_before
    assert [e.detail for e in audit_events()] == [
        {"old": "2026-06-20", "new": "2026-06-05"},
        {"old": "2026-06-05", "new": "2026-07-01"},
    ]


def test_the_savings_follow_a_changed_quit_date(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    submit_response(
        tobacco_enrolment,
        "tobacco-profile",
        {"product": ["snus"], "cans-per-week": ["7"], "can-price": ["50"]},
    )
    outline = get_outline(tobacco_enrolment.programme_version, "en")

    def money() -> int | None:
        enrolment = Enrolment.objects.select_related("programme_version").get(
            pk=tobacco_enrolment.pk
        )
        ctx = AidContext(enrolment=enrolment, outline=outline, language="en")
        return savings_context(ctx)["savings"].money

    patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-01"})
    assert money() == 450
    patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-08"})
    assert money() == 100
    patient_en.post(url(tobacco_enrolment), {"quit_date": "2026-06-01"})
    assert money() == 450
