"""url_for_id: one reverse a page, the same URLs as reverse() a row."""

from __future__ import annotations

from django.urls import reverse

from steg.core.links import url_for_id


def test_the_url_for_each_id_is_what_reverse_gives() -> None:
    link = url_for_id("dashboard:overview")
    for pk in (1, 7, 2147483647, 98765432109):
        assert link(pk) == reverse("dashboard:overview", args=[pk])
