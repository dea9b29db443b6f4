from django.urls import include, path

app_name = "dashboard"
urlpatterns = [
    # By area (each module's names are in this namespace: dashboard:...).
    path("", include("steg.dashboard.urls_dashboard")),
    path("", include("steg.dashboard.urls_overview")),
]
