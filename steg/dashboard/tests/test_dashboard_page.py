"""The dashboard page: what needs attention first, counts, filters, the unit toggle, access."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from steg.accounts.models import Membership, Unit, User
from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.dashboard.attention import attention_changed, rebuild_all
from steg.dashboard.models import Attention
from steg.dialog.messages import send_message
from steg.dialog.models import Message
from steg.testing.personas import World, make_staff

from .utils import make_patient

URL = reverse("dashboard:home")


def write(world: World, enrolment: Enrolment, n: int = 1, *, days_ago: int = 0) -> None:
    """n messages from the patient, unread."""
    for _ in range(n):
        Message.objects.create(
            enrolment=enrolment,
            sender=world.patient_user,
            sender_role=Message.SenderRole.PATIENT,
            body="Hej",
            created_at=timezone.now() - datetime.timedelta(days=days_ago),
        )
    attention_changed(enrolment.pk)


def started(enrolment: Enrolment, days_ago: int) -> None:
    enrolment.started_at = timezone.now() - datetime.timedelta(days=days_ago)
    enrolment.save(update_fields=["started_at"])
    attention_changed(enrolment.pk)


@pytest.fixture
def client_as(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    """Clients that ask for English pages."""

    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def names(response: object) -> list[str]:
    """The patients listed, in order."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', html)


@pytest.fixture
def patients(world: World) -> dict[str, Enrolment]:
    """The therapist's patients: one quiet, one inactive, one who wrote today, one who wrote
    nine days ago (unread and inactive); and a colleague's patient at the unit who wrote."""
    quiet = make_patient(world, 1)
    inactive = make_patient(world, 2)
    wrote = make_patient(world, 3)
    both = make_patient(world, 4)
    colleague = make_staff("colleague@test.example", "Cilla Kollega", world.unit, "therapist")
    theirs = make_patient(world, 5, therapist=colleague)
    started(quiet, 3)
    started(inactive, 10)
    write(world, wrote, 2)
    started(both, 20)
    write(world, both, days_ago=9)
    write(world, theirs)
    rebuild_all()  # the world's own treatments too
    return {
        "quiet": quiet,
        "inactive": inactive,
        "wrote": wrote,
        "both": both,
        "theirs": theirs,
        "world": world.enrolment,
    }


def test_my_patients_come_in_order_of_what_needs_attention(
    client_as: Callable[[str], Client], patients: dict[str, Enrolment]
) -> None:
    response = client_as("therapist").get(URL)
    assert response.status_code == 200
    # Unread (16) and inactive (1), then unread, then inactive.
    assert names(response)[:3] == ["Last004, First004", "Last003, First003", "Last002, First002"]
    # Then those with nothing to attend to, the longest quiet first; not the colleague's.
    assert names(response)[3:] == ["Last001, First001", "Patient, Pia"]
    html = response.content.decode()
    assert "Unread messages: 2" in html
    assert "Inactive" in html


def test_the_counts_at_the_top_count_my_patients(
    client_as: Callable[[str], Client], patients: dict[str, Enrolment]
) -> None:
    html = client_as("therapist").get(URL).content.decode()
    text = re.sub(r"<[^>]+>", "", html)
    assert "All patients: 5" in text
    assert "Unread messages: 2" in text
    assert "Inactive: 2" in text
    assert "Slip or relapse: 0" in text


def test_a_flag_filters_the_list(
    client_as: Callable[[str], Client], patients: dict[str, Enrolment]
) -> None:
    response = client_as("therapist").get(URL, {"flag": "inactive"})
    assert names(response) == ["Last004, First004", "Last002, First002"]
    response = client_as("therapist").get(URL, {"flag": "slip"})
    assert names(response) == []
    assert "No patients with: slip or relapse." in response.content.decode()


def test_an_unknown_flag_shows_everyone(
    client_as: Callable[[str], Client], patients: dict[str, Enrolment]
) -> None:
    response = client_as("therapist").get(URL, {"flag": "nonsense", "scope": "everything"})
    assert response.status_code == 200
    assert len(names(response)) == 5


def test_the_unit_toggle_shows_every_patient_at_the_unit(
    client_as: Callable[[str], Client], world: World, patients: dict[str, Enrolment]
) -> None:
    response = client_as("therapist").get(URL, {"scope": "unit"})
    listed = names(response)
    assert "Last005, First005" in listed
    assert len(listed) == 6
    assert "Cilla Kollega" in response.content.decode()
    # The unit's counts, filtered: both therapists' patients who wrote.
    response = client_as("therapist").get(
        URL, {"scope": "unit", "unit": str(world.unit.pk), "flag": "unread"}
    )
    assert names(response) == ["Last004, First004", "Last003, First003", "Last005, First005"]


def test_a_unit_admin_sees_the_unit(
    client_as: Callable[[str], Client], patients: dict[str, Enrolment]
) -> None:
    admin = client_as("admin")
    assert names(admin.get(URL)) == []  # no patients of their own
    assert len(names(admin.get(URL, {"scope": "unit"}))) == 6


def test_someone_working_at_two_units_chooses_the_unit(
    client_as: Callable[[str], Client], world: World, patients: dict[str, Enrolment]
) -> None:
    second = Unit.objects.create(organisation=world.region, name="Tobaksavvänjning Andra")
    Membership.objects.create(user=world.therapist, unit=second, role="therapist")
    client = client_as("therapist")
    html = client.get(URL).content.decode()
    assert 'name="unit"' in html and "Tobaksavvänjning Andra" in html
    assert names(client.get(URL, {"scope": "unit", "unit": str(second.pk)})) == []
    assert len(names(client.get(URL, {"scope": "unit", "unit": str(world.unit.pk)}))) == 6


