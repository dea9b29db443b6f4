"""The development outbox: what Steg would have sent, readable in the browser."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .models import Notification

OUTBOX_PAGE_SIZE = 25


@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """Every notification, newest first. Open without login: it is a development tool, off
    (404) unless STEG_DEV_OUTBOX is on, and Steg refuses to start in production with it on."""
    if not settings.STEG_DEV_OUTBOX:
        raise Http404
    paginator = Paginator(Notification.objects.newest_first(), OUTBOX_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "dialog/outbox.html", {"page": page})
