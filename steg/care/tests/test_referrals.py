"""Referrals: the referrer's form and sent list, the unit's inbox, assigning and closing."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from steg.accounts.models import Membership, Unit, User
from steg.audit.models import AuditEvent
from steg.care import views_referrals
from steg.care.models import Patient, Referral
from steg.testing.personas import World, make_staff

NEW_PATIENT = "19900101-2385"  # valid: date, serial and check digit
NEW_PATIENT_NORMALISED = "199001012385"

PERSONAS = ("other_therapist", "referrer", "author")

NEW_URL = reverse("care:referral_new")
SENT_URL = reverse("care:referrals_sent")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def as_en(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    """A persona reading Steg in English (messages are tested in their source text)."""

    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def referral_form(world: World, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "referring_unit": world.referring_unit.pk,
        "receiving_unit": world.unit.pk,
        "personnummer": NEW_PATIENT,
        "first_name": "Nils",
        "last_name": "Nyman",
        "phone": "070-123 45 67",
        "email": "nils@example.com",
        "tobacco_type": "cigarettes",
        "tobacco_amount": "20 cigaretter",
        "reason": "Vill sluta inför en operation.",
        "contact_consent": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def make_referral(
    world: World,
    n: int,
    *,
    status: str = Referral.Status.NEW,
    assigned_to: User | None = None,
    unit: Unit | None = None,
    created_at: datetime.datetime | None = None,
) -> Referral:
    """A referral of a new patient (test scaffolding: the application uses send_referral)."""
    patient = Patient.objects.create(
        personnummer=f"19700101{n:04d}", first_name="Remiss", last_name=f"Patient {n:03d}"
    )
    return Referral.objects.create(
        patient=patient,
        referring_unit=world.referring_unit,
        receiving_unit=unit or world.unit,
        referrer=world.referrer,
        status=status,
        assigned_to=assigned_to,
        tobacco_type="snus",
        tobacco_amount="1 dosa",
        reason="Vill sluta",
        contact_consent=True,
        created_at=created_at or timezone.now() - datetime.timedelta(minutes=n),
        closed_at=timezone.now() if status == Referral.Status.CLOSED else None,
        close_reason="no_contact" if status == Referral.Status.CLOSED else "",
    )


@pytest.fixture
def earlier(world: World) -> Referral:
    """The world's own referral: the patient's, closed when they were enrolled."""
    return Referral.objects.get(patient=world.patient)


def inbox_url(unit: Unit) -> str:
    return reverse("care:referral_inbox", args=[unit.pk])


def detail_url(referral: Referral) -> str:
    return reverse("care:referral_detail", args=[referral.pk])


def listed_ids(response: Any) -> list[int]:
    return [r.pk for r in response.context["page"].object_list]


# --------------------------------------------------------------------------- sending


def test_a_referrer_sends_a_referral_and_the_new_patient_gets_a_record(
    world: World, as_en: Callable[[str], Client]
) -> None:
    client = as_en("referrer")
    response = client.post(NEW_URL, referral_form(world))

    assert response.status_code == 302
    assert response["Location"] == SENT_URL
    patient = Patient.objects.get(personnummer=NEW_PATIENT_NORMALISED)
    assert (patient.first_name, patient.last_name) == ("Nils", "Nyman")
    assert patient.user is None
    referral = Referral.objects.get(patient=patient)
    assert referral.status == Referral.Status.NEW
    assert referral.receiving_unit == world.unit
    assert referral.referring_unit == world.referring_unit
    assert referral.referrer == world.referrer
    assert referral.tobacco_type == "cigarettes"
    assert referral.contact_consent is True
    events = AuditEvent.objects.filter(patient=patient).order_by("pk")
    assert [e.action for e in events] == ["care.patient.created", "care.referral.created"]
    assert {e.actor_role for e in events} == {Membership.Role.REFERRER}
    assert {e.unit_id for e in events} == {world.referring_unit.pk}

    sent = client.get(SENT_URL)
    assert "The referral for Nils Nyman has been sent to Tobaksavvänjning Testby." in (
        sent.content.decode()
    )
    assert listed_ids(sent)[0] == referral.pk


def test_an_existing_patient_is_reused_and_their_details_are_not_overwritten(
    world: World, client_as: Callable[[str], Client]
) -> None:
    before = Patient.objects.count()
    response = client_as("referrer").post(
        NEW_URL,
        referral_form(
            world,
            personnummer="19121212-1212",  # world.patient, written with a hyphen
            first_name="pia  maria",  # one of her first names, in other letters
            last_name="PATIENT",
            email="new-address@example.com",
            phone="070-999 99 99",
        ),
    )

    assert response.status_code == 302
    assert Patient.objects.count() == before
    world.patient.refresh_from_db()
    assert (world.patient.first_name, world.patient.last_name) == ("Pia", "Patient")
    assert world.patient.email == "patient@test.example"
    # A detail the record lacked is filled in; the referral keeps what the referrer wrote.
    assert world.patient.phone == "070-999 99 99"
    referral = Referral.objects.get(patient=world.patient, status=Referral.Status.NEW)
    assert referral.email == "new-address@example.com"
    assert not AuditEvent.objects.filter(action="care.patient.created").exists()


def test_a_name_that_does_not_fit_the_identity_number_is_refused_without_revealing_the_record(
    world: World, as_en: Callable[[str], Client]
) -> None:
    referrals_before = Referral.objects.count()
    response = as_en("referrer").post(
        NEW_URL,
        referral_form(
            world,
            personnummer="19121212-1212",  # world.patient's number, someone else's name
            first_name="Wrong",
            last_name="Name",
            phone="070-999 99 99",
        ),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "The name does not match the personal identity number" in html
    assert "Pia" not in html  # the record's first name is not revealed
    assert Referral.objects.count() == referrals_before
    world.patient.refresh_from_db()
    assert world.patient.phone == ""


def test_an_open_referral_for_the_same_patient_at_the_unit_is_shown_instead_of_a_new_one(
    world: World, as_en: Callable[[str], Client]
) -> None:
    client = as_en("referrer")
    assert client.post(NEW_URL, referral_form(world)).status_code == 302
    first = Referral.objects.get(status=Referral.Status.NEW)

    again = client.post(NEW_URL, referral_form(world, reason="Another reason"))

    assert again.status_code == 200
    text = again.content.decode()
    sent_on = timezone.localtime(first.created_at)
    assert "An open referral for this patient at this unit already exists, sent on" in text
    assert f"{sent_on.day} " in text
    assert Referral.objects.filter(status=Referral.Status.NEW).count() == 1
    assert Referral.objects.get(status=Referral.Status.NEW).reason == (
        "Vill sluta inför en operation."
    )
    assert AuditEvent.objects.filter(
        action="care.referral.duplicate_shown", object_id=str(first.pk)
    ).exists()


def test_a_closed_referral_does_not_stop_a_new_one(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("referrer")
    client.post(NEW_URL, referral_form(world))
    Referral.objects.update(status=Referral.Status.CLOSED, close_reason="no_contact")

    assert client.post(NEW_URL, referral_form(world)).status_code == 302
    assert Referral.objects.filter(patient__personnummer=NEW_PATIENT_NORMALISED).count() == 2


def _bad_input_cases(world: World) -> dict[str, tuple[dict[str, Any], str]]:
    not_accepting = world.referring_unit  # in the region, but takes no referrals
    return {
        "checksum": (referral_form(world, personnummer="19900101-2386"), "personnummer"),
        "format": (referral_form(world, personnummer="1990-01-01"), "personnummer"),
        "future birth date": (referral_form(world, personnummer="20990101-2385"), "personnummer"),
        "unknown unit": (referral_form(world, receiving_unit=999_999), "receiving_unit"),
        "not a number": (referral_form(world, receiving_unit="1 OR 1=1"), "receiving_unit"),
        "other region": (
            referral_form(world, receiving_unit=world.other_unit.pk),
            "receiving_unit",
        ),
        "not accepting": (referral_form(world, receiving_unit=not_accepting.pk), "receiving_unit"),
        "no consent": (referral_form(world, contact_consent=None), "contact_consent"),
        "unknown tobacco": (referral_form(world, tobacco_type="pipe"), "tobacco_type"),
        "no contact": (referral_form(world, phone="", email=""), "phone"),
        "bad phone": (referral_form(world, phone="call me"), "phone"),
        "bad e-mail": (referral_form(world, email="nils at example"), "email"),
        "no reason": (referral_form(world, reason="  "), "reason"),
        "NUL byte": (referral_form(world, first_name="Ni\x00ls"), "first_name"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "checksum",
        "format",
        "future birth date",
        "unknown unit",
        "not a number",
        "other region",
        "not accepting",
        "no consent",
        "unknown tobacco",
        "no contact",
        "bad phone",
        "bad e-mail",
        "no reason",
        "NUL byte",
    ],
)
def test_bad_input_is_refused_with_a_form_error_and_nothing_is_created(
    case: str, world: World, as_en: Callable[[str], Client]
) -> None:
    data, field = _bad_input_cases(world)[case]
    patients, events = Patient.objects.count(), AuditEvent.objects.count()

    response = as_en("referrer").post(NEW_URL, data)

    assert response.status_code == 422
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert "There is a problem" in response.content.decode()
    assert Patient.objects.count() == patients
    assert not Referral.objects.filter(status=Referral.Status.NEW).exists()
    assert AuditEvent.objects.count() == events


def test_the_messages_for_units_and_consent_say_what_to_do(
    world: World, as_en: Callable[[str], Client]
) -> None:
    response = as_en("referrer").post(
        NEW_URL, referral_form(world, receiving_unit=world.other_unit.pk, contact_consent=None)
    )
    text = response.content.decode()
    assert "You cannot send referrals to this unit. Choose one of the units in the list." in text
    assert "The patient must agree to be contacted by the unit" in text


def test_the_form_offers_only_units_the_referrer_may_send_to(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("referrer").get(NEW_URL)

    assert response.status_code == 200
    offered = list(response.context["form"].fields["receiving_unit"].queryset)
    assert offered == [world.unit]
    text = response.content.decode()
    assert world.other_unit.name not in text
    # The referrer has one referring unit: it is fixed, not a choice.
    assert 'name="referring_unit"' not in text
    assert world.referring_unit.name in text


def test_a_referrer_at_one_unit_always_sends_from_it(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = client_as("referrer").post(
        NEW_URL, referral_form(world, referring_unit=world.unit.pk)
    )

    assert response.status_code == 302
    assert Referral.objects.get(status=Referral.Status.NEW).referring_unit == world.referring_unit


def test_a_referrer_at_two_units_chooses_which_one_sends(
    world: World, client_as: Callable[[str], Client]
) -> None:
    second = Unit.objects.create(organisation=world.region, name="Vårdcentral Norr")
    Membership.objects.create(user=world.referrer, unit=second, role=Membership.Role.REFERRER)
    client = client_as("referrer")

    page = client.get(NEW_URL, {"from": second.pk})
    assert page.context["form"]["referring_unit"].value() == second.pk
    for odd in ("²", "x", str(world.unit.pk), "9" * 30):
        assert client.get(NEW_URL, {"from": odd}).status_code == 200
    for not_theirs in (world.unit.pk, world.other_unit.pk, "", "x"):
        refused = client.post(NEW_URL, referral_form(world, referring_unit=not_theirs))
        assert refused.status_code == 422
        assert "referring_unit" in refused.context["form"].errors
    response = client.post(NEW_URL, referral_form(world, referring_unit=second.pk))

    assert response.status_code == 302
    assert Referral.objects.get(status=Referral.Status.NEW).referring_unit == second


@pytest.mark.parametrize("persona", ["patient", "therapist", "admin", "author", "region_admin"])
def test_staff_without_the_referrer_role_get_404_on_the_form_and_the_sent_list(
    persona: str, world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as(persona)
    assert client.get(NEW_URL).status_code == 404
    assert client.post(NEW_URL, referral_form(world)).status_code == 404
    assert client.get(SENT_URL).status_code == 404
    assert not Referral.objects.filter(status=Referral.Status.NEW).exists()


def test_the_referrer_sees_only_their_own_sent_referrals_and_the_read_is_audited(
    world: World, client_as: Callable[[str], Client], earlier: Referral
) -> None:
    mine = make_referral(world, 1)
    colleague = make_staff(
        "colleague@test.example", "Kim Kollega", world.referring_unit, Membership.Role.REFERRER
    )
    theirs = make_referral(world, 2)
    Referral.objects.filter(pk=theirs.pk).update(referrer=colleague)

    response = client_as("referrer").get(SENT_URL)

    assert response.status_code == 200
    assert listed_ids(response) == [earlier.pk, mine.pk]
    text = response.content.decode()
    assert "Patient 001" in text
    assert "Patient 002" not in text
    event = AuditEvent.objects.get(action="care.referral.listed_sent")
    assert event.actor == world.referrer
    assert event.detail == {"referrals": [earlier.pk, mine.pk], "page": 1}


def test_the_sent_list_is_paginated(world: World, client_as: Callable[[str], Client]) -> None:
    for n in range(26):  # and the world's own
        make_referral(world, n)
    client = client_as("referrer")
    assert len(listed_ids(client.get(SENT_URL))) == 25
    assert len(listed_ids(client.get(SENT_URL, {"page": 2}))) == 2
    assert client.get(SENT_URL, {"page": "x' OR 1"}).status_code == 200


# --------------------------------------------------------------------------- the inbox


def test_the_inbox_shows_open_referrals_newest_first(
    world: World, client_as: Callable[[str], Client]
) -> None:
    new = make_referral(world, 1)
    in_progress = make_referral(
        world, 2, status=Referral.Status.IN_PROGRESS, assigned_to=world.therapist
    )
    assessed = make_referral(world, 3, status=Referral.Status.ASSESSED)
    make_referral(world, 4, status=Referral.Status.CLOSED)
    make_referral(world, 5, unit=world.other_unit)

    response = client_as("therapist").get(inbox_url(world.unit))

    assert response.status_code == 200
    assert listed_ids(response) == [new.pk, in_progress.pk, assessed.pk]


def test_the_inbox_filters_by_status_and_by_assignee(
    world: World, client_as: Callable[[str], Client], earlier: Referral
) -> None:
    new = make_referral(world, 1)
    mine = make_referral(world, 2, status=Referral.Status.IN_PROGRESS, assigned_to=world.therapist)
    admins = make_referral(
        world, 3, status=Referral.Status.IN_PROGRESS, assigned_to=world.unit_admin
    )
    closed = make_referral(world, 4, status=Referral.Status.CLOSED, assigned_to=world.therapist)
    client = client_as("therapist")
    url = inbox_url(world.unit)

    assert listed_ids(client.get(url, {"status": "new"})) == [new.pk]
    assert listed_ids(client.get(url, {"status": "closed"})) == [earlier.pk, closed.pk]
    assert listed_ids(client.get(url, {"status": "all"})) == [
        earlier.pk,
        new.pk,
        mine.pk,
        admins.pk,
        closed.pk,
    ]
    assert listed_ids(client.get(url, {"assignee": "mine"})) == [mine.pk]
    assert listed_ids(client.get(url, {"assignee": "mine", "status": "all"})) == [
        mine.pk,
        closed.pk,
    ]
    assert listed_ids(client.get(url, {"assignee": "unassigned"})) == [new.pk]


def test_unknown_filter_values_fall_back_to_the_open_referrals_of_everyone(
    world: World, client_as: Callable[[str], Client]
) -> None:
    new = make_referral(world, 1)
    make_referral(world, 2, status=Referral.Status.CLOSED)

    response = client_as("therapist").get(
        inbox_url(world.unit), {"status": "<script>", "assignee": ["x", "y"], "page": "-1"}
    )

    assert response.status_code == 200
    assert listed_ids(response) == [new.pk]


def test_the_inbox_counts_the_referrals_of_each_status(
    world: World, as_en: Callable[[str], Client]
) -> None:
    for n in range(3):
        make_referral(world, n)
    make_referral(world, 10, status=Referral.Status.IN_PROGRESS, assigned_to=world.therapist)
    make_referral(world, 11, status=Referral.Status.CLOSED)
    make_referral(world, 12, unit=world.other_unit)

    response = as_en("therapist").get(inbox_url(world.unit))

    counts = {c["status"]: c["count"] for c in response.context["counts"]}
    assert counts == {"new": 3, "in_progress": 1, "assessed": 0, "closed": 2}  # and the world's
    text = response.content.decode()
    assert "New: 3" in text
    assert "In progress: 1" in text
    mine = as_en("therapist").get(inbox_url(world.unit), {"assignee": "mine"})
    assert {c["status"]: c["count"] for c in mine.context["counts"]}["new"] == 0


def test_the_inbox_counts_closed_referrals_up_to_a_limit(
    world: World, as_en: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views_referrals, "CLOSED_COUNT_LIMIT", 2)
    make_referral(world, 1)
    for n in range(2, 5):
        make_referral(world, n, status=Referral.Status.CLOSED)

    response = as_en("therapist").get(inbox_url(world.unit))

    counts = {c["status"]: (c["count"], c["more"]) for c in response.context["counts"]}
    assert counts["closed"] == (2, True)
    assert counts["new"] == (1, False)
    text = response.content.decode()
    assert "Closed: 2+" in text
    assert "New: 1<" in text
    # The closed ones are still listed in full, page by page, when asked for.
    closed = as_en("therapist").get(inbox_url(world.unit), {"status": "closed"})
    assert len(listed_ids(closed)) == 3 + 1  # and the world's


def test_the_inbox_is_paginated_by_25_and_keeps_the_filter_on_the_next_page(
    world: World, client_as: Callable[[str], Client]
) -> None:
    for n in range(30):
        make_referral(world, n)
    client = client_as("therapist")

    first = client.get(inbox_url(world.unit), {"status": "new"})
    second = client.get(inbox_url(world.unit), {"status": "new", "page": "2"})

    assert len(listed_ids(first)) == 25
    assert len(listed_ids(second)) == 5
    assert set(listed_ids(first)).isdisjoint(listed_ids(second))
    assert "?status=new&amp;assignee=all&amp;page=2" in first.content.decode()


def test_each_row_of_the_inbox_shows_the_referral_in_the_readers_language(
    world: World, client_as: Callable[[str], Client], as_en: Callable[[str], Client]
) -> None:
    # Received at 00:30 in Stockholm, still the day before in UTC: listed on the local day.
    taken = make_referral(
        world,
        1,
        status=Referral.Status.IN_PROGRESS,
        assigned_to=world.therapist,
        created_at=datetime.datetime(2026, 6, 1, 22, 30, tzinfo=datetime.UTC),
    )
    waiting = make_referral(
        world, 2, created_at=datetime.datetime(2026, 5, 1, 8, tzinfo=datetime.UTC)
    )
    Patient.objects.filter(pk=waiting.patient_id).update(first_name="<b>Bo</b>")

    english = as_en("therapist").get(inbox_url(world.unit)).content.decode()
    swedish = client_as("therapist").get(inbox_url(world.unit)).content.decode()

    for text in (english, swedish):
        assert (
            f'<td>2026-06-02</td>\n              <td><a href="{detail_url(taken)}">'
            "Patient 001, Remiss</a><br>19700101-0001</td>\n              <td>Snus</td>\n"
            "              <td>Vårdcentral Testby</td>\n              <td>Tea Terapeut</td>"
        ) in text
        assert (
            f'<td>2026-05-01</td>\n              <td><a href="{detail_url(waiting)}">'
            "Patient 002, &lt;b&gt;Bo&lt;/b&gt;</a><br>19700101-0002</td>"
        ) in text
    assert "<td>In progress</td>" in english
    assert "<td>Nobody yet</td>\n              <td>New</td>" in english
    assert "<td>Påbörjad</td>" in swedish
    assert "<td>Ingen än</td>\n              <td>Ny</td>" in swedish
    assert english.count("<h1>Referrals to Tobaksavvänjning Testby</h1>") == 1
    assert swedish.count("Remisser till Tobaksavvänjning Testby") == 3  # title, path, heading


def test_the_filter_shows_the_choice_in_the_readers_language_however_often_it_is_shown(
    world: World, client_as: Callable[[str], Client], as_en: Callable[[str], Client]
) -> None:
    english, swedish = as_en("therapist"), client_as("therapist")
    url = inbox_url(world.unit)

    for _ in range(2):  # the selects' HTML is kept after the first time: still the right one
        for client, closed, nobody in (
            (english, "Closed", "Nobody yet"),
            (swedish, "Avslutad", "Ingen än"),
        ):
            chosen = client.get(url, {"status": "closed", "assignee": "unassigned"})
            text = chosen.content.decode()
            assert f'<option value="closed" selected>{closed}</option>' in text
            assert f'<option value="unassigned" selected>{nobody}</option>' in text
            default = client.get(url).content.decode()
            assert " selected>" not in default
            assert f'<option value="closed">{closed}</option>' in default
    unknown = english.get(url, {"status": "<b>"}).content.decode()
    assert "&lt;b&gt; is not one of the available choices" in unknown
    assert 'aria-invalid="true" aria-describedby="id_status_error" id="id_status"' in unknown


def test_reading_the_inbox_is_one_audit_event_listing_the_referrals(
    world: World, client_as: Callable[[str], Client]
) -> None:
    referrals = [make_referral(world, n) for n in range(3)]

    client_as("admin").get(inbox_url(world.unit))

    event = AuditEvent.objects.get(action="care.referral.listed")
    assert event.actor == world.unit_admin
    assert event.actor_role == Membership.Role.UNIT_ADMIN
    assert event.unit == world.unit
    assert event.detail["referrals"] == [r.pk for r in referrals]


@pytest.mark.parametrize("persona", ["other_therapist", "author", "referrer", "patient"])
def test_people_without_a_care_role_at_the_unit_get_404_on_its_inbox_and_it_is_audited(
    persona: str, world: World, client_as: Callable[[str], Client]
) -> None:
    make_referral(world, 1)

    response = client_as(persona).get(inbox_url(world.unit))

    assert response.status_code == 404
    assert b"Patient 001" not in response.content
    event = AuditEvent.objects.get(action__startswith="care.", action__endswith="access_denied")
    assert event.actor == world.persona(persona)
    assert not AuditEvent.objects.filter(action="care.referral.listed").exists()


# The user, the memberships, the counts per status, the page's rows (with patient, referring
# unit and assignee) and the audit write (BEGIN, the chain's last hash, INSERT, COMMIT; on
# PostgreSQL with the chain lock too). The open referrals listed by default have just been
# counted, so their page needs no COUNT(*); any other status adds that one.
MAX_INBOX_QUERIES = {"sqlite": 9, "postgresql": 10}


def _inbox_queries(
    client: Client,
    url: str,
    query: dict[str, str],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> int:
    limit = MAX_INBOX_QUERIES.get(connection.vendor, 10) + (1 if query else 0)
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(url, query)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("query", [{}, {"status": "all"}])
def test_the_inbox_uses_the_same_number_of_queries_for_few_or_many_referrals(
    query: dict[str, str],
    world: World,
    client_as: Callable[[str], Client],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = client_as("therapist")
    url = inbox_url(world.unit)
    client.get(url)  # a first visit settles the session
    for n in range(2):
        make_referral(world, n, assigned_to=world.therapist)
    few = _inbox_queries(client, url, query, django_assert_max_num_queries)
    for n in range(2, 40):
        make_referral(
            world,
            n,
            status=Referral.Status.CLOSED if n % 5 == 0 else Referral.Status.IN_PROGRESS,
            assigned_to=world.unit_admin if n % 2 else None,
        )
    many = _inbox_queries(client, url, query, django_assert_max_num_queries)
    assert many == few


# --------------------------------------------------------------------------- one referral


def test_the_referral_page_shows_the_referral_and_the_read_is_audited(
    world: World, as_en: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)

    response = as_en("therapist").get(detail_url(referral))

    assert response.status_code == 200
    text = response.content.decode()
    for shown in ("Remiss Patient 001", "19700101-0001", "Vill sluta", "Rolf Remiss"):
        assert shown in text
    assert world.referring_unit.name in text
    assert reverse("care:assessment_new", args=[referral.pk]) in text
    meeting = reverse("care:meeting_new", args=[referral.patient_id])
    assert f"{meeting}?referral={referral.pk}" in text
    # "Enrolled" is what enrolment sets; it is not offered for closing by hand.
    assert 'value="enrolled"' not in text
    event = AuditEvent.objects.get(action="care.referral.viewed")
    assert (event.actor, event.patient) == (world.therapist, referral.patient)


def test_a_therapist_of_another_unit_gets_404_on_the_referral_and_it_is_audited(
    world: World, client_as: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)
    client = client_as("other_therapist")

    assert client.get(detail_url(referral)).status_code == 404
    assert client.get(reverse("care:referral_detail", args=[999_999])).status_code == 404
    for name, data in (("care:referral_assign", {"therapist": ""}), ("care:referral_close", {})):
        assert client.post(reverse(name, args=[referral.pk]), data).status_code == 404
    denied = AuditEvent.objects.filter(action="care.referral.access_denied")
    assert denied.count() == 4
    referral.refresh_from_db()
    assert referral.status == Referral.Status.NEW


def test_a_referral_is_assigned_to_a_therapist_of_the_unit(
    world: World, as_en: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)
    client = as_en("therapist")

    response = client.post(
        reverse("care:referral_assign", args=[referral.pk]), {"therapist": world.unit_admin.pk}
    )

    assert response.status_code == 302
    assert response["Location"] == detail_url(referral)
    referral.refresh_from_db()
    assert referral.assigned_to == world.unit_admin
    assert referral.status == Referral.Status.IN_PROGRESS
    event = AuditEvent.objects.get(action="care.referral.assigned")
    assert event.detail == {"from": None, "to": world.unit_admin.pk}
    assert (
        "The referral is assigned to Adam Admin."
        in client.get(detail_url(referral)).content.decode()
    )


def test_a_therapist_takes_a_referral_with_assign_to_me(
    world: World, client_as: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)
    client = client_as("therapist")
    page = client.get(detail_url(referral)).content.decode()
    assert f'name="therapist" value="{world.therapist.pk}"' in page

    client.post(
        reverse("care:referral_assign", args=[referral.pk]), {"therapist": world.therapist.pk}
    )

    referral.refresh_from_db()
    assert referral.assigned_to == world.therapist


@pytest.mark.parametrize("who", ["other_therapist", "referrer", "author", "unknown", "text"])
def test_a_referral_is_assigned_only_to_a_therapist_of_its_unit(
    who: str, world: World, as_en: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)
    person = world.persona(who) if who in PERSONAS else None
    value = person.pk if person else {"unknown": "999999", "text": "me"}[who]

    response = as_en("therapist").post(
        reverse("care:referral_assign", args=[referral.pk]), {"therapist": value}
    )

    assert response.status_code == 422
    assert "therapist" in response.context["assign_form"].errors
    assert "Choose a therapist who works at this unit." in response.content.decode()
    referral.refresh_from_db()
    assert referral.assigned_to is None
    assert referral.status == Referral.Status.NEW
    assert not AuditEvent.objects.filter(action="care.referral.assigned").exists()


def test_a_referral_is_closed_with_a_reason_and_a_note(
    world: World, client_as: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)
    client = client_as("admin")

    response = client.post(
        reverse("care:referral_close", args=[referral.pk]),
        {"reason": "no_contact", "note": "Tre försök per telefon."},
    )

    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.status == Referral.Status.CLOSED
    assert referral.close_reason == "no_contact"
    assert referral.close_note == "Tre försök per telefon."
    assert referral.closed_at is not None
    assert AuditEvent.objects.get(action="care.referral.closed").detail == {"reason": "no_contact"}
    # Closing again (a double click) changes nothing and is no error.
    again = client.post(reverse("care:referral_close", args=[referral.pk]), {"reason": "other"})
    assert again.status_code == 302
    referral.refresh_from_db()
    assert referral.close_reason == "no_contact"
    assert AuditEvent.objects.filter(action="care.referral.closed").count() == 1
    # A closed referral can no longer be assigned.
    client.post(
        reverse("care:referral_assign", args=[referral.pk]), {"therapist": world.therapist.pk}
    )
    referral.refresh_from_db()
    assert referral.assigned_to is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "enrolled"}, "reason"),
        ({"reason": "bogus"}, "reason"),
        ({}, "reason"),
        ({"reason": "other", "note": "   "}, "note"),
    ],
)
def test_closing_needs_a_reason_that_may_be_chosen(
    data: dict[str, str], field: str, world: World, client_as: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)

    response = client_as("therapist").post(reverse("care:referral_close", args=[referral.pk]), data)

    assert response.status_code == 422
    assert field in response.context["close_form"].errors
    referral.refresh_from_db()
    assert referral.status == Referral.Status.NEW


def test_assign_and_close_answer_405_to_get(
    world: World, client_as: Callable[[str], Client]
) -> None:
    referral = make_referral(world, 1)
    client = client_as("therapist")
    assert client.get(reverse("care:referral_assign", args=[referral.pk])).status_code == 405
    assert client.get(reverse("care:referral_close", args=[referral.pk])).status_code == 405


def test_the_staff_start_page_links_to_the_referral_pages(
    world: World, client_as: Callable[[str], Client]
) -> None:
    therapist = client_as("therapist").get(reverse("accounts:staff_start")).content.decode()
    assert inbox_url(world.unit) in therapist
    assert NEW_URL not in therapist
    referrer = client_as("referrer").get(reverse("accounts:staff_start")).content.decode()
    assert f"{NEW_URL}?from={world.referring_unit.pk}" in referrer
    assert SENT_URL in referrer
