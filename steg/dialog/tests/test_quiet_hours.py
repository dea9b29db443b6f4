"""Quiet hours: a notification created in them waits until they end (Swedish time, over
midnight and on the nights the clocks change), and delivery keeps to that."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from steg.accounts.models import User
from steg.dialog.models import Notification, NotificationPreference
from steg.dialog.notifications import notify
from steg.dialog.preferences import held_until, quiet_hours_end
from steg.dialog.tasks import deliver

from .conftest import INVITATION_CONTEXT, MEETING_CONTEXT

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = datetime.UTC


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


T = datetime.time
NIGHT = (T(22, 0), T(7, 0))


# The rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Evening, inside: until seven the next morning (07:00 CET is 06:00 UTC).
        (local(2026, 11, 20, 22, 0), utc(2026, 11, 21, 6, 0)),
        (local(2026, 11, 20, 23, 30), utc(2026, 11, 21, 6, 0)),
        # After midnight, inside: until seven the same morning.
        (local(2026, 11, 21, 0, 0), utc(2026, 11, 21, 6, 0)),
        (local(2026, 11, 21, 6, 59), utc(2026, 11, 21, 6, 0)),
        # Outside: the end itself, the day, the minute before the start.
        (local(2026, 11, 21, 7, 0), None),
        (local(2026, 11, 21, 12, 0), None),
        (local(2026, 11, 21, 21, 59), None),
        # Summer time: 07:00 CEST is 05:00 UTC.
        (local(2026, 6, 10, 23, 0), utc(2026, 6, 11, 5, 0)),
    ],
)
def test_quiet_hours_over_midnight(
    moment: datetime.datetime, expected: datetime.datetime | None
) -> None:
    assert quiet_hours_end(moment, *NIGHT) == expected


def test_the_moment_may_be_given_in_any_time_zone() -> None:
    # 21:30 UTC on 20 November is 22:30 in Stockholm: inside.
    assert quiet_hours_end(utc(2026, 11, 20, 21, 30), *NIGHT) == utc(2026, 11, 21, 6, 0)
    # 22:30 UTC is not "22:30": it is 23:30 in Stockholm, inside too; 05:30 UTC is 06:30.
    assert quiet_hours_end(utc(2026, 11, 21, 5, 30), *NIGHT) == utc(2026, 11, 21, 6, 0)
    # 06:30 UTC is 07:30 in Stockholm: outside.
    assert quiet_hours_end(utc(2026, 11, 21, 6, 30), *NIGHT) is None


def test_quiet_hours_within_one_day() -> None:
    lunch = (T(12, 0), T(13, 0))
    assert quiet_hours_end(local(2026, 11, 20, 12, 0), *lunch) == utc(2026, 11, 20, 12, 0)
    assert quiet_hours_end(local(2026, 11, 20, 12, 59), *lunch) == utc(2026, 11, 20, 12, 0)
    assert quiet_hours_end(local(2026, 11, 20, 13, 0), *lunch) is None
    assert quiet_hours_end(local(2026, 11, 20, 11, 59), *lunch) is None
    assert quiet_hours_end(local(2026, 11, 20, 23, 0), *lunch) is None


def test_no_quiet_hours_without_both_times_or_with_the_same_time() -> None:
    moment = local(2026, 11, 20, 23, 0)
    assert quiet_hours_end(moment, None, None) is None
    assert quiet_hours_end(moment, T(22, 0), None) is None
    assert quiet_hours_end(moment, None, T(7, 0)) is None
    assert quiet_hours_end(moment, T(22, 0), T(22, 0)) is None


def test_the_night_the_clocks_go_forward_is_an_hour_shorter() -> None:
    # 29 March 2026: at 02:00 CET the clocks jump to 03:00 CEST. 22:00–07:00 is 8 hours.
    start = local(2026, 3, 28, 22, 0)
    end = quiet_hours_end(start, *NIGHT)
    assert end == utc(2026, 3, 29, 5, 0)
    assert end is not None
    assert end - start == datetime.timedelta(hours=8)
    # Inside during the night, on either side of the jump.
    assert quiet_hours_end(utc(2026, 3, 29, 0, 30), *NIGHT) == end  # 01:30 CET
    assert quiet_hours_end(utc(2026, 3, 29, 1, 30), *NIGHT) == end  # 03:30 CEST
    assert quiet_hours_end(utc(2026, 3, 29, 5, 0), *NIGHT) is None  # 07:00 CEST


def test_the_night_the_clocks_go_back_is_an_hour_longer() -> None:
    # 25 October 2026: at 03:00 CEST the clocks go back to 02:00 CET. 22:00–07:00 is 10 hours.
    start = local(2026, 10, 24, 22, 0)
    end = quiet_hours_end(start, *NIGHT)
    assert end == utc(2026, 10, 25, 6, 0)
    assert end is not None
    assert end - start == datetime.timedelta(hours=10)
    # Both times through 02:30 are inside.
    assert quiet_hours_end(utc(2026, 10, 25, 0, 30), *NIGHT) == end  # 02:30 CEST
    assert quiet_hours_end(utc(2026, 10, 25, 1, 30), *NIGHT) == end  # 02:30 CET


def test_an_end_in_the_skipped_hour_is_never_early() -> None:
    # Quiet until 02:30 on the night 02:00–03:00 does not exist: it ends after the jump.
    end = quiet_hours_end(utc(2026, 3, 29, 0, 15), T(1, 0), T(2, 30))  # 01:15 CET
    assert end is not None
    jump = utc(2026, 3, 29, 1, 0)
    assert jump <= end <= jump + datetime.timedelta(hours=1)


def test_held_until_spares_invitations_and_meetings_that_start_first() -> None:
    preference = NotificationPreference(quiet_from=T(22, 0), quiet_until=T(7, 0))
    now = local(2026, 11, 20, 23, 0)
    end = utc(2026, 11, 21, 6, 0)
    assert held_until(preference, kind="meeting_booked", now=now) == end
    assert held_until(None, kind="meeting_booked", now=now) is None
    assert held_until(preference, kind="invitation", now=now) is None
    # A meeting at 06:30 would be over before the message arrived: it goes at once.
    early = local(2026, 11, 21, 6, 30)
    assert held_until(preference, kind="meeting_changed", now=now, starts_at=early) is None
    later = local(2026, 11, 21, 9, 0)
    assert held_until(preference, kind="meeting_changed", now=now, starts_at=later) == end


# notify() and delivery --------------------------------------------------------------------------

EVENING = local(2026, 11, 20, 23, 15)  # inside 22:00–07:00
MORNING = utc(2026, 11, 21, 6, 0)  # 07:00 in Stockholm, when they end
DAYTIME = local(2026, 11, 20, 14, 0)


@pytest.fixture
def night_owl(db: None) -> User:
    user = User.objects.create_user("natt@example.org", None)
    NotificationPreference.objects.create(user=user, quiet_from=T(22, 0), quiet_until=T(7, 0))
    return user


def meeting_at(moment: datetime.datetime) -> dict[str, object]:
    return {**MEETING_CONTEXT, "starts_at": moment}


NEXT_WEEK = utc(2026, 11, 27, 13, 0)
# A meeting after every moment in these tests (news of an earlier one is never held).
LATER = meeting_at(utc(2027, 1, 15, 13, 0))


@pytest.mark.django_db
def test_a_notification_in_quiet_hours_waits_until_they_end(night_owl: User) -> None:
    with time_machine.travel(EVENING, tick=False) as clock:
        email, text = notify(
            kind="meeting_booked",
            email="natt@example.org",
            phone="+46701234567",
            user=night_owl,
            context=meeting_at(NEXT_WEEK),
        )
        for row in (email, text):
            row.refresh_from_db()
            assert row.next_attempt_at == MORNING
            assert row.created_at == EVENING
            assert deliver(row.pk) == "skipped"
        call_command("send_notifications", stdout=StringIO())
        clock.move_to(MORNING - datetime.timedelta(seconds=1))
        assert deliver(email.pk) == "skipped"
        assert mail.outbox == []
        clock.move_to(MORNING)
        out = StringIO()
        call_command("send_notifications", stdout=out)
    assert "2 sent" in out.getvalue()
    assert len(mail.outbox) == 1
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_a_notification_outside_quiet_hours_goes_at_once(night_owl: User) -> None:
    with time_machine.travel(DAYTIME, tick=False):
        (row,) = notify(
            kind="meeting_booked", email="natt@example.org", user=night_owl, context=LATER
        )
        assert row.next_attempt_at == DAYTIME
        assert deliver(row.pk) == "sent"


@pytest.mark.django_db
def test_an_invitation_is_sent_even_in_quiet_hours(night_owl: User) -> None:
    with time_machine.travel(EVENING, tick=False):
        (row,) = notify(
            kind="invitation", email="natt@example.org", user=night_owl, context=INVITATION_CONTEXT
        )
        assert row.next_attempt_at == EVENING
        assert deliver(row.pk) == "sent"


@pytest.mark.django_db
def test_news_of_a_meeting_before_the_quiet_hours_end_goes_at_once(night_owl: User) -> None:
    with time_machine.travel(EVENING, tick=False):
        (early,) = notify(
            kind="meeting_changed",
            email="natt@example.org",
            user=night_owl,
            context=meeting_at(local(2026, 11, 21, 6, 30)),
        )
        (late,) = notify(
            kind="meeting_reminder",
            email="natt@example.org",
            user=night_owl,
            context=meeting_at(local(2026, 11, 21, 9, 0)),
        )
    assert early.next_attempt_at == EVENING
    assert late.next_attempt_at == MORNING


@pytest.mark.django_db
def test_quiet_hours_across_the_night_the_clocks_go_forward(night_owl: User) -> None:
    with time_machine.travel(local(2026, 3, 28, 23, 0), tick=False):
        (row,) = notify(
            kind="meeting_booked", email="natt@example.org", user=night_owl, context=LATER
        )
    assert row.next_attempt_at == utc(2026, 3, 29, 5, 0)  # 07:00 CEST


@pytest.mark.django_db
def test_quiet_hours_across_the_night_the_clocks_go_back(night_owl: User) -> None:
    with time_machine.travel(utc(2026, 10, 25, 1, 30), tick=False):  # the second 02:30
        (row,) = notify(
            kind="meeting_booked", email="natt@example.org", user=night_owl, context=LATER
        )
    assert row.next_attempt_at == utc(2026, 10, 25, 6, 0)  # 07:00 CET


@pytest.mark.django_db
def test_the_delivery_task_is_scheduled_for_the_end_of_the_quiet_hours(
    night_owl: User, django_capture_on_commit_callbacks: Callable
) -> None:
    with (
        time_machine.travel(EVENING, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notify(kind="meeting_booked", email="natt@example.org", user=night_owl, context=LATER)
        notify(kind="meeting_booked", email="dag@example.org", context=LATER)
    held, at_once = sorted(
        DBTaskResult.objects.filter(task_path="steg.dialog.tasks.deliver_notification").values_list(
            "run_after", flat=True
        )
    )
    assert held == MORNING
    # The backend stores "at once" as the largest date it knows.
    assert at_once > MORNING + datetime.timedelta(days=365)


@pytest.mark.django_db
@pytest.mark.usefixtures("immediate_tasks")
def test_a_backend_that_cannot_defer_leaves_a_held_notification_to_the_command(
    night_owl: User, django_capture_on_commit_callbacks: Callable
) -> None:
    with (
        time_machine.travel(EVENING, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        (row,) = notify(
            kind="meeting_booked", email="natt@example.org", user=night_owl, context=LATER
        )
    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == Notification.Status.QUEUED
    assert row.attempts == 0
    with time_machine.travel(MORNING, tick=False):
        call_command("send_notifications", stdout=StringIO())
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_retry_that_would_fall_in_quiet_hours_waits_for_them_to_end(
    night_owl: User, settings: Settings
) -> None:
    settings.STEG_SMS_BACKEND = "steg.dialog.tests.test_delivery.FailingSmsBackend"
    settings.STEG_NOTIFY_RETRY_SECONDS = 120
    just_before = local(2026, 11, 20, 21, 59)
    with time_machine.travel(just_before, tick=False):
        (row,) = notify(kind="meeting_booked", phone="+46701234567", user=night_owl, context=LATER)
        assert deliver(row.pk) == "retry"
    row.refresh_from_db()
    assert row.next_attempt_at == MORNING