def test_another_units_therapist_sees_none_of_our_patients(
    client_as: Callable[[str], Client], world: World, patients: dict[str, Enrolment]
) -> None:
    other = client_as("other_therapist")
    mine = names(other.get(URL))
    unit = names(other.get(URL, {"scope": "unit"}))
    assert mine == unit == ["Annan, Otto"]


def test_a_unit_one_does_not_work_at_is_404_and_recorded(
    client_as: Callable[[str], Client], world: World, patients: dict[str, Enrolment]
) -> None:
    response = client_as("other_therapist").get(URL, {"scope": "unit", "unit": str(world.unit.pk)})
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        action="care.unit.access_denied", actor=world.other_therapist, object_id=world.unit.pk
    ).exists()


@pytest.mark.parametrize("persona", ["patient", "author", "referrer", "region_admin"])
def test_only_staff_in_a_care_role_have_a_dashboard(
    client_as: Callable[[str], Client], persona: str
) -> None:
    assert client_as(persona).get(URL).status_code == 404


def test_the_list_is_recorded_as_one_read_with_the_treatments_shown(
    client_as: Callable[[str], Client], world: World, patients: dict[str, Enrolment]
) -> None:
    client_as("therapist").get(URL, {"flag": "unread"})
    event = AuditEvent.objects.get(action="dashboard.listed")
    assert event.actor == world.therapist
    assert event.unit == world.unit
    assert event.detail["enrolments"] == [patients["both"].pk, patients["wrote"].pk]
    assert event.detail["flag"] == "unread"


def test_names_link_to_the_patient_overview_or_record(
    client_as: Callable[[str], Client], world: World, patients: dict[str, Enrolment]
) -> None:
    html = client_as("therapist").get(URL, {"flag": "unread"}).content.decode()
    try:
        expected = reverse("dashboard:overview", args=[patients["both"].pk])
    except Exception:  # noqa: BLE001 - the overview is another change's
        expected = reverse("care:patient_record", args=[patients["both"].patient_id])
    assert f'href="{expected}"' in html


def test_pages_hold_25_patients(client_as: Callable[[str], Client], world: World) -> None:
    for n in range(30):
        make_patient(world, n)
    rebuild_all()
    client = client_as("therapist")
    first, second = client.get(URL), client.get(URL, {"page": 2})
    assert len(names(first)) == 25
    assert len(names(second)) == 6
    assert "Page 2 of 2" in second.content.decode()
    assert not set(names(first)) & set(names(second))


def test_the_staff_start_page_leads_to_the_dashboard(client_as: Callable[[str], Client]) -> None:
    therapist = client_as("therapist").get(reverse("accounts:staff_start")).content.decode()
    assert therapist.count(f'href="{URL}"') == 1
    referrer = client_as("referrer").get(reverse("accounts:staff_start")).content.decode()
    assert f'href="{URL}"' not in referrer


def _queries(client: Client, params: dict[str, str | int]) -> int:
    client.get(URL, params)  # the session is warm afterwards
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, params).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"flag": "unread"}, {"scope": "unit"}, {"scope": "unit", "flag": "inactive", "page": 2}],
)
def test_the_dashboard_runs_the_same_queries_whatever_the_number_of_patients(
    client_as: Callable[[str], Client], world: World, params: dict[str, str | int]
) -> None:
    client = client_as("therapist")
    for n in range(3):
        write(world, make_patient(world, n))
    rebuild_all()
    few = _queries(client, params)
    for n in range(3, 60):
        enrolment = make_patient(world, n)
        write(world, enrolment)
        started(enrolment, 30)
    rebuild_all()
    assert _queries(client, params) == few
    assert few <= 12


def _patient_writes(world: World, enrolment: Enrolment) -> None:
    """A message from the patient, through the same action as the patient's page."""
    patient = enrolment.patient
    if patient.user is None:
        patient.user = User.objects.create_user(f"p{patient.pk}@test.example", "x" * 12)
        patient.save(update_fields=["user"])
    send_message(
        enrolment=enrolment,
        sender=patient.user,
        role=Message.SenderRole.PATIENT,
        body="Hej, en fråga.",
        client_token=f"t-{enrolment.pk}-{Message.objects.count()}",
        request=None,
    )


def test_what_a_patient_writes_is_on_the_dashboard_at_the_next_look(
    client_as: Callable[[str], Client], world: World
) -> None:
    """The patient's message only marks the row stale (the patient does not wait for the
    therapist's view); the dashboard recomputes it before it reads, counts included."""
    enrolment = make_patient(world, 1)
    rebuild_all()
    client = client_as("therapist")
    assert "Unread messages: 0" in re.sub(r"<[^>]+>", "", client.get(URL).content.decode())
    _patient_writes(world, enrolment)
    _patient_writes(world, enrolment)
    row = Attention.objects.get(pk=enrolment.pk)
    assert row.stale and row.unread_messages == 0

    response = client.get(URL, {"flag": "unread"})
    assert names(response) == ["Last001, First001"]
    text = re.sub(r"<[^>]+>", "", response.content.decode())
    assert "Unread messages: 1" in text
    row.refresh_from_db()
    assert not row.stale and row.unread_messages == 2


def test_stale_rows_cost_the_dashboard_the_same_queries_however_many(
    client_as: Callable[[str], Client], world: World
) -> None:
    client = client_as("therapist")
    enrolments = [make_patient(world, n) for n in range(40)]
    rebuild_all()
    client.get(URL)  # the session is warm afterwards

    def queries_after_writes(count: int) -> int:
        for enrolment in enrolments[:count]:
            _patient_writes(world, enrolment)
        assert Attention.objects.filter(stale=True).count() == count
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        assert not Attention.objects.filter(stale=True).exists()
        return len(captured.captured_queries)

    assert queries_after_writes(2) == queries_after_writes(40)
