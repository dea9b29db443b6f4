from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TobaccoConfig(AppConfig):
    """The tobacco cessation programme's own aids (medication list, savings, plan, ...)."""

    name = "steg.tobacco"
    verbose_name = _("Tobacco cessation")

    def ready(self) -> None:
        # Registers the aids, the system check of their data files and the dashboard's slip
        # detector.
        from . import aids, attention, checks  # noqa: F401
