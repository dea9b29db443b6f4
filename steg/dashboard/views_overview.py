"""The therapist's overview of one treatment (issue #7): who the patient is and where they
stand, their progress per step, scores and diary charts, their answers with the feedback given,
and a timeline of what has happened, with quick actions to write, give feedback, open a step,
book a meeting or pause the treatment.

The enrolment is reached through ``get_enrolment_for_staff``, which refuses (404) anyone
without a care relation and records the read (``care.enrolment.viewed``) or the refusal.

The page costs a fixed number of queries, whatever the patient's history: the access check, the
progress (four, see ``load_progress``), the scores and charts (two), the answers with their
feedback (two), the next meeting (one), the patient's account (one), the last reported tobacco
use (one, with a quit date), the timeline (six) and the automatic support (three: open rule
flags, rules fired lately, rules scheduled next). See ``overview.py`` and docs/dashboard.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
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


@login_required
@require_GET
def overview(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_staff(request, enrolment_id, purpose="care")
    patient = enrolment.patient
    language = get_language() or "sv"
    now = timezone.now()
    cursor = TimelineCursorForm(request.GET)
    before = cursor.cleaned_data["before"] if cursor.is_valid() else None

    outline = get_outline(enrolment.programme_version, language)
    questionnaires = questionnaires_of(enrolment.programme_version)
    started = enrolment.status != Enrolment.Status.INVITED
    progress = load_progress(enrolment, outline, now) if started else None
    messages_url = _url("dialog:staff_messages", enrolment.pk)

    def feedback_url(kind: str, key: str) -> str:
        """The page to give feedback on one answer; the conversation (with the answer named)
        where there is no such page."""
        try:
            return reverse("dialog:feedback", args=[enrolment.pk, kind, key])
        except NoReverseMatch:
            return f"{messages_url}?{urlencode({'link': f'{kind}:{key}'})}" if messages_url else ""

    answers = data.answers(
        enrolment, outline, progress, questionnaires, language, feedback_url=feedback_url
    )
    timeline, next_before = data.timeline(
        enrolment, outline, questionnaires, language, before=before, now=now
    )
    overview_url = reverse("dashboard:overview", args=[enrolment.pk])
    context = {
        "enrolment": enrolment,
        "patient": patient,
        "account": patient.user if patient.user_id else None,
        "progress": progress,
        "locked_steps": [s for s in progress.steps if not s.unlocked]
        if progress and enrolment.is_open
        else [],
        "tobacco_free": tobacco_free_days(enrolment, timezone.localdate(now)),
        "next_meeting": data.next_meeting(enrolment, now),
        "sections": data.score_sections(enrolment, questionnaires, language),
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
    }
    return render(request, "dashboard/overview.html", context)
