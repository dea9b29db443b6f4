"""Opening an invitation (by its link or its short code), activating it, the terms of use, and
sending a new invitation (staff).

The link's token never stays in the address bar or in a Referer header: opening the link puts
the invitation's id in the session and redirects to the activation page at once. It is kept out
of the logs too (`steg.care.logging.RedactInvitationTokens`).
"""

from __future__ import annotations

from typing import Any

from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from steg.accounts.models import User

from . import access, invitations
from .actions import CareError
from .forms_invitations import ActivationForm, InvitationCodeForm
from .invitations import SESSION_KEY
from .models import Invitation

# allauth's rate limit for wrong codes (ACCOUNT_RATE_LIMITS["invitation_code"]: per address).
RATE_LIMIT_ACTION = "invitation_code"

# Refusals that are about the invitation itself (not about who is logged in or the form).
INVITATION_REFUSALS = {"unknown", "used", "locked", "revoked", "expired", "closed"}


def _unusable(request: HttpRequest, error: CareError) -> HttpResponse:
    """The page for a link or code that does not work: why, and what to do instead."""
    if request.method != "HEAD":
        request.session.pop(SESSION_KEY, None)
    status = 404 if error.code == "unknown" else 410
    return render(
        request,
        "care/invitations/unusable.html",
        {"error": error, "code": error.code},
        status=status,
    )


def _start_activation(request: HttpRequest, invitation: Invitation, *, via: str) -> HttpResponse:
    invitations.record_opened(request, invitation, via=via)
    request.session[SESSION_KEY] = invitation.pk
    return redirect("care:invitation_activate")


@require_safe
@never_cache
def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the invitation: check it, remember it in the session, go on.

    HEAD (mail link checkers and scanners fetch links before the patient does) answers as GET
    would, with the same status, but records no opening and leaves the session alone: it is
    not the patient, and nothing of the patient's is shown to it.
    """
    invitation = invitations.invitation_for_token(token)
    try:
        invitations.check_usable(invitation)
    except CareError as error:
        return _unusable(request, error)
    assert invitation is not None  # noqa: S101 - check_usable refuses None
    if request.method == "HEAD":
        return HttpResponseRedirect(reverse("care:invitation_activate"))
    return _start_activation(request, invitation, via="link")


@require_http_methods(["GET", "POST"])
@never_cache
def invitation_code(request: HttpRequest) -> HttpResponse:
    """Enter the short code from the invitation (instead of opening the link)."""
    status = 200
    form = InvitationCodeForm(request.POST or None)
    if request.method == "POST":
        if not ratelimit.consume(request, action=RATE_LIMIT_ACTION, dry_run=True):
            limited = _(
                "Too many wrong codes have been entered from here. Wait 15 minutes and try "
                "again, or open the link in your invitation instead."
            )
            return render(
                request,
                "care/invitations/code.html",
                {"form": InvitationCodeForm(), "limited": limited},
                status=429,
            )
        if form.is_valid():
            invitation = invitations.invitation_for_code(form.cleaned_data["code"])
            if invitation is None:
                ratelimit.consume(request, action=RATE_LIMIT_ACTION)
                form.add_error(
                    "code",
                    _(
                        "We could not find an invitation with this code. Check that you have "
                        "typed it as it is written in the invitation."
                    ),
                )
            else:
                try:
                    invitations.check_usable(invitation)
                except CareError as error:
                    return _unusable(request, error)
                return _start_activation(request, invitation, via="code")
        status = 422
    return render(request, "care/invitations/code.html", {"form": form}, status=status)


def _eid_login() -> dict[str, str] | None:
    """The e-ID login button's target and text, when OpenID Connect is configured."""
    if not settings.OIDC_ENABLED:
        return None
    app: dict[str, Any] = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]  # type: ignore[index]
    return {
        "url": reverse("openid_connect_login", kwargs={"provider_id": app["provider_id"]}),
        "name": str(app["name"]),
    }


def _logged_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


