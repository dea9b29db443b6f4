"""Forms for opening an invitation by its short code and for activating it."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from steg.accounts.models import User

from .forms import PersonnummerField
from .invitations import EMAIL_MAX_LENGTH, QUIT_DATE_DAYS_AHEAD


class InvitationCodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        help_text=gettext_lazy(
            "The code in your invitation: eight letters and digits, for example K7PM-Q2XR."
        ),
        error_messages={"required": gettext_lazy("Enter the code from your invitation.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "input--code",
            }
        ),
    )


class ActivationForm(forms.Form):
    """What the patient gives on activation. The account fields (the identity number, e-mail
    address and password) only when one is to be made with a password."""

    personnummer = PersonnummerField(
        label=gettext_lazy("Your personal identity number"),
        help_text=gettext_lazy(
            "So that we know the invitation has reached the right person: an invitation can "
            "end up with someone else if an address or phone number was mistyped. 12 digits, "
            "for example 19121212-1212."
        ),
        error_messages={"required": gettext_lazy("Enter your personal identity number.")},
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"),
        help_text=gettext_lazy("You log in with this address."),
        # User.email is varchar(254): a longer address must be a form error, not a database one.
        max_length=EMAIL_MAX_LENGTH,
        error_messages={
            "required": gettext_lazy("Enter your e-mail address."),
            "invalid": gettext_lazy("Enter your e-mail address, for example name@example.com."),
            "max_length": gettext_lazy(
                "The e-mail address is too long: it can have at most %(limit_value)d "
                "characters (it has %(show_value)d)."
            ),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label=gettext_lazy("Choose a password"),
        strip=False,
        help_text=gettext_lazy(
            "At least 10 characters. Not only digits, not a common password, and not like "
            "your e-mail address."
        ),
        error_messages={"required": gettext_lazy("Choose a password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=gettext_lazy("Repeat the password"),
        strip=False,
        error_messages={"required": gettext_lazy("Repeat the password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    accept_terms = forms.BooleanField(
        label=gettext_lazy("I have read and accept the terms of use"),
        error_messages={"required": gettext_lazy("To start, you need to accept the terms of use.")},
    )
    consent = forms.BooleanField(
        label=gettext_lazy("I consent to digital treatment"),
        help_text=gettext_lazy(
            "You follow the programme here in Steg. What you write and answer is kept in your "
            "health record and read by the staff at your care unit who treat you."
        ),
        error_messages={
            "required": gettext_lazy("To start, you need to consent to digital treatment.")
        },
    )
    quit_date = forms.DateField(
        label=gettext_lazy("Quit date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": gettext_lazy("Choose your quit date.")},
    )

    def __init__(self, *args: Any, today: datetime.date, new_account: bool, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "activate-%s")
        super().__init__(*args, **kwargs)
        if not new_account:
            for name in ("personnummer", "email", "password1", "password2"):
                del self.fields[name]
        self.today = today
        self.latest = today + datetime.timedelta(days=QUIT_DATE_DAYS_AHEAD)
        field = self.fields["quit_date"]
        field.error_messages["invalid"] = _("Enter a real date, for example %(example)s.") % {
            "example": today.isoformat()
        }
        field.help_text = _(
            "The day you stop using tobacco: today or a day up to %(latest)s. You can change "
            "it later."
        ) % {"latest": date_format(self.latest, "j F Y")}
        field.widget.attrs.update(min=today.isoformat(), max=self.latest.isoformat())

    def clean_quit_date(self) -> datetime.date:
        value: datetime.date = self.cleaned_data["quit_date"]
        if value < self.today:
            raise forms.ValidationError(
                _("The quit date cannot be in the past. Choose today or a later day."),
                code="past",
            )
        if value > self.latest:
            raise forms.ValidationError(
                _("The quit date can be at most %(days)s days ahead. Choose %(latest)s or earlier.")
                % {"days": QUIT_DATE_DAYS_AHEAD, "latest": date_format(self.latest, "j F Y")},
                code="too_late",
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords are not the same."))
        elif password1:
            candidate = User(email=cleaned.get("email") or "")
            try:
                validate_password(password1, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
