"""When a questionnaire is due, and which of its days can still be filled in: pure functions.

A :class:`~steg.questionnaires.definition.Schedule` counts days from an anchor: the day the
enrolment started, or its quit date (nothing anchored on the quit date is due while there is
none). Days are local calendar days; the caller turns "now" into ``today`` in the patient's
time zone.

Every occurrence day has one status on ``today``:

* ``done``: the patient has a response for that day (``done_days``);
* ``due``: it is today;
* ``late``: it is past, but within ``backfill_days`` of today, so it can still be filled in;
* ``missed``: it is older than that;
* ``upcoming``: it is after today (only when asked to look ahead).

A ``once`` questionnaire is the exception: from its day on it stays ``due`` until it is done,
since a one-off questionnaire can be answered whenever it has opened. Follow-ups
(``offsets``) follow ``backfill_days`` like diaries.

A **requested** day (a ``QuestionnaireRequest``: an automation rule or the therapist made the
questionnaire due for the enrolment on that day) is an extra occurrence that behaves like
``once``, whatever the schedule: from its day on it can be filled in until a response for that
day is done. A requested day that is also a scheduled day is the same occurrence (there is one
response per day), so a response already sent for it answers the request too.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from steg.questionnaires.definition import Schedule

__all__ = [
    "Occurrence",
    "OccurrenceStatus",
    "anchor_day",
    "fillable_days",
    "is_fillable",
    "occurrence_days",
    "occurrences",
    "requested_open",
]

OccurrenceStatus = Literal["due", "late", "done", "missed", "upcoming"]

_MIN_ORDINAL = date.min.toordinal()
_MAX_ORDINAL = date.max.toordinal()


@dataclass(frozen=True)
class Occurrence:
    day: date
    status: OccurrenceStatus


def anchor_day(schedule: Schedule, *, start: date, quit_date: date | None) -> date | None:
    """The day the schedule counts from, or None when it is anchored on a missing quit date."""
    if schedule.anchor == "quit_date":
        return quit_date
    return start


def _occurrence_ordinals(schedule: Schedule, anchor: int, until: int) -> list[int]:
    """The occurrence days as ordinals, sorted and distinct, that are valid dates <= until."""
    if schedule.kind == "once":
        candidates: list[int] = [anchor + schedule.start_day]
    elif schedule.kind == "offsets":
        candidates = sorted({anchor + offset for offset in schedule.offsets})
    elif schedule.kind in ("daily", "weekly"):
        step = 1 if schedule.kind == "daily" else 7
        first = anchor + schedule.start_day
        last = until if schedule.end_day is None else min(until, anchor + schedule.end_day)
        if first < _MIN_ORDINAL:  # skip whole steps that fall before the first valid date
            first += -(-(_MIN_ORDINAL - first) // step) * step
        candidates = list(range(first, last + 1, step))
    else:  # an unknown kind is never due
        return []
    return [day for day in candidates if _MIN_ORDINAL <= day <= min(until, _MAX_ORDINAL)]


def occurrence_days(
    schedule: Schedule, *, start: date, quit_date: date | None, until: date
) -> list[date]:
    """Every day the questionnaire is due, from the anchor up to and including ``until``.

    ``start`` is the enrolment's start day. Sorted, without duplicates.
    """
    anchor = anchor_day(schedule, start=start, quit_date=quit_date)
    if anchor is None:
        return []
    ordinals = _occurrence_ordinals(schedule, anchor.toordinal(), until.toordinal())
    return [date.fromordinal(day) for day in ordinals]


def _is_open(schedule: Schedule, day: date, today: date) -> bool:
    """Whether an occurrence on ``day`` (not done) can be filled in on ``today``."""
    if day > today:
        return False
    if schedule.kind == "once":
        return True
    return (today - day).days <= max(schedule.backfill_days, 0)


def _status(schedule: Schedule, day: date, today: date, done: bool) -> OccurrenceStatus:
    if done:
        return "done"
    if day > today:
        return "upcoming"
    if day == today or schedule.kind == "once":
        return "due"
    if _is_open(schedule, day, today):
        return "late"
    return "missed"


def occurrences(
    schedule: Schedule,
    *,
    start: date,
    quit_date: date | None,
    today: date,
    done_days: Collection[date],
    lookahead: int = 0,
) -> list[Occurrence]:
    """Each occurrence up to ``lookahead`` days after ``today``, oldest first, with its status."""
    try:
        until = today + timedelta(days=max(lookahead, 0))
    except OverflowError:
        until = date.max
    days = occurrence_days(schedule, start=start, quit_date=quit_date, until=until)
    done = frozenset(done_days)
    return [Occurrence(day, _status(schedule, day, today, day in done)) for day in days]


def requested_open(day: date, today: date) -> bool:
    """Whether a requested day can be filled in today: like ``once``, from its day on."""
    return day <= today


def fillable_days(
    schedule: Schedule,
    *,
    start: date,
    quit_date: date | None,
    today: date,
    done_days: Collection[date],
    requested_days: Collection[date] = (),
) -> list[date]:
    """The days that can be filled in today (due and late, not done), newest first.

    ``requested_days`` are the days the questionnaire was requested for; each is open from its
    day on until it is done, scheduled or not.
    """
    found = occurrences(
        schedule, start=start, quit_date=quit_date, today=today, done_days=done_days
    )
    days = {o.day for o in found if o.status in ("due", "late")}
    if requested_days:
        done = frozenset(done_days)
        days.update(d for d in requested_days if requested_open(d, today) and d not in done)
    return sorted(days, reverse=True)


def is_fillable(
    schedule: Schedule,
    day: date,
    *,
    start: date,
    quit_date: date | None,
    today: date,
    requested_days: Collection[date] = (),
) -> bool:
    """Whether an entry for ``day`` may be made today: an occurrence day that is open.

    Open means not in the future and, except for ``once``, at most ``backfill_days`` old; a
    day in ``requested_days`` is open from its day on, whatever the schedule.
    Whether the day is already done is for the caller to check (it may allow corrections).
    """
    if day in requested_days and requested_open(day, today):
        return True
    if not _is_open(schedule, day, today):
        return False
    anchor = anchor_day(schedule, start=start, quit_date=quit_date)
    if anchor is None:
        return False
    ordinal, first = day.toordinal(), anchor.toordinal() + schedule.start_day
    if schedule.kind == "once":
        return ordinal == first
    if schedule.kind == "offsets":
        return ordinal - anchor.toordinal() in schedule.offsets
    if schedule.kind in ("daily", "weekly"):
        step = 1 if schedule.kind == "daily" else 7
        if schedule.end_day is not None and ordinal > anchor.toordinal() + schedule.end_day:
            return False
        return ordinal >= first and (ordinal - first) % step == 0
    return False
