"""notify(): one row per channel, rendered in the recipient's language, delivered on commit."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest
from django.core import mail
from django.db import transaction
from django.utils import translation
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from steg.accounts.models import User
from steg.care.models import Patient
from steg.dialog import sms
from steg.dialog.models import Notification
from steg.dialog.notifications import KINDS, SMS_MAX_LENGTH, notify

from .conftest import CONTEXTS, INVITATION_CONTEXT, MEETING_CONTEXT

pytestmark = pytest.mark.django_db

# Words that would tell a reader of the e-mail or SMS (or of the lock screen) about the
# recipient's health or care. Notifications may contain none of them, in any language.
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
)


def test_notify_queues_an_email_and_an_sms_when_both_addresses_are_given() -> None:
    rows = notify(
        kind="invitation",
        email=" pia@example.org ",
        phone="+46701234567",
        context=INVITATION_CONTEXT,
        language="en",
    )
    assert [(n.channel, n.address) for n in rows] == [
        ("email", "pia@example.org"),
        ("sms", "+46701234567"),
    ]
    email, text = Notification.objects.order_by("channel")
    assert email.status == Notification.Status.QUEUED
    assert email.attempts == 0
    assert email.subject == "You have been invited to Steg"
    assert INVITATION_CONTEXT["link"] in email.body
    assert "K7PM-Q2XR" in email.body
    assert "http://127.0.0.1:8000/code/" in email.body
    assert "10 December 2026" in email.body
    assert text.subject == ""
    assert INVITATION_CONTEXT["link"] in text.body
    assert "K7PM-Q2XR" in text.body


def test_notify_queues_only_the_channels_that_have_an_address() -> None:
    assert [
        n.channel
        for n in notify(kind="meeting_booked", phone="0701234567", context=MEETING_CONTEXT)
    ] == ["sms"]
    assert [
        n.channel
        for n in notify(kind="meeting_booked", email="a@example.org", context=MEETING_CONTEXT)
    ] == ["email"]
    assert notify(kind="meeting_booked", context=MEETING_CONTEXT) == []
    assert Notification.objects.count() == 2


def test_text_is_not_html_escaped() -> None:
    link = "http://127.0.0.1:8000/x/?a=1&b=<2>"
    (email,) = notify(
        kind="meeting_booked", email="a@example.org", context={**MEETING_CONTEXT, "link": link}
    )
    assert link in email.body
    assert "&amp;" not in email.body


def test_meeting_time_is_shown_in_stockholm_time_in_swedish_and_english() -> None:
    sv_email, sv_sms = notify(
        kind="meeting_booked",
        email="a@example.org",
        phone="0701",
        context=MEETING_CONTEXT,
        language="sv",
    )
    en_email, en_sms = notify(
        kind="meeting_booked",
        email="a@example.org",
        phone="0701",
        context=MEETING_CONTEXT,
        language="en",
    )
    # Month and weekday names come from Django's own Swedish catalogue.
    assert "torsdag 5 mars 2026" in sv_email.body
    assert "torsdag 5 mars" in sv_sms.body
    assert "Thursday 5 March 2026" in en_email.body
    assert "Thursday 5 March" in en_sms.body
    for row in (sv_email, sv_sms, en_email, en_sms):
        assert "14:00" in row.body
        assert "13:00" not in row.body
    assert en_email.subject == "A meeting has been booked in Steg"


def test_notify_leaves_the_active_language_alone() -> None:
    with translation.override("en"):
        notify(
            kind="meeting_reminder", email="a@example.org", context=MEETING_CONTEXT, language="sv"
        )
        assert translation.get_language() == "en"


def test_the_language_defaults_to_the_users_then_swedish() -> None:
    english = User.objects.create_user("en@example.org", None, language="en")
    unset = User.objects.create_user("unset@example.org", None)
    (for_english,) = notify(
        kind="meeting_booked", email=english.email, user=english, context=MEETING_CONTEXT
    )
    (for_unset,) = notify(
        kind="meeting_booked", email=unset.email, user=unset, context=MEETING_CONTEXT
    )
    (nobody,) = notify(kind="meeting_booked", email="x@example.org", context=MEETING_CONTEXT)
    (explicit,) = notify(
        kind="meeting_booked",
        email=english.email,
        user=english,
        context=MEETING_CONTEXT,
        language="sv",
    )
    assert "March" in for_english.body
    assert "mars" in for_unset.body
    assert "mars" in nobody.body
    assert "mars" in explicit.body
    assert for_english.user == english


def test_a_notification_records_its_patient() -> None:
    patient = Patient.objects.create(
        personnummer="191212121212", first_name="Tolvan", last_name="Tolvansson"
    )
    (row,) = notify(
        kind="meeting_cancelled", phone="0701", patient=patient, context=MEETING_CONTEXT
    )
    assert list(patient.notifications.all()) == [row]


def test_an_unknown_kind_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown notification kind 'party'"):
        notify(kind="party", email="a@example.org", context={})
    assert not Notification.objects.exists()


def test_a_context_without_what_the_kind_needs_raises_value_error() -> None:
    with pytest.raises(ValueError, match="code, code_url"):
        notify(kind="invitation", email="a@example.org", context={"link": "x", "expires": "y"})
    assert not Notification.objects.exists()


def test_delivery_is_enqueued_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks: Callable,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(kind="meeting_booked", email="a@example.org", phone="0701", context=MEETING_CONTEXT)
    assert len(callbacks) == 2
    assert not DBTaskResult.objects.exists()
    for callback in callbacks:
        callback()
    assert (
        DBTaskResult.objects.filter(task_path="steg.dialog.tasks.deliver_notification").count() == 2
    )


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    django_capture_on_commit_callbacks: Callable,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                notify(kind="meeting_booked", email="a@example.org", context=MEETING_CONTEXT)
                raise RuntimeError("the caller's action failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not Notification.objects.exists()


@pytest.mark.usefixtures("immediate_tasks")
def test_notify_delivers_both_channels_after_commit(
    django_capture_on_commit_callbacks: Callable,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        rows = notify(
            kind="invitation",
            email="pia@example.org",
            phone="+46701234567",
            context=INVITATION_CONTEXT,
        )
    assert [m.to for m in mail.outbox] == [["pia@example.org"]]
    assert [m.to for m in sms.outbox] == ["+46701234567"]
    assert mail.outbox[0].body == rows[0].body
    assert sms.outbox[0].text == rows[1].body
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_every_kind_has_a_context_for_the_health_information_check() -> None:
    missing = sorted(set(KINDS) - set(CONTEXTS))
    assert not missing, (
        f"Add a neutral context for {', '.join(missing)} to CONTEXTS in "
        "steg/dialog/tests/conftest.py: every kind must pass the health-information check."
    )


# Every kind in KINDS when the tests run, including kinds added later: one without a context in
# CONTEXTS fails here rather than being skipped.
@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_renders_without_health_information(
    kind: str, language: str, settings: Settings
) -> None:
    # Unknown template variables show up as INVALID, so a misspelt variable fails too.
    if kind not in CONTEXTS:
        pytest.fail(
            f"Notification kind {kind!r} has no context to test it with: add a neutral one "
            "(no health information, as a caller would pass it) to CONTEXTS in "
            "steg/dialog/tests/conftest.py, so that this check covers the new kind too."
        )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["string_if_invalid"] = "INVALID(%s)"
    settings.TEMPLATES = templates
    email, text = notify(
        kind=kind,
        email="a@example.org",
        phone="+46701234567",
        context=CONTEXTS[kind],
        language=language,
    )
    assert email.subject
    assert "\n" not in email.subject
    assert email.body.strip()
    assert text.body.strip()
    assert len(text.body) <= SMS_MAX_LENGTH, text.body
    for row in (email, text):
        words = f"{row.subject}\n{row.body}".lower()
        found = [term for term in HEALTH_TERMS if term in words]
        assert not found, f"{kind} ({language}, {row.channel}) mentions {found}:\n{words}"
        assert "INVALID" not in row.body
        assert CONTEXTS[kind]["link"] in row.body
        assert not re.search(r"\n\s*\n\s*\n", row.body), "more than one empty line in a row"
        assert "{%" not in row.body and "{{" not in row.body
