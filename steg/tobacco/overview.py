"""Tobacco-free days for the therapist's overview of a treatment.

Days tobacco-free count whole calendar days since the quit date, as the patient's savings aid
counts them (``savings.compute_savings``): 0 on the quit date and before it, 1 from the next
day. When the patient's diary (the questionnaire ``diary`` with the yes/no item ``used``:
"have you smoked or used snus today?") reports use on or after the quit date, the latest
such day is the **last reported use**, and the days since then are counted the same way.

Any programme may set a quit date; one without such a diary simply has no last reported use.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response

if TYPE_CHECKING:
    from steg.care.models import Enrolment

DIARY = "diary"
USED_ITEM = "used"


@dataclass(frozen=True)
class TobaccoFreeDays:
    quit_date: datetime.date
    days: int  # whole days since the quit date; 0 on it and before it
    days_until: int  # days left until the quit date; 0 on it and after it
    last_use: datetime.date | None  # the latest day the diary reports use, on/after quitting
    days_since_use: int | None  # whole days since that day

    @property
    def started(self) -> bool:
        return self.days_until == 0


def count_days(
    quit_date: datetime.date, today: datetime.date, last_use: datetime.date | None = None
) -> TobaccoFreeDays:
    """The counts for ``today`` (pure: no clock, no database)."""
    if last_use is not None and not quit_date <= last_use <= today:
        last_use = None  # use before quitting is not a relapse; a future day is not a report
    return TobaccoFreeDays(
        quit_date=quit_date,
        days=max((today - quit_date).days, 0),
        days_until=max((quit_date - today).days, 0),
        last_use=last_use,
        days_since_use=(today - last_use).days if last_use is not None else None,
    )


def _has_use_diary(enrolment: Enrolment) -> bool:
    diary = get_questionnaire(enrolment.programme_version, DIARY)
    if diary is None:
        return False
    item = diary.item(USED_ITEM)
    return item is not None and item.type == "boolean"


def last_reported_use(
    enrolment: Enrolment, since: datetime.date, until: datetime.date
) -> datetime.date | None:
    """The latest diary day from ``since`` to ``until`` (inclusive) with "used: yes".

    One query, along the index on (enrolment, status, day); none when the programme has no
    such diary.
    """
    if not _has_use_diary(enrolment):
        return None
    return (
        Response.objects.filter(
            enrolment=enrolment,
            status=Response.Status.SUBMITTED,
            questionnaire_id=DIARY,
            day__gte=since,
            day__lte=until,
            # Answers are stored as lists ({"used": [true]}, see questionnaires.logic).
            **{f"answers__{USED_ITEM}": [True]},
        )
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )


def tobacco_free_days(enrolment: Enrolment, today: datetime.date) -> TobaccoFreeDays | None:
    """The enrolment's tobacco-free days on ``today``; None without a quit date (no query)."""
    quit_date = enrolment.quit_date
    if quit_date is None:
        return None
    last_use = last_reported_use(enrolment, quit_date, today) if quit_date <= today else None
    return count_days(quit_date, today, last_use)
