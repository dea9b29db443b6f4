"""What staff see of the automation: the overview's automatic support (open rule flags, what
fired, what is scheduled) with "Mark as handled", and the admins' queue with "Try again"."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.models import Membership
from steg.audit.models import AuditEvent
from steg.automation.models import Firing, RuleFlag
from steg.care.models import Enrolment
from steg.dashboard.attention import attention_changed
from steg.dashboard.models import Attention
from steg.testing.personas import World, make_staff

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 4, 12, 0, tzinfo=datetime.UTC)
QUEUE = reverse("automation:queue")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def english(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def other_enrolment(world: World) -> Enrolment:
    return Enrolment.objects.get(patient=world.other_patient)


# --- test data (the engine writes these; here they are written directly) -----------------------

_occasions = iter(range(1_000_000))


def firing(
    enrolment: Enrolment,
    rule: str = "welcome",
    *,
    status: str = Firing.Status.DONE,
    at: datetime.datetime = NOW,
    **fields: Any,
) -> Firing:
    """A firing of `rule`, scheduled (and, unless pending, fired) at `at`."""
    values: dict[str, Any] = {
        "enrolment": enrolment,
        "rule": rule,
        "occasion": fields.pop("occasion", f"occasion:{next(_occasions)}"),
        "trigger": "activated",
        "status": status,
        "scheduled_for": at,
        "next_attempt_at": at,
        "created_at": at - datetime.timedelta(days=1),
        "fired_at": None if status == Firing.Status.PENDING else at,
        **fields,
    }
    return Firing.objects.create(**values)


def flag(
    enrolment: Enrolment,
    *,
    rule: str = "relapse",
    step_up: str = RuleFlag.Level.PHONE_VIDEO,
    at: datetime.datetime = NOW,
) -> RuleFlag:
    fired = firing(enrolment, rule, at=at)
    return RuleFlag.objects.create(
        enrolment=enrolment,
        firing=fired,
        rule=rule,
        reasons={"sv": "Rapporterat återfall", "en": "Reported a relapse"},
        step_up=step_up,
        created_at=at,
    )


def overview_url(enrolment: Enrolment) -> str:
    return reverse("dashboard:overview", args=[enrolment.pk])


def handled_url(rule_flag: RuleFlag) -> str:
    return reverse("automation:flag_handled", args=[rule_flag.enrolment_id, rule_flag.pk])


def section(response: Any, heading_id: str) -> str:
    """The markup after the heading with this id, up to the next heading of any level."""
    text = response.content.decode().split(f'id="{heading_id}"')[1]
    return text.split("<h2")[0].split("<h3")[0]


# --- the overview -------------------------------------------------------------------------------


def test_the_overview_shows_open_flags_with_their_step_up_and_a_button(
    world: World, english: Callable[[str], Client]
) -> None:
    open_flag = flag(world.enrolment)
    handled = flag(world.enrolment, rule="old", step_up=RuleFlag.Level.NONE)
    RuleFlag.objects.filter(pk=handled.pk).update(handled_at=NOW, handled_by=world.therapist)
    response = english("therapist").get(overview_url(world.enrolment))
    assertContains(response, '<h2 id="automation-heading">Automatic support</h2>', html=True)
    flags = section(response, "rule-flags-heading")
    assert "Reported a relapse" in flags
    assert "Suggested step up: a phone or video call." in flags
    assert "“relapse”" in flags and "“old”" not in flags
    assert f'action="{handled_url(open_flag)}"' in flags
    assert 'name="csrfmiddlewaretoken"' in flags
    # 13:00 in Stockholm.
    assert '<time datetime="2026-03-04T13:00:00+01:00">4 March 2026 13:00</time>' in flags


def test_the_flag_reason_is_in_the_viewers_language(
    world: World, client_as: Callable[[str], Client]
) -> None:
    flag(world.enrolment, step_up=RuleFlag.Level.MEETING)
    response = client_as("therapist").get(overview_url(world.enrolment))  # Swedish by default
    assertContains(response, "Rapporterat återfall")
    assertNotContains(response, "Reported a relapse")
    assertContains(response, "Automatiskt stöd")


def test_the_overview_shows_what_fired_lately_newest_first_with_the_outcome(
    world: World, english: Callable[[str], Client]
) -> None:
    hour = datetime.timedelta(hours=1)
    firing(
        world.enrolment,
        "welcome",
        at=NOW - 3 * hour,
        result={"actions": [{"kind": "message", "message": 1, "created": True}]},
    )
    firing(
        world.enrolment,
        "quit-eve",
        status=Firing.Status.SKIPPED,
        at=NOW - 2 * hour,
        result={"reason": "treatment paused"},
    )
    firing(
        world.enrolment,
        "day-3",
        status=Firing.Status.FAILED,
        at=NOW - hour,
        attempts=5,
        last_error="RuntimeError: the SMS gateway is down\nTraceback ...",
    )
    firing(world.enrolment, "gone", status=Firing.Status.CANCELLED, at=NOW)
    firing(other_enrolment(world), "someone-else", at=NOW)
    fired = section(english("therapist").get(overview_url(world.enrolment)), "rules-fired-heading")
    assert fired.index("day-3") < fired.index("quit-eve") < fired.index("welcome")
    assert "Done: a message sent" in fired
    assert "Skipped: treatment paused" in fired
    assert "Failed after 5 attempts" in fired
    assert "RuntimeError: the SMS gateway is down" in fired and "Traceback" not in fired
    assert "gone" not in fired and "someone-else" not in fired


def test_the_overview_shows_the_latest_ten_fired_and_the_next_ten_scheduled(
    world: World, english: Callable[[str], Client]
) -> None:
    for n in range(12):
        firing(world.enrolment, f"past-{n:02d}", at=NOW - datetime.timedelta(days=12 - n))
        firing(
            world.enrolment,
            f"next-{n:02d}",
            status=Firing.Status.PENDING,
            at=NOW + datetime.timedelta(days=n + 1),
        )
    response = english("therapist").get(overview_url(world.enrolment))
    fired = section(response, "rules-fired-heading")
    assert [f"past-{n:02d}" in fired for n in range(12)] == [False] * 2 + [True] * 10
    assert fired.index("past-11") < fired.index("past-02")
    scheduled = section(response, "rules-scheduled-heading")
    assert [f"next-{n:02d}" in scheduled for n in range(12)] == [True] * 10 + [False] * 2
    assert scheduled.index("next-00") < scheduled.index("next-09")
    # In Swedish time: the first is tomorrow at 13:00 in Stockholm (12:00 UTC).
    assert '<time datetime="2026-03-05T13:00:00+01:00">5 March 2026 13:00</time>' in scheduled


def test_a_firing_being_tried_again_says_so_on_the_overview(
    world: World, english: Callable[[str], Client]
) -> None:
    firing(world.enrolment, "retrying", status=Firing.Status.PENDING, attempts=2)
    scheduled = section(
        english("therapist").get(overview_url(world.enrolment)), "rules-scheduled-heading"
    )
    assert "Being tried again after 2 failed attempts" in scheduled


def test_an_overview_without_automation_says_so(
    world: World, english: Callable[[str], Client]
) -> None:
    response = english("therapist").get(overview_url(world.enrolment))
    assertContains(response, "No open flags.")
    assertContains(response, "No rule has fired yet.")
    assertContains(response, "Nothing is scheduled.")


def test_the_overview_takes_the_same_queries_however_many_firings_and_flags(
    world: World, english: Callable[[str], Client]
) -> None:
    client = english("therapist")
    url = overview_url(world.enrolment)
    flag(world.enrolment)
    firing(world.enrolment, status=Firing.Status.PENDING, at=NOW + datetime.timedelta(days=1))
    client.get(url)  # programme content is cached after the first

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    for n in range(40):
        flag(world.enrolment, rule=f"flag-{n}", at=NOW - datetime.timedelta(minutes=n))
        firing(world.enrolment, f"skipped-{n}", status=Firing.Status.SKIPPED)
        firing(
            world.enrolment,
            f"later-{n}",
            status=Firing.Status.PENDING,
            at=NOW + datetime.timedelta(hours=n + 1),
        )
    many = client.get(url)
    assertContains(many, "Only the oldest 20 open flags are shown.")
    assert queries() == few


# --- marking a flag handled ---------------------------------------------------------------------


def test_marking_a_flag_handled_clears_the_dashboard_rule_flag(
    world: World,
    english: Callable[[str], Client],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    rule_flag = flag(world.enrolment)
    attention_changed(world.enrolment.pk)
    assert Attention.objects.get(pk=world.enrolment.pk).rule_flags == 1
    client = english("therapist")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(handled_url(rule_flag), follow=True)
    assert response.redirect_chain == [(overview_url(world.enrolment) + "#automation-heading", 302)]
    assertContains(response, "The flag has been marked as handled.")
    assertContains(response, "No open flags.")
    rule_flag.refresh_from_db()
    assert rule_flag.handled_at == NOW
    assert rule_flag.handled_by == world.therapist
    assert Attention.objects.get(pk=world.enrolment.pk).rule_flags == 0
    event = AuditEvent.objects.get(action="automation.flag.handled")
    assert (event.actor, event.patient, event.unit) == (
        world.therapist,
        world.patient,
        world.unit,
    )
    assert event.object_id == str(rule_flag.pk)
    assert event.detail["rule"] == "relapse"


def test_marking_a_flag_handled_twice_changes_nothing(
    world: World, english: Callable[[str], Client]
) -> None:
    rule_flag = flag(world.enrolment)
    client = english("therapist")
    client.post(handled_url(rule_flag))
    with time_machine.travel(NOW + datetime.timedelta(minutes=5), tick=False):
        again = english("admin").post(handled_url(rule_flag), follow=True)
    assert again.status_code == 200
    assertContains(again, "The flag had already been marked as handled.")
    rule_flag.refresh_from_db()
    assert (rule_flag.handled_at, rule_flag.handled_by) == (NOW, world.therapist)
    assert AuditEvent.objects.filter(action="automation.flag.handled").count() == 1


@pytest.mark.parametrize("persona", ["other_therapist", "author", "region_admin", "patient"])
def test_staff_without_a_care_relation_cannot_mark_a_flag_handled(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    rule_flag = flag(world.enrolment)
    assert client_as(persona).post(handled_url(rule_flag)).status_code == 404
    rule_flag.refresh_from_db()
    assert rule_flag.handled_at is None
    assert not AuditEvent.objects.filter(action="automation.flag.handled").exists()


def test_a_flag_of_another_treatment_is_not_found_through_this_one(
    world: World, client_as: Callable[[str], Client]
) -> None:
    elsewhere = flag(other_enrolment(world))
    url = reverse("automation:flag_handled", args=[world.enrolment.pk, elsewhere.pk])
    assert client_as("therapist").post(url).status_code == 404
    # Nor through its own treatment, at a unit where the therapist does not work.
    assert client_as("therapist").post(handled_url(elsewhere)).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.handled_at is None


def test_marking_a_flag_handled_needs_post(
    world: World, client_as: Callable[[str], Client]
) -> None:
    rule_flag = flag(world.enrolment)
    assert client_as("therapist").get(handled_url(rule_flag)).status_code == 405
    rule_flag.refresh_from_db()
    assert rule_flag.handled_at is None


# --- the admins' queue --------------------------------------------------------------------------


def test_the_queue_is_at_staff_automation() -> None:
    assert QUEUE == "/staff/automation/"


@pytest.mark.parametrize("persona", ["patient", "therapist", "other_therapist", "author"])
def test_only_administrators_get_the_queue(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    assert client_as(persona).get(QUEUE).status_code == 404


def test_the_admin_start_page_links_to_the_queue(
    world: World, english: Callable[[str], Client]
) -> None:
    assertContains(english("admin").get(reverse("accounts:admin_start")), f'href="{QUEUE}"')


def test_the_queue_counts_due_soon_failed_and_retrying_at_the_admins_units(
    world: World, english: Callable[[str], Client]
) -> None:
    hour = datetime.timedelta(hours=1)
    pending = Firing.Status.PENDING
    firing(world.enrolment, "due-1", status=pending, at=NOW - hour)
    firing(world.enrolment, "due-2", status=pending, at=NOW)
    firing(world.enrolment, "soon", status=pending, at=NOW + 5 * hour)
    firing(world.enrolment, "later", status=pending, at=NOW + 30 * hour)
    firing(world.enrolment, "retrying", status=pending, at=NOW + hour, attempts=2)
    firing(world.enrolment, "failed", status=Firing.Status.FAILED, attempts=5)
    firing(world.enrolment, "done")
    # The other region's: not counted.
    for status in (pending, Firing.Status.FAILED):
        firing(other_enrolment(world), "elsewhere", status=status, attempts=5)
    response = english("admin").get(QUEUE)
    assert response.context["counts"] == {"due": 2, "soon": 2, "failed": 1, "retrying": 1}
    assertContains(response, "<dt>Due now</dt><dd>2</dd>", html=True)


def test_a_unit_admin_sees_failed_and_retrying_firings_of_their_units_only(
    world: World, english: Callable[[str], Client]
) -> None:
    firing(
        world.enrolment,
        "welcome",
        status=Firing.Status.FAILED,
        attempts=5,
        last_error="RuntimeError: boom one\nTraceback (most recent call last)",
    )
    firing(
        world.enrolment,
        "diary-missed",
        status=Firing.Status.PENDING,
        attempts=2,
        at=NOW + datetime.timedelta(minutes=4),
        last_error="RuntimeError: boom retrying",
    )
    firing(
        other_enrolment(world),
        "welcome",
        status=Firing.Status.FAILED,
        attempts=5,
        last_error="RuntimeError: other region",
    )
    response = english("admin").get(QUEUE)
    failed = section(response, "failed-heading")
    assert "RuntimeError: boom one" in failed and "Traceback" not in failed
    assert "1 rule that Steg has given up on." in failed
    assert "Try again" in failed
    retrying = section(response, "retrying-heading")
    assert "RuntimeError: boom retrying" in retrying
    assert "diary-missed" in retrying
    assertNotContains(response, "other region")
    # The unit admin has a care relation: the patient is named, their overview linked.
    overview = overview_url(world.enrolment)
    assert f'<a href="{overview}">Pia Patient</a>' in failed
    viewed = AuditEvent.objects.get(action="automation.firing.listed")
    assert viewed.detail == {"page": 1, "patients": [world.patient.pk]}


def test_a_region_admin_sees_their_regions_units_without_patient_names(
    world: World, english: Callable[[str], Client]
) -> None:
    firing(world.enrolment, status=Firing.Status.FAILED, attempts=5, last_error="Boom: ours")
    firing(other_enrolment(world), status=Firing.Status.FAILED, attempts=5, last_error="Boom: x")
    response = english("region_admin").get(QUEUE)
    assertContains(response, "Boom: ours")
    assertNotContains(response, "Boom: x")
    assertContains(response, "a patient")
    assertContains(response, "Tobaksavvänjning Testby")
    assertNotContains(response, "Pia")
    assertNotContains(response, overview_url(world.enrolment))
    viewed = AuditEvent.objects.get(action="automation.firing.listed")
    assert viewed.detail["patients"] == []


def test_an_admin_of_the_other_unit_sees_only_its_firings(
    world: World, english: Callable[[str], Client]
) -> None:
    make_staff("admin2@test.example", "Alma Annan", world.other_unit, Membership.Role.UNIT_ADMIN)
    firing(world.enrolment, status=Firing.Status.FAILED, attempts=5, last_error="Boom: Testby")
    firing(other_enrolment(world), status=Firing.Status.FAILED, attempts=5, last_error="Boom: x")
    client = Client()
    client.force_login(Membership.objects.get(user__email="admin2@test.example").user)
    response = client.get(QUEUE)
    assertContains(response, "Boom: x")
    assertNotContains(response, "Boom: Testby")
    assertContains(response, "Otto Annan")


def test_the_failed_list_is_newest_first_25_a_page(
    world: World, english: Callable[[str], Client]
) -> None:
    start = NOW - datetime.timedelta(days=1)
    for n in range(27):
        firing(
            world.enrolment,
            status=Firing.Status.FAILED,
            attempts=5,
            at=start + datetime.timedelta(minutes=n),
            last_error=f"Boom: number {n:02d}",
        )
    first = english("admin").get(QUEUE)
    assertContains(first, "Boom: number 26")
    assertContains(first, "Boom: number 02")
    assertNotContains(first, "Boom: number 01")
    assert first.content.index(b"number 26") < first.content.index(b"number 25")
    assertContains(first, "27 rules that Steg has given up on, newest first.")
    second = english("admin").get(QUEUE, {"page": 2})
    assertContains(second, "Boom: number 01")
    assertContains(second, "Boom: number 00")


def test_the_queue_takes_the_same_number_of_queries_for_one_row_or_many(
    world: World, english: Callable[[str], Client]
) -> None:
    client = english("admin")
    firing(world.enrolment, status=Firing.Status.FAILED, attempts=5, last_error="Boom")
    client.get(QUEUE)  # warm up (session, user)
    with CaptureQueriesContext(connection) as one:
        assert client.get(QUEUE).status_code == 200
    for n in range(40):
        firing(world.enrolment, status=Firing.Status.FAILED, attempts=5, last_error="Boom")
        firing(world.enrolment, f"r-{n}", status=Firing.Status.PENDING, attempts=1)
        firing(other_enrolment(world), status=Firing.Status.FAILED, attempts=5)
    with CaptureQueriesContext(connection) as many:
        response = client.get(QUEUE)
    assert response.status_code == 200
    assert len(response.context["failed_rows"]) == 25
    assert len(many) == len(one)


# --- try again ----------------------------------------------------------------------------------


def retry_url(failed: Firing) -> str:
    return reverse("automation:retry", args=[failed.pk])


def test_try_again_sends_a_failed_firing_round_once(
    world: World,
    english: Callable[[str], Client],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    failed = firing(world.enrolment, status=Firing.Status.FAILED, attempts=5, last_error="Boom")
    client = english("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(failed), {"page": "1"}, follow=True)
        assert response.redirect_chain == [(f"{QUEUE}?page=1", 302)]
        assertContains(response, "The rule has been queued to be tried again.")
        failed.refresh_from_db()
        assert (failed.status, failed.attempts, failed.next_attempt_at, failed.fired_at) == (
            Firing.Status.PENDING,
            0,
            NOW,
            None,
        )
        # A second click changes nothing.
        again = client.post(retry_url(failed), follow=True)
        assertContains(again, "it was not tried again")
    event = AuditEvent.objects.get(action="automation.firing.retried")
    assert (event.actor, event.patient, event.object_id) == (
        world.unit_admin,
        world.patient,
        str(failed.pk),
    )
    tasks = DBTaskResult.objects.filter(task_path="steg.automation.tasks.fire_due_for_enrolment")
    assert tasks.count() == 1


def test_a_region_admin_may_try_again_at_their_regions_units(
    world: World, client_as: Callable[[str], Client]
) -> None:
    failed = firing(world.enrolment, status=Firing.Status.FAILED, attempts=5)
    response = client_as("region_admin").post(retry_url(failed))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Firing.Status.PENDING


@pytest.mark.parametrize("persona", ["therapist", "other_therapist", "patient", "author"])
def test_others_cannot_try_again(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    failed = firing(world.enrolment, status=Firing.Status.FAILED, attempts=5)
    assert client_as(persona).post(retry_url(failed)).status_code == 404
    failed.refresh_from_db()
    assert failed.status == Firing.Status.FAILED
    assert not AuditEvent.objects.filter(action="automation.firing.retried").exists()


@pytest.mark.parametrize("persona", ["admin", "region_admin"])
def test_an_admin_cannot_try_again_another_regions_firing(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    failed = firing(other_enrolment(world), status=Firing.Status.FAILED, attempts=5)
    assert client_as(persona).post(retry_url(failed)).status_code == 404
    failed.refresh_from_db()
    assert failed.status == Firing.Status.FAILED
    assert AuditEvent.objects.filter(action="automation.firing.access_denied").exists()


def test_try_again_needs_post(world: World, client_as: Callable[[str], Client]) -> None:
    failed = firing(world.enrolment, status=Firing.Status.FAILED, attempts=5)
    assert client_as("admin").get(retry_url(failed)).status_code == 405
    failed.refresh_from_db()
    assert failed.status == Firing.Status.FAILED
