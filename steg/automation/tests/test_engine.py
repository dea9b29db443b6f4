"""The engine with controlled time: each rule fires once, on time, in the patient's time zone,
follows a changed quit date and a pause, survives retries and failures."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from steg.audit.actions import Actor
from steg.automation import engine
from steg.automation.models import Firing, RuleFlag
from steg.automation.spec import Action, Automations, Condition, Rule, Trigger, to_json
from steg.care.actions import activate_enrolment, change_status
from steg.care.models import Enrolment
from steg.dashboard.attention import attention_changed
from steg.dashboard.models import Attention
from steg.dialog.models import Message, Notification
from steg.programmes.actions import import_programme
from steg.programmes.models import StepOpening
from steg.testing.personas import World, make_assessment
from steg.tobacco.actions import set_quit_date

STOCKHOLM = ZoneInfo("Europe/Stockholm")
TOBACCO = Path(settings.BASE_DIR) / "programmes" / "tobacco-cessation"

RULES = Automations(
    messages={
        "welcome": {"sv": "Välkommen {first_name}!", "en": "Welcome {first_name}!"},
        "eve": {"sv": "I morgon är det {quit_date}.", "en": "Tomorrow is {quit_date}."},
        "morning": {"sv": "I dag är din slutdag.", "en": "Today is your quit day."},
        "day-3": {"sv": "Tre dagar!", "en": "Three days!"},
        "follow-up": {"sv": "Dags för uppföljning.", "en": "Time for the follow-up."},
    },
    rules=(
        Rule("welcome", Trigger("activated"), actions=(Action("message", key="welcome"),)),
        Rule(
            "quit-eve",
            Trigger("after", anchor="quit_date", days=-1, at=datetime.time(18, 0)),
            actions=(Action("message", key="eve"),),
        ),
        Rule(
            "quit-morning",
            Trigger("after", anchor="quit_date", days=0, at=datetime.time(8, 0)),
            actions=(Action("message", key="morning"),),
        ),
        Rule(
            "day-3",
            Trigger("after", anchor="quit_date", days=3, at=datetime.time(10, 0)),
            actions=(Action("message", key="day-3"), Action("unlock", key="hold-on")),
        ),
        Rule(
            "diary-missed",
            Trigger("questionnaire_due", subject="diary", days=1, at=datetime.time(19, 0)),
            conditions=(Condition("unanswered"),),
            actions=(Action("remind", link="questionnaires"),),
        ),
        Rule(
            "relapse",
            Trigger("questionnaire_submitted", subject="diary"),
            conditions=(Condition("answer", item="used", equals=True),),
            actions=(
                Action(
                    "suggest_step_up",
                    level="phone_video",
                    texts={"sv": "Rapporterat återfall", "en": "Reported relapse"},
                ),
            ),
        ),
        Rule(
            "follow-up",
            Trigger("questionnaire_due", subject="follow-up", days=0, at=datetime.time(9, 0)),
            actions=(Action("message", key="follow-up"), Action("remind")),
        ),
    ),
)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime.datetime:
    """A wall-clock time in Stockholm."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


@pytest.fixture
def immediate(settings: SettingsWrapper) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def version(db: None) -> Any:
    version = import_programme(TOBACCO).version
    version.automations = to_json(RULES)
    version.save(update_fields=["automations"])
    engine.clear_rules_cache()
    return version


@contextmanager
def clock(moment: datetime.datetime) -> Iterator[Any]:
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller


def run(django_capture_on_commit_callbacks: Callable[..., Any]) -> None:
    """One scheduler tick, its batches fired by the (immediate) worker, as after a commit."""
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        engine.tick()


def invited(world: World, version: Any, quit_date: datetime.date | None) -> Enrolment:
    return Enrolment.objects.create(
        patient=world.patient,
        unit=world.unit,
        programme_version=version,
        assessment=make_assessment(world.patient, world.unit, version.programme),
        therapist=world.therapist,
        status=Enrolment.Status.INVITED,
        quit_date=quit_date,
    )


