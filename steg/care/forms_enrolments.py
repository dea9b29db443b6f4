"""Forms for enrolling a patient and for the treatment's lifecycle (staff)."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from steg.accounts.models import User
from steg.programmes.models import ProgrammeVersion
from steg.tobacco.forms import DAYS_AHEAD, DAYS_BACK

from .models import Enrolment


class TherapistChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.email


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        from django.utils.translation import get_language

        return _("%(title)s, version %(number)s") % {
            "title": obj.title(get_language() or "sv"),
            "number": obj.number,
        }


class EnrolForm(forms.Form):
    version = VersionChoiceField(
        label=gettext_lazy("Programme version"),
        queryset=ProgrammeVersion.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": gettext_lazy("Choose a version of the programme chosen at the talk.")
        },
    )
    therapist = TherapistChoiceField(
        label=gettext_lazy("Therapist"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("Nobody yet"),
        error_messages={
            "invalid_choice": gettext_lazy("Choose a therapist who works at this unit.")
        },
    )
    quit_date = forms.DateField(
        label=gettext_lazy("Proposed quit date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Optional. The patient confirms or changes it on activation."),
    )

    def __init__(
        self,
        *args: Any,
        versions: QuerySet[ProgrammeVersion],
        therapists: QuerySet[User],
        today: datetime.date,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        version_field = self.fields["version"]
        assert isinstance(version_field, forms.ModelChoiceField)  # noqa: S101
        version_field.queryset = versions
        therapist_field = self.fields["therapist"]
        assert isinstance(therapist_field, forms.ModelChoiceField)  # noqa: S101
        therapist_field.queryset = therapists
        self.fields["quit_date"].error_messages["invalid"] = _(
            "Enter a real date, for example %(example)s."
        ) % {"example": today.isoformat()}

    def clean_quit_date(self) -> datetime.date | None:
        value: datetime.date | None = self.cleaned_data.get("quit_date")
        if value is None:
            return None
        earliest = self.today - datetime.timedelta(days=DAYS_BACK)
        latest = self.today + datetime.timedelta(days=DAYS_AHEAD)
        if not earliest <= value <= latest:
            raise forms.ValidationError(
                _("Choose a quit date from %(earliest)s to %(latest)s.")
                % {
                    "earliest": date_format(earliest, "j F Y"),
                    "latest": date_format(latest, "j F Y"),
                },
                code="range",
            )
        return value


STATUS_ACTIONS: dict[str, Any] = {
    Enrolment.Status.PAUSED: gettext_lazy("Pause"),
    Enrolment.Status.ACTIVE: gettext_lazy("Resume"),
    Enrolment.Status.COMPLETED: gettext_lazy("Complete"),
    Enrolment.Status.DISCONTINUED: gettext_lazy("Discontinue"),
}


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("New status"),
        choices=list(STATUS_ACTIONS.items()),
        error_messages={"invalid_choice": gettext_lazy("Choose what to do with the treatment.")},
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Required to pause or discontinue. The patient does not see it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "status-%s")
        super().__init__(*args, **kwargs)


class HandoverForm(forms.Form):
    therapist = TherapistChoiceField(
        label=gettext_lazy("Therapist"),
        queryset=User.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": gettext_lazy("Choose a therapist who works at this unit.")
        },
    )
    reason = forms.CharField(
        label=gettext_lazy("Note for the handover"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, therapists: QuerySet[User], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "handover-%s")
        super().__init__(*args, **kwargs)
        field = self.fields["therapist"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = therapists


class GuidanceForm(forms.Form):
    guidance = forms.ChoiceField(
        label=gettext_lazy("Form of treatment"),
        choices=[
            ("guided", gettext_lazy("Guided: a therapist follows and answers the patient")),
            ("self_help", gettext_lazy("Self-help: the patient works on their own")),
        ],
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": gettext_lazy("Choose guided or self-help.")},
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "guidance-%s")
        super().__init__(*args, **kwargs)
