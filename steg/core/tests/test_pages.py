"""Pages that belong to no domain: error pages, maintenance and outages, the language switch,
security headers, and the refusal to start with unsafe production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.models import User
from steg.core.views import ERROR_TEXTS, ERROR_TITLES, MAINTENANCE_TEXT
from steg.testing.personas import PASSWORD, World

BASE_DIR = Path(settings.BASE_DIR)
COOKIE = settings.LANGUAGE_COOKIE_NAME

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def swedish(text: object) -> str:
    with translation.override("sv"):
        return translation.gettext(str(text))


def english(text: object) -> str:
    with translation.override("en"):
        return translation.gettext(str(text))


def english_client() -> Client:
    client = Client(raise_request_exception=False)
    client.cookies[COOKIE] = "en"
    return client


def assert_error_page(response: Response, status: int, *, language: str) -> None:
    """Steg's own error page in the given language, with the status and nothing technical."""
    assert response.status_code == status
    translate = swedish if language == "sv" else english
    assertContains(response, f'<html lang="{language}">', status_code=status)
    assertContains(response, translate(ERROR_TITLES[status]), status_code=status)
    assertNotContains(response, "Traceback", status_code=status)
    assertNotContains(response, "Django", status_code=status)


# --- Error pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 500, 503])
def test_error_texts_are_translated_to_swedish(status: int) -> None:
    assert swedish(ERROR_TITLES[status]) != english(ERROR_TITLES[status])
    assert swedish(ERROR_TEXTS[status]) != english(ERROR_TEXTS[status])


def test_maintenance_text_is_translated_to_swedish() -> None:
    assert swedish(MAINTENANCE_TEXT) != english(MAINTENANCE_TEXT)


def test_unknown_address_gets_the_404_page_in_swedish(db: None) -> None:
    response = Client().get("/no-such-page/")
    assert_error_page(response, 404, language="sv")
    assertContains(response, swedish(ERROR_TEXTS[404]), status_code=404)
    assert response["Content-Language"] == "sv"


def test_unknown_address_gets_the_404_page_in_english_when_chosen(db: None) -> None:
    response = english_client().get("/no-such-page/")
    assert_error_page(response, 404, language="en")
    assertContains(response, english(ERROR_TEXTS[404]), status_code=404)


def test_404_page_follows_the_logged_in_users_saved_language(world: World) -> None:
    User.objects.filter(pk=world.patient_user.pk).update(language="en")
    client = Client()
    client.force_login(User.objects.get(pk=world.patient_user.pk))
    assert_error_page(client.get("/no-such-page/"), 404, language="en")


@pytest.mark.urls("steg.core.tests.error_urls")
def test_bad_request_gets_the_400_page_in_both_languages(db: None) -> None:
    assert_error_page(Client().get("/test-errors/400/"), 400, language="sv")
    assert_error_page(english_client().get("/test-errors/400/"), 400, language="en")


@pytest.mark.urls("steg.core.tests.error_urls")
def test_a_bug_gets_the_500_page_in_both_languages(db: None) -> None:
    response = Client(raise_request_exception=False).get("/test-errors/500/")
    assert_error_page(response, 500, language="sv")
    assertContains(response, swedish(ERROR_TEXTS[500]), status_code=500)
    assertNotContains(response, "a bug", status_code=500)
    assert_error_page(english_client().get("/test-errors/500/"), 500, language="en")


def test_a_foreign_host_header_gets_the_400_page_in_the_chosen_language(db: None) -> None:
    # This request is refused before the language is chosen from the user; the cookie still
    # decides, whatever the previous request in this thread used.
    english_client().get("/accessibility/")
    response = Client().get("/accessibility/", HTTP_HOST="evil.example")
    assert_error_page(response, 400, language="sv")
    Client().get("/accessibility/")
    response = english_client().get("/accessibility/", HTTP_HOST="evil.example")
    assert_error_page(response, 400, language="en")


# --- Maintenance and outages -----------------------------------------------------------------


@override_settings(MAINTENANCE_MODE=True)
def test_maintenance_mode_answers_503_with_retry_after(world: World) -> None:
    for client in (Client(), english_client()):
        response = client.get(reverse("accessibility"))
        assert response.status_code == 503
        assert int(response["Retry-After"]) > 0
    response = Client().get(reverse("account_login"))
    assert_error_page(response, 503, language="sv")
    assertContains(response, swedish(MAINTENANCE_TEXT), status_code=503)
    response = english_client().get(reverse("account_login"))
    assertContains(response, english(MAINTENANCE_TEXT), status_code=503)


