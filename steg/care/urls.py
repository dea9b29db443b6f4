from django.urls import include, path

from . import views

app_name = "care"
urlpatterns = [
    path("patient/", views.patient_start, name="patient_start"),
    path("staff/units/<int:unit_id>/", views.unit_patients, name="unit_patients"),
    path("staff/patients/<int:patient_id>/", views.patient_record, name="patient_record"),
    # The care journey, by area (each module's names are in this namespace: care:...).
    path("", include("steg.care.urls_referrals")),
    path("", include("steg.care.urls_invitations")),
    path("", include("steg.care.urls_meetings")),
    path("", include("steg.care.urls_enrolments")),
]
