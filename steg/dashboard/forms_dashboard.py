"""The dashboard's choices in the query string: whose patients, which unit, which flag."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import FLAGS

MINE = "mine"
UNIT = "unit"


class DashboardForm(forms.Form):
    """GET parameters; anything invalid falls back to the default (my patients, no filter)."""

    scope = forms.ChoiceField(
        label=_("Show"),
        choices=[(MINE, _("My patients")), (UNIT, _("The unit's patients"))],
        required=False,
    )
    unit = forms.IntegerField(label=_("Unit"), required=False, min_value=1)
    flag = forms.ChoiceField(
        label=_("Needs attention"),
        choices=[("", _("All patients")), *((flag.key, flag.label) for flag in FLAGS)],
        required=False,
    )

    def value(self, name: str) -> str | int | None:
        """The valid value of a field, or None when it is missing or invalid."""
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name) or None
