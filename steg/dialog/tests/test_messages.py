"""Messages between the patient and the care team: writing and reading both ways, unread counts
and read receipts, safe repeats, refusals, markup shown as text, automatic messages, closed
treatments, notifications without health information, and a fixed number of queries."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django import DjangoAssertNumQueries
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.models import Membership, User
from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.dashboard.models import Attention
from steg.dialog import messages as dialog
from steg.dialog.models import Message, MessageDraft, Notification
from steg.dialog.templatetags.dialog_tags import message_text
from steg.testing.personas import World, make_staff, start_treatment

from .test_notify import HEALTH_TERMS

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_and_addressed(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "https://steg.example"


@pytest.fixture
def english(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    """The personas, browsing in English."""

    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def patient_url(enrolment: Enrolment, name: str = "patient_messages") -> str:
    return reverse(f"dialog:{name}", args=[enrolment.pk])


def staff_url(enrolment: Enrolment, name: str = "staff_messages") -> str:
    return reverse(f"dialog:{name}", args=[enrolment.pk])


def patient_writes(client: Client, enrolment: Enrolment, body: str, token: str = "") -> Response:
    return client.post(
        patient_url(enrolment, "send"), {"body": body, "token": token or f"t-{body[:20]}"}
    )


def staff_writes(
    client: Client, enrolment: Enrolment, body: str, token: str = "", **extra: str
) -> Response:
    return client.post(
        staff_url(enrolment, "staff_send"),
        {"body": body, "token": token or f"s-{body[:20]}", "action": "send", **extra},
    )


def make_message(enrolment: Enrolment, sender: User | None, role: str, body: str) -> Message:
    """A message stored directly (test scaffolding: no checks, no notifications)."""
    return Message.objects.create(enrolment=enrolment, sender=sender, sender_role=role, body=body)


# Writing and reading ------------------------------------------------------------------------------


def test_the_patient_writes_and_the_therapist_reads_and_answers(
    world: World, english: Callable[[str], Client]
) -> None:
    patient, therapist = english("patient"), english("therapist")
    response = patient_writes(patient, world.enrolment, "Hej!\nHur länge brukar suget vara?")
    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{patient_url(world.enrolment)}#message-{message.pk}"
    assert message.sender == world.patient_user
    assert message.sender_role == Message.SenderRole.PATIENT
    assert message.body == "Hej!\nHur länge brukar suget vara?"
    assert dialog.unread_counts_for_staff([world.enrolment.pk]) == {world.enrolment.pk: 1}

    page = patient.get(patient_url(world.enrolment))
    assertContains(page, "Hej!<br>\nHur länge brukar suget vara?")
    assertContains(page, "Not read yet")

    page = therapist.get(staff_url(world.enrolment))
    assertContains(page, "Hur länge brukar suget vara?")
    assertContains(page, "Pia Patient (the patient)")
    message.refresh_from_db()
    assert message.read_by == world.therapist
    assert message.read_at is not None
    assert dialog.unread_counts_for_staff([world.enrolment.pk]) == {world.enrolment.pk: 0}

    # The patient sees who read it, and when.
    page = patient.get(patient_url(world.enrolment))
    assertContains(page, "Read by Tea Terapeut from your care team")

    staff_writes(therapist, world.enrolment, "Oftast bara några minuter.")
    assert dialog.unread_count_for_patient(world.patient_user) == 1
    page = therapist.get(staff_url(world.enrolment))
    assertContains(page, "Not yet read by the patient")

    page = patient.get(patient_url(world.enrolment))
    assertContains(page, "Oftast bara några minuter.")
    assertContains(page, "Tea Terapeut")
    assert dialog.unread_count_for_patient(world.patient_user) == 0
    answer = Message.objects.get(sender_role=Message.SenderRole.STAFF)
    assert answer.read_by == world.patient_user

    page = therapist.get(staff_url(world.enrolment))
    assertContains(page, "Read by the patient")


def test_the_header_shows_the_patients_unread_messages_as_text(
    world: World, english: Callable[[str], Client]
) -> None:
    make_message(world.enrolment, world.therapist, "staff", "Hej Pia!")
    make_message(world.enrolment, None, "system", "Påminnelse.")
    start = english("patient").get(reverse("care:patient_start"))
    assertContains(start, f'href="{reverse("dialog:patient_inbox")}"')
    assertContains(start, "2 unread")
    # Staff have no such link (their unread messages are on the dashboard).
    assertNotContains(english("therapist").get(reverse("home"), follow=True), "unread")


def test_the_header_counts_unread_messages_of_the_patients_conversations_only(
    world: World,
) -> None:
    """What the header's one statement counts: messages from staff and Steg that the patient
    has not read, in every treatment but invited ones; nothing for someone not a patient."""
    assert dialog.patient_inbox(world.patient_user) == dialog.Inbox(treatments=1, unread=0)
    make_message(world.enrolment, world.therapist, "staff", "Hej Pia!")
    make_message(world.enrolment, None, "system", "Påminnelse.")
    make_message(world.enrolment, world.patient_user, "patient", "Mitt eget.")
    read = make_message(world.enrolment, world.therapist, "staff", "Läst.")
    read.read_at = timezone.now()
    read.save(update_fields=["read_at"])
    invited = start_treatment(
        world.enrolment.patient, world.unit, world.enrolment.programme_version
    )
    invited.status = Enrolment.Status.INVITED
    invited.save(update_fields=["status"])
    make_message(invited, world.therapist, "staff", "Inte än.")
    assert dialog.patient_inbox(world.patient_user) == dialog.Inbox(treatments=1, unread=2)
    invited.status = Enrolment.Status.ACTIVE
    invited.save(update_fields=["status"])
    assert dialog.patient_inbox(world.patient_user) == dialog.Inbox(treatments=2, unread=3)
    assert dialog.patient_inbox(world.therapist) == dialog.Inbox(treatments=0, unread=0)


def test_the_header_link_costs_staff_no_query(
    world: World, english: Callable[[str], Client]
) -> None:
    therapist = english("therapist")
    url = reverse("care:unit_patients", args=[world.unit.pk])
    therapist.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert therapist.get(url).status_code == 200
    assert not [q for q in queries.captured_queries if "dialog_message" in q["sql"]]


def test_the_inbox_goes_straight_to_the_only_conversation(
    world: World, english: Callable[[str], Client]
) -> None:
    response = english("patient").get(reverse("dialog:patient_inbox"))
    assert response.status_code == 302
    assert response["Location"] == patient_url(world.enrolment)


def test_the_inbox_lists_each_treatments_conversation_with_its_unread_count(
    world: World, english: Callable[[str], Client]
) -> None:
    second = start_treatment(
        world.patient, world.unit, world.enrolment.programme_version, therapist=world.therapist
    )
    make_message(second, world.therapist, "staff", "Välkommen tillbaka!")
    response = english("patient").get(reverse("dialog:patient_inbox"))
    assert response.status_code == 200
    assertContains(response, patient_url(world.enrolment))
    assertContains(response, patient_url(second))
    assertContains(response, "1 unread message")


def test_a_colleague_who_only_looks_leaves_the_patients_messages_unread(
    world: World, english: Callable[[str], Client]
) -> None:
    make_message(world.enrolment, world.patient_user, "patient", "Hej!")
    page = english("admin").get(staff_url(world.enrolment))
    assertContains(page, "You are not the patient's therapist")
    assert dialog.unread_counts_for_staff([world.enrolment.pk]) == {world.enrolment.pk: 1}
    # Answering marks them read, whoever answers.
    staff_writes(english("admin"), world.enrolment, "Tea är ledig i dag, jag svarar.")
    patient_message = Message.objects.get(sender_role="patient")
    assert patient_message.read_by == world.unit_admin
    assert dialog.unread_counts_for_staff([world.enrolment.pk]) == {world.enrolment.pk: 0}


def test_every_message_shows_who_wrote_it(world: World, english: Callable[[str], Client]) -> None:
    colleague = make_staff("kim@test.example", "Kim Kollega", world.unit, Membership.Role.THERAPIST)
    make_message(world.enrolment, colleague, "staff", "Jag vikarierar för Tea.")
    page = english("patient").get(patient_url(world.enrolment))
    assertContains(page, "Kim Kollega")
    page = english("therapist").get(staff_url(world.enrolment))
    assertContains(page, "Kim Kollega")


def test_unread_counts_for_staff_take_one_query(
    world: World, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    make_message(world.enrolment, world.patient_user, "patient", "Ett")
    make_message(world.enrolment, world.patient_user, "patient", "Två")
    other = Enrolment.objects.exclude(pk=world.enrolment.pk).get()
    with django_assert_num_queries(1):
        counts = dialog.unread_counts_for_staff([world.enrolment.pk, other.pk])
    assert counts == {world.enrolment.pk: 2, other.pk: 0}


# Safe to repeat -----------------------------------------------------------------------------------


def test_sending_the_same_form_twice_stores_one_message(
    world: World, english: Callable[[str], Client]
) -> None:
    patient = english("patient")
    first = patient_writes(patient, world.enrolment, "Hej!", token="same-form")
    second = patient_writes(patient, world.enrolment, "Hej!", token="same-form")
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Message.objects.count() == 1
    assert AuditEvent.objects.filter(action="dialog.message.sent").count() == 1
    assert Notification.objects.filter(kind="patient_wrote").count() == 1

    therapist = english("therapist")
    staff_writes(therapist, world.enrolment, "Hej Pia!", token="staff-form")
    staff_writes(therapist, world.enrolment, "Hej Pia!", token="staff-form")
    assert Message.objects.filter(sender_role="staff").count() == 1


def test_a_send_that_loses_a_race_returns_the_message_stored_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def send() -> dialog.Sent:
        return dialog.send_message(
            enrolment=world.enrolment,
            sender=world.patient_user,
            role="patient",
            body="Hej!",
            client_token="raced",
            request=None,
        )

    first = send()
    # As if the other send had not yet committed when this one looked: the database's unique
    # constraint stops the second insert, and the first message is returned.
    original = dialog._existing
    looked: list[bool] = []

    def miss_once(enrolment: Enrolment, sender: User | None, token: str) -> Message | None:
        looked.append(True)
        return None if len(looked) == 1 else original(enrolment, sender, token)

    monkeypatch.setattr(dialog, "_existing", miss_once)
    second = send()
    assert first.created and not second.created
    assert second.message.pk == first.message.pk
    assert Message.objects.count() == 1


def test_an_automatic_message_is_stored_once_per_token(world: World) -> None:
    first = dialog.send_automatic_message(
        enrolment=world.enrolment, body="Dags för dagboken!", rule="diary", client_token="d:1"
    )
    again = dialog.send_automatic_message(
        enrolment=world.enrolment, body="Dags för dagboken!", rule="diary", client_token="d:1"
    )
    assert first.created and not again.created
    assert Message.objects.get().rule == "diary"
    assert Notification.objects.filter(kind="new_message").count() == 1


# Refused ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", "Write your message before you send it."),
        (" \n\t \r\n ", "Write your message before you send it."),
        ("x" * 5001, "Your message is 5001 characters long. The limit is 5000 characters"),
    ],
    ids=["empty", "whitespace", "too-long"],
)
def test_empty_and_over_long_messages_are_refused_and_nothing_is_stored(
    world: World, english: Callable[[str], Client], body: str, error: str
) -> None:
    response = patient_writes(english("patient"), world.enrolment, body, token="t")
    assert response.status_code == 422
    assertContains(response, error, status_code=422)
    assertContains(response, "There is a problem", status_code=422)
    response = staff_writes(english("therapist"), world.enrolment, body, token="s")
    assertContains(response, error, status_code=422)
    assert not Message.objects.exists()
    assert not Notification.objects.exists()


def test_a_message_of_exactly_the_limit_is_sent(
    world: World, english: Callable[[str], Client]
) -> None:
    assert patient_writes(english("patient"), world.enrolment, "x" * 5000).status_code == 302
    assert len(Message.objects.get().body) == 5000


def test_the_refusal_is_in_swedish_by_default(
    world: World, client_as: Callable[[str], Client]
) -> None:
    response = patient_writes(client_as("patient"), world.enrolment, "  ", token="t")
    assert response.status_code == 422
    assert 'lang="sv"' in response.content.decode()
    assert not Message.objects.exists()


def test_another_patients_conversation_answers_404_and_is_recorded(
    world: World, english: Callable[[str], Client]
) -> None:
    other = Enrolment.objects.exclude(pk=world.enrolment.pk).get()
    patient = english("patient")
    assert patient.get(patient_url(other)).status_code == 404
    assert patient_writes(patient, other, "Hej!").status_code == 404
    assert patient.post(patient_url(other, "save_draft"), {"body": "x"}).status_code == 404
    assert not Message.objects.exists()
    assert not MessageDraft.objects.exists()
    denied = AuditEvent.objects.filter(action="care.enrolment.access_denied", object_id=other.pk)
    assert denied.count() == 3


def test_another_units_therapist_gets_404_and_is_recorded(
    world: World, english: Callable[[str], Client]
) -> None:
    other = english("other_therapist")
    assert other.get(staff_url(world.enrolment)).status_code == 404
    assert staff_writes(other, world.enrolment, "Hej!").status_code == 404
    assert not Message.objects.exists()
    assert (
        AuditEvent.objects.filter(
            action="care.enrolment.access_denied",
            actor=world.other_therapist,
            object_id=world.enrolment.pk,
        ).count()
        == 2
    )


def test_the_patient_cannot_use_the_staff_side(
    world: World, english: Callable[[str], Client]
) -> None:
    patient = english("patient")
    assert patient.get(staff_url(world.enrolment)).status_code == 404
    assert staff_writes(patient, world.enrolment, "Hej!").status_code == 404
    assert not Message.objects.exists()


def test_the_actions_refuse_a_sender_who_is_not_part_of_the_conversation(world: World) -> None:
    with pytest.raises(dialog.MessageError):
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.other_therapist,
            role="staff",
            body="Hej!",
            client_token="x",
            request=None,
        )
    with pytest.raises(dialog.MessageError):
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.therapist,
            role="patient",
            body="Hej!",
            client_token="y",
            request=None,
        )
    assert not Message.objects.exists()


# Markup is text -----------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<b>fet</b>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.cookie)",
    "[klicka](javascript:alert(1))",
    'https://example.org/"onmouseover="alert(1)',
]


def test_script_and_markup_in_messages_are_shown_as_text(
    world: World, english: Callable[[str], Client]
) -> None:
    body = "\n".join(HOSTILE)
    patient_writes(english("patient"), world.enrolment, body)
    staff_writes(english("therapist"), world.enrolment, body)
    for page in (
        english("patient").get(patient_url(world.enrolment)),
        english("therapist").get(staff_url(world.enrolment)),
    ):
        html = page.content.decode()
        assert "<script>alert(1)" not in html
        assert "<b>fet</b>" not in html
        assert "<img src=x" not in html
        assert 'href="javascript:' not in html
        assert 'onmouseover="alert' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;fet&lt;/b&gt;" in html
        assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_web_addresses_become_safe_links_and_line_breaks_stay() -> None:
    html = message_text("Läs mer på https://www.1177.se/ eller www.example.org.\nHej då!")
    assert '<a href="https://www.1177.se/" rel="nofollow">https://www.1177.se/</a>' in html
    assert '<a href="http://www.example.org" rel="nofollow">www.example.org</a>' in html
    assert "target=" not in html
    assert "<br>\nHej då!" in html
    assert "<a" not in message_text("javascript:alert(1) data:text/html,<b>x</b>")


# Automatic messages -------------------------------------------------------------------------------


def test_an_automatic_message_is_marked_as_automatic_in_words(
    world: World, english: Callable[[str], Client]
) -> None:
    dialog.send_automatic_message(
        enrolment=world.enrolment, body="Glöm inte dagboken i dag.", rule="diary", client_token="a"
    )
    page = english("patient").get(patient_url(world.enrolment))
    assertContains(page, "Automatic message")
    assertContains(page, "Sent automatically by Steg")
    assertContains(page, "thread__message--automatic")
    page = english("therapist").get(staff_url(world.enrolment))
    assertContains(page, "Automatic message")
    event = AuditEvent.objects.get(action="dialog.message.sent")
    assert event.actor_role == "system"
    assert event.purpose == "automation"


def test_an_automatic_message_to_a_closed_treatment_is_refused(world: World) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.COMPLETED)
    world.enrolment.refresh_from_db()
    with pytest.raises(dialog.MessageError):
        dialog.send_automatic_message(
            enrolment=world.enrolment, body="Hej", rule="r", client_token="t"
        )
    assert not Message.objects.exists()


# Closed and paused treatments ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [Enrolment.Status.COMPLETED, Enrolment.Status.DISCONTINUED])
def test_a_closed_treatment_keeps_its_conversation_readable_but_closed_for_writing(
    world: World, english: Callable[[str], Client], status: str
) -> None:
    make_message(world.enrolment, world.therapist, "staff", "Lycka till framöver!")
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=status)
    patient = english("patient")
    page = patient.get(patient_url(world.enrolment))
    assertContains(page, "Lycka till framöver!")
    assertContains(page, "This treatment has ended, so you cannot write new messages here.")
    assertNotContains(page, 'action="' + patient_url(world.enrolment, "send"))
    response = patient_writes(patient, world.enrolment, "Hej igen!")
    assertContains(response, "This treatment has ended", status_code=409)
    response = staff_writes(english("therapist"), world.enrolment, "Hej!")
    assert response.status_code == 409
    assert (
        patient.post(patient_url(world.enrolment, "save_draft"), {"body": "x"}).status_code == 409
    )
    assert Message.objects.count() == 1


def test_a_paused_treatment_can_still_be_written_in(
    world: World, english: Callable[[str], Client]
) -> None:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(status=Enrolment.Status.PAUSED)
    assert (
        patient_writes(english("patient"), world.enrolment, "När fortsätter vi?").status_code == 302
    )
    assert staff_writes(english("therapist"), world.enrolment, "Nästa vecka.").status_code == 302
    assert Message.objects.count() == 2


# Drafts -------------------------------------------------------------------------------------------


def test_a_draft_is_kept_while_writing_and_comes_back_on_the_page(
    world: World, english: Callable[[str], Client]
) -> None:
    patient = english("patient")
    draft_url = patient_url(world.enrolment, "save_draft")
    page = patient.get(patient_url(world.enrolment))
    assertContains(page, f'hx-post="{draft_url}"')
    assertContains(page, 'hx-trigger="keyup changed delay:1s"')
    response = patient.post(
        draft_url, {"body": "Jag undrar om", "token": "f1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assertContains(patient.get(patient_url(world.enrolment)), "Jag undrar om</textarea>")
    patient.post(draft_url, {"body": "Jag undrar om <b>suget</b>", "token": "f1"})
    assert MessageDraft.objects.get().body == "Jag undrar om <b>suget</b>"
    # Sending removes the draft; an autosave from the sent form arriving late keeps nothing.
    patient_writes(patient, world.enrolment, "Jag undrar om suget", token="f1")
    assert not MessageDraft.objects.exists()
    patient.post(draft_url, {"body": "Jag undrar om suget", "token": "f1"})
    assert not MessageDraft.objects.exists()
    # An emptied box removes the draft.
    patient.post(draft_url, {"body": "Ny", "token": "f2"})
    patient.post(draft_url, {"body": "  ", "token": "f2"})
    assert not MessageDraft.objects.exists()


def test_staff_drafts_are_their_own(world: World, english: Callable[[str], Client]) -> None:
    english("therapist").post(staff_url(world.enrolment, "staff_save_draft"), {"body": "Hej Pia"})
    english("admin").post(staff_url(world.enrolment, "staff_save_draft"), {"body": "Hej från Adam"})
    assertContains(english("therapist").get(staff_url(world.enrolment)), "Hej Pia</textarea>")
    assertContains(english("admin").get(staff_url(world.enrolment)), "Hej från Adam</textarea>")
    assertNotContains(english("patient").get(patient_url(world.enrolment)), "Hej Pia")


# Audit --------------------------------------------------------------------------------------------


def test_each_view_of_a_conversation_is_one_recorded_read(
    world: World, english: Callable[[str], Client]
) -> None:
    for _ in range(3):
        make_message(world.enrolment, world.patient_user, "patient", "Hej")
    english("therapist").get(staff_url(world.enrolment))
    event = AuditEvent.objects.get(action="dialog.thread.viewed")
    assert event.actor == world.therapist
    assert event.actor_role == "therapist"
    assert event.patient == world.patient
    assert len(event.detail["messages"]) == 3
    assert event.detail["marked_read"] == 3
    sent = staff_writes(english("therapist"), world.enrolment, "Svar")
    assert sent.status_code == 302
    event = AuditEvent.objects.get(action="dialog.message.sent")
    assert event.detail == {"enrolment": world.enrolment.pk, "length": 4}
    assert "Svar" not in str(event.detail)


# Notifications ------------------------------------------------------------------------------------


def _bodies(kind: str) -> list[str]:
    return [f"{n.subject}\n{n.body}".lower() for n in Notification.objects.filter(kind=kind)]


def test_new_messages_notify_the_other_side_without_health_information(
    world: World, english: Callable[[str], Client]
) -> None:
    world.patient.phone = "+46701234567"
    world.patient.save(update_fields=["phone"])
    patient_writes(english("patient"), world.enrolment, "Jag har tagit en snus, tobaksbehov!")
    (to_therapist,) = Notification.objects.filter(kind="patient_wrote")
    assert to_therapist.address == "therapist@test.example"
    assert f"https://steg.example{staff_url(world.enrolment)}" in to_therapist.body
    staff_writes(english("therapist"), world.enrolment, "Ingen fara, rökfri i morgon igen!")
    to_patient = Notification.objects.filter(kind="new_message").order_by("channel")
    assert [n.channel for n in to_patient] == ["email", "sms"]
    inbox = reverse("dialog:patient_inbox")
    assert all(f"https://steg.example{inbox}" in n.body for n in to_patient)
    for kind in ("patient_wrote", "new_message"):
        for text in _bodies(kind):
            found = [term for term in HEALTH_TERMS if term in text]
            assert not found, f"{kind} mentions {found}: {text}"
            assert "pia" not in text and "patient@" not in text.replace("a patient", "")
            assert "testby" not in text  # no unit name


def test_the_patient_is_told_once_until_they_have_read(
    world: World, english: Callable[[str], Client]
) -> None:
    therapist = english("therapist")
    staff_writes(therapist, world.enrolment, "Ett")
    staff_writes(therapist, world.enrolment, "Två")
    assert Notification.objects.filter(kind="new_message").count() == 1
    english("patient").get(patient_url(world.enrolment))
    staff_writes(therapist, world.enrolment, "Tre")
    assert Notification.objects.filter(kind="new_message").count() == 2


def test_message_notifications_are_delivered_only_after_commit(
    world: World, django_capture_on_commit_callbacks: Callable
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.therapist,
            role="staff",
            body="Hej!",
            client_token="c",
            request=None,
        )
    assert Notification.objects.filter(kind="new_message").count() == 1
    assert not DBTaskResult.objects.exists()
    assert callbacks
    for callback in callbacks:
        callback()
    assert DBTaskResult.objects.filter(task_path="steg.dialog.tasks.deliver_notification").exists()


def test_a_send_that_fails_leaves_no_message_and_no_notification(world: World) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.therapist,
            role="staff",
            body="Hej!",
            client_token="c",
            request=None,
        )
        raise RuntimeError("the rest of the request failed")
    assert not Message.objects.exists()
    assert not Notification.objects.exists()


def test_the_dashboard_hears_of_each_change(
    world: World, django_capture_on_commit_callbacks: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The patient's message marks the dashboard's row stale in its own transaction (the
    patient does not wait for the recomputation); staff's changes recompute it after commit."""
    dialog.attention_changed(world.enrolment.pk)  # the row, up to date
    assert not Attention.objects.get(pk=world.enrolment.pk).stale
    changed: list[int] = []
    monkeypatch.setattr(dialog, "attention_changed", changed.append)
    with django_capture_on_commit_callbacks(execute=True):
        dialog.send_message(
            enrolment=world.enrolment,
            sender=world.patient_user,
            role="patient",
            body="Hej!",
            client_token="c",
            request=None,
        )
    assert changed == []
    assert Attention.objects.get(pk=world.enrolment.pk).stale
    with django_capture_on_commit_callbacks(execute=True):
        dialog.mark_thread_read(
            enrolment=world.enrolment, reader=world.therapist, as_staff=True, request=None
        )
    assert changed == [world.enrolment.pk]


