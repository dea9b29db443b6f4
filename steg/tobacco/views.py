"""The patient's quit date, and the manual on how to find and use the programme."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from steg.audit.actions import Actor
from steg.care.access import get_enrolment_for_patient
from steg.care.models import Enrolment

from . import actions
from .forms import QuitDateForm


def _safe_next(request: HttpRequest, default: str) -> str:
    """The page to go back to: a path on this site, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if (
        candidate.startswith("/")
        and not candidate.startswith("//")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return default


@login_required
@require_http_methods(["GET", "POST"])
def quit_date(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """Show the quit date, and set or change it. Errors are shown here; success goes back."""
    enrolment = get_enrolment_for_patient(request, enrolment_id)
    next_url = _safe_next(request, reverse("programmes:overview", args=[enrolment.pk]))
    writable = enrolment.status == Enrolment.Status.ACTIVE
    today = timezone.localdate()
    status = 200
    if request.method == "POST":
        if not writable:
            messages.error(
                request,
                _("This treatment is not active, so the quit date cannot be changed."),
            )
            return redirect(next_url)
        form = QuitDateForm(request.POST, today=today)
        if form.is_valid():
            new = form.cleaned_data["quit_date"]
            changed = actions.set_quit_date(
                enrolment=enrolment,
                quit_date=new,
                actor=Actor(request.user, "patient", enrolment.unit),  # type: ignore[arg-type]
                request=request,
            )
            shown = date_format(new, "j F Y")
            if changed:
                messages.success(request, _("Your quit date is now %(date)s.") % {"date": shown})
            else:
                messages.info(request, _("Your quit date is still %(date)s.") % {"date": shown})
            return redirect(next_url)
        status = 422
    else:
        form = QuitDateForm(initial={"quit_date": enrolment.quit_date}, today=today)
    return render(
        request,
        "tobacco/quit_date.html",
        {"enrolment": enrolment, "form": form, "next": next_url, "writable": writable},
        status=status,
    )


@require_GET
def manual(request: HttpRequest) -> HttpResponse:
    """How to find and use the programme: for everyone, logged in or not."""
    return render(request, "tobacco/manual.html")
