"""Background tasks of the care journey (django-tasks)."""

from __future__ import annotations

from django_tasks import task

from .meetings import send_due_reminders


@task()
def send_meeting_reminders() -> int:
    """Queue reminders of the booked meetings that start soon; safe to run at any time and as
    often as wanted (each meeting is claimed once). Returns how many were reminded."""
    return send_due_reminders()
