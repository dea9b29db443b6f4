"""Cross-cutting request handling: request ids, language, maintenance and outages."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from .views import is_database_unavailable, render_error_page

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}

Handler = Callable[[HttpRequest], HttpResponse]


def language_for(request: HttpRequest) -> str:
    """Swedish unless the user (or, before login, the browser cookie) chose otherwise."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        chosen = getattr(user, "language", "")
        if chosen in LANGUAGE_CODES:
            return str(chosen)
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if cookie in LANGUAGE_CODES:
        return cookie
    return str(settings.LANGUAGE_CODE)


class RequestIdMiddleware:
    """Give every request an id (or keep a well-formed one from the proxy) for logs and audit."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class LanguageMiddleware:
    """Activate the user's language: Swedish by default, no Accept-Language guessing."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = language_for(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


class MaintenanceMiddleware:
    """With STEG_MAINTENANCE=true every page answers 503 with a maintenance notice."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.MAINTENANCE_MODE and not request.path.startswith(settings.STATIC_URL):
            translation.activate(language_for(request))
            return render_error_page(request, 503, maintenance=True)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """With the database down, answer a clear 503 page instead of a crash."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            logger.error("Database unavailable: %s", type(exception).__name__)
            return render_error_page(request, 503)
        return None
