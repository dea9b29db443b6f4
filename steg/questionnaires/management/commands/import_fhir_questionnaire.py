"""Convert a FHIR R4 Questionnaire (JSON) into a Steg questionnaire file (YAML)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from steg.questionnaires.fhir import FhirImportError, from_fhir_questionnaire
from steg.questionnaires.parse import dump_questionnaire


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class Command(BaseCommand):
    help = (
        "Convert a FHIR R4 Questionnaire (JSON) into a Steg questionnaire definition (YAML) "
        "for a programme's questionnaires/ folder. Refuses, listing every reason, whatever "
        "it cannot carry over."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="The FHIR Questionnaire, a .json file")
        parser.add_argument(
            "--output", help="Write the YAML to this file (default: standard output)"
        )
        parser.add_argument(
            "--force", action="store_true", help="Overwrite the --output file if it exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["file"])
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{source}: not UTF-8 text ({exc.reason})") from exc
        except OSError as exc:
            raise CommandError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        except ValueError as exc:
            raise CommandError(f"{source}: invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise CommandError(f"{source}: the JSON is nested too deeply") from exc

        notes: list[str] = []
        try:
            questionnaire = from_fhir_questionnaire(data, notes=notes)
        except RecursionError as exc:
            raise CommandError(f"{source}: the questionnaire is nested too deeply") from exc
        except FhirImportError as exc:
            for reason in exc.reasons:
                self.stderr.write(f"{source}: {reason}")
            raise CommandError(
                f"{len(exc.reasons)} reason(s) why {source} cannot be imported; nothing was written"
            ) from exc
        for note in notes:
            self.stderr.write(f"{source}: note: {note}")

        yaml_text = dump_questionnaire(questionnaire)
        if not options["output"]:
            self.stdout.write(yaml_text, ending="")
            return
        target = Path(options["output"])
        if target.exists() and not options["force"]:
            raise CommandError(f"{target} exists; use --force to overwrite it")
        try:
            target.write_text(yaml_text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{target}: cannot be written ({exc.strerror or exc})") from exc
        self.stdout.write(
            f"Wrote {target}: questionnaire '{questionnaire.id}' in "
            f"{', '.join(questionnaire.languages)}, "
            f"{sum(1 for _ in questionnaire.all_items())} items."
        )
        expected = f"{questionnaire.id}.yaml"
        if target.name != expected:
            self.stdout.write(
                f"In a programme's questionnaires/ folder the file must be named {expected}."
            )
