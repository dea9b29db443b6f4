"""Notification settings (anyone logged in, for themselves) and failed sends (administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event
from steg.care.access import get_own_patient
from steg.care.models import Enrolment, Patient, Referral

from .forms_notifications import NotificationPreferenceForm, RetryForm
from .models import Notification, NotificationQuerySet
from .notifications import SECRETS, retry_failed_notification
from .preferences import get_preferences, save_preferences

FAILED_PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


# Settings --------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The user's own channels and quiet hours. A patient's notifications go to the address
    and number in their patient record; anyone else's to the e-mail address they log in with."""
    user = _user(request)
    patient = get_own_patient(request)
    email, phone = (patient.email, patient.phone) if patient is not None else (user.email, "")
    current = get_preferences(user)
    form = NotificationPreferenceForm(
        request.POST if request.method == "POST" else None,
        initial={
            "by_email": current.by_email,
            "by_sms": current.by_sms,
            "quiet_from": current.quiet_from,
            "quiet_until": current.quiet_until,
        },
        email=email,
        phone=phone,
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        save_preferences(
            user=user,
            patient=patient,
            by_email=data["by_email"],
            by_sms=data["by_sms"],
            quiet_from=data["quiet_from"],
            quiet_until=data["quiet_until"],
            request=request,
        )
        messages.success(request, _("Your notification settings have been saved."))
        return redirect("dialog:preferences")
    return render(
        request,
        "dialog/preferences.html",
        {"form": form, "is_patient": patient is not None},
        status=422 if form.is_bound else 200,
    )


# Failed sends ----------------------------------------------------------------------------------


def _administered(user: User) -> NotificationQuerySet:
    """Notifications to patients with an enrolment at, or a referral to, a unit the user
    administers (all units of their organisation, for a region admin), and to the staff of
    those units. Subqueries, so the list stays one query whatever the data."""
    units = Unit.objects.administered_by(user).values("pk")
    enrolled = Enrolment.objects.filter(unit__in=units).values("patient_id")
    referred = Referral.objects.filter(Referral.CARE_RELATION, receiving_unit__in=units).values(
        "patient_id"
    )
    staff = Membership.objects.filter(unit__in=units).values("user_id")
    return Notification.objects.filter(
        Q(patient_id__in=enrolled)
        | Q(patient_id__in=referred)
        | Q(patient__isnull=True, user_id__in=staff)
    )


def _failed_or_retrying(notifications: NotificationQuerySet) -> NotificationQuerySet:
    """Given up on, or waiting for a retry after a failed attempt."""
    return notifications.filter(
        Q(status=Notification.Status.FAILED)
        | (Q(status=Notification.Status.QUEUED) & ~Q(last_error=""))
    )


def mask_address(channel: str, address: str) -> str:
    """Enough of an address to tell two apart, not enough to use it: `p***@example.org`,
    `+4670***67`."""
    if channel == Notification.Channel.EMAIL:
        local, at, domain = address.partition("@")
        return f"{local[:1]}***{at}{domain}" if at else "***"
    digits = "".join(address.split())
    keep = 5 if digits.startswith("+") else 3
    if len(digits) < keep + 5:
        return "***"
    return f"{digits[:keep]}***{digits[-2:]}"


@login_required
@require_http_methods(["GET"])
def failed(request: HttpRequest) -> HttpResponse:
    """Failed sends, and those waiting for a retry, at the units the user administers."""
    user = _user(request)
    if not user.is_admin:
        raise Http404
    notifications = (
        _failed_or_retrying(_administered(user)).select_related("patient").newest_first()
    )
    page = Paginator(notifications, FAILED_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    # Patients the user has a care relation with (as a unit admin): only they are named.
    patient_ids = {row.patient_id for row in rows if row.patient_id is not None}
    in_care = set(
        Patient.objects.in_care_of(user).filter(pk__in=patient_ids).values_list("pk", flat=True)
    )
    items = [
        {
            "notification": row,
            "address": mask_address(row.channel, row.address),
            "patient": row.patient if row.patient_id in in_care else None,
            "about_patient": row.patient_id is not None,
            "retryable": row.status == Notification.Status.FAILED and row.kind not in SECRETS,
        }
        for row in rows
    ]
    record_event(
        action="dialog.notification.failed_listed",
        actor=Actor(user, "admin"),
        request=request,
        object_type="dialog.notification",
        purpose="administration",
        detail={"page": page.number, "patients": sorted(in_care)},
    )
    return render(request, "dialog/failed.html", {"page": page, "items": items})


@login_required
@require_POST
def retry(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Try a failed notification again now; a repeated click changes nothing."""
    user = _user(request)
    notification = (
        _administered(user).select_related("patient").filter(pk=notification_id).first()
        if user.is_admin
        else None
    )
    if notification is None:
        record_event(
            action="dialog.notification.access_denied",
            actor=Actor(user),
            request=request,
            object_type="dialog.notification",
            object_id=notification_id,
            purpose="administration",
        )
        raise Http404("No such notification")
    outcome = retry_failed_notification(
        notification=notification, actor=Actor(user, "admin"), request=request
    )
    if outcome == "queued":
        messages.success(request, _("The notification has been queued to be sent again."))
    elif outcome == "has_secrets":
        messages.error(
            request,
            _(
                "A failed invitation cannot be sent again: its link is no longer kept. "
                "Send a new invitation from the patient's treatment page."
            ),
        )
    else:
        messages.info(request, _("The notification is no longer failed: it was not sent again."))
    form = RetryForm(request.POST)
    url = reverse("dialog:failed")
    if form.is_valid() and form.cleaned_data["page"]:
        url += f"?page={form.cleaned_data['page']}"
    return redirect(url)
