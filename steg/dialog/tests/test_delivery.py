"""Delivery: e-mail and SMS go out once, failures are retried with back-off, then given up."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from pytest_django.fixtures import Settings

from steg.dialog import sms
from steg.dialog.models import Notification
from steg.dialog.notifications import notify
from steg.dialog.sms import SmsBackend
from steg.dialog.tasks import CLAIM_LEASE, deliver, deliver_notification, retry_delay

from .conftest import MEETING_CONTEXT

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
SECRET_IN_ERROR = "gateway said no to: "


class FailingSmsBackend(SmsBackend):
    """A gateway that refuses everything, and echoes the text in its error as some do."""

    def send(self, to: str, text: str) -> None:
        raise ConnectionError(SECRET_IN_ERROR + text)


def queue_email() -> Notification:
    (row,) = notify(kind="meeting_booked", email="pia@example.org", context=MEETING_CONTEXT)
    return row


def queue_sms() -> Notification:
    (row,) = notify(kind="meeting_booked", phone="+46701234567", context=MEETING_CONTEXT)
    return row


def test_an_email_is_sent_from_the_default_sender(settings: Settings) -> None:
    row = queue_email()
    assert deliver(row.pk) == "sent"
    (message,) = mail.outbox
    assert message.to == ["pia@example.org"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == row.subject
    assert message.body == row.body
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    assert row.sent_at is not None
    assert row.attempts == 1


def test_an_sms_goes_through_the_configured_backend() -> None:
    row = queue_sms()
    assert deliver(row.pk) == "sent"
    assert sms.outbox == [sms.SmsMessage(to="+46701234567", text=row.body)]
    assert not mail.outbox
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT


def test_the_console_and_null_backends_send_nothing_anywhere(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.STEG_SMS_BACKEND = "steg.dialog.sms.ConsoleSmsBackend"
    row = queue_sms()
    assert deliver(row.pk) == "sent"
    assert "SMS to +46701234567" in capsys.readouterr().out
    settings.STEG_SMS_BACKEND = "steg.dialog.sms.NullSmsBackend"
    row = queue_sms()
    assert deliver(row.pk) == "sent"
    assert capsys.readouterr().out == ""
    assert sms.outbox == []


def test_a_notification_is_never_sent_twice() -> None:
    row = queue_email()
    assert deliver_notification.call(row.pk) == "sent"
    assert deliver_notification.call(row.pk) == "skipped"
    assert deliver(row.pk) == "skipped"
    call_command("send_notifications", stdout=StringIO())
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.attempts == 1


def test_a_notification_another_worker_has_claimed_is_left_alone() -> None:
    row = queue_email()
    # Another worker claimed it a moment ago and is sending it now.
    Notification.objects.filter(pk=row.pk).update(
        attempts=1, next_attempt_at=row.next_attempt_at + CLAIM_LEASE
    )
    assert deliver(row.pk) == "skipped"
    assert mail.outbox == []


def test_a_failed_sms_is_retried_with_growing_delays_then_given_up(settings: Settings) -> None:
    settings.STEG_SMS_BACKEND = "steg.dialog.tests.test_delivery.FailingSmsBackend"
    settings.STEG_NOTIFY_MAX_ATTEMPTS = 4
    settings.STEG_NOTIFY_RETRY_SECONDS = 60
    with time_machine.travel(NOW, tick=False) as clock:
        row = queue_sms()
        for attempt, delay in enumerate([60, 120, 240], start=1):
            failed_at = timezone.now()
            assert deliver(row.pk) == "retry"
            row.refresh_from_db()
            assert row.status == Notification.Status.QUEUED
            assert row.attempts == attempt
            assert row.next_attempt_at == failed_at + datetime.timedelta(seconds=delay)
            assert row.last_error.startswith("ConnectionError: gateway said no to")
            assert row.body not in row.last_error
            # Not due yet: nothing happens.
            clock.shift(datetime.timedelta(seconds=delay - 1))
            assert deliver(row.pk) == "skipped"
            clock.shift(datetime.timedelta(seconds=1))
        assert deliver(row.pk) == "failed"
        row.refresh_from_db()
        assert row.status == Notification.Status.FAILED
        assert row.attempts == 4
        assert row.sent_at is None
        clock.shift(datetime.timedelta(days=1))
        assert deliver(row.pk) == "skipped"
    assert sms.outbox == []


def test_a_retry_that_succeeds_marks_the_notification_sent(settings: Settings) -> None:
    settings.STEG_SMS_BACKEND = "steg.dialog.tests.test_delivery.FailingSmsBackend"
    with time_machine.travel(NOW, tick=False) as clock:
        row = queue_sms()
        assert deliver(row.pk) == "retry"
        settings.STEG_SMS_BACKEND = "steg.dialog.sms.LocmemSmsBackend"
        clock.shift(datetime.timedelta(minutes=1))
        assert deliver(row.pk) == "sent"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(sms.outbox) == 1


def test_retry_delay_doubles_from_the_base_and_has_a_ceiling(settings: Settings) -> None:
    settings.STEG_NOTIFY_RETRY_SECONDS = 30
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(40) == datetime.timedelta(hours=6)


def test_a_failure_schedules_a_deferred_retry_on_the_database_backend(settings: Settings) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.STEG_SMS_BACKEND = "steg.dialog.tests.test_delivery.FailingSmsBackend"
    row = queue_sms()
    assert deliver(row.pk) == "retry"
    row.refresh_from_db()
    (task_result,) = DBTaskResult.objects.all()
    assert task_result.task_path == "steg.dialog.tasks.deliver_notification"
    assert task_result.run_after == row.next_attempt_at
    assert task_result.args_kwargs == {"args": [row.pk], "kwargs": {}}


def test_send_notifications_delivers_what_is_due(settings: Settings) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        due_email = queue_email()
        due_sms = queue_sms()
        already_sent = queue_email()
        deliver(already_sent.pk)
        later = queue_sms()
        Notification.objects.filter(pk=later.pk).update(
            next_attempt_at=NOW + datetime.timedelta(hours=1)
        )
        out = StringIO()
        call_command("send_notifications", stdout=out)
        assert "2 sent" in out.getvalue()
        assert len(mail.outbox) == 2
        assert [m.to for m in sms.outbox] == ["+46701234567"]
        statuses = dict(Notification.objects.values_list("pk", "status"))
        assert statuses[due_email.pk] == statuses[due_sms.pk] == "sent"
        assert statuses[later.pk] == "queued"
        clock.shift(datetime.timedelta(hours=1))
        call_command("send_notifications", stdout=out)
        assert len(sms.outbox) == 2


# --- an invitation's link and code are not kept once sent --------------------------------------


def queue_invitation() -> list[Notification]:
    from .conftest import INVITATION_CONTEXT

    return notify(
        kind="invitation", email="pia@example.org", phone="+46701234567", context=INVITATION_CONTEXT
    )


def test_the_link_and_code_leave_the_database_once_the_invitation_is_sent(
    settings: Settings,
) -> None:
    from .conftest import INVITATION_CONTEXT

    settings.STEG_DEV_OUTBOX = False
    rows = queue_invitation()
    for row in rows:
        # Until it is sent, the worker needs them.
        assert INVITATION_CONTEXT["code"] in row.body
        assert deliver(row.pk) == "sent"
        row.refresh_from_db()
        assert INVITATION_CONTEXT["code"] not in row.body
        assert INVITATION_CONTEXT["link"] not in row.body
        assert "[…]" in row.body and row.redacted_body == ""
    # What went out had them.
    assert INVITATION_CONTEXT["code"] in mail.outbox[0].body
    assert INVITATION_CONTEXT["link"] in sms.outbox[0].text


def test_the_link_and_code_leave_the_database_when_sending_gives_up(settings: Settings) -> None:
    from .conftest import INVITATION_CONTEXT

    settings.STEG_DEV_OUTBOX = False
    settings.STEG_NOTIFY_MAX_ATTEMPTS = 1
    settings.STEG_SMS_BACKEND = f"{__name__}.FailingSmsBackend"
    sms_row = [r for r in queue_invitation() if r.channel == Notification.Channel.SMS][0]
    assert deliver(sms_row.pk) == "failed"
    sms_row.refresh_from_db()
    assert INVITATION_CONTEXT["code"] not in sms_row.body
    assert INVITATION_CONTEXT["code"] not in sms_row.last_error


def test_the_development_outbox_keeps_what_was_sent(settings: Settings) -> None:
    from .conftest import INVITATION_CONTEXT

    settings.STEG_DEV_OUTBOX = True
    (row, _sms) = queue_invitation()
    assert deliver(row.pk) == "sent"
    row.refresh_from_db()
    assert INVITATION_CONTEXT["code"] in row.body


def test_other_kinds_are_kept_as_sent(settings: Settings) -> None:
    settings.STEG_DEV_OUTBOX = False
    row = queue_email()
    before = row.body
    deliver(row.pk)
    row.refresh_from_db()
    assert row.body == before
