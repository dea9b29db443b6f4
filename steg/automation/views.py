"""What staff see of the automation (issue #8): a therapist marks a rule's flag handled from the
treatment's overview (the overview shows the flags, what fired and what is scheduled, see
steg/dashboard/overview.py); administrators see the queue, the failures and the retries at the
units they administer, and send a failed firing round again.

Patient data is reached only through ``get_enrolment_for_staff`` (care relation, read recorded)
or, for administrators, through the firings of the units they administer (``_administered``,
as the failed notifications page does); anything else answers 404 and is recorded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from steg.accounts.models import Unit, User
from steg.audit.actions import Actor, record_event
from steg.care.access import get_enrolment_for_staff, staff_actor
from steg.care.models import CARE_ROLES, Patient

from . import actions, engine
from .forms import RetryForm
from .models import Firing, RuleFlag

FAILED_PAGE_SIZE = 25
RETRYING_SHOWN = 50  # the firings being retried, soonest first; the count says how many in all
SOON = datetime.timedelta(hours=24)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


# Rule flags, from the overview -------------------------------------------------------------------


@login_required
@require_POST
def flag_handled(request: HttpRequest, enrolment_id: int, flag_id: int) -> HttpResponse:
    """A member of staff with a care relation marks a rule's flag handled; a repeated click
    changes nothing. Back to the overview's automatic support."""
    enrolment = get_enrolment_for_staff(request, enrolment_id, purpose="care")
    flag = RuleFlag.objects.filter(pk=flag_id, enrolment=enrolment).first()
    if flag is None:
        raise Http404("No such flag")
    flag.enrolment = enrolment
    actor = staff_actor(_user(request), enrolment.unit_id)
    assert actor is not None  # noqa: S101 - get_enrolment_for_staff checked the care role
    if actions.mark_flag_handled(flag=flag, actor=actor, request=request):
        messages.success(request, _("The flag has been marked as handled."))
    else:
        messages.info(request, _("The flag had already been marked as handled."))
    return redirect(reverse("dashboard:overview", args=[enrolment.pk]) + "#automation-heading")


# The administrators' queue -----------------------------------------------------------------------


def _administered(user: User) -> QuerySet[Firing]:
    """Firings of treatments at the units the user administers (all units of their
    organisation, for a region admin); a subquery, so each list stays one query."""
    units = Unit.objects.administered_by(user).values("pk")
    return Firing.objects.filter(enrolment__unit__in=units)


def _counts(firings: QuerySet[Firing], now: datetime.datetime) -> dict[str, int]:
    """Pending and due now, pending and due within 24 hours, failed, and being retried (pending
    after a failed attempt); "due" as the scheduler sees it (``next_attempt_at``). One query."""
    pending = Q(status=Firing.Status.PENDING)
    later = now + SOON
    counted = firings.filter(
        Q(status=Firing.Status.FAILED)
        | (pending & (Q(next_attempt_at__lte=later) | Q(attempts__gt=0)))
    )
    return counted.aggregate(
        due=Count("pk", filter=pending & Q(next_attempt_at__lte=now)),
        soon=Count("pk", filter=pending & Q(next_attempt_at__gt=now, next_attempt_at__lte=later)),
        failed=Count("pk", filter=Q(status=Firing.Status.FAILED)),
        retrying=Count("pk", filter=pending & Q(attempts__gt=0)),
    )


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


@dataclass(frozen=True)
class Row:
    firing: Firing
    patient: Patient | None  # None: not to be named to this user
    error: str  # the first line of the last error


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The automation at the units the user administers: counts, the failed firings (a page of
    them, newest first, each with "Try again") and the firings being retried."""
    user = _user(request)
    if not user.is_admin:
        raise Http404
    now = timezone.now()
    firings = _administered(user).select_related("enrolment__patient", "enrolment__unit")
    counts = _counts(_administered(user), now)
    failed = firings.filter(status=Firing.Status.FAILED).order_by("-fired_at", "-pk")
    page = Paginator(failed, FAILED_PAGE_SIZE).get_page(request.GET.get("page"))
    retrying = list(
        firings.filter(status=Firing.Status.PENDING, attempts__gt=0).order_by(
            "next_attempt_at", "pk"
        )[:RETRYING_SHOWN]
    )
    # The patient is named, and their overview linked, only where the user has a care
    # relation (a unit admin at the treatment's unit); a region admin sees "a patient".
    care_units = {m.unit_id for m in user.staff_memberships if m.role in CARE_ROLES}

    def row(firing: Firing) -> Row:
        named = firing.enrolment.unit_id in care_units
        return Row(
            firing=firing,
            patient=firing.enrolment.patient if named else None,
            error=_first_line(firing.last_error),
        )

    failed_rows = [row(firing) for firing in page.object_list]
    retrying_rows = [row(firing) for firing in retrying]
    named = sorted({r.patient.pk for r in failed_rows + retrying_rows if r.patient is not None})
    record_event(
        action="automation.firing.listed",
        actor=Actor(user, "admin"),
        request=request,
        object_type="automation.firing",
        purpose="administration",
        detail={"page": page.number, "patients": named},
    )
    return render(
        request,
        "automation/queue.html",
        {
            "counts": counts,
            "page": page,
            "failed_rows": failed_rows,
            "retrying_rows": retrying_rows,
            "retrying_more": counts["retrying"] > len(retrying_rows),
        },
    )


@login_required
@require_POST
def retry(request: HttpRequest, firing_id: int) -> HttpResponse:
    """Send a failed firing round again now; a repeated click changes nothing. Firings outside
    the units the user administers answer 404."""
    user = _user(request)
    firing = (
        _administered(user)
        .select_related("enrolment__patient", "enrolment__unit")
        .filter(pk=firing_id)
        .first()
        if user.is_admin
        else None
    )
    if firing is None:
        record_event(
            action="automation.firing.access_denied",
            actor=Actor(user),
            request=request,
            object_type="automation.firing",
            object_id=firing_id,
            purpose="administration",
        )
        raise Http404("No such rule firing")
    with transaction.atomic():
        retried = engine.retry(firing, actor=Actor(user, "admin", firing.enrolment.unit))
    if retried:
        messages.success(request, _("The rule has been queued to be tried again."))
    else:
        messages.info(request, _("The rule had not failed (any more): it was not tried again."))
    form = RetryForm(request.POST)
    url = reverse("automation:queue")
    if form.is_valid() and form.cleaned_data["page"]:
        url += f"?page={form.cleaned_data['page']}"
    return redirect(url)
