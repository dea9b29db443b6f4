"""Referrals and the assessment talk: the referrer's form and sent list, the unit's inbox, a
referral's page (assign, close), and the record of the mandatory assessment talk.

Views read input through forms and leave every change to `steg.care.actions`; a refusal there
(`CareError`) becomes a form error and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event
from steg.core.links import url_for_id
from steg.questionnaires.definition import Questionnaire

from . import access
from .actions import (
    AssessmentData,
    CareError,
    ReferralData,
    assign_referral,
    close_referral,
    latest_version,
    receiving_units,
    record_assessment,
    referring_units,
    send_referral,
    therapists_of,
)
from .forms_referrals import (
    DEPENDENCE_PREFIX,
    OPEN,
    OPEN_STATUSES,
    AssessmentForm,
    AssignForm,
    CloseForm,
    DependenceSection,
    InboxFilterForm,
    ReferralForm,
    add_care_error,
    dependence_questionnaire,
    dependence_test_for,
    describe_dependence,
    filter_assignee,
    filter_inbox,
    read_dependence,
)
from .models import Assessment, Referral, TobaccoType

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - every view here requires login
    return user


def _language() -> str:
    return get_language() or "sv"


def _url_or_none(name: str, *args: Any) -> str | None:
    """A URL of a page another part of the care journey provides, if it is there yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# --------------------------------------------------------------------------- the referrer


def _referrer_units(request: HttpRequest) -> list[Unit]:
    units = referring_units(_user(request))
    if not units:
        raise Http404("Not a referrer")
    return units


@login_required
@require_http_methods(["GET", "POST"])
def referral_new(request: HttpRequest) -> HttpResponse:
    """Send a referral; an open one for the same patient at the same unit is shown instead."""
    user = _user(request)
    units = _referrer_units(request)
    initial = {}
    chosen = request.GET.get("from", "")
    if chosen.isascii() and chosen.isdigit() and any(u.pk == int(chosen) for u in units):
        initial["referring_unit"] = int(chosen)
    form = ReferralForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        referring=units,
        receiving=receiving_units(user),
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                sent = send_referral(
                    referrer=user,
                    referring_unit=data["referring_unit"],
                    receiving_unit=data["receiving_unit"],
                    data=ReferralData(
                        personnummer=data["personnummer"],
                        first_name=data["first_name"],
                        last_name=data["last_name"],
                        phone=data["phone"],
                        email=data["email"],
                        tobacco_type=data["tobacco_type"],
                        tobacco_amount=data["tobacco_amount"],
                        reason=data["reason"],
                        contact_consent=data["contact_consent"],
                    ),
                    request=request,
                )
            except CareError as error:
                add_care_error(form, error)
            else:
                if not sent.created:
                    return render(
                        request, "care/referrals/exists.html", {"referral": sent.referral}
                    )
                messages.success(
                    request,
                    _("The referral for %(patient)s has been sent to %(unit)s.")
                    % {"patient": sent.referral.patient, "unit": sent.referral.receiving_unit},
                )
                return redirect("care:referrals_sent")
    return render(request, "care/referrals/new.html", {"form": form}, status=status)


@login_required
@require_GET
def referrals_sent(request: HttpRequest) -> HttpResponse:
    """The referrer's own referrals: to whom, for whom, and their status (one list read)."""
    user = _user(request)
    units = _referrer_units(request)
    referrals = (
        Referral.objects.filter(referrer=user)
        .select_related("patient", "receiving_unit", "referring_unit")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(referrals, PAGE_SIZE).get_page(request.GET.get("page"))
    record_event(
        action="care.referral.listed_sent",
        actor=Actor(user, Membership.Role.REFERRER, units[0] if len(units) == 1 else None),
        request=request,
        object_type="care.referral",
        purpose="referral",
        detail={"referrals": [r.pk for r in page.object_list], "page": page.number},
    )
    return render(request, "care/referrals/sent.html", {"page": page})


# --------------------------------------------------------------------------- the unit's inbox

# Closed referrals pile up for as long as a unit works; the inbox counts them up to this many
# (shown as "1000+"), so that its page costs the same after years as in the first week. The
# open ones, which are few, are counted exactly.
CLOSED_COUNT_LIMIT = 1000


def _status_counts(referrals: QuerySet[Referral]) -> tuple[dict[str, int], bool]:
    """The referrals of each status (two queries, each read from an index alone), and whether
    there were more closed ones than CLOSED_COUNT_LIMIT (then counted as that many)."""
    by_status = dict(
        referrals.filter(status__in=OPEN_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))
        .values_list("status", "n")
    )
    closed = (
        referrals.filter(status=Referral.Status.CLOSED)
        .order_by()
        .values("pk")[: CLOSED_COUNT_LIMIT + 1]
        .count()
    )
    by_status[Referral.Status.CLOSED] = min(closed, CLOSED_COUNT_LIMIT)
    return by_status, closed > CLOSED_COUNT_LIMIT


