"""Logging in through the real django-allauth flow: passwords, lock-out, the staff's second
factor, session expiry and CSRF failures, with the messages people see (Swedish by default)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.middleware import SESSION_LAST_SEEN, SESSION_STARTED
from steg.accounts.models import User
from steg.testing.personas import PASSWORD, World, totp_code

LOGIN_URL = reverse("account_login")
MFA_URL = reverse("mfa_authenticate")

# What django-allauth and Django say, in Swedish (the default language) and English.
WRONG_CREDENTIALS_SV = "Epost-adressen och/eller lösenordet är felaktigt."
WRONG_CREDENTIALS_EN = "The email address and/or password you specified are not correct."
TOO_MANY_ATTEMPTS_SV = "För många misslyckade inloggningsförsök. Försök igen senare."
TOO_MANY_ATTEMPTS_EN = "Too many failed login attempts. Try again later."
INACTIVE_SV = "Detta konto är inaktivt."
REQUIRED_SV = "Detta fält måste fyllas i."
INCORRECT_CODE_SV = "Felaktig kod."
INCORRECT_CODE_EN = "Incorrect code."
SIGNUP_CLOSED_SV = "Tyvärr är anmälan stängd för närvarande."
CANNOT_DEACTIVATE_SV = "Du kan inte inaktivera tvåfaktorsautentisering."

# Steg's own messages (English source text, translated in locale/sv).
IDLE_LOGOUT = "You were logged out because you had been inactive for a while."
SESSION_ENDED = "Your session has ended. Please log in again."
STAFF_NEED_TOTP = "Staff accounts need a second factor. Set up an authenticator app to continue."
CSRF_TEXT = (
    "The form had expired or was sent from another page, so nothing was saved. "
    "Go back, reload the page and try again."
)

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


def swedish(text: str) -> str:
    with translation.override("sv"):
        return translation.gettext(text)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen_time() -> Iterator[time_machine.Traveller]:
    # TOTP codes change every 30 seconds with no tolerance: freeze the clock so that a code
    # computed by the test is still the current one when the server checks it.
    with time_machine.travel(time.time(), tick=False) as traveller:
        yield traveller


def log_in(client: Client, email: str, password: str, **extra: str) -> Response:
    return client.post(LOGIN_URL, {"login": email, "password": password, **extra})


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def error_summary(response: Response) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', response.content.decode(), re.S)
    assert match, "the page shows no error summary"
    return match.group(0)


def path_of(response: Response) -> str:
    return urlsplit(response["Location"]).path


def failures_per_account() -> int:
    # "20/m/ip,5/15m/key": the per-account ("key") part is the lock-out threshold.
    for rule in settings.ACCOUNT_RATE_LIMITS["login_failed"].split(","):
        amount, _period, *kind = rule.split("/")
        if kind == ["key"]:
            return int(amount)
    raise AssertionError("no per-account limit on failed logins")


# --- Passwords ---------------------------------------------------------------------------


def test_patient_logs_in_with_email_and_password_without_a_second_factor(world: World) -> None:
    client = Client()
    response = log_in(client, "patient@test.example", PASSWORD)
    assert response.status_code == 302
    assert path_of(response) == reverse("home")
    assert logged_in_user_id(client) == str(world.patient_user.pk)
    start = client.get(reverse("home"), follow=True)
    assert start.redirect_chain == [(reverse("care:patient_start"), 302)]
    assertContains(start, "Tobaksavvänjning Testby")


def test_email_is_case_insensitive_at_login(world: World) -> None:
    client = Client()
    response = log_in(client, "Patient@Test.Example", PASSWORD)
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(world.patient_user.pk)


def test_wrong_password_is_refused_with_a_clear_message(world: World) -> None:
    client = Client()
    response = log_in(client, "patient@test.example", "not-the-password")
    assertContains(response, WRONG_CREDENTIALS_SV)
    assert logged_in_user_id(client) is None


def test_unknown_user_gets_the_same_message_as_a_wrong_password(world: World) -> None:
    wrong_password = log_in(Client(), "patient@test.example", "not-the-password")
    unknown_user = log_in(Client(), "nobody@test.example", "not-the-password")
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert error_summary(unknown_user) == error_summary(wrong_password)
    assertContains(unknown_user, WRONG_CREDENTIALS_SV)


def test_login_messages_are_in_english_when_chosen(world: World) -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = log_in(client, "patient@test.example", "not-the-password")
    assertContains(response, WRONG_CREDENTIALS_EN)
    assertContains(response, '<html lang="en">')
    assertNotContains(response, WRONG_CREDENTIALS_SV)


def test_account_is_locked_after_the_configured_number_of_failures(world: World) -> None:
    limit = failures_per_account()
    client = Client()
    for _ in range(limit):
        assertContains(log_in(client, "patient@test.example", "not-the-password"), "felaktigt")
    # Even the right password is refused now, from any browser.
    response = log_in(Client(), "patient@test.example", PASSWORD)
    assertContains(response, TOO_MANY_ATTEMPTS_SV)
    assertNotContains(response, WRONG_CREDENTIALS_SV)
    assert logged_in_user_id(client) is None


def test_lock_out_message_in_english(world: World) -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for _ in range(failures_per_account()):
        log_in(client, "patient@test.example", "not-the-password")
    assertContains(log_in(client, "patient@test.example", PASSWORD), TOO_MANY_ATTEMPTS_EN)


def test_one_failure_less_than_the_limit_does_not_lock_the_account(world: World) -> None:
    client = Client()
    for _ in range(failures_per_account() - 1):
        log_in(client, "patient@test.example", "not-the-password")
    response = log_in(client, "patient@test.example", PASSWORD)
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(world.patient_user.pk)


def test_a_locked_account_does_not_lock_other_accounts(world: World) -> None:
    client = Client()
    for _ in range(failures_per_account()):
        log_in(client, "patient@test.example", "not-the-password")
    other = Client()
    response = log_in(other, "therapist@test.example", PASSWORD)
    assert response.status_code == 302
    assert path_of(response) == MFA_URL


def test_the_lock_ends_after_the_window(world: World) -> None:
    with time_machine.travel(time.time(), tick=False) as traveller:
        for _ in range(failures_per_account()):
            log_in(Client(), "patient@test.example", "not-the-password")
        assertContains(log_in(Client(), "patient@test.example", PASSWORD), TOO_MANY_ATTEMPTS_SV)
        traveller.shift(timedelta(minutes=16))
        client = Client()
        assert log_in(client, "patient@test.example", PASSWORD).status_code == 302
        assert logged_in_user_id(client) == str(world.patient_user.pk)


def test_inactive_user_cannot_log_in(world: World) -> None:
    User.objects.filter(pk=world.patient_user.pk).update(is_active=False)
    client = Client()
    response = log_in(client, "patient@test.example", PASSWORD)
    assert response.status_code == 302
    assert path_of(response) == reverse("account_inactive")
    assert logged_in_user_id(client) is None
    page = client.get(response["Location"])
    assertContains(page, INACTIVE_SV)
    # And nothing behind the login opens.
    assert client.get(reverse("care:patient_start")).status_code == 302


def test_inactive_user_with_a_wrong_password_sees_the_usual_message(world: World) -> None:
    User.objects.filter(pk=world.patient_user.pk).update(is_active=False)
    response = log_in(Client(), "patient@test.example", "not-the-password")
    assertContains(response, WRONG_CREDENTIALS_SV)


def test_nobody_can_sign_up_on_their_own(world: World) -> None:
    client = Client()
    assertContains(client.get(reverse("account_signup")), SIGNUP_CLOSED_SV)
    response = client.post(
        reverse("account_signup"),
        {"email": "new@test.example", "password1": PASSWORD, "password2": PASSWORD},
    )
    assertContains(response, SIGNUP_CLOSED_SV)
    assert not User.objects.filter(email="new@test.example").exists()


def test_login_page_keeps_the_next_address_and_goes_there_afterwards(world: World) -> None:
    client = Client()
    response = client.get(reverse("accounts:overview"))
    assert path_of(response) == LOGIN_URL
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    response = log_in(client, "patient@test.example", PASSWORD, next=next_url)
    assert response["Location"] == reverse("accounts:overview")


def test_login_ignores_an_off_site_next_address(world: World) -> None:
    client = Client()
    response = log_in(client, "patient@test.example", PASSWORD, next="https://evil.example/")
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


# --- The staff's second factor -----------------------------------------------------------


def test_staff_password_alone_does_not_log_in(world: World) -> None:
    client = Client()
    response = log_in(client, "therapist@test.example", PASSWORD)
    assert response.status_code == 302
    assert path_of(response) == MFA_URL
    assert logged_in_user_id(client) is None
    assert path_of(client.get(reverse("accounts:staff_start"))) == LOGIN_URL


def test_staff_without_a_code_stay_on_the_code_page_with_an_error(world: World) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    response = client.post(MFA_URL, {"code": ""})
    assertContains(response, REQUIRED_SV)
    assertContains(response, f'action="{MFA_URL}"')
    assert logged_in_user_id(client) is None


def test_staff_with_a_wrong_code_get_an_error(
    world: World, frozen_time: time_machine.Traveller
) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    wrong = "000000" if totp_code() != "000000" else "111111"
    response = client.post(MFA_URL, {"code": wrong})
    assertContains(response, INCORRECT_CODE_SV)
    assert logged_in_user_id(client) is None


def test_wrong_code_message_in_english(world: World, frozen_time: time_machine.Traveller) -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    log_in(client, "therapist@test.example", PASSWORD)
    wrong = "000000" if totp_code() != "000000" else "111111"
    assertContains(client.post(MFA_URL, {"code": wrong}), INCORRECT_CODE_EN)


def test_staff_with_the_right_code_reach_their_start_page(
    world: World, frozen_time: time_machine.Traveller
) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    response = client.post(MFA_URL, {"code": totp_code()}, follow=True)
    assert response.redirect_chain == [
        (reverse("home"), 302),
        (reverse("accounts:staff_start"), 302),
    ]
    assertContains(response, "Tobaksavvänjning Testby")
    assert logged_in_user_id(client) == str(world.therapist.pk)


def test_a_code_cannot_be_used_twice(world: World, frozen_time: time_machine.Traveller) -> None:
    code = totp_code()
    first = Client()
    log_in(first, "therapist@test.example", PASSWORD)
    assert first.post(MFA_URL, {"code": code}).status_code == 302
    second = Client()
    log_in(second, "therapist@test.example", PASSWORD)
    assertContains(second.post(MFA_URL, {"code": code}), INCORRECT_CODE_SV)
    assert logged_in_user_id(second) is None


def test_admin_with_the_right_code_reach_the_admin_start_page(
    world: World, frozen_time: time_machine.Traveller
) -> None:
    client = Client()
    log_in(client, "admin@test.example", PASSWORD)
    response = client.post(MFA_URL, {"code": totp_code()}, follow=True)
    assert response.redirect_chain[-1] == (reverse("accounts:admin_start"), 302)
    assert response.status_code == 200


def test_staff_cannot_remove_their_authenticator(
    world: World, frozen_time: time_machine.Traveller
) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    client.post(MFA_URL, {"code": totp_code()})
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.post(reverse("mfa_deactivate_totp"))
    assertContains(response, CANNOT_DEACTIVATE_SV)
    assert Authenticator.objects.filter(user=world.therapist, type=Authenticator.Type.TOTP).exists()


# --- Staff who have not set up a second factor yet ---------------------------------------


@pytest.fixture
def staff_without_totp(world: World) -> User:
    Authenticator.objects.filter(user=world.therapist).delete()
    return world.therapist


@pytest.mark.parametrize(
    "url_name",
    ["home", "accounts:staff_start", "care:patient_start", "accounts:admin_start", "audit:log"],
)
def test_staff_without_totp_are_sent_to_set_it_up_from_any_page(
    staff_without_totp: User, url_name: str
) -> None:
    client = Client()
    assert log_in(client, "therapist@test.example", PASSWORD).status_code == 302
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert path_of(response) == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_index"))
    assertContains(page, swedish(STAFF_NEED_TOTP))


def test_staff_without_totp_are_sent_to_set_it_up_from_patient_data(
    world: World, staff_without_totp: User
) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    response = client.get(reverse("care:patient_record", args=[world.patient.pk]))
    assert path_of(response) == reverse("mfa_activate_totp")


def test_staff_without_totp_can_still_use_account_pages(staff_without_totp: User) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("accessibility")).status_code == 200


def _activate_totp(client: Client) -> Response:
    """Go through allauth's set-up page as a person with an authenticator app would."""
    response = client.get(reverse("mfa_activate_totp"))
    if path_of(response) == reverse("account_reauthenticate"):
        client.post(response["Location"], {"password": PASSWORD})
        response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200, response.get("Location")
    secret = client.session["mfa.totp.secret"]
    return client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})


