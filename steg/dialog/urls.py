from django.urls import path

from . import views

app_name = "dialog"
urlpatterns = [
    path("dev/outbox/", views.outbox, name="outbox"),
]
