"""The questionnaire file format: what it reads, every problem it reports, and writing it back."""

from __future__ import annotations

import dataclasses
import datetime
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steg.lib.yamldoc import Problem, Problems, ProgrammeFormatError
from steg.questionnaires.definition import (
    DEFAULT_MAX_LENGTH,
    AnswerOption,
    Band,
    EnableWhen,
    Flag,
    Item,
    Questionnaire,
    Schedule,
    Scoring,
    Subscale,
    Value,
)
from steg.questionnaires.library import LIBRARY_DIR, library_ids
from steg.questionnaires.parse import (
    dump_questionnaire,
    load_questionnaire_text,
    parse_questionnaire,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "programmes" / "example" / "questionnaires"
D = Decimal

HEAD = """\
id: q
languages: [sv, en]
title: {sv: Titel, en: Title}
"""
# A document written by `doc` starts with HEAD (3 lines) and "items:": its items from line 5.
FIRST = 5


def doc(items: str, rest: str = "", head: str = HEAD) -> str:
    return head + "items:\n" + textwrap.indent(textwrap.dedent(items), "  ") + rest


def parse(text: str, languages: tuple[str, ...] | None = None, **kwargs: Any) -> Questionnaire:
    return load_questionnaire_text(text, "q.yaml", languages, **kwargs)


def problems(text: str, languages: tuple[str, ...] | None = None, **kwargs: Any) -> list[Problem]:
    with pytest.raises(ProgrammeFormatError) as caught:
        parse(text, languages, **kwargs)
    found = caught.value.problems
    assert found, "an error without problems"
    assert all(p.file == "q.yaml" for p in found)
    return found


def only(text: str, languages: tuple[str, ...] | None = None, **kwargs: Any) -> Problem:
    found = problems(text, languages, **kwargs)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def messages(text: str) -> str:
    return "\n".join(str(p) for p in problems(text))


BOOLEAN = """\
- linkId: a
  type: boolean
  text: {sv: Fråga, en: Question}
"""
CHOICE = """\
- linkId: c
  type: choice
  text: {sv: Välj, en: Choose}
  answerOption:
    - {code: x, text: {sv: X, en: X}, score: 0}
    - {code: y, text: {sv: Y, en: Y}, score: 2}
"""
NUMBER = """\
- linkId: n
  type: integer
  text: {sv: Antal, en: Count}
  minValue: 0
  maxValue: 10
"""


# --------------------------------------------------------------------------- what it reads


def test_a_minimal_questionnaire_gets_the_defaults() -> None:
    q = parse(doc(BOOLEAN))

    assert q == Questionnaire(
        id="q",
        title={"sv": "Titel", "en": "Title"},
        languages=("sv", "en"),
        items=(Item(link_id="a", type="boolean", text={"sv": "Fråga", "en": "Question"}),),
    )
    assert q.version == "1"
    assert q.schedule == Schedule(kind="once", anchor="start", start_day=0, backfill_days=0)
    assert q.scoring is None


def test_every_top_level_key_is_read() -> None:
    head = (
        'id: q\nversion: "2.1"\nurl: https://example.org/Questionnaire/q\n'
        "languages: [sv, en]\ntitle: {sv: Titel, en: Title}\n"
        "description: {sv: Om, en: About}\nsource: Someone 2001.\n"
        "schedule: {kind: weekly, anchor: quit_date, start_day: 7, end_day: 84}\n"
    )
    q = parse(doc(BOOLEAN, head=head))

    assert (q.version, q.url, q.source) == (
        "2.1",
        "https://example.org/Questionnaire/q",
        "Someone 2001.",
    )
    assert q.description == {"sv": "Om", "en": "About"}
    assert q.schedule == Schedule(kind="weekly", anchor="quit_date", start_day=7, end_day=84)
    assert q.is_diary


def test_every_item_key_is_read() -> None:
    q = parse(
        doc(
            BOOLEAN
            + """\
- linkId: s
  type: string
  text: {sv: Namn, en: Name}
  hint: {sv: Ett ord, en: One word}
  required: true
  repeats: true
  minLength: 2
  maxLength: 30
  initial: [Anna, Bo]
  enableWhen:
    - {question: a, operator: "=", answer: true}
    - {question: a, operator: exists, answer: true}
  enableBehavior: any
"""
        )
    )

    assert q.items[1] == Item(
        link_id="s",
        type="string",
        text={"sv": "Namn", "en": "Name"},
        hint={"sv": "Ett ord", "en": "One word"},
        required=True,
        repeats=True,
        min_length=2,
        max_length=30,
        initial=("Anna", "Bo"),
        enable_when=(EnableWhen("a", "=", True), EnableWhen("a", "exists", True)),
        enable_behavior="any",
    )


def test_a_group_holds_its_items_and_needs_no_text() -> None:
    q = parse(doc("- linkId: g\n  type: group\n  item:\n" + textwrap.indent(BOOLEAN, "    ")))

    group = q.items[0]
    assert (group.type, group.text, [i.link_id for i in group.items]) == ("group", {}, ["a"])
    assert [i.link_id for i in q.all_items()] == ["g", "a"]


def test_numbers_become_decimals_exactly_as_written() -> None:
    q = parse(
        doc(
            """\
- linkId: d
  type: decimal
  text: {sv: Vikt, en: Weight}
  minValue: 0.1
  maxValue: 1_000.25
  initial: [70.3]
- linkId: c
  type: choice
  text: {sv: Välj, en: Choose}
  answerOption:
    - {code: x, text: {sv: X, en: X}, score: 3}
    - {code: y, text: {sv: Y, en: Y}, score: -0.5}
    - {code: z, text: {sv: Z, en: Z}}
"""
        )
    )

    weight, choice = q.items
    assert (weight.min_value, weight.max_value, weight.initial) == (
        D("0.1"),
        D("1000.25"),
        (D("70.3"),),
    )
    assert all(isinstance(v, Decimal) for v in (weight.min_value, weight.max_value))
    assert [o.score for o in choice.options] == [D(3), D("-0.5"), None]
    assert isinstance(choice.options[0].score, Decimal)


def test_integer_items_take_whole_numbers_and_keep_limits_as_decimals() -> None:
    q = parse(doc(NUMBER.replace("maxValue: 10", "maxValue: 10\n  initial: [4]")))

    assert (q.items[0].min_value, q.items[0].max_value) == (D(0), D(10))
    assert q.items[0].initial == (4,)
    assert type(q.items[0].initial[0]) is int


def test_dates_and_times() -> None:
    q = parse(
        doc(
            """\
- linkId: day
  type: date
  text: {sv: Dag, en: Day}
  minValue: 2026-01-01
  maxValue: "2026-12-31"
- linkId: at
  type: time
  text: {sv: Tid, en: Time}
  initial: [12:30]
  enableWhen:
    - {question: day, operator: ">=", answer: 2026-06-01}
- linkId: later
  type: boolean
  text: {sv: Sen, en: Late}
  enableWhen:
    - {question: at, operator: ">", answer: "08:05:30"}
"""
        )
    )

    day, at, later = q.items
    assert (day.min_value, day.max_value) == (
        datetime.date(2026, 1, 1),
        datetime.date(2026, 12, 31),
    )
    # An unquoted 12:30 would be the number 750 to YAML 1.1: times are read as written.
    assert at.initial == (datetime.time(12, 30),)
    assert at.enable_when == (EnableWhen("day", ">=", datetime.date(2026, 6, 1)),)
    assert later.enable_when == (EnableWhen("at", ">", datetime.time(8, 5, 30)),)


def test_enable_when_answers_have_the_type_of_the_question() -> None:
    q = parse(
        doc(
            BOOLEAN
            + CHOICE
            + NUMBER
            + """\
- linkId: w
  type: decimal
  text: {sv: W, en: W}
- linkId: follow
  type: text
  text: {sv: Berätta, en: Tell}
  enableWhen:
    - {question: a, operator: "!=", answer: false}
    - {question: c, operator: "=", answer: y}
    - {question: n, operator: "<=", answer: 3}
    - {question: w, operator: "<", answer: 2.5}
    - {question: w, operator: exists, answer: false}
  enableBehavior: all
"""
        )
    )

    conditions = q.items[-1].enable_when
    assert conditions == (
        EnableWhen("a", "!=", False),
        EnableWhen("c", "=", "y"),
        EnableWhen("n", "<=", 3),
        EnableWhen("w", "<", D("2.5")),
        EnableWhen("w", "exists", False),
    )
    assert type(conditions[2].answer) is int
    assert isinstance(conditions[3].answer, Decimal)


def test_an_unquoted_equals_sign_is_read_as_the_operator() -> None:
    q = parse(
        doc(
            BOOLEAN + "- linkId: b\n  type: boolean\n  text: {sv: B, en: B}\n"
            "  enableWhen:\n    - question: a\n      operator: =\n      answer: true\n"
        )
    )

    assert q.items[1].enable_when == (EnableWhen("a", "=", True),)


def test_scoring_is_read() -> None:
    q = parse(
        doc(
            CHOICE + NUMBER,
            """\
scoring:
  items: [c, n]
  reversed: [n]
  missing: prorate
  max_missing: 1
  decimals: 1
  subscales:
    - {key: part, title: {sv: Del, en: Part}, items: [n]}
  bands:
    - {key: low, max: 5, title: {sv: Låg, en: Low}}
    - {key: high, min: 5.5, title: {sv: Hög, en: High}, feedback: {sv: Oj, en: Oh}}
  flags:
    - {key: watch, scale: part, min: 8, max: 10, text: {sv: Se upp, en: Watch}}
    - {key: any, min: 0, text: {sv: Alla, en: All}}
""",
        )
    )

    assert q.scoring == Scoring(
        items=("c", "n"),
        reversed=("n",),
        missing="prorate",
        max_missing=1,
        decimals=1,
        subscales=(Subscale("part", {"sv": "Del", "en": "Part"}, ("n",)),),
        bands=(
            Band("low", None, D(5), {"sv": "Låg", "en": "Low"}, {}),
            Band("high", D("5.5"), None, {"sv": "Hög", "en": "High"}, {"sv": "Oj", "en": "Oh"}),
        ),
        flags=(
            Flag("watch", "part", D(8), D(10), {"sv": "Se upp", "en": "Watch"}),
            Flag("any", "total", D(0), None, {"sv": "Alla", "en": "All"}),
        ),
    )


@pytest.mark.parametrize("name", ["mood", "diary"])
def test_the_example_programme_questionnaires_parse_in_its_languages(name: str) -> None:
    text = (EXAMPLE / f"{name}.yaml").read_text(encoding="utf-8")

    q = parse(text, ("sv", "en"), expected_id=name)

    assert q.id == name and q.languages == ("sv", "en")


def test_the_mood_example_uses_a_branch_a_required_number_an_optional_text_and_scoring() -> None:
    q = parse((EXAMPLE / "mood.yaml").read_text(encoding="utf-8"), ("sv", "en"))

    follow_up = next(i for i in q.all_items() if i.enable_when)
    assert follow_up.enable_when[0].question == "feeling"
    assert q.item("feeling").type == "choice"  # type: ignore[union-attr]
    stress = next(i for i in q.all_items() if i.type == "integer")
    assert (stress.required, stress.min_value, stress.max_value) == (True, D(0), D(10))
    assert any(i.type == "text" and not i.required for i in q.all_items())
    assert q.scoring is not None
    assert len(q.scoring.bands) == 2 and len(q.scoring.flags) == 1


def test_the_diary_example_is_daily_with_a_conditional_count() -> None:
    q = parse((EXAMPLE / "diary.yaml").read_text(encoding="utf-8"), ("sv", "en"))

    assert q.schedule == Schedule(kind="daily", anchor="start", start_day=0, backfill_days=3)
    assert q.is_diary
    used, amount, craving, situation = q.items
    assert used.type == "boolean"
    assert (amount.type, amount.min_value, amount.max_value) == ("integer", D(0), D(100))
    assert amount.enable_when == (EnableWhen("used", "=", True),)
    assert (craving.min_value, craving.max_value) == (D(0), D(10))
    assert (situation.type, situation.required) == ("text", False)


# --------------------------------------------------------------------------- languages


def test_languages_are_required_when_parsed_on_its_own() -> None:
    problem = only(doc(BOOLEAN, head="id: q\ntitle: {sv: Titel, en: Title}\n"))

    assert (problem.line, problem.message) == (1, "questionnaire: missing required key 'languages'")


def test_inside_a_programme_its_languages_apply() -> None:
    q = parse(
        doc(BOOLEAN, head="id: q\ntitle: {sv: Titel}\n").replace(", en: Question", ""), ("sv",)
    )

    assert q.languages == ("sv",)
    assert q.items[0].text == {"sv": "Fråga"}


def test_a_missing_translation_names_the_language() -> None:
    text = doc(BOOLEAN.replace(", en: Question", ""))

    problem = only(text, ("sv", "en"))

    assert problem.line == FIRST + 2
    assert problem.message == "item 'a': text: missing translation for 'en'"


def test_a_language_the_programme_does_not_have_is_refused() -> None:
    text = doc(BOOLEAN, head="id: q\ntitle: {sv: Titel, en: Title}\n")

    found = problems(text, ("sv",))

    assert [p.line for p in found] == [2, 6]
    assert "'en' is not one of the programme's languages (sv)" in found[0].message


def test_its_own_languages_must_include_the_programme_languages() -> None:
    text = doc(BOOLEAN, head="id: q\nlanguages: [sv]\ntitle: {sv: Titel}\n").replace(
        ", en: Question", ""
    )

    problem = only(text, ("sv", "en"))

    assert problem.line == 2
    assert (
        "the programme is in sv, en, but the questionnaire has no 'en' version" in problem.message
    )


def test_a_library_questionnaire_in_more_languages_is_kept_to_the_programme_ones() -> None:
    q = parse(doc(CHOICE), ("sv",))

    assert q.languages == ("sv",)
    assert q.title == {"sv": "Titel"}
    assert q.items[0].options[1].text == {"sv": "Y"}


def test_its_own_languages_are_checked() -> None:
    found = problems(doc(BOOLEAN, head="id: q\nlanguages: [sv, sv, fi]\ntitle: {sv: T, en: T}\n"))

    text = "\n".join(map(str, found))
    assert "q.yaml:2: language 'sv' is listed twice" in text
    assert "q.yaml:2: language 'fi' is not supported (sv, en)" in text


# --------------------------------------------------------------------------- the document


def test_a_yaml_syntax_error_is_reported_with_its_line() -> None:
    problem = only(doc(BOOLEAN) + "  - linkId: [b\n")

    assert problem.line == 9
    assert problem.message.startswith("YAML syntax error")


@pytest.mark.parametrize("text", ["", "# nothing\n"])
def test_an_empty_file(text: str) -> None:
    assert (only(text).line, only(text).message) == (1, "is empty")


def test_the_file_must_be_a_mapping() -> None:
    assert "must be a mapping" in only("- a\n- b\n").message


def test_unknown_keys_are_refused_with_the_allowed_ones() -> None:
    found = problems(
        doc(BOOLEAN.replace("type: boolean", "type: boolean\n  colour: red"), "extra: 1\n")
    )

    assert [(p.line, p.message) for p in found] == [
        (
            FIRST + 2,
            "item 'a': unknown key 'colour' (allowed: answerOption, enableBehavior, enableWhen, "
            "hint, initial, item, linkId, maxLength, maxValue, minLength, minValue, repeats, "
            "required, text, type)",
        ),
        (
            FIRST + 4,
            "questionnaire: unknown key 'extra' (allowed: description, id, items, languages, "
            "schedule, scoring, source, title, url, version)",
        ),
    ]


@pytest.mark.parametrize("key", ["bands", "flags", "subscales", "reversed", "missing"])
def test_scoring_keys_at_the_top_say_where_they_belong(key: str) -> None:
    problem = only(doc(BOOLEAN, f"{key}: []\n"))

    assert (
        problem.message == f"'{key}' belongs under 'scoring:', not at the top of the questionnaire"
    )


def test_the_id_must_be_the_file_name() -> None:
    problem = only(doc(BOOLEAN), expected_id="mood")

    assert (problem.line, problem.message) == (
        1,
        "id 'q' must be the file name without .yaml: 'mood'",
    )


def test_the_id_is_a_slug() -> None:
    assert "must be lower-case letters" in only(doc(BOOLEAN).replace("id: q", "id: Q_1")).message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("version: 2", 'version must be text in quotes ("1"), not a number'),
        ("url: ftp://example.org/q", "url must start with https://, not 'ftp://example.org/q'"),
        ("source: 12", "source must be non-empty text, not a number"),
        ("description: Om", "description (text per language) must be a mapping of keys to values"),
    ],
)
def test_top_level_values_are_checked(line: str, message: str) -> None:
    problem = only(doc(BOOLEAN, head=HEAD + line + "\n"))

    assert (problem.line, problem.message) == (4, message)


