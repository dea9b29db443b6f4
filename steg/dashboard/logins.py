"""A patient's logins, for the therapist's timeline (the overview of a treatment).

Nothing else in Steg keeps a login history: ``User.last_login`` holds only the latest, and
allauth's user sessions go when the session ends. So every completed login of a user with a
patient record (password or e-ID, through allauth, after any second factor) is written to the
audit log as ``accounts.login``, with the patient, the time and the address. The audit log is
append-only and kept for years, and its index on (patient, time) serves the timeline.

A login time is bookkeeping, not a business rule, so a signal receiver is the place for it
(CONVENTIONS.md). It listens to allauth's ``user_logged_in``, not Django's: that one is also
sent by ``Client.force_login`` in tests and by the invitation's activation, which is recorded
as such (``care.invitation.used``).
"""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from steg.audit.actions import Actor, record_event
from steg.care.models import Patient

LOGIN_ACTION = "accounts.login"


@receiver(user_logged_in, dispatch_uid="steg.dashboard.logins.record_patient_login")
def record_patient_login(sender: Any, *, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    patient = Patient.objects.filter(user=user).first()
    if patient is None:
        return
    record_event(
        action=LOGIN_ACTION,
        actor=Actor(user, "patient"),
        request=request,
        patient=patient,
        object_type="accounts.user",
        object_id=user.pk,
        purpose="self-service",
    )
