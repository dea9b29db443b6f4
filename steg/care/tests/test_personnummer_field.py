"""The personal identity number field: one clear message per kind of mistake, in Swedish by
default and in English when chosen."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation

from steg.care.forms import PERSONNUMMER_MESSAGES, PersonnummerField

# A mistake of each kind, with the same number written correctly for comparison.
MISTAKES = {
    "format": ["19121212-121", "abc", "19121212_1212", "١٩١٢١٢١٢١٢١٢"],
    "date": ["19121312-1212", "19120230-1210", "20991212-1212", "19121292-1212"],
    "checksum": ["19121212-1213", "121212-1213", "191212121210"],
}


class PatientForm(forms.Form):
    personnummer = PersonnummerField()


def error_for(value: str, language: str) -> tuple[str, str]:
    """The (code, message) that the form shows for `value` in `language`."""
    with translation.override(language):
        form = PatientForm({"personnummer": value})
        assert not form.is_valid(), f"{value!r} was accepted"
        error = form.errors.as_data()["personnummer"][0]
        return str(error.code), str(error.messages[0])


def in_language(text: object, language: str) -> str:
    with translation.override(language):
        return str(text)


@pytest.mark.parametrize("kind", sorted(MISTAKES))
def test_each_kind_of_mistake_has_its_own_swedish_message(kind: str) -> None:
    swedish = in_language(PERSONNUMMER_MESSAGES[kind], "sv")
    english = in_language(PERSONNUMMER_MESSAGES[kind], "en")
    assert swedish != english, f"no Swedish translation for the {kind} message"
    for value in MISTAKES[kind]:
        assert error_for(value, "sv") == (kind, swedish), value


@pytest.mark.parametrize("kind", sorted(MISTAKES))
def test_each_kind_of_mistake_has_its_own_english_message(kind: str) -> None:
    english = in_language(PERSONNUMMER_MESSAGES[kind], "en")
    for value in MISTAKES[kind]:
        assert error_for(value, "en") == (kind, english), value


def test_the_three_messages_differ() -> None:
    for language in ("sv", "en"):
        texts = {in_language(message, language) for message in PERSONNUMMER_MESSAGES.values()}
        assert len(texts) == 3


def test_the_swedish_messages_speak_of_personnummer_in_swedish_words() -> None:
    assert "personnum" in in_language(PERSONNUMMER_MESSAGES["format"], "sv").lower()
    assert "12 siffror" in in_language(PERSONNUMMER_MESSAGES["format"], "sv")


def test_the_message_follows_the_language_active_when_shown() -> None:
    # Messages are lazy: a form validated in one language shows them in the reader's language.
    with translation.override("en"):
        form = PatientForm({"personnummer": "19121212-1213"})
        form.is_valid()
    with translation.override("sv"):
        assert form.errors["personnummer"] == [in_language(PERSONNUMMER_MESSAGES["checksum"], "sv")]


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ("19121212-1212", "191212121212"),
        (" 191212121212 ", "191212121212"),
        ("121212+1212", "191212121212"),
        ("811218-9876", "198112189876"),
        ("19701063-2391", "197010632391"),  # a co-ordination number
    ],
)
def test_valid_numbers_are_cleaned_to_twelve_digits(value: str, cleaned: str) -> None:
    with time_machine.travel(datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)):
        form = PatientForm({"personnummer": value})
        assert form.is_valid(), form.errors
    assert form.cleaned_data["personnummer"] == cleaned


def test_a_required_field_left_empty_says_so_in_swedish() -> None:
    with translation.override("sv"):
        form = PatientForm({"personnummer": ""})
        assert not form.is_valid()
        assert form.errors["personnummer"] == ["Detta fält måste fyllas i."]


def test_an_optional_field_left_empty_is_blank() -> None:
    field = PersonnummerField(required=False)
    assert field.clean("") == ""
    assert field.clean("   ") == ""


def test_a_too_long_value_is_refused_before_parsing() -> None:
    field = PersonnummerField()
    with translation.override("en"), pytest.raises(ValidationError) as error:
        field.clean("1" * 21)
    assert [e.code for e in error.value.error_list] == ["max_length"]


def test_the_widget_asks_for_digits_and_no_autofill() -> None:
    html = str(PatientForm()["personnummer"])
    assert 'inputmode="numeric"' in html
    assert 'autocomplete="off"' in html
