"""Browser journeys in headless Chromium: Debian's browser, never a downloaded one.

The browser is found at ``$STEG_CHROMIUM``, else /usr/lib/chromium/chromium, else
/usr/bin/chromium. Without a browser the tests are skipped locally. With ``CI=true`` each
test fails instead (in its call phase, so it counts as failed, not as a setup error): a broken
CI image must not pass by running no journeys at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
# the ORM calls that tests make alongside it (load_demo, assertions on the database).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def chromium_path() -> str:
    configured = os.environ.get("STEG_CHROMIUM", "").strip()
    if configured:
        return configured
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return CHROMIUM_CANDIDATES[0]


@dataclass(frozen=True)
class MissingBrowser:
    """Stands in for the browser in CI when there is none; every test using it then fails."""

    reason: str


def no_browser(reason: str) -> MissingBrowser:
    """Skip outside CI; in CI return a stand-in that makes each test fail."""
    if not in_ci():
        pytest.skip(f"browser journeys skipped: {reason} (set STEG_CHROMIUM to a Chromium binary)")
    return MissingBrowser(f"CI=true but the browser journeys cannot run: {reason}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    missing = pyfuncitem.funcargs.get("browser")
    if isinstance(missing, MissingBrowser):
        pytest.fail(missing.reason, pytrace=False)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - dev dependency missing
        yield no_browser(f"Playwright for Python is not installed ({exc})")
        return
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        yield no_browser(f"no Chromium executable at {path}")
        return
    manager = sync_playwright().start()
    try:
        try:
            launched = manager.chromium.launch(
                executable_path=path, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            first_line = exc.message.splitlines()[0] if exc.message else repr(exc)
            yield no_browser(f"Chromium at {path} did not start: {first_line}")
            return
        yield launched
        launched.close()
    finally:
        manager.stop()


@pytest.fixture(scope="session")
def axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@dataclass
class PageGuard:
    """Collects console errors, uncaught script errors and server errors (status >= 500)."""

    problems: list[str] = field(default_factory=list)
    _allowed_console: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught script error: {error}"))
        page.on("response", self._on_response)

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        if any(pattern.search(text) for pattern in self._allowed_console):
            return
        where = message.location.get("url", "") if message.location else ""
        self.problems.append(f"console error at {where}: {text}")

    def _on_response(self, response: Any) -> None:
        if response.status >= 500:
            self.problems.append(
                f"HTTP {response.status} for {response.request.method} {response.url}"
            )

    @contextmanager
    def allow_console(self, pattern: str) -> Iterator[None]:
        """Let console errors matching pattern pass, e.g. the 404 a test asks for on purpose."""
        compiled = re.compile(pattern)
        self._allowed_console.append(compiled)
        try:
            yield
        finally:
            self._allowed_console.remove(compiled)

    def assert_clean(self) -> None:
        assert not self.problems, "Browser reported problems:\n" + "\n".join(self.problems)


@pytest.fixture
def guard() -> PageGuard:
    return PageGuard()


@pytest.fixture
def page(browser: Any, live_server: Any, guard: PageGuard) -> Iterator[Any]:
    """A fresh context (no cookies) per test, watched by the guard."""
    if isinstance(browser, MissingBrowser):
        yield None  # pytest_pyfunc_call fails the test
        return
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    guard.attach(page)
    try:
        yield page
    finally:
        context.close()
    guard.assert_clean()
