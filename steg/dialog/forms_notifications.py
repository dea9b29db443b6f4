"""Forms for notification settings (everyone, for themselves) and for retrying a failed send."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

TIME_FORMATS = ["%H:%M", "%H:%M:%S", "%H.%M"]


def _time_field(label: str | _StrPromise) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=TIME_FORMATS,
        error_messages={
            "invalid": _("Write the time as hours and minutes, for example 22:00."),
        },
    )


class NotificationPreferenceForm(forms.Form):
    """Channels (each may be off, both too) and quiet hours (both times or neither)."""

    by_email = forms.BooleanField(label=_("By e-mail"), required=False)
    by_sms = forms.BooleanField(label=_("By SMS"), required=False)
    quiet_from = _time_field(_("Quiet from"))
    quiet_until = _time_field(_("Quiet until"))

    def __init__(self, *args: Any, email: str, phone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["by_email"].help_text = (
            _("To %(address)s.") % {"address": email}
            if email
            else _("Steg has no e-mail address for you. Your care unit can add one.")
        )
        self.fields["by_sms"].help_text = (
            _("To %(number)s.") % {"number": phone}
            if phone
            else _("Steg has no mobile number for you. Your care unit can add one.")
        )
        self.fields["quiet_from"].help_text = _("Swedish time, for example 22:00.")
        self.fields["quiet_until"].help_text = _("Swedish time, for example 07:00.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("quiet_from"), cleaned.get("quiet_until")
        if "quiet_from" in self.errors or "quiet_until" in self.errors:
            return cleaned
        if start is not None and end is None:
            self.add_error(
                "quiet_until",
                _("Give the time your quiet hours end too, or clear both times."),
            )
        elif end is not None and start is None:
            self.add_error(
                "quiet_from",
                _("Give the time your quiet hours start too, or clear both times."),
            )
        elif (
            start is not None
            and end is not None
            and start.replace(second=0, microsecond=0) == end.replace(second=0, microsecond=0)
        ):
            self.add_error(
                "quiet_until",
                _("Quiet hours must end at another time than they start."),
            )
        return cleaned


class RetryForm(forms.Form):
    """The list page to go back to after "Try again now"."""

    page = forms.IntegerField(required=False, min_value=1)