def test_staff_set_up_totp_and_then_reach_their_start_page(
    staff_without_totp: User, frozen_time: time_machine.Traveller
) -> None:
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    assert path_of(client.get(reverse("home"))) == reverse("mfa_activate_totp")
    response = _activate_totp(client)
    assert response.status_code == 302
    assert Authenticator.objects.filter(
        user=staff_without_totp, type=Authenticator.Type.TOTP
    ).exists()
    assertContains(client.get(reverse("accounts:staff_start")), "Tobaksavvänjning Testby")


def test_staff_can_set_up_totp_after_visiting_the_email_page(
    staff_without_totp: User, frozen_time: time_machine.Traveller
) -> None:
    # The e-mail page records the login address as unverified (Steg does not verify e-mail
    # addresses: staff are added by an administrator); that must not block the second factor.
    client = Client()
    log_in(client, "therapist@test.example", PASSWORD)
    assert client.get(reverse("account_email")).status_code == 200
    assert _activate_totp(client).status_code == 302
    assert client.get(reverse("accounts:staff_start")).status_code == 200


def test_patients_are_not_asked_for_totp(world: World) -> None:
    client = Client()
    response = log_in(client, "patient@test.example", PASSWORD)
    assert path_of(response) != MFA_URL
    page = client.get(reverse("care:patient_start"))
    assertContains(page, "Tobaksavvänjning Testby")


