from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("staff/", views.staff_start, name="staff_start"),
    path("manage/", views.admin_start, name="admin_start"),
    path("account/overview/", views.overview, name="overview"),
]
