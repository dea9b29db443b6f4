"""Deliver the queued notifications that are due (for cron or a scheduler)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from steg.dialog.models import Notification
from steg.dialog.tasks import deliver


class Command(BaseCommand):
    help = (
        "Deliver queued notifications whose next attempt is due: those no task worker sent, "
        "and retries after failures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=500, help="At most this many (default 500)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        due = list(
            Notification.objects.due(timezone.now())
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[: options["limit"]]
        )
        outcomes = Counter(deliver(pk) for pk in due)
        self.stdout.write(
            f"Notifications: {outcomes['sent']} sent, {outcomes['retry']} to retry later, "
            f"{outcomes['failed']} failed, {outcomes['skipped']} taken by another worker"
        )