def test_a_questionnaire_needs_items() -> None:
    assert only(HEAD + "items: []\n").message == "items: a questionnaire needs at least one item"


def test_every_problem_is_found_in_one_go() -> None:
    text = doc(
        """\
- linkId: a
  type: choice
  text: {sv: A}
  answerOption:
    - {code: x, text: {sv: X, en: X}}
- linkId: a
  type: integer
  text: {sv: B, en: B}
  minValue: 5
  maxValue: 1
- linkId: c
  type: boolean
  text: {sv: C, en: C}
  enableWhen:
    - {question: nope, operator: "=", answer: true}
""",
        "scoring:\n  items: [zz]\n  decimals: 7\n",
    )

    found = problems(text)

    assert [p.line for p in found] == sorted(p.line or 0 for p in found)
    assert [(p.line, p.message) for p in found] == [
        (FIRST + 2, "item 'a': text: missing translation for 'en'"),
        (FIRST + 4, "item 'a': answerOption needs at least two options"),
        (FIRST + 5, "linkId 'a' is already used on line 5: every item needs its own"),
        (FIRST + 9, "item 'a': maxValue is below minValue"),
        (FIRST + 14, "item 'c': enableWhen: there is no item 'nope'"),
        (FIRST + 16, "scoring: there is no item 'zz'"),
        (FIRST + 17, "scoring: decimals must be from 0 to 2, not 7"),
    ]


