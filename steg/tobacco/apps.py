from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TobaccoConfig(AppConfig):
    """The tobacco cessation programme's own aids (medication list, savings, plan, ...)."""

    name = "steg.tobacco"
    verbose_name = _("Tobacco cessation")

    def ready(self) -> None:
        # Registers the aids and the system check of their data files.
        from . import aids, checks  # noqa: F401
