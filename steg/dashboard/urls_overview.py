"""The therapist's overview of a treatment (included in the `dashboard` namespace)."""

from django.urls import path

from . import views_overview

urlpatterns = [
    path(
        "staff/enrolments/<int:enrolment_id>/overview/",
        views_overview.overview,
        name="overview",
    ),
]
