"""The therapist's dashboard (included in the `dashboard` namespace)."""

from django.urls import path

from . import views_dashboard

urlpatterns = [
    path("staff/dashboard/", views_dashboard.home, name="home"),
]
