"""Placeholders in message templates: ``{first_name}``, ``{quit_date}``, ``{days_tobacco_free}``
and ``{therapist_name}``, filled in for one enrolment.

The syntax looks like Python's ``str.format`` but is parsed here, never by ``str.format``: a
template is text written by staff, and ``format`` would let ``{x.__class__}`` and the like reach
into objects. Only the names in ``PLACEHOLDERS`` are allowed, with nothing after the name; a
literal brace is written twice, ``{{`` or ``}}``. See docs/messages.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    import datetime

    from django.utils.functional import Promise

    from steg.accounts.models import User
    from steg.care.models import Enrolment

# Each placeholder and what it stands for (shown to staff next to the template form).
PLACEHOLDERS: dict[str, Promise] = {
    "first_name": _("the patient's first name"),
    "quit_date": _("the quit date, written out in the patient's language (e.g. 5 March 2026)"),
    "days_tobacco_free": _("whole days since the quit date (0 before it)"),
    "therapist_name": _("the name of the patient's therapist"),
}

# `{{` and `}}` (a literal brace), a `{name}`, or a brace on its own.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def validate_placeholders(text: str) -> list[str]:
    """The placeholders in `text` that do not exist, as written (in order, each once).

    A single `{` or `}` that is not part of a placeholder counts as unknown too: it is most
    likely a typo, and would otherwise be sent as it stands.
    """
    unknown: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is not None and name in PLACEHOLDERS:
            continue
        if token not in unknown:
            unknown.append(token)
    return unknown


def render_template(template_body: str, enrolment: Enrolment, *, sender: User | None = None) -> str:
    """The template's text with the placeholders filled in for `enrolment`, in the patient's
    language (their account's, else Swedish). Unknown placeholders are left as written
    (templates are checked when they are saved, see `validate_placeholders`).

    `{therapist_name}` is the enrolment's therapist; without one, `sender` (who is writing).
    """
    language = _patient_language(enrolment)
    values: dict[str, Callable[[], str]] = {
        "first_name": lambda: enrolment.patient.first_name,
        "quit_date": lambda: _quit_date(enrolment.quit_date),
        "days_tobacco_free": lambda: _days_tobacco_free(enrolment.quit_date),
        "therapist_name": lambda: _therapist_name(enrolment, sender),
    }

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if found in ("{{", "}}"):
            return found[0]
        name = match.group(1)
        if name is not None and name in values:
            return values[name]()
        return found

    with translation.override(language):
        return _TOKEN.sub(replace, template_body)


def days_tobacco_free(quit_date: datetime.date | None, today: datetime.date | None = None) -> int:
    """Whole days since the quit date (Swedish time); 0 on the quit date, before it, or without
    one. Slips recorded in a diary do not reset it: it counts from the quit date as set."""
    if quit_date is None:
        return 0
    if today is None:
        today = timezone.localdate(timezone=timezone.get_default_timezone())
    return max((today - quit_date).days, 0)


def _patient_language(enrolment: Enrolment) -> str:
    user = enrolment.patient.user
    known = {code for code, _name in settings.LANGUAGES}
    if user is not None and user.language in known:
        return str(user.language)
    return str(settings.LANGUAGE_CODE)


def _quit_date(quit_date: datetime.date | None) -> str:
    if quit_date is None:
        return gettext("[no quit date set]")
    return date_format(quit_date, "j F Y")


def _days_tobacco_free(quit_date: datetime.date | None) -> str:
    if quit_date is None:
        return gettext("[no quit date set]")
    return str(days_tobacco_free(quit_date))


def _therapist_name(enrolment: Enrolment, sender: User | None) -> str:
    for user in (enrolment.therapist, sender):
        if user is not None and user.get_full_name():
            return user.get_full_name()
    return ""
