from django.urls import path

from . import views

app_name = "programmes"
T = "patient/treatments/<int:enrolment_id>/"
urlpatterns = [
    path(T, views.overview, name="overview"),
    path(T + "continue/", views.continue_where_left, name="continue"),
    path(T + "steps/<slug:step_key>/", views.step, name="step"),
    path(T + "pages/<slug:page_key>/", views.page, name="page"),
    path(T + "pages/<slug:page_key>/read/", views.mark_read, name="mark_read"),
    path(T + "pages/<slug:page_key>/exercises/<slug:key>/", views.exercise, name="exercise"),
    path(T + "pages/<slug:page_key>/checklists/<slug:key>/", views.checklist, name="checklist"),
    path(T + "search/", views.search_view, name="search"),
    path(T + "pdf/", views.pdf, name="pdf"),
    path("programme-media/<str:sha256>", views.media, name="media"),
    path(
        "staff/enrolments/<int:enrolment_id>/steps/<slug:step_key>/open/",
        views.open_step,
        name="open_step",
    ),
]
