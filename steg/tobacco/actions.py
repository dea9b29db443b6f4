"""Changes to a tobacco treatment. Each is one transaction with its audit event."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.http import HttpRequest

from steg.audit.actions import Actor, record_event
from steg.automation import engine as automation
from steg.care.models import Enrolment
from steg.dashboard.attention import attention_changed_on_commit


@transaction.atomic
def set_quit_date(
    *,
    enrolment: Enrolment,
    quit_date: datetime.date,
    actor: Actor,
    request: HttpRequest | None = None,
) -> bool:
    """Set the enrolment's quit date; False (and nothing written) when it is unchanged.

    Steps that open on days after the quit date and questionnaires scheduled from it are
    computed from the date when they are shown, so they follow; answers are not touched.
    """
    locked = Enrolment.objects.select_for_update().only("pk", "quit_date").get(pk=enrolment.pk)
    old = locked.quit_date
    if old == quit_date:
        enrolment.quit_date = quit_date
        return False
    locked.quit_date = quit_date
    locked.save(update_fields=["quit_date"])
    enrolment.quit_date = quit_date
    attention_changed_on_commit(enrolment.pk)
    automation.quit_date_changed(enrolment)
    record_event(
        action="care.enrolment.quit_date_set",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="self-service",
        detail={"old": old.isoformat() if old else None, "new": quit_date.isoformat()},
    )
    return True
