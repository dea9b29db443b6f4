from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from steg.accounts.models import Unit
from steg.care.forms import PersonnummerField


class AuditFilterForm(forms.Form):
    patient = PersonnummerField(required=False, label=_("Patient (personal identity number)"))
    actor = forms.EmailField(required=False, label=_("Staff member or user (e-mail)"))
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.none(), required=False, label=_("Care unit"), empty_label=_("All")
    )
    action = forms.CharField(
        required=False,
        max_length=100,
        label=_("Action"),
        help_text=_("The beginning of an action code, e.g. care.patient"),
    )
    date_from = forms.DateField(
        required=False, label=_("From date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=_("To date"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, units: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date must not be before the start date."))
        return cleaned
