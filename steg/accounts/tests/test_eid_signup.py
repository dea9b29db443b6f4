"""An e-ID login (OpenID Connect) creates an account only to activate an invitation, and only
for the person the invitation is for: the e-ID's personal identity number claim must be the
patient's (steg.accounts.adapter.SocialAccountAdapter)."""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from allauth.core import context
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from steg.accounts.adapter import SocialAccountAdapter
from steg.accounts.models import User
from steg.care import actions, invitations
from steg.care.invitations import SESSION_KEY, IssuedInvitation
from steg.care.models import Enrolment, Patient
from steg.lib.personnummer import luhn_check_digit
from steg.testing.personas import World, make_assessment, make_user

PERSONNUMMER = f"19500101123{luhn_check_digit('500101123')}"
SOMEONE_ELSE = f"19850315238{luhn_check_digit('850315238')}"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def issued(world: World) -> IssuedInvitation:
    patient = Patient.objects.create(
        personnummer=PERSONNUMMER,
        first_name="Nils",
        last_name="Nykomling",
        email="Nils@Test.example",
    )
    version = world.enrolment.programme_version
    assessment = make_assessment(patient, world.unit, version.programme, therapist=world.therapist)
    enrolment = actions.enrol_patient(assessment=assessment, actor=world.therapist)
    return invitations.send_invitation(enrolment, actor=world.therapist)


def request_with(invitation_id: int | None) -> HttpRequest:
    request = RequestFactory().get("/account/oidc/eid/login/callback/")
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore()
    if invitation_id is not None:
        request.session[SESSION_KEY] = invitation_id
    return request


def sociallogin(claims: dict[str, Any], where: str = "userinfo") -> Any:
    """A stand-in for allauth's SocialLogin: the e-ID's claims as allauth stores them."""
    return SimpleNamespace(account=SimpleNamespace(extra_data={where: claims}), user=User())


def claims(personnummer: str) -> dict[str, Any]:
    return {"sub": "abc", "personal_identity_number": personnummer}


def open_for_signup(request: HttpRequest, login: Any) -> bool:
    return SocialAccountAdapter().is_open_for_signup(request, login)


def test_the_e_id_of_the_invited_patient_may_make_an_account(issued: IssuedInvitation) -> None:
    request = request_with(issued.invitation.pk)
    assert open_for_signup(request, sociallogin(claims(PERSONNUMMER)))
    # The claim may come in the ID token only, and in the ten-digit form.
    assert open_for_signup(request, sociallogin(claims(PERSONNUMMER[2:8] + "-" + PERSONNUMMER[8:])))
    assert open_for_signup(request, sociallogin(claims(PERSONNUMMER), where="id_token"))


def test_the_e_id_of_someone_else_may_not(issued: IssuedInvitation) -> None:
    request = request_with(issued.invitation.pk)
    assert not open_for_signup(request, sociallogin(claims(SOMEONE_ELSE)))
    assert not open_for_signup(request, sociallogin({"sub": "abc"}))
    assert not open_for_signup(request, sociallogin(claims("not a number")))


def test_without_an_invitation_in_the_session_nobody_may(issued: IssuedInvitation) -> None:
    assert not open_for_signup(request_with(None), sociallogin(claims(PERSONNUMMER)))
    assert not open_for_signup(request_with(999_999), sociallogin(claims(PERSONNUMMER)))


def test_a_used_revoked_or_expired_invitation_may_not(
    world: World, issued: IssuedInvitation
) -> None:
    invitation = issued.invitation
    login = sociallogin(claims(PERSONNUMMER))
    invitation.expires_at = timezone.now()
    invitation.save(update_fields=["expires_at"])
    assert not open_for_signup(request_with(invitation.pk), login)
    newer = invitations.send_invitation(invitation.enrolment, actor=world.therapist)
    assert not open_for_signup(request_with(invitation.pk), login)  # revoked
    assert open_for_signup(request_with(newer.invitation.pk), login)


def test_a_patient_who_has_an_account_gets_no_second_one(issued: IssuedInvitation) -> None:
    patient = issued.invitation.enrolment.patient
    patient.user = make_user("nils@test.example", "Nils", "Nykomling")
    patient.save(update_fields=["user"])
    assert not open_for_signup(
        request_with(issued.invitation.pk), sociallogin(claims(PERSONNUMMER))
    )


def test_the_claims_name_is_configurable(issued: IssuedInvitation, settings: Settings) -> None:
    settings.STEG_OIDC_PERSONNUMMER_CLAIM = "ssn"
    request = request_with(issued.invitation.pk)
    assert open_for_signup(request, sociallogin({"sub": "abc", "ssn": PERSONNUMMER}))
    assert not open_for_signup(request, sociallogin(claims(PERSONNUMMER)))


def test_the_new_account_gets_the_email_address_and_name_from_the_patient_record(
    issued: IssuedInvitation,
) -> None:
    login = sociallogin(claims(PERSONNUMMER) | {"email": "other@eid.example"})
    user = SocialAccountAdapter().populate_user(
        request_with(issued.invitation.pk), login, {"email": "other@eid.example"}
    )
    assert user.email == "nils@test.example"
    assert (user.first_name, user.last_name) == ("Nils", "Nykomling")


def test_without_a_matching_invitation_the_e_id_data_is_left_alone(world: World) -> None:
    login = sociallogin(claims(PERSONNUMMER))
    user = SocialAccountAdapter().populate_user(
        request_with(None), login, {"email": "someone@eid.example", "first_name": "Sam"}
    )
    assert user.email == "someone@eid.example"
    assert user.first_name == "Sam"


