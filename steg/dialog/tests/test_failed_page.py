"""Failed sends, for administrators: scoped to their units, addresses masked, "try again"."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.models import RegionAdmin
from steg.audit.models import AuditEvent
from steg.care.models import Patient, Referral
from steg.dialog.models import Notification, NotificationPreference
from steg.dialog.tasks import deliver
from steg.dialog.views_notifications import mask_address
from steg.testing.personas import TOTP_SECRET, World, make_user

pytestmark = pytest.mark.django_db

URL = reverse("dialog:failed")
NOW = datetime.datetime(2026, 11, 20, 13, 0, tzinfo=datetime.UTC)


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


def failed(patient: Patient | None, **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "kind": "meeting_booked",
        "channel": "sms",
        "address": "+46701234567",
        "body": "Steg: something new.",
        "status": Notification.Status.FAILED,
        "attempts": 5,
        "last_error": "SmsGatewayError: 46elks answered 500",
        "patient": patient,
        **fields,
    }
    return Notification.objects.create(**values)


def test_the_page_is_at_manage_notifications_failed() -> None:
    assert URL == "/manage/notifications/failed/"


@pytest.mark.parametrize("persona", ["patient", "therapist", "other_therapist", "author"])
def test_only_administrators_get_the_page(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    failed(world.patient)
    assert client_as(persona).get(URL).status_code == 404


def test_a_unit_admin_sees_failed_and_retrying_sends_of_their_units_only(
    world: World, english: Callable[[str], Client]
) -> None:
    failed(world.patient, address="pia@example.org", channel="email", last_error="Boom: one")
    failed(
        world.patient,
        status=Notification.Status.QUEUED,
        attempts=2,
        last_error="Boom: retrying",
    )
    # Not shown: sent, queued without a failure yet, and the other region's patient.
    failed(world.patient, status=Notification.Status.SENT, last_error="", address="sent@x.org")
    failed(world.patient, status=Notification.Status.QUEUED, attempts=0, last_error="")
    failed(world.other_patient, last_error="Boom: other region")
    response = english("admin").get(URL)
    assertContains(response, "Boom: one")
    assertContains(response, "Boom: retrying")
    assertContains(response, "Tries again")
    assertContains(response, "Given up")
    assertContains(response, "2 notifications, newest first.")
    assertNotContains(response, "Boom: other region")


def test_addresses_are_masked(world: World, english: Callable[[str], Client]) -> None:
    failed(world.patient, channel="email", address="pia.patient@example.org")
    failed(world.patient, channel="sms", address="+46701234567")
    response = english("admin").get(URL)
    assertContains(response, "p***@example.org")
    assertContains(response, "+4670***67")
    assertNotContains(response, "pia.patient@")
    assertNotContains(response, "+46701234567")


def test_mask_address() -> None:
    assert mask_address("email", "pia@example.org") == "p***@example.org"
    assert mask_address("email", "not-an-address") == "***"
    assert mask_address("sms", "+46701234567") == "+4670***67"
    assert mask_address("sms", "070 123 45 67") == "070***67"
    assert mask_address("sms", "112") == "***"


def test_the_patient_is_named_only_to_an_admin_with_a_care_relation(
    world: World, english: Callable[[str], Client]
) -> None:
    failed(world.patient)
    record = reverse("care:patient_record", args=[world.patient.pk])
    # The unit admin works at the patient's unit in a care role.
    as_unit_admin = english("admin").get(URL)
    assertContains(as_unit_admin, f'<a href="{record}">Pia Patient</a>', html=True)
    # The region admin administers the region but has no care relation.
    as_region_admin = english("region_admin").get(URL)
    assertContains(as_region_admin, "a patient")
    assertNotContains(as_region_admin, "Pia")
    assertNotContains(as_region_admin, record)
    viewed = AuditEvent.objects.filter(action="dialog.notification.failed_listed").order_by("id")
    assert [event.detail["patients"] for event in viewed] == [[world.patient.pk], []]


def test_a_region_admin_sees_the_units_of_their_region_including_referrals(
    world: World, english: Callable[[str], Client]
) -> None:
    # A patient only referred to the unit (no enrolment yet).
    referred = Patient.objects.create(personnummer="195001011237", first_name="R", last_name="R")
    Referral.objects.create(
        patient=referred,
        referring_unit=world.referring_unit,
        receiving_unit=world.unit,
        referrer=world.referrer,
        tobacco_type="snus",
        tobacco_amount="1",
        reason="x",
        contact_consent=True,
    )
    failed(world.patient, last_error="Boom: enrolled")
    failed(referred, last_error="Boom: referred")
    failed(world.other_patient, last_error="Boom: other region")
    response = english("region_admin").get(URL)
    assertContains(response, "Boom: enrolled")
    assertContains(response, "Boom: referred")
    assertNotContains(response, "Boom: other region")


def test_a_region_admin_of_another_region_sees_none_of_this_regions(
    world: World, english: Callable[[str], Client]
) -> None:
    failed(world.patient, last_error="Boom: this region")
    other_admin = make_user("other-region@test.example", "Otto", "Region")
    RegionAdmin.objects.create(user=other_admin, organisation=world.other_region)
    TOTP.activate(other_admin, TOTP_SECRET)
    client = Client()
    client.force_login(other_admin)
    client.cookies["steg_language"] = "en"
    response = client.get(URL)
    assert response.status_code == 200
    assertNotContains(response, "Boom: this region")
    assertContains(response, "No notification has failed.")


def test_failed_sends_to_staff_of_the_unit_are_shown_without_a_patient(
    world: World, english: Callable[[str], Client]
) -> None:
    failed(
        None,
        kind="reschedule_requested",
        channel="email",
        address=world.therapist.email,
        user=world.therapist,
        last_error="Boom: to staff",
    )
    response = english("admin").get(URL)
    assertContains(response, "Boom: to staff")
    assertContains(response, "<td>staff</td>", html=True)
    assertNotContains(english("admin").get(URL), world.therapist.email)


def test_the_page_takes_the_same_number_of_queries_for_one_row_or_many(
    world: World, english: Callable[[str], Client]
) -> None:
    client = english("admin")
    failed(world.patient)
    client.get(URL)  # warm up (session, user)
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL).status_code == 200
    for _ in range(20):
        failed(world.patient)
        failed(None, user=world.therapist, channel="email", address="t@x.org")
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    assert len(many) == len(one)


def test_the_list_is_newest_first_25_a_page(world: World, english: Callable[[str], Client]) -> None:
    start = NOW - datetime.timedelta(days=1)
    for n in range(27):
        failed(
            world.patient,
            created_at=start + datetime.timedelta(minutes=n),
            last_error=f"Boom: number {n:02d}",
        )
    first = english("admin").get(URL)
    assertContains(first, "Boom: number 26")
    assertContains(first, "Boom: number 02")
    assertNotContains(first, "Boom: number 01")
    assert first.content.index(b"number 26") < first.content.index(b"number 25")
    second = english("admin").get(URL, {"page": 2})
    assertContains(second, "Boom: number 01")
    assertContains(second, "Boom: number 00")


# Try again ------------------------------------------------------------------------------------


def retry_url(notification: Notification) -> str:
    return reverse("dialog:retry", args=[notification.pk])


def test_try_again_queues_it_for_now_and_enqueues_delivery_once(
    world: World,
    english: Callable[[str], Client],
    django_capture_on_commit_callbacks: Callable,
) -> None:
    notification = failed(world.patient)
    client = english("admin")
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(retry_url(notification), {"page": "1"}, follow=True)
        assert response.redirect_chain == [(f"{URL}?page=1", 302)]
        assertContains(response, "The notification has been queued to be sent again.")
        notification.refresh_from_db()
        assert notification.status == Notification.Status.QUEUED
        assert notification.next_attempt_at == NOW
        # A second click changes nothing.
        again = client.post(retry_url(notification), follow=True)
        assertContains(again, "it was not sent again")
    assert (
        DBTaskResult.objects.filter(task_path="steg.dialog.tasks.deliver_notification").count() == 1
    )
    event = AuditEvent.objects.get(action="dialog.notification.retried")
    assert event.actor == world.unit_admin
    assert event.patient == world.patient
    assert event.object_id == str(notification.pk)


def test_a_retried_notification_gets_one_more_attempt(
    world: World, english: Callable[[str], Client]
) -> None:
    notification = failed(world.patient, channel="email", address="pia@example.org")
    english("admin").post(retry_url(notification))
    assert deliver(notification.pk) == "sent"
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 6, "")


def test_a_retry_in_the_recipients_quiet_hours_waits_for_them(
    world: World, english: Callable[[str], Client]
) -> None:
    NotificationPreference.objects.create(
        user=world.patient_user, quiet_from=datetime.time(22, 0), quiet_until=datetime.time(7, 0)
    )
    notification = failed(world.patient, user=world.patient_user)
    with time_machine.travel(datetime.datetime(2026, 11, 20, 22, 30, tzinfo=datetime.UTC)):
        english("admin").post(retry_url(notification))
    notification.refresh_from_db()
    assert notification.next_attempt_at == datetime.datetime(
        2026, 11, 21, 6, 0, tzinfo=datetime.UTC
    )


def test_a_failed_invitation_is_not_sent_again(
    world: World, english: Callable[[str], Client]
) -> None:
    notification = failed(world.patient, kind="invitation", body="Open […]")
    page = english("admin").get(URL)
    assertNotContains(page, retry_url(notification))
    response = english("admin").post(retry_url(notification), follow=True)
    assertContains(response, "Send a new invitation")
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED


@pytest.mark.parametrize("persona", ["patient", "therapist", "other_therapist", "author"])
def test_others_cannot_try_again(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    notification = failed(world.patient)
    assert client_as(persona).post(retry_url(notification)).status_code == 404
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert AuditEvent.objects.filter(action="dialog.notification.access_denied").exists()


def test_an_admin_cannot_retry_another_regions_notification(
    world: World, client_as: Callable[[str], Client]
) -> None:
    notification = failed(world.other_patient)
    assert client_as("admin").post(retry_url(notification)).status_code == 404
    assert client_as("region_admin").post(retry_url(notification)).status_code == 404
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED


def test_try_again_needs_post(world: World, client_as: Callable[[str], Client]) -> None:
    notification = failed(world.patient)
    assert client_as("admin").get(retry_url(notification)).status_code == 405
