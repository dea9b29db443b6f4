"""The therapist's overview of one treatment (issue #7): who the patient is and where they
stand, their progress per step, scores and diary charts, their answers with the feedback given,
and a timeline of what has happened, with quick actions to write, give feedback, open a step,
book a meeting or pause the treatment.

The enrolment is reached through ``get_enrolment_for_staff``, which refuses (404) anyone
without a care relation and records the read (``care.enrolment.viewed``) or the refusal.

The page costs a fixed number of queries, whatever the patient's history: the access check, the
progress (two, see ``load_progress``), the responses (one: the latest, and the latest score of
each questionnaire), the charts (one), the messages (one: the timeline's and the feedback on the
answers shown), the meetings (one: booked, held and the next), the patient's account and the
therapist (one), the last reported tobacco use (one, with a quit date), the rest of the timeline
(three) and the automatic support (three: open rule flags, rules fired lately, rules
scheduled next). See ``overview.py`` and docs/dashboard.md.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from steg.care.access import get_enrolment_for_staff
from steg.care.models import Enrolment
from steg.programmes.outline import get_outline
from steg.programmes.progress import load_progress
from steg.questionnaires.loader import questionnaires_of
from steg.tobacco.overview import tobacco_free_days

from . import overview as data


class TimelineCursorForm(forms.Form):
    """``?before=``: show the timeline entries older than this time (an ISO 8601 time)."""

    before = forms.DateTimeField(required=False)


def _url(name: str, *args: object, query: Mapping[str, str] | None = None) -> str:
    """The URL, or "" while the page does not exist (the dialog pages come with their issue)."""
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(query)}" if query else url


def _more_url(overview_url: str, before: datetime.datetime | None) -> str:
    if before is None:
        return ""
    return f"{overview_url}?{urlencode({'before': before.astimezone(datetime.UTC).isoformat()})}"


# A link key that ``reverse`` puts in a URL as it is (no quoting, no dot segments).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


def _feedback_urls(enrolment_id: int, messages_url: str) -> Callable[[str, str], str]:
    """``feedback_url(link kind, link key)``: the page to give feedback on one answer; the
    conversation (with the answer named) where there is no such page. The page's address is
    reversed once per kind and the key appended to it (reversed for a key it would quote)."""
    # Per kind: the address up to the key; "" to reverse every key; None for no such page.
    prefixes: dict[str, str | None] = {}

    def reversed_url(kind: str, key: str) -> str | None:
        try:
            return reverse("dialog:feedback", args=[enrolment_id, kind, key])
        except NoReverseMatch:
            return None

    def feedback_url(kind: str, key: str) -> str:
        if kind not in prefixes:
            url = reversed_url(kind, "key")
            prefixes[kind] = (
                None if url is None else url[: -len("key/")] if url.endswith("/key/") else ""
            )
        prefix = prefixes[kind]
        url = None
        if prefix is not None:
            plain = prefix and _PLAIN_KEY.fullmatch(key)
            url = f"{prefix}{key}/" if plain else reversed_url(kind, key)
        if url is not None:
            return url
        return f"{messages_url}?{urlencode({'link': f'{kind}:{key}'})}" if messages_url else ""

    return feedback_url


def _open_step_url(enrolment_id: int) -> tuple[str, str]:
    """The address of the form that opens a locked step, around the step's key (a slug)."""
    prefix, _key, suffix = reverse(
        "programmes:open_step", args=[enrolment_id, "step-key"]
    ).rpartition("step-key")
    return prefix, suffix


@login_required
@require_GET
def overview(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_staff(request, enrolment_id, purpose="care")
    patient = enrolment.patient
    language = get_language() or "sv"
    now = timezone.now()
    cursor = TimelineCursorForm(request.GET)
    before = cursor.cleaned_data["before"] if cursor.is_valid() else None

    version = enrolment.programme_version
    outline = get_outline(version, language)
    pages = data.exercise_pages(outline)
    questionnaires = questionnaires_of(version)
    started = enrolment.status != Enrolment.Status.INVITED
    progress = load_progress(enrolment, outline, now) if started else None
    messages_url = _url("dialog:staff_messages", enrolment.pk)

    # The reads, each shared by the sections that need it.
    responses = data.submitted_responses(enrolment, questionnaires)
    shown = data.shown_answers(progress, responses)
    messages = data.messages(
        enrolment,
        exercise_keys=shown.exercise_keys,
        response_keys=shown.response_keys,
        before=before,
    )
    meetings = data.meetings(enrolment, before=before, now=now)
    account = data.people(enrolment, patient)

    answers = data.answers(
        shown,
        messages.feedback,
        pages,
        questionnaires,
        language,
        feedback_url=_feedback_urls(enrolment.pk, messages_url),
    )
    timeline, next_before = data.timeline(
        enrolment,
        outline,
        pages,
        questionnaires,
        language,
        messages=messages,
        meetings=meetings,
        before=before,
    )
    overview_url = reverse("dashboard:overview", args=[enrolment.pk])
    open_step_prefix, open_step_suffix = _open_step_url(enrolment.pk)
    context = {
        "enrolment": enrolment,
        "patient": patient,
        "account": account,
        "progress": progress,
        "locked_steps": [s for s in progress.steps if not s.unlocked]
        if progress and enrolment.is_open
        else [],
        "tobacco_free": tobacco_free_days(enrolment, timezone.localdate(now)),
        "next_meeting": meetings.next,
        "sections": data.score_sections(enrolment, questionnaires, language, responses=responses),
        "answers": answers,
        "timeline": timeline,
        "automation": data.automation(enrolment, language),
        "before": before,
        "more_url": _more_url(overview_url, next_before),
        "overview_url": overview_url,
        "write_url": messages_url,
        "notes_url": _url("dialog:notes", enrolment.pk),
        "book_url": _url("care:meeting_new", patient.pk, query={"enrolment": str(enrolment.pk)}),
        "manage_url": reverse("care:enrolment_manage", args=[enrolment.pk]),
        "record_url": reverse("care:patient_record", args=[patient.pk]),
        "open_step_prefix": open_step_prefix,
        "open_step_suffix": open_step_suffix,
    }
    return render(request, "dashboard/overview.html", context)
