"""Background tasks of the dashboard (django-tasks)."""

from __future__ import annotations

from django_tasks import task

from .attention import refresh_time_based


@task()
def refresh_attention() -> int:
    """Update the flags that change with time alone; safe to run at any time and as often as
    wanted (it changes only rows whose state has changed). Returns how many changed."""
    return refresh_time_based()
