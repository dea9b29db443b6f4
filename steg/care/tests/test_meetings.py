"""Meetings: staff book, move and cancel; the patient sees them and asks to move one; reminders
go out once; every meeting has a calendar file. Tested through HTTP as the personas."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from io import StringIO
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.fixtures import DjangoAssertNumQueries, Settings

from steg.accounts.models import User
from steg.audit.actions import Actor
from steg.audit.models import AuditEvent
from steg.care import meetings
from steg.care.actions import CareError
from steg.care.models import Enrolment, Meeting, Patient
from steg.care.tasks import send_meeting_reminders
from steg.dialog import sms
from steg.dialog.models import Notification
from steg.testing.personas import World

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

UTC = datetime.UTC
# 20 March 2026 is in winter time (CET, UTC+1); the clocks go forward on 29 March (CEST, UTC+2).
NOW = datetime.datetime(2026, 3, 20, 9, 0, tzinfo=UTC)

# Words that would tell whoever reads a message, a lock screen or a synced calendar about the
# patient's health or care, in Swedish or English.
HEALTH_TERMS = (
    "tobak",
    "snus",
    "rök",
    "cigarett",
    "nikotin",
    "tobacco",
    "smok",
    "nicotine",
    "behandling",
    "treatment",
    "avvänjning",
    "cessation",
    "programme",
    "program",
    "assessment",
    "bedömning",
)


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings: Settings) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STEG_SMS_BACKEND = "steg.dialog.sms.LocmemSmsBackend"
    settings.STEG_VIDEO_URL_TEMPLATE = ""
    settings.SITE_URL = "https://steg.example"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def client_as(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    """The shared personas, browsing in English (notifications follow each user's language)."""

    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def stockholm(year: int, month: int, day: int, hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=timezone.get_default_timezone())


def make_meeting(world: World, starts_at: datetime.datetime, **fields: Any) -> Meeting:
    """A booked meeting for the patient at the unit (test scaffolding; no checks)."""
    values: dict[str, Any] = {
        "patient": world.patient,
        "unit": world.unit,
        "therapist": world.therapist,
        "kind": Meeting.Kind.FOLLOW_UP,
        "mode": "phone",
        "starts_at": starts_at,
        "ends_at": starts_at + datetime.timedelta(minutes=30),
        "created_by": world.therapist,
    }
    values.update(fields)
    return Meeting.objects.create(**values)


def booking(world: World, **overrides: Any) -> dict[str, Any]:
    data = {
        "unit": world.unit.pk,
        "therapist": world.therapist.pk,
        "date": "2026-03-26",
        "time": "14:00",
        "duration": "30",
        "mode": "phone",
        "place": "",
        "video_url": "",
    }
    data.update(overrides)
    return data


def book(
    client: Client, world: World, patient: Patient | None = None, query: str = "", **data: Any
) -> Response:
    url = reverse("care:meeting_new", args=[(patient or world.patient).pk]) + query
    return client.post(url, booking(world, **data))


def notifications(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("pk"))


def actions_recorded() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def errors(response: Any) -> str:
    return response.content.decode()


# Booking -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_therapist_books_a_phone_meeting_and_the_patient_is_told(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("therapist")
    page = client.get(reverse("care:meeting_new", args=[world.patient.pk]))
    assert page.status_code == 200
    assert b"Book a meeting" in page.content

    response = book(client, world)

    assert response.status_code == 302
    assert response["Location"] == reverse("care:patient_record", args=[world.patient.pk])
    meeting = Meeting.objects.get()
    # 14:00 in Stockholm in winter is 13:00 UTC.
    assert meeting.starts_at == datetime.datetime(2026, 3, 26, 13, 0, tzinfo=UTC)
    assert meeting.ends_at == datetime.datetime(2026, 3, 26, 13, 30, tzinfo=UTC)
    assert (meeting.kind, meeting.mode, meeting.status) == ("follow_up", "phone", "booked")
    assert meeting.therapist == world.therapist
    assert meeting.created_by == world.therapist
    assert meeting.sequence == 0
    [told] = notifications("meeting_booked")
    assert told.address == "patient@test.example"
    assert told.patient == world.patient
    assert "14:00" in told.body
    assert "care.meeting.booked" in actions_recorded()


def test_times_are_stored_in_utc_and_shown_in_stockholm_time_across_the_clock_change(
    world: World, client_as: Callable[[str], Client], clock: time_machine.Traveller
) -> None:
    staff = client_as("therapist")
    # Before the change (CET, UTC+1) and after it (CEST, UTC+2), both at 14:00 local time.
    assert book(staff, world, date="2026-03-27", time="14:00").status_code == 302
    assert book(staff, world, date="2026-04-02", time="14:00").status_code == 302

    before, after = Meeting.objects.order_by("starts_at")
    assert before.starts_at == datetime.datetime(2026, 3, 27, 13, 0, tzinfo=UTC)
    assert after.starts_at == datetime.datetime(2026, 4, 2, 12, 0, tzinfo=UTC)

    page = client_as("patient").get(reverse("care:my_meetings")).content.decode()
    assert page.count(", 14:00</time>") == 2
    assert 'datetime="2026-03-27T14:00:00+01:00"' in page
    assert 'datetime="2026-04-02T14:00:00+02:00"' in page


@pytest.mark.usefixtures("clock")
def test_a_time_skipped_when_the_clocks_go_forward_is_refused_clearly(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = book(client_as("therapist"), world, date="2026-03-29", time="02:30")

    assert response.status_code == 422
    assert "the clocks go forward an hour, so 02:30 does not exist" in errors(response)
    assert not Meeting.objects.exists()


@pytest.mark.usefixtures("clock")
def test_a_meeting_in_the_past_is_refused_and_nothing_is_created(
    world: World, client_as: Callable[[str], Client]
) -> None:
    # 09:00 UTC is 10:00 in Stockholm: 09:30 today has passed.
    response = book(client_as("therapist"), world, date="2026-03-20", time="09:30")

    assert response.status_code == 422
    assert "is in the past" in errors(response)
    assert not Meeting.objects.exists()
    assert not Notification.objects.exists()
    assert "care.meeting.booked" not in actions_recorded()


@pytest.mark.usefixtures("clock")
def test_an_overlapping_meeting_is_refused_with_the_time_of_the_other_one(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    assert book(staff, world, time="14:00", duration="60").status_code == 302

    response = book(staff, world, time="14:30", duration="30")

    assert response.status_code == 422
    assert "Tea Terapeut already has a meeting from Thursday 26 March 2026 at 14:00 to 15:00" in (
        errors(response)
    )
    assert Meeting.objects.count() == 1
    assert len(notifications("meeting_booked")) == 1


@pytest.mark.usefixtures("clock")
def test_meetings_right_before_and_after_another_are_allowed(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    assert book(staff, world, time="14:00", duration="60").status_code == 302
    assert book(staff, world, time="13:30", duration="30").status_code == 302
    assert book(staff, world, time="15:00", duration="15").status_code == 302
    assert Meeting.objects.count() == 3


@pytest.mark.usefixtures("clock")
def test_a_cancelled_meeting_does_not_block_its_time(
    world: World, client_as: Callable[[str], Client]
) -> None:
    make_meeting(world, stockholm(2026, 3, 26, 14, 0), status=Meeting.Status.CANCELLED)
    assert book(client_as("therapist"), world, time="14:00").status_code == 302


@pytest.mark.usefixtures("clock")
def test_another_therapists_meetings_do_not_block_the_time(
    world: World, client_as: Callable[[str], Client]
) -> None:
    make_meeting(world, stockholm(2026, 3, 26, 14, 0), therapist=world.unit_admin)
    assert book(client_as("therapist"), world, time="14:00").status_code == 302


@pytest.mark.usefixtures("clock")
def test_a_therapist_of_another_unit_cannot_be_chosen(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = book(client_as("therapist"), world, therapist=world.other_therapist.pk)

    assert response.status_code == 422
    assert "Choose a therapist who works at this unit." in errors(response)
    assert not Meeting.objects.exists()
    # The action refuses as well, whatever a caller passes it.
    with pytest.raises(CareError) as refused:
        meetings.book_meeting(
            patient=world.patient,
            unit=world.unit,
            therapist=world.other_therapist,
            starts_at=stockholm(2026, 3, 26, 14, 0),
            duration_minutes=30,
            mode="phone",
            kind="follow_up",
            actor=world.therapist,
        )
    assert refused.value.code == "therapist"


@pytest.mark.usefixtures("clock")
def test_a_unit_admin_books_for_a_colleague(
    world: World, client_as: Callable[[str], Client]
) -> None:
    assert book(client_as("admin"), world).status_code == 302
    meeting = Meeting.objects.get()
    assert (meeting.therapist, meeting.created_by) == (world.therapist, world.unit_admin)


@pytest.mark.usefixtures("clock")
def test_a_patient_without_a_care_relation_with_the_unit_is_404(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    url = reverse("care:meeting_new", args=[world.other_patient.pk])
    assert staff.get(url).status_code == 404
    assert book(staff, world, patient=world.other_patient).status_code == 404
    assert not Meeting.objects.exists()
    with pytest.raises(CareError) as refused:
        meetings.book_meeting(
            patient=world.other_patient,
            unit=world.unit,
            therapist=world.therapist,
            starts_at=stockholm(2026, 3, 26, 14, 0),
            duration_minutes=30,
            mode="phone",
            kind="follow_up",
            actor=world.therapist,
        )
    assert refused.value.code == "no_care_relation"


@pytest.mark.usefixtures("clock")
def test_a_meeting_in_person_needs_a_place(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    response = book(staff, world, mode="physical")
    assert response.status_code == 422
    assert "Write where the meeting is held" in errors(response)
    assert not Meeting.objects.exists()

    assert book(staff, world, mode="physical", place="Storgatan 1, rum 3").status_code == 302
    assert Meeting.objects.get().place == "Storgatan 1, rum 3"


@pytest.mark.usefixtures("clock")
def test_a_video_meeting_needs_a_link_when_no_video_service_is_configured(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    response = book(staff, world, mode="video")
    assert response.status_code == 422
    assert "Paste the link to the video meeting." in errors(response)
    assert not Meeting.objects.exists()

    response = book(staff, world, mode="video", video_url="javascript:alert(1)")
    assert response.status_code == 422
    assert not Meeting.objects.exists()

    link = "https://video.example/room/abc"
    assert book(staff, world, mode="video", video_url=link).status_code == 302
    assert Meeting.objects.get().video_url == link


@pytest.mark.usefixtures("clock")
def test_the_configured_video_service_gives_each_meeting_its_own_room(
    world: World, client_as: Callable[[str], Client], settings: Settings
) -> None:
    settings.STEG_VIDEO_URL_TEMPLATE = "https://video.example/steg-{room}"
    staff = client_as("therapist")
    page = staff.get(reverse("care:meeting_new", args=[world.patient.pk]))
    assert b"Leave it empty and Steg creates a link" in page.content

    assert book(staff, world, mode="video", time="14:00").status_code == 302
    assert book(staff, world, mode="video", time="15:00").status_code == 302

    first, second = Meeting.objects.order_by("starts_at")
    assert first.video_url.startswith("https://video.example/steg-")
    assert len(first.video_url) > len("https://video.example/steg-") + 16
    assert first.video_url != second.video_url


@pytest.mark.usefixtures("clock")
def test_the_assessment_talk_is_booked_from_a_referral(
    world: World, client_as: Callable[[str], Client]
) -> None:
    from steg.care.models import Referral

    referral = Referral.objects.create(
        patient=world.other_patient,
        referring_unit=world.referring_unit,
        receiving_unit=world.unit,
        referrer=world.referrer,
        tobacco_type="snus",
        tobacco_amount="1 dosa",
        reason="Vill sluta",
        contact_consent=True,
    )
    staff = client_as("therapist")
    query = f"?referral={referral.pk}"
    page = staff.get(reverse("care:meeting_new", args=[world.other_patient.pk]) + query)
    assert page.status_code == 200
    assert b"Book the assessment talk" in page.content

    response = book(staff, world, patient=world.other_patient, query=query)

    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert (meeting.kind, meeting.referral, meeting.unit) == ("assessment", referral, world.unit)
    # Otto has neither e-mail nor phone: nobody is told, and the therapist is asked to.
    assert not Notification.objects.exists()
    # A referral of somebody else is not found through this patient.
    other = reverse("care:meeting_new", args=[world.patient.pk]) + query
    assert staff.get(other).status_code == 404
    assert (
        staff.get(reverse("care:meeting_new", args=[world.patient.pk]) + "?referral=x").status_code
        == 404
    )


@pytest.mark.usefixtures("clock")
def test_a_meeting_in_a_treatment_is_linked_to_it(
    world: World, client_as: Callable[[str], Client]
) -> None:
    query = f"?enrolment={world.enrolment.pk}"
    assert book(client_as("therapist"), world, query=query).status_code == 302
    assert Meeting.objects.get().enrolment == world.enrolment


# Moving and cancelling -----------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_moving_a_meeting_bumps_its_sequence_rearms_the_reminder_and_clears_the_request(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(
        world,
        stockholm(2026, 3, 21, 10, 0),
        reminder_sent_at=NOW,
        reschedule_requested_at=NOW,
        reschedule_message="Helst på tisdag",
    )
    staff = client_as("therapist")
    url = reverse("care:meeting_edit", args=[meeting.pk])
    page = staff.get(url)
    assert page.status_code == 200
    assert b"The patient has asked to move this meeting" in page.content
    assert "Helst på tisdag" in page.content.decode()

    response = staff.post(url, booking(world, date="2026-03-24", time="15:15", duration="45"))

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.starts_at == datetime.datetime(2026, 3, 24, 14, 15, tzinfo=UTC)
    assert meeting.duration_minutes == 45
    assert meeting.sequence == 1
    assert meeting.reminder_sent_at is None
    assert meeting.reschedule_requested_at is None
    assert meeting.reschedule_message == ""
    [told] = notifications("meeting_changed")
    assert "15:15" in told.body
    assert "care.meeting.rescheduled" in actions_recorded()

    # Saving the same again changes nothing and tells nobody.
    assert (
        staff.post(url, booking(world, date="2026-03-24", time="15:15", duration="45")).status_code
        == 302
    )
    meeting.refresh_from_db()
    assert meeting.sequence == 1
    assert len(notifications("meeting_changed")) == 1


@pytest.mark.usefixtures("clock")
def test_moving_onto_another_meeting_is_refused_and_changes_nothing(
    world: World, client_as: Callable[[str], Client]
) -> None:
    make_meeting(world, stockholm(2026, 3, 24, 15, 0))
    meeting = make_meeting(world, stockholm(2026, 3, 21, 10, 0))

    response = client_as("therapist").post(
        reverse("care:meeting_edit", args=[meeting.pk]),
        booking(world, date="2026-03-24", time="15:15"),
    )

    assert response.status_code == 422
    assert "already has a meeting" in errors(response)
    meeting.refresh_from_db()
    assert meeting.starts_at == stockholm(2026, 3, 21, 10, 0)
    assert meeting.sequence == 0
    # Moving within its own time is no overlap with itself.
    response = client_as("therapist").post(
        reverse("care:meeting_edit", args=[meeting.pk]),
        booking(world, date="2026-03-21", time="10:15"),
    )
    assert response.status_code == 302


@pytest.mark.usefixtures("clock")
def test_a_video_meeting_keeps_its_room_when_it_is_moved(
    world: World, client_as: Callable[[str], Client], settings: Settings
) -> None:
    settings.STEG_VIDEO_URL_TEMPLATE = "https://video.example/{room}"
    meeting = make_meeting(
        world, stockholm(2026, 3, 21, 10, 0), mode="video", video_url="https://video.example/r1"
    )
    response = client_as("therapist").post(
        reverse("care:meeting_edit", args=[meeting.pk]),
        booking(world, date="2026-03-23", time="10:00", mode="video"),
    )
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.video_url == "https://video.example/r1"


@pytest.mark.usefixtures("clock")
def test_cancelling_a_meeting_tells_the_patient_once(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(world, stockholm(2026, 3, 21, 10, 0))
    staff = client_as("therapist")
    url = reverse("care:meeting_cancel", args=[meeting.pk])

    assert staff.post(url, {"reason": "Terapeuten är sjuk"}).status_code == 302
    assert staff.post(url, {"reason": ""}).status_code == 302

    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CANCELLED
    assert meeting.sequence == 1
    assert len(notifications("meeting_cancelled")) == 1
    assert actions_recorded().count("care.meeting.cancelled") == 1
    event = AuditEvent.objects.get(action="care.meeting.cancelled")
    assert event.detail["reason"] == "Terapeuten är sjuk"
    # A cancelled meeting can no longer be moved, and its page says so.
    response = staff.post(reverse("care:meeting_edit", args=[meeting.pk]), booking(world))
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.sequence == 1


def test_a_meeting_that_has_taken_place_cannot_be_moved_or_cancelled(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(world, timezone.now() - datetime.timedelta(hours=2))
    staff = client_as("therapist")
    page = staff.get(reverse("care:meeting_edit", args=[meeting.pk]))
    assert page.status_code == 200
    assert b"can no longer be moved" in page.content
    staff.post(reverse("care:meeting_cancel", args=[meeting.pk]))
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.BOOKED


# The patient -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_the_patient_sees_their_own_upcoming_meetings_and_nobody_elses(
    world: World, client_as: Callable[[str], Client]
) -> None:
    mine = make_meeting(world, stockholm(2026, 3, 26, 14, 0), mode="physical", place="Storgatan 1")
    make_meeting(world, stockholm(2026, 3, 10, 9, 0))  # past
    make_meeting(world, stockholm(2026, 3, 27, 9, 0), status=Meeting.Status.CANCELLED)
    make_meeting(
        world,
        stockholm(2026, 3, 26, 16, 0),
        patient=world.other_patient,
        unit=world.other_unit,
        therapist=world.other_therapist,
        place="Hemlig gata 9",
        mode="physical",
    )

    response = client_as("patient").get(reverse("care:my_meetings"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Thursday 26 March 2026, 14:00" in page
    assert "Storgatan 1" in page
    assert "Tea Terapeut" in page
    assert reverse("care:meeting_ics", args=[mine.pk]) in page
    assert reverse("care:meeting_reschedule", args=[mine.pk]) in page
    assert "Hemlig gata" not in page
    assert "Earlier and cancelled meetings" in page
    assert "Cancelled" in page
    assert actions_recorded().count("care.meeting.listed_own") == 1


def test_staff_without_a_patient_record_see_an_empty_meetings_page(
    client_as: Callable[[str], Client],
) -> None:
    response = client_as("therapist").get(reverse("care:my_meetings"))
    assert response.status_code == 200
    assert b"You have no meetings booked" in response.content
    assert "care.meeting.listed_own" not in actions_recorded()


@pytest.mark.usefixtures("clock")
def test_the_patient_asks_to_move_a_meeting_and_the_therapist_is_told(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(world, stockholm(2026, 3, 26, 14, 0))
    patient = client_as("patient")
    url = reverse("care:meeting_reschedule", args=[meeting.pk])
    assert patient.get(url).status_code == 200

    empty = patient.post(url, {"message": "  "})
    assert empty.status_code == 422
    assert "Write which days and times would suit you better." in errors(empty)
    too_long = patient.post(url, {"message": "x" * 2001})
    assert too_long.status_code == 422

    response = patient.post(url, {"message": "Tisdagar efter 15 passar bättre"})
    assert response.status_code == 302
    assert response["Location"] == reverse("care:my_meetings")
    meeting.refresh_from_db()
    assert meeting.reschedule_requested_at == NOW
    assert meeting.reschedule_message == "Tisdagar efter 15 passar bättre"
    [told] = notifications("reschedule_requested")
    assert told.address == world.therapist.email
    assert told.user == world.therapist
    assert f"https://steg.example{reverse('care:meeting_edit', args=[meeting.pk])}" in told.body
    assert "Tisdagar" not in told.body

    # Asking again replaces the message.
    patient.post(url, {"message": "Eller onsdag förmiddag"})
    meeting.refresh_from_db()
    assert meeting.reschedule_message == "Eller onsdag förmiddag"
    assert "care.meeting.reschedule_requested" in actions_recorded()
    # The therapist sees it on the meeting's page.
    page = client_as("therapist").get(reverse("care:meeting_edit", args=[meeting.pk]))
    assert "Eller onsdag förmiddag" in page.content.decode()


@pytest.mark.usefixtures("clock")
def test_the_patient_cannot_ask_to_move_a_cancelled_or_past_meeting(
    world: World, client_as: Callable[[str], Client]
) -> None:
    patient = client_as("patient")
    for meeting in (
        make_meeting(world, stockholm(2026, 3, 26, 14, 0), status=Meeting.Status.CANCELLED),
        make_meeting(world, stockholm(2026, 3, 19, 14, 0)),
    ):
        url = reverse("care:meeting_reschedule", args=[meeting.pk])
        assert b"cannot be moved" in patient.get(url).content
        assert patient.post(url, {"message": "Annan tid"}).status_code == 302
        meeting.refresh_from_db()
        assert meeting.reschedule_requested_at is None
    assert not notifications("reschedule_requested")


@pytest.mark.usefixtures("clock")
def test_a_patient_cannot_reach_another_patients_meeting(
    world: World, client_as: Callable[[str], Client]
) -> None:
    theirs = make_meeting(
        world,
        stockholm(2026, 3, 26, 14, 0),
        patient=world.other_patient,
        unit=world.other_unit,
        therapist=world.other_therapist,
    )
    patient = client_as("patient")
    assert patient.get(reverse("care:meeting_reschedule", args=[theirs.pk])).status_code == 404
    assert patient.get(reverse("care:meeting_ics", args=[theirs.pk])).status_code == 404
    assert patient.get(reverse("care:meeting_edit", args=[theirs.pk])).status_code == 404


# Reminders -------------------------------------------------------------------------------------


def test_reminders_go_out_once_for_meetings_soon_and_not_for_others(
    world: World, clock: time_machine.Traveller
) -> None:
    soon = make_meeting(world, NOW + datetime.timedelta(hours=5))
    make_meeting(world, NOW + datetime.timedelta(hours=6), status=Meeting.Status.CANCELLED)
    make_meeting(world, NOW + datetime.timedelta(days=3))
    make_meeting(world, NOW - datetime.timedelta(hours=1))
    make_meeting(world, NOW + datetime.timedelta(hours=7), reminder_sent_at=NOW)

    assert meetings.send_due_reminders() == 1
    assert meetings.send_due_reminders() == 0
    assert send_meeting_reminders.call() == 0
    out = StringIO()
    call_command("send_meeting_reminders", stdout=out)
    assert "0 queued" in out.getvalue()

    [reminder] = notifications("meeting_reminder")
    assert reminder.address == "patient@test.example"
    soon.refresh_from_db()
    assert soon.reminder_sent_at == NOW

    # Two days on, the far meeting is within the window.
    clock.move_to(NOW + datetime.timedelta(days=2, hours=1))
    assert send_meeting_reminders.call() == 1
    assert len(notifications("meeting_reminder")) == 2


@pytest.mark.usefixtures("clock")
def test_a_moved_meeting_is_reminded_again(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(world, NOW + datetime.timedelta(hours=3))
    assert meetings.send_due_reminders() == 1
    meetings.reschedule_meeting(
        meeting,
        starts_at=NOW + datetime.timedelta(hours=10),
        duration_minutes=30,
        mode="phone",
        actor=world.therapist,
    )
    assert meetings.send_due_reminders() == 1
    assert len(notifications("meeting_reminder")) == 2


# The calendar file -----------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_the_calendar_file_has_the_meeting_in_utc_with_a_stable_uid_and_its_sequence(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(
        world, stockholm(2026, 4, 2, 14, 0), mode="video", video_url="https://video.example/r1"
    )
    patient = client_as("patient")

    response = patient.get(reverse("care:meeting_ics", args=[meeting.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="meeting-{meeting.pk}.ics"'
    assert "no-store" in response["Cache-Control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.events
    assert event.start == datetime.datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
    assert event.end == datetime.datetime(2026, 4, 2, 12, 30, tzinfo=UTC)
    assert str(event.uid) == f"meeting-{meeting.pk}@steg.example"
    assert event.sequence == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["LOCATION"]) == "https://video.example/r1"
    assert str(event["URL"]) == "https://steg.example" + reverse("care:my_meetings")
    text = response.content.decode().lower()
    assert not [term for term in HEALTH_TERMS if term in text]
    assert "tea" not in text  # nor who the therapist is

    # Moved and then cancelled: the same UID, a higher SEQUENCE, STATUS:CANCELLED.
    meetings.reschedule_meeting(
        meeting,
        starts_at=stockholm(2026, 4, 3, 9, 0),
        duration_minutes=30,
        mode="physical",
        place="Storgatan 1",
        actor=world.therapist,
    )
    meetings.cancel_meeting(meeting, actor=world.therapist)
    [event] = icalendar.Calendar.from_ical(
        patient.get(reverse("care:meeting_ics", args=[meeting.pk])).content
    ).events
    assert str(event.uid) == f"meeting-{meeting.pk}@steg.example"
    assert event.sequence == 2
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["LOCATION"]) == "Storgatan 1"
    assert event.start == datetime.datetime(2026, 4, 3, 7, 0, tzinfo=UTC)


@pytest.mark.usefixtures("clock")
def test_staff_with_a_care_relation_get_the_calendar_file_too(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(world, stockholm(2026, 4, 2, 14, 0))
    for persona in ("therapist", "admin"):
        response = client_as(persona).get(reverse("care:meeting_ics", args=[meeting.pk]))
        assert response.status_code == 200
        [event] = icalendar.Calendar.from_ical(response.content).events
        assert str(event["SUMMARY"]) == "Meeting with a patient"
        assert "Pia" not in response.content.decode()


@pytest.mark.usefixtures("clock")
def test_notifications_about_meetings_say_nothing_about_health(
    world: World, client_as: Callable[[str], Client]
) -> None:
    world.patient.phone = "+46701234567"
    world.patient.save(update_fields=["phone"])
    staff = client_as("therapist")
    book(staff, world, time="09:00", mode="physical", place="Storgatan 1")
    meeting = Meeting.objects.get()
    meeting.kind = Meeting.Kind.ASSESSMENT
    meeting.save(update_fields=["kind"])
    staff.post(
        reverse("care:meeting_edit", args=[meeting.pk]),
        booking(world, date="2026-03-21", time="08:00"),
    )
    meetings.send_due_reminders()
    client_as("patient").post(
        reverse("care:meeting_reschedule", args=[meeting.pk]), {"message": "Jag vill sluta snusa"}
    )
    staff.post(reverse("care:meeting_cancel", args=[meeting.pk]))

    sent = Notification.objects.all()
    assert {n.kind for n in sent} == {
        "meeting_booked",
        "meeting_changed",
        "meeting_reminder",
        "reschedule_requested",
        "meeting_cancelled",
    }
    assert {n.channel for n in sent} == {"email", "sms"}
    for notification in sent:
        text = f"{notification.subject} {notification.body}".lower()
        assert not [term for term in HEALTH_TERMS if term in text], notification.kind
        assert "storgatan" not in text


# Access ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_a_therapist_of_another_unit_gets_404_on_edit_cancel_and_calendar_and_it_is_audited(
    world: World, client_as: Callable[[str], Client]
) -> None:
    meeting = make_meeting(world, stockholm(2026, 3, 26, 14, 0))
    other = client_as("other_therapist")

    assert other.get(reverse("care:meeting_edit", args=[meeting.pk])).status_code == 404
    assert (
        other.post(reverse("care:meeting_edit", args=[meeting.pk]), booking(world)).status_code
        == 404
    )
    assert other.post(reverse("care:meeting_cancel", args=[meeting.pk])).status_code == 404
    assert other.get(reverse("care:meeting_ics", args=[meeting.pk])).status_code == 404

    meeting.refresh_from_db()
    assert (meeting.status, meeting.sequence) == ("booked", 0)
    denied = AuditEvent.objects.filter(action="care.meeting.access_denied")
    assert denied.count() == 4
    assert {e.actor_id for e in denied} == {world.other_therapist.pk}
    assert {e.patient_id for e in denied} == {world.patient.pk}


@pytest.mark.usefixtures("clock")
def test_unknown_meetings_answer_404_like_forbidden_ones(
    client_as: Callable[[str], Client],
) -> None:
    staff = client_as("therapist")
    assert staff.get(reverse("care:meeting_edit", args=[999_999])).status_code == 404
    assert staff.get(reverse("care:meeting_ics", args=[999_999])).status_code == 404
    assert (
        client_as("patient").get(reverse("care:meeting_reschedule", args=[999_999])).status_code
        == 404
    )


@pytest.mark.usefixtures("clock")
def test_bad_input_never_gives_a_server_error(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    new_url = reverse("care:meeting_new", args=[world.patient.pk])
    empty = staff.post(new_url, {})
    assert empty.status_code == 422
    nonsense: list[dict[str, str]] = [
        {"date": "", "time": ""},
        {"date": "2026-02-30", "time": "25:99"},
        {"duration": "7"},
        {"duration": "abc"},
        {"mode": "telepathy"},
        {"unit": "x", "therapist": "999999"},
        {"video_url": "https://" + "a" * 600 + ".example", "mode": "video"},
        {"place": "p" * 400, "mode": "physical"},
    ]
    for overrides in nonsense:
        response = staff.post(new_url, booking(world, **overrides))
        assert response.status_code == 422, overrides
    assert not Meeting.objects.exists()
    # The action itself refuses durations out of range.
    with pytest.raises(CareError):
        meetings.book_meeting(
            patient=world.patient,
            unit=world.unit,
            therapist=world.therapist,
            starts_at=stockholm(2026, 3, 26, 14, 0),
            duration_minutes=5,
            mode="phone",
            kind="follow_up",
            actor=world.therapist,
        )
    # Someone without a role at the unit cannot book through the action either.
    with pytest.raises(CareError):
        meetings.book_meeting(
            patient=world.patient,
            unit=world.unit,
            therapist=world.therapist,
            starts_at=stockholm(2026, 3, 26, 14, 0),
            duration_minutes=30,
            mode="phone",
            kind="follow_up",
            actor=User.objects.get(pk=world.other_therapist.pk),
        )


# The range of dates: from today to two years ahead -----------------------------------------------

# Today is 20 March 2026 (NOW): the last day that can be booked is 20 March 2028.
RANGE_MESSAGE = "Choose a date from 20 March 2026 to 20 March 2028."
OUT_OF_RANGE = [
    ("0001-01-01", "00:30"),  # overflowed when turned into UTC
    ("9999-12-31", "23:30"),  # overflowed when the duration was added
    ("2026-03-19", "14:00"),  # yesterday
    ("2028-03-21", "00:00"),  # the day after the last one
]


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize(("date", "time"), OUT_OF_RANGE)
def test_a_date_outside_the_range_is_refused_by_the_booking_form(
    world: World, client_as: Callable[[str], Client], date: str, time: str
) -> None:
    response = book(client_as("therapist"), world, date=date, time=time)

    assert response.status_code == 422
    assert RANGE_MESSAGE in errors(response)
    assert not Meeting.objects.exists()
    assert not Notification.objects.exists()
    assert "care.meeting.booked" not in actions_recorded()


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize(("date", "time"), OUT_OF_RANGE)
def test_a_date_outside_the_range_is_refused_when_moving_a_meeting(
    world: World, client_as: Callable[[str], Client], date: str, time: str
) -> None:
    meeting = make_meeting(world, stockholm(2026, 3, 21, 10, 0))

    response = client_as("therapist").post(
        reverse("care:meeting_edit", args=[meeting.pk]), booking(world, date=date, time=time)
    )

    assert response.status_code == 422
    assert RANGE_MESSAGE in errors(response)
    meeting.refresh_from_db()
    assert (meeting.starts_at, meeting.sequence) == (stockholm(2026, 3, 21, 10, 0), 0)
    assert not notifications("meeting_changed")


@pytest.mark.usefixtures("clock")
def test_the_first_and_the_last_day_of_the_range_can_be_booked(
    world: World, client_as: Callable[[str], Client]
) -> None:
    staff = client_as("therapist")
    page = staff.get(reverse("care:meeting_new", args=[world.patient.pk])).content.decode()
    assert 'min="2026-03-20"' in page
    assert 'max="2028-03-20"' in page

    assert book(staff, world, date="2026-03-20", time="23:30").status_code == 302
    assert book(staff, world, date="2028-03-20", time="23:30").status_code == 302
    assert Meeting.objects.count() == 2


def test_two_years_ahead_of_29_february_is_28_february() -> None:
    assert meetings.bookable_days(datetime.date(2028, 2, 29)) == (
        datetime.date(2028, 2, 29),
        datetime.date(2030, 2, 28),
    )


@pytest.mark.usefixtures("clock")
def test_the_actions_refuse_times_out_of_range_without_overflowing(world: World) -> None:
    """For callers that bypass the form: a CareError, never an OverflowError."""
    meeting = make_meeting(world, stockholm(2026, 3, 21, 10, 0))
    refused = {
        datetime.datetime(9999, 12, 31, 23, 30, tzinfo=timezone.get_default_timezone()): "too_far",
        datetime.datetime(9999, 12, 31, 23, 59, tzinfo=UTC): "too_far",
        stockholm(2028, 3, 21, 0, 0): "too_far",
        datetime.datetime(1, 1, 1, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo")): "past",
        datetime.datetime(1, 1, 1, 0, 30, tzinfo=timezone.get_default_timezone()): "past",
    }
    for starts_at, code in refused.items():
        with pytest.raises(CareError) as booking_refused:
            meetings.book_meeting(
                patient=world.patient,
                unit=world.unit,
                therapist=world.therapist,
                starts_at=starts_at,
                duration_minutes=30,
                mode="phone",
                kind="follow_up",
                actor=world.therapist,
            )
        assert (booking_refused.value.code, booking_refused.value.field) == (code, "starts_at")
        with pytest.raises(CareError) as moving_refused:
            meetings.reschedule_meeting(
                meeting,
                starts_at=starts_at,
                duration_minutes=30,
                mode="phone",
                actor=world.therapist,
            )
        assert moving_refused.value.code == code
    assert Meeting.objects.count() == 1
    meeting.refresh_from_db()
    assert meeting.sequence == 0
    # The last moment of the last day is still bookable.
    late = meetings.book_meeting(
        patient=world.patient,
        unit=world.unit,
        therapist=world.therapist,
        starts_at=stockholm(2028, 3, 20, 23, 50),
        duration_minutes=30,
        mode="phone",
        kind="follow_up",
        actor=world.therapist,
    )
    assert late.ends_at == stockholm(2028, 3, 21, 0, 20)


# Ending a treatment ----------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_ending_a_treatment_cancels_its_meetings_that_have_not_started(world: World) -> None:
    enrolment = world.enrolment
    soon = make_meeting(world, stockholm(2026, 3, 21, 10, 0), enrolment=enrolment)
    later = make_meeting(world, stockholm(2026, 4, 2, 10, 0), enrolment=enrolment, sequence=2)
    under_way = make_meeting(world, NOW - datetime.timedelta(minutes=10), enrolment=enrolment)
    past = make_meeting(world, stockholm(2026, 3, 10, 9, 0), enrolment=enrolment)
    cancelled = make_meeting(
        world,
        stockholm(2026, 3, 23, 9, 0),
        enrolment=enrolment,
        status=Meeting.Status.CANCELLED,
        sequence=1,
    )
    other_enrolment = Enrolment.objects.get(patient=world.other_patient)
    elsewhere = make_meeting(
        world,
        stockholm(2026, 3, 24, 9, 0),
        patient=world.other_patient,
        unit=world.other_unit,
        therapist=world.other_therapist,
        enrolment=other_enrolment,
    )
    actor = Actor(world.therapist, "therapist", world.unit)

    with transaction.atomic():  # as the caller that ends the treatment
        cancelled_now = meetings.cancel_meetings_of_ended_treatment(enrolment, actor=actor)

    assert cancelled_now == 2
    states = {
        m.pk: (m.status, m.sequence)
        for m in Meeting.objects.filter(
            pk__in=[soon.pk, later.pk, under_way.pk, past.pk, cancelled.pk, elsewhere.pk]
        )
    }
    assert states == {
        soon.pk: ("cancelled", 1),
        later.pk: ("cancelled", 3),
        under_way.pk: ("booked", 0),
        past.pk: ("booked", 0),
        cancelled.pk: ("cancelled", 1),
        elsewhere.pk: ("booked", 0),
    }
    told = notifications("meeting_cancelled")
    assert [n.address for n in told] == ["patient@test.example"] * 2
    assert {n.patient_id for n in told} == {world.patient.pk}
    events = AuditEvent.objects.filter(action="care.meeting.cancelled").order_by("id")
    assert [e.object_id for e in events] == [str(soon.pk), str(later.pk)]
    assert {e.detail["reason"] for e in events} == {"treatment ended"}
    assert {(e.actor_id, e.patient_id) for e in events} == {(world.therapist.pk, world.patient.pk)}

    # Again: nothing more is cancelled, and nobody is told twice.
    assert meetings.cancel_meetings_of_ended_treatment(enrolment, actor=actor) == 0
    assert len(notifications("meeting_cancelled")) == 2
    assert actions_recorded().count("care.meeting.cancelled") == 2


@pytest.mark.usefixtures("clock")
def test_cancelling_the_meetings_of_an_ended_treatment_is_undone_with_the_callers_transaction(
    world: World,
) -> None:
    meeting = make_meeting(world, stockholm(2026, 3, 21, 10, 0), enrolment=world.enrolment)
    actor = Actor(world.therapist, "therapist", world.unit)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert meetings.cancel_meetings_of_ended_treatment(world.enrolment, actor=actor) == 1
        raise RuntimeError("the status change failed after it")

    meeting.refresh_from_db()
    assert (meeting.status, meeting.sequence) == ("booked", 0)
    assert not notifications("meeting_cancelled")
    assert "care.meeting.cancelled" not in actions_recorded()


# The meetings section of the patient record ------------------------------------------------------


@pytest.mark.usefixtures("clock")
def test_the_record_lists_upcoming_meetings_and_the_latest_others_in_a_fixed_number_of_queries(
    world: World, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    upcoming = [make_meeting(world, stockholm(2026, 3, day, 10, 0)) for day in (26, 21, 23)]
    past = [make_meeting(world, stockholm(2026, 2, day, 10, 0)) for day in range(1, 13)]
    cancelled = make_meeting(world, stockholm(2026, 3, 25, 10, 0), status=Meeting.Status.CANCELLED)
    make_meeting(world, stockholm(2026, 3, 22, 10, 0), unit=world.other_unit)  # not their unit

    with django_assert_num_queries(2), translation.override("en"):
        listed = meetings.meetings_for_record(world.patient, {world.unit.pk})
        html = render_to_string(
            "care/meetings/_patient_meetings.html",
            {"patient": world.patient, "meetings": listed, "can_book": True},
        )

    soonest_first = sorted(upcoming, key=lambda m: m.starts_at)
    newest_first = sorted(past, key=lambda m: m.starts_at, reverse=True)
    assert listed == [*soonest_first, cancelled, *newest_first[: meetings.PAST_MEETINGS_SHOWN - 1]]
    assert html.count(reverse("care:meeting_edit", args=[upcoming[0].pk])) == 1
    assert "Tea Terapeut" in html


@pytest.mark.usefixtures("clock")
def test_the_record_section_has_one_h2_and_offers_booking_only_when_allowed(world: World) -> None:
    make_meeting(world, stockholm(2026, 3, 26, 14, 0))
    listed = meetings.meetings_for_record(world.patient, {world.unit.pk})
    book_url = reverse("care:meeting_new", args=[world.patient.pk])

    def section(*, can_book: bool) -> str:
        with translation.override("en"):
            return render_to_string(
                "care/meetings/_patient_meetings.html",
                {"patient": world.patient, "meetings": listed, "can_book": can_book},
            )

    html = section(can_book=True)
    assert html.count("<h2") == 1
    assert '<h2 id="meetings-heading">Meetings</h2>' in html
    for other in ("<h1", "<h3", "<h4"):
        assert other not in html
    assert f'href="{book_url}"' in html
    assert "Book a meeting" in html

    html = section(can_book=False)
    assert book_url not in html
    assert "Book a meeting" not in html
    with translation.override("en"):
        empty = render_to_string(
            "care/meetings/_patient_meetings.html",
            {"patient": world.patient, "meetings": [], "can_book": True},
        )
    assert "No meetings." in empty


# Concurrency (PostgreSQL: SQLite runs one writer at a time anyway) ----------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_bookings_at_the_same_moment_cannot_both_pass(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    check_overlap = meetings._check_overlap

    def slow_check(*args: Any, **kwargs: Any) -> None:
        check_overlap(*args, **kwargs)
        time.sleep(0.3)  # both would pass here, were they not serialised

    monkeypatch.setattr(meetings, "_check_overlap", slow_check)
    start = timezone.now() + datetime.timedelta(days=2)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(offset: int) -> None:
        try:
            barrier.wait()
            meetings.book_meeting(
                patient=world.patient,
                unit=world.unit,
                therapist=world.therapist,
                starts_at=start + datetime.timedelta(minutes=offset),
                duration_minutes=30,
                mode="phone",
                kind="follow_up",
                actor=world.therapist,
            )
            outcomes.append("booked")
        except CareError as error:
            outcomes.append(error.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(offset,)) for offset in (0, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["booked", "overlap"]
    assert Meeting.objects.count() == 1


def test_a_treatment_meeting_belongs_to_the_patients_only_open_treatment_at_the_unit(
    world: World,
) -> None:
    start = timezone.now() + datetime.timedelta(days=3)
    meeting = meetings.book_meeting(
        patient=world.patient,
        unit=world.unit,
        therapist=world.therapist,
        starts_at=start,
        duration_minutes=30,
        mode="phone",
        kind="follow_up",
        actor=world.therapist,
    )
    assert meeting.enrolment == world.enrolment