# --- Session expiry ----------------------------------------------------------------------


def test_idle_session_is_logged_out_with_a_message(world: World) -> None:
    client = Client()
    client.force_login(world.patient_user)
    assert client.get(reverse("care:patient_start")).status_code == 200
    session = client.session
    idle = int(settings.SESSION_IDLE_TIMEOUT.total_seconds())
    session[SESSION_LAST_SEEN] = int(time.time()) - idle - 5
    session.save()
    response = client.get(reverse("care:patient_start"))
    assert response.status_code == 302
    assert path_of(response) == LOGIN_URL
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [reverse("care:patient_start")]
    login_page = client.get(response["Location"])
    assertContains(login_page, swedish(IDLE_LOGOUT))
    assert logged_in_user_id(client) is None


def test_session_past_its_absolute_lifetime_is_logged_out_with_a_message(world: World) -> None:
    client = Client()
    client.force_login(world.patient_user)
    client.get(reverse("care:patient_start"))
    session = client.session
    lifetime = int(settings.SESSION_ABSOLUTE_LIFETIME.total_seconds())
    session[SESSION_STARTED] = int(time.time()) - lifetime - 5
    session.save()
    response = client.get(reverse("care:patient_start"), follow=True)
    assert response.redirect_chain[0][0].startswith(LOGIN_URL)
    assertContains(response, swedish(SESSION_ENDED))
    assert logged_in_user_id(client) is None


