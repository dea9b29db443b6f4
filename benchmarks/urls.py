"""Steg's URLconf plus /bench/minimal/, the baseline page for the load benchmarks, and
/bench/layout/, the same inside Steg's layout."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path


def minimal(request: HttpRequest) -> HttpResponse:
    """A tiny template rendered with the request (context processors run), no SQL of its own."""
    return render(request, "bench/minimal.html", {"title": "Steg benchmark"})


def layout(request: HttpRequest) -> HttpResponse:
    """The same text inside Steg's layout (base.html: the header with its links and the
    patient's message count, the footer), with no other queries: what the layout costs."""
    return render(request, "bench/layout.html", {"title": "Steg benchmark"})


urlpatterns = [
    path("bench/minimal/", minimal, name="bench_minimal"),
    path("bench/layout/", layout, name="bench_layout"),
    path("", include("steg.urls")),
]

handler400 = "steg.core.views.bad_request"
handler403 = "steg.core.views.permission_denied"
handler404 = "steg.core.views.page_not_found"
handler500 = "steg.core.views.server_error"