def test_parse_questionnaire_adds_to_a_shared_list_and_answers_none() -> None:
    found = Problems()
    found.add("programme.yaml", 3, "something else")

    result = parse_questionnaire("questionnaires/q.yaml", doc("- linkId: a\n"), ("sv", "en"), found)

    assert result is None
    assert [str(p) for p in found.items[1:]] == [
        "questionnaires/q.yaml:5: item 'a': missing required key 'type'",
        "questionnaires/q.yaml:5: item 'a': missing required key 'text'",
    ]


def test_parse_questionnaire_answers_the_questionnaire_when_all_is_well() -> None:
    found = Problems()

    result = parse_questionnaire("q.yaml", doc(BOOLEAN), None, found, expected_id="q")

    assert found.items == [] and result is not None and result.id == "q"


# --------------------------------------------------------------------------- items


def item_problem(item: str, *, before: str = "") -> Problem:
    return only(doc(before + item))


@pytest.mark.parametrize("link_id", ["", "has space", "x" * 65, "å", "[a]"])
def test_a_link_id_is_letters_digits_dots_underscores_and_hyphens(link_id: str) -> None:
    problem = item_problem(BOOLEAN.replace("linkId: a", f"linkId: '{link_id}'"))

    assert "linkId must be 1 to 64 letters, digits, '.', '_' or '-'" in problem.message


