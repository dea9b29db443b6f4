"""The therapist's dashboard: their patients (or their unit's), what needs attention first."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.timesince import timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event
from steg.care import access
from steg.care.models import CARE_ROLES, Enrolment
from steg.core.links import url_for_id

from .attention import refresh_stale
from .forms_dashboard import MINE, UNIT, DashboardForm
from .models import COUNTERS, FLAGS, FLAGS_BY_KEY, Attention, FlagCounts

PAGE_SIZE = 25


class CountedPaginator(Paginator):
    """A paginator told how many rows there are (from `FlagCounts`), so that it never runs a
    COUNT over the rows, which would take time in proportion to the unit's size."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = max(count, 0)

    @cached_property
    def count(self) -> int:
        return self._known_count


@dataclass(frozen=True)
class Row:
    """One patient's line, with the text it shows worked out here: the template only places
    it (25 rows of lookups and filters in the template were a third of the page's time)."""

    link: str
    name: str
    programme: str
    status: str
    flags: list[tuple[str, str, int | None]]  # key, label, the number where it has one
    activity_at: str  # ISO 8601; "" for no activity yet
    activity: str  # "3 days ago"
    meeting_at: str  # ISO 8601; "" for no meeting booked
    meeting: str
    therapist: str  # "" for nobody yet


def _row(attention: Attention, language: str, link: Callable[[int], str]) -> Row:
    status = attention.status
    therapist = attention.therapist
    activity = attention.last_activity_at
    meeting = attention.next_meeting_at
    return Row(
        link=link(attention.enrolment_id),
        name=f"{attention.patient.last_name}, {attention.patient.first_name}",
        programme=attention.enrolment.programme_version.title(language),
        status=capfirst(
            str(Enrolment.Status(status).label) if status in Enrolment.Status.values else status
        ),
        flags=_flags_of(attention),
        activity_at=_iso(activity),
        activity=_("%(time)s ago") % {"time": timesince(activity)} if activity else "",
        meeting_at=_iso(meeting),
        meeting=date_format(timezone.localtime(meeting), "j M Y, H:i") if meeting else "",
        therapist=(therapist.get_full_name() or therapist.email) if therapist else "",
    )


def _iso(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment).isoformat() if moment else ""


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


def _flags_of(attention: Attention) -> list[tuple[str, str, int | None]]:
    numbers = {
        "score": attention.score_flags,
        "rule": attention.rule_flags,
        "unread": attention.unread_messages,
        "feedback": attention.awaiting_feedback,
    }
    return [
        (flag.key, capfirst(str(flag.label)), numbers.get(flag.key)) for flag in attention.flags
    ]


def _rows(attention: QuerySet[Attention]) -> QuerySet[Attention]:
    return (
        attention.select_related("patient", "therapist", "enrolment__programme_version")
        .only(
            *(f.name for f in Attention._meta.concrete_fields),
            "patient__first_name",
            "patient__last_name",
            "therapist__first_name",
            "therapist__last_name",
            "therapist__email",
            "enrolment__programme_version__titles",
            "enrolment__programme_version__languages",
        )
        .order_by("-priority", "quiet_since", "enrolment_id")
    )


def _actor(user: User, care: list[Membership], scope: str, unit: Unit | None) -> Actor:
    """Who lists: at the unit shown, or (my patients) at my one unit, or at none of several."""
    if scope == UNIT and unit is not None:
        role = next(m.role for m in care if m.unit_id == unit.pk)
        return Actor(user, role, unit)
    units = {m.unit_id for m in care}
    return Actor(user, care[0].role, care[0].unit if len(units) == 1 else None)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """What needs attention first, among my patients or my unit's: counts per flag at the top,
    one flag at a time as a filter, 25 patients to a page, in a fixed number of queries."""
    user = _user(request)
    care = [m for m in user.staff_memberships if m.role in CARE_ROLES]
    if not care:
        raise Http404("No care role at any unit")
    units: list[Unit] = list({m.unit_id: m.unit for m in care}.values())
    form = DashboardForm(request.GET or None)
    scope = UNIT if form.value("scope") == UNIT else MINE
    unit_id = form.value("unit")
    # A unit asked for must be one where the user works in a care role (404 otherwise).
    unit = access.get_unit_for_staff(request, unit_id)[0] if isinstance(unit_id, int) else None
    if scope == UNIT and unit is None:
        unit = units[0]
    flag = FLAGS_BY_KEY.get(str(form.value("flag") or ""))

    # The rows the patients have changed since they were last computed, first (one query
    # when there are none; see attention_stale).
    refresh_stale([unit.pk] if scope == UNIT and unit is not None else [u.pk for u in units])
    if scope == UNIT and unit is not None:
        attention = Attention.objects.filter(unit=unit)
        counters = FlagCounts.objects.filter(unit=unit)
    else:
        unit_ids = [u.pk for u in units]
        attention = Attention.objects.filter(therapist=user, unit_id__in=unit_ids)
        counters = FlagCounts.objects.filter(therapist=user, unit_id__in=unit_ids)
    counts = counters.aggregate(**{name: Coalesce(Sum(name), 0) for name in COUNTERS})
    if flag is not None:
        attention = attention.filter(flag.condition)
    paginator = CountedPaginator(
        _rows(attention), PAGE_SIZE, count=counts[flag.counter if flag else "patients"]
    )
    page = paginator.get_page(request.GET.get("page"))
    listed = list(page.object_list)
    # Patient names are patient data: the page is one list read.
    record_event(
        action="dashboard.listed",
        actor=_actor(user, care, scope, unit),
        request=request,
        object_type="accounts.unit" if scope == UNIT and unit else "accounts.user",
        object_id=unit.pk if scope == UNIT and unit else user.pk,
        purpose="care",
        detail={
            "enrolments": [a.enrolment_id for a in listed],
            "scope": scope,
            "units": [unit.pk] if scope == UNIT and unit else [u.pk for u in units],
            "flag": flag.key if flag else "",
            "page": page.number,
        },
    )
    language = get_language() or "sv"
    link = url_for_id("dashboard:overview")
    keep: dict[str, str | int] = {"scope": scope}
    if scope == UNIT and unit is not None:
        keep["unit"] = unit.pk
    with_flag: dict[str, str | int] = {"flag": flag.key} if flag else {}
    return render(
        request,
        "dashboard/home.html",
        {
            "scope": scope,
            "unit": unit if scope == UNIT else None,
            "units": units,
            "flag": flag,
            "page": page,
            "rows": [_row(a, language, link) for a in listed],
            "total": counts["patients"],
            "filters": [
                {"flag": f, "count": counts[f.counter], "query": urlencode({**keep, "flag": f.key})}
                for f in FLAGS
            ],
            "all_query": urlencode(keep),
            "mine_query": urlencode({"scope": MINE, **with_flag}),
            "unit_query": urlencode({"scope": UNIT, "unit": (unit or units[0]).pk, **with_flag}),
            "querystring": urlencode({**keep, **with_flag}),
        },
    )
