"""Bring the dashboard's time-based flags up to date (for cron or a scheduler)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from steg.dashboard.attention import refresh_time_based


class Command(BaseCommand):
    help = (
        "Update the dashboard flags that change with time alone (inactive, meeting today, "
        "follow-up due), and add rows for open treatments that have none. Touches only rows "
        "whose state changes; safe to run often (every 5–15 minutes) and from several machines."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = refresh_time_based()
        self.stdout.write(f"Dashboard: {changed} row(s) changed")
