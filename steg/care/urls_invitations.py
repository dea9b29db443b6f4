"""Invitations and their activation (included in the `care` namespace)."""

from django.urls import path

from . import views_invitations as views

urlpatterns = [
    path("invitation/", views.invitation_code, name="invitation_code"),
    path("invitation/activate/", views.invitation_activate, name="invitation_activate"),
    path("invitation/<str:token>/", views.invitation_open, name="invitation_open"),
    path("terms/", views.terms, name="terms"),
    path(
        "staff/enrolments/<int:enrolment_id>/invitation/",
        views.invitation_resend,
        name="invitation_resend",
    ),
]
