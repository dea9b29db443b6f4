"""When a questionnaire is due, and which days can still be filled in."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from steg.questionnaires.definition import Schedule
from steg.questionnaires.schedule import (
    Occurrence,
    fillable_days,
    is_fillable,
    occurrence_days,
    occurrences,
)

START = date(2026, 3, 2)  # a Monday
QUIT = date(2026, 3, 16)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def days(schedule: Schedule, until: date, *, quit_date: date | None = QUIT) -> list[date]:
    return occurrence_days(schedule, start=START, quit_date=quit_date, until=until)


def statuses(
    schedule: Schedule, today: date, done: set[date] | None = None, lookahead: int = 0
) -> list[tuple[date, str]]:
    found = occurrences(
        schedule,
        start=START,
        quit_date=QUIT,
        today=today,
        done_days=done or set(),
        lookahead=lookahead,
    )
    return [(o.day, o.status) for o in found]


# --------------------------------------------------------------------------- occurrence days


def test_once_is_due_on_the_start_day_by_default() -> None:
    assert days(Schedule(), until=d(3, 31)) == [START]


def test_once_counts_start_day_from_the_anchor() -> None:
    assert days(Schedule(kind="once", start_day=3), until=d(3, 31)) == [d(3, 5)]
    assert days(Schedule(kind="once", anchor="quit_date", start_day=1), until=d(3, 31)) == [
        d(3, 17)
    ]


def test_nothing_is_due_before_its_day() -> None:
    assert days(Schedule(kind="once", start_day=3), until=d(3, 4)) == []
    assert days(Schedule(kind="daily"), until=START - timedelta(days=1)) == []


def test_daily_runs_from_start_day_to_end_day_inclusive() -> None:
    schedule = Schedule(kind="daily", start_day=1, end_day=4)

    assert days(schedule, until=d(12, 31)) == [d(3, 3), d(3, 4), d(3, 5), d(3, 6)]


def test_daily_without_end_day_stops_at_until() -> None:
    schedule = Schedule(kind="daily")

    assert days(schedule, until=d(3, 5)) == [d(3, 2), d(3, 3), d(3, 4), d(3, 5)]


def test_daily_with_end_day_before_start_day_is_never_due() -> None:
    assert days(Schedule(kind="daily", start_day=5, end_day=2), until=d(12, 31)) == []


def test_weekly_is_every_seventh_day_from_start_day() -> None:
    schedule = Schedule(kind="weekly", start_day=2)

    assert days(schedule, until=d(3, 25)) == [d(3, 4), d(3, 11), d(3, 18), d(3, 25)]


def test_weekly_end_day_is_inclusive_but_need_not_fall_on_an_occurrence() -> None:
    assert days(Schedule(kind="weekly", end_day=14), until=d(12, 31)) == [
        d(3, 2),
        d(3, 9),
        d(3, 16),
    ]
    assert days(Schedule(kind="weekly", end_day=13), until=d(12, 31)) == [d(3, 2), d(3, 9)]


def test_offsets_are_follow_ups_after_the_anchor_sorted_and_distinct() -> None:
    schedule = Schedule(kind="offsets", anchor="quit_date", offsets=(90, 30, 180, 30))

    assert days(schedule, until=d(12, 31)) == [
        QUIT + timedelta(days=30),
        QUIT + timedelta(days=90),
        QUIT + timedelta(days=180),
    ]
    assert days(schedule, until=QUIT + timedelta(days=89)) == [QUIT + timedelta(days=30)]


def test_quit_date_anchor_without_a_quit_date_is_never_due() -> None:
    for kind in ("once", "daily", "weekly", "offsets"):
        schedule = Schedule(kind=kind, anchor="quit_date", offsets=(0, 7))
        assert days(schedule, until=d(12, 31), quit_date=None) == []


def test_start_anchor_ignores_the_quit_date() -> None:
    schedule = Schedule(kind="daily", end_day=1)

    assert days(schedule, until=d(12, 31), quit_date=None) == [d(3, 2), d(3, 3)]
    assert days(schedule, until=d(12, 31), quit_date=d(3, 20)) == [d(3, 2), d(3, 3)]


def test_daily_anchored_on_quit_date() -> None:
    schedule = Schedule(kind="daily", anchor="quit_date", end_day=2)

    assert days(schedule, until=d(12, 31)) == [d(3, 16), d(3, 17), d(3, 18)]


def test_negative_days_count_back_from_the_anchor() -> None:
    schedule = Schedule(kind="daily", anchor="quit_date", start_day=-2, end_day=0)

    assert days(schedule, until=d(12, 31)) == [d(3, 14), d(3, 15), d(3, 16)]


def test_an_unbounded_diary_stops_at_the_last_date_python_knows() -> None:
    schedule = Schedule(kind="daily")

    found = occurrence_days(schedule, start=date.max, quit_date=None, until=date.max)

    assert found == [date.max]


# --------------------------------------------------------------------------- statuses


def test_diary_statuses_with_backfill() -> None:
    schedule = Schedule(kind="daily", backfill_days=2)
    today = d(3, 6)

    assert statuses(schedule, today, done={d(3, 3)}, lookahead=1) == [
        (d(3, 2), "missed"),
        (d(3, 3), "done"),
        (d(3, 4), "late"),
        (d(3, 5), "late"),
        (d(3, 6), "due"),
        (d(3, 7), "upcoming"),
    ]


def test_diary_without_backfill_only_today_is_open() -> None:
    schedule = Schedule(kind="daily")

    assert statuses(schedule, d(3, 3)) == [(d(3, 2), "missed"), (d(3, 3), "due")]


def test_done_today_is_done() -> None:
    schedule = Schedule(kind="daily")

    assert statuses(schedule, d(3, 2), done={d(3, 2)}) == [(d(3, 2), "done")]


def test_once_stays_due_after_its_day_until_done() -> None:
    schedule = Schedule(kind="once", start_day=1)

    assert statuses(schedule, d(3, 2), lookahead=5) == [(d(3, 3), "upcoming")]
    assert statuses(schedule, d(3, 3)) == [(d(3, 3), "due")]
    assert statuses(schedule, d(9, 1)) == [(d(3, 3), "due")]
    assert statuses(schedule, d(9, 1), done={d(3, 3)}) == [(d(3, 3), "done")]


def test_follow_ups_follow_backfill() -> None:
    schedule = Schedule(kind="offsets", offsets=(0, 7), backfill_days=3)

    assert statuses(schedule, d(3, 12)) == [(d(3, 2), "missed"), (d(3, 9), "late")]
    assert statuses(schedule, d(3, 13)) == [(d(3, 2), "missed"), (d(3, 9), "missed")]


def test_lookahead_shows_upcoming_days() -> None:
    schedule = Schedule(kind="weekly")

    assert statuses(schedule, d(3, 2), lookahead=14) == [
        (d(3, 2), "due"),
        (d(3, 9), "upcoming"),
        (d(3, 16), "upcoming"),
    ]


def test_occurrences_are_occurrence_objects() -> None:
    found = occurrences(Schedule(), start=START, quit_date=None, today=START, done_days=())

    assert found == [Occurrence(START, "due")]


# --------------------------------------------------------------------------- fillable


def test_fillable_days_are_due_and_late_newest_first() -> None:
    schedule = Schedule(kind="daily", backfill_days=3)

    found = fillable_days(schedule, start=START, quit_date=None, today=d(3, 6), done_days={d(3, 4)})

    assert found == [d(3, 6), d(3, 5), d(3, 3)]


def test_is_fillable_refuses_future_old_and_unscheduled_days() -> None:
    schedule = Schedule(kind="weekly", backfill_days=2)
    today = d(3, 10)

    def fillable(day: date) -> bool:
        return is_fillable(schedule, day, start=START, quit_date=None, today=today)

    assert fillable(d(3, 9))  # last week's entry, one day late
    assert not fillable(d(3, 10))  # not a weekly day
    assert not fillable(d(3, 16))  # future
    assert not fillable(d(3, 2))  # too old
    assert not fillable(d(2, 23))  # before the start
    assert not fillable(d(3, 11))


def test_is_fillable_once_any_time_after_it_opens() -> None:
    schedule = Schedule(kind="once", start_day=7)

    def fillable(day: date, today: date) -> bool:
        return is_fillable(schedule, day, start=START, quit_date=None, today=today)

    assert not fillable(d(3, 9), today=d(3, 8))
    assert fillable(d(3, 9), today=d(3, 9))
    assert fillable(d(3, 9), today=d(12, 24))
    assert not fillable(d(3, 10), today=d(12, 24))


def test_is_fillable_without_quit_date_is_false_for_quit_date_schedules() -> None:
    schedule = Schedule(kind="daily", anchor="quit_date")

    assert not is_fillable(schedule, START, start=START, quit_date=None, today=START)
    assert is_fillable(schedule, START, start=START, quit_date=START, today=START)


def test_is_fillable_respects_the_end_of_a_diary() -> None:
    schedule = Schedule(kind="daily", end_day=2, backfill_days=5)

    def fillable(day: date) -> bool:
        return is_fillable(schedule, day, start=START, quit_date=None, today=d(3, 6))

    assert [fillable(d(3, n)) for n in range(1, 8)] == [
        False,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


# --------------------------------------------------------------------------- properties

schedules = st.builds(
    Schedule,
    kind=st.sampled_from(["once", "daily", "weekly", "offsets"]),
    anchor=st.sampled_from(["start", "quit_date"]),
    start_day=st.integers(min_value=0, max_value=60),
    end_day=st.none() | st.integers(min_value=0, max_value=120),
    offsets=st.lists(st.integers(min_value=0, max_value=200), max_size=5).map(tuple),
    backfill_days=st.integers(min_value=0, max_value=10),
)
anchors = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31))
spans = st.integers(min_value=-20, max_value=300)


@given(schedules, anchors, st.none() | anchors, spans)
def test_occurrence_days_are_sorted_distinct_and_between_anchor_and_until(
    schedule: Schedule, start: date, quit_date: date | None, span: int
) -> None:
    until = start + timedelta(days=span)
    found = occurrence_days(schedule, start=start, quit_date=quit_date, until=until)
    anchor = start if schedule.anchor == "start" else quit_date

    assert found == sorted(set(found))
    if anchor is None:
        assert found == []
    for day in found:
        assert anchor is not None
        assert anchor <= day <= until


@given(schedules, anchors, st.none() | anchors, spans, spans)
def test_occurrence_days_up_to_a_later_day_extend_the_earlier(
    schedule: Schedule, start: date, quit_date: date | None, span: int, more: int
) -> None:
    until = start + timedelta(days=span)
    later = until + timedelta(days=abs(more))

    short = occurrence_days(schedule, start=start, quit_date=quit_date, until=until)
    long = occurrence_days(schedule, start=start, quit_date=quit_date, until=later)

    assert short == [day for day in long if day <= until]


@given(schedules, anchors, st.none() | anchors, spans, st.data())
def test_fillable_days_agree_with_statuses_and_is_fillable(
    schedule: Schedule, start: date, quit_date: date | None, span: int, data: st.DataObject
) -> None:
    today = start + timedelta(days=span)
    every = occurrence_days(schedule, start=start, quit_date=quit_date, until=today)
    done = set(data.draw(st.lists(st.sampled_from(every), unique=True) if every else st.just([])))

    fillable = fillable_days(
        schedule, start=start, quit_date=quit_date, today=today, done_days=done
    )

    assert set(fillable) <= set(every)
    assert fillable == sorted(fillable, reverse=True)
    assert not set(fillable) & done
    assert all(day <= today for day in fillable)
    for day in [start + timedelta(days=n) for n in range(-15, 330)]:
        fillable_today = is_fillable(schedule, day, start=start, quit_date=quit_date, today=today)
        if day in done:  # a done day is open to corrections while its occurrence is open
            assert fillable_today == (
                day in every
                and (schedule.kind == "once" or (today - day).days <= schedule.backfill_days)
            )
        else:
            assert fillable_today == (day in fillable)


@given(schedules, anchors, st.none() | anchors, spans, st.integers(min_value=0, max_value=30))
def test_is_fillable_agrees_with_fillable_days_when_nothing_is_done(
    schedule: Schedule, start: date, quit_date: date | None, span: int, probe: int
) -> None:
    today = start + timedelta(days=span)
    fillable = set(
        fillable_days(schedule, start=start, quit_date=quit_date, today=today, done_days=())
    )

    for day in [today - timedelta(days=n) for n in range(-3, probe + 15)]:
        assert is_fillable(schedule, day, start=start, quit_date=quit_date, today=today) == (
            day in fillable
        )


@given(schedules, anchors, st.none() | anchors, spans, st.integers(min_value=1, max_value=60))
def test_no_future_day_is_fillable(
    schedule: Schedule, start: date, quit_date: date | None, span: int, ahead: int
) -> None:
    today = start + timedelta(days=span)
    future = today + timedelta(days=ahead)

    assert not is_fillable(schedule, future, start=start, quit_date=quit_date, today=today)
    assert all(
        o.status == "upcoming"
        for o in occurrences(
            schedule, start=start, quit_date=quit_date, today=today, done_days=(), lookahead=60
        )
        if o.day > today
    )


@given(schedules, anchors, st.none() | anchors, spans)
def test_each_occurrence_has_exactly_the_status_its_day_implies(
    schedule: Schedule, start: date, quit_date: date | None, span: int
) -> None:
    today = start + timedelta(days=span)
    found = occurrences(
        schedule, start=start, quit_date=quit_date, today=today, done_days=(), lookahead=10
    )

    for o in found:
        if o.day > today:
            assert o.status == "upcoming"
        elif o.day == today or schedule.kind == "once":
            assert o.status == "due"
        elif (today - o.day).days <= schedule.backfill_days:
            assert o.status == "late"
        else:
            assert o.status == "missed"


# --------------------------------------------------------------------------- requested days


def test_a_requested_day_is_open_from_its_day_until_done_whatever_the_schedule() -> None:
    schedule = Schedule(kind="offsets", anchor="quit_date", offsets=(90,))
    requested = {d(3, 10)}

    def fillable(today: date, done: set[date]) -> list[date]:
        return fillable_days(
            schedule,
            start=START,
            quit_date=None,
            today=today,
            done_days=done,
            requested_days=requested,
        )

    assert fillable(d(3, 9), set()) == []  # not yet
    assert fillable(d(3, 10), set()) == [d(3, 10)]
    assert fillable(d(6, 1), set()) == [d(3, 10)]  # no backfill limit, like `once`
    assert fillable(d(6, 1), {d(3, 10)}) == []
    assert is_fillable(
        schedule, d(3, 10), start=START, quit_date=None, today=d(6, 1), requested_days=requested
    )
    assert not is_fillable(
        schedule, d(3, 10), start=START, quit_date=None, today=d(3, 9), requested_days=requested
    )


@given(schedules, anchors, st.none() | anchors, spans, st.data())
def test_requested_days_add_to_the_scheduled_ones(
    schedule: Schedule, start: date, quit_date: date | None, span: int, data: st.DataObject
) -> None:
    today = start + timedelta(days=span)
    near = st.integers(min_value=-40, max_value=10).map(lambda n: today + timedelta(days=n))
    requested = set(data.draw(st.lists(near, max_size=4)))
    every = occurrence_days(schedule, start=start, quit_date=quit_date, until=today)
    done = set(data.draw(st.lists(st.sampled_from(sorted(set(every) | requested or {today})))))

    scheduled = fillable_days(
        schedule, start=start, quit_date=quit_date, today=today, done_days=done
    )
    fillable = fillable_days(
        schedule,
        start=start,
        quit_date=quit_date,
        today=today,
        done_days=done,
        requested_days=requested,
    )

    opened = {day for day in requested if day <= today} - done
    assert fillable == sorted(set(scheduled) | opened, reverse=True)
    for day in requested | set(every):
        if day not in done:
            assert is_fillable(
                schedule,
                day,
                start=start,
                quit_date=quit_date,
                today=today,
                requested_days=requested,
            ) == (day in fillable)