# A fixed number of queries ------------------------------------------------------------------------


def _fill(enrolment: Enrolment, world: World, count: int) -> None:
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            enrolment=enrolment,
            sender=world.patient_user if i % 3 == 0 else world.therapist if i % 3 == 1 else None,
            sender_role=["patient", "staff", "system"][i % 3],
            body=f"Meddelande {i}",
            created_at=now - datetime.timedelta(minutes=count - i),
            read_at=now if i % 2 else None,
            read_by=world.therapist if i % 2 else None,
        )
        for i in range(count)
    )


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("side", ["patient", "therapist"])
def test_the_conversation_pages_run_a_fixed_number_of_queries(
    world: World, english: Callable[[str], Client], side: str
) -> None:
    client = english(side)
    url = patient_url(world.enrolment) if side == "patient" else staff_url(world.enrolment)
    _fill(world.enrolment, world, 5)
    client.get(url)  # the programme's outline and questionnaires are cached from here on
    # Both measured requests come after new messages, so that both mark some read.
    _fill(world.enrolment, world, 5)
    few = _queries(client, url)
    _fill(world.enrolment, world, 45)
    many = _queries(client, url)
    assert few == many
    assert few <= 30


def test_long_conversations_are_shown_a_page_at_a_time_newest_last(
    world: World, english: Callable[[str], Client]
) -> None:
    _fill(world.enrolment, world, 35)
    page = english("patient").get(patient_url(world.enrolment)).content.decode()
    shown = [int(n) for n in re.findall(r"Meddelande (\d+)", page)]
    assert shown == list(range(5, 35))
    assert "Earlier messages" in page
    earlier = english("patient").get(patient_url(world.enrolment) + "?page=2").content.decode()
    assert [int(n) for n in re.findall(r"Meddelande (\d+)", earlier)] == list(range(5))
    assert "Later messages" in earlier
