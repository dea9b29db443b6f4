"""Check the audit log's hash chain; exit non-zero when it is broken."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from steg.audit.actions import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain. Exits with status 1 if any event was altered."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, breaks = verify_chain()
        for item in breaks:
            self.stderr.write(f"audit event {item.event_id}: {item.reason}")
        if breaks:
            raise CommandError(f"Audit chain broken: {len(breaks)} problem(s) in {checked} events")
        self.stdout.write(f"Audit chain intact: {checked} events verified")
