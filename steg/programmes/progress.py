"""A patient's progress through their programme: what is read, done, open and next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from steg.care.models import Enrolment

from .models import ChecklistTick, ExerciseAnswer, PageProgress, StepOpening
from .outline import Outline, PageInfo, StepInfo
from .unlock import EnrolmentState, StepAvailability, step_availability


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
    outline: Outline
    read_page_ids: frozenset[int]
    viewed_page_ids: frozenset[int]
    last_viewed_page_id: int | None
    answers: dict[str, ExerciseAnswer]
    ticks: dict[str, bool]
    steps: tuple[StepProgress, ...]

    def step(self, key: str) -> StepProgress:
        return next(s for s in self.steps if s.step.key == key)

    def is_page_open(self, page: PageInfo) -> bool:
        return self.step(page.step_key).unlocked

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


def load_progress(enrolment: Enrolment, outline: Outline, now: datetime | None = None) -> Progress:
    """Four queries, whatever the size of the programme or the patient's history."""
    now = now or timezone.now()
    progress_rows = list(
        PageProgress.objects.filter(enrolment=enrolment).values_list(
            "page_id", "read_at", "last_viewed_at"
        )
    )
    read = frozenset(page_id for page_id, read_at, _ in progress_rows if read_at is not None)
    viewed = frozenset(page_id for page_id, _, _ in progress_rows)
    last_viewed = max(progress_rows, key=lambda row: row[2])[0] if progress_rows else None
    answers = {a.key: a for a in ExerciseAnswer.objects.filter(enrolment=enrolment)}
    ticks = dict(
        ChecklistTick.objects.filter(enrolment=enrolment).values_list("item_key", "checked")
    )
    opened = frozenset(
        StepOpening.objects.filter(enrolment=enrolment).values_list("step_key", flat=True)
    )
    completed = frozenset(
        step.key
        for step in outline.steps
        if step.pages and all(page.id in read for page in step.pages)
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
    )
