"""Meetings: staff book, move and cancel them; the patient sees them, asks to move one and
downloads a calendar file. The rules are in `steg.care.meetings`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from steg.accounts.models import Unit, User

from . import access, meetings
from .actions import CareError
from .forms_meetings import (
    DEFAULT_DURATION,
    FIELD_FOR_ERROR,
    BookMeetingForm,
    CancelMeetingForm,
    MeetingTimeForm,
    RescheduleRequestForm,
)
from .models import CARE_ROLES, Enrolment, Meeting, MeetingMode, Referral


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


def _apply_care_error(form: forms.Form, error: CareError) -> None:
    field = FIELD_FOR_ERROR.get(error.field or "", error.field)
    form.add_error(field if field in form.fields else None, str(error.message))


def _told_patient(meeting: Meeting) -> bool:
    return bool(meeting.patient.email or meeting.patient.phone)


class _BookingFor(forms.Form):
    """What a new meeting is for: a referral (the assessment talk) or a treatment."""

    referral = forms.IntegerField(required=False, min_value=1)
    enrolment = forms.IntegerField(required=False, min_value=1)


# Staff ----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def meeting_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Book a meeting with a patient; `?referral=` books the assessment talk for a referral."""
    patient = access.get_patient_for_staff(request, patient_id, purpose="care")
    user = _user(request)
    purpose = _BookingFor(request.GET)
    if not purpose.is_valid():
        raise Http404("No such referral or treatment")
    referral: Referral | None = None
    enrolment: Enrolment | None = None
    if purpose.cleaned_data["referral"]:
        referral = access.get_referral_for_staff(
            request, purpose.cleaned_data["referral"], purpose="care"
        )
        if referral.patient_id != patient.pk:
            raise Http404("No such referral")
        unit_ids = {referral.receiving_unit_id}
    elif purpose.cleaned_data["enrolment"]:
        enrolment = access.get_enrolment_for_staff(
            request, purpose.cleaned_data["enrolment"], purpose="care"
        )
        if enrolment.patient_id != patient.pk:
            raise Http404("No such treatment")
        unit_ids = {enrolment.unit_id}
    else:
        unit_ids = access.care_unit_ids(patient)
    unit_ids &= {m.unit_id for m in user.staff_memberships if m.role in CARE_ROLES}
    units = Unit.objects.filter(pk__in=unit_ids).order_by("name")
    therapists = meetings.therapists_at(unit_ids)
    kind = Meeting.Kind.ASSESSMENT if referral is not None else Meeting.Kind.FOLLOW_UP
    form_kwargs: dict[str, Any] = {"units": units, "therapists": therapists}
    status = 200
    if request.method == "POST":
        form = BookMeetingForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                meeting = meetings.book_meeting(
                    patient=patient,
                    unit=data["unit"],
                    therapist=data["therapist"],
                    starts_at=data["starts_at"],
                    duration_minutes=data["duration"],
                    mode=data["mode"],
                    place=data["place"],
                    video_url=data["video_url"],
                    kind=kind,
                    referral=referral,
                    enrolment=enrolment,
                    actor=user,
                    request=request,
                )
            except CareError as error:
                _apply_care_error(form, error)
            else:
                when = meetings.describe_time(meeting.starts_at)
                if _told_patient(meeting):
                    messages.success(
                        request,
                        _("The meeting is booked for %(when)s. The patient has been told.")
                        % {"when": when},
                    )
                else:
                    messages.warning(
                        request,
                        _(
                            "The meeting is booked for %(when)s. The patient has no e-mail "
                            "address or mobile number: tell them about it yourself."
                        )
                        % {"when": when},
                    )
                return redirect("care:patient_record", patient.pk)
        status = 422
    else:
        form = BookMeetingForm(
            initial={
                "therapist": therapists.filter(pk=user.pk).first() or therapists.first(),
                "duration": 45 if kind == Meeting.Kind.ASSESSMENT else DEFAULT_DURATION,
                "mode": MeetingMode.PHONE,
            },
            **form_kwargs,
        )
    return render(
        request,
        "care/meetings/new.html",
        {
            "patient": patient,
            "form": form,
            "kind": kind,
            "referral": referral,
            "enrolment": enrolment,
            "query": request.GET.urlencode(),
        },
        status=status,
    )


def _editable(meeting: Meeting) -> bool:
    return meeting.status == Meeting.Status.BOOKED and meeting.starts_at > timezone.now()


