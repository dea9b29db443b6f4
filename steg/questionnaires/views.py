"""The patient's questionnaires: fill in (with drafts and enableWhen), result, measurements."""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from steg.audit.actions import Actor, record_event
from steg.care.access import get_enrolment_for_patient
from steg.care.models import Enrolment
from steg.dialog.messages import feedback_for

from . import actions, logic, measurements
from .definition import Answers, Questionnaire
from .due import (
    done_days_by_questionnaire,
    due_for_enrolment,
    fillable_now,
    hidden_questionnaires,
    is_fillable_day,
    requested_days_by_questionnaire,
)
from .loader import get_questionnaire
from .models import Response
from .render import build_fields, flatten, text_in

logger = logging.getLogger(__name__)


def _go(request: HttpRequest, to: str, *args: Any, **kwargs: Any) -> HttpResponse:
    """Redirect; an htmx request (answering as they go) is sent on as a whole page."""
    url = to if "/" in to else reverse(to, args=args, kwargs=kwargs)
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _language() -> str:
    return get_language() or "sv"


def _questionnaire(
    request: HttpRequest, enrolment: Enrolment, questionnaire_id: str
) -> Questionnaire:
    questionnaire = get_questionnaire(enrolment.programme_version, questionnaire_id)
    if questionnaire is None:
        record_event(
            action="questionnaires.access_denied",
            actor=Actor(request.user, "patient", enrolment.unit),  # type: ignore[arg-type]
            request=request,
            patient=enrolment.patient,
            object_type="questionnaires.questionnaire",
            object_id=questionnaire_id[:64],
            purpose="self-service",
            detail={"enrolment": enrolment.pk, "reason": "not in this version"},
        )
        raise Http404("No such questionnaire")
    return questionnaire


def _parse_day(raw: str | None) -> datetime.date | None:
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        return None


def _form_context(
    request: HttpRequest,
    enrolment: Enrolment,
    questionnaire: Questionnaire,
    day: datetime.date,
    values: dict[str, list[str]],
    errors: dict[str, str],
    *,
    token: str,
    saved_at: datetime.datetime | None = None,
) -> dict[str, Any]:
    language = _language()
    answers = logic.validate(questionnaire, values, language, for_submit=False).answers
    enabled = logic.enabled_items(questionnaire, answers)
    values = _with_initial(questionnaire, values, enabled)
    fields = build_fields(questionnaire, language, values, errors, enabled)
    return {
        "enrolment": enrolment,
        "questionnaire": questionnaire,
        "title": text_in(questionnaire.title, language),
        "description": text_in(questionnaire.description, language)
        if questionnaire.description
        else "",
        "day": day,
        "is_today": day == timezone.localdate(),
        "fields": fields,
        "error_fields": [f for f in flatten(fields) if f.error],
        "token": token,
        "saved_at": saved_at,
        "writable": enrolment.status == Enrolment.Status.ACTIVE,
        "action_url": reverse("questionnaires:fill", args=[enrolment.pk, questionnaire.id])
        + f"?day={day.isoformat()}",
    }


def _result_url(enrolment: Enrolment, questionnaire: Questionnaire, day: datetime.date) -> str:
    return reverse("questionnaires:result", args=[enrolment.pk, questionnaire.id, day.isoformat()])


