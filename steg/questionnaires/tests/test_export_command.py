"""``manage.py export_fhir``: questionnaires and submitted responses out as FHIR R4 JSON.

Exports are validated with ``fhir.resources.R4B`` (same structure as R4 for these two
resources; see docs/fhir.md). Every refusal is a CommandError that writes nothing: no output,
no file, no audit event.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as FhirQuestionnaireResponse,
)
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.programmes.actions import import_programme
from steg.questionnaires import actions
from steg.questionnaires.definition import Answers
from steg.questionnaires.fhir import from_fhir_questionnaire
from steg.questionnaires.library import library_questionnaire
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.management.commands import export_fhir
from steg.questionnaires.models import Response
from steg.testing.personas import EXAMPLE_PROGRAMME, World

EXPORTED = "questionnaires.response.exported"

MOOD_ANSWERS: Answers = {
    "feeling": ("bad",),
    "hardest": ("sleep", "worry"),
    "stress": (7,),
    "note": ("Tung vecka på jobbet.",),
}
DIARY_ANSWERS: Answers = {
    "used": (True,),
    "amount": (12,),
    "craving": (6,),
    "situation": ("Efter middagen",),
}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def export(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("export_fhir", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("export_fhir", *args, stdout=out, stderr=StringIO())
    assert out.getvalue() == ""
    return str(excinfo.value)


def parse(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return data


def submitted(world: World, qid: str, answers: Answers, *, language: str = "sv") -> Response:
    enrolment = world.enrolment
    questionnaire = get_questionnaire(enrolment.programme_version, qid)
    assert questionnaire is not None
    return actions.submit(
        enrolment=enrolment,
        questionnaire=questionnaire,
        day=timezone.localdate(),
        answers=answers,
        language=language,
        token=f"token-{qid}",
    )


def fhir_answers(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """linkId -> answer values (codes for codings), from a QuestionnaireResponse's items."""
    found: dict[str, list[Any]] = {}
    for item in items:
        for answer in item.get("answer", []):
            ((key, value),) = ((k, v) for k, v in answer.items() if k.startswith("value"))
            found.setdefault(item["linkId"], []).append(
                value["code"] if key == "valueCoding" else value
            )
            found.update(fhir_answers(answer.get("item", [])))
        found.update(fhir_answers(item.get("item", [])))
    return found


def exports() -> int:
    return AuditEvent.objects.filter(action=EXPORTED).count()


# -- questionnaires --------------------------------------------------------------------------


def test_a_library_instrument_is_exported_as_a_valid_fhir_questionnaire(db: None) -> None:
    out, _ = export("questionnaire", "ftnd")

    data = parse(out)
    FhirQuestionnaire.model_validate(data)
    assert data["resourceType"] == "Questionnaire"
    assert data["id"] == "ftnd"
    assert data["language"] == "sv"
    assert from_fhir_questionnaire(data) == library_questionnaire("ftnd")


def test_language_chooses_the_primary_language(db: None) -> None:
    out, _ = export("questionnaire", "ftnd", "--language", "en")

    data = parse(out)
    FhirQuestionnaire.model_validate(data)
    assert data["language"] == "en"
    assert data["title"] == library_questionnaire("ftnd").title["en"]


def test_a_programme_questionnaire_comes_from_the_newest_version(
    world: World, tmp_path: Path
) -> None:
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE_PROGRAMME, copy)
    mood = copy / "questionnaires" / "mood.yaml"
    mood.write_text(
        mood.read_text(encoding="utf-8").replace("en: How are you?", "en: How are you now?"),
        encoding="utf-8",
    )
    second = import_programme(copy).version
    assert second.number == 2

    newest = parse(export("questionnaire", "mood", "--programme", "example", "--language", "en")[0])
    first = parse(
        export(
            "questionnaire", "mood", "--programme", "example", "--version", "1", "--language", "en"
        )[0]
    )

    FhirQuestionnaire.model_validate(newest)
    FhirQuestionnaire.model_validate(first)
    assert newest["title"] == "How are you now?"
    assert first["title"] == "How are you?"
    assert from_fhir_questionnaire(first) == get_questionnaire(
        world.enrolment.programme_version, "mood"
    )


