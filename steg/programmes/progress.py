"""A patient's progress through their programme: what is read, done, open and next.

Everything here is about the content the patient is shown: when the programme declares
attributes, :func:`load_progress` reads the patient's values (:func:`load_attribute_values`)
and works on the outline without the pages and blocks whose condition does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, reduce
from operator import or_
from typing import Any

from django.db import connection, models
from django.db.models import Q, Subquery
from django.utils import timezone

from steg.care.models import Enrolment

from .conditions import Attribute, attribute_values
from .models import ChecklistTick, ExerciseAnswer, PageProgress, StepOpening
from .outline import Outline, PageInfo, StepInfo
from .unlock import EnrolmentState, StepAvailability, completed_steps, step_availability


@dataclass(frozen=True)
class StepProgress:
    step: StepInfo
    availability: StepAvailability
    pages_read: int
    exercises_total: int
    exercises_done: int

    @property
    def unlocked(self) -> bool:
        return self.availability.unlocked

    @property
    def completed(self) -> bool:
        return bool(self.step.pages) and self.pages_read == len(self.step.pages)


@dataclass(frozen=True)
class Progress:
    """``outline`` is what the patient is shown (see ``Outline.visible_to``); ``read_page_ids``
    and the counts cover only its pages."""

    outline: Outline
    read_page_ids: frozenset[int]
    viewed_page_ids: frozenset[int]
    last_viewed_page_id: int | None
    answers: dict[str, ExerciseAnswer]
    ticks: dict[str, bool]
    steps: tuple[StepProgress, ...]
    # The patient's attribute values (None: unknown), and the whole outline, hidden parts too.
    attributes: Mapping[str, str | None] = field(default_factory=dict)
    full_outline: Outline | None = None

    def step(self, key: str) -> StepProgress:
        return next(s for s in self.steps if s.step.key == key)

    def is_page_open(self, page: PageInfo) -> bool:
        step = next((s for s in self.steps if s.step.key == page.step_key), None)
        return step is not None and step.unlocked

    @property
    def pages_total(self) -> int:
        return len(self.outline.pages)

    @property
    def pages_read(self) -> int:
        return len(self.read_page_ids)

    @property
    def exercises_total(self) -> int:
        return sum(s.exercises_total for s in self.steps)

    @property
    def exercises_done(self) -> int:
        return sum(s.exercises_done for s in self.steps)

    def continue_page(self) -> PageInfo | None:
        """The first unread page in an open step, or else the last page viewed."""
        for page in self.outline.pages:
            if page.id not in self.read_page_ids and self.is_page_open(page):
                return page
        for page in self.outline.pages:
            if page.id == self.last_viewed_page_id:
                return page
        return None


def load_attribute_values(
    enrolment: Enrolment, attributes: Iterable[Attribute]
) -> dict[str, str | None]:
    """The enrolment's value of each attribute (None: unknown), see conditions.py.

    No query when no attribute needs a questionnaire answer (none declared, or all set on
    the enrolment); otherwise one, for the latest submitted response of each questionnaire.
    """
    from steg.questionnaires.models import Response

    attributes = tuple(attributes)
    assigned = enrolment.attributes if isinstance(enrolment.attributes, dict) else {}
    wanted = sorted(
        {
            a.questionnaire
            for a in attributes
            if a.questionnaire and assigned.get(a.name) not in a.values
        }
    )
    answers: dict[str, dict[str, object]] = {}
    if wanted:
        submitted = Response.objects.filter(
            enrolment=enrolment, status=Response.Status.SUBMITTED
        ).order_by("-day", "-submitted_at", "-pk")
        latest = (
            Q(pk=Subquery(submitted.filter(questionnaire_id=qid).values("pk")[:1]))
            for qid in wanted
        )
        rows = Response.objects.filter(reduce(or_, latest)).values_list(
            "questionnaire_id", "answers"
        )
        answers = {qid: data for qid, data in rows if isinstance(data, dict)}
    return attribute_values(attributes, assigned, answers)


_PAGE, _TICK, _OPENED = 1, 2, 3


@lru_cache(maxsize=4)
def _marks_sql(vendor: str) -> str:
    """The statement of :func:`_marks` for the database ``vendor``, with the names from the
    models (built once)."""
    name = connection.ops.quote_name

    def select(model: type[models.Model], kind: int, columns: str) -> str:
        table = name(model._meta.db_table)
        return f"SELECT {kind}, {columns} FROM {table} WHERE {name('enrolment_id')} = %s"  # noqa: S608

    return " UNION ALL ".join(
        (
            select(
                PageProgress,
                _PAGE,
                f"{name('page_id')}, {name('read_at')}, {name('last_viewed_at')}, NULL, NULL",
            ),
            select(
                ChecklistTick, _TICK, f"NULL, NULL, NULL, {name('item_key')}, {name('checked')}"
            ),
            select(StepOpening, _OPENED, f"NULL, NULL, NULL, {name('step_key')}, NULL"),
        )
    )


def _marks(enrolment: Enrolment) -> list[tuple[Any, ...]]:
    """The pages viewed and read, the checklist ticks and the steps the therapist opened: rows
    of (kind, page id, read at, last viewed at, key, checked), in one statement.

    Hand-written, like ``steg.dialog.messages.patient_inbox``: every programme page asks this,
    and the ORM's union of three querysets costs more to build than the statement to run."""
    with connection.cursor() as cursor:
        cursor.execute(_marks_sql(connection.vendor), [enrolment.pk] * 3)
        return cursor.fetchall()