def test_a_number_link_id_must_be_quoted() -> None:
    problem = item_problem(BOOLEAN.replace("linkId: a", "linkId: 1"))

    assert "(in quotes if it is a number), not a number" in problem.message


def test_link_ids_are_unique_across_groups() -> None:
    group = "- linkId: g\n  type: group\n  item:\n" + textwrap.indent(BOOLEAN, "    ")

    problem = only(doc(BOOLEAN + group))

    assert (problem.line, problem.message) == (
        FIRST + 6,
        "linkId 'a' is already used on line 5: every item needs its own",
    )


def test_an_unknown_item_type() -> None:
    problem = item_problem(BOOLEAN.replace("boolean", "slider"))

    assert problem.message.startswith("item 'a': type must be one of display, group, boolean")
    assert problem.message.endswith("not 'slider'")


def test_an_item_needs_text_and_type() -> None:
    found = problems(doc("- linkId: a\n"))

    assert [p.message for p in found] == [
        "item 'a': missing required key 'type'",
        "item 'a': missing required key 'text'",
    ]


def test_a_choice_item_needs_at_least_two_options() -> None:
    assert (
        "a choice item needs answerOption"
        in item_problem(BOOLEAN.replace("boolean", "choice")).message
    )
    one = CHOICE.replace("    - {code: y, text: {sv: Y, en: Y}, score: 2}\n", "")
    assert item_problem(one).message == "item 'c': answerOption needs at least two options"


def test_open_choice_may_have_options() -> None:
    q = parse(doc(CHOICE.replace("type: choice", "type: open-choice")))
    without = parse(doc(BOOLEAN.replace("boolean", "open-choice")))

    assert len(q.items[0].options) == 2 and without.items[0].options == ()


def test_option_codes_are_unique_within_an_item() -> None:
    problem = item_problem(CHOICE.replace("code: y", "code: x"))

    assert (problem.line, problem.message) == (
        FIRST + 5,
        "item 'c': option code 'x' is already used on line 9",
    )


@pytest.mark.parametrize(("code", "example"), [("yes", '"yes"'), ("1", '"1"')])
def test_an_option_code_that_yaml_reads_otherwise_must_be_quoted(code: str, example: str) -> None:
    problem = item_problem(CHOICE.replace("code: x", f"code: {code}"))

    assert (
        problem.message == f"item 'c': option code must be text; write it in quotes, e.g. {example}"
    )


def test_an_option_code_has_no_surrounding_or_double_spaces() -> None:
    problem = item_problem(CHOICE.replace("code: x", "code: 'a  b'"))

    assert "must be 1 to 64 characters, without spaces" in problem.message


def test_an_option_needs_code_and_text_and_a_number_as_score() -> None:
    text = CHOICE.replace("{code: x, text: {sv: X, en: X}, score: 0}", "{score: many}")

    found = problems(doc(text))

    assert [p.message for p in found] == [
        "item 'c': option: missing required key 'code'",
        "item 'c': option: missing required key 'text'",
        "item 'c': option: score must be a number, not text",
    ]


@pytest.mark.parametrize(
    ("item_type", "key", "value", "which"),
    [
        ("integer", "answerOption", "[]", "choice and open-choice items"),
        ("integer", "repeats", "true", "choice, open-choice and string items"),
        ("display", "required", "true", "items that take an answer"),
        ("group", "required", "true", "items that take an answer"),
        ("string", "minValue", "1", "integer, decimal and date items"),
        ("decimal", "maxLength", "5", "string and text items"),
        ("display", "initial", "[x]", "items that take an answer"),
        ("boolean", "item", "[]", "group items"),
    ],
)
def test_keys_that_do_not_fit_the_item_type(
    item_type: str, key: str, value: str, which: str
) -> None:
    extra = (
        "\n  item:\n    - {linkId: z, type: display, text: {sv: Z, en: Z}}"
        if item_type == "group"
        else ""
    )
    item = f"- linkId: i\n  type: {item_type}\n  text: {{sv: I, en: I}}\n  {key}: {value}{extra}\n"

    found = problems(doc(item))

    assert f"item 'i': '{key}' is only for {which}, not for {item_type}" in [
        p.message for p in found
    ]
    assert found[0].line == FIRST + 3


def test_a_group_needs_items() -> None:
    assert item_problem("- linkId: g\n  type: group\n").message == (
        "item 'g': a group needs its items under 'item:'"
    )
    assert item_problem("- linkId: g\n  type: group\n  item: []\n").message == (
        "item 'g': a group needs at least one item"
    )


@pytest.mark.parametrize("key", ["required", "repeats"])
def test_flags_are_true_or_false(key: str) -> None:
    item = CHOICE.replace("type: choice", f"type: choice\n  {key}: sometimes")

    assert item_problem(item).message == f"item 'c': {key} must be true or false, not text"


def test_min_value_is_below_max_value() -> None:
    problem = item_problem(NUMBER.replace("minValue: 0", "minValue: 11"))

    assert (problem.line, problem.message) == (FIRST + 4, "item 'n': maxValue is below minValue")


def test_integer_limits_are_whole_numbers_and_date_limits_dates() -> None:
    assert item_problem(NUMBER.replace("maxValue: 10", "maxValue: 9.5")).message == (
        "item 'n': maxValue must be a whole number, not a number"
    )
    date = "- linkId: d\n  type: date\n  text: {sv: D, en: D}\n  minValue: tomorrow\n"
    assert item_problem(date).message == (
        "item 'd': minValue must be a date such as 2026-01-31, not text"
    )


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ("minLength: 0", "item 's': minLength must be from 1 to 2000, not 0"),
        (
            f"maxLength: {DEFAULT_MAX_LENGTH + 1}",
            "item 's': maxLength must be from 1 to 2000, not 2001",
        ),
        ("minLength: 50\n  maxLength: 10", "item 's': minLength is above maxLength"),
        ("maxLength: many", "item 's': maxLength must be a whole number, not text"),
    ],
)
def test_length_limits(lengths: str, message: str) -> None:
    item = f"- linkId: s\n  type: string\n  text: {{sv: S, en: S}}\n  {lengths}\n"

    assert item_problem(item).message == message


