from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from steg.lib import personnummer

PERSONNUMMER_MESSAGES = {
    "format": _(
        "Write the personal identity number as 12 digits (YYYYMMDDNNNN) or 10 digits (YYMMDD-NNNN)."
    ),
    "date": _("The personal identity number does not contain a real date of birth."),
    "checksum": _(
        "The last digit of the personal identity number does not match. Check for a typing error."
    ),
}


class PersonnummerField(forms.CharField):
    """A Swedish personal identity or co-ordination number, cleaned to 12 digits."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("label", _("Personal identity number"))
        kwargs.setdefault("help_text", _("12 digits, for example 19121212-1212."))
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("autocomplete", "off")
        self.widget.attrs.setdefault("inputmode", "numeric")

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value in self.empty_values:
            return ""
        try:
            return personnummer.normalise(value)
        except personnummer.PersonnummerError as exc:
            raise ValidationError(PERSONNUMMER_MESSAGES[exc.code], code=exc.code) from exc
