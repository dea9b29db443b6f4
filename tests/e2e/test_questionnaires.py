"""The demo patient answers the mood questionnaire and the diary, and sees the measurements.

The start page lists what is to fill in; the mood questionnaire's follow-up question comes and
goes with the answer before it (htmx, no reload); a number out of range gives an error summary
whose link leads to the field; the result page gives the score and the feedback; the diary is
filled in for today and for yesterday, and both days are on the chart and in its table.
axe-core checks every page visited, in Swedish and in English; the guard fails the test on any
console error or server error.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from steg.accounts.demo import DEMO_PATIENT_PERSONNUMMER, PATIENT
from steg.care.models import Enrolment
from steg.questionnaires.models import Response

from . import test_journeys
from .test_journeys import Journey

pytestmark = pytest.mark.browser

# The journeys' fixture, used here too: the demo data loaded, a fast password hasher, axe-core.
journey = test_journeys.journey

# A form the server refuses is answered with 422, which Chromium reports on the console.
UNPROCESSABLE_CONSOLE = r"status of 422"
SEND = "main form.questionnaire button[value='submit']"
MOOD = {"sv": "Hur mår du?", "en": "How are you?"}
DIARY = {"sv": "Dagbok", "en": "Diary"}
HARDEST = {
    "sv": "Vad har varit jobbigast? Du kan välja flera.",
    "en": "What has been hardest? You can choose more than one.",
}
HARD_WEEK = {
    "sv": "Det låter som att det har varit tungt.",
    "en": "It sounds as if things have been hard.",
}
CRAVING = {
    "sv": "Hur starkt var ditt starkaste sug i dag?",
    "en": "How strong was your strongest craving today?",
}


def in_language(language: str, message: str) -> str:
    """A UI string as the page shows it in language (Swedish comes from the locale files)."""
    with translation.override(language):
        return translation.gettext(message)


def screenshot(page: Any, name: str) -> None:
    """With $STEG_SCREENSHOTS set to a folder, save the page at phone and desktop widths.

    The caret is left alone: hiding it puts a style attribute on every input, which htmx then
    copies onto the swapped-in fields, against the content security policy.
    """
    folder = os.environ.get("STEG_SCREENSHOTS", "").strip()
    if not folder:
        return
    size = page.viewport_size
    for label, width in (("phone", 360), ("desktop", 1280)):
        page.set_viewport_size({"width": width, "height": 800})
        path = Path(folder) / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True, caret="initial")
    page.set_viewport_size(size)


def long_date(day: datetime.date, language: str) -> str:
    with translation.override(language):
        return formats.date_format(day, "j F Y")


def is_htmx_post(response: Any) -> bool:
    request = response.request
    return bool(request.method == "POST" and request.headers.get("hx-request") == "true")


def choose(page: Any, name: str, value: str) -> None:
    """Tick a radio button and wait for htmx to swap in the questions that follow from it."""
    with page.expect_response(is_htmx_post):
        page.locator(f"main input[name='{name}'][value='{value}']").check()


def type_number(page: Any, field_id: str, value: str) -> None:
    """Type into a field and leave it (the change goes to the server with htmx)."""
    with page.expect_response(is_htmx_post):
        page.locator(f"#{field_id}").fill(value)
        page.locator(f"#{field_id}").press("Tab")


@contextmanager
def held_back(page: Any, url: str) -> Iterator[Callable[[], None]]:
    """Hold back the next htmx request to url until the caller releases it."""
    held: list[Any] = []

    def hold(route: Any) -> None:
        if route.request.headers.get("hx-request") == "true" and not held:
            held.append(route)
        else:
            route.fallback()

    def release() -> None:
        for _ in range(500):
            if held:
                break
            page.wait_for_timeout(10)
        assert held, "no htmx request was sent"
        held[0].continue_()

    pattern = f"**{url}*"
    page.route(pattern, hold)
    try:
        yield release
    finally:
        page.unroute(pattern, hold)


def send(journey: Journey) -> None:
    """Press "Send my answers" (the first button of the form is "Save and finish later")."""
    with journey.page.expect_navigation():
        journey.page.locator(SEND).click()


def send_with_stress_out_of_range(journey: Journey) -> None:
    """Stress 12 (of 0 to 10): the error shows by the field as it is left, and on sending."""
    page = journey.page
    type_number(page, "q-stress", "12")
    stress = page.locator("#q-stress")
    expect(stress).to_have_attribute("aria-invalid", "true")  # straight away, by htmx
    with journey.guard.allow_console(UNPROCESSABLE_CONSOLE):
        send(journey)
        page.wait_for_load_state()
    message = in_language(journey.lang, "Write a whole number between %(min)s and %(max)s.")
    message = message % {"min": 0, "max": 10}
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_focused()
    title = f"{in_language(journey.lang, 'Error:')} {MOOD[journey.lang]}"
    expect(page).to_have_title(re.compile("^" + re.escape(title)))
    link = summary.locator("a[href='#q-stress']")
    expect(link).to_contain_text(message)
    expect(stress).to_have_value("12")
    expect(stress).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#q-stress-error")).to_have_text(message)
    described_by = str(stress.get_attribute("aria-describedby")).split()
    assert "q-stress-error" in described_by, described_by
    # The follow-up question is still there, with its answers as they were.
    expect(page.locator("main input[name='feeling'][value='bad']")).to_be_checked()
    expect(page.locator("main input[name='hardest']")).to_have_count(4)
    expect(page.locator("main input[name='hardest'][value='sleep']")).to_be_checked()
    journey.check("mood form with an error")
    screenshot(page, f"questionnaire-errors-{journey.lang}")
    # The link focuses the field, with its question in view (on a phone, too).
    size = page.viewport_size
    page.set_viewport_size({"width": 360, "height": 640})
    link.click()
    expect(stress).to_be_focused()
    expect(page.locator("label[for='q-stress']")).to_be_in_viewport()
    page.set_viewport_size(size)


def assert_craving_chart(
    journey: Journey, *, yesterday: datetime.date, today: datetime.date
) -> None:
    """The diary's craving chart: an image with a name and a description, and its table."""
    page, lang = journey.page, journey.lang
    journey.check("measurements", heading_en="My measurements")
    chart = page.locator("main section.measurement:has(#diary-craving-heading)")
    expect(chart.locator("h2")).to_have_text(CRAVING[lang])
    svg = chart.locator("svg[role='img']")
    expect(svg).to_have_count(1)
    labelled_by = str(svg.get_attribute("aria-labelledby")).split()
    assert len(labelled_by) == 2, labelled_by
    title, desc = (svg.locator(f"[id='{ident}']") for ident in labelled_by)
    assert title.evaluate("e => e.localName") == "title"
    assert desc.evaluate("e => e.localName") == "desc"
    expect(title).to_have_text(CRAVING[lang])
    expect(desc).not_to_be_empty()
    rows = chart.locator("table tbody tr")
    expect(rows).to_have_count(2)
    # Newest first.
    expect(rows.nth(0).locator("td")).to_have_text([long_date(today, lang), "3"])
    expect(rows.nth(1).locator("td")).to_have_text([long_date(yesterday, lang), "6"])