@login_required
@require_http_methods(["GET", "POST"])
def meeting_edit(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """A meeting for staff: the patient's request to move it, if any; move it or change how it is
    held; cancel it."""
    meeting = access.get_meeting_for_staff(request, meeting_id, purpose="care")
    editable = _editable(meeting)
    status = 200
    form = None
    if request.method == "POST":
        if not editable:
            messages.error(request, _("This meeting can no longer be changed."))
            return redirect("care:meeting_edit", meeting.pk)
        form = MeetingTimeForm(request.POST, duration=meeting.duration_minutes)
        if form.is_valid():
            data = form.cleaned_data
            sequence = meeting.sequence
            try:
                meeting = meetings.reschedule_meeting(
                    meeting,
                    starts_at=data["starts_at"],
                    duration_minutes=data["duration"],
                    mode=data["mode"],
                    place=data["place"],
                    video_url=data["video_url"],
                    actor=_user(request),
                    request=request,
                )
            except CareError as error:
                _apply_care_error(form, error)
            else:
                if meeting.sequence == sequence:
                    messages.info(request, _("Nothing was changed."))
                else:
                    messages.success(
                        request,
                        _("The meeting is now %(when)s.")
                        % {"when": meetings.describe_time(meeting.starts_at)}
                        + (" " + _("The patient has been told.") if _told_patient(meeting) else ""),
                    )
                return redirect("care:patient_record", meeting.patient_id)
        status = 422
    elif editable:
        form = MeetingTimeForm(
            initial=MeetingTimeForm.initial_for(meeting), duration=meeting.duration_minutes
        )
    return render(
        request,
        "care/meetings/edit.html",
        {
            "meeting": meeting,
            "form": form,
            "editable": editable,
            "cancellable": meeting.status == Meeting.Status.BOOKED
            and meeting.ends_at > timezone.now(),
            "cancel_form": CancelMeetingForm(),
        },
        status=status,
    )


@login_required
@require_POST
def meeting_cancel(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = access.get_meeting_for_staff(request, meeting_id, purpose="care")
    form = CancelMeetingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a shorter reason (at most 2000 characters)."))
        return redirect("care:meeting_edit", meeting.pk)
    was_booked = meeting.status == Meeting.Status.BOOKED
    try:
        meeting = meetings.cancel_meeting(
            meeting, actor=_user(request), reason=form.cleaned_data["reason"], request=request
        )
    except CareError as error:
        messages.error(request, str(error.message))
        return redirect("care:meeting_edit", meeting.pk)
    if was_booked:
        text = _("The meeting on %(when)s is cancelled.") % {
            "when": meetings.describe_time(meeting.starts_at)
        }
        if _told_patient(meeting):
            text += " " + _("The patient has been told.")
        messages.success(request, text)
    else:
        messages.info(request, _("The meeting was already cancelled."))
    return redirect("care:patient_record", meeting.patient_id)


# The patient ----------------------------------------------------------------------------------


@login_required
@require_GET
def my_meetings(request: HttpRequest) -> HttpResponse:
    """The patient's upcoming meetings, and the latest past or cancelled ones."""
    own = meetings.list_own_meetings(request, user=_user(request))
    return render(
        request,
        "care/meetings/mine.html",
        {
            "patient": own.patient,
            "upcoming": own.upcoming,
            "earlier": own.earlier,
            "now": timezone.now(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def meeting_reschedule(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """The patient asks to move a meeting; the therapist is told and books a new time."""
    meeting = access.get_meeting_for_patient(request, meeting_id)
    open_for_requests = _editable(meeting)
    status = 200
    if request.method == "POST" and open_for_requests:
        form = RescheduleRequestForm(request.POST)
        if form.is_valid():
            try:
                meetings.request_reschedule(
                    meeting,
                    user=_user(request),
                    message=form.cleaned_data["message"],
                    request=request,
                )
            except CareError as error:
                _apply_care_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Your request has been sent. Your therapist will book a new time and "
                        "you will be told. Until then, the meeting stays as it is."
                    ),
                )
                return redirect("care:my_meetings")
        status = 422
    elif request.method == "POST":
        messages.error(request, _("This meeting can no longer be moved."))
        return redirect("care:my_meetings")
    else:
        form = RescheduleRequestForm(initial={"message": meeting.reschedule_message})
    return render(
        request,
        "care/meetings/reschedule.html",
        {"meeting": meeting, "form": form, "open_for_requests": open_for_requests},
        status=status,
    )


# Both -----------------------------------------------------------------------------------------


@login_required
@require_GET
def meeting_ics(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """The meeting as an iCalendar file: the patient's own, or for staff with a care relation."""
    user = _user(request)
    for_staff = not meetings.is_own_meeting(user, meeting_id)
    if for_staff:
        meeting = access.get_meeting_for_staff(request, meeting_id, purpose="calendar")
    else:
        meeting = access.get_meeting_for_patient(request, meeting_id)
    body = meetings.meeting_ics(meeting, language=get_language() or "sv", for_staff=for_staff)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="meeting-{meeting.pk}.ics"'
    patch_cache_control(response, private=True, no_store=True)
    return response