@login_required
@require_http_methods(["GET", "POST"])
def fill(request: HttpRequest, enrolment_id: int, questionnaire_id: str) -> HttpResponse:
    enrolment = get_enrolment_for_patient(request, enrolment_id)
    questionnaire = _questionnaire(request, enrolment, questionnaire_id)
    if questionnaire.id in hidden_questionnaires(enrolment, _language()):
        # Only in content not shown to this patient (a smoker's test for a snus user): not
        # theirs to fill in, even from an old link. Earlier answers stay readable.
        messages.info(request, _("This questionnaire is not part of your treatment."))
        return _go(request, "questionnaires:list", enrolment_id=enrolment.pk)
    today = timezone.localdate()
    asked = request.GET.get("day")
    day = _parse_day(asked)
    if day is None:
        if asked:
            messages.error(request, _("That date could not be read. Choose a day from the list."))
            return _go(request, "questionnaires:list", enrolment_id=enrolment.pk)
        key = (enrolment.pk, questionnaire.id)
        done = done_days_by_questionnaire([enrolment]).get(key, set())
        requested = requested_days_by_questionnaire([enrolment], today).get(key, set())
        days = fillable_now(questionnaire, enrolment, today, done, requested)
        if not days:
            latest = max(done, default=None)
            if latest is not None:
                return _go(request, _result_url(enrolment, questionnaire, latest))
            messages.info(request, _("This questionnaire is not open to fill in yet."))
            return _go(request, "questionnaires:list", enrolment_id=enrolment.pk)
        day = days[0]
    elif not is_fillable_day(questionnaire, enrolment, day, today):
        messages.error(
            request,
            _("You cannot fill this in for %(day)s. Choose a day from the list.")
            % {"day": day.isoformat()},
        )
        return _go(request, "questionnaires:list", enrolment_id=enrolment.pk)
    existing = Response.objects.filter(
        enrolment=enrolment, questionnaire_id=questionnaire.id, day=day
    ).first()
    if request.method == "GET":
        if existing and existing.status == Response.Status.SUBMITTED:
            return _go(request, _result_url(enrolment, questionnaire, day))
        if existing:
            values = logic.answers_to_form(
                questionnaire, _stored_answers(questionnaire, existing.answers)
            )
        else:
            values = _initial_values(questionnaire)
        context = _form_context(
            request, enrolment, questionnaire, day, values, {}, token=uuid.uuid4().hex
        )
        return render(request, "questionnaires/fill.html", context)
    return _post(request, enrolment, questionnaire, day, existing)


def _stored_answers(questionnaire: Questionnaire, data: object) -> Answers:
    """Stored answers as values; what no longer fits the definition is left out (logged)."""
    try:
        return logic.answers_from_json(questionnaire, data)  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError):
        logger.warning("stored answers to %s do not fit the questionnaire", questionnaire.id)
        return {}


def _with_initial(
    questionnaire: Questionnaire, values: dict[str, list[str]], enabled: frozenset[str]
) -> dict[str, list[str]]:
    """A text or number question that has just appeared (nothing posted for it yet) gets its
    initial answer. Choices are left alone: an unticked choice posts nothing either."""
    missing = {
        item.link_id: item.initial
        for item in questionnaire.all_items()
        if item.initial
        and item.link_id in enabled
        and item.link_id not in values
        and item.type not in ("boolean", "choice", "open-choice")
    }
    if not missing:
        return values
    return {**logic.answers_to_form(questionnaire, missing), **values}


def _initial_values(questionnaire: Questionnaire) -> dict[str, list[str]]:
    initial = {i.link_id: i.initial for i in questionnaire.all_items() if i.initial}
    return logic.answers_to_form(questionnaire, initial)


