from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "steg.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        # Connects the receiver that writes every patient login to the audit log.
        from . import logins  # noqa: F401
