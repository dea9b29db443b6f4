"""How django-allauth fits Steg: no self sign-up; no password by e-mail for an e-ID account;
staff keep their second factor."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.utils import filter_users_by_email
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def logs_in_with_e_id_only(user: AbstractBaseUser) -> bool:
    """An account that has an e-ID connected and no password of its own.

    Such an account was made from an e-ID login (`SocialAccountAdapter`), with the e-mail address
    of the patient record: typed by a referrer, never confirmed. A password-reset link sent
    there would let whoever reads that mailbox give the account a password and log in as the
    patient, so none is sent.
    """
    from allauth.socialaccount.models import SocialAccount

    return not user.has_usable_password() and SocialAccount.objects.filter(user=user).exists()


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Patients get an account through an invitation from their care unit; staff are
        # added by an administrator. Nobody signs up on their own.
        return False

    def send_password_reset_mail(
        self, user: AbstractBaseUser, email: str, context: dict[str, Any]
    ) -> None:
        """No reset link for an account that logs in with e-ID only (`logs_in_with_e_id_only`).

        allauth's hook for "who may reset a password". The page after the request says the same
        neutral thing for every address (ACCOUNT_PREVENT_ENUMERATION): the form does not know
        that nothing was sent.
        """
        if logs_in_with_e_id_only(user):
            logger.info("No password reset mail for account %s: it logs in with e-ID", user.pk)
            return
        super().send_password_reset_mail(user, email, context)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # Password reset by code (ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED, off in Steg) mails
        # the code straight through send_mail: the same rule, for the accounts of the address.
        if template_prefix == "account/email/password_reset_code":
            users = filter_users_by_email(email, is_active=True, prefer_verified=True)
            if any(logs_in_with_e_id_only(user) for user in users):
                logger.info("No password reset code for an account that logs in with e-ID")
                return
        super().send_mail(template_prefix, email, context)


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