@pytest.mark.parametrize(
    ("item", "initial", "message"),
    [
        (CHOICE, "[z]", "item 'c': initial: 'z' is not an option code (the codes are x, y)"),
        (CHOICE, "[x, y]", "item 'c': initial has one value unless the item repeats"),
        (NUMBER, "[11]", "item 'n': initial 11 is outside minValue–maxValue"),
        (NUMBER, "[two]", "item 'n': initial must be a whole number, not text"),
        (BOOLEAN, "[yes please]", "item 'a': initial must be true or false, not text"),
        (BOOLEAN, "true", "item 'a': initial must be a list"),
    ],
)
def test_initial_values_must_be_valid_answers(item: str, initial: str, message: str) -> None:
    assert item_problem(item + f"  initial: {initial}\n").message == message


def test_initial_text_keeps_to_the_lengths() -> None:
    item = (
        "- linkId: s\n  type: string\n  text: {sv: S, en: S}\n  maxLength: 3\n  initial: [long]\n"
    )

    assert item_problem(item).message == "item 's': initial text is too short or too long"


# --------------------------------------------------------------------------- enableWhen


def when(condition: str, *, behavior: str = "") -> str:
    return (
        "- linkId: w\n  type: boolean\n  text: {sv: W, en: W}\n  enableWhen:\n"
        + "".join(f"    - {c}\n" for c in condition.split("\n"))
        + (f"  enableBehavior: {behavior}\n" if behavior else "")
    )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ('{question: w, operator: "=", answer: true}', "an item cannot depend on itself"),
        ('{question: nope, operator: "=", answer: true}', "there is no item 'nope'"),
        (
            '{question: c, operator: "=", answer: z}',
            "answer: 'z' is not an option code (the codes are x, y)",
        ),
        (
            '{question: c, operator: ">", answer: x}',
            "'>' does not work with the choice question 'c' (use =, != or exists)",
        ),
        ('{question: a, operator: "=", answer: "yes"}', "answer must be true or false, not text"),
        (
            '{question: n, operator: "=", answer: 2.5}',
            "answer must be a whole number, not a number",
        ),
        (
            "{question: n, operator: exists, answer: 1}",
            "answer (with exists) must be true or false, not a number",
        ),
        (
            '{question: n, operator: "~", answer: 1}',
            "operator must be one of exists, =, !=, >, <, >=, <=, not '~'",
        ),
        ("{question: n, answer: 1}", "missing required key 'operator'"),
    ],
)
def test_enable_when_conditions_are_checked(condition: str, message: str) -> None:
    problem = item_problem(when(condition), before=BOOLEAN + CHOICE + NUMBER)

    assert problem.message == f"item 'w': enableWhen: {message}"


def test_enable_when_refers_to_an_earlier_question_only() -> None:
    text = doc(when('{question: a, operator: "=", answer: true}') + BOOLEAN)

    problem = only(text)

    assert problem.line == FIRST + 4
    assert problem.message.startswith("item 'w': enableWhen: 'a' is not an earlier question")


def test_a_group_cannot_depend_on_its_own_items() -> None:
    group = (
        "- linkId: g\n  type: group\n  enableWhen:\n"
        "    - {question: a, operator: exists, answer: true}\n  item:\n"
        + textwrap.indent(BOOLEAN, "    ")
    )

    assert "'a' is not an earlier question" in item_problem(group).message


def test_an_item_inside_a_group_may_depend_on_earlier_items_anywhere() -> None:
    group = "- linkId: g\n  type: group\n  item:\n" + textwrap.indent(
        BOOLEAN + when('{question: a, operator: "=", answer: true}'), "    "
    )

    q = parse(
        doc(
            CHOICE
            + group
            + when('{question: a, operator: "=", answer: false}').replace("linkId: w", "linkId: v")
        )
    )

    assert q.item("w").enable_when == (EnableWhen("a", "=", True),)  # type: ignore[union-attr]


def test_enable_when_cannot_refer_to_a_group_or_display() -> None:
    display = "- linkId: info\n  type: display\n  text: {sv: I, en: I}\n"

    problem = item_problem(when("{question: info, operator: exists, answer: true}"), before=display)

    assert (
        problem.message
        == "item 'w': enableWhen: 'info' takes no answer, so nothing can depend on it"
    )


def test_several_conditions_need_an_enable_behavior() -> None:
    conditions = (
        '{question: a, operator: "=", answer: true}\n{question: a, operator: exists, answer: true}'
    )

    problem = item_problem(when(conditions), before=BOOLEAN)

    assert problem.line == FIRST + 7
    assert problem.message.startswith(
        "item 'w': with several enableWhen conditions, say whether all"
    )
    assert parse(doc(BOOLEAN + when(conditions, behavior="any"))).items[1].enable_behavior == "any"


def test_enable_behavior_is_all_or_any_and_only_with_conditions() -> None:
    condition = '{question: a, operator: "=", answer: true}'
    assert item_problem(when(condition, behavior="most"), before=BOOLEAN).message == (
        "item 'w': enableBehavior must be one of all, any, not 'most'"
    )
    assert item_problem(BOOLEAN + "  enableBehavior: any\n").message == (
        "item 'a': enableBehavior needs enableWhen conditions"
    )


def test_an_empty_enable_when_list() -> None:
    assert item_problem(BOOLEAN + "  enableWhen: []\n").message == (
        "item 'a': enableWhen lists no condition (leave it out instead)"
    )


# --------------------------------------------------------------------------- schedule


def schedule_problem(schedule: str) -> Problem:
    return only(doc(BOOLEAN, head=HEAD + f"schedule: {schedule}\n"))


def test_offsets_schedule() -> None:
    q = parse(
        doc(
            BOOLEAN,
            head=HEAD
            + "schedule: {kind: offsets, anchor: quit_date, offsets: [90, 180],"
            + " backfill_days: 14}\n",
        )
    )

    assert q.schedule == Schedule(
        kind="offsets", anchor="quit_date", offsets=(90, 180), backfill_days=14
    )


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "{kind: hourly}",
            "schedule: kind must be one of once, daily, weekly, offsets, not 'hourly'",
        ),
        ("{anchor: birthday}", "schedule: anchor must be one of start, quit_date, not 'birthday'"),
        ("{kind: offsets}", "schedule: kind offsets needs offsets: the days, e.g. [90, 180]"),
        ("{kind: offsets, offsets: []}", "schedule: offsets lists no day"),
        (
            "{kind: offsets, offsets: [180, 90]}",
            "schedule: offsets must be different days, smallest first",
        ),
        (
            "{kind: offsets, offsets: [90, 90]}",
            "schedule: offsets must be different days, smallest first",
        ),
        ("{kind: offsets, offsets: [-1]}", "schedule: offset must be 0 or more, not -1"),
        ("{kind: daily, offsets: [1]}", "schedule: offsets are only for kind: offsets"),
        (
            "{kind: offsets, offsets: [1], start_day: 3}",
            "schedule: start_day is not for offsets: the offsets are the days",
        ),
        ("{kind: once, end_day: 3}", "schedule: end_day is only for daily and weekly schedules"),
        ("{kind: daily, start_day: 5, end_day: 3}", "schedule: end_day must be 5 or more, not 3"),
        ("{start_day: -1}", "schedule: start_day must be 0 or more, not -1"),
        ("{backfill_days: 31}", "schedule: backfill_days must be from 0 to 30, not 31"),
        (
            "{kind: daily, every: 2}",
            "schedule: unknown key 'every' "
            "(allowed: anchor, backfill_days, end_day, kind, offsets, start_day)",
        ),
        ("daily", "schedule must be a mapping of keys to values"),
    ],
)
def test_schedule_problems(schedule: str, message: str) -> None:
    problem = schedule_problem(schedule)

    assert (problem.line, problem.message) == (4, message)