def test_the_diary_of_a_programme_is_exported_with_its_schedule(world: World) -> None:
    out, _ = export("questionnaire", "diary", "--programme", "example", "--version", "1")

    data = parse(out)
    FhirQuestionnaire.model_validate(data)
    assert from_fhir_questionnaire(data) == get_questionnaire(
        world.enrolment.programme_version, "diary"
    )


def test_an_unknown_library_instrument_is_refused_listing_the_library(db: None) -> None:
    message = refused("questionnaire", "phq-9")

    assert message.startswith("no library instrument 'phq-9'; the library has: ")
    assert "ftnd" in message
    assert "\n" not in message


def test_an_unknown_programme_is_refused_listing_the_programmes(world: World) -> None:
    message = refused("questionnaire", "mood", "--programme", "nope")

    assert message == "no programme 'nope'; known programmes: example"


def test_an_unknown_version_is_refused_listing_the_versions(world: World) -> None:
    message = refused("questionnaire", "mood", "--programme", "example", "--version", "7")

    assert message == "programme 'example' has no version 7; versions: 1"


def test_an_unknown_programme_questionnaire_is_refused_listing_the_versions_questionnaires(
    world: World,
) -> None:
    message = refused("questionnaire", "phq-9", "--programme", "example")

    assert message.startswith("example version 1 has no questionnaire 'phq-9'; it has: ")
    assert "diary" in message
    assert "mood" in message


def test_version_without_programme_is_refused(db: None) -> None:
    assert refused("questionnaire", "ftnd", "--version", "1") == "--version needs --programme"