def activate(enrolment: Enrolment, world: World, capture: Callable[..., Any]) -> Enrolment:
    with capture(execute=True), transaction.atomic():
        locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        activate_enrolment(locked, actor=Actor(world.patient_user, "patient"), request=None)
    return Enrolment.objects.get(pk=enrolment.pk)


def only(enrolment: Enrolment, *rules: str) -> None:
    """Keep the firings of these rules only (the test is about them)."""
    Firing.objects.filter(enrolment=enrolment).exclude(rule__in=rules).delete()


def automatic(enrolment: Enrolment) -> list[str]:
    return list(
        Message.objects.filter(enrolment=enrolment, sender_role=Message.SenderRole.SYSTEM)
        .order_by("created_at", "pk")
        .values_list("rule", flat=True)
    )


def fired(enrolment: Enrolment) -> list[tuple[str, str]]:
    return list(
        Firing.objects.filter(enrolment=enrolment, status=Firing.Status.DONE)
        .order_by("fired_at", "pk")
        .values_list("rule", "occasion")
    )


def reminders(world: World) -> int:
    return Notification.objects.filter(kind="reminder", patient=world.patient).count()


def test_a_treatment_walks_from_activation_to_the_follow_up(
    world: World, version: Any, immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    # Quit date Saturday 28 March 2026; the clocks go forward in Sweden early on 29 March.
    quit_date = datetime.date(2026, 3, 28)
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, quit_date), world, capture)
        assert automatic(enrolment) == ["welcome"]
        body = Message.objects.get(enrolment=enrolment, rule="welcome").body
        assert body == "Välkommen Pia!"
        # The time rules are planned, each once, at the local time of day.
        planned = dict(
            Firing.objects.filter(enrolment=enrolment, status=Firing.Status.PENDING).values_list(
                "rule", "scheduled_for"
            )
        )
        assert planned["quit-eve"] == at(2026, 3, 27, 18)
        assert planned["quit-morning"] == at(2026, 3, 28, 8)
        # After the change to summer time: still 10:00 on the wall clock (08:00 UTC).
        assert planned["day-3"] == at(2026, 3, 31, 10)
        assert planned["day-3"].astimezone(datetime.UTC).hour == 8
        assert planned["follow-up"] == at(2026, 6, 26, 9)
        # Ticking again and again changes nothing.
        run(capture)
        run(capture)
        assert automatic(enrolment) == ["welcome"]

    with clock(at(2026, 3, 27, 17, 59)):
        run(capture)
        assert automatic(enrolment) == ["welcome"]
    with clock(
        at(
            2026,
            3,
            27,
            18,
            0,
        )
    ):
        run(capture)
        run(capture)
        assert automatic(enrolment) == ["welcome", "quit-eve"]

    # The diary: due every day from the start; the 27th is left unanswered.
    assert reminders(world) == 0
    with clock(at(2026, 3, 28, 8, 1)):
        run(capture)
        assert automatic(enrolment) == ["welcome", "quit-eve", "quit-morning"]
    # 19:00 on the 28th: the diary of the 27th was missed (the diary is due from the start on
    # the 20th, and each day before has had its reminder as well: 20th..27th, once each).
    with clock(at(2026, 3, 28, 19, 0)):
        before = reminders(world)
        run(capture)
        assert reminders(world) >= before
    missed = [occasion for rule, occasion in fired(enrolment) if rule == "diary-missed"]
    assert len(missed) == len(set(missed))

    # A relapse reported in the diary: a suggestion to call, once, on the dashboard.
    from steg.questionnaires import actions as questionnaire_actions
    from steg.questionnaires.loader import get_questionnaire

    diary = get_questionnaire(version, "diary")
    assert diary is not None
    with clock(at(2026, 3, 30, 20)):
        for token in ("t1", "t1"):  # submitted twice (a double click): one response
            with capture(execute=True), transaction.atomic():
                questionnaire_actions.submit(
                    enrolment=enrolment,
                    questionnaire=diary,
                    day=datetime.date(2026, 3, 30),
                    answers={"used": (True,), "craving": (4,)},
                    language="sv",
                    token=token,
                )
        flag = RuleFlag.objects.get(enrolment=enrolment)
        assert flag.rule == "relapse" and flag.step_up == "phone_video"
        assert flag.reason("en") == "Reported relapse"
        attention_changed(enrolment.pk)
        assert "rule" in {f.key for f in Attention.objects.get(pk=enrolment.pk).flags}

    with clock(at(2026, 3, 31, 10, 0)):
        run(capture)
        assert automatic(enrolment)[-1] == "day-3"
        opening = StepOpening.objects.get(enrolment=enrolment, step_key="hold-on")
        assert opening.opened_by is None and opening.rule == "day-3"

    # The 3-month follow-up (day 90 after the quit date): a message and a reminder.
    with clock(at(2026, 6, 26, 9, 0)):
        before = reminders(world)
        run(capture)
        assert automatic(enrolment)[-1] == "follow-up"
        assert reminders(world) == before + 1
        run(capture)
        assert automatic(enrolment).count("follow-up") == 1
        assert reminders(world) == before + 1

    # Every rule fired once per occasion.
    pairs = fired(enrolment)
    assert len(pairs) == len(set(pairs))
    for rule in ("welcome", "quit-eve", "quit-morning", "day-3", "follow-up"):
        assert automatic(enrolment).count(rule) == 1, rule