# --------------------------------------------------------------------------- scoring


def scoring_problems(scoring: str, items: str = BOOLEAN + CHOICE + NUMBER) -> list[str]:
    return [
        p.message
        for p in problems(
            doc(items, "scoring:\n" + textwrap.indent(textwrap.dedent(scoring), "  "))
        )
    ]


def test_scored_items_must_exist_be_scorable_and_be_listed_once() -> None:
    text = "- linkId: s\n  type: string\n  text: {sv: S, en: S}\n"

    assert scoring_problems("items: [a, zz, s, a]", BOOLEAN + text) == [
        "scoring: items: 'a' is listed twice",
        "scoring: there is no item 'zz'",
        "scoring: 's' is a string item; "
        "only boolean, choice, decimal, integer and open-choice items can be scored",
    ]


def test_scoring_needs_items() -> None:
    assert scoring_problems("missing: refuse") == ["scoring: missing required key 'items'"]
    assert scoring_problems("items: []") == ["scoring: items lists no item"]


def test_every_option_of_a_scored_choice_needs_a_score() -> None:
    unscored = CHOICE.replace(", score: 2", "")

    assert scoring_problems("items: [c]", unscored) == [
        "scoring: every option of 'c' needs a score (missing: y)"
    ]


def test_a_scored_item_does_not_repeat() -> None:
    repeating = CHOICE.replace("type: choice", "type: choice\n  repeats: true")

    assert scoring_problems("items: [c]", repeating) == [
        "scoring: 'c' repeats; a scored item has one answer"
    ]


def test_reversed_items_are_scored_items_with_a_known_range() -> None:
    open_number = NUMBER.replace("  maxValue: 10\n", "")

    assert scoring_problems("items: [a, n]\nreversed: [c, n]", BOOLEAN + CHOICE + open_number) == [
        "scoring: reversed 'c' is not in scoring: items",
        "scoring: 'n' can only be reversed with minValue and maxValue "
        "(its lowest and highest score)",
    ]
    assert parse(
        doc(BOOLEAN + CHOICE, "scoring:\n  items: [a, c]\n  reversed: [a, c]\n")
    ).scoring.reversed == ("a", "c")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("scoring", "message"),
    [
        (
            "missing: sometimes",
            "scoring: missing must be one of refuse, prorate, unscored, not 'sometimes'",
        ),
        ("max_missing: 1", "scoring: max_missing is only for missing: prorate"),
        ("missing: prorate\nmax_missing: 3", "scoring: max_missing must be from 0 to 2, not 3"),
        ("decimals: -1", "scoring: decimals must be from 0 to 2, not -1"),
        (
            "colour: red",
            "scoring: unknown key 'colour' (allowed: bands, decimals, flags, items, "
            "max_missing, missing, reversed, subscales)",
        ),
    ],
)
def test_scoring_rules(scoring: str, message: str) -> None:
    assert scoring_problems("items: [a, c, n]\n" + scoring) == [message]


def test_subscales() -> None:
    assert scoring_problems(
        """\
        items: [a, c]
        subscales:
          - {key: total, title: {sv: T, en: T}, items: [a]}
          - {key: one, title: {sv: T, en: T}, items: [n]}
          - {key: one, title: {sv: T, en: T}, items: [a]}
          - {key: two, title: {sv: T, en: T}, items: []}
        """
    ) == [
        "scoring: subscale 'total': 'total' is the name of the whole score",
        "scoring: subscale 'one': 'n' is not in scoring: items",
        "scoring: subscale key 'one' is used twice",
        "scoring: subscale 'two': items lists no item",
    ]


def test_bands_must_not_overlap() -> None:
    assert scoring_problems(
        """\
        items: [a, c, n]
        bands:
          - {key: low, max: 4, title: {sv: L, en: L}}
          - {key: mid, min: 4, max: 8, title: {sv: M, en: M}}
          - {key: top, min: 9, title: {sv: H, en: H}}
          - {key: also-top, min: 12, max: 13, title: {sv: H, en: H}}
        """
    ) == [
        "scoring: band 'mid' overlaps band 'low'",
        "scoring: band 'also-top' overlaps band 'top'",
    ]


def test_bands_may_leave_gaps_between_whole_scores() -> None:
    q = parse(
        doc(
            NUMBER,
            "scoring:\n  items: [n]\n  bands:\n"
            "    - {key: a, min: 0, max: 4, title: {sv: A, en: A}}\n"
            "    - {key: b, min: 5, max: 10, title: {sv: B, en: B}}\n",
        )
    )

    assert [b.key for b in q.scoring.bands] == ["a", "b"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("band", "message"),
    [
        ("{key: b, title: {sv: B, en: B}}", "scoring: band 'b': give min, max or both"),
        ("{key: b, min: 3, max: 1, title: {sv: B, en: B}}", "scoring: band 'b': max is below min"),
        ("{key: b, min: 0}", "scoring: band 'b': missing required key 'title'"),
        (
            "{key: B, min: 0, title: {sv: B, en: B}}",
            "scoring: band key 'B' must be lower-case letters, digits and single hyphens",
        ),
        (
            "{key: b, min: 14, title: {sv: B, en: B}}",
            "scoring: band 'b' can never apply: the total score is from 0 to 13",
        ),
        (
            "{key: b, max: -1, title: {sv: B, en: B}}",
            "scoring: band 'b' can never apply: the total score is from 0 to 13",
        ),
        (
            "{key: b, min: low, title: {sv: B, en: B}}",
            "scoring: band 'b': min must be a number, not text",
        ),
    ],
)
def test_band_problems(band: str, message: str) -> None:
    assert scoring_problems(f"items: [a, c, n]\nbands:\n  - {band}") == [message]


