"""The therapist's overview of a treatment: who sees it, what it shows, what it costs."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.audit.actions import Actor, record_event
from steg.audit.models import AuditEvent
from steg.care.models import Enrolment, EnrolmentEvent, Meeting
from steg.dashboard.logins import LOGIN_ACTION, record_patient_login
from steg.dashboard.overview import TIMELINE_PAGE, Entry, page_of
from steg.dialog.models import Message
from steg.programmes.models import ExerciseAnswer, Page, ProgressEvent
from steg.questionnaires import actions as questionnaire_actions
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response
from steg.testing.personas import PASSWORD, World
from steg.tobacco.overview import count_days, tobacco_free_days

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def html(response: Any) -> str:
    return str(response.content.decode())


def section(response: Any, heading_id: str) -> str:
    """The markup of the page's section with this heading (up to the next h2)."""
    return html(response).split(f'id="{heading_id}"')[1].split("<h2")[0]


# --- test data (scaffolding: the application writes these through its actions) -------------


def read_page(enrolment: Enrolment, key: str, at: datetime.datetime) -> ProgressEvent:
    return ProgressEvent.objects.create(
        enrolment=enrolment, kind=ProgressEvent.Kind.PAGE_READ, subject=key, created_at=at
    )


def submit_exercise(enrolment: Enrolment, text: str, at: datetime.datetime) -> ExerciseAnswer:
    page = Page.objects.get(version=enrolment.programme_version, key="first-exercise")
    ProgressEvent.objects.create(
        enrolment=enrolment,
        kind=ProgressEvent.Kind.EXERCISE_SUBMITTED,
        subject="why-try",
        created_at=at,
    )
    answer, _ = ExerciseAnswer.objects.update_or_create(
        enrolment=enrolment,
        key="why-try",
        defaults={
            "page": page,
            "submitted_text": text,
            "status": ExerciseAnswer.Status.SUBMITTED,
            "updated_at": at,
            "submitted_at": at,
        },
    )
    return answer


def send_message(
    world: World,
    body: str,
    at: datetime.datetime,
    *,
    from_patient: bool = False,
    link_kind: str = "",
    link_key: str = "",
) -> Message:
    return Message.objects.create(
        enrolment=world.enrolment,
        sender=world.patient_user if from_patient else world.therapist,
        sender_role=Message.SenderRole.PATIENT if from_patient else Message.SenderRole.STAFF,
        body=body,
        created_at=at,
        link_kind=link_kind,
        link_key=link_key,
    )


def book_meeting(
    world: World, starts_at: datetime.datetime, *, booked_at: datetime.datetime
) -> Meeting:
    return Meeting.objects.create(
        patient=world.patient,
        unit=world.unit,
        therapist=world.therapist,
        enrolment=world.enrolment,
        kind=Meeting.Kind.FOLLOW_UP,
        mode="video",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        created_by=world.therapist,
        created_at=booked_at,
    )


def answer(
    enrolment: Enrolment, questionnaire_id: str, answers: dict[str, list[Any]], day: datetime.date
) -> Response:
    """Submit (and score) answers as the patient does."""
    questionnaire = get_questionnaire(enrolment.programme_version, questionnaire_id)
    assert questionnaire is not None
    from steg.questionnaires import logic

    return questionnaire_actions.submit(
        enrolment=enrolment,
        questionnaire=questionnaire,
        day=day,
        answers=logic.answers_from_json(questionnaire, answers),
        language="en",
        token=f"{questionnaire_id}-{day}",
    )


# --- who sees it ---------------------------------------------------------------------------


def test_the_therapist_sees_the_overview_and_the_read_is_audited(
    world: World, therapist: Client, url: str
) -> None:
    response = therapist.get(url)
    assert response.status_code == 200
    assertContains(response, "<h1>Pia Patient</h1>", html=True)
    assertContains(response, "19121212-1212")
    event = AuditEvent.objects.filter(action="care.enrolment.viewed").latest("id")
    assert (event.actor, event.patient, event.object_id, event.purpose) == (
        world.therapist,
        world.patient,
        str(world.enrolment.pk),
        "care",
    )


def test_the_unit_admin_sees_the_overview(client_as: Callable[[str], Client], url: str) -> None:
    assert client_as("admin").get(url).status_code == 200


