from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .forms import LanguageForm


def steg(request: HttpRequest) -> dict[str, Any]:
    return {
        "language_form": LanguageForm(initial={"language": getattr(request, "LANGUAGE_CODE", "sv")}),
        "OIDC_ENABLED": settings.OIDC_ENABLED,
    }