def test_a_band_outside_an_unknown_range_is_not_refused() -> None:
    open_number = NUMBER.replace("  maxValue: 10\n", "")

    q = parse(
        doc(
            open_number,
            "scoring:\n  items: [n]\n  bands:\n    - {key: b, min: 500, title: {sv: B, en: B}}\n",
        )
    )

    assert q.scoring.bands[0].min == D(500)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "{key: f, scale: other, min: 1, text: {sv: F, en: F}}",
            "scoring: flag 'f': scale 'other' is not one of total, part",
        ),
        ("{key: f, text: {sv: F, en: F}}", "scoring: flag 'f': give min, max or both"),
        ("{key: f, min: 1}", "scoring: flag 'f': missing required key 'text'"),
        (
            "{key: f, min: 1, title: {sv: F, en: F}, text: {sv: F, en: F}}",
            "scoring: flag 'f': unknown key 'title' (allowed: key, max, min, scale, text)",
        ),
    ],
)
def test_flag_problems(flag: str, message: str) -> None:
    scoring = "items: [a, c, n]\nsubscales:\n  - {key: part, title: {sv: P, en: P}, items: [a]}\n"

    assert scoring_problems(scoring + f"flags:\n  - {flag}") == [message]


def test_a_broken_item_is_not_reported_again_by_scoring() -> None:
    broken = CHOICE.replace("text: {sv: Välj, en: Choose}", "text: {sv: Välj}")

    assert scoring_problems("items: [c]\nreversed: [c]", broken) == [
        "item 'c': text: missing translation for 'en'"
    ]


# --------------------------------------------------------------------------- writing


def test_load_questionnaire_text_raises_with_the_problems_in_line_order() -> None:
    with pytest.raises(ProgrammeFormatError) as caught:
        load_questionnaire_text(doc(BOOLEAN + "  required: maybe\n", "colour: red\n"), "x.yaml")

    assert str(caught.value) == (
        "x.yaml:8: item 'a': required must be true or false, not text\n"
        "x.yaml:9: questionnaire: unknown key 'colour' (allowed: description, id, items, "
        "languages, schedule, scoring, source, title, url, version)"
    )


def _shipped() -> list[Path]:
    return sorted(EXAMPLE.glob("*.yaml")) + sorted(LIBRARY_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_every_shipped_questionnaire_is_written_back_unchanged(path: Path) -> None:
    languages = ("sv", "en") if path.parent == EXAMPLE else None
    q = parse(path.read_text(encoding="utf-8"), languages, expected_id=path.stem)

    written = dump_questionnaire(q)

    assert parse(written, expected_id=path.stem) == q
    assert dump_questionnaire(parse(written)) == written


def test_the_library_holds_the_two_fagerstrom_tests() -> None:
    assert {"ftnd", "ftnd-st"} <= library_ids()


def test_dump_quotes_text_that_yaml_would_read_as_something_else() -> None:
    tricky = [
        "yes",
        "No",
        "1",
        "0.5",
        "12:30",
        "2026-01-31",
        "null",
        "~",
        "- a",
        "a: b",
        "#x",
        "'q'",
        '"q"',
        "on",
    ]
    options = tuple(AnswerOption(code=t.replace(" ", "_"), text={"sv": t, "en": t}) for t in tricky)
    q = Questionnaire(
        id="tricky",
        title={"sv": "yes", "en": "12:30"},
        languages=("sv", "en"),
        items=(
            Item(link_id="1", type="choice", text={"sv": "true", "en": "[x]"}, options=options),
        ),
    )

    written = dump_questionnaire(q)

    assert parse(written) == q
    assert "&" not in written and "*id" not in written  # no anchors or aliases


def test_dump_writes_numbers_exactly() -> None:
    scores = [
        D("0.1"),
        D("-2.25"),
        D("3"),
        D("1E+2"),
        D("0.000001"),
        D("12345678901234567890.123456789"),
    ]
    options = tuple(
        AnswerOption(code=f"o{n}", text={"sv": "x"}, score=s) for n, s in enumerate(scores)
    )
    q = Questionnaire(
        id="n",
        title={"sv": "n"},
        languages=("sv",),
        items=(Item("c", "choice", {"sv": "c"}, options=options),),
    )

    back = parse(dump_questionnaire(q))

    assert [o.score for o in back.items[0].options] == scores
    assert "0.1\n" in dump_questionnaire(q) and "score: 100\n" in dump_questionnaire(q)


def test_dump_reads_as_plain_yaml() -> None:
    q = parse((EXAMPLE / "mood.yaml").read_text(encoding="utf-8"), ("sv", "en"))

    data = yaml.safe_load(dump_questionnaire(q))

    assert list(data) == ["id", "version", "languages", "title", "description", "items", "scoring"]
    assert data["items"][1]["enableWhen"] == [
        {"question": "feeling", "operator": "=", "answer": "bad"}
    ]


# --------------------------------------------------------------------------- properties

_alphabet = st.characters(exclude_categories=("Cs", "Cc", "Co", "Cn"), include_characters="\n\t")
texts_ = st.text(_alphabet, min_size=1, max_size=30).filter(lambda s: s.strip() == s and s != "")
link_ids = st.from_regex(r"\A[A-Za-z0-9._-]{1,8}\Z")
codes = st.one_of(
    st.sampled_from(
        ["yes", "no", "1", "0", "0.5", "on", "null", "12:30", "2026-01-31", "a b", "-"]
    ),
    st.from_regex(r"\A\S{1,10}\Z"),
).filter(lambda c: c.strip() == c)
numbers = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False)
dates = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2040, 12, 31))
times = st.times().map(lambda t: t.replace(microsecond=0))
LANGS = ("sv", "en")


def _texts(draw: st.DrawFn) -> dict[str, str]:
    return {language: draw(texts_) for language in LANGS}


def _answer(draw: st.DrawFn, item: Item) -> Value:
    if item.type == "boolean":
        return draw(st.booleans())
    if item.type == "choice":
        return draw(st.sampled_from([o.code for o in item.options]))
    if item.type == "integer":
        return draw(st.integers(int(item.min_value or 0), int(item.max_value or 0)))  # type: ignore[arg-type]
    if item.type == "decimal":
        return draw(numbers)
    if item.type == "date":
        return draw(dates)
    if item.type == "time":
        return draw(times)
    return draw(texts_.filter(lambda s: len(s) <= (item.max_length or DEFAULT_MAX_LENGTH)))