def test_a_language_the_questionnaire_lacks_is_refused(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    swedish_only = dataclasses.replace(library_questionnaire("ftnd"), languages=("sv",))
    monkeypatch.setattr(export_fhir, "library_questionnaire", lambda ident: swedish_only)

    message = refused("questionnaire", "ftnd", "--language", "en")

    assert message == "questionnaire 'ftnd' (library) has no language 'en'; it has: sv"


def test_a_language_steg_does_not_have_is_refused(db: None) -> None:
    assert "invalid choice: 'de'" in refused("questionnaire", "ftnd", "--language", "de")


def test_output_writes_the_file(db: None, tmp_path: Path) -> None:
    target = tmp_path / "ftnd.json"

    out, _ = export("questionnaire", "ftnd", "--output", str(target))

    assert out.startswith(f"Wrote {target}")
    FhirQuestionnaire.model_validate(parse(target.read_text(encoding="utf-8")))


def test_an_existing_output_file_is_kept_without_force(db: None, tmp_path: Path) -> None:
    target = tmp_path / "ftnd.json"
    target.write_text("keep me", encoding="utf-8")

    message = refused("questionnaire", "ftnd", "--output", str(target))

    assert message == f"{target} exists; use --force to overwrite it"
    assert target.read_text(encoding="utf-8") == "keep me"


def test_force_overwrites_the_output_file(db: None, tmp_path: Path) -> None:
    target = tmp_path / "ftnd.json"
    target.write_text("replace me", encoding="utf-8")

    export("questionnaire", "ftnd", "--output", str(target), "--force")

    assert parse(target.read_text(encoding="utf-8"))["id"] == "ftnd"


def test_a_refused_questionnaire_writes_no_file(db: None, tmp_path: Path) -> None:
    target = tmp_path / "out.json"

    refused("questionnaire", "phq-9", "--output", str(target))

    assert not target.exists()


# -- responses ---------------------------------------------------------------------------------


def test_a_submitted_response_is_exported_as_a_valid_questionnaire_response(
    world: World,
) -> None:
    response = submitted(world, "mood", MOOD_ANSWERS)

    out, _ = export("response", str(response.pk))

    data = parse(out)
    FhirQuestionnaireResponse.model_validate(data)
    FhirQuestionnaireResponse.model_validate_json(out)
    assert data["resourceType"] == "QuestionnaireResponse"
    assert data["id"] == str(response.pk)
    assert data["status"] == "completed"
    assert data["language"] == "sv"
    assert data["questionnaire"] == "Questionnaire/mood"
    assert data["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    assert response.submitted_at is not None
    assert datetime.datetime.fromisoformat(data["authored"]) == response.submitted_at


def test_the_exported_answers_are_the_stored_answers(world: World) -> None:
    mood = submitted(world, "mood", MOOD_ANSWERS)
    diary = submitted(world, "diary", DIARY_ANSWERS, language="en")

    mood_data = parse(export("response", str(mood.pk))[0])
    diary_data = parse(export("response", str(diary.pk))[0])

    mood.refresh_from_db()
    diary.refresh_from_db()
    assert fhir_answers(mood_data["item"]) == mood.answers
    assert fhir_answers(diary_data["item"]) == diary.answers
    assert diary.answers == {
        "used": [True],
        "amount": [12],
        "craving": [6],
        "situation": ["Efter middagen"],
    }
    # Option displays follow the response's language.
    (feeling,) = (item for item in mood_data["item"] if item["linkId"] == "feeling")
    assert feeling["answer"] == [{"valueCoding": {"code": "bad", "display": "Dåligt"}}]
    assert diary_data["language"] == "en"


def test_exporting_a_response_writes_an_audit_event(world: World) -> None:
    response = submitted(world, "mood", MOOD_ANSWERS)

    export("response", str(response.pk))

    event = AuditEvent.objects.get(action=EXPORTED)
    assert event.actor is None
    assert event.actor_role == "system"
    assert event.patient == world.patient
    assert event.object_type == "questionnaires.response"
    assert event.object_id == str(response.pk)
    assert event.purpose == "export"
    assert event.detail == {"format": "fhir-r4"}


def test_a_response_exported_to_a_file_is_audited(world: World, tmp_path: Path) -> None:
    response = submitted(world, "diary", DIARY_ANSWERS)
    target = tmp_path / "response.json"

    export("response", str(response.pk), "--output", str(target))

    FhirQuestionnaireResponse.model_validate(parse(target.read_text(encoding="utf-8")))
    assert exports() == 1


def test_a_draft_is_refused_as_not_submitted(world: World, tmp_path: Path) -> None:
    questionnaire = get_questionnaire(world.enrolment.programme_version, "mood")
    assert questionnaire is not None
    draft = actions.save_draft(
        enrolment=world.enrolment,
        questionnaire=questionnaire,
        day=timezone.localdate(),
        answers={"feeling": ("good",)},
        language="sv",
    )
    target = tmp_path / "draft.json"

    message = refused("response", str(draft.pk), "--output", str(target))

    assert message == f"response {draft.pk} is not submitted (it is a draft)"
    assert not target.exists()
    assert exports() == 0


def test_an_unknown_response_is_refused(world: World) -> None:
    assert refused("response", "999999") == "no response with id 999999"
    assert refused("response", "abc") == "response id must be a number, not 'abc'"
    assert exports() == 0


def test_an_existing_output_file_refuses_the_response_export_unaudited(
    world: World, tmp_path: Path
) -> None:
    response = submitted(world, "mood", MOOD_ANSWERS)
    target = tmp_path / "response.json"
    target.write_text("keep me", encoding="utf-8")

    message = refused("response", str(response.pk), "--output", str(target))

    assert message == f"{target} exists; use --force to overwrite it"
    assert target.read_text(encoding="utf-8") == "keep me"
    assert exports() == 0


def test_a_failed_write_rolls_the_audit_event_back(world: World, tmp_path: Path) -> None:
    response = submitted(world, "mood", MOOD_ANSWERS)
    target = tmp_path / "missing-folder" / "response.json"

    message = refused("response", str(response.pk), "--output", str(target))

    assert message.startswith(f"{target}: cannot be written")
    assert not target.exists()
    assert exports() == 0


def test_a_response_that_does_not_fit_its_questionnaire_is_refused(world: World) -> None:
    response = submitted(world, "mood", MOOD_ANSWERS)
    Response.objects.filter(pk=response.pk).update(answers={"nonsense": [1]})

    message = refused("response", str(response.pk))

    assert message.startswith(f"response {response.pk} does not fit its questionnaire: ")
    assert exports() == 0
