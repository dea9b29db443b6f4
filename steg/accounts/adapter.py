"""How django-allauth fits Steg: no self sign-up; staff keep their second factor."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
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
    """An e-ID login reaches an account that exists, or makes one only to activate an invitation.

    A new account from an e-ID login is allowed only while this session is activating a usable
    invitation whose patient has no account yet, and only when the e-ID's personal identity
    number (claim `STEG_OIDC_PERSONNUMMER_CLAIM`) is the patient's. The account gets the
    e-mail address and name from the patient record; the activation page then links it to
    the patient (docs/care-journey.md).
    """

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return _invitation_for(request, sociallogin) is not None

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        invitation = _invitation_for(request, sociallogin)
        if invitation is not None:
            patient = invitation.enrolment.patient
            if patient.email:
                # The record's address, not the e-ID's (brokers often send none): it is the one
                # the care unit knows, and allauth then makes the account without asking.
                user.email = patient.email.lower()
                sociallogin.email_addresses = [
                    EmailAddress(email=user.email, verified=False, primary=True)
                ]
            user.first_name = patient.first_name
            user.last_name = patient.last_name
        return user


def _invitation_for(request: HttpRequest, sociallogin: Any) -> Any:
    from steg.care.invitations import invitation_for_eid_signup

    account = getattr(sociallogin, "account", None)
    return invitation_for_eid_signup(request, getattr(account, "extra_data", None))


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        user = authenticator.user
        if authenticator.type == Authenticator.Type.TOTP and getattr(
            user, "is_staff_member", False
        ):
            return False
        return super().can_delete_authenticator(authenticator)
