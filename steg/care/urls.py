from django.urls import path

from . import views

app_name = "care"
urlpatterns = [
    path("patient/", views.patient_start, name="patient_start"),
    path("staff/units/<int:unit_id>/", views.unit_patients, name="unit_patients"),
    path("staff/patients/<int:patient_id>/", views.patient_record, name="patient_record"),
]
