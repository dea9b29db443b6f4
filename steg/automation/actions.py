"""Changes staff make to the automation's records. Each is one transaction with its audit
event."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from steg.audit.actions import Actor, record_event
from steg.dashboard.attention import attention_changed_on_commit

from .models import RuleFlag


@transaction.atomic
def mark_flag_handled(*, flag: RuleFlag, actor: Actor, request: HttpRequest | None = None) -> bool:
    """Mark an open rule flag handled (True), or change nothing when it is handled already
    (False). The audit event is written with the change; the dashboard row follows on commit."""
    now = timezone.now()
    updated = RuleFlag.objects.filter(pk=flag.pk, handled_at__isnull=True).update(
        handled_at=now, handled_by=actor.user
    )
    if not updated:
        return False
    enrolment = flag.enrolment
    record_event(
        action="automation.flag.handled",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="automation.ruleflag",
        object_id=flag.pk,
        purpose="care",
        detail={"enrolment": enrolment.pk, "rule": flag.rule, "step_up": flag.step_up},
    )
    attention_changed_on_commit(enrolment.pk)
    return True