@override_settings(MAINTENANCE_MODE=True)
def test_maintenance_mode_refuses_logins_and_writes_nothing(world: World) -> None:
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "patient@test.example", "password": PASSWORD}
    )
    assert response.status_code == 503
    assert "_auth_user_id" not in client.session
    assert User.objects.get(pk=world.patient_user.pk).last_login is None


@override_settings(MAINTENANCE_MODE=True)
def test_maintenance_mode_still_serves_the_stylesheet(db: None) -> None:
    response = Client().get("/static/css/steg.css")
    assert response.status_code == 200


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_database_failure_in_a_view_answers_503(
    error: type[Exception], world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("therapist")
    with mock.patch("steg.care.access.Patient.objects") as patients:
        patients.filter.side_effect = error("could not connect to server: Connection refused")
        response = client.get(reverse("care:patient_record", args=[world.patient.pk]))
    assert_error_page(response, 503, language="sv")
    assertContains(response, swedish(ERROR_TEXTS[503]), status_code=503)
    assert int(response["Retry-After"]) > 0
    assertNotContains(response, "Connection refused", status_code=503)


def test_database_down_for_a_logged_in_user_answers_503_not_500(
    world: World, client_as: Callable[[str], Client]
) -> None:
    # With the database gone, loading the user already fails in a middleware, before any view.
    client = client_as("patient")
    client.raise_request_exception = False
    client.cookies[COOKIE] = "en"
    client.get(reverse("care:patient_start"))
    with mock.patch.object(
        BaseDatabaseWrapper,
        "ensure_connection",
        side_effect=OperationalError("connection refused"),
    ):
        response = client.get(reverse("care:patient_start"))
    assert_error_page(response, 503, language="en")
    assertContains(response, english(ERROR_TEXTS[503]), status_code=503)


# --- The language switch -------------------------------------------------------------------


def test_switching_language_saves_it_on_the_user_and_in_a_cookie(world: World) -> None:
    client = Client()
    client.force_login(world.patient_user)
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("care:patient_start")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("care:patient_start")
    assert User.objects.get(pk=world.patient_user.pk).language == "en"
    cookie = response.cookies[COOKIE]
    assert cookie.value == "en"
    assert int(cookie["max-age"]) >= 365 * 24 * 3600
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    page = client.get(reverse("care:patient_start"))
    assertContains(page, '<html lang="en">')
    assert page["Content-Language"] == "en"


def test_the_saved_language_is_used_after_the_next_login_in_another_browser(
    world: World,
) -> None:
    client = Client()
    client.force_login(world.patient_user)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    client.post(reverse("account_logout"))

    other_browser = Client()  # no language cookie
    assertContains(other_browser.get(reverse("account_login")), '<html lang="sv">')
    response = other_browser.post(
        reverse("account_login"),
        {"login": "patient@test.example", "password": PASSWORD},
        follow=True,
    )
    assertContains(response, '<html lang="en">')


def test_the_saved_language_beats_an_old_cookie(world: World) -> None:
    User.objects.filter(pk=world.patient_user.pk).update(language="sv")
    client = Client()
    client.cookies[COOKIE] = "en"
    assertContains(client.get(reverse("account_login")), '<html lang="en">')
    client.force_login(User.objects.get(pk=world.patient_user.pk))
    assertContains(client.get(reverse("care:patient_start")), '<html lang="sv">')


def test_switching_back_to_swedish(world: World) -> None:
    User.objects.filter(pk=world.patient_user.pk).update(language="en")
    client = Client()
    client.force_login(User.objects.get(pk=world.patient_user.pk))
    client.post(reverse("set_language"), {"language": "sv", "next": "/"})
    assert User.objects.get(pk=world.patient_user.pk).language == "sv"
    assertContains(client.get(reverse("care:patient_start")), '<html lang="sv">')


def test_anonymous_visitors_switch_by_cookie_only(db: None) -> None:
    client = Client()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accessibility/"})
    assert response.cookies[COOKIE].value == "en"
    assertContains(client.get(reverse("account_login")), '<html lang="en">')


def test_an_unknown_language_is_ignored_without_error(world: World) -> None:
    client = Client()
    client.force_login(world.patient_user)
    response = client.post(
        reverse("set_language"), {"language": "xx", "next": reverse("accessibility")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accessibility")
    assert COOKIE not in response.cookies
    assert User.objects.get(pk=world.patient_user.pk).language == ""
    assertContains(client.get(reverse("accessibility")), '<html lang="sv">')


def test_a_missing_language_is_ignored_without_error(db: None) -> None:
    response = Client().post(reverse("set_language"), {})
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "/\\evil.example",
    ],
)
def test_the_language_switch_ignores_an_off_site_next(next_url: str, db: None) -> None:
    response = Client().post(reverse("set_language"), {"language": "en", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_the_language_switch_keeps_a_local_next_with_its_query(db: None) -> None:
    response = Client().post(
        reverse("set_language"), {"language": "en", "next": "/manage/audit/?page=2"}
    )
    assert response["Location"] == "/manage/audit/?page=2"


def test_the_language_switch_only_answers_post(db: None) -> None:
    response = Client().get(reverse("set_language"), {"language": "en"})
    assert response.status_code == 405
    assert COOKIE not in response.cookies


# --- Security headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "url_name"),
    [
        ("anonymous", "account_login"),
        ("anonymous", "accessibility"),
        ("patient", "care:patient_start"),
        ("therapist", "accounts:staff_start"),
        ("admin", "audit:log"),
        ("patient", "mfa_index"),
    ],
)
def test_pages_have_a_strict_content_security_policy(
    persona: str, url_name: str, client_as: Callable[[str], Client]
) -> None:
    response = client_as(persona).get(reverse(url_name))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in (p.strip() for p in policy.split(";")) if part
    )
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    # And the page itself needs none of it.
    content = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content), "inline script"
    assert not re.search(r"\sstyle=", content), "inline style attribute"
    assert "<style" not in content
    assert not re.search(r"\son[a-z]+=", content), "inline event handler"