class _CountedPaginator(Paginator):
    """A paginator given the number of objects, counted already, instead of its COUNT(*)."""

    def __init__(self, object_list: QuerySet[Referral], per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


# What `_inbox_rows` reads, and all that a page of the inbox loads: a field left out here but read
# there would cost a query for each row.
INBOX_ROW_FIELDS = (
    "created_at",
    "status",
    "tobacco_type",
    "patient__first_name",
    "patient__last_name",
    "patient__personnummer",
    "referring_unit__name",
    "assigned_to__first_name",
    "assigned_to__last_name",
    "assigned_to__email",
)


class InboxRow(TypedDict):
    """A referral as a row of the inbox shows it: text, escaped by the template (a dict, which
    the template language reads faster than attributes)."""

    url: str
    received: str
    patient: str
    personnummer: str
    tobacco: str
    referring_unit: str
    assigned_to: str
    status: str


def _inbox_rows(referrals: Iterable[Referral]) -> list[InboxRow]:
    """The rows of a page of the inbox, in one pass: each URL, label and date made here, with
    what is the same on every row (URL prefix, translated labels) looked up once per page."""
    detail_url = url_for_id("care:referral_detail")
    tobacco_labels = {value: capfirst(str(label)) for value, label in TobaccoType.choices}
    status_labels = {value: capfirst(str(label)) for value, label in Referral.Status.choices}
    nobody = _("Nobody yet")
    rows = []
    for referral in referrals:
        patient = referral.patient
        assignee = referral.assigned_to
        rows.append(
            InboxRow(
                url=detail_url(referral.pk),
                received=timezone.localtime(referral.created_at).date().isoformat(),
                patient=f"{patient.last_name}, {patient.first_name}",
                personnummer=patient.personnummer_display,
                tobacco=tobacco_labels.get(referral.tobacco_type)
                or capfirst(referral.tobacco_type),
                referring_unit=referral.referring_unit.name,
                assigned_to=(assignee.get_full_name() or assignee.email) if assignee else nobody,
                status=status_labels.get(referral.status) or capfirst(referral.status),
            )
        )
    return rows


@login_required
@require_GET
def referral_inbox(request: HttpRequest, unit_id: int) -> HttpResponse:
    """The referrals a unit has received: filtered, counted per status, newest first."""
    unit, membership = access.get_unit_for_staff(request, unit_id)
    user = _user(request)
    filters = InboxFilterForm(request.GET)
    status, assignee = filters.values()
    received = Referral.objects.filter(receiving_unit=unit)
    by_status, more_closed = _status_counts(filter_assignee(received, assignee=assignee, user=user))
    counts = [
        {
            "status": value,
            "label": capfirst(str(label)),
            "count": by_status.get(value, 0),
            "more": value == Referral.Status.CLOSED and more_closed,
            "current": value == status,
            "query": urlencode({"status": value, "assignee": assignee}),
        }
        for value, label in Referral.Status.choices
    ]
    referrals = (
        filter_inbox(received, status=status, assignee=assignee, user=user)
        .select_related("patient", "referring_unit", "assigned_to")
        .only(*INBOX_ROW_FIELDS)
        .order_by("-created_at", "-pk")
    )
    # Open referrals, as listed by default, have just been counted: no COUNT(*) again here.
    if status == OPEN or status in OPEN_STATUSES:
        listed = sum(by_status.get(s, 0) for s in OPEN_STATUSES if status in (OPEN, s))
        paginator: Paginator = _CountedPaginator(referrals, PAGE_SIZE, count=listed)
    else:
        paginator = Paginator(referrals, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    record_event(
        action="care.referral.listed",
        actor=Actor(user, membership.role, unit),
        request=request,
        object_type="accounts.unit",
        object_id=unit.pk,
        purpose="care",
        detail={
            "referrals": [r.pk for r in page.object_list],
            "page": page.number,
            "status": status,
            "assignee": assignee,
        },
    )
    return render(
        request,
        "care/referrals/inbox.html",
        {
            "unit": unit,
            "page": page,
            "rows": _inbox_rows(page.object_list),
            "filters": filters,
            "status": status,
            "assignee": assignee,
            "counts": counts,
            "open_count": sum(by_status.get(s, 0) for s in OPEN_STATUSES),
            "querystring": urlencode({"status": status, "assignee": assignee}),
        },
    )


# --------------------------------------------------------------------------- one referral


def _assessment_of(referral: Referral) -> Assessment | None:
    return (
        Assessment.objects.select_related("programme", "therapist")
        .filter(referral=referral)
        .first()
    )


def _render_detail(
    request: HttpRequest,
    referral: Referral,
    *,
    assign_form: AssignForm | None = None,
    close_form: CloseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    unit = referral.receiving_unit
    therapists = therapists_of(unit)
    assessment = _assessment_of(referral)
    language = _language()
    programme_title = ""
    enrol_url = None
    if assessment is not None and assessment.programme is not None:
        version = latest_version(assessment.programme)
        programme_title = version.title(language) if version else assessment.programme.slug
        if assessment.chose_digital and referral.is_open:
            enrol_url = _url_or_none("care:enrol", assessment.pk)
    meeting_url = None
    if referral.is_open and assessment is None:
        meeting_url = _url_or_none("care:meeting_new", referral.patient_id)
        if meeting_url:
            meeting_url += "?" + urlencode({"referral": referral.pk})
    context = {
        "referral": referral,
        "patient": referral.patient,
        "assessment": assessment,
        "dependence": describe_dependence(assessment, language) if assessment else None,
        "programme_title": programme_title,
        "assign_form": assign_form
        or AssignForm(initial={"therapist": referral.assigned_to_id}, therapists=therapists),
        "close_form": close_form or CloseForm(),
        "can_assign_self": referral.assigned_to_id != user.pk
        and therapists.filter(pk=user.pk).exists(),
        "enrol_url": enrol_url,
        "meeting_url": meeting_url,
    }
    return render(request, "care/referrals/detail.html", context, status=status)


@login_required
@require_GET
def referral_detail(request: HttpRequest, referral_id: int) -> HttpResponse:
    referral = access.get_referral_for_staff(request, referral_id, purpose="care")
    return _render_detail(request, referral)


def _back_to(referral: Referral) -> HttpResponse:
    return redirect("care:referral_detail", referral_id=referral.pk)


@login_required
@require_POST
def referral_assign(request: HttpRequest, referral_id: int) -> HttpResponse:
    referral = access.get_referral_for_staff(request, referral_id, purpose="care")
    form = AssignForm(request.POST, therapists=therapists_of(referral.receiving_unit))
    if form.is_valid():
        therapist = form.cleaned_data["therapist"]
        try:
            assign_referral(referral, therapist=therapist, actor=_user(request), request=request)
        except CareError as error:
            if error.code == "closed":
                messages.error(request, str(error.message))
                return _back_to(referral)
            add_care_error(form, error)
        else:
            if therapist is None:
                messages.success(request, _("The referral is no longer assigned to anyone."))
            else:
                messages.success(
                    request,
                    _("The referral is assigned to %(name)s.")
                    % {"name": therapist.get_full_name() or therapist.email},
                )
            return _back_to(referral)
    return _render_detail(request, referral, assign_form=form, status=422)


@login_required
@require_POST
def referral_close(request: HttpRequest, referral_id: int) -> HttpResponse:
    referral = access.get_referral_for_staff(request, referral_id, purpose="care")
    if not referral.is_open:
        # A repeated request (double click, retry): it is done already.
        messages.info(request, _("This referral is already closed."))
        return _back_to(referral)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            close_referral(
                referral,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                actor=_user(request),
                request=request,
            )
        except CareError as error:
            if error.code == "closed":
                messages.info(request, _("This referral is already closed."))
                return _back_to(referral)
            add_care_error(form, error)
        else:
            messages.success(request, _("The referral is closed."))
            return _back_to(referral)
    return _render_detail(request, referral, close_form=form, status=422)


# --------------------------------------------------------------------------- the assessment talk


def _tobacco_param(request: HttpRequest) -> str | None:
    value = request.GET.get("tobacco") or request.GET.get("tobacco_type")
    return value if value in TobaccoType.values else None


@login_required
@require_http_methods(["GET", "POST"])
def assessment_new(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Record the mandatory assessment talk for a referral, with the treatment chosen."""
    referral = access.get_referral_for_staff(request, referral_id, purpose="care")
    if Assessment.objects.filter(referral=referral).exists():
        messages.info(request, _("The assessment talk for this referral is already recorded."))
        return _back_to(referral)
    if not referral.is_open:
        messages.info(request, _("This referral is closed."))
        return _back_to(referral)
    language = _language()
    today = timezone.localdate()
    received_on = timezone.localdate(referral.created_at)
    form_kwargs: dict[str, Any] = {
        "today": today,
        "received_on": received_on,
        "language": language,
    }
    if request.method == "GET":
        tobacco = _tobacco_param(request) or referral.tobacco_type
        form = AssessmentForm(
            initial={
                "held_on": today,
                "tobacco_type": tobacco,
                "tobacco_use": referral.tobacco_amount,
            },
            **form_kwargs,
        )
        section = read_dependence(_questionnaire(dependence_test_for(tobacco)), None, language)
        context = _assessment_context(referral, form, section)
        if getattr(request, "htmx", False) and _tobacco_param(request):
            return render(request, "care/referrals/assessment_form.html#dependence", context)
        return render(request, "care/referrals/assessment_form.html", context)

    form = AssessmentForm(request.POST, **form_kwargs)
    valid = form.is_valid()
    shown = str(request.POST.get("dependence_test") or "")
    posted_tobacco = form.cleaned_data.get("tobacco_type")
    wanted = dependence_test_for(posted_tobacco) if posted_tobacco else _known_test(shown, referral)
    section = read_dependence(
        _questionnaire(wanted), request.POST if wanted == shown else None, language
    )
    if wanted and wanted != shown:
        # The tobacco changed (without JavaScript the test follows on the next round).
        section.errors[""] = _(
            "The tobacco has changed, so the dependence test has too. Answer its questions."
        )
    if valid and section.is_valid():
        data = form.cleaned_data
        try:
            assessment = record_assessment(
                referral,
                data=AssessmentData(
                    held_on=data["held_on"],
                    mode=data["mode"],
                    tobacco_type=data["tobacco_type"],
                    tobacco_use=data["tobacco_use"],
                    motivation=data["motivation"],
                    confidence=data["confidence"],
                    notes=data["notes"],
                    choice=data["choice"],
                    choice_reason=data["choice_reason"],
                    programme=data["programme"],
                    dependence_test=section.test_id,
                    dependence_answers=section.answers_json,
                    dependence_score=section.score,
                ),
                therapist=_user(request),
                request=request,
            )
        except CareError as error:
            if error.code in ("assessed", "closed"):
                messages.info(request, str(error.message))
                return _back_to(referral)
            add_care_error(form, error)
        else:
            if assessment.chose_digital:
                messages.success(
                    request,
                    _("The assessment talk is recorded. The patient can now be enrolled."),
                )
            else:
                messages.success(
                    request,
                    _("The assessment talk is recorded and the referral is closed."),
                )
            return _back_to(referral)
    return render(
        request,
        "care/referrals/assessment_form.html",
        _assessment_context(referral, form, section),
        status=422,
    )


def _questionnaire(test_id: str) -> Questionnaire | None:
    return dependence_questionnaire(test_id) if test_id else None


def _known_test(shown: str, referral: Referral) -> str:
    """The test to show when the tobacco could not be read: the one shown before, if real."""
    known = {"", *(dependence_test_for(t) for t in TobaccoType.values)}
    return shown if shown in known else dependence_test_for(referral.tobacco_type)


def _assessment_context(
    referral: Referral, form: AssessmentForm, section: DependenceSection
) -> dict[str, Any]:
    return {
        "referral": referral,
        "patient": referral.patient,
        "form": form,
        "section": section,
        "prefix": DEPENDENCE_PREFIX,
        "received_on": date_format(timezone.localtime(referral.created_at), "j F Y"),
        "action_url": reverse("care:assessment_new", args=[referral.pk]),
    }
