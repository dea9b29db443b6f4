"""The scheduler: hands due automation firings to the workers every minute, and runs the other
periodic jobs (meeting reminders, the dashboard's time-based flags, due notifications)."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from steg.automation.engine import tick

# The other periodic jobs, run every `--housekeeping` seconds.
HOUSEKEEPING = ("send_meeting_reminders", "refresh_attention", "send_notifications")


class Command(BaseCommand):
    help = (
        "Hand the automation firings that have fallen due to the task workers, every "
        "--interval seconds (one tick with --once). Safe to run more than once at a time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One tick, then exit.")
        parser.add_argument(
            "--interval", type=float, default=60.0, help="Seconds between ticks (default 60)."
        )
        parser.add_argument(
            "--housekeeping",
            type=float,
            default=300.0,
            help="Seconds between the other periodic jobs (default 300; 0: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            self.stdout.write(f"Automation: {tick()} firings handed to the workers")
            return
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        interval, housekeeping = options["interval"], options["housekeeping"]
        last_housekeeping = time.monotonic() if housekeeping else float("inf")
        while not stopping:
            started = time.monotonic()
            close_old_connections()
            try:
                handed = tick()
                if handed:
                    self.stdout.write(f"Automation: {handed} firings handed to the workers")
                if housekeeping and started - last_housekeeping >= housekeeping:
                    last_housekeeping = started
                    for command in HOUSEKEEPING:
                        call_command(command, stdout=self.stdout)
            except Exception as exc:  # keep ticking: the next tick retries
                self.stderr.write(f"Scheduler tick failed: {exc!r}")
            while not stopping and time.monotonic() - started < interval:
                time.sleep(min(0.5, interval))