@require_http_methods(["GET", "POST"])
@never_cache
def invitation_activate(request: HttpRequest) -> HttpResponse:
    """Welcome the patient; account (or e-ID), terms, consent and quit date; start."""
    invitation = invitations.invitation_by_id(request.session.get(SESSION_KEY))
    if invitation is None:
        messages.info(
            request, _("Open the link in your invitation, or enter the code from it here.")
        )
        return redirect("care:invitation_code")
    try:
        invitations.check_usable(invitation)
    except CareError as error:
        return _unusable(request, error)
    enrolment = invitation.enrolment
    patient = enrolment.patient
    user = _logged_in(request)
    here = reverse("care:invitation_activate")
    context: dict[str, Any] = {
        "patient": patient,
        "invitation": invitation,
        "eid": _eid_login() if user is None else None,
        "here": here,
        "login_url": reverse("account_login") + "?" + urlencode({"next": here}),
    }
    try:
        _account, how = invitations.account_for_activation(patient, user)
    except CareError as error:
        # Either log in first (the patient has an account), or someone else is logged in.
        context.update(refusal=error, code=error.code)
        status = 200 if error.code == "login_required" else 403
        return render(request, "care/invitations/activate.html", context, status=status)

    today = timezone.localdate()
    new_account = how == "password"
    status = 200
    if request.method == "POST":
        form = ActivationForm(request.POST, today=today, new_account=new_account)
        if form.is_valid():
            data = form.cleaned_data
            try:
                enrolment, account = invitations.activate(
                    invitation.pk,
                    user=user,
                    personnummer=data.get("personnummer", ""),
                    email=data.get("email", ""),
                    password=data.get("password1", ""),
                    accept_terms=data["accept_terms"],
                    consent=data["consent"],
                    quit_date=data["quit_date"],
                    request=request,
                )
            except CareError as error:
                if error.code in INVITATION_REFUSALS:
                    return _unusable(request, error)
                form.add_error(
                    error.field if error.field in form.fields else None, str(error.message)
                )
            else:
                if user is None:
                    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
                request.session.pop(SESSION_KEY, None)
                messages.success(request, _("Welcome! Your treatment has started."))
                return redirect("programmes:continue", enrolment.pk)
        status = 422
    else:
        quit_date = (
            enrolment.quit_date if enrolment.quit_date and enrolment.quit_date >= today else None
        )
        form = ActivationForm(
            initial={"email": patient.email, "quit_date": quit_date},
            today=today,
            new_account=new_account,
        )
    context.update(form=form, how=how)
    return render(request, "care/invitations/activate.html", context, status=status)


@require_GET
def terms(request: HttpRequest) -> HttpResponse:
    """The terms of use, and what consenting to digital treatment means."""
    return render(
        request, "care/invitations/terms.html", {"terms_version": settings.STEG_TERMS_VERSION}
    )


@login_required
@require_POST
@never_cache
def invitation_resend(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """Send the patient a new invitation; the old link and code stop working."""
    enrolment = access.get_enrolment_for_staff(request, enrolment_id, purpose="care")
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    try:
        issued = invitations.send_invitation(enrolment, actor=user, request=request)
    except CareError as error:
        if error.code == "recently_sent":
            # A double click: the first click's invitation is on its way and stays valid.
            messages.info(request, str(error.message))
            return redirect("care:enrolment_manage", enrolment.pk)
        messages.error(request, str(error.message))
        return redirect("care:patient_record", enrolment.patient_id)
    return issued_response(request, issued)


def issued_response(request: HttpRequest, issued: invitations.IssuedInvitation) -> HttpResponse:
    """After sending an invitation: back to the patient record, or, when the patient has no
    e-mail address or mobile number, a page that shows the code and link once."""
    channels = issued.invitation.channels
    patient = issued.invitation.enrolment.patient
    if channels:
        labels = {"email": _("e-mail"), "sms": _("SMS")}
        messages.success(
            request,
            _(
                "A new invitation has been sent (%(channels)s). The earlier link and code no "
                "longer work."
            )
            % {"channels": ", ".join(labels.get(c, c) for c in channels)},
        )
        return redirect("care:enrolment_manage", issued.invitation.enrolment_id)
    response = render(
        request,
        "care/invitations/issued.html",
        {"issued": issued, "patient": patient, "enrolment": issued.invitation.enrolment},
    )
    response["Cache-Control"] = "no-store"
    return response
