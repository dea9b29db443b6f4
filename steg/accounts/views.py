"""Start pages for staff and administrators, and the account overview."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Unit, User


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


@login_required
def staff_start(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.is_staff_member:
        raise Http404
    return render(request, "accounts/staff_start.html", {"memberships": user.staff_memberships})


@login_required
def admin_start(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.is_admin:
        raise Http404
    units = Unit.objects.administered_by(user).select_related("organisation")
    return render(
        request,
        "accounts/admin_start.html",
        {"units": units, "organisations": user.administered_organisations},
    )


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/overview.html")
