"""Forms for booking and moving meetings (staff) and for asking to move one (the patient).

Staff enter the time as a date and a time of day in Swedish time (Europe/Stockholm); the form
turns them into an aware datetime, and says so clearly when the time does not exist because
the clocks go forward that night. The date must be from today to two years ahead
(`meetings.bookable_days`), checked before any conversion (so that no date overflows).
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from steg.accounts.models import Unit, User

from .meetings import RESCHEDULE_MESSAGE_MAX_LENGTH, bookable_days, out_of_range_message
from .models import MeetingMode

DURATIONS = (15, 30, 45, 60, 90)
DEFAULT_DURATION = 30

# Where the errors of `steg.care.meetings` belong in these forms.
FIELD_FOR_ERROR = {"starts_at": "date", "duration_minutes": "duration"}


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def aware_local(date: datetime.date, time: datetime.time) -> datetime.datetime | None:
    """The date and time of day in Swedish time, or None when that time does not exist (the
    hour skipped when the clocks go forward). A time that happens twice (when the clocks go
    back) is taken as the first one."""
    zone = local_zone()
    naive = datetime.datetime.combine(date, time.replace(second=0, microsecond=0))
    aware = naive.replace(tzinfo=zone)
    if aware.astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return aware


def _duration_label(minutes: int) -> str:
    return _("%(minutes)s minutes") % {"minutes": minutes}


class TherapistChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.email


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class MeetingTimeForm(forms.Form):
    """When and how a meeting is held: shared by booking and moving."""

    date = forms.DateField(
        label=gettext_lazy("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": gettext_lazy("Choose the day of the meeting.")},
    )
    time = forms.TimeField(
        label=gettext_lazy("Time (Swedish time)"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M", "%H:%M:%S", "%H.%M"],
        error_messages={
            "required": gettext_lazy("Choose the time the meeting starts."),
            "invalid": gettext_lazy("Write the time as hours and minutes, for example 14:30."),
        },
    )
    duration = forms.TypedChoiceField(
        label=gettext_lazy("Length"),
        coerce=int,
        choices=(),
        error_messages={"invalid_choice": gettext_lazy("Choose how long the meeting lasts.")},
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("How the meeting is held"),
        choices=MeetingMode.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose how the meeting is held."),
            "invalid_choice": gettext_lazy("Choose how the meeting is held."),
        },
    )
    place = forms.CharField(
        label=gettext_lazy("Place"),
        required=False,
        max_length=300,
        help_text=gettext_lazy(
            "For a meeting in person: the address and room. The patient sees it, also in their "
            "calendar: write where, not what the meeting is about."
        ),
    )
    video_url = forms.URLField(
        label=gettext_lazy("Video link"),
        required=False,
        max_length=500,
        assume_scheme="https",
        error_messages={
            "invalid": gettext_lazy(
                "The video link must be a full web address beginning with https://."
            )
        },
    )

    def __init__(self, *args: Any, duration: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "meeting-%s")
        super().__init__(*args, **kwargs)
        durations = sorted({*DURATIONS, *([duration] if duration else [])})
        duration_field = self.fields["duration"]
        assert isinstance(duration_field, forms.TypedChoiceField)  # noqa: S101
        duration_field.choices = [(minutes, _duration_label(minutes)) for minutes in durations]
        first, last = bookable_days()
        self.fields["date"].widget.attrs.update(
            {"min": first.strftime("%Y-%m-%d"), "max": last.strftime("%Y-%m-%d")}
        )
        if settings.STEG_VIDEO_URL_TEMPLATE:
            self.fields["video_url"].help_text = _(
                "For a video meeting. Leave it empty and Steg creates a link to a new video room."
            )
        else:
            self.fields["video_url"].help_text = _(
                "For a video meeting: paste the link to the video room, beginning with https://."
            )

    def clean_date(self) -> datetime.date:
        """From today to two years ahead: refused here, before `clean` converts it to a time."""
        date: datetime.date = self.cleaned_data["date"]
        first, last = bookable_days()
        if not first <= date <= last:
            raise forms.ValidationError(out_of_range_message(first, last), code="out_of_range")
        return date

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date = cleaned.get("date")
        time = cleaned.get("time")
        if date is not None and time is not None:
            starts_at = aware_local(date, time)
            if starts_at is None:
                self.add_error(
                    "time",
                    _(
                        "On %(date)s the clocks go forward an hour, so %(time)s does not exist "
                        "that day in Swedish time. Choose another time."
                    )
                    % {"date": date_format(date, "j F Y"), "time": time.strftime("%H:%M")},
                )
            else:
                cleaned["starts_at"] = starts_at
        return cleaned

    @staticmethod
    def initial_for(meeting: Any) -> dict[str, Any]:
        local = meeting.starts_at.astimezone(local_zone())
        return {
            "date": local.date(),
            "time": local.time().replace(second=0, microsecond=0),
            "duration": meeting.duration_minutes,
            "mode": meeting.mode,
            "place": meeting.place,
            "video_url": meeting.video_url,
        }


class BookMeetingForm(MeetingTimeForm):
    """A new meeting: also who holds it, and for which unit when there is a choice."""

    unit = UnitChoiceField(
        label=gettext_lazy("Unit"),
        queryset=Unit.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": gettext_lazy("Choose one of your units.")},
    )
    therapist = TherapistChoiceField(
        label=gettext_lazy("Therapist"),
        queryset=User.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": gettext_lazy("Choose a therapist who works at this unit.")
        },
    )

    field_order = ["unit", "therapist", "date", "time", "duration", "mode", "place", "video_url"]

    def __init__(
        self,
        *args: Any,
        units: QuerySet[Unit],
        therapists: QuerySet[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        unit_field = self.fields["unit"]
        assert isinstance(unit_field, forms.ModelChoiceField)  # noqa: S101
        unit_field.queryset = units
        # One unit: fixed, shown as text (the template uses `fixed_unit`).
        self.fixed_unit = units.first() if units.count() == 1 else None
        if self.fixed_unit is not None:
            unit_field.widget = forms.HiddenInput()
            unit_field.initial = self.fixed_unit.pk
        therapist_field = self.fields["therapist"]
        assert isinstance(therapist_field, forms.ModelChoiceField)  # noqa: S101
        therapist_field.queryset = therapists


class CancelMeetingForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (for the record; the patient does not see it)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "cancel-%s")
        super().__init__(*args, **kwargs)


class RescheduleRequestForm(forms.Form):
    message = forms.CharField(
        label=gettext_lazy("Which days and times would suit you better?"),
        max_length=RESCHEDULE_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy(
            "For example: “Tuesdays or Thursdays after 15:00”. Your therapist gets a message "
            "and books a new time. Until then, the meeting stays as it is."
        ),
        error_messages={
            "required": gettext_lazy("Write which days and times would suit you better."),
            "max_length": gettext_lazy(
                "Write at most %(limit_value)d characters (you wrote %(show_value)d)."
            ),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "reschedule-%s")
        super().__init__(*args, **kwargs)
