"""When the steps of an enrolment open: pure functions over plain data.

The rules (see :class:`steg.programmes.format.UnlockRule`):

* ``immediately``: open.
* ``after_previous``: open when the step before is open and its key is among the
  completed steps. (The first step has no step before it; the loader refuses the
  rule there, and this module treats it as open.)
* ``days_after_start`` N: opens at local midnight, in the enrolment's time zone, of
  the start date plus N days. ``days_after_quit_date`` N: the same from the quit
  date; locked, with no known opening time, while there is no quit date.
* ``therapist``: open when the therapist has opened it.

A step counts as completed when it has pages and every one is read
(:func:`completed_steps`); the caller passes the pages the patient is shown, so pages hidden
by a condition count for nothing.

A step the therapist opened is open whatever its rule. Unknown rule kinds stay
locked. ``opens_at`` is the moment a time-based rule opens the step (also when the
therapist has opened it earlier); it is ``None`` for the other rules. Every datetime
returned is aware and in UTC (show it in the user's time zone, as everywhere).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from steg.programmes.format import UnlockRule

__all__ = [
    "EnrolmentState",
    "StepAvailability",
    "completed_steps",
    "local_midnight",
    "step_availability",
]


@dataclass(frozen=True)
class EnrolmentState:
    started_at: datetime  # aware
    quit_date: date | None
    completed_steps: frozenset[str]
    therapist_opened: frozenset[str]
    timezone: str = "Europe/Stockholm"


@dataclass(frozen=True)
class StepAvailability:
    key: str
    unlocked: bool
    opens_at: datetime | None


def completed_steps(
    steps: Sequence[tuple[str, Collection[int]]], read: AbstractSet[int]
) -> frozenset[str]:
    """The keys of the ``(key, page ids)`` steps that have pages, all of them in ``read``.

    Pass the pages the patient is shown: a hidden page is neither needed nor counted.
    """
    return frozenset(key for key, pages in steps if pages and all(p in read for p in pages))


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def _instant(value: datetime) -> int:
    """Microseconds since 0001-01-01 UTC: exact, and free of the rule that aware
    datetimes sharing a tzinfo compare by wall time alone (which ignores DST folds)."""
    offset = value.utcoffset() or timedelta(0)
    naive = value.replace(tzinfo=None)
    seconds = naive.toordinal() * 86400 + naive.hour * 3600 + naive.minute * 60 + naive.second
    return seconds * 1_000_000 + naive.microsecond - offset // timedelta(microseconds=1)


def local_midnight(day: date, days: int, zone: ZoneInfo) -> datetime | None:
    """The first moment of ``day + days`` in ``zone``; None beyond the calendar.

    Where a zone skips midnight (a DST change at 00:00) this is the moment the day
    begins (01:00): zoneinfo reads a time in the gap with the offset from before it.
    The result is in UTC, except in the first and last hours of the calendar, where
    UTC cannot express it and it stays in ``zone``.
    """
    try:
        midnight = datetime.combine(day + timedelta(days=days), time(0), tzinfo=zone)
    except (OverflowError, ValueError):
        return None
    try:
        return midnight.astimezone(UTC)
    except (OverflowError, ValueError):  # the first or last hours of the calendar
        return midnight


def _local_date(value: datetime, zone: ZoneInfo) -> date | None:
    try:
        return value.astimezone(zone).date()
    except (OverflowError, ValueError):
        return None


def step_availability(
    steps: Sequence[tuple[str, UnlockRule]], state: EnrolmentState, now: datetime
) -> list[StepAvailability]:
    """Which of the ``(key, rule)`` steps are open at ``now``, and when the others open.

    Raises ValueError if ``now`` or ``state.started_at`` is naive.
    """
    _require_aware(now, "now")
    _require_aware(state.started_at, "started_at")
    zone = ZoneInfo(state.timezone)
    now_instant = _instant(now)
    start_day = _local_date(state.started_at, zone)
    result: list[StepAvailability] = []
    previous: StepAvailability | None = None
    for key, rule in steps:
        opens_at: datetime | None = None
        if rule.kind == "immediately":
            unlocked = True
        elif rule.kind == "after_previous":
            unlocked = previous is None or (
                previous.unlocked and previous.key in state.completed_steps
            )
        elif rule.kind == "days_after_start":
            if start_day is not None:
                opens_at = local_midnight(start_day, rule.days, zone)
            unlocked = opens_at is not None and now_instant >= _instant(opens_at)
        elif rule.kind == "days_after_quit_date":
            if state.quit_date is not None:
                opens_at = local_midnight(state.quit_date, rule.days, zone)
            unlocked = opens_at is not None and now_instant >= _instant(opens_at)
        else:  # "therapist", and any kind this version does not know
            unlocked = False
        availability = StepAvailability(key, unlocked or key in state.therapist_opened, opens_at)
        result.append(availability)
        previous = availability
    return result
