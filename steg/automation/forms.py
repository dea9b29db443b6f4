"""Forms of the automation pages: what a "Try again" button sends along."""

from __future__ import annotations

from django import forms


class RetryForm(forms.Form):
    """The page of the failures list to go back to after "Try again"."""

    page = forms.IntegerField(required=False, min_value=1)
