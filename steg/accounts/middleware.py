"""Session lifetime and the second factor that staff must use."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

Handler = Callable[[HttpRequest], HttpResponse]

SESSION_STARTED = "steg_started"
SESSION_LAST_SEEN = "steg_last_seen"
SESSION_MFA_OK = "steg_mfa_ok"
# Refresh the idle clock at most this often, so that reads do not write the session each time.
LAST_SEEN_RESOLUTION = 60


class SessionTimeoutMiddleware:
    """Log out after an idle period and after an absolute session lifetime."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.get(SESSION_STARTED)
            last_seen = session.get(SESSION_LAST_SEEN)
            if started is None or last_seen is None:
                session[SESSION_STARTED] = started = now
                session[SESSION_LAST_SEEN] = last_seen = now
            idle = now - last_seen > settings.SESSION_IDLE_TIMEOUT.total_seconds()
            too_old = now - started > settings.SESSION_ABSOLUTE_LIFETIME.total_seconds()
            if idle or too_old:
                logout(request)
                messages.info(
                    request,
                    _("You were logged out because you had been inactive for a while.")
                    if idle
                    else _("Your session has ended. Please log in again."),
                )
                if request.method == "GET" and not request.headers.get("HX-Request"):
                    login_url = reverse("account_login")
                    return redirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
                return redirect("account_login")
            if now - last_seen >= LAST_SEEN_RESOLUTION:
                session[SESSION_LAST_SEEN] = now
        return self.get_response(request)


class StaffMfaRequiredMiddleware:
    """Staff must set up a TOTP second factor before they can do anything else."""

    ALLOWED_PREFIXES = ("/account/", "/language/", "/accessibility/")

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.session.get(SESSION_MFA_OK)
            and not request.path.startswith(settings.STATIC_URL)
        ):
            if not getattr(user, "is_staff_member", False) or _has_totp(user.pk):
                request.session[SESSION_MFA_OK] = True
            elif not request.path.startswith(self.ALLOWED_PREFIXES):
                messages.info(
                    request,
                    _(
                        "Staff accounts need a second factor. Set up an authenticator app "
                        "to continue."
                    ),
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)


def _has_totp(user_id: int) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user_id, type=Authenticator.Type.TOTP).exists()
