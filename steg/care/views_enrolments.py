"""Staff pages for enrolling a patient after the assessment talk and running the treatment:
pause and resume, complete or discontinue, hand over to another therapist, guided or self-help.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from steg.accounts.models import User

from . import access, actions, invitations
from .forms_enrolments import STATUS_ACTIONS, EnrolForm, GuidanceForm, HandoverForm, StatusForm
from .models import ENROLMENT_TRANSITIONS, Enrolment, Invitation
from .views_invitations import issued_response


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


def _apply_care_error(form: Any, error: actions.CareError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.message))


@login_required
def enrol(request: HttpRequest, assessment_id: int) -> HttpResponse:
    """Enrol the patient in the programme chosen at the assessment talk and invite them."""
    assessment = access.get_assessment_for_staff(request, assessment_id, purpose="care")
    user = _user(request)
    refusal = None
    if not assessment.chose_digital or assessment.programme is None:
        refusal = _(
            "The assessment talk did not choose the digital programme, so the patient cannot be "
            "enrolled. Record a new assessment if the patient has changed their mind."
        )
    elif assessment.enrolments.exists():
        refusal = _("The patient has already been enrolled after this assessment talk.")
    if refusal is not None:
        status = 409 if request.method == "POST" else 200
        return render(
            request,
            "care/enrolments/enrol.html",
            {"assessment": assessment, "refusal": refusal},
            status=status,
        )
    assert assessment.programme is not None  # noqa: S101 - a digital choice names it
    versions = assessment.programme.versions.order_by("-number")
    therapists = actions.therapists_of(assessment.unit)
    today = timezone.localdate()
    form_kwargs: dict[str, Any] = {"versions": versions, "therapists": therapists, "today": today}
    if request.method == "POST":
        form = EnrolForm(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                with transaction.atomic():
                    enrolment = actions.enrol_patient(
                        assessment=assessment,
                        actor=user,
                        version=form.cleaned_data["version"],
                        therapist=form.cleaned_data["therapist"],
                        quit_date=form.cleaned_data["quit_date"],
                        request=request,
                    )
                    issued = _send_invitation(enrolment, user, request)
            except actions.CareError as error:
                _apply_care_error(form, error)
            else:
                if not issued.invitation.channels:
                    # Nowhere to send it: show the code and link once, for the phone.
                    return issued_response(request, issued)
                _report_invitation(request, issued)
                return redirect("care:enrolment_manage", enrolment.pk)
        status = 422
    else:
        default_therapist = therapists.filter(pk=user.pk).first()
        form = EnrolForm(
            initial={"version": versions.first(), "therapist": default_therapist}, **form_kwargs
        )
        status = 200
    return render(
        request,
        "care/enrolments/enrol.html",
        {"assessment": assessment, "form": form},
        status=status,
    )


def _send_invitation(
    enrolment: Enrolment, user: User, request: HttpRequest
) -> invitations.IssuedInvitation:
    return invitations.send_invitation(enrolment, actor=user, request=request)


def _report_invitation(request: HttpRequest, issued: invitations.IssuedInvitation) -> None:
    messages.success(
        request,
        _("The patient is enrolled and the invitation has been sent (%(channels)s).")
        % {"channels": ", ".join(_channel_label(c) for c in issued.invitation.channels)},
    )


def _channel_label(channel: str) -> str:
    return {"email": _("e-mail"), "sms": _("SMS")}.get(channel, channel)


def _manage_context(request: HttpRequest, enrolment: Enrolment, **forms: Any) -> dict[str, Any]:
    therapists = actions.therapists_of(enrolment.unit)
    allowed = [
        (status, STATUS_ACTIONS[status])
        for status in ENROLMENT_TRANSITIONS[enrolment.status]
        if status in STATUS_ACTIONS
        and status != Enrolment.Status.ACTIVE
        or (status == Enrolment.Status.ACTIVE and enrolment.status == Enrolment.Status.PAUSED)
    ]
    invitation = (
        Invitation.objects.filter(enrolment=enrolment).order_by("-created_at", "-pk").first()
    )
    return {
        "enrolment": enrolment,
        "patient": enrolment.patient,
        "events": enrolment.events.select_related("actor").order_by("created_at", "pk"),
        "status_actions": allowed,
        "status_form": forms.get("status_form") or StatusForm(),
        "handover_form": forms.get("handover_form")
        or HandoverForm(therapists=therapists, initial={"therapist": enrolment.therapist_id}),
        "guidance_form": forms.get("guidance_form")
        or GuidanceForm(initial={"guidance": "guided" if enrolment.guided else "self_help"}),
        "invitation": invitation,
        "now": timezone.now(),
    }


@login_required
def enrolment_manage(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = access.get_enrolment_for_staff(request, enrolment_id, purpose="care")
    return render(request, "care/enrolments/manage.html", _manage_context(request, enrolment))


def _refused(request: HttpRequest, enrolment: Enrolment, **forms: Any) -> HttpResponse:
    return render(
        request,
        "care/enrolments/manage.html",
        _manage_context(request, enrolment, **forms),
        status=422,
    )


@login_required
@require_POST
def enrolment_status(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = access.get_enrolment_for_staff(request, enrolment_id, purpose="care")
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            changed = actions.change_status(
                enrolment,
                form.cleaned_data["status"],
                actor=_user(request),
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except actions.CareError as error:
            _apply_care_error(form, error)
        else:
            messages.success(
                request,
                _("The treatment is now %(status)s.") % {"status": changed.get_status_display()},
            )
            return redirect("care:enrolment_manage", enrolment.pk)
    # The status is chosen with buttons, not a field the error summary could link to.
    for message in form.errors.pop("status", []):
        form.add_error(None, message)
    return _refused(request, enrolment, status_form=form)


@login_required
@require_POST
def enrolment_therapist(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = access.get_enrolment_for_staff(request, enrolment_id, purpose="care")
    form = HandoverForm(request.POST, therapists=actions.therapists_of(enrolment.unit))
    if form.is_valid():
        try:
            changed = actions.assign_therapist(
                enrolment,
                therapist=form.cleaned_data["therapist"],
                actor=_user(request),
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except actions.CareError as error:
            _apply_care_error(form, error)
        else:
            therapist = changed.therapist
            messages.success(
                request,
                _("%(name)s is now the patient's therapist.")
                % {"name": therapist.get_full_name() if therapist else "–"},
            )
            return redirect("care:enrolment_manage", enrolment.pk)
    return _refused(request, enrolment, handover_form=form)


@login_required
@require_POST
def enrolment_guidance(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = access.get_enrolment_for_staff(request, enrolment_id, purpose="care")
    form = GuidanceForm(request.POST)
    if form.is_valid():
        guided = form.cleaned_data["guidance"] == "guided"
        try:
            actions.set_guidance(
                enrolment,
                guided=guided,
                actor=_user(request),
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except actions.CareError as error:
            _apply_care_error(form, error)
        else:
            messages.success(
                request,
                _("The treatment is now guided by a therapist.")
                if guided
                else _("The treatment is now self-help."),
            )
            return redirect("care:enrolment_manage", enrolment.pk)
    return _refused(request, enrolment, guidance_form=form)