def load_progress(
    enrolment: Enrolment,
    outline: Outline,
    now: datetime | None = None,
    *,
    attributes: Mapping[str, str | None] | None = None,
) -> Progress:
    """Two queries, whatever the size of the programme or the patient's history; a third
    when the programme declares attributes that need a questionnaire answer, unless their
    values are passed in as ``attributes`` (from an earlier ``Progress`` of the request).

    ``outline`` is the whole programme; the progress is over what the patient is shown.
    """
    now = now or timezone.now()
    full_outline = outline
    values: Mapping[str, str | None] = {}
    if outline.attributes:
        if attributes is None:
            attributes = load_attribute_values(enrolment, outline.attributes)
        values = attributes
        outline = outline.visible_to(values)
    shown = {page.id for page in outline.pages}
    # The times as the database gives them (naive UTC on SQLite): only compared to each other.
    progress_rows: list[tuple[int, Any, Any]] = []
    ticks: dict[str, bool] = {}
    opened_keys: list[str] = []
    for kind, page_id, read_at, last_viewed_at, key, checked in _marks(enrolment):
        if kind == _PAGE:
            if page_id in shown:
                progress_rows.append((page_id, read_at, last_viewed_at))
        elif kind == _TICK:
            ticks[key] = bool(checked)
        else:
            opened_keys.append(key)
    read = frozenset(page_id for page_id, read_at, _ in progress_rows if read_at is not None)
    viewed = frozenset(page_id for page_id, _, _ in progress_rows)
    last_viewed = max(progress_rows, key=lambda row: row[2])[0] if progress_rows else None
    answers = {a.key: a for a in ExerciseAnswer.objects.filter(enrolment=enrolment)}
    opened = frozenset(opened_keys)
    completed = completed_steps(
        [(step.key, [page.id for page in step.pages]) for step in outline.steps], read
    )
    state = EnrolmentState(
        started_at=enrolment.started_at or enrolment.created_at,
        quit_date=enrolment.quit_date,
        completed_steps=completed,
        therapist_opened=opened,
    )
    availability = step_availability([(s.key, s.rule) for s in outline.steps], state, now)
    steps = []
    for step, avail in zip(outline.steps, availability, strict=True):
        exercise_keys = [key for page in step.pages for key in page.exercise_keys]
        steps.append(
            StepProgress(
                step=step,
                availability=avail,
                pages_read=sum(1 for page in step.pages if page.id in read),
                exercises_total=len(exercise_keys),
                exercises_done=sum(
                    1
                    for key in exercise_keys
                    if key in answers and answers[key].status == ExerciseAnswer.Status.SUBMITTED
                ),
            )
        )
    return Progress(
        outline=outline,
        read_page_ids=read,
        viewed_page_ids=viewed,
        last_viewed_page_id=last_viewed,
        answers=answers,
        ticks=ticks,
        steps=tuple(steps),
        attributes=values,
        full_outline=full_outline,
    )
