"""How django-allauth fits Steg: no self sign-up; staff keep their second factor."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Patients get an account through an invitation from their care unit; staff are
        # added by an administrator. Nobody signs up on their own.
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # An e-ID login only reaches an account that already exists (connected on activation).
        return False


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        user = authenticator.user
        if authenticator.type == Authenticator.Type.TOTP and getattr(
            user, "is_staff_member", False
        ):
            return False
        return super().can_delete_authenticator(authenticator)
