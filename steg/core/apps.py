from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "steg.core"
    label = "core"
