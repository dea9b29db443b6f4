from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "steg.accounts"
    label = "accounts"
