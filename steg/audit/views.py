"""The access log review page (loggkontroll) for unit and region administrators."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event

from .forms import AuditFilterForm
from .models import AuditEvent

PAGE_SIZE = 50


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


@login_required
def log(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # noqa: S101
    if not user.is_admin:
        raise Http404
    units = Unit.objects.administered_by(user).order_by("name")
    unit_ids = list(units.values_list("pk", flat=True))
    staff_ids = Membership.objects.filter(unit_id__in=unit_ids).values("user_id")
    # Events at these units, and unit-less events (refused attempts) by staff of these units.
    events = AuditEvent.objects.filter(unit_id__in=unit_ids) | AuditEvent.objects.filter(
        unit__isnull=True, actor_id__in=staff_ids
    )
    form = AuditFilterForm(request.GET or None, units=units)
    filters: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["patient"]:
            events = events.filter(patient__personnummer=data["patient"])
        if data["actor"]:
            events = events.filter(actor__email__iexact=data["actor"])
        if data["unit"]:
            events = events.filter(unit=data["unit"])
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["date_from"]:
            events = events.filter(created_at__gte=_start_of_day(data["date_from"]))
        if data["date_to"]:
            end = _start_of_day(data["date_to"] + datetime.timedelta(days=1))
            events = events.filter(created_at__lt=end)
        filters = {key: str(value) for key, value in form.data.items() if key != "page" and value}
    elif form.is_bound:
        events = events.none()
    events = events.select_related("actor", "unit", "patient").order_by("-id")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    # Read the page before recording this visit, or the new event would push one off the list.
    page.object_list = list(page.object_list)
    record_event(
        action="audit.log.viewed",
        actor=Actor(user, "admin"),
        request=request,
        object_type="audit.log",
        purpose="log review",
        detail={"filters": filters, "page": page.number},
    )
    return render(
        request,
        "audit/log.html",
        {"form": form, "page": page, "querystring": urlencode(filters)},
    )