@st.composite
def questionnaires(draw: st.DrawFn) -> Questionnaire:
    """Valid questionnaires that stress the writing: odd texts, codes, numbers, every type."""
    ids = iter(draw(st.lists(link_ids, min_size=12, max_size=12, unique=True)))
    answerable: list[Item] = []

    def question(kind: str) -> Item:
        fields: dict[str, Any] = {"hint": _texts(draw) if draw(st.booleans()) else {}}
        if kind == "choice":
            option_codes = draw(st.lists(codes, min_size=2, max_size=4, unique=True))
            scored = draw(st.booleans())
            fields["options"] = tuple(
                AnswerOption(c, _texts(draw), draw(numbers) if scored else None)
                for c in option_codes
            )
            fields["repeats"] = draw(st.booleans())
        elif kind == "integer":
            low = draw(st.integers(-50, 50))
            fields["min_value"], fields["max_value"] = D(low), D(low + draw(st.integers(0, 50)))
        elif kind == "date":
            fields["min_value"] = draw(dates)
        elif kind == "string":
            fields["max_length"] = draw(st.none() | st.integers(30, DEFAULT_MAX_LENGTH))
        if draw(st.booleans()) and answerable:
            targets = draw(st.lists(st.sampled_from(answerable), min_size=1, max_size=2))
            conditions = []
            for target in targets:
                ordered = target.type in ("integer", "decimal", "date", "time")
                operator = draw(
                    st.sampled_from(["=", "!=", "exists"] + ([">", "<="] if ordered else []))
                )
                answer = draw(st.booleans()) if operator == "exists" else _answer(draw, target)
                conditions.append(EnableWhen(target.link_id, operator, answer))  # type: ignore[arg-type]
            fields["enable_when"] = tuple(conditions)
            fields["enable_behavior"] = draw(st.sampled_from(["all", "any"]))
        item = Item(next(ids), kind, _texts(draw), required=draw(st.booleans()), **fields)  # type: ignore[arg-type]
        if draw(st.booleans()) and kind not in ("text",):
            limits_ok = kind != "date"
            if limits_ok:
                item = dataclasses.replace(item, initial=(_answer(draw, item),))
        answerable.append(item)
        return item

    kinds = ["boolean", "choice", "integer", "decimal", "string", "text", "date", "time"]
    items: list[Item] = [
        question(k) for k in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=5))
    ]
    if draw(st.booleans()):
        child = question(draw(st.sampled_from(kinds)))
        text = _texts(draw) if draw(st.booleans()) else {}
        items.append(Item(next(ids), "group", text, items=(child,)))
    if draw(st.booleans()):
        items.insert(0, Item(next(ids), "display", _texts(draw)))
    scorable = [
        i
        for i in answerable
        if not i.repeats
        and (
            i.type in ("boolean", "integer")
            or (i.type == "choice" and i.options[0].score is not None)
        )
    ]
    scoring = None
    if draw(st.booleans()) and scorable:
        scored = draw(
            st.lists(st.sampled_from(scorable), min_size=1, unique_by=lambda i: i.link_id)
        )
        low = sum((_low_high(i)[0] for i in scored), D(0))
        high = sum((_low_high(i)[1] for i in scored), D(0))
        bands: tuple[Band, ...] = ()
        if draw(st.booleans()):
            bands = (
                Band("all", low, high, _texts(draw), _texts(draw) if draw(st.booleans()) else {}),
            )
        prorate = draw(st.booleans())
        scoring = Scoring(
            items=tuple(i.link_id for i in scored),
            reversed=tuple(i.link_id for i in scored if draw(st.booleans())),
            missing="prorate" if prorate else draw(st.sampled_from(["refuse", "unscored"])),
            max_missing=draw(st.integers(0, len(scored) - 1)) if prorate else 0,
            decimals=draw(st.integers(0, 2)),
            subscales=(Subscale("part", _texts(draw), (scored[0].link_id,)),),
            bands=bands,
            flags=(
                Flag(
                    "f", draw(st.sampled_from(["total", "part"])), draw(numbers), None, _texts(draw)
                ),
            ),
        )
    kind = draw(st.sampled_from(["once", "daily", "weekly", "offsets"]))
    schedule = Schedule(
        kind=kind,  # type: ignore[arg-type]
        anchor=draw(st.sampled_from(["start", "quit_date"])),
        start_day=0 if kind == "offsets" else draw(st.integers(0, 400)),
        offsets=tuple(sorted(draw(st.sets(st.integers(0, 999), min_size=1, max_size=3))))
        if kind == "offsets"
        else (),
        backfill_days=draw(st.integers(0, 30)),
    )
    if kind in ("daily", "weekly") and draw(st.booleans()):
        end_day = schedule.start_day + draw(st.integers(0, 100))
        schedule = dataclasses.replace(schedule, end_day=end_day)
    return Questionnaire(
        id=draw(st.from_regex(r"\A[a-z0-9]+(-[a-z0-9]+)*\Z")),
        title=_texts(draw),
        languages=LANGS,
        items=tuple(items),
        description=_texts(draw) if draw(st.booleans()) else {},
        version=draw(texts_),
        url=draw(st.none() | st.just("https://example.org/fhir/Questionnaire/x")),
        source=draw(st.none() | texts_),
        scoring=scoring,
        schedule=schedule,
    )


def _low_high(item: Item) -> tuple[Decimal, Decimal]:
    if item.type == "boolean":
        return D(0), D(1)
    if item.type == "choice":
        scores = [o.score for o in item.options if o.score is not None]
        return min(scores), max(scores)
    return item.min_value, item.max_value  # type: ignore[return-value]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questionnaires())
def test_a_written_questionnaire_reads_back_equal(q: Questionnaire) -> None:
    written = dump_questionnaire(q)

    assert parse(written) == q


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_questionnaire_or_problems_never_a_crash(text: str) -> None:
    found = Problems()

    result = parse_questionnaire("q.yaml", text, ("sv", "en"), found)

    assert (result is None) == bool(found.items)


_MOOD_LINES = (EXAMPLE / "mood.yaml").read_text(encoding="utf-8").splitlines(keepends=True)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, len(_MOOD_LINES) - 1),
    st.sampled_from(
        ["", "  x: 1\n", "- \n", "    - 3\n", "  item: []\n", "      min: high\n", "items: 7\n"]
    ),
)
def test_a_damaged_example_gives_problems_never_a_crash(line: int, replacement: str) -> None:
    text = "".join(_MOOD_LINES[:line]) + replacement + "".join(_MOOD_LINES[line + 1 :])
    found = Problems()

    result = parse_questionnaire("mood.yaml", text, ("sv", "en"), found)

    assert (result is None) == bool(found.items)
    assert all(p.line is None or 1 <= p.line <= len(text.splitlines()) + 1 for p in found.items)
