"""Fixtures for the dashboard tests: the tobacco programme, the overview's address and a
therapist's client (English pages)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from steg.programmes.actions import import_programme
from steg.programmes.models import ProgrammeVersion
from steg.testing.personas import World

from .utils import TOBACCO


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tobacco(db: None) -> ProgrammeVersion:
    return import_programme(TOBACCO).version


@pytest.fixture
def url(world: World) -> str:
    return reverse("dashboard:overview", args=[world.enrolment.pk])


@pytest.fixture
def therapist(client_as: Callable[[str], Client]) -> Client:
    client = client_as("therapist")
    client.cookies["steg_language"] = "en"
    return client