@pytest.mark.parametrize("persona", ["other_therapist", "author", "referrer", "patient"])
def test_nobody_without_a_care_relation_sees_it_and_the_refusal_is_audited(
    persona: str, world: World, client_as: Callable[[str], Client], url: str
) -> None:
    response = client_as(persona).get(url)
    assert response.status_code == 404
    denied = AuditEvent.objects.filter(action="care.enrolment.access_denied").latest("id")
    assert denied.actor == world.persona(persona)
    assert denied.object_id == str(world.enrolment.pk)


def test_another_units_treatment_is_404_for_the_therapist(world: World, therapist: Client) -> None:
    theirs = Enrolment.objects.get(patient=world.other_patient)
    response = therapist.get(reverse("dashboard:overview", args=[theirs.pk]))
    assert response.status_code == 404


def test_the_patient_record_and_the_treatment_page_link_to_the_overview(
    world: World, therapist: Client, url: str
) -> None:
    record = therapist.get(reverse("care:patient_record", args=[world.patient.pk]))
    manage = therapist.get(reverse("care:enrolment_manage", args=[world.enrolment.pk]))
    assertContains(record, f'href="{url}"')
    assertContains(manage, f'href="{url}"')


# --- what it shows -------------------------------------------------------------------------


def test_the_header_has_the_treatment_and_the_quick_actions(
    world: World, therapist: Client, url: str
) -> None:
    starts_at = timezone.now() + datetime.timedelta(days=2)
    book_meeting(world, starts_at, booked_at=timezone.now())
    response = therapist.get(url)
    assertContains(response, "Example programme, version 1")
    assertContains(response, "Tobaksavvänjning Testby")
    assertContains(response, "Tea Terapeut")
    assertContains(response, "Guided by a therapist")
    # The next meeting, and the actions.
    assertContains(response, starts_at.astimezone(STOCKHOLM).strftime("%H:%M"))
    book = reverse("care:meeting_new", args=[world.patient.pk]) + f"?enrolment={world.enrolment.pk}"
    assertContains(response, f'href="{book}"')
    manage = reverse("care:enrolment_manage", args=[world.enrolment.pk])
    assertContains(response, f'href="{manage}#status-heading">Pause the treatment</a>', html=False)
    assertContains(response, 'href="#answers-heading"')
    try:
        write = reverse("dialog:staff_messages", args=[world.enrolment.pk])
    except NoReverseMatch:  # the messages page comes with its own part of the issue
        assertNotContains(response, "Write a message")
    else:
        assertContains(response, f'href="{write}"')


def test_a_paused_treatment_offers_to_resume(world: World, therapist: Client, url: str) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.PAUSED)
    response = therapist.get(url)
    assertContains(response, "Resume the treatment")
    assertNotContains(response, "Pause the treatment")


def test_progress_per_step_with_a_form_to_open_a_locked_step(
    world: World, therapist: Client, url: str
) -> None:
    response = therapist.get(url)
    assertContains(response, "Progress per step")
    assertContains(response, "0 of 4 pages read")
    open_step = reverse("programmes:open_step", args=[world.enrolment.pk, "looking-back"])
    assertContains(response, f'action="{open_step}"')
    assertContains(response, 'href="#progress-heading">Open a step</a>', html=False)


def test_an_invited_treatment_waits_for_the_patient(
    world: World, therapist: Client, url: str
) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        status=Enrolment.Status.INVITED, started_at=None
    )
    response = therapist.get(url)
    assertContains(response, "Invited: waiting for the patient to activate the treatment.")


