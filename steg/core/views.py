"""Pages that belong to no domain: home routing, accessibility statement, errors."""

from __future__ import annotations

import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from steg.accounts.models import User

from .forms import LanguageForm

ERROR_TITLES = {
    400: _("The request could not be understood"),
    403: _("You do not have access to this page"),
    404: _("The page could not be found"),
    500: _("Something went wrong on our side"),
    503: _("Steg is not available right now"),
}
ERROR_TEXTS = {
    400: _("Something in the request was wrong. Go back and try again."),
    403: _("You are not allowed to do this. If you think you should be, contact your care unit."),
    404: _(
        "The address may be wrong, or the page may have moved. "
        "Nothing you have written has been lost."
    ),
    500: _(
        "We could not finish what you asked for, and nothing was changed. "
        "Please try again in a little while."
    ),
    503: _(
        "We cannot reach our database at the moment. Nothing has been saved half-way. "
        "Please try again in a few minutes."
    ),
}
MAINTENANCE_TEXT = _(
    "Steg is being updated. Please come back in a little while. Nothing you have saved is lost."
)


def is_database_unavailable(exception: BaseException | None) -> bool:
    return isinstance(exception, OperationalError | InterfaceError) or (
        isinstance(exception, DatabaseError) and "connection" in str(exception).lower()
    )


def _error_page_language(request: HttpRequest | None) -> str:
    """The language chosen for this request, or the cookie's when the request failed earlier."""
    language = getattr(request, "LANGUAGE_CODE", "")  # set by LanguageMiddleware
    if not language and request is not None:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if language not in {code for code, _name in settings.LANGUAGES}:
        language = settings.LANGUAGE_CODE
    return str(language)


def render_error_page(
    request: HttpRequest | None, status: int, *, maintenance: bool = False, text: str = ""
) -> HttpResponse:
    """Render an error page without touching the database (it may be what failed)."""
    language = _error_page_language(request)
    context = {
        "status": status,
        "title": ERROR_TITLES[status],
        "text": text or (MAINTENANCE_TEXT if maintenance else ERROR_TEXTS[status]),
        "LANGUAGE_CODE": language,
    }
    with translation.override(language):
        html = render_to_string("errors/error.html", context)
    response = HttpResponse(html, status=status)
    if status == 503:
        response["Retry-After"] = "300"
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error_page(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error_page(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error_page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    # A database outage outside a view (e.g. loading the user in a middleware) is not seen by
    # DatabaseUnavailableMiddleware; it still gets the 503 page rather than a 500.
    if is_database_unavailable(sys.exc_info()[1]):
        return render_error_page(request, 503)
    return render_error_page(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render_error_page(
        request,
        403,
        text=str(
            _(
                "The form had expired or was sent from another page, so nothing was saved. "
                "Go back, reload the page and try again."
            )
        ),
    )


def home(request: HttpRequest) -> HttpResponse:
    """Send each person to their own start page."""
    user = request.user
    if not user.is_authenticated:
        return redirect("account_login")
    if getattr(user, "is_admin", False):
        return redirect("accounts:admin_start")
    if getattr(user, "is_staff_member", False):
        return redirect("accounts:staff_start")
    return redirect("care:patient_start")


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "core/accessibility.html")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch language; remembered in a cookie and, when logged in, on the account."""
    form = LanguageForm(request.POST)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if not form.is_valid():
        return response
    language = form.cleaned_data["language"]
    user = request.user
    if isinstance(user, User) and user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=getattr(settings, "LANGUAGE_COOKIE_SECURE", False),
        httponly=True,
    )
    return response
