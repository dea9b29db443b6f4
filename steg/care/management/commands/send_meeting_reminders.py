"""Remind patients of their meetings that start soon (for cron or a scheduler)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from steg.care.meetings import send_due_reminders


class Command(BaseCommand):
    help = (
        "Queue a reminder for every booked meeting that starts within "
        "STEG_MEETING_REMINDER_HOURS and has had none. Safe to run often (every 5–15 minutes): "
        "each meeting is reminded once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        sent = send_due_reminders()
        self.stdout.write(
            f"Meeting reminders: {sent} queued "
            f"(meetings within {settings.STEG_MEETING_REMINDER_HOURS} hours)"
        )
