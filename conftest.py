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


@pytest.fixture(autouse=True)
def _clear_outline_cache() -> None:
    # Outlines are cached per process by version id and content hash. Rolled-back tests on
    # SQLite reuse ids, so a cached outline could point at pages of an earlier test.
    from steg.programmes.outline import _load_outline, _load_version

    _load_outline.cache_clear()
    _load_version.cache_clear()
    from steg.questionnaires.loader import clear_cache

    clear_cache()
    from steg.automation.engine import clear_rules_cache

    clear_rules_cache()


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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print which database ran the suite and how many browser tests ran (CI reads this)."""
    from django.db import connection

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            phases = ("call",) if outcome == "passed" else ("setup", "call", "teardown")
            if getattr(report, "when", "call") in phases and "browser" in getattr(
                report, "keywords", {}
            ):
                counts["failed" if outcome == "error" else outcome] += 1
    terminalreporter.write_line(
        f"Steg suite on database: {connection.vendor}; browser tests: "
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    )