def test_idle_timeout_by_the_clock(world: World) -> None:
    with time_machine.travel(time.time(), tick=False) as traveller:
        client = Client()
        assert log_in(client, "patient@test.example", PASSWORD).status_code == 302
        assert client.get(reverse("care:patient_start")).status_code == 200
        traveller.shift(settings.SESSION_IDLE_TIMEOUT + timedelta(seconds=61))
        response = client.get(reverse("care:patient_start"), follow=True)
        assert response.redirect_chain[0][0].startswith(LOGIN_URL)
        assertContains(response, swedish(IDLE_LOGOUT))


def test_activity_keeps_the_session_alive_until_its_absolute_lifetime(world: World) -> None:
    step = settings.SESSION_IDLE_TIMEOUT - timedelta(minutes=5)
    with time_machine.travel(time.time(), tick=False) as traveller:
        client = Client()
        log_in(client, "patient@test.example", PASSWORD)
        elapsed = timedelta()
        while elapsed < settings.SESSION_ABSOLUTE_LIFETIME:
            assert client.get(reverse("care:patient_start")).status_code == 200, elapsed
            # The next visit comes within the idle timeout, and just after the lifetime at most.
            shift = min(step, settings.SESSION_ABSOLUTE_LIFETIME - elapsed + timedelta(minutes=1))
            traveller.shift(shift)
            elapsed += shift
        response = client.get(reverse("care:patient_start"), follow=True)
        assert response.redirect_chain[0][0].startswith(LOGIN_URL)
        assertContains(response, swedish(SESSION_ENDED))


def test_htmx_request_of_an_idle_session_is_sent_to_the_login_page(world: World) -> None:
    client = Client()
    client.force_login(world.patient_user)
    client.get(reverse("care:patient_start"))
    session = client.session
    session[SESSION_LAST_SEEN] = int(time.time()) - 24 * 3600
    session.save()
    response = client.get(reverse("care:patient_start"), headers={"HX-Request": "true"})
    assert response.status_code == 302
    assert path_of(response) == LOGIN_URL


# --- CSRF --------------------------------------------------------------------------------


def test_login_without_csrf_token_gets_a_clear_403_page_in_swedish(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    response = log_in(client, "patient@test.example", PASSWORD)
    assert response.status_code == 403
    assertContains(response, swedish(CSRF_TEXT), status_code=403)
    assertContains(response, '<html lang="sv">', status_code=403)
    assertNotContains(response, "CSRF verification failed", status_code=403)
    assert logged_in_user_id(client) is None


def test_csrf_failure_page_in_english(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = log_in(client, "patient@test.example", PASSWORD)
    assertContains(response, CSRF_TEXT, status_code=403)
    assertContains(response, '<html lang="en">', status_code=403)


def test_login_with_the_csrf_token_works_when_checks_are_enforced(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(LOGIN_URL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token
    response = log_in(client, "patient@test.example", PASSWORD, csrfmiddlewaretoken=token.group(1))
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(world.patient_user.pk)


# --- Steg's own messages have Swedish translations ---------------------------------------


@pytest.mark.parametrize("text", [IDLE_LOGOUT, SESSION_ENDED, STAFF_NEED_TOTP, CSRF_TEXT])
def test_login_related_messages_are_translated_to_swedish(text: str) -> None:
    assert swedish(text) != text, f"no Swedish translation in locale/sv for {text!r}"
