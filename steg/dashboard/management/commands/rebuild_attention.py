"""Recompute the dashboard row of every open treatment and count the flags again."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from steg.dashboard.attention import BATCH_SIZE, rebuild_all


class Command(BaseCommand):
    help = (
        "Recompute the dashboard row of every open treatment (in batches), remove those of "
        "ended ones and count the flags again. Run it after a deploy that changes how flags "
        "are computed, or after loading data outside Steg's actions. Safe while Steg runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help="treatments per batch"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        rows = rebuild_all(batch_size=options["batch_size"])
        self.stdout.write(f"Dashboard: {rows} row(s) rebuilt in {time.monotonic() - started:.1f} s")
