"""Steg's URLconf plus /bench/minimal/, the baseline page for the load benchmarks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path


def minimal(request: HttpRequest) -> HttpResponse:
    """A tiny template rendered with the request (context processors run), no SQL of its own."""
    return render(request, "bench/minimal.html", {"title": "Steg benchmark"})


urlpatterns = [
    path("bench/minimal/", minimal, name="bench_minimal"),
    path("", include("steg.urls")),
]

handler400 = "steg.core.views.bad_request"
handler403 = "steg.core.views.permission_denied"
handler404 = "steg.core.views.page_not_found"
handler500 = "steg.core.views.server_error"
