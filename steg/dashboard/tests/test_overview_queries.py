"""The therapist's overview reads several lists of one table in one statement (the latest
responses and the latest scores, the conversation and the feedback, the meetings booked, held
and next, the firings fired and scheduled): each list is still the one it was on its own."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from steg.care.models import Meeting
from steg.dashboard.overview import ANSWERS_SHOWN, TIMELINE_PAGE
from steg.dashboard.views_overview import _feedback_urls
from steg.dialog.models import Message
from steg.questionnaires.models import Response
from steg.testing.personas import World

from .test_overview import answer, book_meeting, send_message, submit_exercise


def section(response: Any, heading_id: str) -> str:
    return str(response.content.decode()).split(f'id="{heading_id}"')[1].split("<h2")[0]


def diary(world: World, day: datetime.date, at: datetime.datetime) -> Response:
    return Response.objects.create(
        enrolment=world.enrolment,
        questionnaire_id="diary",
        day=day,
        status=Response.Status.SUBMITTED,
        answers={"used": [False], "craving": [3]},
        language="en",
        created_at=at,
        updated_at=at,
        submitted_at=at,
    )


def test_feedback_older_than_the_timelines_page_still_shows_on_its_answer(
    world: World, therapist: Client, url: str
) -> None:
    start = timezone.now() - datetime.timedelta(days=30)
    submit_exercise(world.enrolment, "Mitt svar", start)
    send_message(world, "Early feedback.", start, link_kind="exercise", link_key="why-try")
    for i in range(TIMELINE_PAGE + 10):
        send_message(world, f"Chat {i}", start + datetime.timedelta(hours=i + 1), from_patient=True)
    response = therapist.get(url)
    assert "Early feedback." in section(response, "answers-heading")
    assert "Early feedback." not in section(response, "timeline-heading")


def test_an_older_page_of_the_timeline_keeps_the_feedback_newer_than_it(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    submit_exercise(world.enrolment, "Mitt svar", now - datetime.timedelta(days=3))
    send_message(world, "Recent feedback.", now, link_kind="exercise", link_key="why-try")
    send_message(world, "An old question.", now - datetime.timedelta(days=2), from_patient=True)
    before = (now - datetime.timedelta(days=1)).astimezone(datetime.UTC).isoformat()
    response = therapist.get(url, {"before": before})
    assert "Recent feedback." in section(response, "answers-heading")
    timeline = section(response, "timeline-heading")
    assert "An old question." in timeline
    assert "Recent feedback." not in timeline


def test_feedback_oldest_first_and_only_from_staff_on_that_answer(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    submit_exercise(world.enrolment, "Mitt svar", now - datetime.timedelta(hours=3))
    send_message(
        world, "First.", now - datetime.timedelta(hours=2), link_kind="exercise", link_key="why-try"
    )
    send_message(
        world,
        "Second.",
        now - datetime.timedelta(hours=1),
        link_kind="exercise",
        link_key="why-try",
    )
    patients_own = send_message(world, "Patient's note.", now, from_patient=True)
    Message.objects.filter(pk=patients_own.pk).update(link_kind="exercise", link_key="why-try")
    answers = section(therapist.get(url), "answers-heading")
    assert answers.index("First.") < answers.index("Second.")
    assert "Patient's note." not in answers


def test_the_latest_score_shows_behind_many_newer_diary_entries(
    world: World, therapist: Client, url: str
) -> None:
    today = timezone.localdate()
    answer(
        world.enrolment,
        "mood",
        {"feeling": ["bad"], "stress": [9]},
        today - datetime.timedelta(days=40),
    )
    answer(
        world.enrolment,
        "mood",
        {"feeling": ["good"], "stress": [1]},
        today - datetime.timedelta(days=35),
    )
    for i in range(ANSWERS_SHOWN + 5):
        diary(world, today - datetime.timedelta(days=i), timezone.now())
    response = therapist.get(url)
    scores = section(response, "scores-heading")
    assert "Latest score" in scores
    assert response.context["answers"].more_responses
    assert all(r.questionnaire_id == "diary" for r in response.context["answers"].responses)
    [mood] = [s for s in response.context["sections"] if s.questionnaire_id == "mood"]
    assert mood.latest_day == today - datetime.timedelta(days=35)


def test_meetings_held_and_the_next_one_behind_many_newer_bookings(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    held = book_meeting(
        world, now - datetime.timedelta(days=5), booked_at=now - datetime.timedelta(days=60)
    )
    coming = book_meeting(
        world, now + datetime.timedelta(days=1), booked_at=now - datetime.timedelta(days=59)
    )
    for i in range(TIMELINE_PAGE + 5):
        meeting = book_meeting(
            world,
            now + datetime.timedelta(days=10 + i),
            booked_at=now - datetime.timedelta(days=10, hours=i),
        )
        if i % 2:
            Meeting.objects.filter(pk=meeting.pk).update(status=Meeting.Status.CANCELLED)
    response = therapist.get(url)
    assert response.context["next_meeting"] == coming
    timeline = response.context["timeline"]
    assert [e.at for e in timeline if e.label == "Meeting"] == [held.starts_at]
    assert any(e.label == "Meeting booked (since cancelled)" for e in timeline)
    assertContains(response, reverse("care:meeting_edit", args=[coming.pk]))


def test_no_next_meeting_when_the_only_one_is_over(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    book_meeting(
        world, now - datetime.timedelta(hours=2), booked_at=now - datetime.timedelta(days=1)
    )
    response = therapist.get(url)
    assert response.context["next_meeting"] is None
    assertContains(response, "None booked")


def test_a_patient_without_an_account_and_a_treatment_without_a_therapist(
    world: World, therapist: Client, url: str
) -> None:
    type(world.patient).objects.filter(pk=world.patient.pk).update(user=None)
    type(world.enrolment).objects.filter(pk=world.enrolment.pk).update(therapist=None)
    response = therapist.get(url)
    assert response.status_code == 200
    assertContains(response, "No account yet")
    assertContains(response, "Nobody yet")
    assertNotContains(response, "Tea Terapeut")


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("exercise", "why-try"),
        ("questionnaire", "mood/2026-03-01"),
        ("exercise", "with space"),
        ("exercise", "a/../b"),
        ("exercise", "å_ä-ö"),
        ("questionnaire", ""),
    ],
)
def test_the_feedback_address_is_the_one_reverse_gives(world: World, kind: str, key: str) -> None:
    messages_url = "/messages/"
    feedback_url = _feedback_urls(world.enrolment.pk, messages_url)
    feedback_url(kind, "warm-up")  # the address is worked out once per kind
    try:
        expected = reverse("dialog:feedback", args=[world.enrolment.pk, kind, key])
    except NoReverseMatch:
        expected = f"{messages_url}?link={kind}%3A{key}"
    assert feedback_url(kind, key) == expected
