"""What a patient has to fill in: due questionnaires per enrolment, in a fixed number of queries.

A questionnaire is due on the days its schedule opens (``schedule.py``) and on the days it was
requested for the enrolment (``QuestionnaireRequest``, from ``actions.request_questionnaire``):
a requested day is open from its day on until a response for that day is submitted.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from steg.programmes.outline import get_outline
from steg.programmes.progress import load_attribute_values

from .definition import Questionnaire
from .loader import questionnaires_of
from .models import QuestionnaireRequest, Response
from .render import text_in
from .schedule import fillable_days, is_fillable, requested_open

if TYPE_CHECKING:
    from steg.care.models import Enrolment


@dataclass(frozen=True)
class DueItem:
    enrolment: Enrolment
    questionnaire: Questionnaire
    title: str
    days: tuple[datetime.date, ...]  # fillable now, newest first
    done: tuple[datetime.date, ...]  # submitted, newest first

    @property
    def is_due(self) -> bool:
        return bool(self.days)


def enrolment_start(enrolment: Enrolment) -> datetime.date:
    started = enrolment.started_at or enrolment.created_at
    return timezone.localdate(started)


def done_days_by_questionnaire(
    enrolments: Iterable[Enrolment],
) -> dict[tuple[int, str], set[datetime.date]]:
    """The days each questionnaire was submitted for, per enrolment (one query)."""
    done: dict[tuple[int, str], set[datetime.date]] = defaultdict(set)
    rows = Response.objects.filter(
        enrolment__in=[e.pk for e in enrolments], status=Response.Status.SUBMITTED
    ).values_list("enrolment_id", "questionnaire_id", "day")
    for enrolment_id, questionnaire_id, day in rows:
        done[(enrolment_id, questionnaire_id)].add(day)
    return done


def requested_days_by_questionnaire(
    enrolments: Iterable[Enrolment], today: datetime.date
) -> dict[tuple[int, str], set[datetime.date]]:
    """The days each questionnaire was requested for, up to today, per enrolment (one query)."""
    requested: dict[tuple[int, str], set[datetime.date]] = defaultdict(set)
    rows = QuestionnaireRequest.objects.filter(
        enrolment__in=[e.pk for e in enrolments], day__lte=today
    ).values_list("enrolment_id", "questionnaire_id", "day")
    for enrolment_id, questionnaire_id, day in rows:
        requested[(enrolment_id, questionnaire_id)].add(day)
    return requested


def fillable_now(
    questionnaire: Questionnaire,
    enrolment: Enrolment,
    today: datetime.date,
    done: Collection[datetime.date],
    requested: Collection[datetime.date] = (),
) -> list[datetime.date]:
    """The days open to fill in today, newest first: scheduled and requested, not done."""
    return fillable_days(
        questionnaire.schedule,
        start=enrolment_start(enrolment),
        quit_date=enrolment.quit_date,
        today=today,
        done_days=done,
        requested_days=requested,
    )


def is_fillable_day(
    questionnaire: Questionnaire,
    enrolment: Enrolment,
    day: datetime.date,
    today: datetime.date,
) -> bool:
    """Whether an entry for ``day`` may be made today: a scheduled day that is open, or a day
    the questionnaire was requested for, from that day on. Asks the database only when the
    schedule says no. Whether the day is done is for the caller to check."""
    if is_fillable(
        questionnaire.schedule,
        day,
        start=enrolment_start(enrolment),
        quit_date=enrolment.quit_date,
        today=today,
    ):
        return True
    return (
        requested_open(day, today)
        and QuestionnaireRequest.objects.filter(
            enrolment=enrolment, questionnaire_id=questionnaire.id, day=day
        ).exists()
    )


def due_items(
    enrolments: Iterable[Enrolment],
    today: datetime.date,
    language: str,
    *,
    include_done: bool = False,
) -> list[DueItem]:
    """Questionnaires open to fill in for the active enrolments (and, asked, those done).

    One query for the responses and one for the requests of all the enrolments, whatever
    their number; a questionnaire hidden for the patient is not listed, even when requested.
    """
    enrolments = [e for e in enrolments if include_done or e.status == e.Status.ACTIVE]
    active = [e for e in enrolments if e.status == e.Status.ACTIVE]
    done_by = done_days_by_questionnaire(enrolments) if enrolments else {}
    requested_by = requested_days_by_questionnaire(active, today) if active else {}
    items = []
    for enrolment in enrolments:
        hidden = hidden_questionnaires(enrolment, language)
        for questionnaire in questionnaires_of(enrolment.programme_version).values():
            if questionnaire.id in hidden:
                continue
            done = done_by.get((enrolment.pk, questionnaire.id), set())
            requested = requested_by.get((enrolment.pk, questionnaire.id), set())
            days = (
                fillable_now(questionnaire, enrolment, today, done, requested)
                if enrolment.status == enrolment.Status.ACTIVE
                else []
            )
            if days or (include_done and done):
                items.append(
                    DueItem(
                        enrolment=enrolment,
                        questionnaire=questionnaire,
                        title=text_in(questionnaire.title, language),
                        days=tuple(days),
                        done=tuple(sorted(done, reverse=True)),
                    )
                )
    return items


def hidden_questionnaires(enrolment: Enrolment, language: str) -> set[str]:
    """Questionnaires embedded only in content hidden for this patient (a smoker's test for a
    snus user, say): they are not due. One query, and only for programmes with conditions."""
    outline = get_outline(enrolment.programme_version, language)
    if not outline.conditional:
        return set()
    values = load_attribute_values(enrolment, outline.attributes)
    return set(outline.questionnaire_keys - outline.visible_to(values).questionnaire_keys)


def due_for_enrolment(
    enrolment: Enrolment, today: datetime.date, language: str, *, include_done: bool = False
) -> list[DueItem]:
    return due_items([enrolment], today, language, include_done=include_done)
