"""Production refuses to start without an SMS backend, or with the development outbox on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings


def import_settings(
    environment: str = "production", code: str = "import steg.settings", **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STEG_", "DJANGO_", "SECURE_", "EMAIL_"))
        and key not in {"DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "DATABASE_URL"}
    }
    env.update(STEG_ENV=environment, **extra)
    if environment == "production":
        env.update(
            SECRET_KEY=secrets.token_urlsafe(48)[:64],
            ALLOWED_HOSTS="steg.example",
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        )
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("environment", ["development", "test"])
def test_locally_sms_are_printed_and_the_outbox_is_on(environment: str) -> None:
    result = import_settings(
        environment,
        "from steg import settings as s; "
        "print(s.STEG_SMS_BACKEND, s.STEG_DEV_OUTBOX, s.STEG_NOTIFY_MAX_ATTEMPTS)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["steg.dialog.sms.ConsoleSmsBackend", "True", "5"]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({}, "STEG_SMS_BACKEND must be set"),
        (
            {"STEG_SMS_BACKEND": "steg.dialog.sms.NullSmsBackend", "STEG_DEV_OUTBOX": "true"},
            "STEG_DEV_OUTBOX must be off",
        ),
    ],
    ids=["no-sms-backend", "dev-outbox-on"],
)
def test_production_refuses_unsafe_notification_settings(
    extra: dict[str, str], problem: str
) -> None:
    result = import_settings(**extra)
    assert result.returncode != 0
    assert problem in result.stderr


def test_production_starts_with_an_explicit_sms_backend() -> None:
    result = import_settings(STEG_SMS_BACKEND="steg.dialog.sms.NullSmsBackend")
    assert result.returncode == 0, result.stderr
