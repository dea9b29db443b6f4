"""Background tasks of the automation engine (django-tasks, database backend)."""

from __future__ import annotations

from django_tasks import task

from . import engine


@task()
def fire_due_for_enrolment(enrolment_id: int) -> dict[str, int]:
    """Fire the enrolment's firings that are due (enqueued right after an event commits)."""
    return engine.fire_due(enrolment_id)


@task()
def fire_firings(ids: list[int]) -> dict[str, int]:
    """Fire a batch handed out by the scheduler; a firing no longer pending is left alone."""
    return engine.fire_many(ids)