def test_a_changed_quit_date_moves_what_has_not_fired(
    world: World, version: Any, immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 28)), world, capture)
    with clock(at(2026, 3, 27, 18, 30)):
        run(capture)
        assert "quit-eve" in automatic(enrolment)
        # The patient moves the quit date a week on.
        with capture(execute=True), transaction.atomic():
            set_quit_date(
                enrolment=enrolment,
                quit_date=datetime.date(2026, 4, 4),
                actor=Actor(world.patient_user, "patient"),
            )
        pending = dict(
            Firing.objects.filter(enrolment=enrolment, status=Firing.Status.PENDING).values_list(
                "rule", "scheduled_for"
            )
        )
        assert pending["quit-eve"] == at(2026, 4, 3, 18)
        assert pending["quit-morning"] == at(2026, 4, 4, 8)
        assert Firing.objects.filter(
            enrolment=enrolment, rule="quit-morning", status=Firing.Status.CANCELLED
        ).exists()
    with clock(at(2026, 3, 28, 9)):  # the old quit day: nothing
        run(capture)
        assert "quit-morning" not in automatic(enrolment)
    with clock(at(2026, 4, 3, 18)):
        run(capture)
    with clock(at(2026, 4, 4, 8, 5)):
        run(capture)
        assert automatic(enrolment).count("quit-morning") == 1
        # The evening before the new date has its own message.
        assert automatic(enrolment).count("quit-eve") == 2


def test_a_pause_cancels_and_resuming_plans_only_what_is_still_to_come(
    world: World, version: Any, immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 28)), world, capture)
    with clock(at(2026, 3, 26, 10)):
        with capture(execute=True):
            change_status(enrolment, "paused", actor=world.therapist, reason="Sjuk")
        assert not Firing.objects.filter(enrolment=enrolment, status=Firing.Status.PENDING).exists()
    with clock(at(2026, 3, 27, 18, 5)):
        run(capture)
        assert "quit-eve" not in automatic(enrolment)
    with clock(at(2026, 3, 27, 20)), capture(execute=True):
        change_status(enrolment, "active", actor=world.therapist)
    with clock(at(2026, 3, 28, 8)):
        run(capture)
    # The evening message was missed during the pause and is not sent late; the morning one is.
    assert automatic(enrolment) == ["welcome", "quit-morning"]


