"""The audit log: every read of patient data is recorded, the chain shows tampering, and the
review page (loggkontroll) filters, paginates and keeps to the admin's own units."""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Callable
from io import StringIO
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django import DjangoAssertNumQueries
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.audit.actions import Actor, record_event
from steg.audit.models import AuditEvent
from steg.care.forms import PERSONNUMMER_MESSAGES
from steg.care.models import Patient
from steg.testing.personas import World, start_treatment

STOCKHOLM = ZoneInfo("Europe/Stockholm")
LOG_URL = reverse("audit:log")
PATIENT_PNR = "19121212-1212"
OTHER_PATIENT_PNR = "19811218-9876"

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def swedish(text: str) -> str:
    with translation.override("sv"):
        return translation.gettext(text)


def latest_event() -> AuditEvent:
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None, "no audit event was written"
    return event


def table_rows(response: Response) -> list[list[str]]:
    """The rows of the events table, each a list of cell texts, as a reader sees them."""
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S)
    if body is None:
        return []
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells])
    return rows


def actions_shown(response: Response) -> list[str]:
    return [row[5] for row in table_rows(response)]


# --- Reads of patient data are recorded --------------------------------------------------


def test_staff_reading_a_patient_record_writes_an_event(
    world: World, client_as: Callable[[str], Client]
) -> None:
    before = AuditEvent.objects.count()
    response = client_as("therapist").get(
        reverse("care:patient_record", args=[world.patient.pk]),
        headers={"X-Request-ID": "req-from-proxy-0001"},
        REMOTE_ADDR="10.20.30.40",
    )
    assertContains(response, "Pia")
    assert AuditEvent.objects.count() == before + 1
    event = latest_event()
    assert event.action == "care.patient.viewed"
    assert event.actor == world.therapist
    assert event.actor_role == "therapist"
    assert event.unit == world.unit
    assert event.patient == world.patient
    assert event.object_type == "care.patient"
    assert event.object_id == str(world.patient.pk)
    assert event.purpose == "care"
    assert event.request_id == "req-from-proxy-0001" == response["X-Request-ID"]
    assert event.ip == "10.20.30.40"


