"""Unlock rules: which steps of an enrolment are open, and when the others open."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steg.programmes.format import UnlockRule
from steg.programmes.unlock import EnrolmentState, StepAvailability, step_availability

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MICROSECOND = timedelta(microseconds=1)


def state(
    started_at: datetime = datetime(2026, 3, 2, 10, 0, tzinfo=STOCKHOLM),
    *,
    quit_date: date | None = None,
    completed: set[str] | None = None,
    opened: set[str] | None = None,
    timezone: str = "Europe/Stockholm",
) -> EnrolmentState:
    return EnrolmentState(
        started_at=started_at,
        quit_date=quit_date,
        completed_steps=frozenset(completed or ()),
        therapist_opened=frozenset(opened or ()),
        timezone=timezone,
    )


def one(rule: UnlockRule, enrolment: EnrolmentState, now: datetime) -> StepAvailability:
    return step_availability([("step", rule)], enrolment, now)[0]


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, zone: ZoneInfo = STOCKHOLM
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# --------------------------------------------------------------------------- each rule


def test_immediately_is_open_from_the_start() -> None:
    result = one(UnlockRule("immediately"), state(), local(2026, 3, 2, 10, 0))

    assert result == StepAvailability("step", unlocked=True, opens_at=None)


def test_after_previous_opens_when_the_previous_step_is_done() -> None:
    steps = [("a", UnlockRule("immediately")), ("b", UnlockRule("after_previous"))]
    now = local(2026, 3, 3, 9, 0)

    before = step_availability(steps, state(), now)
    after = step_availability(steps, state(completed={"a"}), now)

    assert [s.unlocked for s in before] == [True, False]
    assert [s.unlocked for s in after] == [True, True]
    assert after[1].opens_at is None


def test_after_previous_waits_while_the_previous_step_is_locked() -> None:
    steps = [
        ("a", UnlockRule("immediately")),
        ("b", UnlockRule("therapist")),
        ("c", UnlockRule("after_previous")),
    ]

    result = step_availability(steps, state(completed={"a", "b"}), local(2026, 3, 3))

    assert [s.unlocked for s in result] == [True, False, False]


def test_after_previous_on_the_first_step_has_nothing_to_wait_for() -> None:
    assert one(UnlockRule("after_previous"), state(), local(2026, 3, 2, 11)).unlocked


def test_days_after_start_opens_at_local_midnight() -> None:
    rule = UnlockRule("days_after_start", 7)

    result = one(rule, state(), local(2026, 3, 8, 23, 59))

    assert result == StepAvailability("step", unlocked=False, opens_at=local(2026, 3, 9))
    assert one(rule, state(), local(2026, 3, 9)).unlocked


def test_start_date_is_the_local_date_not_the_utc_date() -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Stockholm.
    started = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)

    result = one(UnlockRule("days_after_start", 1), state(started), started)

    assert result.opens_at == local(2026, 3, 3)


def test_zero_days_after_start_is_open_on_the_start_day() -> None:
    assert one(UnlockRule("days_after_start", 0), state(), local(2026, 3, 2, 10)).unlocked


def test_days_after_start_across_the_spring_dst_change() -> None:
    started = local(2026, 3, 28, 15, 0)  # clocks go forward at 02:00 on 29 March

    one_day = one(UnlockRule("days_after_start", 1), state(started), started)
    two_days = one(UnlockRule("days_after_start", 2), state(started), started)

    assert one_day.opens_at == local(2026, 3, 29)
    assert one_day.opens_at == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # still +01:00
    assert two_days.opens_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # now +02:00
    assert two_days.opens_at - one_day.opens_at == timedelta(hours=23)


def test_days_after_start_across_the_autumn_dst_change() -> None:
    started = local(2026, 10, 24, 12, 0)  # clocks go back at 03:00 on 25 October

    result = one(UnlockRule("days_after_start", 2), state(started), started)

    assert result.opens_at == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    just_before = datetime(2026, 10, 25, 22, 59, 59, 999999, tzinfo=UTC)
    assert not one(UnlockRule("days_after_start", 2), state(started), just_before).unlocked


def test_skipped_midnight_opens_when_the_day_begins() -> None:
    # Chile moves its clocks from 00:00 to 01:00 on 6 September 2026.
    santiago = ZoneInfo("America/Santiago")
    started = local(2026, 9, 5, 12, 0, zone=santiago)
    enrolment = state(started, timezone="America/Santiago")

    result = one(UnlockRule("days_after_start", 1), enrolment, started)

    assert result.opens_at == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert result.opens_at is not None
    assert result.opens_at.astimezone(santiago).isoformat() == "2026-09-06T01:00:00-03:00"


def test_days_after_quit_date() -> None:
    rule = UnlockRule("days_after_quit_date", 0)
    enrolment = state(quit_date=date(2026, 4, 1))

    assert one(rule, enrolment, local(2026, 3, 31, 23, 59)).unlocked is False
    assert one(rule, enrolment, local(2026, 4, 1)) == StepAvailability(
        "step", unlocked=True, opens_at=local(2026, 4, 1)
    )


def test_days_after_quit_date_without_a_quit_date_stays_locked() -> None:
    result = one(UnlockRule("days_after_quit_date", 3), state(), local(2030, 1, 1))

    assert result == StepAvailability("step", unlocked=False, opens_at=None)


def test_therapist_rule_opens_only_when_the_therapist_opens_it() -> None:
    rule = UnlockRule("therapist")

    assert not one(rule, state(), local(2030, 1, 1)).unlocked
    assert one(rule, state(opened={"step"}), local(2026, 3, 2, 11)).unlocked


@pytest.mark.parametrize(
    "rule",
    [
        UnlockRule("after_previous"),
        UnlockRule("days_after_start", 30),
        UnlockRule("days_after_quit_date", 1),
        UnlockRule("something_new"),
    ],
)
def test_a_step_the_therapist_opened_is_open_whatever_its_rule(rule: UnlockRule) -> None:
    steps = [("first", UnlockRule("therapist")), ("step", rule)]

    result = step_availability(steps, state(opened={"step"}), local(2026, 3, 2, 11))

    assert [s.unlocked for s in result] == [False, True]


def test_a_rule_kind_this_version_does_not_know_stays_locked() -> None:
    assert not one(UnlockRule("after_full_moon", 3), state(), local(2030, 1, 1)).unlocked


def test_opening_times_are_in_utc() -> None:
    result = one(UnlockRule("days_after_start", 7), state(), local(2026, 3, 2))

    assert result.opens_at is not None
    assert result.opens_at.tzinfo is UTC
    assert result.opens_at.astimezone(STOCKHOLM).isoformat() == "2026-03-09T00:00:00+01:00"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        one(UnlockRule("immediately"), state(), datetime(2026, 3, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        one(UnlockRule("immediately"), state(datetime(2026, 3, 2)), local(2026, 3, 2))  # noqa: DTZ001


# --------------------------------------------------------------------------- properties

ZONES = [
    "Europe/Stockholm",
    "UTC",
    "America/Santiago",  # midnight skipped
    "America/Havana",  # midnight repeated
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kathmandu",  # +05:45
    "Pacific/Apia",  # skipped a whole day in 2011
]
KEYS = ["a", "b", "c", "d", "e"]

zone_names = st.sampled_from(ZONES)
aware = st.datetimes(timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]) | st.just(UTC))
near = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - bounds of a strategy that adds zones
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]),
)
rules = st.one_of(
    st.sampled_from(
        [UnlockRule(k) for k in ("immediately", "after_previous", "therapist", "unknown")]
    ),
    st.builds(
        UnlockRule,
        st.sampled_from(["days_after_start", "days_after_quit_date"]),
        st.integers(min_value=-1000, max_value=1000) | st.integers(),
    ),
)
programmes = st.lists(rules, min_size=0, max_size=len(KEYS)).map(
    lambda found: list(zip(KEYS, found, strict=False))
)


@st.composite
def enrolments(
    draw: st.DrawFn, datetimes: st.SearchStrategy[datetime], *, near_dates: bool = False
) -> EnrolmentState:
    dates = st.dates(date(1990, 1, 1), date(2100, 1, 1)) if near_dates else st.dates()
    return EnrolmentState(
        started_at=draw(datetimes),
        quit_date=draw(st.none() | dates),
        completed_steps=frozenset(draw(st.sets(st.sampled_from(KEYS)))),
        therapist_opened=frozenset(draw(st.sets(st.sampled_from(KEYS)))),
        timezone=draw(zone_names),
    )


@settings(max_examples=300)
@given(programmes, enrolments(aware), aware)
def test_never_raises_and_never_returns_naive_datetimes(
    steps: list[tuple[str, UnlockRule]], enrolment: EnrolmentState, now: datetime
) -> None:
    result = step_availability(steps, enrolment, now)

    assert [s.key for s in result] == [key for key, _ in steps]
    for availability in result:
        assert availability.opens_at is None or availability.opens_at.utcoffset() is not None


@settings(max_examples=300)
@given(programmes, enrolments(near, near_dates=True), near, st.timedeltas(min_value=timedelta(0)))
def test_what_is_open_stays_open_as_time_passes(
    steps: list[tuple[str, UnlockRule]],
    enrolment: EnrolmentState,
    now: datetime,
    later_by: timedelta,
) -> None:
    try:
        later = now + later_by
    except OverflowError:
        return
    earlier = {s.key for s in step_availability(steps, enrolment, now) if s.unlocked}
    after = {s.key for s in step_availability(steps, enrolment, later) if s.unlocked}

    assert earlier <= after


@settings(max_examples=300)
@given(programmes, enrolments(near, near_dates=True), near)
def test_therapist_opened_steps_are_always_open(
    steps: list[tuple[str, UnlockRule]], enrolment: EnrolmentState, now: datetime
) -> None:
    for availability in step_availability(steps, enrolment, now):
        if availability.key in enrolment.therapist_opened:
            assert availability.unlocked


@settings(max_examples=300)
@given(
    st.sampled_from(["days_after_start", "days_after_quit_date"]),
    st.integers(min_value=0, max_value=3000),
    enrolments(near, near_dates=True).map(
        lambda e: EnrolmentState(
            e.started_at, e.quit_date, e.completed_steps, frozenset(), e.timezone
        )
    ),
)
def test_a_timed_step_opens_exactly_at_opens_at_the_first_moment_of_a_local_day(
    kind: str, days: int, enrolment: EnrolmentState
) -> None:
    rule = UnlockRule(kind, days)
    opens_at = one(rule, enrolment, enrolment.started_at).opens_at
    if kind == "days_after_quit_date" and enrolment.quit_date is None:
        assert opens_at is None
        return
    assert opens_at is not None
    zone = ZoneInfo(enrolment.timezone)
    base = enrolment.quit_date or date.min
    if kind == "days_after_start":
        base = enrolment.started_at.astimezone(zone).date()

    assert not one(rule, enrolment, opens_at - MICROSECOND).unlocked
    assert one(rule, enrolment, opens_at).unlocked
    # The first moment of the day: the instant before it still belongs to an earlier date.
    assert opens_at.tzinfo is UTC
    assert opens_at.astimezone(zone).date() == base + timedelta(days=days)
    assert (opens_at - MICROSECOND).astimezone(zone).date() < base + timedelta(days=days)


# --- completed steps, over the pages the patient is shown ---------------------------------------


def test_a_step_is_completed_when_every_page_shown_is_read() -> None:
    from steg.programmes.unlock import completed_steps

    steps = [("welcome", [1, 2]), ("smoke-free", [3]), ("empty", [])]

    assert completed_steps(steps, {1, 2}) == {"welcome"}
    assert completed_steps(steps, {1, 3, 9}) == {"smoke-free"}
    # A page hidden from the patient (4) is simply not passed in: it is not needed.
    assert completed_steps([("welcome", [1, 2])], {1, 2}) == {"welcome"}
    assert completed_steps([("welcome", [1, 2, 4])], {1, 2}) == frozenset()


@given(
    st.lists(st.sets(st.integers(0, 30), max_size=6), max_size=6),
    st.sets(st.integers(0, 30)),
)
def test_completed_steps_are_the_steps_with_pages_all_read(
    pages: list[set[int]], read: set[int]
) -> None:
    from steg.programmes.unlock import completed_steps

    steps = [(f"step-{i}", sorted(ids)) for i, ids in enumerate(pages)]
    done = completed_steps(steps, read)

    for key, ids in steps:
        assert (key in done) == (bool(ids) and set(ids) <= read)
    # Reading more never un-completes a step.
    assert done <= completed_steps(steps, read | {31})


@given(st.lists(st.booleans(), min_size=2, max_size=6))
def test_after_previous_follows_the_completed_steps_passed_in(completed: list[bool]) -> None:
    from steg.programmes.unlock import completed_steps

    keys = [f"step-{i}" for i in range(len(completed))]
    steps = [
        (key, [i] if done else [i, 100 + i])
        for i, (key, done) in enumerate(zip(keys, completed, strict=True))
    ]
    enrolment = state(completed=set(completed_steps(steps, set(range(len(keys))))))
    rules = [(keys[0], UnlockRule("immediately"))] + [
        (k, UnlockRule("after_previous")) for k in keys[1:]
    ]

    result = step_availability(rules, enrolment, datetime(2026, 3, 2, 12, tzinfo=UTC))

    for i in range(1, len(keys)):
        assert result[i].unlocked == all(completed[:i])