def test_two_workers_and_retries_fire_once(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 28)), world, capture)
        only(enrolment, "welcome", "quit-eve")
        welcome = Firing.objects.get(enrolment=enrolment, rule="welcome")
        # With the database backend nothing ran yet: two workers get the same firing.
        assert engine.fire(welcome.pk) == "done"
        assert engine.fire(welcome.pk) == "not-pending"
        assert engine.fire_due(enrolment.pk) == {}
        assert automatic(enrolment) == ["welcome"]
    with clock(at(2026, 3, 27, 18)):
        assert engine.tick() == 1
        # The task was lost (no worker ran it): the next tick does not hand it out again ...
        assert engine.tick() == 0
    with clock(at(2026, 3, 27, 18, 11)):
        # ... until the lease has run out.
        assert engine.tick() == 1
        eve = Firing.objects.get(enrolment=enrolment, rule="quit-eve")
        assert engine.fire_many([eve.pk, eve.pk]) == {"done": 1, "not-pending": 1}
    assert automatic(enrolment) == ["welcome", "quit-eve"]


def test_a_failing_action_is_retried_with_back_off_and_ends_failed(
    world: World,
    version: Any,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.STEG_AUTOMATION_MAX_ATTEMPTS = 3
    capture = django_capture_on_commit_callbacks
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 28)), world, capture)
        only(enrolment, "quit-eve")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database of messages is down")

    monkeypatch.setattr("steg.dialog.messages.send_automatic_message", broken)
    with clock(at(2026, 3, 27, 18)) as traveller:
        eve = Firing.objects.get(enrolment=enrolment, rule="quit-eve")
        assert engine.fire(eve.pk) == "retry"
        eve.refresh_from_db()
        assert eve.status == "pending" and eve.attempts == 1
        assert eve.next_attempt_at == at(2026, 3, 27, 18, 1)
        assert "database of messages is down" in eve.last_error
        assert not Message.objects.filter(enrolment=enrolment, rule="quit-eve").exists()
        traveller.move_to(at(2026, 3, 27, 18, 1))
        assert engine.fire(eve.pk) == "retry"
        eve.refresh_from_db()
        assert eve.next_attempt_at == at(2026, 3, 27, 18, 3)  # doubled
        traveller.move_to(at(2026, 3, 27, 18, 3))
        assert engine.fire(eve.pk) == "failed"
        eve.refresh_from_db()
        assert eve.status == "failed" and eve.attempts == 3
        assert engine.tick() == 0  # a failed firing is not handed out again

    monkeypatch.undo()
    with clock(at(2026, 3, 27, 18, 30)):
        with capture(execute=True):
            assert engine.retry(eve, actor=Actor(world.unit_admin, "unit_admin", world.unit))
        assert engine.fire(eve.pk) == "done"
    assert automatic(enrolment) == ["quit-eve"]


def test_a_closed_treatment_is_skipped_and_a_deleted_one_does_nothing(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 28)), world, capture)
        welcome = Firing.objects.get(enrolment=enrolment, rule="welcome")
        Enrolment.objects.filter(pk=enrolment.pk).update(status="discontinued")
        assert engine.fire(welcome.pk) == "skipped"
        welcome.refresh_from_db()
        assert welcome.status == "skipped" and "discontinued" in welcome.result["reason"]
        assert automatic(enrolment) == []
        assert engine.fire(999_999) == "not-pending"


def test_an_occasion_too_late_is_skipped_not_sent_at_the_wrong_time(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 28)), world, capture)
    # The scheduler was down from the evening before until the afternoon of the quit day.
    with clock(at(2026, 3, 28, 13)):
        eve = Firing.objects.get(enrolment=enrolment, rule="quit-eve")
        morning = Firing.objects.get(enrolment=enrolment, rule="quit-morning")
        assert engine.fire(eve.pk) == "skipped"
        assert engine.fire(morning.pk) == "done"  # 5 hours late: within the limit
    assert automatic(enrolment) == ["quit-morning"]


