"""Export a questionnaire, or a patient's submitted answers, as FHIR R4 JSON.

``export_fhir questionnaire ID`` writes a ``Questionnaire``: a library instrument, or with
``--programme`` the questionnaire of a programme version. ``export_fhir response PK`` writes a
submitted response as a ``QuestionnaireResponse``; that is patient data leaving the platform,
so it is audited (``questionnaires.response.exported``) in the transaction that writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from steg.audit.actions import Actor, record_event
from steg.lib.yamldoc import ProgrammeFormatError
from steg.programmes.models import Programme, ProgrammeVersion
from steg.questionnaires.definition import Questionnaire
from steg.questionnaires.fhir import dumps, to_fhir_questionnaire, to_fhir_response
from steg.questionnaires.library import library_ids, library_questionnaire
from steg.questionnaires.loader import questionnaires_of
from steg.questionnaires.logic import answers_from_json
from steg.questionnaires.models import Response

LANGUAGES = ("sv", "en")


def _known(values: Iterable[object]) -> str:
    names = [str(value) for value in values]
    return ", ".join(names) if names else "none"


class Command(BaseCommand):
    help = (
        "Export a questionnaire (a library instrument, or a programme's with --programme) or a "
        "submitted response as FHIR R4 JSON. Exporting a response is recorded in the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = parser.add_subparsers(dest="kind", metavar="{questionnaire,response}")
        kinds.required = True

        questionnaire = kinds.add_parser(
            "questionnaire", help="A questionnaire definition as a FHIR Questionnaire"
        )
        questionnaire.add_argument(
            "id", metavar="ID", help="The questionnaire's id, e.g. ftnd or mood"
        )
        questionnaire.add_argument(
            "--programme",
            metavar="SLUG",
            help="Take the questionnaire from this programme (default: the instrument library)",
        )
        questionnaire.add_argument(
            "--version",
            type=int,
            metavar="N",
            dest="programme_version",
            help="The programme version (default: the newest); only with --programme",
        )
        questionnaire.add_argument(
            "--language",
            choices=LANGUAGES,
            help="The primary language of the texts (default: the questionnaire's first)",
        )
        self._add_output_arguments(questionnaire)

        response = kinds.add_parser(
            "response",
            help="A submitted response as a FHIR QuestionnaireResponse (audited)",
        )
        response.add_argument("response_id", metavar="RESPONSE_ID", help="The response's id")
        self._add_output_arguments(response)

    @staticmethod
    def _add_output_arguments(parser: CommandParser) -> None:
        parser.add_argument(
            "--output", metavar="PATH", help="Write the JSON to this file (default: stdout)"
        )
        parser.add_argument(
            "--force", action="store_true", help="Overwrite the --output file if it exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output = Path(options["output"]) if options["output"] else None
        if output is not None and output.exists() and not options["force"]:
            raise CommandError(f"{output} exists; use --force to overwrite it")
        if options["kind"] == "questionnaire":
            self._export_questionnaire(options, output)
        else:
            self._export_response(options, output)

    # -- questionnaire ---------------------------------------------------------------------

    def _export_questionnaire(self, options: dict[str, Any], output: Path | None) -> None:
        if options["programme"]:
            questionnaire, where = self._programme_questionnaire(
                options["programme"], options["programme_version"], options["id"]
            )
        else:
            if options["programme_version"] is not None:
                raise CommandError("--version needs --programme")
            questionnaire, where = self._library_questionnaire(options["id"])
        language = options["language"]
        if language is not None and language not in questionnaire.languages:
            raise CommandError(
                f"questionnaire '{questionnaire.id}' ({where}) has no language '{language}'; "
                f"it has: {_known(questionnaire.languages)}"
            )
        text = dumps(to_fhir_questionnaire(questionnaire, language=language))
        self._write(text, output, options["force"], f"questionnaire '{questionnaire.id}' ({where})")

    @staticmethod
    def _programme_questionnaire(
        slug: str, number: int | None, ident: str
    ) -> tuple[Questionnaire, str]:
        programme = Programme.objects.filter(slug=slug).first()
        if programme is None:
            known = Programme.objects.order_by("slug").values_list("slug", flat=True)
            raise CommandError(f"no programme '{slug}'; known programmes: {_known(known)}")
        versions = ProgrammeVersion.objects.filter(programme=programme).order_by("-number")
        version = versions.filter(number=number).first() if number is not None else versions.first()
        if version is None:
            numbers = sorted(versions.values_list("number", flat=True))
            raise CommandError(
                f"programme '{slug}' has no version {number}; versions: {_known(numbers)}"
                if number is not None
                else f"programme '{slug}' has no versions"
            )
        questionnaires = questionnaires_of(version)
        where = f"{slug} version {version.number}"
        if ident not in questionnaires:
            raise CommandError(
                f"{where} has no questionnaire '{ident}'; it has: {_known(questionnaires)}"
            )
        return questionnaires[ident], where

    @staticmethod
    def _library_questionnaire(ident: str) -> tuple[Questionnaire, str]:
        known = library_ids()
        if ident not in known:
            raise CommandError(
                f"no library instrument '{ident}'; the library has: {_known(sorted(known))} "
                "(use --programme for a programme's own questionnaires)"
            )
        try:
            return library_questionnaire(ident), "library"
        except ProgrammeFormatError as exc:
            problems = "; ".join(str(problem) for problem in exc.problems)
            raise CommandError(f"library instrument '{ident}' is broken: {problems}") from exc

    # -- response --------------------------------------------------------------------------

    def _export_response(self, options: dict[str, Any], output: Path | None) -> None:
        raw_id = options["response_id"]
        try:
            pk = int(raw_id)
        except ValueError:
            raise CommandError(f"response id must be a number, not '{raw_id}'") from None
        response = (
            Response.objects.select_related("enrolment__patient", "enrolment__programme_version")
            .filter(pk=pk)
            .first()
        )
        if response is None:
            raise CommandError(f"no response with id {pk}")
        if response.status != Response.Status.SUBMITTED or response.submitted_at is None:
            raise CommandError(f"response {pk} is not submitted (it is a {response.status})")
        enrolment = response.enrolment
        version = enrolment.programme_version
        questionnaire = questionnaires_of(version).get(response.questionnaire_id)
        if questionnaire is None:
            raise CommandError(
                f"response {pk} answers questionnaire '{response.questionnaire_id}', "
                f"which {version} does not have"
            )
        try:
            answers = answers_from_json(questionnaire, response.answers)
            resource = to_fhir_response(
                questionnaire,
                answers,
                response_id=str(response.pk),
                status="completed",
                authored=response.submitted_at,
                subject_reference=f"Patient/{enrolment.patient_id}",
                language=response.language,
            )
        except ValueError as exc:
            raise CommandError(f"response {pk} does not fit its questionnaire: {exc}") from exc
        text = dumps(resource)
        # The audit event and the export stand or fall together: a failed write rolls it back.
        with transaction.atomic():
            record_event(
                action="questionnaires.response.exported",
                actor=Actor(None, "system"),
                patient=enrolment.patient,
                object_type="questionnaires.response",
                object_id=response.pk,
                purpose="export",
                detail={"format": "fhir-r4"},
            )
            self._write(text, output, options["force"], f"response {pk}")

    # -- output ----------------------------------------------------------------------------

    def _write(self, text: str, output: Path | None, force: bool, what: str) -> None:
        if output is None:
            self.stdout.write(text, ending="")
            return
        # "x" refuses an existing file even if it appeared after the check in handle().
        try:
            with output.open("w" if force else "x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError as exc:
            raise CommandError(f"{output} exists; use --force to overwrite it") from exc
        except OSError as exc:
            raise CommandError(f"{output}: cannot be written ({exc.strerror or exc})") from exc
        self.stdout.write(f"Wrote {output}: {what} as FHIR R4 JSON.")
