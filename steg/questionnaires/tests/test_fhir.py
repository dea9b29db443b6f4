"""FHIR R4 Questionnaire / QuestionnaireResponse: exports validate, imports refuse loudly.

Exports are validated with ``fhir.resources.R4B`` (FHIR 4.3.0): fhir.resources 8 ships no
plain R4 package, and R4B's Questionnaire and QuestionnaireResponse have the same structure
as R4 (4.0.1).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as FhirQuestionnaireResponse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steg.questionnaires.definition import (
    AnswerOption,
    Answers,
    Band,
    EnableWhen,
    Flag,
    Item,
    Questionnaire,
    Schedule,
    Scoring,
    Subscale,
)
from steg.questionnaires.fhir import (
    ITEM_CONTROL,
    ITEM_WEIGHT,
    MAX_VALUE,
    MIN_LENGTH,
    MIN_VALUE,
    ORDINAL_VALUE,
    STEG_HINT,
    STEG_SCHEDULE,
    STEG_SCORING,
    STEG_SOURCE,
    TRANSLATION,
    FhirImportError,
    _read_questionnaire,
    _steg_problems,
    dumps,
    from_fhir_questionnaire,
    to_fhir_questionnaire,
    to_fhir_response,
)
from steg.questionnaires.parse import load_questionnaire_text


def t(sv: str, en: str) -> dict[str, str]:
    return {"sv": sv, "en": en}


YES_NO_SCORED = (
    AnswerOption("cig", t("Cigaretter", "Cigarettes"), Decimal(0)),
    AnswerOption("snus", t("Snus", "Snus"), Decimal("1.5")),
    AnswerOption("both", t("Båda", "Both"), Decimal(2)),
)

RICH = Questionnaire(
    id="rich",
    title=t("Rik enkät", "Rich questionnaire"),
    languages=("sv", "en"),
    description=t("Om din **tobak**", "About your **tobacco**"),
    version="2",
    url="https://steg.example/fhir/Questionnaire/rich",
    source="Hand-built for the FHIR tests",
    items=(
        Item("intro", "display", t("Välkommen", "Welcome"), hint=t("Ta tid", "Take your time")),
        Item(
            "smokes",
            "boolean",
            t("Röker du?", "Do you smoke?"),
            required=True,
            hint=t("Även fest", "Parties count"),
            initial=(False,),
        ),
        Item(
            "kind",
            "choice",
            t("Vad?", "What?"),
            options=YES_NO_SCORED,
            enable_when=(EnableWhen("smokes", "=", True),),
            initial=("snus",),
        ),
        Item(
            "brands",
            "open-choice",
            t("Märken", "Brands"),
            repeats=True,
            options=(
                AnswerOption("a", t("A-märket", "Brand A")),
                AnswerOption("b", t("B-märket", "Brand B")),
            ),
            enable_when=(
                EnableWhen("kind", "=", "snus"),
                EnableWhen("kind", "exists", True),
            ),
            enable_behavior="any",
            initial=("a", "b"),
        ),
        Item(
            "per-day",
            "integer",
            t("Per dag", "Per day"),
            required=True,
            min_value=Decimal(0),
            max_value=Decimal(60),
            initial=(10,),
            enable_when=(EnableWhen("brands", "!=", "my own"),),
        ),
        Item(
            "cost",
            "decimal",
            t("Kostnad", "Cost"),
            min_value=Decimal(0),
            max_value=Decimal("999.5"),
            initial=(Decimal("62.5"),),
            enable_when=(EnableWhen("per-day", ">", 5),),
        ),
        Item(
            "about",
            "group",
            t("Om att sluta", "About quitting"),
            enable_when=(EnableWhen("cost", ">=", Decimal("10.5")),),
            items=(
                Item(
                    "quit-date",
                    "date",
                    t("Slutdatum", "Quit date"),
                    min_value=datetime.date(2020, 1, 1),
                    max_value=datetime.date(2030, 12, 31),
                ),
                Item(
                    "wake",
                    "time",
                    t("Vaknar", "Wake up"),
                    enable_when=(EnableWhen("quit-date", "<", datetime.date(2026, 1, 1)),),
                    initial=(datetime.time(7, 0),),
                ),
                Item(
                    "inner",
                    "group",
                    {},
                    items=(
                        Item(
                            "note",
                            "string",
                            t("Anteckning", "Note"),
                            repeats=True,
                            min_length=2,
                            max_length=100,
                            initial=("hej",),
                            enable_when=(EnableWhen("wake", ">=", datetime.time(7, 30)),),
                        ),
                        Item(
                            "story",
                            "text",
                            t("Berätta", "Tell us"),
                            max_length=500,
                            hint=t("Fritt", "Freely"),
                            enable_when=(EnableWhen("note", "=", "x"),),
                        ),
                    ),
                ),
            ),
        ),
    ),
    scoring=Scoring(
        items=("smokes", "kind", "per-day"),
        reversed=("kind",),
        missing="prorate",
        max_missing=1,
        decimals=1,
        subscales=(Subscale("habit", t("Vana", "Habit"), ("smokes", "kind")),),
        bands=(
            Band("low", None, Decimal(10), t("Låg", "Low"), t("Bra", "Good")),
            Band("high", Decimal("10.5"), None, t("Hög", "High"), {}),
        ),
        flags=(Flag("heavy", "total", Decimal(40), None, t("Tung", "Heavy")),),
    ),
    schedule=Schedule(kind="weekly", anchor="quit_date", start_day=7, end_day=84, backfill_days=3),
)

AUTHORED = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)


def items_by_link_id(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            found[item["linkId"]] = item
            walk(item.get("item", []))
            for answer in item.get("answer", []):
                walk(answer.get("item", []))

    walk(resource.get("item", []))
    return found


def reasons_of(data: object) -> list[str]:
    with pytest.raises(FhirImportError) as caught:
        from_fhir_questionnaire(data)
    return caught.value.reasons


def has_reason(reasons: list[str], *parts: str) -> bool:
    return any(all(part in reason for part in parts) for reason in reasons)


# -- export ------------------------------------------------------------------------------


def test_the_rich_questionnaire_passes_stegs_own_checks() -> None:
    assert _steg_problems(RICH) == []


def test_export_validates_as_a_fhir_questionnaire() -> None:
    exported = to_fhir_questionnaire(RICH)

    FhirQuestionnaire.model_validate(exported)
    FhirQuestionnaire.model_validate_json(dumps(exported))


def test_export_uses_the_standard_elements_and_extensions() -> None:
    exported = to_fhir_questionnaire(RICH)
    items = items_by_link_id(exported)

    assert exported["language"] == "sv"
    assert exported["title"] == "Rik enkät"
    assert exported["_title"]["extension"][0]["url"] == TRANSLATION
    assert exported["_title"]["extension"][0]["extension"] == [
        {"url": "lang", "valueCode": "en"},
        {"url": "content", "valueString": "Rich questionnaire"},
    ]
    assert exported["status"] == "active"
    assert exported["version"] == "2"
    assert exported["name"] == "Rich"
    urls = [extension["url"] for extension in exported["extension"]]
    assert {STEG_SOURCE, STEG_SCORING, STEG_SCHEDULE} <= set(urls)

    snus = items["kind"]["answerOption"][1]
    assert snus["valueCoding"] == {
        "code": "snus",
        "display": "Snus",
        "_display": {
            "extension": [
                {
                    "url": TRANSLATION,
                    "extension": [
                        {"url": "lang", "valueCode": "en"},
                        {"url": "content", "valueString": "Snus"},
                    ],
                }
            ]
        },
    }
    assert snus["extension"] == [{"url": ITEM_WEIGHT, "valueDecimal": Decimal("1.5")}]
    assert snus["initialSelected"] is True
    assert "initial" not in items["kind"]  # R4 que-11: answerOption, so initialSelected
    assert items["per-day"]["extension"] == [
        {"url": MIN_VALUE, "valueInteger": 0},
        {"url": MAX_VALUE, "valueInteger": 60},
    ]
    assert items["cost"]["extension"][1] == {"url": MAX_VALUE, "valueDecimal": Decimal("999.5")}
    assert items["quit-date"]["extension"][0] == {"url": MIN_VALUE, "valueDate": "2020-01-01"}
    assert items["note"]["extension"] == [{"url": MIN_LENGTH, "valueInteger": 2}]
    assert items["note"]["maxLength"] == 100
    assert items["brands"]["enableBehavior"] == "any"
    assert items["wake"]["initial"] == [{"valueTime": "07:00:00"}]
    assert items["intro"]["extension"][0]["url"] == STEG_HINT

    hint = items["smokes.hint"]
    assert hint["type"] == "display"
    assert hint["text"] == "Även fest"
    assert hint["extension"][0]["url"] == ITEM_CONTROL
    assert hint["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "flyover"
    assert items["smokes"]["item"] == [hint]
    assert "text" not in items["inner"]


def test_enable_when_answers_have_every_fhir_type() -> None:
    items = items_by_link_id(to_fhir_questionnaire(RICH))

    answers = {
        link_id: {k: v for k, v in items[link_id]["enableWhen"][0].items() if k.startswith("a")}
        for link_id in ("kind", "brands", "per-day", "cost", "about", "wake", "note", "story")
    }
    assert answers == {
        "kind": {"answerBoolean": True},
        "brands": {"answerCoding": {"code": "snus"}},
        "per-day": {"answerString": "my own"},  # open-choice text that is no option
        "cost": {"answerInteger": 5},
        "about": {"answerDecimal": Decimal("10.5")},
        "wake": {"answerDate": "2026-01-01"},
        "note": {"answerTime": "07:30:00"},
        "story": {"answerString": "x"},
    }
    assert items["brands"]["enableWhen"][1] == {
        "question": "kind",
        "operator": "exists",
        "answerBoolean": True,
    }


def test_export_in_another_language_puts_that_language_first() -> None:
    exported = to_fhir_questionnaire(RICH, language="en")

    assert exported["language"] == "en"
    assert exported["title"] == "Rich questionnaire"
    assert exported["_title"]["extension"][0]["extension"][0] == {"url": "lang", "valueCode": "sv"}
    FhirQuestionnaire.model_validate(exported)


def test_export_refuses_a_language_the_questionnaire_does_not_have() -> None:
    with pytest.raises(ValueError, match="de"):
        to_fhir_questionnaire(RICH, language="de")


def test_dumps_writes_decimals_exactly_as_json_numbers() -> None:
    text = dumps({"a": Decimal("0.1000000000000000055511151231257827"), "b": [Decimal("1E+2")]})

    assert "0.1000000000000000055511151231257827" in text
    assert json.loads(text, parse_float=Decimal) == {
        "a": Decimal("0.1000000000000000055511151231257827"),
        "b": [Decimal(100)],
    }


# -- round trip --------------------------------------------------------------------------


def test_import_of_the_export_gives_the_same_questionnaire() -> None:
    assert from_fhir_questionnaire(to_fhir_questionnaire(RICH)) == RICH


def test_round_trip_holds_through_json_text_and_in_either_language() -> None:
    for language in ("sv", "en"):
        text = dumps(to_fhir_questionnaire(RICH, language=language))
        assert from_fhir_questionnaire(json.loads(text, parse_float=Decimal)) == RICH


def test_round_trip_keeps_initial_options_out_of_option_order() -> None:
    q = _replace_item(RICH, "brands", initial=("b", "a"))

    exported = to_fhir_questionnaire(q)

    assert items_by_link_id(exported)["brands"]["initial"] == [
        {"valueCoding": {"code": "b"}},
        {"valueCoding": {"code": "a"}},
    ]
    assert from_fhir_questionnaire(exported) == q


def test_a_hint_link_id_never_collides_with_an_item() -> None:
    q = Questionnaire(
        id="hints",
        title={"en": "Hints"},
        languages=("en",),
        items=(
            Item("a", "boolean", {"en": "A?"}, hint={"en": "Think"}),
            Item("a.hint", "boolean", {"en": "Really?"}),
        ),
    )

    exported = to_fhir_questionnaire(q)

    assert exported["item"][0]["item"][0]["linkId"] == "a.hint-2"
    assert "extension" not in exported  # one language: nothing Steg-specific to say
    assert from_fhir_questionnaire(exported) == q


def _replace_item(q: Questionnaire, link_id: str, **changes: Any) -> Questionnaire:
    def walk(items: tuple[Item, ...]) -> tuple[Item, ...]:
        return tuple(
            dataclasses.replace(item, **changes)
            if item.link_id == link_id
            else dataclasses.replace(item, items=walk(item.items))
            for item in items
        )

    return dataclasses.replace(q, items=walk(q.items))


# -- responses ---------------------------------------------------------------------------

RICH_ANSWERS: Answers = {
    "smokes": (True,),
    "kind": ("snus",),
    "brands": ("a", "my own"),
    "per-day": (12,),
    "cost": (Decimal("62.50"),),
    "quit-date": (datetime.date(2025, 6, 1),),
    "wake": (datetime.time(7, 45),),
    "note": ("one", "two"),
    "story": ("A long story",),
}


def test_response_validates_as_a_fhir_questionnaire_response() -> None:
    response = to_fhir_response(
        RICH,
        RICH_ANSWERS,
        response_id="r-1",
        status="completed",
        authored=AUTHORED,
        subject_reference="Patient/p-1",
        language="en",
    )

    FhirQuestionnaireResponse.model_validate(response)
    FhirQuestionnaireResponse.model_validate_json(dumps(response))


def test_response_mirrors_groups_and_types_its_answers() -> None:
    response = to_fhir_response(
        RICH,
        RICH_ANSWERS,
        response_id="r-1",
        status="in-progress",
        authored=AUTHORED,
        subject_reference="Patient/p-1",
        language="en",
    )
    items = items_by_link_id(response)

    assert response["questionnaire"] == "https://steg.example/fhir/Questionnaire/rich|2"
    assert response["status"] == "in-progress"
    assert response["authored"] == "2026-03-01T09:30:00+00:00"
    assert response["subject"] == {"reference": "Patient/p-1"}
    assert [item["linkId"] for item in response["item"]] == [
        "smokes",
        "kind",
        "brands",
        "per-day",
        "cost",
        "about",
    ]
    about = response["item"][-1]
    assert [item["linkId"] for item in about["item"]] == ["quit-date", "wake", "inner"]
    assert [item["linkId"] for item in about["item"][2]["item"]] == ["note", "story"]
    assert items["smokes"]["answer"] == [{"valueBoolean": True}]
    assert items["kind"]["answer"] == [{"valueCoding": {"code": "snus", "display": "Snus"}}]
    assert items["brands"]["answer"] == [
        {"valueCoding": {"code": "a", "display": "Brand A"}},
        {"valueString": "my own"},
    ]
    assert items["per-day"]["answer"] == [{"valueInteger": 12}]
    assert items["cost"]["answer"] == [{"valueDecimal": Decimal("62.50")}]
    assert items["quit-date"]["answer"] == [{"valueDate": "2025-06-01"}]
    assert items["wake"]["answer"] == [{"valueTime": "07:45:00"}]
    assert items["note"]["answer"] == [{"valueString": "one"}, {"valueString": "two"}]
    assert items["kind"]["text"] == "What?"
    assert "intro" not in items


def test_response_leaves_out_unanswered_items_and_empty_groups() -> None:
    response = to_fhir_response(
        RICH,
        {"smokes": (False,)},
        response_id="r-2",
        status="completed",
        authored=AUTHORED,
        language="sv",
    )

    assert response["item"] == [
        {"linkId": "smokes", "text": "Röker du?", "answer": [{"valueBoolean": False}]}
    ]
    assert "subject" not in response
    FhirQuestionnaireResponse.model_validate(response)


def test_response_to_a_questionnaire_without_url_refers_to_it_by_id() -> None:
    q = Questionnaire("plain", {"en": "Plain"}, ("en",), (Item("a", "boolean", {"en": "A?"}),))

    response = to_fhir_response(
        q, {}, response_id="r", status="completed", authored=AUTHORED, language="en"
    )

    assert response["questionnaire"] == "Questionnaire/plain"
    assert "item" not in response
    FhirQuestionnaireResponse.model_validate(response)


def test_response_refuses_naive_times_and_unknown_items() -> None:
    with pytest.raises(ValueError, match="aware"):
        to_fhir_response(
            RICH,
            {},
            response_id="r",
            status="completed",
            authored=datetime.datetime(2026, 3, 1, 9, 30),  # noqa: DTZ001
            language="sv",
        )
    with pytest.raises(ValueError, match="nope"):
        to_fhir_response(
            RICH,
            {"nope": (True,)},
            response_id="r",
            status="completed",
            authored=AUTHORED,
            language="sv",
        )


# -- import of questionnaires written elsewhere -------------------------------------------


def _phq_option(code: str, display: str, score: int, *, on_coding: bool) -> dict[str, Any]:
    weight = [{"url": ORDINAL_VALUE, "valueDecimal": score}]
    coding: dict[str, Any] = {"system": "http://loinc.org", "code": code, "display": display}
    if on_coding:
        return {"valueCoding": {**coding, "extension": weight}}
    return {"extension": weight, "valueCoding": coding}


def phq2(*, on_coding: bool = False) -> dict[str, Any]:
    """A PHQ-2 as a FHIR tool writes it: LOINC codes, ordinalValue scores, no language."""
    answers = [
        ("LA6568-5", "Not at all", 0),
        ("LA6569-3", "Several days", 1),
        ("LA6570-1", "More than half the days", 2),
        ("LA6571-9", "Nearly every day", 3),
    ]
    return {
        "resourceType": "Questionnaire",
        "id": "phq-2",
        "meta": {"profile": ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"]},
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">PHQ-2</div>',
        },
        "url": "http://example.org/fhir/Questionnaire/phq-2",
        "version": "1.0.0",
        "name": "PHQ2",
        "title": "Patient Health Questionnaire-2",
        "status": "draft",
        "publisher": "Example Health",
        "date": "2024-05-01",
        "code": [{"system": "http://loinc.org", "code": "55757-9"}],
        "item": [
            {
                "linkId": "/44250-9",
                "code": [{"system": "http://loinc.org", "code": "44250-9"}],
                "text": "Little interest or pleasure in doing things",
                "type": "choice",
                "required": True,
                "answerOption": [_phq_option(*a, on_coding=on_coding) for a in answers],
            },
            {
                "linkId": "/44255-8",
                "code": [{"system": "http://loinc.org", "code": "44255-8"}],
                "text": "Feeling down, depressed, or hopeless",
                "type": "choice",
                "required": True,
                "answerOption": [_phq_option(*a, on_coding=on_coding) for a in answers],
            },
        ],
    }


def test_a_phq2_written_elsewhere_validates_as_fhir() -> None:
    FhirQuestionnaire.model_validate(phq2())
    FhirQuestionnaire.model_validate(phq2(on_coding=True))


def expected_phq2(link_ids: tuple[str, str]) -> Questionnaire:
    options = (
        AnswerOption("LA6568-5", {"en": "Not at all"}, Decimal(0)),
        AnswerOption("LA6569-3", {"en": "Several days"}, Decimal(1)),
        AnswerOption("LA6570-1", {"en": "More than half the days"}, Decimal(2)),
        AnswerOption("LA6571-9", {"en": "Nearly every day"}, Decimal(3)),
    )
    return Questionnaire(
        id="phq-2",
        title={"en": "Patient Health Questionnaire-2"},
        languages=("en",),
        version="1.0.0",
        url="http://example.org/fhir/Questionnaire/phq-2",
        items=(
            Item(
                link_ids[0],
                "choice",
                {"en": "Little interest or pleasure in doing things"},
                required=True,
                options=options,
            ),
            Item(
                link_ids[1],
                "choice",
                {"en": "Feeling down, depressed, or hopeless"},
                required=True,
                options=options,
            ),
        ),
    )


def test_importing_a_phq2_gives_the_expected_questionnaire() -> None:
    data = phq2()
    for item in data["item"]:
        item["linkId"] = item["linkId"].lstrip("/")  # Steg linkIds have no '/'
    notes: list[str] = []

    q = from_fhir_questionnaire(data, notes=notes)

    assert q == expected_phq2(("44250-9", "44255-8"))
    assert has_reason(notes, "meta", "text", "status", "date", "publisher", "code")
    assert has_reason(notes, "'44250-9'", "code")
    assert has_reason(notes, "http://loinc.org")


def test_ordinal_value_on_the_coding_is_read_as_the_score_too() -> None:
    data = phq2(on_coding=True)
    for item in data["item"]:
        item["linkId"] = item["linkId"].lstrip("/")

    assert from_fhir_questionnaire(data) == expected_phq2(("44250-9", "44255-8"))


def test_item_weight_and_ordinal_value_that_disagree_are_refused() -> None:
    data = phq2()
    option = data["item"][0]["answerOption"][1]
    option["extension"].append({"url": ITEM_WEIGHT, "valueDecimal": 7})

    assert has_reason(reasons_of(data), "different scores", "1", "7")


def test_steg_rules_refuse_what_fhir_allows() -> None:
    # LOINC-style linkIds with '/' are fine in FHIR, not in Steg; FHIR-side the import is clean.
    reasons = reasons_of(phq2())

    assert has_reason(reasons, "linkId", "/44250-9")


def test_string_and_integer_options_become_codes() -> None:
    data: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "name": "SleepCheck",
        "title": "Sleep",
        "item": [
            {
                "linkId": "hours",
                "text": "Hours?",
                "type": "choice",
                "answerOption": [{"valueInteger": 6}, {"valueInteger": 8}],
            },
            {
                "linkId": "how",
                "text": "How?",
                "type": "open-choice",
                "answerOption": [
                    {"valueString": "Well", "_valueString": _translation("sv", "Bra")},
                    {"valueString": "Badly", "_valueString": _translation("sv", "Dåligt")},
                ],
            },
        ],
    }
    data["_title"] = _translation("sv", "Sömn")
    data["item"][0]["_text"] = _translation("sv", "Timmar?")
    data["item"][1]["_text"] = _translation("sv", "Hur?")

    q = from_fhir_questionnaire(data)

    assert q.id == "sleep-check"
    assert q.languages == ("en", "sv")
    hours, how = q.items
    assert hours.options == (
        AnswerOption("6", {"en": "6", "sv": "6"}),
        AnswerOption("8", {"en": "8", "sv": "8"}),
    )
    assert how.options == (
        AnswerOption("Well", {"en": "Well", "sv": "Bra"}),
        AnswerOption("Badly", {"en": "Badly", "sv": "Dåligt"}),
    )


def _translation(lang: str, content: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": lang},
                    {"url": "content", "valueString": content},
                ],
            }
        ]
    }


# -- refusals ----------------------------------------------------------------------------


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": "mini",
        "language": "en",
        "title": "Mini",
        "status": "active",
        "item": [
            {"linkId": "a", "text": "A?", "type": "boolean"},
            {"linkId": "b", "text": "B?", "type": "integer"},
        ],
    }
    data.update(changes)
    return data


def with_item(**item: Any) -> dict[str, Any]:
    data = minimal()
    data["item"].append({"linkId": "x", "text": "X?", "type": "string", **item})
    return data


def test_minimal_imports() -> None:
    q = from_fhir_questionnaire(minimal())

    assert q == Questionnaire(
        id="mini",
        title={"en": "Mini"},
        languages=("en",),
        items=(Item("a", "boolean", {"en": "A?"}), Item("b", "integer", {"en": "B?"})),
    )


@pytest.mark.parametrize("data", [None, [], "Questionnaire", 3])
def test_what_is_not_an_object_is_refused(data: object) -> None:
    assert reasons_of(data) == ["the file is not a FHIR resource (a JSON object)"]


def test_another_resource_type_is_refused() -> None:
    assert reasons_of({"resourceType": "Patient", "id": "p"}) == [
        "the resource is not a FHIR Questionnaire (it has a Patient)"
    ]
    assert reasons_of({"id": "p"}) == [
        "the resource is not a FHIR Questionnaire (it has no resourceType)"
    ]


@pytest.mark.parametrize(
    "item_type", ["attachment", "reference", "url", "quantity", "dateTime", "question"]
)
def test_unsupported_item_types_are_refused(item_type: str) -> None:
    reasons = reasons_of(with_item(type=item_type))

    assert has_reason(reasons, "item 'x'", f"type '{item_type}'", "not support")


def test_answer_value_set_is_refused() -> None:
    data = with_item(type="choice", answerValueSet="http://loinc.org/vs/LL358-3")

    assert has_reason(reasons_of(data), "item 'x'", "answerValueSet is not supported")


def test_enable_when_on_later_or_unknown_questions_is_refused() -> None:
    data = minimal()
    data["item"][0]["enableWhen"] = [{"question": "b", "operator": "exists", "answerBoolean": True}]
    data["item"][1]["enableWhen"] = [
        {"question": "ghost", "operator": "=", "answerInteger": 1},
        {"question": "b", "operator": "=", "answerInteger": 1},
    ]
    data["item"][1]["enableBehavior"] = "all"

    reasons = reasons_of(data)

    assert has_reason(reasons, "item 'a'", "'b'", "later")
    assert has_reason(reasons, "item 'b'", "unknown item 'ghost'")
    assert has_reason(reasons, "item 'b'", "itself")


def test_enable_when_answers_of_the_wrong_type_are_refused() -> None:
    data = with_item(
        enableWhen=[
            {"question": "a", "operator": "=", "answerInteger": 1},
            {"question": "b", "operator": "=", "answerQuantity": {"value": 1}},
            {"question": "b", "operator": "~", "answerInteger": 1},
        ],
        enableBehavior="any",
    )

    reasons = reasons_of(data)

    assert has_reason(reasons, "enableWhen[0]", "boolean item", "answerInteger")
    assert has_reason(reasons, "enableWhen[1]", "answerQuantity is not supported")
    assert has_reason(reasons, "enableWhen[2]", "operator '~'")


def test_unknown_extensions_on_items_are_listed() -> None:
    data = with_item(
        extension=[
            {"url": "http://example.org/a", "valueString": "x"},
            {"url": "http://example.org/b", "valueBoolean": True},
        ]
    )

    assert has_reason(
        reasons_of(data), "item 'x'", "unsupported extensions", "example.org/a", "example.org/b"
    )


def test_other_item_controls_and_elements_are_refused() -> None:
    control = {
        "url": ITEM_CONTROL,
        "valueCodeableConcept": {"coding": [{"code": "drop-down"}]},
    }
    data = with_item(extension=[control], prefix="1.", readOnly=True)
    data["modifierExtension"] = [{"url": "http://example.org/mod", "valueBoolean": True}]

    reasons = reasons_of(data)

    assert has_reason(reasons, "item 'x'", "itemControl 'drop-down'")
    assert has_reason(reasons, "item 'x'", "'prefix' is not supported")
    assert has_reason(reasons, "item 'x'", "readOnly")
    assert has_reason(reasons, "the questionnaire", "modifier", "example.org/mod")


def test_options_that_are_not_codings_strings_or_integers_are_refused() -> None:
    data = with_item(
        type="choice",
        answerOption=[
            {"valueDate": "2026-01-01"},
            {"valueCoding": {"code": "ok"}},
            {"valueCoding": {"display": "No code"}},
        ],
    )

    reasons = reasons_of(data)

    assert has_reason(reasons, "answerOption[0]", "only valueCoding, valueString and valueInteger")
    assert has_reason(reasons, "answerOption[1]", "has no text")
    assert has_reason(reasons, "answerOption[2]", "no code")


def test_items_without_link_id_or_text_are_refused() -> None:
    data = minimal()
    data["item"].append({"text": "Who am I?", "type": "boolean"})
    data["item"].append({"linkId": "mute", "type": "boolean"})
    data["item"].append({"linkId": "g", "type": "group", "item": [{"linkId": "c", "type": "date"}]})

    reasons = reasons_of(data)

    assert has_reason(reasons, "item[2] has no linkId")
    assert has_reason(reasons, "item 'mute' has no text")
    assert has_reason(reasons, "item 'c' has no text")
    assert not has_reason(reasons, "item 'g'")  # a group needs no text


def test_duplicate_link_ids_are_refused() -> None:
    data = minimal()
    data["item"].append(
        {
            "linkId": "g",
            "type": "group",
            "text": "G",
            "item": [{"linkId": "a", "text": "Again", "type": "boolean"}],
        }
    )

    assert has_reason(reasons_of(data), "linkId 'a' is used by 2 items")


def test_texts_missing_a_language_are_refused() -> None:
    data = minimal(_title=_translation("sv", "Mini"))
    data["item"][1]["_text"] = _translation("sv", "B?")

    reasons = reasons_of(data)

    assert has_reason(reasons, "item 'a' has no text in 'sv'")
    assert not has_reason(reasons, "item 'b'")


def test_an_id_that_is_no_slug_is_refused_and_a_name_gives_one() -> None:
    assert has_reason(reasons_of(minimal(id="PHQ_9")), "id 'PHQ_9'", "phq-9")

    data = minimal(name="FagerstromTest")
    del data["id"]
    assert from_fhir_questionnaire(data).id == "fagerstrom-test"

    del data["name"]
    assert has_reason(reasons_of(data), "needs an id")


def test_unknown_questionnaire_extensions_and_bad_steg_payloads_are_refused() -> None:
    data = minimal(
        extension=[
            {"url": "http://example.org/root", "valueString": "x"},
            {"url": STEG_SCORING, "valueString": "{not json"},
            {"url": STEG_SCHEDULE, "valueString": json.dumps({"kind": "hourly", "colour": 1})},
        ]
    )

    reasons = reasons_of(data)

    assert has_reason(reasons, "unsupported extensions", "example.org/root")
    assert has_reason(reasons, "scoring", "invalid")
    assert has_reason(reasons, "schedule.kind", "'hourly'")
    assert has_reason(reasons, "schedule", "unknown field 'colour'")


def test_several_reasons_are_listed_at_once() -> None:
    data = minimal(id="Not A Slug")
    data["item"].append({"linkId": "a", "text": "Dup", "type": "attachment"})
    data["item"].append({"linkId": "v", "text": "V", "type": "choice", "answerValueSet": "x"})
    data["item"].append({"text": "No id", "type": "boolean"})

    reasons = reasons_of(data)

    assert has_reason(reasons, "id 'Not A Slug'")
    assert has_reason(reasons, "linkId 'a' is used by 2 items")
    assert has_reason(reasons, "type 'attachment'")
    assert has_reason(reasons, "answerValueSet")
    assert has_reason(reasons, "has no linkId")
    assert len(reasons) >= 5


def test_steg_rules_are_reasons_too() -> None:
    data = with_item(type="choice", answerOption=[{"valueCoding": {"code": "1", "display": "One"}}])

    assert has_reason(reasons_of(data), "item 'x'", "at least two options")


# -- the management command --------------------------------------------------------------


def write_json(tmp_path: Path, data: object, name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_text(dumps(data) if isinstance(data, dict) else json.dumps(data), "utf-8")
    return path


def test_command_writes_a_steg_questionnaire_file(tmp_path: Path) -> None:
    source = write_json(tmp_path, to_fhir_questionnaire(RICH))
    target = tmp_path / "rich.yaml"
    out, err = StringIO(), StringIO()

    call_command(
        "import_fhir_questionnaire", str(source), output=str(target), stdout=out, stderr=err
    )

    assert load_questionnaire_text(target.read_text("utf-8")) == RICH
    assert err.getvalue() == ""  # our own export carries nothing over as a mere note
    assert "Wrote" in out.getvalue()
    assert "rich" in out.getvalue()


def test_command_prints_the_yaml_and_notes_without_output(tmp_path: Path) -> None:
    data = phq2()
    for item in data["item"]:
        item["linkId"] = item["linkId"].lstrip("/")
    source = write_json(tmp_path, data)
    out, err = StringIO(), StringIO()

    call_command("import_fhir_questionnaire", str(source), stdout=out, stderr=err)

    assert load_questionnaire_text(out.getvalue()) == expected_phq2(("44250-9", "44255-8"))
    assert "note: not carried over (metadata): meta" in err.getvalue()


def test_command_does_not_overwrite_without_force(tmp_path: Path) -> None:
    source = write_json(tmp_path, minimal())
    target = tmp_path / "mini.yaml"
    target.write_text("keep me", "utf-8")

    with pytest.raises(CommandError, match="--force"):
        call_command("import_fhir_questionnaire", str(source), output=str(target))
    assert target.read_text("utf-8") == "keep me"

    call_command("import_fhir_questionnaire", str(source), output=str(target), force=True)
    assert load_questionnaire_text(target.read_text("utf-8")).id == "mini"


def test_command_refuses_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("import_fhir_questionnaire", str(tmp_path / "missing.json"))
    (tmp_path / "latin1.json").write_bytes(b'{"title": "\xe5"}')
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_fhir_questionnaire", str(tmp_path / "latin1.json"))


def test_command_refuses_invalid_json_with_its_line_and_column(tmp_path: Path) -> None:
    source = tmp_path / "broken.json"
    source.write_text('{\n  "resourceType": "Questionnaire",\n  "id": oops\n}', "utf-8")

    with pytest.raises(CommandError, match="invalid JSON at line 3, column 9"):
        call_command("import_fhir_questionnaire", str(source))

    source.write_text('{"score": NaN}', "utf-8")
    with pytest.raises(CommandError, match="invalid JSON"):
        call_command("import_fhir_questionnaire", str(source))


def test_command_refuses_what_is_not_a_questionnaire(tmp_path: Path) -> None:
    source = write_json(tmp_path, {"resourceType": "Patient"})
    err = StringIO()

    with pytest.raises(CommandError, match="1 reason"):
        call_command("import_fhir_questionnaire", str(source), stderr=err)
    assert "not a FHIR Questionnaire (it has a Patient)" in err.getvalue()


def test_command_lists_every_reason_one_per_line(tmp_path: Path) -> None:
    data = minimal(id="Bad Id")
    data["item"].append({"linkId": "z", "text": "Z", "type": "attachment"})
    source = write_json(tmp_path, data)
    target = tmp_path / "out.yaml"
    err = StringIO()

    with pytest.raises(CommandError, match="2 reason"):
        call_command("import_fhir_questionnaire", str(source), output=str(target), stderr=err)

    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{source}: ") for line in lines)
    assert not target.exists()


# -- properties --------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _with_extras(draw: st.DrawFn, base: st.SearchStrategy[Questionnaire]) -> Questionnaire:
    """A random questionnaire with what the shared strategy leaves out: hints, description,
    source, url, version and a schedule."""
    q = draw(base)

    def walk(items: tuple[Item, ...]) -> tuple[Item, ...]:
        return tuple(
            dataclasses.replace(
                item,
                hint=t("Ledtråd", "Hint") if draw(st.booleans()) else {},
                items=walk(item.items),
            )
            for item in items
        )

    return dataclasses.replace(
        q,
        items=walk(q.items),
        description=draw(st.sampled_from([{}, t("Om", "About")])),
        source=draw(st.sampled_from([None, "Someone et al. 1991"])),
        url=draw(st.sampled_from([None, "https://steg.example/q/random"])),
        version=draw(st.sampled_from(["1", "2.0.1"])),
        schedule=draw(
            st.sampled_from(
                [
                    Schedule(),
                    Schedule(kind="daily", start_day=1, end_day=30, backfill_days=2),
                    Schedule(kind="offsets", anchor="quit_date", offsets=(90, 180)),
                ]
            )
        ),
    )


def test_every_random_questionnaire_round_trips_and_validates() -> None:
    strategies = pytest.importorskip("steg.questionnaires.tests.strategies")

    @PROPERTY
    @given(_with_extras(strategies.questionnaires()))
    def check(q: Questionnaire) -> None:
        exported = to_fhir_questionnaire(q)
        FhirQuestionnaire.model_validate(exported)
        text = dumps(exported)
        # The FHIR side alone is exact for every questionnaire ...
        assert _read_questionnaire(json.loads(text, parse_float=Decimal))[0] == q
        assert _read_questionnaire(to_fhir_questionnaire(q, language="en"))[0] == q
        # ... and the public import adds Steg's own checks, nothing else.
        problems = _steg_problems(q)
        if problems:
            with pytest.raises(FhirImportError) as caught:
                from_fhir_questionnaire(exported)
            assert caught.value.reasons == problems
        else:
            assert from_fhir_questionnaire(exported) == q

    check()


def test_every_random_response_validates() -> None:
    strategies = pytest.importorskip("steg.questionnaires.tests.strategies")

    @PROPERTY
    @given(
        strategies.questionnaires().flatmap(
            lambda q: strategies.answer_sets(q).map(lambda answers: (q, answers))
        )
    )
    def check(case: tuple[Questionnaire, Any]) -> None:
        q, answers = case
        response = to_fhir_response(
            q, answers, response_id="r", status="completed", authored=AUTHORED, language="en"
        )
        FhirQuestionnaireResponse.model_validate_json(dumps(response))
        answered = {
            link_id for link_id, item in items_by_link_id(response).items() if "answer" in item
        }
        assert answered == set(answers)

    check()
