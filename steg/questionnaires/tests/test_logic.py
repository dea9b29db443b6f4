"""Questionnaire logic: enableWhen, answer validation, scoring and storage (no database)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steg.questionnaires.definition import (
    ANSWER_TYPES,
    DEFAULT_MAX_LENGTH,
    AnswerOption,
    Answers,
    Band,
    EnableWhen,
    Flag,
    Item,
    Questionnaire,
    Scoring,
    Subscale,
    Value,
)
from steg.questionnaires.logic import (
    OTHER,
    ScoreResult,
    Validation,
    answers_from_json,
    answers_to_form,
    answers_to_json,
    enabled_items,
    score,
    score_as_json,
    score_from_json,
    validate,
)
from steg.questionnaires.tests.strategies import answer_sets, form_data, questionnaires

T = {"sv": "Text", "en": "Text"}
D = Decimal


def item(link_id: str, type: str = "integer", **fields: Any) -> Item:
    return Item(link_id=link_id, type=type, text=T, **fields)  # type: ignore[arg-type]


def opt(code: str, score: int | str | None = None) -> AnswerOption:
    return AnswerOption(code=code, text=T, score=None if score is None else D(score))


def when(question: str, operator: str, answer: Value) -> EnableWhen:
    return EnableWhen(question=question, operator=operator, answer=answer)  # type: ignore[arg-type]


def quest(*items: Item, scoring: Scoring | None = None) -> Questionnaire:
    return Questionnaire(id="test", title=T, languages=("sv", "en"), items=items, scoring=scoring)


def check(q: Questionnaire, data: dict[str, Any], **kwargs: Any) -> Validation:
    return validate(q, data, "en", **kwargs)


def error_of(q: Questionnaire, data: dict[str, Any], **kwargs: Any) -> str | None:
    result = check(q, data, **kwargs)
    assert set(result.errors) <= {"a"}
    return result.errors.get("a")


YES_NO = (opt("yes", 1), opt("no", 0))


# --------------------------------------------------------------------------- enableWhen


def test_an_item_without_conditions_is_enabled() -> None:
    q = quest(item("a"), item("b", "display"))

    assert enabled_items(q, {}) == {"a", "b"}


def test_equals_compares_a_choice_by_its_option_code() -> None:
    q = quest(
        item("smokes", "choice", options=YES_NO),
        item("how-much", enable_when=(when("smokes", "=", "yes"),)),
    )

    assert "how-much" in enabled_items(q, {"smokes": ("yes",)})
    assert "how-much" not in enabled_items(q, {"smokes": ("no",)})
    assert "how-much" not in enabled_items(q, {})


def test_not_equals_holds_when_no_answer_equals_the_value_also_when_unanswered() -> None:
    q = quest(
        item("smokes", "choice", options=YES_NO, repeats=True),
        item("why-not", "text", enable_when=(when("smokes", "!=", "yes"),)),
    )

    assert "why-not" in enabled_items(q, {"smokes": ("no",)})
    assert "why-not" in enabled_items(q, {})
    assert "why-not" not in enabled_items(q, {"smokes": ("yes",)})
    assert "why-not" not in enabled_items(q, {"smokes": ("no", "yes")})


@pytest.mark.parametrize(
    ("operator", "answer", "enabled"),
    [
        (">", 5, True),
        (">", 6, False),
        (">=", 6, True),
        (">=", 7, False),
        ("<", 7, True),
        ("<", 6, False),
        ("<=", 6, True),
        ("<=", 5, False),
        ("=", 6, True),
        ("=", D("6.0"), True),
        ("!=", 6, False),
        ("!=", 5, True),
    ],
)
def test_numbers_compare_by_value(operator: str, answer: Value, enabled: bool) -> None:
    q = quest(item("n"), item("b", "display", enable_when=(when("n", operator, answer),)))

    assert ("b" in enabled_items(q, {"n": (6,)})) is enabled


def test_dates_times_and_decimals_compare_in_order() -> None:
    q = quest(
        item("day", "date"),
        item("at", "time"),
        item("kg", "decimal"),
        item(
            "after-new-year", "display", enable_when=(when("day", ">=", datetime.date(2026, 1, 1)),)
        ),
        item("morning", "display", enable_when=(when("at", "<", datetime.time(12, 0)),)),
        item("heavy", "display", enable_when=(when("kg", ">", D("80.5")),)),
    )

    assert enabled_items(
        q, {"day": (datetime.date(2026, 1, 1),), "at": (datetime.time(9, 30),), "kg": (D("80.6"),)}
    ) >= {"after-new-year", "morning", "heavy"}
    assert not enabled_items(
        q,
        {"day": (datetime.date(2025, 12, 31),), "at": (datetime.time(12, 0),), "kg": (D("80.5"),)},
    ) & {"after-new-year", "morning", "heavy"}


@pytest.mark.parametrize("operator", [">", "<", ">=", "<="])
def test_ordering_operators_never_hold_for_strings_choices_or_booleans(operator: str) -> None:
    q = quest(
        item("s", "string"),
        item("c", "choice", options=YES_NO),
        item("y", "boolean"),
        item("x1", "display", enable_when=(when("s", operator, "a"),)),
        item("x2", "display", enable_when=(when("c", operator, "no"),)),
        item("x3", "display", enable_when=(when("y", operator, False),)),
    )

    enabled = enabled_items(q, {"s": ("b", "a", ""), "c": ("yes",), "y": (True,)})

    assert not enabled & {"x1", "x2", "x3"}


def test_values_of_different_types_are_never_equal() -> None:
    q = quest(
        item("y", "boolean"),
        item("n"),
        item("x1", "display", enable_when=(when("y", "=", 1),)),
        item("x2", "display", enable_when=(when("n", "=", True),)),
        item("x3", "display", enable_when=(when("n", "=", "1"),)),
    )

    assert not enabled_items(q, {"y": (True,), "n": (1,)}) & {"x1", "x2", "x3"}


def test_exists_compares_whether_the_question_has_an_answer() -> None:
    q = quest(
        item("n"),
        item("answered", "display", enable_when=(when("n", "exists", True),)),
        item("unanswered", "display", enable_when=(when("n", "exists", False),)),
    )

    assert enabled_items(q, {"n": (0,)}) >= {"answered"}
    assert "unanswered" not in enabled_items(q, {"n": (0,)})
    assert "unanswered" in enabled_items(q, {})
    assert "answered" not in enabled_items(q, {})


def test_any_answer_of_a_repeating_question_satisfies_the_condition() -> None:
    q = quest(
        item("kinds", "choice", repeats=True, options=(opt("cig"), opt("snus"), opt("vape"))),
        item("snus-follow-up", "display", enable_when=(when("kinds", "=", "snus"),)),
    )

    assert "snus-follow-up" in enabled_items(q, {"kinds": ("cig", "snus")})
    assert "snus-follow-up" not in enabled_items(q, {"kinds": ("cig", "vape")})


def test_enable_behavior_all_needs_every_condition_and_any_needs_one() -> None:
    conditions = (when("a", "=", True), when("b", "=", True))
    q = quest(
        item("a", "boolean"),
        item("b", "boolean"),
        item("all", "display", enable_when=conditions, enable_behavior="all"),
        item("any", "display", enable_when=conditions, enable_behavior="any"),
    )

    assert enabled_items(q, {"a": (True,), "b": (True,)}) >= {"all", "any"}
    one = enabled_items(q, {"a": (True,), "b": (False,)})
    assert "any" in one and "all" not in one
    assert not enabled_items(q, {"a": (False,)}) & {"all", "any"}


def test_the_items_of_a_disabled_group_are_disabled_however_deep() -> None:
    q = quest(
        item("smokes", "boolean"),
        item(
            "about-smoking",
            "group",
            enable_when=(when("smokes", "=", True),),
            items=(
                item("per-day"),
                item("inner", "group", items=(item("brand", "string"),)),
            ),
        ),
    )

    assert enabled_items(q, {"smokes": (True,)}) >= {"about-smoking", "per-day", "inner", "brand"}
    assert enabled_items(q, {"smokes": (False,)}) == {"smokes"}


def test_a_disabled_question_counts_as_unanswered_for_the_items_after_it() -> None:
    q = quest(
        item("a", "boolean"),
        item("b", "boolean", enable_when=(when("a", "=", True),)),
        item("c", "display", enable_when=(when("b", "exists", True),)),
        item("d", "display", enable_when=(when("b", "exists", False),)),
    )

    # b's stale answer does not count while b is disabled.
    enabled = enabled_items(q, {"a": (False,), "b": (True,)})

    assert enabled == {"a", "d"}
    assert enabled_items(q, {"a": (True,), "b": (True,)}) == {"a", "b", "c"}


def test_a_condition_on_a_later_question_sees_no_answer() -> None:
    q = quest(
        item("early", "display", enable_when=(when("late", "exists", True),)),
        item("late"),
    )

    assert enabled_items(q, {"late": (1,)}) == {"late"}


# --------------------------------------------------------------------------- validate


def test_a_valid_form_gives_typed_answers() -> None:
    q = quest(
        item("y", "boolean"),
        item("c", "choice", options=YES_NO),
        item("i"),
        item("d", "decimal"),
        item("s", "string"),
        item("t", "text"),
        item("day", "date"),
        item("at", "time"),
    )
    data = {
        "y": ["false"],
        "c": ["yes"],
        "i": [" 12 "],
        "d": ["2,5"],
        "s": ["  Hej  "],
        "t": ["line one\r\nline two\r\n"],
        "day": ["2026-03-14"],
        "at": ["07:05"],
        "unknown-field": ["ignored"],
    }

    result = check(q, data)

    assert result.errors == {}
    assert result.is_valid
    assert result.answers == {
        "y": (False,),
        "c": ("yes",),
        "i": (12,),
        "d": (D("2.5"),),
        "s": ("Hej",),
        "t": ("line one\nline two",),
        "day": (datetime.date(2026, 3, 14),),
        "at": (datetime.time(7, 5),),
    }
    assert type(result.answers["i"][0]) is int


def test_an_unknown_option_code_is_refused() -> None:
    q = quest(item("a", "choice", options=YES_NO))

    assert error_of(q, {"a": ["maybe"]}) == "Choose one of the answers."
    assert error_of(q, {"a": [OTHER]}) == "Choose one of the answers."
    assert error_of(q, {"a": [" yes"]}) == "Choose one of the answers."


def test_several_choices_for_an_item_that_does_not_repeat_are_refused() -> None:
    q = quest(item("a", "choice", options=YES_NO))

    assert error_of(q, {"a": ["yes", "no"]}) == "Choose only one of the answers."


def test_several_values_for_other_items_that_do_not_repeat_are_refused() -> None:
    q = quest(item("a", "integer"))

    assert error_of(q, {"a": ["1", "2"]}) == "Give only one answer here."
    assert error_of(q, {"a": ["1", "  "]}) is None


def test_a_repeating_choice_keeps_the_options_order_once_each() -> None:
    q = quest(item("a", "choice", repeats=True, options=(opt("x"), opt("y"), opt("z"))))

    assert check(q, {"a": ["z", "x", "z", ""]}).answers == {"a": ("x", "z")}


def test_repeating_numbers_keep_every_answer_in_order() -> None:
    q = quest(item("a", repeats=True))

    assert check(q, {"a": ["3", "1", "3"]}).answers == {"a": (3, 1, 3)}


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [
        (0, 10, "Write a whole number between 0 and 10."),
        (0, None, "Write a whole number of at least 0."),
        (None, 10, "Write a whole number of at most 10."),
        (None, None, "Write a whole number."),
    ],
)
def test_an_integer_that_is_not_one_or_out_of_range_is_refused_with_its_range(
    low: int | None, high: int | None, message: str
) -> None:
    q = quest(
        item(
            "a",
            min_value=None if low is None else D(low),
            max_value=None if high is None else D(high),
        )
    )

    assert error_of(q, {"a": ["two"]}) == message
    assert error_of(q, {"a": ["2.5"]}) == message
    if low is not None:
        assert error_of(q, {"a": ["-1"]}) == message
        assert error_of(q, {"a": ["0"]}) is None
    if high is not None:
        assert error_of(q, {"a": ["11"]}) == message
        assert error_of(q, {"a": ["10"]}) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", 7), ("+7", 7), ("-3", -3), ("\u22123", -3), ("1 000", 1000), ("1\u00a0000", 1000)],
)
def test_integers_are_read_as_people_write_them(text: str, value: int) -> None:
    assert check(quest(item("a")), {"a": [text]}).answers == {"a": (value,)}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2.5", "2.5"),
        ("2,5", "2.5"),
        (",5", "0.5"),
        ("-0,25", "-0.25"),
        ("10", "10"),
        ("1 000,5", "1000.5"),
    ],
)
def test_decimals_take_a_point_or_a_comma(text: str, value: str) -> None:
    assert check(quest(item("a", "decimal")), {"a": [text]}).answers == {"a": (D(value),)}


@pytest.mark.parametrize(
    "text",
    [
        "1e9",
        "NaN",
        "sNaN",
        "Infinity",
        "-inf",
        "0x10",
        "١٢",
        "9" * 31,
        "1.2.3",
        "1 00",
        "--1",
        "1,5,",
    ],
)
def test_what_is_not_a_plain_number_is_refused(text: str) -> None:
    q = quest(item("a", "decimal"))

    assert error_of(q, {"a": [text]}) == "Write a number."


def test_a_decimal_range_is_shown_in_the_patients_language() -> None:
    q = quest(item("a", "decimal", min_value=D("0.5"), max_value=D("2.5")))

    assert error_of(q, {"a": ["3"]}) == "Write a number between 0.5 and 2.5."
    swedish = validate(q, {"a": ["3"]}, "sv").errors["a"]
    assert "0,5" in swedish and "2,5" in swedish


def test_a_date_must_be_a_real_date_in_range() -> None:
    q = quest(item("a", "date"))
    ranged = quest(
        item("a", "date", min_value=datetime.date(2026, 3, 1), max_value=datetime.date(2026, 3, 31))
    )

    for text in ("2026-02-30", "14/3/2026", "20260314", "2026-3-14", "0000-01-01"):
        assert error_of(q, {"a": [text]}) == "Write a date like this: 2026-03-14."
    message = error_of(ranged, {"a": ["2026-04-01"]})
    assert message is not None and message.startswith("Choose a date between")
    assert "2026" in message
    assert error_of(ranged, {"a": ["2026-03-31"]}) is None


def test_a_date_with_one_limit_says_which() -> None:
    first = quest(item("a", "date", min_value=datetime.date(2026, 3, 1)))
    last = quest(item("a", "date", max_value=datetime.date(2026, 3, 1)))

    assert (error_of(first, {"a": ["2026-02-28"]}) or "").startswith("Choose a date on or after")
    assert (error_of(last, {"a": ["2026-03-02"]}) or "").startswith("Choose a date on or before")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("14:30", (14, 30)),
        ("7:05", (7, 5)),
        ("07.05", (7, 5)),
        ("23:59:00", (23, 59)),
        ("0:00", (0, 0)),
    ],
)
def test_a_time_is_hours_and_minutes(text: str, value: tuple[int, int]) -> None:
    assert check(quest(item("a", "time")), {"a": [text]}).answers == {"a": (datetime.time(*value),)}


@pytest.mark.parametrize("text", ["24:00", "12:60", "2pm", "1430", "12:30:15", "12:3"])
def test_what_is_not_a_time_is_refused(text: str) -> None:
    assert error_of(quest(item("a", "time")), {"a": [text]}) == "Write a time like this: 14:30."


def test_a_boolean_is_true_or_false_and_nothing_else() -> None:
    q = quest(item("a", "boolean"))

    assert check(q, {"a": ["true"]}).answers == {"a": (True,)}
    assert check(q, {"a": ["false"]}).answers == {"a": (False,)}
    for text in ("yes", "True", "1", "on"):
        assert error_of(q, {"a": [text]}) == "Choose yes or no."


def test_a_required_answer_is_needed_to_submit_but_not_for_a_draft() -> None:
    q = quest(item("a", "string", required=True))

    assert error_of(q, {}) == "Answer this question."
    assert error_of(q, {"a": ["   "]}) == "Answer this question."
    assert error_of(q, {"a": ["\r\n\t"]}) == "Answer this question."
    assert error_of(q, {}, for_submit=False) is None


def test_a_draft_still_refuses_wrong_answers() -> None:
    q = quest(item("a", min_value=D(0), max_value=D(10), required=True))

    assert error_of(q, {"a": ["11"]}, for_submit=False) == "Write a whole number between 0 and 10."


def test_a_required_question_that_is_disabled_needs_no_answer() -> None:
    q = quest(
        item("smokes", "boolean"),
        item("per-day", required=True, enable_when=(when("smokes", "=", True),)),
    )

    assert check(q, {"smokes": ["false"]}).errors == {}
    assert check(q, {"smokes": ["true"]}).errors == {"per-day": "Answer this question."}


def test_answers_to_disabled_items_are_dropped_with_their_errors() -> None:
    q = quest(
        item("smokes", "boolean"),
        item(
            "group",
            "group",
            enable_when=(when("smokes", "=", True),),
            items=(item("per-day"), item("brand", "choice", options=YES_NO)),
        ),
    )

    result = check(q, {"smokes": ["false"], "per-day": ["20"], "brand": ["tampered"]})

    assert result.errors == {}
    assert result.answers == {"smokes": (False,)}


def test_a_wrong_answer_counts_as_unanswered_for_the_items_after_it() -> None:
    q = quest(
        item("n"),
        item("follow-up", "string", required=True, enable_when=(when("n", ">", 3),)),
    )

    result = check(q, {"n": ["many"], "follow-up": ["text"]})

    assert result.errors == {"n": "Write a whole number."}
    assert result.answers == {}


def test_a_required_group_needs_one_of_its_questions_answered() -> None:
    q = quest(item("g", "group", required=True, items=(item("x"), item("y"))))

    assert check(q, {}).errors == {"g": "Answer at least one of these questions."}
    assert check(q, {"y": ["1"]}).errors == {}
    assert check(q, {}, for_submit=False).errors == {}


def test_text_longer_than_its_limit_is_refused() -> None:
    short = quest(item("a", "string", max_length=5))
    plain = quest(item("a", "text"))
    capped = quest(item("a", "text", max_length=DEFAULT_MAX_LENGTH * 10))

    assert error_of(short, {"a": ["123456"]}) == (
        "This answer can be at most 5 characters long: please shorten it."
    )
    assert error_of(short, {"a": ["  12345  "]}) is None
    limit = f"This answer can be at most {DEFAULT_MAX_LENGTH} characters long: please shorten it."
    assert error_of(plain, {"a": ["x" * (DEFAULT_MAX_LENGTH + 1)]}) == limit
    assert error_of(capped, {"a": ["x" * (DEFAULT_MAX_LENGTH + 1)]}) == limit
    assert error_of(plain, {"a": ["x" * DEFAULT_MAX_LENGTH]}) is None


def test_text_shorter_than_its_minimum_is_refused() -> None:
    q = quest(item("a", "text", min_length=3))

    assert error_of(q, {"a": ["ab"]}) == "Write at least 3 characters."
    assert error_of(q, {"a": ["abc"]}) is None
    assert error_of(quest(item("a", "text", min_length=1)), {"a": [""]}) is None


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "\ud800", "x\udfffy"])
def test_characters_that_cannot_be_stored_are_refused(text: str) -> None:
    assert error_of(quest(item("a", "text")), {"a": [text]}) == (
        "This answer contains a character that cannot be saved. Please remove it."
    )


def test_unanswered_scored_items_are_needed_when_the_scoring_refuses_missing_answers() -> None:
    scoring = Scoring(items=("a", "b"), missing="refuse")
    q = quest(item("a", "choice", options=YES_NO), item("b", required=True), scoring=scoring)

    assert check(q, {}).errors == {
        "a": "Answer this question: it is needed for your result.",
        "b": "Answer this question: it is needed for your result.",
    }
    assert check(q, {}, for_submit=False).errors == {}
    prorated = quest(
        item("a", "choice", options=YES_NO),
        scoring=Scoring(items=("a",), missing="prorate", max_missing=1),
    )
    assert check(prorated, {}).errors == {}


def test_an_open_choice_takes_a_code_or_the_patients_own_text() -> None:
    q = quest(item("a", "open-choice", options=YES_NO))

    assert check(q, {"a": ["yes"], "a__other": [""]}).answers == {"a": ("yes",)}
    assert check(q, {"a": [OTHER], "a__other": ["  Sometimes  "]}).answers == {"a": ("Sometimes",)}
    # Without JavaScript the patient may write in the box without choosing "something else".
    assert check(q, {"a__other": ["Sometimes"]}).answers == {"a": ("Sometimes",)}
    # The box is not read when an option is chosen.
    assert check(q, {"a": ["no"], "a__other": ["Sometimes"]}).answers == {"a": ("no",)}


def test_an_open_choice_refuses_something_else_without_text_and_two_answers() -> None:
    q = quest(item("a", "open-choice", options=YES_NO, max_length=10))

    assert error_of(q, {"a": [OTHER], "a__other": [" "]}) == (
        "Write your own answer in the box, or choose one of the answers."
    )
    assert (
        error_of(q, {"a": ["yes", OTHER], "a__other": ["x"]}) == "Choose only one of the answers."
    )
    assert error_of(q, {"a": ["maybe"]}) == "Choose one of the answers."
    assert error_of(q, {"a": [OTHER], "a__other": ["x" * 11]}) == (
        "This answer can be at most 10 characters long: please shorten it."
    )


def test_something_else_without_text_is_no_answer_yet_in_a_draft() -> None:
    q = quest(item("a", "open-choice", repeats=True, options=YES_NO))

    draft = check(q, {"a": [OTHER, "no"], "a__other": [""]}, for_submit=False)

    assert draft.errors == {}
    assert draft.answers == {"a": ("no",)}
    assert check(q, {"a": [OTHER, "no"]}).errors == {
        "a": "Write your own answer in the box, or choose one of the answers."
    }


def test_a_repeating_open_choice_puts_the_own_text_last() -> None:
    q = quest(item("a", "open-choice", repeats=True, options=(opt("x"), opt("y"))))

    result = check(q, {"a": [OTHER, "y", "x"], "a__other": ["mine"]})

    assert result.answers == {"a": ("x", "y", "mine")}


def test_whatever_arrives_gives_errors_not_exceptions() -> None:
    q = quest(
        item("a", "choice", options=YES_NO),
        item("b"),
        item("c", "open-choice", options=YES_NO),
    )

    result = check(
        q,
        {"a": "yes", "b": [None, 3], "c": [b"yes"], "c__other": 7},
    )

    assert result.answers == {"a": ("yes",)}
    assert set(result.errors) == {"b", "c"}


def test_errors_come_in_document_order() -> None:
    q = quest(
        item("first", "boolean", required=True),
        item("g", "group", items=(item("second", required=True),)),
        item("third", "choice", options=YES_NO),
    )

    errors = check(q, {"third": ["bad"]}).errors

    assert list(errors) == ["first", "second", "third"]


# --------------------------------------------------------------------------- score


def scored(*items: Item, **scoring: Any) -> Questionnaire:
    ids = scoring.pop("items", tuple(i.link_id for i in items if i.type in ANSWER_TYPES))
    return quest(*items, scoring=Scoring(items=ids, **scoring))


FOUR = (opt("0", 0), opt("1", 1), opt("2", 2), opt("3", 3))


def test_a_questionnaire_without_scoring_has_no_score() -> None:
    assert score(quest(item("a")), {"a": (1,)}) is None


def test_the_total_sums_option_scores_numbers_and_booleans() -> None:
    q = scored(
        item("c", "choice", options=FOUR),
        item("n"),
        item("d", "decimal"),
        item("y", "boolean"),
        item("z", "boolean"),
    )

    result = score(q, {"c": ("2",), "n": (4,), "d": (D("1.5"),), "y": (True,), "z": (False,)})

    assert result == ScoreResult(
        status="scored", total=D("8.5"), subscales={}, band=None, flags=(), missing=()
    )


def test_a_repeating_item_scores_the_sum_of_its_answers() -> None:
    q = scored(item("c", "choice", repeats=True, options=FOUR))

    result = score(q, {"c": ("1", "3")})

    assert result is not None and result.total == 4


def test_a_reversed_item_scores_lowest_plus_highest_minus_its_score() -> None:
    q = scored(
        item("c", "choice", options=(opt("a", 1), opt("b", 2), opt("c", 5), opt("none"))),
        item("n", min_value=D(0), max_value=D(10)),
        item("y", "boolean"),
        reversed=("c", "n", "y"),
    )

    result = score(q, {"c": ("b",), "n": (3,), "y": (True,)})

    assert result is not None and result.total == (1 + 5 - 2) + (0 + 10 - 3) + (0 + 1 - 1)


def test_disabled_scored_items_are_neither_scored_nor_missing() -> None:
    q = scored(
        item("smokes", "boolean"),
        item("per-day", enable_when=(when("smokes", "=", True),)),
        missing="refuse",
    )

    result = score(q, {"smokes": (False,), "per-day": (20,)})

    assert result is not None
    assert (result.status, result.total, result.missing) == ("scored", 0, ())


def test_with_the_refuse_rule_anything_missing_leaves_the_response_unscored() -> None:
    q = scored(item("a"), item("b"), missing="refuse", subscales=(Subscale("s", T, ("a",)),))

    result = score(q, {"a": (1,)})

    assert result == ScoreResult(
        status="unscored", total=None, subscales={"s": None}, band=None, flags=(), missing=("b",)
    )


def test_with_the_unscored_rule_anything_missing_leaves_the_response_unscored() -> None:
    q = scored(item("a", "choice", options=(opt("x", 1), opt("dont-know"))), missing="unscored")

    result = score(q, {"a": ("dont-know",)})

    assert result is not None
    assert (result.status, result.total, result.missing) == ("unscored", None, ("a",))


def test_prorating_scales_up_the_mean_and_rounds_half_up() -> None:
    items = (item("a", "choice", options=FOUR), item("b", "choice", options=FOUR), item("c"))
    answers: Answers = {"a": ("1",), "b": ("2",)}

    whole = score(scored(*items, missing="prorate", max_missing=1), answers)
    tenths = score(scored(*items, missing="prorate", max_missing=1, decimals=1), answers)

    # (1 + 2) / 2 * 3 = 4.5: half up gives 5 (not the banker's 4).
    assert whole is not None and (whole.status, whole.total, whole.missing) == ("scored", 5, ("c",))
    assert tenths is not None and str(tenths.total) == "4.5"


def test_prorating_rounds_thirds_to_the_decimals_asked_for() -> None:
    items = tuple(item(x) for x in "abcd")

    result = score(
        scored(*items, missing="prorate", max_missing=1, decimals=2),
        {"a": (1,), "b": (1,), "c": (2,)},
    )

    # 4 / 3 * 4 = 5.333...
    assert result is not None and str(result.total) == "5.33"


def test_prorating_with_too_many_missing_leaves_the_response_unscored() -> None:
    q = scored(item("a"), item("b"), item("c"), missing="prorate", max_missing=1)

    result = score(q, {"a": (1,)})

    assert result is not None
    assert (result.status, result.total, result.missing) == ("unscored", None, ("b", "c"))


def test_prorating_applies_to_each_subscale_on_its_own() -> None:
    q = scored(
        item("a"),
        item("b"),
        item("c"),
        item("d"),
        missing="prorate",
        max_missing=2,
        subscales=(Subscale("ab", T, ("a", "b")), Subscale("cd", T, ("c", "d"))),
    )

    result = score(q, {"a": (2,), "b": (4,), "c": (3,)})

    assert result is not None
    assert result.total == 12  # 9 / 3 * 4
    assert result.subscales == {"ab": 6, "cd": 6}


def test_a_subscale_with_nothing_answered_has_no_value() -> None:
    q = scored(
        item("a"),
        item("b"),
        missing="prorate",
        max_missing=1,
        subscales=(Subscale("b-only", T, ("b",)),),
    )

    result = score(q, {"a": (3,)})

    assert result is not None and result.total == 6 and result.subscales == {"b-only": None}


BANDS = (
    Band("low", None, D(3), T, T),
    Band("middle", D(4), D(6), T, T),
    Band("high", D(8), None, T, T),
)


@pytest.mark.parametrize(
    ("total", "band"),
    [(-5, "low"), (3, "low"), (4, "middle"), (6, "middle"), (7, None), (8, "high"), (99, "high")],
)
def test_the_band_is_the_one_containing_the_total_ends_included(
    total: int, band: str | None
) -> None:
    q = scored(item("a"), bands=BANDS)

    result = score(q, {"a": (total,)})

    assert result is not None
    assert (result.band.key if result.band else None) == band


def test_flags_are_raised_when_their_scale_is_in_range() -> None:
    flags = (
        Flag("total-high", "total", D(10), None, T),
        Flag("s-low", "s", None, D(2), T),
        Flag("s-exactly-5", "s", D(5), D(5), T),
        Flag("unknown-scale", "nope", None, None, T),
    )
    q = scored(item("a"), item("b"), subscales=(Subscale("s", T, ("b",)),), flags=flags)

    assert [f.key for f in score(q, {"a": (9,), "b": (1,)}).flags] == ["total-high", "s-low"]  # type: ignore[union-attr]
    assert [f.key for f in score(q, {"a": (0,), "b": (5,)}).flags] == ["s-exactly-5"]  # type: ignore[union-attr]
    assert score(q, {"a": (0,), "b": (3,)}).flags == ()  # type: ignore[union-attr]


def test_an_unscored_response_has_no_band_and_no_flags() -> None:
    q = scored(
        item("a"),
        item("b"),
        bands=(Band("any", None, None, T, T),),
        flags=(Flag("always", "total", None, None, T),),
    )

    result = score(q, {"a": (1,)})

    assert result is not None and result.band is None and result.flags == ()


def test_a_score_round_trips_through_json() -> None:
    q = scored(
        item("a", "decimal"),
        item("b"),
        subscales=(Subscale("s", T, ("a",)), Subscale("empty", T, ("b",))),
        bands=BANDS,
        flags=(Flag("f", "total", D(1), None, T), Flag("g", "s", None, None, T)),
        missing="prorate",
        max_missing=1,
    )
    result = score(q, {"a": (D("4.50"),)})
    assert result is not None

    stored = json.loads(json.dumps(score_as_json(result)))

    assert stored == {
        "status": "scored",
        "total": "9",  # prorated, rounded to whole points
        "subscales": {"s": "4.50", "empty": None},
        "band": "high",
        "flags": ["f", "g"],
        "missing": ["b"],
    }
    assert score_from_json(q, stored) == result


def test_a_stored_score_that_does_not_fit_the_questionnaire_is_refused() -> None:
    q = scored(item("a"), bands=BANDS)
    good = {
        "status": "scored",
        "total": "1",
        "subscales": {},
        "band": "low",
        "flags": [],
        "missing": [],
    }

    assert score_from_json(q, good).band == BANDS[0]
    for bad in (
        {**good, "band": "gone"},
        {**good, "flags": ["gone"]},
        {**good, "status": "maybe"},
        {**good, "total": "many"},
        {"total": "1"},
    ):
        with pytest.raises(ValueError):
            score_from_json(q, bad)
    with pytest.raises(ValueError):
        score_from_json(quest(item("a")), good)


# --------------------------------------------------------------------------- storage


EVERY_TYPE = quest(
    item("y", "boolean"),
    item("c", "choice", repeats=True, options=YES_NO),
    item("o", "open-choice", options=YES_NO),
    item("i"),
    item("d", "decimal"),
    item("g", "group", items=(item("s", "string"), item("t", "text"))),
    item("day", "date"),
    item("at", "time"),
)
EVERY_ANSWER: Answers = {
    "y": (True,),
    "c": ("yes", "no"),
    "o": ("My own words",),
    "i": (-3,),
    "d": (D("2.50"),),
    "s": ("Hej",),
    "t": ("Två\nrader",),
    "day": (datetime.date(2026, 3, 14),),
    "at": (datetime.time(7, 5),),
}


def test_answers_are_stored_as_plain_json_and_read_back_exactly() -> None:
    stored = answers_to_json(EVERY_TYPE, EVERY_ANSWER)

    assert stored == {
        "y": [True],
        "c": ["yes", "no"],
        "o": ["My own words"],
        "i": [-3],
        "d": ["2.50"],
        "s": ["Hej"],
        "t": ["Två\nrader"],
        "day": ["2026-03-14"],
        "at": ["07:05"],
    }
    assert answers_from_json(EVERY_TYPE, json.loads(json.dumps(stored))) == EVERY_ANSWER


@pytest.mark.parametrize(
    "data",
    [
        {"nope": [1]},
        {"g": ["x"]},
        {"i": ["3"]},
        {"i": [True]},
        {"y": ["true"]},
        {"d": ["abc"]},
        {"d": [2.5]},
        {"day": ["14/3"]},
        {"at": [730]},
        {"s": "Hej"},
    ],
)
def test_stored_answers_that_do_not_fit_the_questionnaire_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        answers_from_json(EVERY_TYPE, data)


def test_answers_to_unknown_items_cannot_be_stored() -> None:
    with pytest.raises(ValueError):
        answers_to_json(EVERY_TYPE, {"nope": (1,)})


def test_answers_fill_the_form_again() -> None:
    form = answers_to_form(EVERY_TYPE, EVERY_ANSWER)

    assert form == {
        "y": ["true"],
        "c": ["yes", "no"],
        "o": [OTHER],
        "o__other": ["My own words"],
        "i": ["-3"],
        "d": ["2.50"],
        "s": ["Hej"],
        "t": ["Två\nrader"],
        "day": ["2026-03-14"],
        "at": ["07:05"],
    }
    assert check(EVERY_TYPE, form).answers == EVERY_ANSWER


# --------------------------------------------------------------------------- properties


@st.composite
def questionnaire_and_form(draw: st.DrawFn) -> tuple[Questionnaire, dict[str, Any]]:
    q = draw(questionnaires())
    return q, draw(form_data(q))


@st.composite
def questionnaire_and_answers(
    draw: st.DrawFn, *, complete: bool = False, scored: bool | None = None
) -> tuple[Questionnaire, Answers]:
    q = draw(questionnaires(scored=scored))
    return q, draw(answer_sets(q, complete=complete))


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(questionnaire_and_form(), st.booleans(), st.sampled_from(["sv", "en"]))
def test_validate_never_raises_and_returns_answers_or_errors(
    case: tuple[Questionnaire, dict[str, Any]], for_submit: bool, language: str
) -> None:
    q, data = case

    result = validate(q, data, language, for_submit=for_submit)

    questions = {i.link_id: i for i in q.all_items() if i.type in ANSWER_TYPES}
    enabled = enabled_items(q, result.answers)
    assert set(result.answers) <= set(questions) & enabled
    assert all(isinstance(v, tuple) and v for v in result.answers.values())
    assert set(result.errors) <= enabled
    assert all(isinstance(m, str) and m for m in result.errors.values())
    for link_id, values in result.answers.items():
        assert len(values) == 1 or questions[link_id].repeats
    if not result.errors:
        # Accepted answers can be stored, read back and scored.
        stored = json.loads(json.dumps(answers_to_json(q, result.answers)))
        assert answers_from_json(q, stored) == result.answers
        score(q, result.answers)


@PROPERTY
@given(questionnaire_and_answers())
def test_a_valid_answer_set_validates_without_errors_and_round_trips_through_the_form(
    case: tuple[Questionnaire, Answers],
) -> None:
    q, answers = case

    result = validate(q, answers_to_form(q, answers), "en")

    assert result.errors == {}
    assert result.answers == answers


@PROPERTY
@given(questionnaire_and_answers())
def test_answers_round_trip_through_json(case: tuple[Questionnaire, Answers]) -> None:
    q, answers = case

    stored = json.loads(json.dumps(answers_to_json(q, answers)))

    assert answers_from_json(q, stored) == answers


def _expected(q: Questionnaire, answers: Answers) -> tuple[Decimal, tuple[str, ...]]:
    """The total and the missing items, computed here without the module's helpers."""
    assert q.scoring is not None
    enabled = enabled_items(q, answers)
    total, missing = D(0), []
    for link_id in dict.fromkeys(q.scoring.items):
        it = q.item(link_id)
        assert it is not None
        if link_id not in enabled:
            continue
        if it.type == "boolean":
            low, high = D(0), D(1)
            values: Sequence[Decimal | None] = [
                D(1) if v else D(0) for v in answers.get(link_id, ())
            ]
        elif it.type in ("choice", "open-choice"):
            option_scores = [o.score for o in it.options if o.score is not None]
            low, high = (min(option_scores), max(option_scores)) if option_scores else (D(0), D(0))
            by_code = {o.code: o.score for o in it.options}
            values = [
                by_code.get(v) if isinstance(v, str) else None for v in answers.get(link_id, ())
            ]
        else:
            low, high = it.min_value, it.max_value  # type: ignore[assignment]
            values = [D(v) for v in answers.get(link_id, ())]  # type: ignore[arg-type]
        known = [v for v in values if v is not None]
        if not known:
            missing.append(link_id)
            continue
        if link_id in q.scoring.reversed:
            known = [low + high - v for v in known]
        total += sum(known, D(0))
    return total, tuple(missing)


