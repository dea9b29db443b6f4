from django.urls import path

from . import views

app_name = "questionnaires"
T = "patient/treatments/<int:enrolment_id>/"
urlpatterns = [
    path(T + "questionnaires/", views.questionnaire_list, name="list"),
    path(T + "questionnaires/<slug:questionnaire_id>/", views.fill, name="fill"),
    path(T + "questionnaires/<slug:questionnaire_id>/<str:day>/", views.result, name="result"),
    path(T + "measurements/", views.measurements_view, name="measurements"),
]
