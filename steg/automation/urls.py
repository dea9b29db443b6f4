"""Automation for staff (names in the `automation` namespace): the open rule flags of a
treatment, marked handled from its overview; the admins' queue, failures and retries."""

from django.urls import path

from . import views

app_name = "automation"
urlpatterns = [
    path(
        "staff/enrolments/<int:enrolment_id>/rule-flags/<int:flag_id>/handled/",
        views.flag_handled,
        name="flag_handled",
    ),
    path("staff/automation/", views.queue, name="queue"),
    path("staff/automation/firings/<int:firing_id>/retry/", views.retry, name="retry"),
]
