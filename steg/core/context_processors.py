from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def steg(request: HttpRequest) -> dict[str, Any]:
    return {
        "OIDC_ENABLED": settings.OIDC_ENABLED,
    }
