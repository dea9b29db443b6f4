"""Plan the time rules of every active treatment again (after an upgrade that brought the
automation, or a restore): each gets its next occasions as pending firings; what already
fired stays fired. Safe to run at any time and more than once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from steg.automation.engine import reschedule
from steg.care.models import Enrolment


class Command(BaseCommand):
    help = "Write the next occasion of each time rule for every active treatment."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Treatments per transaction (500)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(
            Enrolment.objects.filter(status=Enrolment.Status.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        size = max(1, options["batch_size"])
        planned = 0
        for start in range(0, len(ids), size):
            with transaction.atomic():
                for enrolment in Enrolment.objects.filter(
                    pk__in=ids[start : start + size]
                ).select_related("patient", "programme_version"):
                    planned += reschedule(enrolment)
        self.stdout.write(f"Automation: {len(ids)} active treatments, {planned} occasions pending")
