"""A patient's answers to a questionnaire: one response per questionnaire and day; and the
requests that make a questionnaire due for a day outside its schedule.

The definitions themselves are content: they live in the programme version the enrolment is
pinned to (``ProgrammeVersion.questionnaire_files``) and are read by ``loader``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Response(models.Model):
    """The answers of one enrolment to one questionnaire for one day.

    ``day`` is the occurrence the answers belong to: the day of a diary entry, or the day a
    one-off questionnaire or follow-up became due. A draft keeps what has been typed; a
    submitted response is final and carries its score, computed when it was submitted.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="questionnaire_responses"
    )
    questionnaire_id = models.SlugField(max_length=64)
    day = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    answers = models.JSONField(default=dict)
    score = models.JSONField(null=True, blank=True)
    language = models.CharField(max_length=10)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The form token of the submission: a repeated submit of the same form stores nothing new.
    submission_token = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("questionnaire response")
        verbose_name_plural = _("questionnaire responses")
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "questionnaire_id", "day"], name="response_unique_day"
            ),
        ]
        indexes = [
            models.Index(fields=["enrolment", "status", "day"]),
            models.Index(fields=["status", "submitted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.questionnaire_id} {self.day} ({self.status})"


class QuestionnaireRequest(models.Model):
    """A questionnaire made due for one enrolment from ``day`` on, whatever its schedule says.

    Written by an automation rule (``rule`` is the rule's key) or by a member of staff
    (``requested_by``) through ``actions.request_questionnaire``. The requested day behaves like
    a ``once`` occurrence: open from ``day`` on until a response for that day is submitted
    (``schedule.py``, ``due.py``). One request per questionnaire and day.
    """

    # No index of their own: both indexes below start with the enrolment.
    enrolment = models.ForeignKey(
        "care.Enrolment",
        on_delete=models.CASCADE,
        related_name="questionnaire_requests",
        db_index=False,
    )
    questionnaire_id = models.SlugField(max_length=64, db_index=False)
    # The local day it is due from; a response to the request is the response for this day.
    day = models.DateField()
    requested_at = models.DateTimeField()
    rule = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("questionnaire request")
        verbose_name_plural = _("questionnaire requests")
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "questionnaire_id", "day"], name="questionnaire_request_unique"
            ),
        ]
        indexes = [
            # What ``due.py`` asks: the requests of some enrolments, up to today.
            models.Index(fields=["enrolment", "day"], name="questionnaire_request_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.questionnaire_id} requested for {self.day}"
