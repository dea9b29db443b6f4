"""The development outbox at /dev/outbox/: newest first, 25 a page, 404 when it is off."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.dialog.notifications import notify

from .conftest import INVITATION_CONTEXT, MEETING_CONTEXT

pytestmark = pytest.mark.django_db

OUTBOX_URL = reverse("dialog:outbox")
BANNER = "Development outbox: shows what Steg would have sent. It does not exist in production."


def english_client() -> Client:
    client = Client()
    client.cookies["steg_language"] = "en"
    return client


def test_the_outbox_url_is_dev_outbox() -> None:
    assert OUTBOX_URL == "/dev/outbox/"


def test_the_outbox_shows_what_was_sent_without_login() -> None:
    notify(
        kind="invitation",
        email="pia@example.org",
        phone="+46701234567",
        context=INVITATION_CONTEXT,
        language="en",
    )
    response = english_client().get(OUTBOX_URL)
    assertContains(response, BANNER)
    assertContains(response, "<h1>Development outbox</h1>", html=True)
    assertContains(response, "pia@example.org")
    assertContains(response, "+46701234567")
    assertContains(response, "You have been invited to Steg")
    assertContains(response, "K7PM-Q2XR")
    # Links in the body can be followed from the outbox (the browser test opens them).
    link = INVITATION_CONTEXT["link"]
    assertContains(response, f'href="{link}"', count=2)
    assertNotContains(response, 'style="')


def test_the_outbox_lists_the_newest_first_25_a_page() -> None:
    start = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        for number in range(30):
            notify(
                kind="meeting_booked",
                email=f"person{number:02}@example.org",
                context=MEETING_CONTEXT,
            )
            clock.shift(datetime.timedelta(minutes=1))
    client = english_client()
    first = client.get(OUTBOX_URL).content.decode()
    assert first.count('class="outbox-item"') == 25
    assert first.index("person29@") < first.index("person28@") < first.index("person05@")
    assert "person04@" not in first
    assert "Page 1 of 2" in first
    second = client.get(OUTBOX_URL, {"page": 2}).content.decode()
    assert second.count('class="outbox-item"') == 5
    assert "person04@" in second and "person00@" in second
    assert "person05@" not in second


def test_an_empty_outbox_says_so() -> None:
    assertContains(english_client().get(OUTBOX_URL), "Nothing has been sent yet.")


def test_the_outbox_is_not_found_when_it_is_turned_off(settings: Settings) -> None:
    notify(kind="meeting_booked", email="pia@example.org", context=MEETING_CONTEXT)
    settings.STEG_DEV_OUTBOX = False
    response = Client().get(OUTBOX_URL)
    assert response.status_code == 404
    assertNotContains(response, "pia@example.org", status_code=404)


def test_the_outbox_only_answers_get() -> None:
    assert Client().post(OUTBOX_URL).status_code == 405
