"""Messages, feedback, internal notes and message templates (names: dialog:<name>)."""

from django.urls import path

from . import views_messages as views

P = "patient/treatments/<int:enrolment_id>/messages/"
S = "staff/enrolments/<int:enrolment_id>/"
urlpatterns = [
    # The patient's side.
    path("patient/messages/", views.patient_inbox, name="patient_inbox"),
    path(P, views.patient_messages, name="patient_messages"),
    path(P + "send/", views.send, name="send"),
    path(P + "draft/", views.save_draft, name="save_draft"),
    # The care team's side.
    path(S + "messages/", views.staff_messages, name="staff_messages"),
    path(S + "messages/send/", views.staff_send, name="staff_send"),
    path(S + "messages/draft/", views.staff_save_draft, name="staff_save_draft"),
    path(S + "messages/template/", views.template_preview, name="template_preview"),
    path(
        S + "feedback/<str:kind>/<path:key>/",
        views.feedback,
        name="feedback",
    ),
    path(S + "notes/", views.notes, name="notes"),
    path("staff/units/<int:unit_id>/templates/", views.templates, name="templates"),
    path("staff/templates/<int:template_id>/", views.template_edit, name="template_edit"),
]
