"""The patient's quit date."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# How far from today a quit date may be set: a recent day that has already begun, or a day
# to prepare for.
DAYS_BACK = 30
DAYS_AHEAD = 90


class QuitDateForm(forms.Form):
    quit_date = forms.DateField(
        label=gettext_lazy("Quit date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": gettext_lazy("Choose your quit date.")},
    )

    def __init__(self, *args: Any, today: datetime.date, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "quit-date-%s")
        super().__init__(*args, **kwargs)
        self.today = today
        self.earliest = today - datetime.timedelta(days=DAYS_BACK)
        self.latest = today + datetime.timedelta(days=DAYS_AHEAD)
        field = self.fields["quit_date"]
        field.error_messages["invalid"] = _("Enter a real date, for example %(example)s.") % {
            "example": today.isoformat()
        }
        field.help_text = _(
            "Choose a day from %(earliest)s to %(latest)s: at most %(back)s days back and "
            "%(ahead)s days ahead."
        ) % {
            "earliest": date_format(self.earliest, "j F Y"),
            "latest": date_format(self.latest, "j F Y"),
            "back": DAYS_BACK,
            "ahead": DAYS_AHEAD,
        }
        field.widget.attrs.update(min=self.earliest.isoformat(), max=self.latest.isoformat())

    def clean_quit_date(self) -> datetime.date:
        value: datetime.date = self.cleaned_data["quit_date"]
        if value < self.earliest:
            raise forms.ValidationError(
                _("The quit date can be at most %(days)s days back. Choose %(earliest)s or later.")
                % {"days": DAYS_BACK, "earliest": date_format(self.earliest, "j F Y")},
                code="too_early",
            )
        if value > self.latest:
            raise forms.ValidationError(
                _("The quit date can be at most %(days)s days ahead. Choose %(latest)s or earlier.")
                % {"days": DAYS_AHEAD, "latest": date_format(self.latest, "j F Y")},
                code="too_late",
            )
        return value