def _post(
    request: HttpRequest,
    enrolment: Enrolment,
    questionnaire: Questionnaire,
    day: datetime.date,
    existing: Response | None,
) -> HttpResponse:
    language = _language()
    values = {
        key: request.POST.getlist(key)
        for key in request.POST
        if key not in ("csrfmiddlewaretoken", "token", "action")
    }
    token = request.POST.get("token", "")[:64]
    action = request.POST.get("action", "")
    is_htmx = bool(getattr(request, "htmx", False))
    if enrolment.status != Enrolment.Status.ACTIVE:
        text = _("This treatment is not active, so nothing can be changed.")
        messages.error(request, text)
        return _go(request, "questionnaires:list", enrolment_id=enrolment.pk)
    if existing and existing.status == Response.Status.SUBMITTED:
        if not (token and existing.submission_token == token):
            messages.info(request, _("You have already answered this. Here is your result."))
        return _go(request, _result_url(enrolment, questionnaire, day))
    submitting = action == "submit"
    validation = logic.validate(questionnaire, values, language, for_submit=submitting)
    if validation.errors:
        context = _form_context(
            request, enrolment, questionnaire, day, values, validation.errors, token=token
        )
        if is_htmx:
            # Answering as they go: follow-up questions appear or go, and a field's problem
            # shows by the field; nothing is saved until it is put right.
            return render(request, "questionnaires/fill.html#items", context)
        return render(request, "questionnaires/fill.html", context, status=422)
    if submitting:
        try:
            actions.submit(
                enrolment=enrolment,
                questionnaire=questionnaire,
                day=day,
                answers=validation.answers,
                language=language,
                token=token,
                request=request,
            )
        except actions.AlreadySubmitted:
            messages.info(request, _("You have already answered this. Here is your result."))
        return _go(request, _result_url(enrolment, questionnaire, day))
    try:
        actions.save_draft(
            enrolment=enrolment,
            questionnaire=questionnaire,
            day=day,
            answers=validation.answers,
            language=language,
        )
    except actions.AlreadySubmitted:
        return _go(request, _result_url(enrolment, questionnaire, day))
    if is_htmx:
        context = _form_context(
            request,
            enrolment,
            questionnaire,
            day,
            values,
            {},
            token=token,
            saved_at=timezone.localtime(),
        )
        return render(request, "questionnaires/fill.html#items", context)
    messages.success(request, _("Your answers are saved. You can come back and finish later."))
    fill_url = reverse("questionnaires:fill", args=[enrolment.pk, questionnaire.id])
    return redirect(f"{fill_url}?day={day.isoformat()}")


@login_required
@require_GET
def result(
    request: HttpRequest, enrolment_id: int, questionnaire_id: str, day: str
) -> HttpResponse:
    enrolment = get_enrolment_for_patient(request, enrolment_id)
    questionnaire = _questionnaire(request, enrolment, questionnaire_id)
    the_day = _parse_day(day)
    response = (
        Response.objects.filter(
            enrolment=enrolment,
            questionnaire_id=questionnaire.id,
            day=the_day,
            status=Response.Status.SUBMITTED,
        ).first()
        if the_day
        else None
    )
    if response is None:
        raise Http404("No such response")
    language = _language()
    answers = _stored_answers(questionnaire, response.answers)
    key = f"{questionnaire.id}/{response.day.isoformat()}"
    try:
        score = (
            logic.score_from_json(questionnaire, response.score)
            if response.score is not None
            else None
        )
    except ValueError:
        logger.warning("stored score of response %s does not fit its questionnaire", response.pk)
        score = None
    context = {
        "enrolment": enrolment,
        "questionnaire": questionnaire,
        "title": text_in(questionnaire.title, language),
        "response": response,
        "score": score,
        "band_title": text_in(score.band.title, language) if score and score.band else "",
        "feedback": text_in(score.band.feedback, language) if score and score.band else "",
        "summary": measurements.answer_summary(questionnaire, answers, language),
        "charted": measurements.has_series(questionnaire),
        # The care team's feedback on these answers (steg/dialog), shown next to them.
        "therapist_feedback": feedback_for(enrolment, "questionnaire", [key])[key],
    }
    return render(request, "questionnaires/result.html", context)


@login_required
@require_GET
def questionnaire_list(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_patient(request, enrolment_id)
    today = timezone.localdate()
    items = due_for_enrolment(enrolment, today, _language(), include_done=True)
    return render(
        request,
        "questionnaires/list.html",
        {"enrolment": enrolment, "items": items, "today": today},
    )


@login_required
@require_GET
def measurements_view(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_patient(request, enrolment_id)
    charts = measurements.charts_for(enrolment, _language())
    return render(
        request, "questionnaires/measurements.html", {"enrolment": enrolment, "charts": charts}
    )
