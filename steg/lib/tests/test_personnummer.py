"""Tests for :mod:`steg.lib.personnummer`.

Every call passes ``today`` explicitly so that no test depends on the clock.
"""

from __future__ import annotations

import datetime
import pickle
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steg.lib.personnummer import (
    PersonnummerError,
    birth_date,
    format_display,
    is_coordination_number,
    luhn_check_digit,
    normalise,
)

TODAY = datetime.date(2025, 6, 15)


def complete(yymmdd: str, serial: str) -> str:
    """Return the ten digits ``YYMMDDNNNC`` with the correct check digit."""
    return f"{yymmdd}{serial}{luhn_check_digit(yymmdd + serial)}"


def error_code(value: str, today: datetime.date = TODAY) -> str:
    with pytest.raises(PersonnummerError) as excinfo:
        normalise(value, today=today)
    return excinfo.value.code


# --- Known valid numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19121212-1212", "191212121212"),
        ("191212121212", "191212121212"),
        ("121212+1212", "191212121212"),
        ("811218-9876", "198112189876"),
        ("8112189876", "198112189876"),
        ("19811218-9876", "198112189876"),
        ("  811218-9876\n", "198112189876"),
    ],
)
def test_skatteverket_test_numbers_are_accepted_in_every_form(value: str, expected: str) -> None:
    assert normalise(value, today=TODAY) == expected


def test_a_computed_coordination_number_is_accepted() -> None:
    # Born 3 October 1970: the day 03 becomes 63 in a co-ordination number.
    ten_digits = complete("701063", "239")
    assert ten_digits == "7010632391"
    normalised = normalise("701063-2391", today=TODAY)
    assert normalised == "197010632391"
    assert is_coordination_number(normalised)
    assert birth_date(normalised) == datetime.date(1970, 10, 3)
    assert format_display(normalised) == "19701063-2391"


def test_an_ordinary_personnummer_is_not_a_coordination_number() -> None:
    assert not is_coordination_number("198112189876")


def test_the_display_form_has_a_hyphen_before_the_last_four_digits() -> None:
    assert format_display("191212121212") == "19121212-1212"


def test_the_birth_date_of_an_ordinary_number_is_its_first_eight_digits() -> None:
    assert birth_date("198112189876") == datetime.date(1981, 12, 18)


def test_the_luhn_check_digit_matches_the_skatteverket_examples() -> None:
    assert luhn_check_digit("121212121") == 2
    assert luhn_check_digit("811218987") == 6


def test_the_luhn_check_digit_rejects_anything_but_nine_ascii_digits() -> None:
    for bad in ["", "12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"]:
        with pytest.raises(ValueError):
            luhn_check_digit(bad)


def test_the_helpers_reject_input_that_is_not_normalised() -> None:
    for helper in (is_coordination_number, birth_date, format_display):
        with pytest.raises(PersonnummerError) as excinfo:
            helper("19121212-1212")
        assert excinfo.value.code == "format"


# --- Centuries -------------------------------------------------------------------------


def test_a_hyphenated_short_number_is_placed_in_the_most_recent_possible_century() -> None:
    assert normalise(complete("250615", "123"), today=TODAY).startswith("20250615")
    assert normalise(complete("250616", "123"), today=TODAY).startswith("19250616")
    assert normalise(complete("000101", "123"), today=TODAY).startswith("20000101")
    assert normalise(complete("991231", "123"), today=TODAY).startswith("19991231")


def test_a_plus_separator_moves_the_birth_year_back_another_hundred_years() -> None:
    digits = complete("250615", "123")
    plus_form = f"{digits[:6]}+{digits[6:]}"
    assert normalise(plus_form, today=TODAY).startswith("19250615")
    digits = complete("250616", "123")
    plus_form = f"{digits[:6]}+{digits[6:]}"
    assert normalise(plus_form, today=TODAY).startswith("18250616")


def test_a_plus_separator_marks_a_hundredth_birthday_today() -> None:
    digits = complete("250615", "123")
    assert normalise(f"{digits[:6]}+{digits[6:]}", today=TODAY).startswith("19250615")
    assert normalise(f"{digits[:6]}-{digits[6:]}", today=TODAY).startswith("20250615")


# --- Leap days -------------------------------------------------------------------------


def test_the_twenty_ninth_of_february_is_accepted_in_a_leap_year() -> None:
    ten = complete("040229", "123")
    assert normalise(ten, today=TODAY) == "20" + ten
    twelve = "20" + complete("000229", "456")
    assert normalise(twelve, today=TODAY) == twelve


def test_the_twenty_ninth_of_february_is_rejected_in_a_common_year() -> None:
    assert error_code(complete("230229", "123")) == "date"
    assert error_code("19000229" + complete("000229", "123")[6:]) == "date"


def test_a_leap_day_short_number_takes_its_century_from_today() -> None:
    # On 1 January 2000 the leap day 2000-02-29 was still to come, so "000229"
    # meant 1900-02-29, which does not exist.
    assert error_code(complete("000229", "123"), today=datetime.date(2000, 1, 1)) == "date"
    assert normalise(complete("000229", "123"), today=datetime.date(2000, 2, 29)).startswith(
        "20000229"
    )


