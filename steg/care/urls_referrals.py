"""Referrals and the assessment talk (names in the `care` namespace: care:referral_new, ...)."""

from django.urls import path

from . import views_referrals as views

urlpatterns = [
    path("staff/referrals/new/", views.referral_new, name="referral_new"),
    path("staff/referrals/sent/", views.referrals_sent, name="referrals_sent"),
    path("staff/units/<int:unit_id>/referrals/", views.referral_inbox, name="referral_inbox"),
    path("staff/referrals/<int:referral_id>/", views.referral_detail, name="referral_detail"),
    path(
        "staff/referrals/<int:referral_id>/assign/", views.referral_assign, name="referral_assign"
    ),
    path("staff/referrals/<int:referral_id>/close/", views.referral_close, name="referral_close"),
    path(
        "staff/referrals/<int:referral_id>/assessment/",
        views.assessment_new,
        name="assessment_new",
    ),
]
