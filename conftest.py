"""Fixtures shared by every test module: the personas and clients logged in as them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from steg.testing.personas import World, build_world


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate limits and used TOTP codes live in the cache; tests must not leak them.
    cache.clear()


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture
def client_as(world: World) -> Callable[[str], Client]:
    """A test client logged in as a persona ('anonymous' gives a fresh client)."""

    def make(persona: str) -> Client:
        client = Client()
        user = world.persona(persona)
        if user is not None:
            client.force_login(user)
        return client

    return make