def test_a_submitted_exercise_shows_with_its_feedback(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    submit_exercise(world.enrolment, "I want to breathe better.\nAnd save money.", now)
    send_message(
        world, "Good reasons, keep them close.", now, link_kind="exercise", link_key="why-try"
    )
    send_message(world, "Feedback on something else.", now, link_kind="exercise", link_key="other")
    response = therapist.get(url)
    assertContains(response, "Your first exercise")  # the page it is on
    assertContains(response, "What do you hope to get out of the programme?")  # the prompt
    assertContains(response, "<p>I want to breathe better.<br>And save money.</p>", html=True)
    answers = section(response, "answers-heading")
    assert "Good reasons, keep them close." in answers
    assert "Feedback on something else." not in answers  # on another exercise
    try:
        give = reverse("dialog:feedback", args=[world.enrolment.pk, "exercise", "why-try"])
    except NoReverseMatch:  # the feedback page comes with its own part of the issue
        return
    assertContains(response, f'href="{give}"')


def test_markup_in_answers_and_messages_is_shown_as_text(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    submit_exercise(world.enrolment, "<script>alert('answer')</script>", now)
    send_message(world, "<b>bold</b> feedback", now, link_kind="exercise", link_key="why-try")
    send_message(world, "<img src=x onerror=alert(1)>", now, from_patient=True)
    response = therapist.get(url)
    content = html(response)
    assert "<script>alert" not in content
    assert "<b>bold</b>" not in content
    assert "<img src=x" not in content
    assertContains(response, "&lt;script&gt;alert(&#x27;answer&#x27;)&lt;/script&gt;")
    assertContains(response, "&lt;b&gt;bold&lt;/b&gt; feedback")
    assertContains(response, "&lt;img src=x onerror=alert(1)&gt;")


def test_scores_band_flag_and_the_answers_of_a_questionnaire(
    world: World, therapist: Client, url: str
) -> None:
    today = timezone.localdate()
    answer(world.enrolment, "mood", {"feeling": ["bad"], "stress": [9]}, today)
    send_message(
        world,
        "That sounds hard. Call us.",
        timezone.now(),
        link_kind="questionnaire",
        link_key=f"mood/{today.isoformat()}",
    )
    response = therapist.get(url)
    assertContains(response, "How are you?")
    assertContains(response, "Score: 11")
    assertContains(response, "Hard right now")
    assertContains(response, "The patient has had a very hard week.")  # the flag
    assertContains(response, "How stressed have you felt?")  # the answers
    assertContains(response, "That sounds hard. Call us.")
    # The chart of the score, with its table.
    assertContains(response, "How are you? – score, as a table")
    assertContains(response, 'role="img"')
    try:
        give = reverse(
            "dialog:feedback", args=[world.enrolment.pk, "questionnaire", f"mood/{today}"]
        )
    except NoReverseMatch:  # the feedback page comes with its own part of the issue
        return
    assertContains(response, f'href="{give}"')
    assert therapist.get(give).status_code == 200


def test_the_diary_is_charted_with_a_table_the_patient_sees_too(
    world: World, therapist: Client, client_as: Callable[[str], Client], url: str
) -> None:
    day = timezone.localdate() - datetime.timedelta(days=1)
    Response.objects.create(
        enrolment=world.enrolment,
        questionnaire_id="diary",
        day=day,
        status=Response.Status.SUBMITTED,
        answers={"used": [True], "amount": [4], "craving": [7]},
        language="en",
        created_at=timezone.now(),
        updated_at=timezone.now(),
        submitted_at=timezone.now(),
    )
    row = f"<tr><td>{day.day} {day.strftime('%B')} {day.year}</td><td>7</td></tr>"
    response = therapist.get(url)
    assertContains(response, "How strong was your strongest craving today?, as a table")
    assertContains(response, row, html=True)
    # The same table as on the patient's own measurements page.
    patient = client_as("patient")
    patient.cookies["steg_language"] = "en"
    mine = patient.get(reverse("questionnaires:measurements", args=[world.enrolment.pk]))
    assertContains(mine, row, html=True)


def test_the_timeline_has_pages_read_messages_meetings_and_logins(
    world: World, therapist: Client, url: str
) -> None:
    now = timezone.now()
    read_page(world.enrolment, "welcome", now - datetime.timedelta(hours=5))
    send_message(
        world,
        "Hello, I have a question about cravings.",
        now - datetime.timedelta(hours=4),
        from_patient=True,
    )
    book_meeting(
        world, now - datetime.timedelta(hours=2), booked_at=now - datetime.timedelta(hours=3)
    )
    # A real login through the login page.
    login = Client().post(
        reverse("account_login"), {"login": "patient@test.example", "password": PASSWORD}
    )
    assert login.status_code == 302
    response = therapist.get(url)
    timeline = section(response, "timeline-heading")
    assert "Read a page" in timeline and "Welcome" in timeline
    assert "Message from the patient" in timeline
    assert "Hello, I have a question about cravings." in timeline
    assert "Meeting booked" in timeline and "video with Tea Terapeut" in timeline
    assert "Logged in" in timeline
    assert "Started the treatment" in timeline
    # Newest first: the login, the meeting, its booking, the message, the page.
    order = [
        timeline.index(text)
        for text in (
            "Logged in",
            "<td>Meeting</td>",
            "Meeting booked",
            "Message from the patient",
            "Read a page",
        )
    ]
    assert order == sorted(order)


def test_a_login_is_recorded_for_patients_only(world: World) -> None:
    record_patient_login(sender=None, request=None, user=world.therapist)  # type: ignore[arg-type]
    assert not AuditEvent.objects.filter(action=LOGIN_ACTION).exists()
    record_patient_login(sender=None, request=None, user=world.patient_user)  # type: ignore[arg-type]
    event = AuditEvent.objects.get(action=LOGIN_ACTION)
    assert (event.actor, event.patient, event.actor_role) == (
        world.patient_user,
        world.patient,
        "patient",
    )


def test_show_more_pages_through_the_whole_timeline(
    world: World, therapist: Client, url: str
) -> None:
    start = timezone.now() - datetime.timedelta(days=10)
    for i in range(TIMELINE_PAGE + 10):
        read_page(world.enrolment, "welcome", start + datetime.timedelta(minutes=i))
    first = therapist.get(url)
    assert len(first.context["timeline"]) == TIMELINE_PAGE
    more = first.context["more_url"]
    assert more and "before=" in more
    assertContains(first, "Show older activity")
    second = therapist.get(more)
    assert second.status_code == 200
    assert second.context["more_url"] == ""
    assertContains(second, "Back to the latest activity")
    reads = html(first).count("<td>Read a page</td>") + html(second).count("<td>Read a page</td>")
    assert reads == TIMELINE_PAGE + 10
    times = [e.at for e in first.context["timeline"]] + [e.at for e in second.context["timeline"]]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)


def test_an_unreadable_before_shows_the_latest_activity(
    world: World, therapist: Client, url: str
) -> None:
    response = therapist.get(url + "?before=yesterday")
    assert response.status_code == 200
    assert response.context["before"] is None


def test_a_page_of_the_timeline_never_splits_entries_of_the_same_time() -> None:
    base = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    distinct = [
        Entry(base + datetime.timedelta(minutes=i), "x", "") for i in range(TIMELINE_PAGE - 2)
    ]
    tied = [Entry(base - datetime.timedelta(minutes=1), "tied", "") for _ in range(5)]
    page, cursor = page_of(distinct + tied)
    assert [e.kind for e in page] == ["x"] * (TIMELINE_PAGE - 2)
    assert cursor == page[-1].at
    assert all(e.at < cursor for e in tied)  # all five on the next page


def test_the_page_runs_the_same_queries_whatever_the_history(
    world: World, therapist: Client, url: str
) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(
        quit_date=timezone.localdate() - datetime.timedelta(days=100)
    )
    start = timezone.now() - datetime.timedelta(days=90)
    submit_exercise(world.enrolment, "Mitt svar", start)

    def add_history(first: int, last: int) -> None:
        for i in range(first, last):
            at = start + datetime.timedelta(hours=i)
            read_page(world.enrolment, "welcome", at)
            send_message(world, f"Fråga {i}", at, from_patient=True)
            send_message(world, f"Svar {i}", at, link_kind="exercise", link_key="why-try")
            day = timezone.localdate() - datetime.timedelta(days=i + 1)
            Response.objects.create(
                enrolment=world.enrolment,
                questionnaire_id="diary",
                day=day,
                status=Response.Status.SUBMITTED,
                answers={"used": [i % 7 == 0], "craving": [i % 10]},
                language="sv",
                created_at=at,
                updated_at=at,
                submitted_at=at,
            )
            answer(world.enrolment, "mood", {"feeling": ["good"], "stress": [i % 10]}, day)
            book_meeting(world, at + datetime.timedelta(hours=1), booked_at=at)
            EnrolmentEvent.objects.create(
                enrolment=world.enrolment,
                kind="guidance",
                old_value="guided",
                new_value="self-help",
                actor=world.therapist,
                created_at=at,
            )
            record_event(
                action=LOGIN_ACTION,
                actor=Actor(world.patient_user, "patient"),
                patient=world.patient,
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = therapist.get(url)
        assert response.status_code == 200
        return len(captured)

    add_history(0, 5)
    therapist.get(url)  # programme content and questionnaires are cached after the first
    small = queries()
    add_history(5, 60)
    large = queries()
    assert small == large
    # The access check and its audit event (seven), the progress (two), the responses, the
    # charts, the messages, the meetings, the account and the therapist, the last reported use,
    # the rest of the timeline (three) and the automatic support (three); on PostgreSQL one
    # more, the audit log's advisory lock.
    assert large <= (22 if connection.vendor == "postgresql" else 21), large
    # An older page of the timeline costs the same.
    more_url = therapist.get(url).context["more_url"]
    with CaptureQueriesContext(connection) as captured:
        assert therapist.get(more_url).status_code == 200
    assert len(captured) == large


# --- days tobacco-free ---------------------------------------------------------------------


def test_days_tobacco_free_count_from_the_quit_date_with_the_last_reported_use(
    world: World, therapist: Client, url: str
) -> None:
    quit_date = datetime.date(2026, 3, 1)
    Enrolment.objects.filter(pk=world.enrolment.pk).update(quit_date=quit_date)

    def diary(day: datetime.date, used: bool) -> None:
        Response.objects.create(
            enrolment=world.enrolment,
            questionnaire_id="diary",
            day=day,
            status=Response.Status.SUBMITTED,
            answers={"used": [used], "amount": [2]} if used else {"used": [False], "craving": [3]},
            language="sv",
            created_at=timezone.now(),
            updated_at=timezone.now(),
            submitted_at=timezone.now(),
        )

    diary(datetime.date(2026, 2, 27), True)  # before quitting: not a relapse
    diary(datetime.date(2026, 3, 4), True)
    diary(datetime.date(2026, 3, 8), True)
    diary(datetime.date(2026, 3, 9), False)
    # 11 March, 00:30 in Stockholm (still 10 March in UTC).
    with time_machine.travel(datetime.datetime(2026, 3, 11, 0, 30, tzinfo=STOCKHOLM), tick=False):
        response = therapist.get(url)
    free = response.context["tobacco_free"]
    assert (free.days, free.last_use, free.days_since_use) == (10, datetime.date(2026, 3, 8), 3)
    assertContains(response, "<dt>Days tobacco-free</dt><dd>10</dd>", html=True)
    assertContains(response, "8 March 2026")
    assertContains(response, "<dt>Days since the last reported use</dt><dd>3</dd>", html=True)


def test_before_the_quit_date_no_day_is_tobacco_free_yet(
    world: World, therapist: Client, url: str
) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(quit_date=datetime.date(2026, 3, 15))
    with time_machine.travel(datetime.datetime(2026, 3, 11, 12, tzinfo=STOCKHOLM), tick=False):
        response = therapist.get(url)
    assertContains(response, "<dt>Days tobacco-free</dt><dd>0</dd>", html=True)
    assertContains(response, "in 4 days")
    assertNotContains(response, "Last reported use")


def test_without_a_quit_date_nothing_is_counted(world: World, therapist: Client, url: str) -> None:
    assert tobacco_free_days(world.enrolment, timezone.localdate()) is None
    response = therapist.get(url)
    assertContains(response, "Not set")
    assertNotContains(response, "Days tobacco-free")


def test_counting_days_ignores_use_outside_the_quit_period() -> None:
    quit_date = datetime.date(2026, 3, 1)
    today = datetime.date(2026, 3, 10)
    assert count_days(quit_date, today).days == 9
    assert count_days(quit_date, quit_date).days == 0
    assert count_days(quit_date, datetime.date(2026, 2, 20)).days_until == 9
    assert count_days(quit_date, today, datetime.date(2026, 2, 28)).last_use is None
    assert count_days(quit_date, today, datetime.date(2026, 3, 11)).last_use is None
    assert count_days(quit_date, today, today).days_since_use == 0
