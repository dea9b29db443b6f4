"""Validation of Swedish personal identity numbers and co-ordination numbers.

A personal identity number (*personnummer*) is the birth date followed by a
three-digit serial number and a check digit. A co-ordination number
(*samordningsnummer*) has the same shape, but 60 is added to the day of birth,
so its day lies between 61 and 91.

Accepted input forms (surrounding whitespace is ignored)::

    YYMMDD-NNNC    YYMMDD+NNNC    YYMMDDNNNC    YYYYMMDDNNNC    YYYYMMDD-NNNC

Rules applied by :func:`normalise`:

* The short (ten-digit) forms carry no century. The most recent century that
  does not put the birth date after ``today`` is chosen; a ``+`` separator
  means the person is 100 years or older, so a further 100 years is subtracted.
* The date (after subtracting 60 from the day of a co-ordination number) must
  be a real calendar date and must not lie after ``today``.
* The check digit ``C`` is the Luhn (mod 10) check digit of the nine digits
  ``YYMMDDNNN``: weights 2, 1, 2, 1, ... are applied, the digits of the
  products are summed and ``C = (10 - sum % 10) % 10``.

The normalised form is the twelve digits ``YYYYMMDDNNNC``; :func:`format_display`
renders it as ``YYYYMMDD-NNNC``. Errors are reported as
:class:`PersonnummerError` whose ``code`` is ``"format"``, ``"date"`` or
``"checksum"``.
"""

from __future__ import annotations

import datetime
import re
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "ErrorCode",
    "PersonnummerError",
    "birth_date",
    "format_display",
    "is_coordination_number",
    "luhn_check_digit",
    "normalise",
]

ErrorCode = Literal["format", "date", "checksum"]

COORDINATION_DAY_OFFSET = 60
"""Added to the day of birth in a co-ordination number."""

_TIME_ZONE = ZoneInfo("Europe/Stockholm")

# ``[0-9]`` rather than ``\d``: the latter also matches non-ASCII digits.
_SHORT_FORM = re.compile(r"(?P<date>[0-9]{6})(?P<sep>[-+]?)(?P<serial>[0-9]{3})(?P<check>[0-9])")
_LONG_FORM = re.compile(r"(?P<date>[0-9]{8})-?(?P<serial>[0-9]{3})(?P<check>[0-9])")
_NORMALISED = re.compile(r"[0-9]{12}")


class PersonnummerError(ValueError):
    """An invalid personal identity number or co-ordination number.

    ``code`` tells what is wrong: ``"format"`` (not one of the accepted
    forms), ``"date"`` (no such date, or a date in the future) or
    ``"checksum"`` (the check digit does not match).
    """

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[PersonnummerError], tuple[ErrorCode, str]]:
        return (type(self), (self.code, self.message))


def _today() -> datetime.date:
    return datetime.datetime.now(tz=_TIME_ZONE).date()


def luhn_check_digit(nine_digits: str) -> int:
    """Return the Luhn check digit for the nine digits ``YYMMDDNNN``."""
    if len(nine_digits) != 9 or not nine_digits.isascii() or not nine_digits.isdigit():
        raise ValueError(f"expected nine ASCII digits, got {nine_digits!r}")
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def _real_date(year: int, month: int, day: int) -> datetime.date:
    """Return the birth date, undoing the co-ordination number day offset."""
    if day > COORDINATION_DAY_OFFSET:
        day -= COORDINATION_DAY_OFFSET
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise PersonnummerError("date", "The birth date is not a real date.") from None


def normalise(value: str, *, today: datetime.date | None = None) -> str:
    """Validate ``value`` and return it in the twelve-digit form ``YYYYMMDDNNNC``.

    ``today`` (default: the current date in Sweden) decides the century of
    the ten-digit forms and which birth dates lie in the future.

    Raises :class:`PersonnummerError` if ``value`` is not valid.
    """
    if today is None:
        today = _today()
    text = value.strip()

    if short_form := _SHORT_FORM.fullmatch(text):
        digits = short_form["date"]
        yy, month, day = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
        real_day = day - COORDINATION_DAY_OFFSET if day > COORDINATION_DAY_OFFSET else day
        # The most recent year ending in ``yy`` that is not after today ...
        year = today.year - (today.year - yy) % 100
        # ... moved back a century if the birthday in that year is still to come.
        if (year, month, real_day) > (today.year, today.month, today.day):
            year -= 100
        if short_form["sep"] == "+":
            year -= 100
        if year < 1:
            raise PersonnummerError("date", "The birth date is not a real date.")
        full_date = f"{year:04d}{digits[2:6]}"
        serial, check = short_form["serial"], short_form["check"]
    elif long_form := _LONG_FORM.fullmatch(text):
        full_date = long_form["date"]
        serial, check = long_form["serial"], long_form["check"]
    else:
        raise PersonnummerError(
            "format", "Enter the number as YYYYMMDD-NNNC, YYMMDD-NNNC or YYMMDD+NNNC."
        )

    born = _real_date(int(full_date[0:4]), int(full_date[4:6]), int(full_date[6:8]))
    if born > today:
        raise PersonnummerError("date", "The birth date is in the future.")

    if luhn_check_digit(full_date[2:8] + serial) != int(check):
        raise PersonnummerError("checksum", "The check digit does not match.")

    return f"{full_date}{serial}{check}"


def _require_normalised(normalised: str) -> str:
    if not _NORMALISED.fullmatch(normalised):
        raise PersonnummerError("format", f"Expected twelve digits, got {normalised!r}.")
    return normalised


def is_coordination_number(normalised: str) -> bool:
    """Return whether a normalised number is a co-ordination number (day 61-91)."""
    return int(_require_normalised(normalised)[6:8]) > COORDINATION_DAY_OFFSET


def birth_date(normalised: str) -> datetime.date:
    """Return the birth date of a normalised number (co-ordination offset removed)."""
    digits = _require_normalised(normalised)
    return _real_date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))


def format_display(normalised: str) -> str:
    """Render a normalised number as ``YYYYMMDD-NNNC``."""
    digits = _require_normalised(normalised)
    return f"{digits[:8]}-{digits[8:]}"
