from django.urls import include, path

from . import views

app_name = "dialog"
urlpatterns = [
    path("dev/outbox/", views.outbox, name="outbox"),
    # By area (each module's names are in this namespace: dialog:...).
    path("", include("steg.dialog.urls_messages")),
    path("", include("steg.dialog.urls_notifications")),
]
