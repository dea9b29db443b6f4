from django.urls import path

from . import views

app_name = "tobacco"
urlpatterns = [
    path("patient/treatments/<int:enrolment_id>/quit-date/", views.quit_date, name="quit_date"),
    path("help/", views.manual, name="manual"),
]
