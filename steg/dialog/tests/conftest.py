"""Fixtures for the notification tests."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from steg.dialog import sms

# Context values as a caller would pass them, with no health information in them.
INVITATION_CONTEXT: dict[str, Any] = {
    "link": "http://127.0.0.1:8000/invitation/Zx8kQ2mNpL4rT7vW9yB3cD5fG1hJ6kM0nP2qR4sT6uV/",
    "code": "K7PM-Q2XR",
    "code_url": "http://127.0.0.1:8000/code/",
    "expires": datetime.date(2026, 12, 10),
}
# 13:00 UTC on 5 March 2026 is 14:00 in Stockholm (CET).
MEETING_CONTEXT: dict[str, Any] = {
    "link": "http://127.0.0.1:8000/patient/meetings/",
    "starts_at": datetime.datetime(2026, 3, 5, 13, 0, tzinfo=datetime.UTC),
}
RESCHEDULE_CONTEXT: dict[str, Any] = {"link": "http://127.0.0.1:8000/staff/patients/42/"}

CONTEXTS: dict[str, dict[str, Any]] = {
    "invitation": INVITATION_CONTEXT,
    "meeting_booked": MEETING_CONTEXT,
    "meeting_changed": MEETING_CONTEXT,
    "meeting_cancelled": MEETING_CONTEXT,
    "meeting_reminder": MEETING_CONTEXT,
    "reschedule_requested": RESCHEDULE_CONTEXT,
    "new_message": {"link": "http://127.0.0.1:8000/patient/messages/"},
    "new_feedback": {"link": "http://127.0.0.1:8000/patient/messages/"},
    "patient_wrote": {"link": "http://127.0.0.1:8000/staff/enrolments/42/messages/"},
    "reminder": {"link": "http://127.0.0.1:8000/"},
}


@pytest.fixture(autouse=True)
def _sms_to_memory(settings: Settings) -> Iterator[None]:
    settings.STEG_SMS_BACKEND = "steg.dialog.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def immediate_tasks(settings: Settings) -> None:
    """Tasks run as soon as they are enqueued (here: when the transaction commits)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