def test_a_coordination_number_on_a_leap_day_is_checked_against_the_real_date() -> None:
    assert normalise(complete("040289", "123"), today=TODAY).startswith("20040289")
    assert error_code(complete("230289", "123")) == "date"


# --- Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "811218 9876",
        "811218--9876",
        "811218-987",
        "811218-98765",
        "19811218+9876",
        "1981121-89876",
        "81121-89876",
        "811218/9876",
        "81121898７6",  # full-width digit
        "٨١١٢١٨-٩٨٧٦",  # Arabic-Indic digits
        "abcdef-ghij",
    ],
)
def test_anything_but_the_accepted_forms_is_a_format_error(value: str) -> None:
    assert error_code(value) == "format"


@pytest.mark.parametrize(
    "yymmdd",
    ["811318", "810018", "811200", "811232", "810431", "811260", "811292", "811299"],
)
def test_an_impossible_date_is_a_date_error(yymmdd: str) -> None:
    assert error_code(complete(yymmdd, "987")) == "date"


def test_a_twelve_digit_number_with_a_future_birth_date_is_a_date_error() -> None:
    assert error_code("20250616" + complete("250616", "123")[6:]) == "date"
    assert error_code("30000101" + complete("000101", "123")[6:]) == "date"


def test_a_coordination_number_with_a_future_birth_date_is_a_date_error() -> None:
    assert error_code("20250676" + complete("250676", "123")[6:]) == "date"


def test_a_wrong_check_digit_is_a_checksum_error() -> None:
    assert error_code("811218-9875") == "checksum"
    assert error_code("19121212-1213") == "checksum"


def test_the_error_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match="check digit"):
        normalise("811218-9875", today=TODAY)


def test_the_error_survives_pickling_with_its_code() -> None:
    error = PersonnummerError("checksum", "The check digit does not match.")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data
    assert copy.code == "checksum"
    assert str(copy) == str(error)


# --- Properties ------------------------------------------------------------------------

todays = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2200, 12, 31))
serials = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")


@st.composite
def today_and_birth_date(draw: st.DrawFn) -> tuple[datetime.date, datetime.date]:
    today = draw(todays)
    born = draw(st.dates(min_value=datetime.date(today.year - 250, 1, 1), max_value=today))
    return today, born


def accepted_forms(born: datetime.date, day: int, serial: str, today: datetime.date) -> list[str]:
    """Every accepted way of writing the number, by an independent century rule."""
    yymmdd = f"{born.year % 100:02d}{born.month:02d}{day:02d}"
    ten = complete(yymmdd, serial)
    century = f"{born.year // 100:02d}"
    forms = [century + ten, f"{century}{ten[:6]}-{ten[6:]}"]
    hundred_years_ago = (today.year - 100, today.month, today.day)
    two_hundred_years_ago = (today.year - 200, today.month, today.day)
    born_tuple = (born.year, born.month, born.day)
    if born_tuple > hundred_years_ago:
        forms += [ten, f"{ten[:6]}-{ten[6:]}"]
    elif born_tuple > two_hundred_years_ago:
        forms.append(f"{ten[:6]}+{ten[6:]}")
    return forms


@given(today_and_birth_date(), serials)
def test_every_accepted_form_of_a_valid_number_normalises_to_the_same_digits(
    dates: tuple[datetime.date, datetime.date], serial: str
) -> None:
    today, born = dates
    forms = accepted_forms(born, born.day, serial, today)
    expected = forms[0]
    for form in forms:
        assert normalise(form, today=today) == expected
    assert birth_date(expected) == born
    assert not is_coordination_number(expected)


@given(today_and_birth_date(), serials, st.integers(min_value=1, max_value=9))
def test_any_other_check_digit_is_a_checksum_error(
    dates: tuple[datetime.date, datetime.date], serial: str, shift: int
) -> None:
    today, born = dates
    for form in accepted_forms(born, born.day, serial, today):
        wrong = (int(form[-1]) + shift) % 10
        assert error_code(form[:-1] + str(wrong), today=today) == "checksum"


@given(st.text() | st.text(alphabet=string.digits + "+- \t\n", max_size=16))
def test_arbitrary_text_is_either_normalised_or_rejected_with_a_personnummer_error(
    value: str,
) -> None:
    try:
        result = normalise(value, today=TODAY)
    except PersonnummerError as error:
        assert error.code in {"format", "date", "checksum"}
    else:
        assert len(result) == 12
        assert result.isascii()
        assert result.isdigit()


@given(today_and_birth_date(), serials)
def test_coordination_numbers_round_trip(
    dates: tuple[datetime.date, datetime.date], serial: str
) -> None:
    today, born = dates
    forms = accepted_forms(born, born.day + 60, serial, today)
    expected = forms[0]
    for form in forms:
        normalised = normalise(form, today=today)
        assert normalised == expected
        assert is_coordination_number(normalised)
        assert birth_date(normalised) == born
        assert format_display(normalised) == f"{expected[:8]}-{expected[8:]}"
        assert normalise(format_display(normalised), today=today) == normalised
