from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class ExerciseForm(forms.Form):
    text = forms.CharField(
        label=_("Your answer"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    action = forms.ChoiceField(
        choices=[("draft", "draft"), ("save", "save"), ("submit", "submit")], required=False
    )

    def __init__(self, *args: Any, max_length: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_length = max_length

    @property
    def submitting(self) -> bool:
        return self.data.get(self.add_prefix("action")) == "submit"

    def clean_text(self) -> str:
        text = str(self.cleaned_data.get("text") or "").replace("\r\n", "\n")
        if len(text) > self.max_length:
            raise forms.ValidationError(
                _(
                    "Your answer is %(length)s characters long. The limit is %(limit)s "
                    "characters: shorten it a little. Nothing has been lost."
                ),
                params={"length": len(text), "limit": self.max_length},
                code="too_long",
            )
        if self.submitting and not text.strip():
            raise forms.ValidationError(_("Write your answer before you send it."), code="empty")
        return text


class ChecklistForm(forms.Form):
    items = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = choices  # type: ignore[attr-defined]


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search in the programme"), max_length=200, required=False)


class PdfForm(forms.Form):
    steps = forms.MultipleChoiceField(
        label=_("Whole steps"), required=False, widget=forms.CheckboxSelectMultiple
    )
    pages = forms.MultipleChoiceField(
        label=_("Single pages"), required=False, widget=forms.CheckboxSelectMultiple
    )
    answers = forms.BooleanField(label=_("Include my answers"), required=False)
    everything = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        step_choices: list[tuple[str, str]],
        page_choices: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["steps"].choices = step_choices  # type: ignore[attr-defined]
        self.fields["pages"].choices = page_choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("everything") or cleaned.get("steps") or cleaned.get("pages")):
            raise forms.ValidationError(
                _("Choose at least one step or page to put in the PDF."), code="empty"
            )
        return cleaned