def test_error_pages_have_the_content_security_policy_too(db: None) -> None:
    response = Client().get("/no-such-page/")
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_pages_may_not_be_framed_and_do_not_leak_referrers(db: None) -> None:
    response = Client().get(reverse("account_login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_for_one_person_are_not_cached_for_another(
    client_as: Callable[[str], Client],
) -> None:
    response = client_as("patient").get(reverse("care:patient_start"))
    assert "Cookie" in response["Vary"]


# --- Production settings ----------------------------------------------------------------------


def production_env(**overrides: str | None) -> dict[str, str]:
    """A clean environment for Steg in production, with `overrides` (None removes a variable)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STEG_", "DJANGO_", "SECURE_"))
        and key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "SECRET_KEY_FILE",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "REDIS_URL",
            "CSRF_TRUSTED_ORIGINS",
        }
    }
    env.update(
        STEG_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48)[:64],
        ALLOWED_HOSTS="steg.example",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DJANGO_SETTINGS_MODULE="steg.settings",
        STEG_SMS_BACKEND="steg.dialog.sms.NullSmsBackend",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "django-insecure-steg-local-development-only"}, "SECRET_KEY must be set"),
        ({"DATABASE_URL": None}, "DATABASE_URL must point to PostgreSQL"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set"),
    ],
    ids=["debug", "no-secret-key", "short-secret-key", "dev-secret-key", "sqlite", "no-hosts"],
)
def test_production_settings_refuse_to_start_with_unsafe_values(
    overrides: dict[str, str | None], problem: str
) -> None:
    result = run_python(["-c", "import steg.settings"], production_env(**overrides))
    assert result.returncode != 0
    assert problem in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_settings_with_safe_values_start() -> None:
    result = run_python(["-c", "import steg.settings"], production_env())
    assert result.returncode == 0, result.stderr


def test_sqlite_in_production_only_when_asked_for(tmp_path: Path) -> None:
    env = production_env(DATABASE_URL=None, STEG_ALLOW_SQLITE="true", STEG_DATA_DIR=str(tmp_path))
    result = run_python(["-c", "import steg.settings"], env)
    assert result.returncode == 0, result.stderr


def test_check_deploy_passes_with_production_settings() -> None:
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
