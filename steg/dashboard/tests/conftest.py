"""Fixtures for the dashboard tests: the tobacco programme, and running after-commit hooks."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from steg.programmes.actions import import_programme
from steg.programmes.models import ProgrammeVersion

from .utils import TOBACCO


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tobacco(db: None) -> ProgrammeVersion:
    return import_programme(TOBACCO).version