def test_patient_answers_questionnaires_and_sees_measurements(journey: Journey) -> None:
    page = journey.page
    enrolment = Enrolment.objects.get(
        patient__personnummer=DEMO_PATIENT_PERSONNUMMER,
        programme_version__programme__slug="example",
    )
    # Started two days ago: the diary is open for today and the two days before.
    Enrolment.objects.filter(pk=enrolment.pk).update(
        started_at=timezone.now() - datetime.timedelta(days=2)
    )
    today = timezone.localdate()
    yesterday = today - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=2)
    base = f"/patient/treatments/{enrolment.pk}"
    list_url = f"{base}/questionnaires/"
    mood_url = f"{base}/questionnaires/mood/"
    diary_url = f"{base}/questionnaires/diary/"
    measurements_url = f"{base}/measurements/"

    # The start page: the mood questionnaire and the diary are to fill in.
    journey.log_in(PATIENT, staff=False)
    assert journey.path() == "/patient/"
    due = page.locator("main section.due")
    for _ in range(2):
        expect(due.locator("h2")).to_have_text(in_language(journey.lang, "To fill in"))
        expect(due.locator(f"a[href='{mood_url}?day={start.isoformat()}']")).to_have_text(
            MOOD[journey.lang]
        )
        expect(due.locator(f"a[href='{diary_url}?day={today.isoformat()}']")).to_have_text(
            DIARY[journey.lang]
        )
        journey.check("start page", heading_en="My treatments")
        screenshot(page, f"start-{journey.lang}")
        if journey.lang == "sv":
            journey.switch_language()

    # The mood questionnaire (in English): "Bad" brings the follow-up question, "Good" takes
    # it away again, without a reload.
    journey.follow(f"{mood_url}?day={start.isoformat()}")
    journey.check("mood form", heading_en=MOOD["en"])
    page.evaluate("window.stegNoReload = true")
    hardest = page.locator("main fieldset:has(input[name='hardest'])")
    expect(hardest).to_have_count(0)
    status = page.locator("#questionnaire-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text("")
    status.evaluate("element => { element.stegKept = true; }")
    choose(page, "feeling", "bad")
    # The draft is saved; the status line says so. It is the same element as before, so that
    # screen readers read out the change.
    saved = in_language("en", "Your answers were saved at %(time)s.").split("%(time)s")[0]
    expect(status).to_contain_text(saved)
    assert status.evaluate("element => element.stegKept") is True, "the live region was replaced"
    expect(hardest.locator("legend")).to_contain_text(HARDEST["en"])
    expect(hardest.locator("input[type='checkbox']")).to_have_count(4)
    expect(page.locator("main input[name='feeling'][value='bad']")).to_be_checked()
    choose(page, "feeling", "good")
    expect(hardest).to_have_count(0)
    choose(page, "feeling", "bad")
    expect(hardest).to_have_count(1)
    with page.expect_response(is_htmx_post):
        page.locator("main input[name='hardest'][value='sleep']").check()
    assert page.evaluate("window.stegNoReload") is True, "the page was reloaded"
    journey.check("mood form with the follow-up question")
    screenshot(page, "questionnaire")

    # Out of range: the error summary leads to the field. The same in Swedish.
    send_with_stress_out_of_range(journey)
    journey.switch_language()  # a fresh page from the draft: feeling "bad", "sleep" ticked
    expect(page.locator(".error-summary")).to_have_count(0)
    expect(page.locator("main input[name='hardest'][value='sleep']")).to_be_checked()
    journey.check("mood form", heading_en=MOOD["en"])
    journey.check("mood form with the follow-up question")
    send_with_stress_out_of_range(journey)

    # Put right and sent: the score (bad 2 + stress 7) and the band's feedback at once.
    # Typed and left, and the field's htmx round trip awaited before sending: a click that
    # races it would send two requests at once to the test server's one SQLite connection.
    type_number(page, "q-stress", "7")
    send(journey)
    assert journey.path() == f"{mood_url}{start.isoformat()}/"
    result = page.locator("main section.result")
    score = in_language(journey.lang, "Your score: %(total)s") % {"total": 9}
    expect(result.locator(".result__score")).to_contain_text(score)
    expect(result).to_contain_text(HARD_WEEK[journey.lang])
    journey.check_both("mood result", heading_en=MOOD["en"])
    screenshot(page, "questionnaire-result")
    expect(result.locator(".result__score")).to_contain_text("9")
    expect(result).to_contain_text(HARD_WEEK[journey.lang])
    response = Response.objects.get(enrolment=enrolment, questionnaire_id="mood")
    assert response.status == Response.Status.SUBMITTED
    assert response.answers["feeling"] == ["bad"]
    assert response.answers["hardest"] == ["sleep"]
    assert str(response.answers["stress"][0]) == "7"

    # The list offers the diary for today and the two days before; the mood one is sent.
    journey.follow(list_url, within="main .programme-nav")
    journey.check_both("questionnaire list", heading_en="Questionnaires and diary")
    screenshot(page, "questionnaire-list")
    diary_days = [f"{diary_url}?day={day.isoformat()}" for day in (start, yesterday, today)]
    assert journey.hrefs(f"main a[href^='{diary_url}?day=']") == sorted(diary_days)
    expect(page.locator(f"main a[href='{mood_url}{start.isoformat()}/']")).to_have_count(1)
    expect(page.locator(f"main a[href^='{mood_url}?day=']")).to_have_count(0)

    # The diary for today: no tobacco, so no question about how much.
    journey.follow(f"{diary_url}?day={today.isoformat()}")
    journey.check_both("diary form", heading_en=DIARY["en"])
    amount = page.locator("main #q-amount")
    expect(amount).to_have_count(0)
    choose(page, "used", "false")
    expect(amount).to_have_count(0)
    type_number(page, "q-craving", "3")
    send(journey)
    assert journey.path() == f"{diary_url}{today.isoformat()}/"
    journey.check_both("diary result", heading_en=DIARY["en"])

    # And for yesterday: tobacco used, so how much.
    journey.follow(list_url, within="main .programme-nav")
    journey.follow(f"{diary_url}?day={yesterday.isoformat()}")
    expect(page.locator("main .lead")).to_contain_text(str(yesterday.day))
    choose(page, "used", "true")
    expect(amount).to_have_count(1)
    # What is typed while an answer is on its way to the server is kept when htmx swaps in
    # the questions again (the answer is held back here until the next field is typed in).
    craving = page.locator("#q-craving")
    with held_back(page, diary_url) as release:
        amount.fill("5")
        amount.press("Tab")
        expect(craving).to_be_focused()
        page.keyboard.type("6")
        with page.expect_response(is_htmx_post):
            release()
    expect(amount).to_have_value("5")
    expect(craving).to_have_value("6")
    expect(craving).to_be_focused()
    with page.expect_response(is_htmx_post):  # leaving the field sends it
        page.locator("#q-situation").focus()
    draft = Response.objects.get(enrolment=enrolment, questionnaire_id="diary", day=yesterday)
    assert draft.status != Response.Status.SUBMITTED
    assert [str(draft.answers["amount"][0]), str(draft.answers["craving"][0])] == ["5", "6"]
    send(journey)
    assert journey.path() == f"{diary_url}{yesterday.isoformat()}/"
    journey.check("diary result")
    assert set(
        Response.objects.filter(
            enrolment=enrolment, questionnaire_id="diary", status=Response.Status.SUBMITTED
        ).values_list("day", flat=True)
    ) == {today, yesterday}

    # My measurements: the craving chart (an image with a name and a description) and its
    # table, with both diary days.
    journey.follow(measurements_url, within="main .programme-nav")
    assert_craving_chart(journey, yesterday=yesterday, today=today)
    screenshot(page, "measurements")
    journey.switch_language()
    assert_craving_chart(journey, yesterday=yesterday, today=today)

    journey.log_out()
    journey.assert_accessible(
        {
            "start page",
            "mood form",
            "mood form with the follow-up question",
            "mood form with an error",
            "mood result",
            "questionnaire list",
            "diary form",
            "diary result",
            "measurements",
        }
    )
