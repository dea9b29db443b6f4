"""The tobacco programme's own rules (programmes/tobacco-cessation/automations.yaml), walked with
controlled time from activation to the 3-month follow-up, with a scheduler that ticks exactly
when something is due (as one running every minute would): every message, reminder and flag
exactly once, across the change to summer time and a moved quit date."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from steg.audit.actions import Actor
from steg.automation import engine
from steg.automation.models import Firing, RuleFlag
from steg.care.models import Enrolment
from steg.dialog.models import Message, Notification
from steg.programmes.actions import import_programme
from steg.questionnaires import actions as questionnaire_actions
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response
from steg.testing.personas import World
from steg.tobacco.actions import set_quit_date

from .test_engine import TOBACCO, activate, invited

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=STOCKHOLM)


class Walk:
    def __init__(self, world: World, capture: Any, traveller: Any) -> None:
        self.world = world
        self.capture = capture
        self.traveller = traveller
        self.now = timezone.now()

    def to(self, moment: datetime.datetime) -> None:
        """Let time pass until `moment`, the scheduler firing whatever falls due on the way
        (at the minute it falls due)."""
        while True:
            due = Firing.objects.filter(status=Firing.Status.PENDING).aggregate(
                at=Min("next_attempt_at")
            )["at"]
            if due is None or due > moment:
                break
            self.traveller.move_to(max(due, self.now))
            self.now = max(due, self.now)
            with self.capture(execute=True), transaction.atomic():
                engine.tick()
        self.traveller.move_to(moment)
        self.now = moment

    def diary(self, enrolment: Enrolment, day: datetime.date, *, used: bool = False) -> None:
        diary = get_questionnaire(enrolment.programme_version, "diary")
        assert diary is not None
        with self.capture(execute=True), transaction.atomic():
            questionnaire_actions.submit(
                enrolment=enrolment,
                questionnaire=diary,
                day=day,
                answers={"used": (used,), "craving": (3,), "cigarettes": (2,) if used else ()},
                language="sv",
                token=f"diary-{day}",
            )


def messages(enrolment: Enrolment) -> Counter[str]:
    return Counter(
        Message.objects.filter(
            enrolment=enrolment, sender_role=Message.SenderRole.SYSTEM
        ).values_list("rule", flat=True)
    )


def reminder_firings(enrolment: Enrolment) -> Counter[str]:
    done = Firing.objects.filter(enrolment=enrolment, status=Firing.Status.DONE)
    return Counter(
        rule
        for rule, result in done.values_list("rule", "result")
        if any(action.get("kind") == "remind" for action in result.get("actions", []))
    )


@pytest.fixture
def immediate(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_the_tobacco_rules_from_activation_to_the_three_month_follow_up(
    world: World, immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    version = import_programme(TOBACCO).version
    assert engine.rules_of(version.pk).rule("welcome") is not None
    with time_machine.travel(local(3, 20, 14), tick=False) as traveller:
        walk = Walk(world, capture, traveller)
        # Activated on Friday 20 March with the quit date Thursday 26 March.
        enrolment = activate(invited(world, version, datetime.date(2026, 3, 26)), world, capture)
        assert messages(enrolment) == {"welcome": 1}

        # The diary every evening; one slip before the quit date is not a relapse.
        for day in range(20, 23):
            walk.to(local(3, day, 20))
            walk.diary(enrolment, datetime.date(2026, 3, day), used=day == 21)
        assert not RuleFlag.objects.filter(enrolment=enrolment).exists()

        # On Sunday 22 March the patient moves the quit date to Saturday 28 March, the day
        # before the clocks go forward.
        with capture(execute=True), transaction.atomic():
            set_quit_date(
                enrolment=enrolment,
                quit_date=datetime.date(2026, 3, 28),
                actor=Actor(world.patient_user, "patient"),
            )
        for day in range(23, 27):
            walk.to(local(3, day, 20))
            walk.diary(enrolment, datetime.date(2026, 3, day))
        # 27 March: no diary. The evening before the quit date: its message.
        walk.to(local(3, 27, 18, 30))
        assert messages(enrolment)["quit-day-eve"] == 1
        walk.to(local(3, 28, 8, 30))
        assert messages(enrolment)["quit-day-morning"] == 1
        # 19:00 on the 28th: the reminder of the missed 27th (and only of it).
        walk.to(local(3, 28, 19, 30))
        assert reminder_firings(enrolment) == {"diary-missed": 1}
        missed = Firing.objects.get(enrolment=enrolment, rule="diary-missed", status="done")
        assert missed.occasion == "due:2026-03-27"
        assert missed.fired_at == local(3, 28, 19)
        walk.diary(enrolment, datetime.date(2026, 3, 28))
        walk.to(local(3, 29, 20))
        walk.diary(enrolment, datetime.date(2026, 3, 29))
        # A relapse reported on the 30th: a suggested phone call, on the dashboard.
        walk.to(local(3, 30, 21))
        walk.diary(enrolment, datetime.date(2026, 3, 30), used=True)
        flag = RuleFlag.objects.get(enrolment=enrolment)
        assert flag.rule == "slip-reported" and flag.step_up == "phone_video"
        # Day 3 after the quit date, after the change to summer time: 10:00 on the wall clock.
        walk.to(local(3, 31, 11))
        day3 = Firing.objects.get(enrolment=enrolment, rule="check-in-day-3", status="done")
        assert day3.fired_at == local(3, 31, 10)
        assert day3.fired_at.astimezone(datetime.UTC).hour == 8
        for day in (31, 1, 2, 3):
            month = 3 if day == 31 else 4
            walk.to(local(month, day, 20))
            walk.diary(enrolment, datetime.date(2026, month, day))
        # From 4 April the patient goes quiet: one reminder per missed diary day, one reminder
        # after a week, a message and a suggested call after two weeks.
        walk.to(local(4, 4, 11))
        assert messages(enrolment)["check-in-day-7"] == 1
        walk.to(local(4, 25, 11))
        assert messages(enrolment)["check-in-week-4"] == 1
        assert messages(enrolment)["inactive-two-weeks"] == 1
        assert reminder_firings(enrolment)["inactive-one-week"] == 1
        inactive = Firing.objects.get(enrolment=enrolment, rule="inactive-one-week", status="done")
        assert inactive.fired_at == local(4, 10, 10)  # 7 days after the last diary (3 April)
        assert RuleFlag.objects.filter(enrolment=enrolment, rule="inactive-two-weeks").count() == 1

        # The 3-month follow-up: 90 days after the quit date (26 June), at 09:00.
        walk.to(local(6, 26, 9, 30))
        assert messages(enrolment)["follow-up-due"] == 1
        # The patient answers the next day: the reminder a week later is not sent.
        Response.objects.create(
            enrolment=enrolment,
            questionnaire_id="follow-up",
            day=datetime.date(2026, 6, 26),
            status=Response.Status.SUBMITTED,
            answers={},
            language="sv",
            created_at=timezone.now(),
            updated_at=timezone.now(),
            submitted_at=timezone.now(),
        )
        walk.to(local(7, 4, 12))
        skipped = Firing.objects.get(
            enrolment=enrolment, rule="follow-up-reminder", occasion="due:2026-06-26"
        )
        assert skipped.status == "skipped" and "unanswered" in skipped.result["reason"]

    # Every message once; the missed diary days each had one reminder.
    assert messages(enrolment) == {
        "welcome": 1,
        "quit-day-eve": 1,
        "quit-day-morning": 1,
        "check-in-day-3": 1,
        "check-in-day-7": 1,
        "check-in-week-4": 1,
        "inactive-two-weeks": 1,
        "follow-up-due": 1,
    }
    missed_days = set(
        Firing.objects.filter(enrolment=enrolment, rule="diary-missed", status="done").values_list(
            "occasion", flat=True
        )
    )
    answered = set(
        Response.objects.filter(enrolment=enrolment, questionnaire_id="diary").values_list(
            "day", flat=True
        )
    )
    expected = {
        f"due:{day.isoformat()}"
        for day in (datetime.date(2026, 3, 20) + datetime.timedelta(days=n) for n in range(0, 105))
        # Reminded on the next evening, up to 28 days after the quit date (25 April).
        if day not in answered and day <= datetime.date(2026, 4, 24)
    }
    assert missed_days == expected
    reminders = reminder_firings(enrolment)
    assert reminders["diary-missed"] == len(expected)
    assert reminders["inactive-one-week"] == 1
    assert reminders["follow-up-due"] == 1
    assert "follow-up-reminder" not in reminders
    # One notification per reminder (the patient has an e-mail address only) plus one per
    # message, save those sent while an earlier message was still unread.
    sent = Notification.objects.filter(patient=world.patient, kind="reminder").count()
    assert sent == sum(reminders.values())
    assert RuleFlag.objects.filter(enrolment=enrolment).count() == 2
    # No firing twice for the same occasion; nothing left failed.
    occasions = Firing.objects.filter(enrolment=enrolment).values_list("rule", "occasion")
    assert len(occasions) == len(set(occasions))
    assert not Firing.objects.filter(enrolment=enrolment, status="failed").exists()
