"""Notification settings: the page at /account/notifications/, and notify() keeping to them."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.dialog.models import NotificationPreference
from steg.dialog.notifications import notify
from steg.dialog.preferences import get_preferences
from steg.testing.personas import World

from .conftest import INVITATION_CONTEXT, MEETING_CONTEXT

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

URL = reverse("dialog:preferences")
T = datetime.time
BOTH_OFF_NOTE = "If you turn off both, Steg will not tell you when there is something new"


def checkbox(response: Response, name: str) -> str:
    """ "checked" when the checkbox is ticked, else ""."""
    match = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', response.content.decode())
    assert match, f"no checkbox {name}"
    return "checked" if " checked" in match.group(0) else ""


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def english(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def test_the_settings_page_is_at_account_notifications() -> None:
    assert URL == "/account/notifications/"


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_patient_sees_where_notifications_go_from_the_patient_record(
    world: World, english: Callable[[str], Client]
) -> None:
    world.patient.email = "pia.privat@example.org"
    world.patient.phone = "070-123 45 67"
    world.patient.save(update_fields=["email", "phone"])
    response = english("patient").get(URL)
    assertContains(response, "To pia.privat@example.org.")
    assertContains(response, "To 070-123 45 67.")
    assertContains(response, BOTH_OFF_NOTE)
    # Nothing saved yet: both channels on, no quiet hours.
    assert checkbox(response, "by_email") == checkbox(response, "by_sms") == "checked"
    assertContains(response, "<legend>Quiet hours</legend>", html=False)
    assertContains(response, 'type="time"', count=2)


def test_staff_see_their_login_address_and_no_number(
    world: World, english: Callable[[str], Client]
) -> None:
    response = english("therapist").get(URL)
    assertContains(response, "To therapist@test.example.")
    assertContains(response, "Steg has no mobile number for you.")


def test_the_account_page_links_to_the_settings(english: Callable[[str], Client]) -> None:
    assertContains(english("patient").get(reverse("accounts:overview")), f'href="{URL}"')


def test_saving_stores_the_settings_and_says_so(
    world: World, english: Callable[[str], Client]
) -> None:
    client = english("patient")
    response = client.post(
        URL, {"by_email": "on", "quiet_from": "22:00", "quiet_until": "07:00"}, follow=True
    )
    assert response.redirect_chain == [(URL, 302)]
    assertContains(response, "Your notification settings have been saved.")
    preference = NotificationPreference.objects.get(user=world.patient_user)
    assert (preference.by_email, preference.by_sms) == (True, False)
    assert (preference.quiet_from, preference.quiet_until) == (T(22, 0), T(7, 0))
    # The form shows what was saved.
    assertContains(response, 'value="22:00"')
    assert (checkbox(response, "by_email"), checkbox(response, "by_sms")) == ("checked", "")


def test_a_change_is_audited_once_with_the_patient_as_actor(
    world: World, english: Callable[[str], Client]
) -> None:
    client = english("patient")
    data = {"by_email": "on", "by_sms": "on", "quiet_from": "21:30", "quiet_until": "06:45"}
    client.post(URL, data)
    client.post(URL, data)  # nothing changed: no second event
    client.post(URL, {**data, "quiet_from": "", "quiet_until": ""})
    events = list(AuditEvent.objects.filter(action="dialog.preferences.changed").order_by("id"))
    assert len(events) == 2
    first, second = events
    assert first.actor == world.patient_user
    assert first.actor_role == "patient"
    assert first.patient == world.patient
    assert first.detail == {
        "by_email": True,
        "by_sms": True,
        "quiet_from": "21:30",
        "quiet_until": "06:45",
    }
    assert second.detail == {"quiet_from": None, "quiet_until": None}


def test_staff_may_set_their_own(world: World, english: Callable[[str], Client]) -> None:
    response = english("therapist").post(URL, {"by_email": "on"})
    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=world.therapist).by_sms is False
    event = AuditEvent.objects.get(action="dialog.preferences.changed")
    assert event.patient is None
    assert event.actor == world.therapist


def test_both_channels_may_be_turned_off(world: World, english: Callable[[str], Client]) -> None:
    response = english("patient").post(URL, {})
    assert response.status_code == 302
    preference = get_preferences(world.patient_user)
    assert (preference.by_email, preference.by_sms) == (False, False)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"quiet_from": "22:00"},
            "quiet_until",
            "Give the time your quiet hours end too, or clear both times.",
        ),
        (
            {"quiet_until": "07:00"},
            "quiet_from",
            "Give the time your quiet hours start too, or clear both times.",
        ),
        (
            {"quiet_from": "22:00", "quiet_until": "22:00"},
            "quiet_until",
            "Quiet hours must end at another time than they start.",
        ),
        (
            {"quiet_from": "late", "quiet_until": "07:00"},
            "quiet_from",
            "Write the time as hours and minutes, for example 22:00.",
        ),
    ],
    ids=["no-end", "no-start", "same-time", "not-a-time"],
)
def test_quiet_hours_need_two_different_times_or_none(
    world: World,
    english: Callable[[str], Client],
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = english("patient").post(URL, {"by_email": "on", **data})
    assert response.status_code == 422
    assertContains(response, "There is a problem", status_code=422)
    assertContains(
        response,
        f'<p class="field-error" id="id_{field}_error">{message}</p>',
        status_code=422,
        html=False,
    )
    assertContains(response, f'href="#id_{field}"', status_code=422)
    assert not NotificationPreference.objects.exists()


def test_get_preferences_gives_the_defaults_without_a_row(world: World) -> None:
    preference = get_preferences(world.patient_user)
    assert preference.pk is None
    assert (preference.by_email, preference.by_sms) == (True, True)
    assert preference.quiet_from is None


# notify() keeps to the channels ----------------------------------------------------------------


def channels(**kwargs: object) -> list[str]:
    rows = notify(email="pia@example.org", phone="+46701234567", **kwargs)  # type: ignore[arg-type]
    return [row.channel for row in rows]


def test_without_settings_both_channels_are_used(world: World) -> None:
    assert channels(kind="meeting_booked", user=world.patient_user, context=MEETING_CONTEXT) == [
        "email",
        "sms",
    ]


def test_a_channel_turned_off_gets_no_notification(world: World) -> None:
    preference = NotificationPreference.objects.create(user=world.patient_user, by_email=False)
    assert channels(kind="meeting_booked", user=world.patient_user, context=MEETING_CONTEXT) == [
        "sms"
    ]
    preference.by_email, preference.by_sms = True, False
    preference.save()
    assert channels(kind="meeting_booked", user=world.patient_user, context=MEETING_CONTEXT) == [
        "email"
    ]


def test_both_off_queues_nothing_but_an_invitation_still_goes(world: World) -> None:
    NotificationPreference.objects.create(user=world.patient_user, by_email=False, by_sms=False)
    assert channels(kind="meeting_booked", user=world.patient_user, context=MEETING_CONTEXT) == []
    assert channels(kind="invitation", user=world.patient_user, context=INVITATION_CONTEXT) == [
        "email",
        "sms",
    ]


def test_without_a_user_no_settings_apply(world: World) -> None:
    NotificationPreference.objects.create(user=world.patient_user, by_email=False, by_sms=False)
    # An address without an account (say, before the invitation is accepted).
    assert channels(kind="meeting_booked", context=MEETING_CONTEXT) == ["email", "sms"]


def test_staff_settings_apply_to_notifications_to_staff(world: World) -> None:
    NotificationPreference.objects.create(user=world.therapist, by_email=False)
    rows = notify(
        kind="reschedule_requested",
        email=world.therapist.email,
        user=world.therapist,
        context={"link": "http://127.0.0.1:8000/x/"},
    )
    assert rows == []