# Through allauth's own login flow, as after the broker's callback (without the network).

OIDC_APP = {
    "provider_id": "eid",
    "name": "e-legitimation",
    "client_id": "steg",
    "secret": "not-a-secret",
    "settings": {"server_url": "https://broker.example"},
}


def e_id_callback(invitation_id: int | None, personnummer: str) -> HttpResponse:
    """What allauth does with a successful e-ID login carrying these claims."""
    request = request_with(invitation_id)
    request.user = AnonymousUser()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    request.session.save()
    with context.request_context(request):
        provider = get_adapter().get_provider(request, "eid")
        login = provider.sociallogin_from_response(
            request,
            {"userinfo": {**claims(personnummer), "sub": f"sub-{personnummer}"}},
        )
        login.state = {"process": "login", "next": reverse("care:invitation_activate")}
        return complete_social_login(request, login)


@pytest.fixture
def oidc(settings: Settings) -> None:
    settings.OIDC_ENABLED = True
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": [OIDC_APP]}}


@pytest.mark.usefixtures("oidc")
def test_an_e_id_login_for_the_invitation_makes_the_account_and_comes_back_to_activate(
    issued: IssuedInvitation,
) -> None:
    response = e_id_callback(issued.invitation.pk, PERSONNUMMER)
    assert response.status_code == 302
    assert response["Location"] == reverse("care:invitation_activate")
    user = User.objects.get(email="nils@test.example")
    assert not user.has_usable_password()
    assert SocialAccount.objects.get(user=user).uid == f"sub-{PERSONNUMMER}"

    # On the activation page the patient only confirms terms, consent and the quit date.
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = issued.invitation.pk
    session.save()
    activated = client.post(
        reverse("care:invitation_activate"),
        {"accept_terms": "on", "consent": "on", "quit_date": timezone.localdate().isoformat()},
    )
    assert activated.status_code == 302
    patient = Patient.objects.get(personnummer=PERSONNUMMER)
    assert patient.user == user
    assert patient.enrolments.get().status == Enrolment.Status.ACTIVE


@pytest.mark.usefixtures("oidc")
def test_an_e_id_login_of_someone_else_makes_no_account(issued: IssuedInvitation) -> None:
    before = User.objects.count()
    response = e_id_callback(issued.invitation.pk, SOMEONE_ELSE)
    assert response.status_code == 200  # allauth's "sign-up is closed" page
    assert User.objects.count() == before
    e_id_callback(None, PERSONNUMMER)
    assert User.objects.count() == before


# No password by e-mail for an account made from an e-ID: its address came from the patient
# record (typed by a referrer, never confirmed), so whoever reads that mailbox must not be able
# to give it a password (steg.accounts.adapter.AccountAdapter.send_password_reset_mail).


def e_id_account(email: str) -> User:
    user = User.objects.create_user(email, None, first_name="Nils", last_name="Nykomling")
    SocialAccount.objects.create(
        user=user,
        provider="eid",
        uid=f"sub-{PERSONNUMMER}",
        extra_data={"userinfo": claims(PERSONNUMMER)},
    )
    return user


def ask_for_reset(email: str) -> Any:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.post(reverse("account_reset_password"), {"email": email})


def test_an_e_id_account_without_a_password_gets_no_reset_mail(
    world: World, mailoutbox: list[Any]
) -> None:
    e_id_account("nils@test.example")
    e_id = ask_for_reset("nils@test.example")
    assert mailoutbox == []
    # A password account still gets its link, and the answer is the same for both.
    make_user("pia@test.example", "Pia", "Lösen")
    password = ask_for_reset("pia@test.example")
    assert [message.to for message in mailoutbox] == [["pia@test.example"]]
    assert "/account/password/reset/key/" in mailoutbox[0].body
    assert (e_id.status_code, e_id["Location"]) == (password.status_code, password["Location"])
    assert e_id["Location"] == reverse("account_reset_password_done")


def test_an_e_id_account_that_has_set_a_password_may_reset_it(
    world: World, mailoutbox: list[Any]
) -> None:
    user = e_id_account("nils@test.example")
    user.set_password("Ett-eget-losenord-42")
    user.save(update_fields=["password"])
    ask_for_reset("nils@test.example")
    assert [message.to for message in mailoutbox] == [["nils@test.example"]]


def test_the_e_id_account_from_an_invitation_gets_no_reset_mail(
    issued: IssuedInvitation, oidc: None, mailoutbox: list[Any]
) -> None:
    e_id_callback(issued.invitation.pk, PERSONNUMMER)
    user = User.objects.get(email="nils@test.example")
    assert not user.has_usable_password()
    response = ask_for_reset("Nils@Test.example")
    assert response["Location"] == reverse("account_reset_password_done")
    assert mailoutbox == []


def test_nor_a_reset_code_if_reset_by_code_is_turned_on(
    world: World, mailoutbox: list[Any]
) -> None:
    # The by-code flow (off in Steg) mails the code through send_mail, not the reset hook.
    from steg.accounts.adapter import AccountAdapter

    e_id_account("nils@test.example")
    make_user("pia@test.example", "Pia", "Lösen")
    request = request_with(None)
    with context.request_context(request):
        adapter = AccountAdapter(request)
        for email in ("nils@test.example", "pia@test.example"):
            adapter.send_mail(
                "account/email/password_reset_code", email, {"request": request, "code": "ABC"}
            )
    assert [message.to for message in mailoutbox] == [["pia@test.example"]]
