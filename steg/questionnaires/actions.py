"""Saving a patient's answers: drafts, and submissions scored the moment they arrive.

Every write is one transaction and safe to repeat: a draft is an upsert, and a submission
repeated with the same form token returns the response already stored.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from steg.audit.actions import Actor, record_event
from steg.dashboard.attention import attention_changed_on_commit
from steg.programmes.models import ProgressEvent

from . import logic
from .definition import Answers, Questionnaire
from .models import Response

if TYPE_CHECKING:
    from steg.care.models import Enrolment


class AlreadySubmitted(Exception):
    """The response for that day has been submitted; it is final."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(f"response {response.pk} is already submitted")


def _locked_response(
    enrolment: Enrolment, questionnaire: Questionnaire, day: datetime.date, language: str
) -> Response:
    """The response row for the day, created as an empty draft if need be, locked."""
    now = timezone.now()
    lookup = {"enrolment": enrolment, "questionnaire_id": questionnaire.id, "day": day}
    response = Response.objects.select_for_update().filter(**lookup).first()
    if response is None:
        try:
            with transaction.atomic():
                response = Response.objects.create(
                    **lookup, language=language, created_at=now, updated_at=now
                )
        except IntegrityError:  # created by a concurrent request in the meantime
            response = Response.objects.select_for_update().get(**lookup)
    return response


@transaction.atomic
def save_draft(
    *,
    enrolment: Enrolment,
    questionnaire: Questionnaire,
    day: datetime.date,
    answers: Answers,
    language: str,
) -> Response:
    response = _locked_response(enrolment, questionnaire, day, language)
    if response.status == Response.Status.SUBMITTED:
        raise AlreadySubmitted(response)
    response.answers = logic.answers_to_json(questionnaire, answers)
    response.language = language
    response.updated_at = timezone.now()
    response.save(update_fields=["answers", "language", "updated_at"])
    return response


@transaction.atomic
def submit(
    *,
    enrolment: Enrolment,
    questionnaire: Questionnaire,
    day: datetime.date,
    answers: Answers,
    language: str,
    token: str,
    request: HttpRequest | None = None,
) -> Response:
    """Store and score the answers. The same form submitted again returns the same response."""
    response = _locked_response(enrolment, questionnaire, day, language)
    if response.status == Response.Status.SUBMITTED:
        if token and response.submission_token == token:
            return response
        raise AlreadySubmitted(response)
    now = timezone.now()
    result = logic.score(questionnaire, answers)
    response.answers = logic.answers_to_json(questionnaire, answers)
    response.score = None if result is None else logic.score_as_json(result)
    response.status = Response.Status.SUBMITTED
    response.language = language
    response.updated_at = response.submitted_at = now
    response.submission_token = token[:64]
    response.save()
    ProgressEvent.objects.create(
        enrolment=enrolment,
        kind=ProgressEvent.Kind.QUESTIONNAIRE_SUBMITTED,
        subject=f"{questionnaire.id}:{day.isoformat()}",
        created_at=now,
    )
    attention_changed_on_commit(enrolment.pk)
    record_event(
        action="questionnaires.response.submitted",
        actor=Actor(
            request.user if request else enrolment.patient.user,  # type: ignore[arg-type]
            "patient",
            enrolment.unit,
        ),
        request=request,
        patient=enrolment.patient,
        object_type="questionnaires.response",
        object_id=response.pk,
        purpose="self-service",
        detail={
            "questionnaire": questionnaire.id,
            "day": day.isoformat(),
            "band": result.band.key if result and result.band else None,
            "flags": [flag.key for flag in result.flags] if result else [],
        },
    )
    return response
