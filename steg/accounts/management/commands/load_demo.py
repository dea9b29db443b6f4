"""Create the demo organisation, units and accounts (safe to run again)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from steg.accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_TOTP_SECRET, load_demo


class Command(BaseCommand):
    help = "Load the demo region, units and accounts. Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet", action="store_true", help="Do not print the accounts.")

    def handle(self, *args: Any, **options: Any) -> None:
        load_demo()
        if options["quiet"]:
            return
        self.stdout.write(self.style.SUCCESS("Demo data ready. Demo accounts (demo only!):"))
        for account in DEMO_ACCOUNTS:
            self.stdout.write(f"  {account.role:<28} {account.email:<28} password: {DEMO_PASSWORD}")
        self.stdout.write(
            f"  Staff accounts use the TOTP secret {DEMO_TOTP_SECRET} "
            "(add it to any authenticator app, or run `manage.py demo_totp`)."
        )
