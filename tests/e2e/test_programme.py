"""The demo patient works through the example programme in the browser.

From the start page to the overview, reads the pages of the first step, saves a draft of the
exercise (htmx autosave, kept over a reload) and sends it, meets the locked third step, searches
and finds a page, prints (the print stylesheet hides the header and the navigation) and downloads
a PDF whose text (pdftotext) holds the page and the answer. axe-core checks every page visited,
in Swedish and in English; the guard fails the test on any console error or server error.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from steg.accounts.demo import DEMO_PATIENT_PERSONNUMMER, PATIENT
from steg.care.models import Enrolment
from steg.programmes.models import ExerciseAnswer

from . import test_journeys
from .test_journeys import NOT_FOUND_CONSOLE, Journey

pytestmark = pytest.mark.browser

# The journeys' fixture, used here too: the demo data loaded, a fast password hasher, axe-core.
journey = test_journeys.journey

EXERCISE = "why-try"
MARK_READ_BUTTON = "main form[action$='/read/'] button[type='submit']"
TEXTAREA = f"#exercise-{EXERCISE} textarea"
STATUS = f"#exercise-{EXERCISE}-status"
SEND_BUTTON = f"#exercise-{EXERCISE} button[value='submit']"
# A word from the exercise page, and a sentence of it, in each language.
SEARCH_WORD = {"sv": "övning", "en": "exercise"}
PROMPT = {
    "sv": "Vad hoppas du få ut av programmet?",
    "en": "What do you hope to get out of the programme?",
}
WELCOME = {"sv": "Hej och välkommen!", "en": "Hello and welcome!"}
LOCKED_PAGE = {"sv": "Det har gått en vecka", "en": "A week has passed"}  # step 3, not open
DRAFT = "Jag vill orka mer"
ANSWER = "Jag vill orka mer och sova bättre."


def pdf_text(pdf: Path) -> str:
    """The PDF's text by pdftotext, with whitespace (line breaks included) made single spaces."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is needed to read the PDF"
    result = subprocess.run(  # noqa: S603 - a fixed program on a file the test wrote
        [pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    )
    return " ".join(result.stdout.decode("utf-8").split())


def in_language(language: str, message: str) -> str:
    """A UI string as the page shows it in language (Swedish comes from the locale files)."""
    with translation.override(language):
        return translation.gettext(message)


def opens_on(enrolment: Enrolment, days: int, language: str) -> str:
    """The date a ``days_after_start`` step opens, as the overview shows it in language."""
    start = timezone.localtime(enrolment.started_at).date()
    with translation.override(language):
        return formats.date_format(start + datetime.timedelta(days=days), "j F Y")


def screenshot(page: Any, name: str) -> None:
    """With $STEG_SCREENSHOTS set to a folder, save the page at phone and desktop widths."""
    folder = os.environ.get("STEG_SCREENSHOTS", "").strip()
    if not folder:
        return
    size = page.viewport_size
    for label, width in (("phone", 360), ("desktop", 1280)):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(Path(folder) / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)


def test_patient_works_through_the_programme(journey: Journey, tmp_path: Path) -> None:
    page = journey.page
    enrolment = Enrolment.objects.get(
        patient__personnummer=DEMO_PATIENT_PERSONNUMMER,
        programme_version__programme__slug="example",
    )
    base = f"/patient/treatments/{enrolment.pk}"

    # The start page links to the programme's overview.
    journey.log_in(PATIENT, staff=False)
    assert journey.path() == "/patient/"
    journey.follow(f"{base}/")
    journey.check_both("overview", heading_en="Example programme")

    # The third step opens a week after the start: locked, with its date.
    steps = page.locator("main .step-list > li")
    expect(steps).to_have_count(3)
    locked = steps.nth(2)
    expect(locked).to_have_class("step-card step-card--locked")
    expect(locked.locator("a")).to_have_count(0)
    opens = in_language(journey.lang, "opens on %(date)s.")
    expect(locked).to_contain_text(in_language(journey.lang, "Locked"))
    expect(locked).to_contain_text(opens.replace("%(date)s", opens_on(enrolment, 7, journey.lang)))
    expect(steps.nth(1)).to_have_class("step-card step-card--locked")  # until step 1 is read

    # Step 1: read both pages. Each "I have read this page" leads on to the next page.
    journey.follow(f"{base}/steps/welcome/")
    journey.check_both("step", heading_en="Welcome")
    journey.follow(f"{base}/pages/welcome/")
    journey.check_both("page", heading_en="Welcome to the programme")
    with page.expect_navigation():
        page.locator(MARK_READ_BUTTON).click()
    assert journey.path() == f"{base}/pages/how-it-works/"
    journey.check_both("page with a table", heading_en="How it works")
    with page.expect_navigation():
        page.locator(MARK_READ_BUTTON).click()
    # Both pages read: the second step has opened, and the button led into it.
    exercise_url = f"{base}/pages/first-exercise/"
    assert journey.path() == exercise_url
    journey.check_both("exercise page", heading_en="Your first exercise")
    expect(page.locator(f"#exercise-{EXERCISE}")).to_contain_text(PROMPT[journey.lang])

    # The draft saves itself (htmx, after a pause in the typing) and is there after a reload.
    status = page.locator(STATUS)
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text("")
    page.locator(TEXTAREA).fill(DRAFT)
    saved = in_language(journey.lang, "Draft saved at %(time)s.").split("%(time)s")[0]
    expect(status).to_contain_text(saved, timeout=5_000)
    page.reload()
    expect(page.locator(TEXTAREA)).to_have_value(DRAFT)
    answer = ExerciseAnswer.objects.get(enrolment=enrolment, key=EXERCISE)
    assert answer.draft == DRAFT
    assert answer.status != ExerciseAnswer.Status.SUBMITTED
    journey.check_both("exercise page with a draft")

    # With htmx the checklist saves when ticked: its save button is only there without it.
    checklist = page.locator("main form#checklist-getting-started")
    expect(checklist.locator("button[type='submit']")).to_be_hidden()
    checklist.locator("input[type='checkbox']").nth(1).check()
    saved = in_language(journey.lang, "Saved at %(time)s.").split("%(time)s")[0]
    expect(checklist.locator("[role='status']")).to_contain_text(saved)

    # Sent to the therapist: a confirmation, and the page says when.
    page.locator(TEXTAREA).fill(ANSWER)
    with page.expect_navigation():
        page.locator(SEND_BUTTON).click()
    assert journey.path() == exercise_url
    message = page.locator(".messages[role='status']")
    expect(message).to_be_visible()
    sent = "Your answer has been sent. Your therapist can now read it."
    expect(message).to_contain_text(in_language(journey.lang, sent))
    expect(page.locator(f"#exercise-{EXERCISE} .exercise__sent")).to_be_visible()
    expect(page.locator(TEXTAREA)).to_have_value(ANSWER)
    expect(checklist.locator("input[type='checkbox']").nth(1)).to_be_checked()
    answer.refresh_from_db()
    assert answer.status == ExerciseAnswer.Status.SUBMITTED
    assert answer.submitted_text == ANSWER
    journey.check_both("exercise page with a sent answer")
    screenshot(page, "exercise")

    # Print: the print button appears with JavaScript; on paper only the content is left.
    print_button = page.locator("main [data-print]")
    expect(print_button).to_be_visible()
    expect(print_button).not_to_have_attribute("hidden", "")
    page.emulate_media(media="print")
    try:
        for hidden in ("header.site-header", ".programme-nav", ".breadcrumb", "footer", ".pager"):
            expect(page.locator(hidden).first).to_be_hidden()
        expect(print_button).to_be_hidden()
        expect(page.locator("article.programme-page h1")).to_be_visible()
        expect(page.locator(f"#exercise-{EXERCISE}")).to_be_visible()
        display = page.evaluate("getComputedStyle(document.querySelector('.site-header')).display")
        assert display == "none", "the print stylesheet was not applied"
        screenshot(page, "exercise-print")
    finally:
        page.emulate_media(media="screen")
    expect(print_button).to_be_visible()

    # The locked step and its page do not exist for the patient yet.
    with journey.guard.allow_console(NOT_FOUND_CONSOLE):
        for path in (f"{base}/steps/looking-back/", f"{base}/pages/looking-back/"):
            journey.visit(path, status=404)
            journey.check("page not found", heading_en="The page could not be found")
            journey.visit(f"{base}/")
            journey.switch_language()
    journey.check_both("overview with the second step open", heading_en="Example programme")
    expect(steps.nth(1)).to_have_class("step-card")
    expect(steps.nth(2)).to_have_class("step-card step-card--locked")
    screenshot(page, "overview")

    # Search in each language for a word on the exercise page and follow the hit.
    journey.follow(f"{base}/search/", within="main .programme-nav")
    journey.check_both("search", heading_en="Search in the programme")
    current = page.locator("main .programme-nav a[aria-current='page']")
    expect(current).to_have_attribute("href", f"{base}/search/")
    for _ in range(2):
        lang = journey.lang
        page.locator("main form[role='search'] input[name='q']").fill(SEARCH_WORD[lang])
        journey.submit("main form[role='search']")
        assert journey.path() == f"{base}/search/"
        hit = page.locator(f"main .search-results a[href='{exercise_url}']")
        expect(hit).to_have_count(1)
        expect(page.locator("main .search-results mark").first).to_be_visible()
        journey.check("search results")
        screenshot(page, f"search-{lang}")
        journey.follow(exercise_url)
        expect(page.locator(f"#exercise-{EXERCISE}")).to_contain_text(PROMPT[lang])
        journey.visit(f"{base}/search/")
        journey.switch_language()

    # The PDF of everything, with the answers, holds the pages' text and the answer.
    journey.follow(f"{base}/pdf/", within="main .programme-nav")
    journey.check_both("PDF form")
    expect(current).to_have_attribute("href", f"{base}/pdf/")
    screenshot(page, "pdf-form")
    lang = journey.lang
    with page.expect_download() as download_info:
        page.locator(f"main a[href='{base}/pdf/?everything=on&answers=on']").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == "example.pdf"
    pdf = tmp_path / "programme.pdf"
    download.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert PROMPT[lang] in text, text
    assert ANSWER in text, text
    assert WELCOME[lang] in text, text
    assert LOCKED_PAGE[lang] not in text, "the PDF holds a page of a locked step"

    journey.log_out()
    journey.assert_accessible(
        {
            "overview",
            "step",
            "page",
            "page with a table",
            "exercise page",
            "exercise page with a draft",
            "exercise page with a sent answer",
            "page not found",
            "overview with the second step open",
            "search",
            "search results",
            "PDF form",
        }
    )
