"""Notification settings and failed sends (names in the `dialog` namespace)."""

from django.urls import path

from . import views_notifications as views

urlpatterns = [
    path("account/notifications/", views.preferences, name="preferences"),
    path("manage/notifications/failed/", views.failed, name="failed"),
    path(
        "manage/notifications/<int:notification_id>/retry/",
        views.retry,
        name="retry",
    ),
]
