"""The project's URLs with the tobacco app's, for tests (until the lead includes them)."""

from django.urls import include, path

from steg.urls import handler400, handler403, handler404, handler500  # noqa: F401
from steg.urls import urlpatterns as project_urlpatterns

_included = any(getattr(p, "namespace", None) == "tobacco" for p in project_urlpatterns)
urlpatterns = list(project_urlpatterns)
if not _included:
    urlpatterns.append(path("", include("steg.tobacco.urls")))
