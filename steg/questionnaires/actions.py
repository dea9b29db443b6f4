"""Saving a patient's answers: drafts, and submissions scored the moment they arrive; and
requests that make a questionnaire due for an enrolment.

Every write is one transaction and safe to repeat: a draft is an upsert, a submission
repeated with the same form token returns the response already stored, and a repeated request
for the same questionnaire and day adds nothing.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from steg.audit.actions import Actor, record_event
from steg.automation import engine as automation
from steg.dashboard.attention import attention_stale
from steg.programmes.models import ProgressEvent

from . import logic
from .definition import Answers, Questionnaire
from .loader import get_questionnaire
from .models import QuestionnaireRequest, Response

if TYPE_CHECKING:
    from steg.accounts.models import User
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
    attention_stale(enrolment.pk, activity_at=now)
    automation.record_event(
        enrolment,
        "questionnaire_submitted",
        questionnaire.id,
        occasion=f"response:{response.pk}",
        context={"response": response.pk},
    )
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


@transaction.atomic
def request_questionnaire(
    *,
    enrolment: Enrolment,
    questionnaire_id: str,
    day: datetime.date,
    rule: str = "",
    requested_by: User | None = None,
) -> bool:
    """Make the questionnaire due for the enrolment from ``day`` (a local date) on, whatever
    its schedule says, until a response for that day is submitted.

    ``rule`` is the key of the automation rule that asks, ``requested_by`` the member of staff.
    Returns True if the request was made; False if it had been made already, in which case
    nothing changes (safe for retries and concurrent callers: the unique constraint decides).
    Raises ValueError for a questionnaire the enrolment's programme version does not have.
    """
    if get_questionnaire(enrolment.programme_version, questionnaire_id) is None:
        raise ValueError(
            f"enrolment {enrolment.pk} has no questionnaire {questionnaire_id!r} in its programme"
        )
    # get_or_create creates in a savepoint and, on an IntegrityError (a concurrent request for
    # the same day), fetches the row that won, inside this transaction.
    request, created = QuestionnaireRequest.objects.get_or_create(
        enrolment=enrolment,
        questionnaire_id=questionnaire_id,
        day=day,
        defaults={"requested_at": timezone.now(), "rule": rule[:100], "requested_by": requested_by},
    )
    if not created:
        return False
    record_event(
        action="questionnaires.request.created",
        actor=(
            Actor(requested_by, "therapist", enrolment.unit)
            if requested_by is not None
            else Actor(None, "system", enrolment.unit)
        ),
        patient=enrolment.patient,
        object_type="questionnaires.request",
        object_id=request.pk,
        purpose="care" if requested_by is not None else "automation",
        detail={
            "enrolment": enrolment.pk,
            "questionnaire": questionnaire_id,
            "day": day.isoformat(),
            "rule": rule[:100],
        },
    )
    return True
