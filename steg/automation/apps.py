from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "steg.automation"
    label = "automation"
    verbose_name = "Automation"