def test_the_patients_time_zone_sets_the_hour(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world.patient.time_zone = "America/New_York"
    world.patient.save(update_fields=["time_zone"])
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(
            invited(world, version, datetime.date(2026, 3, 28)),
            world,
            django_capture_on_commit_callbacks,
        )
    eve = Firing.objects.get(enrolment=enrolment, rule="quit-eve")
    assert eve.scheduled_for == datetime.datetime(
        2026, 3, 27, 18, tzinfo=ZoneInfo("America/New_York")
    )


def test_no_rules_cost_nothing(world: World, django_assert_num_queries: Any) -> None:
    enrolment = world.enrolment
    engine.rules_of(enrolment.programme_version_id)
    with django_assert_num_queries(0):
        assert engine.record_event(enrolment, "page_read", "welcome", occasion="page:welcome") == 0


def test_reading_the_last_page_of_a_step_completes_it_once(
    world: World, version: Any, immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    from django.test import RequestFactory

    from steg.programmes.actions import mark_page_read
    from steg.programmes.models import Page

    rules = Automations(
        messages={"done": {"sv": "Bra jobbat!", "en": "Well done!"}},
        rules=(
            Rule(
                "welcome-done",
                Trigger("step_completed", subject="welcome"),
                actions=(Action("message", key="done"),),
            ),
            Rule(
                "read-how",
                Trigger("page_read", subject="how-it-works"),
                actions=(Action("remind"),),
            ),
        ),
    )
    version.automations = to_json(rules)
    version.save(update_fields=["automations"])
    engine.clear_rules_cache()
    enrolment = activate(invited(world, version, None), world, django_capture_on_commit_callbacks)
    request = RequestFactory().post("/")
    request.user = world.patient_user

    def read(key: str) -> None:
        page = Page.objects.get(version=version, key=key)
        with django_capture_on_commit_callbacks(execute=True):
            mark_page_read(enrolment=enrolment, page=page, request=request)

    read("how-it-works")
    assert automatic(enrolment) == []
    assert reminders(world) == 1
    read("welcome")  # the step's last unread page
    assert automatic(enrolment) == ["welcome-done"]
    read("welcome")  # read again: nothing new
    assert automatic(enrolment) == ["welcome-done"]
    assert reminders(world) == 1


def test_schedule_automation_plans_existing_treatments_once(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.management import call_command

    with clock(at(2026, 3, 20, 14)):
        enrolment = Enrolment.objects.create(
            patient=world.patient,
            unit=world.unit,
            programme_version=version,
            assessment=make_assessment(world.patient, world.unit, version.programme),
            status=Enrolment.Status.ACTIVE,
            started_at=at(2026, 3, 1),
            quit_date=datetime.date(2026, 3, 28),
        )
        assert not Firing.objects.filter(enrolment=enrolment).exists()
        call_command("schedule_automation", stdout=open(os.devnull, "w"))  # noqa: SIM115
        call_command("schedule_automation", stdout=open(os.devnull, "w"))  # noqa: SIM115
        pending = Firing.objects.filter(enrolment=enrolment, status=Firing.Status.PENDING)
        rules = sorted(pending.values_list("rule", flat=True))
        assert rules == ["day-3", "diary-missed", "follow-up", "quit-eve", "quit-morning"]


def _use_rules(version: Any, *rules: Rule) -> None:
    version.automations = to_json(Automations(rules=rules, messages=RULES.messages))
    version.save(update_fields=["automations"])
    engine.clear_rules_cache()


def test_a_reminder_in_the_patients_quiet_hours_waits_for_their_end(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from steg.dialog.models import NotificationPreference

    _use_rules(
        version,
        Rule(
            "late",
            Trigger("after", anchor="start", days=1, at=datetime.time(22, 30)),
            actions=(Action("remind"),),
        ),
    )
    NotificationPreference.objects.create(
        user=world.patient_user, quiet_from=datetime.time(22, 0), quiet_until=datetime.time(7, 0)
    )
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(
            invited(world, version, None), world, django_capture_on_commit_callbacks
        )
    with clock(at(2026, 3, 21, 22, 30)):
        firing = Firing.objects.get(enrolment=enrolment, rule="late")
        assert engine.fire(firing.pk) == "done"
    reminder = Notification.objects.get(kind="reminder", patient=world.patient)
    assert reminder.next_attempt_at == at(2026, 3, 22, 7, 0)
    assert reminder.status == "queued"


def test_request_questionnaire_makes_it_due_once(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from steg.questionnaires.models import QuestionnaireRequest

    _use_rules(
        version,
        Rule(
            "motivation-check",
            Trigger("after", anchor="start", days=14, at=datetime.time(9, 0)),
            actions=(Action("request_questionnaire", key="motivation"),),
        ),
    )
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(
            invited(world, version, None), world, django_capture_on_commit_callbacks
        )
    with clock(at(2026, 4, 3, 9, 0)):
        firing = Firing.objects.get(enrolment=enrolment, rule="motivation-check")
        assert engine.fire(firing.pk) == "done"
        assert engine.fire(firing.pk) == "not-pending"
    request = QuestionnaireRequest.objects.get(enrolment=enrolment)
    assert (request.questionnaire_id, request.day, request.rule) == (
        "motivation",
        datetime.date(2026, 4, 3),
        "motivation-check",
    )


def test_a_meeting_reminder_follows_the_meeting(
    world: World, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from steg.care.meetings import book_meeting, cancel_meeting, reschedule_meeting

    _use_rules(
        version,
        Rule("before-meeting", Trigger("meeting", hours=24), actions=(Action("remind"),)),
    )
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(
            invited(world, version, None), world, django_capture_on_commit_callbacks
        )
        meeting = book_meeting(
            patient=world.patient,
            unit=world.unit,
            therapist=world.therapist,
            starts_at=at(2026, 3, 25, 10),
            duration_minutes=30,
            mode="phone",
            kind="follow_up",
            enrolment=enrolment,
            actor=world.therapist,
        )

        def pending() -> list[datetime.datetime]:
            return list(
                Firing.objects.filter(
                    enrolment=enrolment, rule="before-meeting", status="pending"
                ).values_list("scheduled_for", flat=True)
            )

        assert pending() == [at(2026, 3, 24, 10)]
        meeting = reschedule_meeting(
            meeting,
            starts_at=at(2026, 3, 26, 15),
            duration_minutes=30,
            mode="phone",
            actor=world.therapist,
        )
        assert pending() == [at(2026, 3, 25, 15)]
        cancel_meeting(meeting, actor=world.therapist, reason="Sjuk")
        assert pending() == []
    assert (
        Firing.objects.filter(
            enrolment=enrolment, rule="before-meeting", status="cancelled"
        ).count()
        == 2
    )


def test_an_automatic_message_changes_nothing_on_the_dashboard(
    world: World, version: Any, immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    """Firings do not recompute the dashboard row after an automatic message: nothing there
    depends on one (checked here by recomputing it)."""
    with clock(at(2026, 3, 20, 14)):
        enrolment = activate(
            invited(world, version, None), world, django_capture_on_commit_callbacks
        )
        assert automatic(enrolment) == ["welcome"]
        fields = [f.name for f in Attention._meta.concrete_fields if f.name != "updated_at"]
        kept = Attention.objects.filter(pk=enrolment.pk).values(*fields).get()
        attention_changed(enrolment.pk)
        assert Attention.objects.filter(pk=enrolment.pk).values(*fields).get() == kept
