from django.urls import path

from . import views_enrolments as views

urlpatterns = [
    path("staff/assessments/<int:assessment_id>/enrol/", views.enrol, name="enrol"),
    path("staff/enrolments/<int:enrolment_id>/", views.enrolment_manage, name="enrolment_manage"),
    path(
        "staff/enrolments/<int:enrolment_id>/status/",
        views.enrolment_status,
        name="enrolment_status",
    ),
    path(
        "staff/enrolments/<int:enrolment_id>/therapist/",
        views.enrolment_therapist,
        name="enrolment_therapist",
    ),
    path(
        "staff/enrolments/<int:enrolment_id>/guidance/",
        views.enrolment_guidance,
        name="enrolment_guidance",
    ),
]
