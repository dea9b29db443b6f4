"""Each flag of the dashboard appears when the patient's data calls for it and clears when it
has been handled; the counters follow the rows."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steg.care.actions import assign_therapist, change_status
from steg.care.meetings import book_meeting, cancel_meeting
from steg.care.models import Enrolment, Meeting
from steg.dashboard.attention import (
    attention_changed,
    rebuild_all,
    refresh_stale,
    refresh_time_based,
)
from steg.dashboard.models import Attention, FlagCounts
from steg.dialog.messages import send_message
from steg.dialog.models import Message
from steg.programmes.actions import record_page_view, save_exercise
from steg.programmes.models import Page, ProgrammeVersion
from steg.questionnaires import actions as questionnaire_actions
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response
from steg.testing.personas import World

from .utils import (
    assert_counters_match_rows,
    committed,
    days_ago,
    flags,
    make_patient,
    request_as,
    row,
)

STOCKHOLM = timezone.get_fixed_timezone(60)  # CET, for times written in winter


def staff_message(world: World, enrolment: Enrolment, *, kind: str = "", key: str = "") -> Message:
    message = Message.objects.create(
        enrolment=enrolment,
        sender=world.therapist,
        sender_role=Message.SenderRole.STAFF,
        body="Bra jobbat!",
        link_kind=kind,
        link_key=key,
    )
    attention_changed(message.enrolment_id)
    return message


def patient_message(world: World, enrolment: Enrolment) -> Message:
    message = Message.objects.create(
        enrolment=enrolment,
        sender=world.patient_user,
        sender_role=Message.SenderRole.PATIENT,
        body="Hej, jag har en fråga.",
    )
    attention_changed(message.enrolment_id)
    return message


# --- unread messages ------------------------------------------------------------------------


def test_a_message_from_the_patient_is_unread_until_staff_read_it(world: World) -> None:
    enrolment = world.enrolment
    patient_message(world, enrolment)
    patient_message(world, enrolment)
    assert "unread" in flags(enrolment)
    assert row(enrolment).unread_messages == 2
    assert_counters_match_rows()

    Message.objects.filter(enrolment=enrolment).update(
        read_at=timezone.now(), read_by=world.therapist
    )
    attention_changed(enrolment.pk)
    assert "unread" not in flags(enrolment)
    assert_counters_match_rows()


def test_the_therapist_opening_the_conversation_clears_unread(world: World) -> None:
    messages = pytest.importorskip("steg.dialog.messages")
    enrolment = world.enrolment
    with committed():
        messages.send_message(
            enrolment=enrolment,
            sender=world.patient_user,
            role=Message.SenderRole.PATIENT,
            body="Hej! Hur gör jag med nikotinplåster?",
            client_token="t1",
            request=None,
        )
    assert row(enrolment).unread_messages == 1

    with committed():
        messages.mark_thread_read(
            enrolment=enrolment, reader=world.therapist, as_staff=True, request=None
        )
    assert "unread" not in flags(enrolment)
    assert_counters_match_rows()


def test_staff_and_automatic_messages_are_not_unread_for_staff(world: World) -> None:
    staff_message(world, world.enrolment)
    Message.objects.create(
        enrolment=world.enrolment, sender_role=Message.SenderRole.SYSTEM, body="Automatisk"
    )
    attention_changed(world.enrolment.pk)
    assert "unread" not in flags(world.enrolment)


# --- awaiting feedback ------------------------------------------------------------------------


def submit_exercise(world: World, enrolment: Enrolment, text: str = "För min hälsa") -> None:
    page = Page.objects.get(version=world.enrolment.programme_version, key="first-exercise")
    with committed():
        save_exercise(
            enrolment=enrolment,
            page=page,
            key="why-try",
            text=text,
            submit=True,
            token=text,
            request=request_as(world.patient_user),
        )


def test_a_submitted_exercise_awaits_feedback_until_staff_link_a_message(world: World) -> None:
    enrolment = world.enrolment
    submit_exercise(world, enrolment)
    assert "feedback" in flags(enrolment)
    assert row(enrolment).awaiting_feedback == 1

    staff_message(world, enrolment)  # a message not linked to the exercise is not feedback
    assert "feedback" in flags(enrolment)

    staff_message(world, enrolment, kind="exercise", key="why-try")
    assert "feedback" not in flags(enrolment)
    assert_counters_match_rows()


def test_an_exercise_submitted_again_after_feedback_awaits_feedback_again(world: World) -> None:
    enrolment = world.enrolment
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=2), tick=False):
        submit_exercise(world, enrolment, "Första svaret")
        staff_message(world, enrolment, kind="exercise", key="why-try")
    assert "feedback" not in flags(enrolment)

    submit_exercise(world, enrolment, "Andra svaret")
    assert "feedback" in flags(enrolment)


def test_a_draft_is_not_awaiting_feedback(world: World) -> None:
    page = Page.objects.get(version=world.enrolment.programme_version, key="first-exercise")
    save_exercise(
        enrolment=world.enrolment,
        page=page,
        key="why-try",
        text="Ett utkast",
        submit=False,
        token="x",
        request=request_as(world.patient_user),
    )
    attention_changed(world.enrolment.pk)
    assert "feedback" not in flags(world.enrolment)


def test_self_help_treatments_await_no_feedback(world: World) -> None:
    world.enrolment.guided = False
    world.enrolment.save(update_fields=["guided"])
    submit_exercise(world, world.enrolment)
    assert "feedback" not in flags(world.enrolment)


# --- score flags --------------------------------------------------------------------------------


def submit_mood(world: World, *, feeling: str, stress: int) -> Response:
    version = world.enrolment.programme_version
    questionnaire = get_questionnaire(version, "mood")
    assert questionnaire is not None
    with committed():
        return questionnaire_actions.submit(
            enrolment=world.enrolment,
            questionnaire=questionnaire,
            day=timezone.localdate(),
            answers={"feeling": (feeling,), "stress": (stress,)},
            language="sv",
            token="mood-1",
        )


def test_a_response_that_raises_a_score_flag_flags_until_staff_give_feedback(
    world: World,
) -> None:
    response = submit_mood(world, feeling="bad", stress=9)
    assert response.score is not None and response.score["flags"] == ["very-hard-week"]
    assert {"score", "feedback"} <= flags(world.enrolment)
    assert row(world.enrolment).score_flags == 1

    staff_message(
        world, world.enrolment, kind="questionnaire", key=f"mood/{response.day.isoformat()}"
    )
    assert not {"score", "feedback"} & flags(world.enrolment)
    assert_counters_match_rows()


def test_a_response_without_a_flag_raises_none(world: World) -> None:
    submit_mood(world, feeling="good", stress=1)
    assert "score" not in flags(world.enrolment)
    assert "feedback" in flags(world.enrolment)  # still something to comment on


# --- slips and relapses (the tobacco programme) -----------------------------------------------


def diary(enrolment: Enrolment, day: datetime.date, *, used: bool) -> Response:
    now = timezone.now()
    response = Response.objects.create(
        enrolment=enrolment,
        questionnaire_id="diary",
        day=day,
        status=Response.Status.SUBMITTED,
        answers={"used": [used], "craving": [5]},
        language="sv",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    attention_changed(response.enrolment_id)
    return response


def test_tobacco_used_after_the_quit_date_is_a_slip_until_staff_write(
    world: World, tobacco: ProgrammeVersion
) -> None:
    enrolment = make_patient(world, 1, version=tobacco, quit_date=days_ago(5))
    diary(enrolment, days_ago(6), used=True)  # before the quit date: no slip
    diary(enrolment, days_ago(1), used=False)
    assert "slip" not in flags(enrolment)

    diary(enrolment, days_ago(0), used=True)
    assert "slip" in flags(enrolment)
    assert row(enrolment).slip_reported_at is not None
    assert_counters_match_rows()

    staff_message(world, enrolment)
    assert "slip" not in flags(enrolment)
    assert_counters_match_rows()


def test_a_new_slip_after_staff_wrote_flags_again(world: World, tobacco: ProgrammeVersion) -> None:
    enrolment = make_patient(world, 1, version=tobacco, quit_date=days_ago(5))
    with time_machine.travel(timezone.now() - datetime.timedelta(days=2), tick=False):
        diary(enrolment, days_ago(3), used=True)
        staff_message(world, enrolment)
    assert "slip" not in flags(enrolment)
    diary(enrolment, days_ago(0), used=True)
    assert "slip" in flags(enrolment)


def test_the_slip_rule_is_the_tobacco_programmes_only(world: World) -> None:
    world.enrolment.quit_date = days_ago(5)
    world.enrolment.save(update_fields=["quit_date"])
    diary(world.enrolment, days_ago(0), used=True)  # the example programme's diary
    assert "slip" not in flags(world.enrolment)


# --- inactivity --------------------------------------------------------------------------------


def test_a_patient_with_no_activity_for_a_week_is_inactive_until_active_again(
    world: World,
) -> None:
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
    with time_machine.travel(start, tick=False):
        enrolment = make_patient(world, 1, started_at=timezone.now())
        rebuild_all()  # every treatment has its row
        assert "inactive" not in flags(enrolment)
    with time_machine.travel(start + datetime.timedelta(days=6), tick=False):
        assert refresh_time_based() == 0
        assert "inactive" not in flags(enrolment)
    with time_machine.travel(start + datetime.timedelta(days=7, minutes=1), tick=False):
        assert refresh_time_based() == 1
        assert "inactive" in flags(enrolment)
        assert refresh_time_based() == 0  # nothing changes twice
        assert_counters_match_rows()

        page = Page.objects.get(version=enrolment.programme_version, key="welcome")
        with committed():
            record_page_view(enrolment=enrolment, page=page, request=request_as(world.patient_user))
        assert "inactive" not in flags(enrolment)
        assert_counters_match_rows()


def test_paused_and_invited_treatments_are_never_inactive(world: World) -> None:
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
    with time_machine.travel(start, tick=False):
        enrolment = make_patient(world, 1, started_at=timezone.now())
        attention_changed(enrolment.pk)
    with time_machine.travel(start + datetime.timedelta(days=10), tick=False):
        refresh_time_based()
        assert "inactive" in flags(enrolment)
        with committed():
            change_status(enrolment, "paused", actor=world.therapist, reason="Semester")
        assert "inactive" not in flags(enrolment)
        refresh_time_based()
        assert "inactive" not in flags(enrolment)
        assert_counters_match_rows()


def test_page_views_move_the_last_activity_at_most_every_ten_minutes(world: World) -> None:
    enrolment = world.enrolment
    attention_changed(enrolment.pk)
    page = Page.objects.get(version=enrolment.programme_version, key="welcome")
    start = timezone.now() + datetime.timedelta(hours=1)
    with time_machine.travel(start - datetime.timedelta(minutes=30), tick=False), committed():
        record_page_view(enrolment=enrolment, page=page, request=request_as(world.patient_user))
    with time_machine.travel(start, tick=False):
        with CaptureQueriesContext(connection) as first, committed():
            record_page_view(enrolment=enrolment, page=page, request=request_as(world.patient_user))
        assert row(enrolment).last_activity_at == start
    with time_machine.travel(start + datetime.timedelta(minutes=5), tick=False):
        with CaptureQueriesContext(connection) as second, committed():
            record_page_view(enrolment=enrolment, page=page, request=request_as(world.patient_user))
        assert row(enrolment).last_activity_at == start
    with time_machine.travel(start + datetime.timedelta(minutes=11), tick=False), committed():
        record_page_view(enrolment=enrolment, page=page, request=request_as(world.patient_user))
    with time_machine.travel(start + datetime.timedelta(minutes=11), tick=False):
        assert row(enrolment).last_activity_at == start + datetime.timedelta(minutes=11)
    # Within ten minutes, the dashboard costs a page view one UPDATE that changes nothing;
    # after ten, that UPDATE moves the time, and one SELECT checks the patient was not inactive.
    dashboard = [q["sql"] for q in second.captured_queries if "dashboard_attention" in q["sql"]]
    assert len(dashboard) == 1 and dashboard[0].startswith("UPDATE")
    assert len(first.captured_queries) == len(second.captured_queries) + 1


# --- follow-up ---------------------------------------------------------------------------------


def submit_follow_up(enrolment: Enrolment, day: datetime.date) -> None:
    now = timezone.now()
    response = Response.objects.create(
        enrolment=enrolment,
        questionnaire_id="follow-up",
        day=day,
        status=Response.Status.SUBMITTED,
        answers={},
        language="sv",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    attention_changed(response.enrolment_id)


def test_a_follow_up_is_due_from_its_day_until_answered(
    world: World, tobacco: ProgrammeVersion
) -> None:
    # The tobacco programme's follow-ups: 90, 180 and 365 days after the quit date, open 30 days.
    quit_date = datetime.date(2026, 1, 5)
    day_90 = quit_date + datetime.timedelta(days=90)
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, 0, tzinfo=STOCKHOLM)):
        enrolment = make_patient(world, 1, version=tobacco, quit_date=quit_date)
        attention_changed(enrolment.pk)
        assert "follow-up" not in flags(enrolment)
        assert row(enrolment).followup_opens_on == day_90
    with time_machine.travel(datetime.datetime(2026, 4, 5, 8, 0, tzinfo=STOCKHOLM)):
        refresh_time_based()
        assert "follow-up" in flags(enrolment)
        assert_counters_match_rows()
        submit_follow_up(enrolment, day_90)
        assert "follow-up" not in flags(enrolment)
        assert row(enrolment).followup_opens_on == quit_date + datetime.timedelta(days=180)
        assert_counters_match_rows()


def test_a_follow_up_not_answered_in_time_is_no_longer_due(
    world: World, tobacco: ProgrammeVersion
) -> None:
    quit_date = datetime.date(2026, 1, 5)
    with time_machine.travel(datetime.datetime(2026, 4, 5, 8, 0, tzinfo=STOCKHOLM)):
        enrolment = make_patient(world, 1, version=tobacco, quit_date=quit_date)
        attention_changed(enrolment.pk)
        assert "follow-up" in flags(enrolment)
    # Day 90 (5 April) can be answered for 30 more days, up to 5 May.
    with time_machine.travel(datetime.datetime(2026, 5, 5, 22, 0, tzinfo=STOCKHOLM)):
        refresh_time_based()
        assert "follow-up" in flags(enrolment)
    with time_machine.travel(datetime.datetime(2026, 5, 6, 8, 0, tzinfo=STOCKHOLM)):
        refresh_time_based()
        assert "follow-up" not in flags(enrolment)
        assert row(enrolment).followup_opens_on == quit_date + datetime.timedelta(days=180)
        assert_counters_match_rows()


def test_follow_ups_are_not_due_in_a_paused_treatment(
    world: World, tobacco: ProgrammeVersion
) -> None:
    with time_machine.travel(datetime.datetime(2026, 4, 5, 8, 0, tzinfo=STOCKHOLM)):
        enrolment = make_patient(world, 1, version=tobacco, quit_date=datetime.date(2026, 1, 5))
        attention_changed(enrolment.pk)
        assert "follow-up" in flags(enrolment)
        with committed():
            change_status(enrolment, "paused", actor=world.therapist, reason="Sjukhusvistelse")
        assert "follow-up" not in flags(enrolment)


# --- meetings ----------------------------------------------------------------------------------


def book(world: World, starts_at: datetime.datetime) -> Meeting:
    with committed():
        return book_meeting(
            patient=world.patient,
            unit=world.unit,
            therapist=world.therapist,
            starts_at=starts_at,
            duration_minutes=30,
            mode="phone",
            kind=Meeting.Kind.FOLLOW_UP,
            enrolment=world.enrolment,
            actor=world.therapist,
        )


def test_a_meeting_booked_for_today_flags_the_day_until_cancelled(world: World) -> None:
    with time_machine.travel(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)):
        meeting = book(world, datetime.datetime(2026, 3, 2, 14, 0, tzinfo=STOCKHOLM))
        assert "meeting" in flags(world.enrolment)
        assert row(world.enrolment).next_meeting_at == meeting.starts_at
        assert_counters_match_rows()
        with committed():
            cancel_meeting(meeting, actor=world.therapist)
        assert "meeting" not in flags(world.enrolment)
        assert row(world.enrolment).next_meeting_at is None
        assert_counters_match_rows()


def test_a_meeting_is_flagged_on_its_day_in_swedish_time(world: World) -> None:
    with time_machine.travel(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)):
        meeting = book(world, datetime.datetime(2026, 3, 4, 0, 30, tzinfo=STOCKHOLM))
        assert "meeting" not in flags(world.enrolment)
        assert row(world.enrolment).next_meeting_at == meeting.starts_at
    # 23:30 UTC on 3 March is already 4 March in Stockholm.
    with time_machine.travel(datetime.datetime(2026, 3, 3, 23, 10, tzinfo=datetime.UTC)):
        refresh_time_based()
        assert "meeting" in flags(world.enrolment)
        assert_counters_match_rows()
    with time_machine.travel(datetime.datetime(2026, 3, 5, 7, 0, tzinfo=STOCKHOLM)):
        refresh_time_based()
        assert "meeting" not in flags(world.enrolment)
        assert row(world.enrolment).next_meeting_at is None
        assert_counters_match_rows()


def test_moving_a_meeting_to_another_day_clears_today(world: World) -> None:
    from steg.care.meetings import reschedule_meeting

    with time_machine.travel(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)):
        meeting = book(world, datetime.datetime(2026, 3, 2, 14, 0, tzinfo=STOCKHOLM))
        assert "meeting" in flags(world.enrolment)
        with committed():
            reschedule_meeting(
                meeting,
                starts_at=datetime.datetime(2026, 3, 9, 14, 0, tzinfo=STOCKHOLM),
                duration_minutes=30,
                mode="phone",
                actor=world.therapist,
            )
        assert "meeting" not in flags(world.enrolment)


# --- the row as a whole ----------------------------------------------------------------------


def test_priority_puts_slips_and_score_flags_before_the_rest(world: World) -> None:
    enrolment = world.enrolment
    patient_message(world, enrolment)
    submit_mood(world, feeling="bad", stress=10)
    attention = row(enrolment)
    assert [flag.key for flag in attention.flags] == ["score", "unread", "feedback"]
    assert attention.priority == 64 + 16 + 8


def test_an_ended_treatment_leaves_the_dashboard(world: World) -> None:
    patient_message(world, world.enrolment)
    assert Attention.objects.filter(pk=world.enrolment.pk).exists()
    with committed():
        change_status(world.enrolment, "completed", actor=world.therapist)
    assert not Attention.objects.filter(pk=world.enrolment.pk).exists()
    assert_counters_match_rows()


def test_a_handover_moves_the_patient_to_the_new_therapist(world: World) -> None:
    patient_message(world, world.enrolment)
    with committed():
        assign_therapist(world.enrolment, therapist=world.unit_admin, actor=world.therapist)
    assert row(world.enrolment).therapist_id == world.unit_admin.pk
    mine = FlagCounts.objects.get(unit=world.unit, therapist=world.therapist)
    theirs = FlagCounts.objects.get(unit=world.unit, therapist=world.unit_admin)
    assert (mine.patients, mine.unread) == (0, 0)
    assert (theirs.patients, theirs.unread) == (1, 1)
    assert_counters_match_rows()


def test_recomputing_one_treatment_takes_the_same_queries_however_long_its_history(
    world: World,
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            attention_changed(world.enrolment.pk)
        return len(captured.captured_queries)

    attention_changed(world.enrolment.pk)
    few = queries()
    for _ in range(20):
        patient_message(world, world.enrolment)
        staff_message(world, world.enrolment, kind="exercise", key="why-try")
    submit_exercise(world, world.enrolment)
    submit_mood(world, feeling="bad", stress=10)
    attention_changed(world.enrolment.pk)  # the patient's changes only marked the row stale
    assert queries() == few


def test_rebuilding_gives_the_rows_and_counts_the_actions_kept(
    world: World, tobacco: ProgrammeVersion
) -> None:
    patient_message(world, world.enrolment)
    submit_mood(world, feeling="bad", stress=10)
    slipping = make_patient(world, 1, version=tobacco, quit_date=days_ago(3))
    diary(slipping, days_ago(0), used=True)
    fields = (
        "unit",
        "therapist",
        "patients",
        "slip",
        "score_flags",
        "rule_flags",
        "unread",
        "inactive",
    )
    refresh_stale()  # what the dashboard does before it reads the rows
    kept_rows = {a.pk: a.priority for a in Attention.objects.all()}
    kept_counts = list(FlagCounts.objects.order_by("unit", "therapist").values(*fields))
    assert kept_rows == {world.enrolment.pk: 64 + 16 + 8, slipping.pk: 128}

    Attention.objects.all().delete()
    FlagCounts.objects.all().delete()
    # The world's two treatments (one at another unit, never touched so far) and this one.
    assert rebuild_all() == 3
    rebuilt = {a.pk: a.priority for a in Attention.objects.all()}
    assert {pk: rebuilt[pk] for pk in kept_rows} == kept_rows
    units = {world.unit.pk}
    rebuilt_counts = FlagCounts.objects.filter(unit__in=units).order_by("unit", "therapist")
    assert list(rebuilt_counts.values(*fields)) == kept_counts
    assert_counters_match_rows()


def test_the_scheduled_refresh_recomputes_rows_the_patient_made_stale(world: World) -> None:
    attention_changed(world.enrolment.pk)
    with committed():
        send_message(
            enrolment=world.enrolment,
            sender=world.patient_user,
            role=Message.SenderRole.PATIENT,
            body="Hej!",
            client_token="stale",
            request=None,
        )
    stale = Attention.objects.get(pk=world.enrolment.pk)
    assert stale.stale and stale.unread_messages == 0
    # The patient's activity moved at once (the automation's inactivity rules read it).
    sent = Message.objects.get(client_token="stale")
    assert stale.last_activity_at == stale.quiet_since == sent.created_at
    refresh_time_based()
    fresh = Attention.objects.get(pk=world.enrolment.pk)
    assert not fresh.stale and fresh.unread_messages == 1
    assert_counters_match_rows()
