"""Meetings (included in the `care` namespace by steg/care/urls.py)."""

from django.urls import path

from . import views_meetings

urlpatterns = [
    path(
        "staff/patients/<int:patient_id>/meetings/new/",
        views_meetings.meeting_new,
        name="meeting_new",
    ),
    path("staff/meetings/<int:meeting_id>/", views_meetings.meeting_edit, name="meeting_edit"),
    path(
        "staff/meetings/<int:meeting_id>/cancel/",
        views_meetings.meeting_cancel,
        name="meeting_cancel",
    ),
    path("patient/meetings/", views_meetings.my_meetings, name="my_meetings"),
    path(
        "patient/meetings/<int:meeting_id>/reschedule/",
        views_meetings.meeting_reschedule,
        name="meeting_reschedule",
    ),
    path(
        "meetings/<int:meeting_id>/calendar.ics",
        views_meetings.meeting_ics,
        name="meeting_ics",
    ),
]
