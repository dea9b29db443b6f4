"""Import a programme folder as a new programme version (nothing happens if unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from steg.programmes.actions import import_programme
from steg.programmes.format import ProgrammeFormatError


class Command(BaseCommand):
    help = "Validate a programme folder and import it as an immutable programme version."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="The programme folder, e.g. programmes/example")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_dir():
            raise CommandError(f"{path} is not a folder")
        try:
            result = import_programme(path)
        except ProgrammeFormatError as exc:
            for problem in exc.problems:
                location = f"{problem.file}:{problem.line}" if problem.line else problem.file
                self.stderr.write(f"{path / location}: {problem.message}")
            raise CommandError(
                f"{len(exc.problems)} problem(s) in {path}; nothing was imported"
            ) from exc
        version = result.version
        if result.created:
            self.stdout.write(
                f"Imported {version.programme.slug} as version {version.number} "
                f"({version.content_hash[:12]})"
            )
        else:
            self.stdout.write(
                f"{version.programme.slug} is unchanged: version {version.number} "
                f"({version.content_hash[:12]}) already holds this content"
            )