@PROPERTY
@given(questionnaire_and_answers(complete=True, scored=True))
def test_the_total_is_the_sum_of_the_item_scores(case: tuple[Questionnaire, Answers]) -> None:
    q, answers = case
    assert q.scoring is not None

    result = score(q, answers)
    total, missing = _expected(q, answers)

    assert result is not None
    assert result.missing == missing
    if not missing:
        assert result.status == "scored"
        assert result.total == total
        band = [
            b
            for b in q.scoring.bands
            if (b.min is None or b.min <= total) and (b.max is None or total <= b.max)
        ]
        assert result.band == (band[0] if band else None)


@PROPERTY
@given(questionnaire_and_answers(scored=True))
def test_scores_are_consistent_and_round_trip_through_json(
    case: tuple[Questionnaire, Answers],
) -> None:
    q, answers = case
    assert q.scoring is not None

    result = score(q, answers)

    assert result is not None
    if result.status == "unscored":
        assert result.total is None and result.band is None and result.flags == ()
    else:
        assert result.total is not None
        assert len(result.missing) <= (
            q.scoring.max_missing if q.scoring.missing == "prorate" else 0
        )
    assert set(result.subscales) == {s.key for s in q.scoring.subscales}
    assert score_from_json(q, json.loads(json.dumps(score_as_json(result)))) == result


@PROPERTY
@given(questionnaire_and_answers())
def test_the_items_of_a_disabled_item_are_disabled(case: tuple[Questionnaire, Answers]) -> None:
    q, answers = case
    enabled = enabled_items(q, answers)

    def walk(items: tuple[Item, ...], parent_on: bool) -> None:
        for it in items:
            assert parent_on or it.link_id not in enabled
            walk(it.items, it.link_id in enabled)

    walk(q.items, True)