@pytest.mark.parametrize(
    ("proxies", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.7")], ids=["direct", "proxied"]
)
def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(
    world: World, client_as: Callable[[str], Client], settings: Any, proxies: int, expected: str
) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    client_as("therapist").get(
        reverse("care:patient_record", args=[world.patient.pk]),
        headers={"X-Forwarded-For": "203.0.113.7"},
        REMOTE_ADDR="127.0.0.1",
    )
    assert latest_event().ip == expected


def test_a_generated_request_id_is_recorded_and_sent_back(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("admin").get(reverse("care:patient_record", args=[world.patient.pk]))
    event = latest_event()
    assert event.request_id
    assert event.request_id == response["X-Request-ID"]
    assert event.ip == "127.0.0.1"
    assert event.actor_role == "unit_admin"


def test_a_malformed_request_id_from_outside_is_replaced(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").get(
        reverse("care:patient_record", args=[world.patient.pk]),
        headers={"X-Request-ID": "<script>"},
    )
    assert latest_event().request_id == response["X-Request-ID"] != "<script>"


def test_patient_start_page_records_the_patients_own_read(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("patient").get(reverse("care:patient_start"))
    assertContains(response, "Tobaksavvänjning Testby")
    event = latest_event()
    assert event.action == "care.patient.viewed_own"
    assert event.actor == world.patient_user
    assert event.actor_role == "patient"
    assert event.patient == world.patient
    assert event.request_id == response["X-Request-ID"]


def test_unit_patient_list_records_which_patients_were_shown(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("therapist").get(reverse("care:unit_patients", args=[world.unit.pk]))
    assertContains(response, "Patient, Pia")
    event = latest_event()
    assert event.action == "care.patient.listed"
    assert event.actor == world.therapist
    assert event.actor_role == "therapist"
    assert event.unit == world.unit
    assert event.detail == {"patients": [world.patient.pk], "page": 1}
    assert event.request_id == response["X-Request-ID"]


def test_denied_access_is_recorded_and_answers_404(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("other_therapist").get(
        reverse("care:patient_record", args=[world.patient.pk])
    )
    assert response.status_code == 404
    assertNotContains(response, "Pia", status_code=404)
    event = latest_event()
    assert event.action == "care.patient.access_denied"
    assert event.actor == world.other_therapist
    assert event.patient == world.patient
    assert event.object_id == str(world.patient.pk)
    assert event.request_id == response["X-Request-ID"]
    assert not AuditEvent.objects.filter(action="care.patient.viewed").exists()


def test_asking_for_a_patient_that_does_not_exist_is_recorded_too(
    client_as: Callable[[str], Client],
) -> None:
    response = client_as("author").get(reverse("care:patient_record", args=[999_999]))
    assert response.status_code == 404
    event = latest_event()
    assert event.action == "care.patient.access_denied"
    assert event.patient is None
    assert event.object_id == "999999"


def test_reading_the_audit_log_is_recorded_with_its_filters(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("admin").get(LOG_URL, {"patient": PATIENT_PNR, "action": "care"})
    assert response.status_code == 200
    event = latest_event()
    assert event.action == "audit.log.viewed"
    assert event.actor == world.unit_admin
    assert event.detail == {"filters": {"patient": PATIENT_PNR, "action": "care"}, "page": 1}
    assert event.request_id == response["X-Request-ID"]


def test_pages_without_patient_data_write_no_events(client_as: Callable[[str], Client]) -> None:
    client = client_as("therapist")
    client.get(reverse("accounts:staff_start"))
    client.get(reverse("accessibility"))
    assert not AuditEvent.objects.exists()


# --- The chain ---------------------------------------------------------------------------


def make_events(world: World, count: int) -> list[AuditEvent]:
    return [
        record_event(
            action="care.patient.viewed",
            actor=Actor(world.therapist, "therapist", world.unit),
            patient=world.patient,
            object_type="care.patient",
            object_id=world.patient.pk,
            purpose="care",
            detail={"n": n},
        )
        for n in range(count)
    ]


def tamper(sql: str, params: list[str | int]) -> None:
    """Change the audit table behind the application's back, as an intruder with SQL would.

    On PostgreSQL the append-only trigger must be bypassed first, as only a superuser can.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def test_verify_audit_accepts_an_untouched_chain(world: World) -> None:
    make_events(world, 7)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "7 events verified" in out.getvalue()


def test_events_written_by_pages_form_a_chain(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client_as("therapist").get(reverse("care:patient_record", args=[world.patient.pk]))
    client_as("patient").get(reverse("care:patient_start"))
    client_as("admin").get(LOG_URL)
    first, second, third = AuditEvent.objects.order_by("id")
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    call_command("verify_audit", stdout=StringIO())


def test_verify_audit_names_an_edited_event(world: World) -> None:
    events = make_events(world, 5)
    tamper("UPDATE audit_auditevent SET purpose = %s WHERE id = %s", ["research", events[2].pk])
    err = StringIO()
    with pytest.raises(CommandError, match="Audit chain broken"):
        call_command("verify_audit", stdout=StringIO(), stderr=err)
    assert f"audit event {events[2].pk}: content does not match its hash" in err.getvalue()
    # The events before and after are not blamed.
    assert f"audit event {events[1].pk}" not in err.getvalue()
    assert f"audit event {events[3].pk}" not in err.getvalue()


def test_verify_audit_notices_an_event_whose_hash_was_recomputed(world: World) -> None:
    # An intruder who recomputes the edited row's hash still breaks the link to the next row.
    events = make_events(world, 4)
    edited = AuditEvent.objects.get(pk=events[1].pk)
    edited.purpose = "research"
    tamper(
        "UPDATE audit_auditevent SET purpose = %s, hash = %s WHERE id = %s",
        ["research", edited.compute_hash(), edited.pk],
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=StringIO(), stderr=err)
    assert f"audit event {events[2].pk}: link to the previous event does not match" in (
        err.getvalue()
    )


def test_verify_audit_notices_a_removed_event(world: World) -> None:
    events = make_events(world, 4)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=StringIO(), stderr=err)
    assert f"audit event {events[2].pk}: link to the previous event does not match" in (
        err.getvalue()
    )


def test_verify_audit_fails_with_exit_status_1(world: World) -> None:
    events = make_events(world, 2)
    tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["x", events[0].pk])
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=StringIO(), stderr=StringIO())
    # manage.py turns a CommandError into this exit status.
    assert failure.value.returncode == 1


@pytest.mark.postgres_only
def test_postgresql_refuses_to_update_an_audit_event(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists only on PostgreSQL")
    event = make_events(world, 1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE audit_auditevent SET purpose = %s WHERE id = %s", ["research", event.pk]
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(purpose="research")
    assert AuditEvent.objects.get(pk=event.pk).purpose == "care"


@pytest.mark.postgres_only
def test_postgresql_refuses_to_delete_an_audit_event(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists only on PostgreSQL")
    event = make_events(world, 1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    call_command("verify_audit", stdout=StringIO())


# --- The review page ---------------------------------------------------------------------


@pytest.fixture
def activity(world: World, client_as: Callable[[str], Client]) -> None:
    """Some reads at both regions' units, as staff and patients go about their work."""
    client_as("therapist").get(reverse("care:patient_record", args=[world.patient.pk]))
    client_as("therapist").get(reverse("care:unit_patients", args=[world.unit.pk]))
    client_as("admin").get(reverse("care:patient_record", args=[world.patient.pk]))
    client_as("patient").get(reverse("care:patient_start"))
    client_as("author").get(reverse("care:patient_record", args=[world.patient.pk]))
    client_as("other_therapist").get(reverse("care:patient_record", args=[world.other_patient.pk]))
    client_as("other_therapist").get(reverse("care:unit_patients", args=[world.other_unit.pk]))


def test_admin_sees_the_events_of_their_unit_newest_first(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    response = client_as("admin").get(LOG_URL)
    assert response.status_code == 200
    rows = table_rows(response)
    assert [row[5] for row in rows] == [
        "care.patient.access_denied",  # the author
        "care.patient.viewed",  # the admin
        "care.patient.listed",
        "care.patient.viewed",  # the therapist
    ]
    assert rows[0][1] == "author@test.example"
    assert rows[1][1:5] == ["admin@test.example", "unit_admin", world.unit.name, PATIENT_PNR]
    assert rows[3][1:5] == ["therapist@test.example", "therapist", world.unit.name, PATIENT_PNR]


def test_admin_does_not_see_events_of_another_regions_unit(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    for persona in ("admin", "region_admin"):
        response = client_as(persona).get(LOG_URL)
        assertNotContains(response, OTHER_PATIENT_PNR)
        assertNotContains(response, "other@test.example")
        assertNotContains(response, world.other_unit.name)
    # Not even when asking for them by filter.
    response = client_as("admin").get(LOG_URL, {"patient": OTHER_PATIENT_PNR})
    assert table_rows(response) == []
    response = client_as("admin").get(LOG_URL, {"unit": world.other_unit.pk})
    assert table_rows(response) == []


def test_region_admin_sees_the_events_of_their_regions_units(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    response = client_as("region_admin").get(LOG_URL)
    assert "care.patient.viewed" in actions_shown(response)
    assertContains(response, "therapist@test.example")


def test_filter_by_patient_identity_number(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    response = client_as("admin").get(LOG_URL, {"patient": "191212121212"})
    rows = table_rows(response)
    assert len(rows) == 3  # two views and the author's denied attempt; not the list
    assert {row[4] for row in rows} == {PATIENT_PNR}


def test_filter_by_actor_email(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    response = client_as("admin").get(LOG_URL, {"actor": "Therapist@Test.Example"})
    rows = table_rows(response)
    assert [row[5] for row in rows] == ["care.patient.listed", "care.patient.viewed"]
    assert {row[1] for row in rows} == {"therapist@test.example"}


def test_filter_by_unit(world: World, client_as: Callable[[str], Client], activity: None) -> None:
    client = client_as("admin")
    client.get(LOG_URL)  # an audit.log.viewed event, which belongs to no unit
    rows = table_rows(client.get(LOG_URL, {"unit": world.unit.pk}))
    assert rows
    assert {row[3] for row in rows} == {world.unit.name}


def test_filter_by_action_prefix(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    client = client_as("admin")
    client.get(LOG_URL)
    assert set(actions_shown(client.get(LOG_URL, {"action": "care.patient.viewed"}))) == {
        "care.patient.viewed"
    }
    shown = actions_shown(client.get(LOG_URL, {"action": "audit"}))
    assert shown and set(shown) == {"audit.log.viewed"}


def test_filter_by_date_range_uses_whole_swedish_days(
    world: World, client_as: Callable[[str], Client]
) -> None:
    def event_at(when: datetime.datetime, purpose: str) -> None:
        with time_machine.travel(when, tick=False):
            record_event(
                action="care.patient.viewed",
                actor=Actor(world.therapist, "therapist", world.unit),
                patient=world.patient,
                purpose=purpose,
            )

    event_at(datetime.datetime(2026, 3, 1, 12, 0, tzinfo=STOCKHOLM), "too early")
    event_at(datetime.datetime(2026, 3, 4, 0, 5, tzinfo=STOCKHOLM), "first day")
    event_at(datetime.datetime(2026, 3, 5, 23, 55, tzinfo=STOCKHOLM), "last day")
    event_at(datetime.datetime(2026, 3, 6, 0, 5, tzinfo=STOCKHOLM), "too late")
    response = client_as("admin").get(
        LOG_URL, {"date_from": "2026-03-04", "date_to": "2026-03-05", "action": "care"}
    )
    assert [row[6] for row in table_rows(response)] == ["last day", "first day"]
    assert table_rows(response)[0][0] == "2026-03-05 23:55:00"


def test_an_invalid_identity_number_in_the_filter_shows_a_field_error(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    response = client_as("admin").get(LOG_URL, {"patient": "19121212-1213"})
    assert response.status_code == 200
    assertContains(response, swedish(str(PERSONNUMMER_MESSAGES["checksum"])))
    assertContains(response, 'class="field-error"')
    assert table_rows(response) == []


def test_a_garbled_identity_number_in_the_filter_shows_the_format_error(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("admin").get(LOG_URL, {"patient": "abc"})
    assert response.status_code == 200
    assertContains(response, swedish(str(PERSONNUMMER_MESSAGES["format"])))


def test_an_end_date_before_the_start_date_shows_a_field_error(
    world: World, client_as: Callable[[str], Client], activity: None
) -> None:
    response = client_as("admin").get(LOG_URL, {"date_from": "2026-03-05", "date_to": "2026-03-04"})
    assert response.status_code == 200
    assertContains(response, swedish("The end date must not be before the start date."))
    assert table_rows(response) == []


def test_nonsense_filter_values_never_crash_the_page(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("admin")
    for query in (
        {"unit": "not-a-number"},
        {"unit": "999999"},
        {"date_from": "yesterday"},
        {"actor": "not an e-mail"},
        {"action": "x" * 500},
        {"page": "-1"},
        {"page": "9999"},
        {"page": "abc"},
    ):
        assert client.get(LOG_URL, query).status_code == 200, query


def test_the_log_is_paginated_fifty_to_a_page(
    world: World, client_as: Callable[[str], Client]
) -> None:
    events = make_events(world, 120)
    client = client_as("admin")
    first = client.get(LOG_URL, {"action": "care"})
    assert len(table_rows(first)) == 50
    assertContains(first, 'rel="next"')
    assertNotContains(first, 'rel="prev"')
    last = client.get(LOG_URL, {"action": "care", "page": "3"})
    rows = table_rows(last)
    assert len(rows) == 20
    assertContains(last, 'rel="prev"')
    assertNotContains(last, 'rel="next"')
    # The filter stays on when paging.
    assertContains(first, "action=care&amp;page=2")
    # The oldest event is on the last page.
    assert AuditEvent.objects.filter(pk=events[0].pk).exists()


def test_the_list_matches_the_count_shown(world: World, client_as: Callable[[str], Client]) -> None:
    # The page's own audit.log.viewed event must not push an older event off the list.
    make_events(world, 3)
    response = client_as("admin").get(LOG_URL)
    assert actions_shown(response) == ["care.patient.viewed"] * 3
    assert response.context["page"].paginator.count == 3
    # The next visit shows the first one.
    assert actions_shown(client_as("admin").get(LOG_URL))[0] == "audit.log.viewed"


def test_non_admins_cannot_read_the_log(client_as: Callable[[str], Client]) -> None:
    for persona in ("patient", "therapist", "other_therapist", "author"):
        assert client_as(persona).get(LOG_URL).status_code == 404
    assert not AuditEvent.objects.filter(action="audit.log.viewed").exists()


# The user and their session record (allauth), memberships and administered organisations,
# the administered units and the unit choices, the count, one page of events with actor, unit
# and patient, and the audit write in a savepoint (on PostgreSQL with the chain lock): 16 on
# SQLite, 17 on PostgreSQL.
MAX_LOG_QUERIES = 17


def _log_page_queries(client: Client, django_assert_max_num_queries: DjangoAssertNumQueries) -> int:
    with django_assert_max_num_queries(MAX_LOG_QUERIES) as captured:
        response = client.get(LOG_URL, {"action": "care"})
    assert response.status_code == 200
    return len(captured.captured_queries)


def add_events(world: World, count: int, *, first: int = 0) -> None:
    """Reads by two members of staff, each about a different patient of the unit."""
    for n in range(first, first + count):
        patient = Patient.objects.create(
            personnummer=f"19900101{n:04d}", first_name="Extra", last_name=f"Patient {n}"
        )
        start_treatment(patient, world.unit, world.enrolment.programme_version)
        staff, role = (world.unit_admin, "unit_admin") if n % 2 else (world.therapist, "therapist")
        record_event(
            action="care.patient.viewed",
            actor=Actor(staff, role, world.unit),
            patient=patient,
        )


def test_the_log_page_uses_the_same_queries_for_5_or_120_events(
    world: World,
    client_as: Callable[[str], Client],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = client_as("admin")
    client.get(LOG_URL)  # a first visit settles the session
    add_events(world, 5)
    few = _log_page_queries(client, django_assert_max_num_queries)
    add_events(world, 115, first=5)
    many = _log_page_queries(client, django_assert_max_num_queries)
    assert many == few
    assert len(table_rows(client.get(LOG_URL, {"action": "care"}))) == 50
