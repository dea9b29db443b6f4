from django.urls import include, path

from steg.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accessibility/", core_views.accessibility, name="accessibility"),
    path("language/", core_views.set_language, name="set_language"),
    path("", include("steg.accounts.urls")),
    path("", include("steg.care.urls")),
    path("", include("steg.programmes.urls")),
    path("", include("steg.questionnaires.urls")),
    path("", include("steg.tobacco.urls")),
    path("", include("steg.dialog.urls")),
    path("", include("steg.dashboard.urls")),
    path("", include("steg.automation.urls")),
    path("manage/audit/", include("steg.audit.urls")),
    path("account/", include("allauth.urls")),
]

handler400 = "steg.core.views.bad_request"
handler403 = "steg.core.views.permission_denied"
handler404 = "steg.core.views.page_not_found"
handler500 = "steg.core.views.server_error"
