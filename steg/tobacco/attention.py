"""The tobacco programme's part in the therapist's dashboard: slips and relapses.

A patient reports a slip when a submitted diary entry (questionnaire "diary", item "used"
answered yes) falls on or after the quit date. The dashboard (steg/dashboard/attention.py)
flags it until a member of staff writes to the patient after it was reported.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db.models import F, Max

from steg.dashboard.attention import EnrolmentFacts, register_slip_detector
from steg.questionnaires.models import Response

PROGRAMME = "tobacco-cessation"
DIARY = "diary"
USED = "used"


def reported_slips(enrolments: Sequence[EnrolmentFacts]) -> dict[int, datetime.datetime]:
    """When each tobacco enrolment's patient last reported use on or after the quit date (one
    query; none when no enrolment is in the tobacco programme with a quit date)."""
    ids = [e.id for e in enrolments if e.programme == PROGRAMME and e.quit_date is not None]
    if not ids:
        return {}
    rows = (
        Response.objects.filter(
            enrolment_id__in=ids,
            questionnaire_id=DIARY,
            status=Response.Status.SUBMITTED,
            day__gte=F("enrolment__quit_date"),
            **{f"answers__{USED}__0": True},
        )
        .order_by()
        .values("enrolment_id")
        .annotate(last=Max("submitted_at"))
    )
    return {row["enrolment_id"]: row["last"] for row in rows if row["last"] is not None}


register_slip_detector(reported_slips)
