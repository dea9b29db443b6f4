"""Links in long lists, reversed once a page instead of once a row."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

_SLOT = "2147483647"


def url_for_id(name: str) -> Callable[[int], str]:
    """The URL named `name` (with one integer argument) for any id: reversed once, then each
    row's id put in its place. A `{% url %}` or `reverse()` a row was a visible part of the
    time of the dashboard's and the referral inbox's pages (issue #9)."""
    head, _slot, tail = reverse(name, args=[_SLOT]).rpartition(_SLOT)
    return lambda pk: f"{head}{int(pk)}{tail}"
