"""Each demo role logs in, reaches its start page, switches language and logs out.

axe-core checks every page visited, in Swedish and in English; the guard fails a test on any
console error or any response with status >= 500.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import expect

from steg.accounts.demo import (
    AUTHOR,
    DEMO_PASSWORD,
    DEMO_PATIENT_PERSONNUMMER,
    DEMO_TOTP_SECRET,
    DEMO_UNIT,
    OTHER_THERAPIST,
    PATIENT,
    THERAPIST,
    UNIT_ADMIN,
    DemoAccount,
    load_demo,
)
from steg.accounts.models import Unit
from steg.care.models import Patient
from steg.testing.personas import totp_code

from .conftest import PageGuard

pytestmark = pytest.mark.browser

LANGUAGE_BUTTON = "header form[action='/language/'] button[name='language']"
LOG_OUT_BUTTON = "header form[action='/account/logout/'] button[type='submit']"
BUTTON_TEXT = {"sv": "In English", "en": "På svenska"}  # the button offers the other language
OTHER = {"sv": "en", "en": "sv"}
NOT_FOUND_CONSOLE = r"status of 404"


@dataclass
class Journey:
    """Drives one browser page and records every axe-core check."""

    page: Any
    axe: Any
    guard: PageGuard
    checked: list[tuple[str, str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    # --- navigation -----------------------------------------------------------------------

    def visit(self, path: str, *, status: int = 200) -> None:
        response = self.page.goto(path)
        assert response is not None
        assert response.status == status, f"GET {path}: HTTP {response.status}, expected {status}"

    def follow(self, href: str, *, within: str = "main") -> None:
        """Click the link to href (found by address: Swedish texts come from translations)."""
        with self.page.expect_navigation():
            self.page.locator(f"{within} a[href='{href}']").first.click()
        assert self.path() == href.split("?")[0], f"following {href} led to {self.path()}"

    def submit(self, form_selector: str) -> None:
        with self.page.expect_navigation():
            self.page.locator(form_selector).locator("[type='submit']").first.click()

    def hrefs(self, selector: str) -> list[str]:
        links = self.page.locator(selector)
        return sorted({str(links.nth(i).get_attribute("href")) for i in range(links.count())})

    def path(self) -> str:
        return str(self.page.evaluate("location.pathname"))

    # --- checks ---------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        return str(self.page.locator("html").get_attribute("lang"))

    def check(self, name: str, *, heading_en: str | None = None) -> None:
        """Run axe-core on the page as it is now; check the heading when in English."""
        lang = self.lang
        assert lang in ("sv", "en"), f"{name}: unexpected <html lang={lang!r}>"
        if heading_en is not None and lang == "en":
            expect(self.page.locator("h1")).to_have_text(heading_en)
        results = self.axe.run(self.page)
        assert results.response["passes"], f"{name}: axe-core ran no rules"
        self.checked.append((name, lang, self.page.url))
        if results.violations_count:
            self.violations.append(
                f"--- {name} [{lang}] {self.page.url}\n{results.generate_report()}"
            )
        self.guard.assert_clean()

    def switch_language(self) -> str:
        """Press the language button in the header and land on the same page in the other one."""
        before, path = self.lang, self.path()
        button = self.page.locator(LANGUAGE_BUTTON)
        expect(button).to_have_text(BUTTON_TEXT[before])
        with self.page.expect_navigation():
            button.click()
        after = OTHER[before]
        expect(self.page.locator("html")).to_have_attribute("lang", after)
        expect(button).to_have_text(BUTTON_TEXT[after])
        assert self.path() == path, f"language switch left {path} for {self.path()}"
        return after

    def check_both(self, name: str, *, heading_en: str | None = None) -> None:
        self.check(name, heading_en=heading_en)
        self.switch_language()
        self.check(name, heading_en=heading_en)

    def check_account_pages(self) -> set[str]:
        """From the header: the account page, every page it links to, and the same for 2FA."""
        self.follow("/account/overview/", within="header")
        self.check_both("account overview", heading_en="My account")
        names = {"account overview", "two-factor overview"}
        for href in self.hrefs("main a[href^='/account/']:not([href^='/account/2fa/'])"):
            self.visit(href)  # change password, where you are logged in
            assert self.path() == href, f"{href} led to {self.path()}"
            self.check_both(f"account: {href}")
            names.add(f"account: {href}")
            self.visit("/account/overview/")
        self.follow("/account/2fa/")
        self.check_both("two-factor overview")
        hrefs = self.hrefs("main a[href^='/account/2fa/']")
        assert hrefs, "the two-factor page links to no further pages"
        for href in hrefs:
            if "/account/reauthenticate/" in self.page.request.get(href).url:
                # allauth asks for the password again before showing or changing factors.
                self.visit(href)
                assert self.path() == "/account/reauthenticate/"
                self.check_both("reauthenticate")
                names.add("reauthenticate")
                self.page.fill("#id_password", DEMO_PASSWORD)
                self.submit("main form:has(#id_password)")
            response = self.page.request.get(href)
            assert response.ok, f"GET {href}: HTTP {response.status}"
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue  # the recovery codes as a text file to download
            self.visit(href)
            assert self.path() == href, f"{href} led to {self.path()}"
            self.check_both(f"two-factor: {href}")
            names.add(f"two-factor: {href}")
        return names

    def assert_accessible(self, expected_pages: set[str]) -> None:
        seen: dict[str, set[str]] = {}
        for name, lang, _url in self.checked:
            seen.setdefault(name, set()).add(lang)
        summary = "\n".join(f"  {name}: {sorted(langs)}" for name, langs in seen.items())
        missing = {name for name in expected_pages if seen.get(name) != {"sv", "en"}}
        assert not missing, f"not checked in both languages: {sorted(missing)}\n{summary}"
        assert not self.violations, (
            f"axe-core found violations on {len(self.violations)} of {len(self.checked)} "
            f"page checks:\n" + "\n".join(self.violations)
        )

    # --- logging in and out ---------------------------------------------------------------

    def log_in(self, account: DemoAccount, *, staff: bool) -> None:
        self.visit("/")
        assert self.path() == "/account/login/"
        self.check("login")
        self.page.fill("#id_login", account.email)
        self.page.fill("#id_password", DEMO_PASSWORD)
        self.submit("main form[action='/account/login/']")
        if staff:
            assert self.path() == "/account/2fa/authenticate/", "staff must give a second factor"
            self.check_both("two-factor authentication")
            self.page.fill("input[name='code']", fresh_totp_code())
            self.submit("main form:has(input[name='code'])")
        assert self.path() != "/account/login/", "login failed"
        assert not self.path().startswith("/account/2fa/"), "second factor not accepted"

    def log_out(self) -> None:
        language = self.lang
        with self.page.expect_navigation():
            self.page.locator(LOG_OUT_BUTTON).click()
        if self.path() == "/account/logout/":  # a confirmation page, if allauth shows one
            self.check("log out confirmation")
            self.submit("main form[action='/account/logout/']")
        assert self.path() == "/account/login/", f"after logging out: {self.path()}"
        expect(self.page.locator(LOG_OUT_BUTTON)).to_have_count(0)
        # The chosen language outlives the session (it is kept in a cookie).
        assert self.lang == language
        response = self.page.request.get("/staff/", max_redirects=0)
        assert response.status == 302, "still logged in after logging out"


def fresh_totp_code() -> str:
    """A code with at least two seconds of its 30-second window left."""
    if time.time() % 30 > 28:
        time.sleep(30 - time.time() % 30 + 0.1)
    return totp_code(DEMO_TOTP_SECRET)


@pytest.fixture
def journey(
    request: pytest.FixtureRequest,
    page: Any,
    axe: Any,
    guard: PageGuard,
    transactional_db: None,
    settings: Any,
) -> Iterator[Journey]:
    # A fast hash for the demo passwords keeps the journeys quick; the accounts are the same.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_demo()
    journey = Journey(page=page, axe=axe, guard=guard)
    yield journey
    # Which pages axe-core checked, in which language (shown in JUnit XML reports).
    checked = [f"{name} [{lang}]" for name, lang, _url in journey.checked]
    request.node.user_properties.append(("axe_checked", "; ".join(checked)))


def demo_patient_id() -> int:
    return Patient.objects.get(personnummer=DEMO_PATIENT_PERSONNUMMER).pk


def demo_unit_id() -> int:
    return Unit.objects.get(name=DEMO_UNIT).pk


def test_anonymous_pages(journey: Journey) -> None:
    page = journey.page
    journey.visit("/")
    assert journey.path() == "/account/login/"
    # Swedish by default; allauth's own strings are already translated.
    assert journey.lang == "sv"
    expect(page.locator("label[for='id_password']")).to_have_text("Lösenord")
    journey.check_both("login", heading_en="Log in to Steg")
    expect(page.locator("label[for='id_password']")).to_have_text("Password")

    journey.follow("/accessibility/", within="footer")
    journey.check_both("accessibility statement", heading_en="Accessibility statement")

    with journey.guard.allow_console(NOT_FOUND_CONSOLE):
        journey.visit("/no-such-page/", status=404)
        journey.check("page not found", heading_en="The page could not be found")
    journey.visit("/accessibility/")
    journey.switch_language()
    with journey.guard.allow_console(NOT_FOUND_CONSOLE):
        journey.visit("/no-such-page/", status=404)
        journey.check("page not found", heading_en="The page could not be found")

    journey.assert_accessible({"login", "accessibility statement", "page not found"})


def test_patient(journey: Journey) -> None:
    journey.log_in(PATIENT, staff=False)
    assert journey.path() == "/patient/"
    journey.check_both("patient start", heading_en="My treatments")
    expect(journey.page.locator("main")).to_contain_text("Tobaksavvänjning")

    account_pages = journey.check_account_pages()
    assert "two-factor: /account/2fa/totp/activate/" in account_pages

    journey.visit("/accessibility/")
    journey.check_both("accessibility statement", heading_en="Accessibility statement")
    journey.visit("/patient/")
    journey.log_out()
    journey.assert_accessible({"patient start", "accessibility statement"} | account_pages)


def test_therapist(journey: Journey) -> None:
    page = journey.page
    journey.log_in(THERAPIST, staff=True)
    assert journey.path() == "/staff/"
    journey.check_both("staff start", heading_en="My units")

    journey.follow(f"/staff/units/{demo_unit_id()}/")
    journey.check_both("unit patients")
    expect(page.locator("h1")).to_contain_text(DEMO_UNIT)

    journey.follow(f"/staff/patients/{demo_patient_id()}/")
    journey.check_both("patient record", heading_en=f"{PATIENT.first_name} {PATIENT.last_name}")

    account_pages = journey.check_account_pages()
    assert "two-factor: /account/2fa/recovery-codes/" in account_pages
    assert "account: /account/password/change/" in account_pages

    journey.visit("/staff/")
    journey.log_out()
    journey.assert_accessible(
        {"two-factor authentication", "staff start", "unit patients", "patient record"}
        | account_pages
    )


def test_therapist_in_another_region(journey: Journey) -> None:
    journey.log_in(OTHER_THERAPIST, staff=True)
    assert journey.path() == "/staff/"
    journey.check_both("staff start", heading_en="My units")
    expect(journey.page.locator("main")).not_to_contain_text(DEMO_UNIT)

    # Another region's patient does not exist as far as this therapist can tell.
    for _ in range(2):
        with journey.guard.allow_console(NOT_FOUND_CONSOLE):
            journey.visit(f"/staff/patients/{demo_patient_id()}/", status=404)
            journey.check("page not found", heading_en="The page could not be found")
            expect(journey.page.locator("main")).not_to_contain_text(PATIENT.last_name)
        journey.visit("/staff/")
        journey.switch_language()

    journey.log_out()
    journey.assert_accessible({"staff start", "page not found"})


def test_author(journey: Journey) -> None:
    journey.log_in(AUTHOR, staff=True)
    assert journey.path() == "/staff/"
    journey.check_both("staff start", heading_en="My units")
    expect(journey.page.locator("main a[href^='/staff/units/']")).to_have_count(0)
    journey.log_out()
    journey.assert_accessible({"two-factor authentication", "staff start"})


def test_unit_admin(journey: Journey) -> None:
    page = journey.page
    journey.log_in(UNIT_ADMIN, staff=True)
    assert journey.path() == "/manage/"
    journey.check_both("admin start", heading_en="Administration")

    journey.follow("/manage/audit/")
    journey.check_both("access log", heading_en="Access log")

    # 191212121213 has a wrong check digit.
    page.locator("main form.filter-form input[name='patient']").fill("191212121213")
    journey.submit("main form.filter-form")
    assert "patient=191212121213" in page.url
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    expect(page.locator("#id_patient")).to_have_attribute("aria-invalid", "true")
    journey.check_both("access log with an invalid filter", heading_en="Access log")
    expect(summary).to_be_visible()  # the error survives the language switch

    journey.visit("/manage/")
    journey.follow("/staff/automation/")
    journey.check_both("automation queue", heading_en="Automatic support: queue and failures")

    journey.log_out()
    journey.assert_accessible(
        {
            "two-factor authentication",
            "admin start",
            "access log",
            "access log with an invalid filter",
            "automation queue",
        }
    )


def test_guard_catches_console_errors_and_server_errors(page: Any, guard: PageGuard) -> None:
    """The guard itself: a 500 response and a console error are both reported."""
    page.route("**/boom/", lambda route: route.fulfill(status=500, body="boom"))
    page.goto("/boom/")
    page.evaluate("console.error('something broke')")
    page.wait_for_timeout(50)
    problems, guard.problems = list(guard.problems), []
    assert any(p.startswith("HTTP 500 for GET") and p.endswith("/boom/") for p in problems)
    assert any("something broke" in p for p in problems), problems
