"""Keeping invitation tokens out of the logs.

An invitation link (`/invitation/<token>/`) is a secret that activates a treatment. Django logs
the path of every 4xx and 5xx answer (`django.request`: "Not Found: /invitation/…/", "Gone: …",
"Method Not Allowed (POST): …") and the development server logs every request line
(`django.server`). `RedactInvitationTokens`, a filter on those two loggers (settings.LOGGING),
rewrites the token to `[redacted]` in the message, its arguments and the request attached to
the record, before any handler sees it. See docs/care-journey.md, "Invitations and activation".
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from django.http import HttpRequest

REDACTED = "[redacted]"

# `/invitation/<anything>` up to the next slash, query, fragment, space or quote; not the fixed
# pages under /invitation/ (the activation page), and not `[redacted]` again.
_TOKEN_PATH = re.compile(r"(/invitation/)(?!activate(?:[/?#\s\"']|$))[^/?#\s\"']+")


def redact(text: str) -> str:
    """`text` with every invitation token in a path replaced by `[redacted]`."""
    if "/invitation/" not in text:
        return text
    return _TOKEN_PATH.sub(r"\g<1>" + REDACTED, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def _redacted_request(request: HttpRequest) -> HttpRequest:
    """A copy of the request whose path and environ name no token (the request goes on
    unchanged: a log filter must not change what the view or the middleware see)."""
    meta = {key: _redact_value(value) for key, value in request.META.items()}
    path, path_info = redact(request.path), redact(request.path_info)
    if meta == request.META and (path, path_info) == (request.path, request.path_info):
        return request
    clone = copy.copy(request)
    clone.META = meta
    clone.path = path
    clone.path_info = path_info
    return clone


class RedactInvitationTokens(logging.Filter):
    """Rewrite `/invitation/<token>/` to `/invitation/[redacted]/` in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.request = _redacted_request(request)
        return True
