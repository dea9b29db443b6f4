"""Forms of the conversation pages, the feedback page, internal notes and message templates.

Each form checks what it can on its own; the actions in `steg.dialog.messages` check again
(and store nothing when they refuse).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from steg.programmes.models import Programme, ProgrammeVersion

from . import messages as dialog
from .models import InternalNote, Message, MessageTemplate


def _checked_body(text: str, *, note: bool = False) -> str:
    try:
        return dialog.clean_body(text, note=note)
    except dialog.MessageError as error:
        raise forms.ValidationError(str(error.message), code=error.code) from error


class MessageForm(forms.Form):
    """A message from the patient, or the text part of one from staff."""

    body = forms.CharField(
        label=_("Your message"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    # The form's one-time token: a second send of the same form stores nothing new.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    max_length = Message.MAX_LENGTH

    def clean_body(self) -> str:
        return _checked_body(str(self.cleaned_data.get("body") or ""))


class StaffMessageForm(MessageForm):
    """A message from staff: the text, and optionally what it is feedback on."""

    link = forms.CharField(label=_("Feedback on"), required=False, widget=forms.Select)

    def __init__(
        self,
        *args: Any,
        targets: Sequence[dialog.FeedbackTarget] = (),
        enrolment: Any = None,
        language: str = "sv",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].label = _("Message to the patient")
        self.enrolment = enrolment
        self.language = language
        self.target: dialog.FeedbackTarget | None = None
        choices: list[tuple[str, str | Promise]] = [("", _("Nothing: an ordinary message"))]
        choices += [(t.value, t.title) for t in targets]
        # Keep a chosen value that is not among the latest (its check is in clean_link).
        chosen = self["link"].value()
        if chosen and chosen not in {value for value, _label in choices}:
            choices.append((str(chosen), str(chosen)))
        self.fields["link"].widget.choices = choices

    def clean_link(self) -> str:
        value = str(self.cleaned_data.get("link") or "").strip()
        if not value:
            return ""
        parsed = dialog.parse_link(value)
        target = (
            dialog.feedback_target(self.enrolment, *parsed, language=self.language)
            if parsed and self.enrolment is not None
            else None
        )
        if target is None:
            raise forms.ValidationError(dialog.FEEDBACK_REFUSED, code="link")
        self.target = target
        return value


class TemplatePickForm(forms.Form):
    """Which of the unit's templates to start a message from."""

    template = forms.ModelChoiceField(
        label=_("Start from a template"),
        queryset=MessageTemplate.objects.none(),
        required=False,
        empty_label=_("No template"),
    )

    def __init__(self, *args: Any, templates: QuerySet[MessageTemplate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["template"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = templates


class DraftForm(forms.Form):
    """What an htmx autosave sends: the text being written, and what it is feedback on."""

    body = forms.CharField(required=False, strip=False)
    link = forms.CharField(required=False, max_length=250)
    token = forms.CharField(required=False, max_length=64)

    def clean_link(self) -> tuple[str, str]:
        value = str(self.cleaned_data.get("link") or "")
        if not value:
            return ("", "")
        parsed = dialog.parse_link(value)
        if parsed is None:
            raise forms.ValidationError("Unknown link", code="link")
        return parsed


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("New note"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Only the care team sees internal notes: never the patient. A note cannot be "
            "changed once saved."
        ),
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    max_length = InternalNote.MAX_LENGTH

    def clean_body(self) -> str:
        return _checked_body(str(self.cleaned_data.get("body") or ""), note=True)


def programme_choices() -> list[tuple[int, str]]:
    """Every programme, by the title of its latest version (one query)."""
    latest: dict[int, str] = {}
    for programme_id, titles in ProgrammeVersion.objects.order_by(
        "programme_id", "-number"
    ).values_list("programme_id", "titles"):
        if programme_id not in latest:
            latest[programme_id] = str(titles.get("sv") or next(iter(titles.values()), ""))
    return sorted(latest.items(), key=lambda item: item[1])


class TemplateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    programme = forms.TypedChoiceField(
        label=_("For"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("A template for one programme is offered only in its conversations."),
    )
    body = forms.CharField(
        label=_("Text"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    is_active = forms.BooleanField(
        label=_("In use (offered when writing a message)"), required=False, initial=True
    )

    def __init__(self, *args: Any, programmes: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["programme"]
        assert isinstance(field, forms.TypedChoiceField)  # noqa: S101
        field.choices = [("", _("Every programme")), *programmes]

    def clean_body(self) -> str:
        try:
            return dialog.check_template_body(str(self.cleaned_data.get("body") or ""))
        except dialog.MessageError as error:
            raise forms.ValidationError(str(error.message), code=error.code) from error

    def cleaned_programme(self) -> Programme | None:
        programme_id = self.cleaned_data.get("programme")
        return Programme.objects.filter(pk=programme_id).first() if programme_id else None
