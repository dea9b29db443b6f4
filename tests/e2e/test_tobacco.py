"""Two patients, one who uses snus and one who smokes, work through the tobacco programme.

Each reads the welcome pages, answers the tobacco profile and from then on sees only the pages
and blocks for what they use (the harms of snus or of smoking, FTND-ST or FTND with its band's
feedback), keeps the diary for a few days, writes and sends their reasons, sets a quit date with
the quit-date aid, sees the savings counter and the medication list, downloads "My plan" as a
PDF (pdftotext finds their reasons in it), reads every page of Step 1 so that Step 2 opens,
searches in Swedish and in English, and opens and prints the manual. axe-core checks the pages
in Swedish and in English; the guard fails the test on any console error or server error.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from steg.accounts.demo import (
    DEMO_PASSWORD,
    DEMO_PATIENT_PERSONNUMMER,
    DEMO_UNIT,
    PATIENT,
    THERAPIST,
    DemoAccount,
)
from steg.accounts.models import Unit, User
from steg.care.models import Enrolment, Patient
from steg.programmes.models import ExerciseAnswer
from steg.questionnaires.models import Response
from steg.testing.personas import start_treatment

from . import test_journeys
from .test_journeys import NOT_FOUND_CONSOLE, Journey
from .test_programme import MARK_READ_BUTTON, in_language, pdf_text, screenshot
from .test_questionnaires import UNPROCESSABLE_CONSOLE, choose, long_date, send, type_number

pytestmark = pytest.mark.browser

# The journeys' fixture, used here too: the demo data loaded, a fast password hasher, axe-core.
journey = test_journeys.journey

PROGRAMME = "tobacco-cessation"
SMOKER = DemoAccount("smoker", "smoker@steg.example", "Sam", "Rök")
SMOKER_PERSONNUMMER = "198112189876"  # a test number: valid check digit, no real person
SEARCH = {"sv": "abstinens", "en": "withdrawal"}
# The withdrawal page's block for those who smoke (`::: when tobacco:smoking|both`).
COUGH = {
    "sv": "hosta mer",
    "en": "you may cough more for a while",
}


@dataclass(frozen=True)
class Track:
    """What one patient uses, and what the programme shows them for it."""

    product: str
    account: DemoAccount
    harms: str  # the harms page they are shown
    other_harms: str  # the one they are not
    test: str  # the dependence test embedded for them
    other_test: str
    amount: str  # the diary's question about how much
    numbers: tuple[tuple[str, str], ...]  # the tobacco profile's numbers
    reasons: str


SNUS = Track(
    product="snus",
    account=PATIENT,
    harms="harms-of-snus",
    other_harms="harms-of-smoking",
    test="ftnd-st",
    other_test="ftnd",
    amount="portions",
    numbers=(("cans-per-week", "4"), ("can-price", "55"), ("years", "12")),
    reasons="Jag vill slippa snusa på jobbet och spara till en cykel.",
)
SMOKING = Track(
    product="smoking",
    account=SMOKER,
    harms="harms-of-smoking",
    other_harms="harms-of-snus",
    test="ftnd",
    other_test="ftnd-st",
    amount="cigarettes",
    # The pack size is not typed: it appears with its initial answer, 20.
    numbers=(
        ("cigarettes-per-day", "20"),
        ("pack-price", "75"),
        ("years", "20"),
    ),
    reasons="Jag vill orka gå i trappan utan att hosta, och barnen ska slippa röken.",
)


def tobacco_enrolment(track: Track) -> Enrolment:
    """The snus user is the demo patient; the smoker is a second patient enrolled here."""
    demo = Enrolment.objects.get(
        patient__personnummer=DEMO_PATIENT_PERSONNUMMER,
        programme_version__programme__slug=PROGRAMME,
    )
    if track.account == PATIENT:
        enrolment = demo
    else:
        user = User.objects.create_user(
            track.account.email,
            DEMO_PASSWORD,
            first_name=track.account.first_name,
            last_name=track.account.last_name,
        )
        patient = Patient.objects.create(
            user=user,
            personnummer=SMOKER_PERSONNUMMER,
            first_name=user.first_name,
            last_name=user.last_name,
            email=user.email,
        )
        unit = Unit.objects.get(name=DEMO_UNIT)
        therapist = User.objects.get(email=THERAPIST.email)
        enrolment = start_treatment(patient, unit, demo.programme_version, therapist=therapist)
    # Started two days ago: the diary is open for today and the two days before.
    Enrolment.objects.filter(pk=enrolment.pk).update(
        started_at=timezone.now() - datetime.timedelta(days=2)
    )
    return enrolment


def read(journey: Journey) -> None:
    """Press "I have read this page" (it leads on to the next open page, or to the step)."""
    with journey.page.expect_navigation():
        journey.page.locator(MARK_READ_BUTTON).click()


def fill_in_link(questionnaire_id: str) -> str:
    return f"main #questionnaire-{questionnaire_id}-heading ~ p a.button"


def answer_every_choice(journey: Journey) -> None:
    """Pick the first answer of every question (each pick goes to the server with htmx)."""
    page = journey.page
    names: list[str] = []
    radios = page.locator("main form.questionnaire input[type='radio']")
    for i in range(radios.count()):
        name = str(radios.nth(i).get_attribute("name"))
        if name not in names:
            names.append(name)
    for name in names:
        first = page.locator(f"main input[name='{name}']").first
        choose(page, name, str(first.get_attribute("value")))


def quit_date_form(journey: Journey, base: str) -> None:
    """Before there is a quit date, the savings counter links to the quit date's own page; a
    date left out gives an error summary; "Go back without saving" leads back."""
    page = journey.page
    money_page = f"{base}/pages/money/"
    journey.visit(money_page)
    form_url = f"{base}/quit-date/"
    with page.expect_navigation():
        page.locator(f"main .savings a[href^='{form_url}?next=']").click()
    assert journey.path() == form_url
    journey.check_both("quit date form", heading_en="My quit date")
    for attempt in range(2):
        with journey.guard.allow_console(UNPROCESSABLE_CONSOLE):
            journey.submit(f"main form[action^='{form_url}']")
            page.wait_for_load_state()
        summary = page.locator("main .error-summary")
        expect(summary).to_be_visible()
        expect(summary.locator("a[href='#quit-date-quit_date']")).to_contain_text(
            in_language(journey.lang, "Choose your quit date.")
        )
        expect(page.locator("#quit-date-quit_date")).to_have_attribute("aria-invalid", "true")
        journey.check("quit date form with an error")
        if attempt == 0:
            journey.switch_language()  # a fresh form, without the error
    journey.follow(money_page)


@pytest.mark.parametrize("track", [SNUS, SMOKING], ids=lambda t: t.product)
def test_patient_prepares_to_quit(journey: Journey, track: Track, tmp_path: Path) -> None:
    page = journey.page
    enrolment = tobacco_enrolment(track)
    base = f"/patient/treatments/{enrolment.pk}"
    today = timezone.localdate()
    yesterday = today - datetime.timedelta(days=1)
    start = today - datetime.timedelta(days=2)
    tag = track.product

    # The start page links to the programme's overview; Step 2 waits for Step 1.
    journey.log_in(track.account, staff=False)
    assert journey.path() == "/patient/"
    journey.follow(f"{base}/")
    journey.check_both("overview", heading_en="Quitting tobacco")
    steps = page.locator("main .step-list > li")
    expect(steps).to_have_count(6)
    for i in range(3):
        expect(steps.nth(i)).to_have_class("step-card")
    for i in range(3, 6):
        expect(steps.nth(i)).to_have_class("step-card step-card--locked")

    # Welcome: both pages read; the second leads on to "Good to know".
    journey.follow(f"{base}/steps/welcome/")
    journey.follow(f"{base}/pages/welcome/")
    journey.check_both("content page", heading_en="Welcome")
    read(journey)
    assert journey.path() == f"{base}/pages/how-it-works/"
    read(journey)
    assert journey.path() == f"{base}/pages/two-kinds-of-dependence/"

    # The demo patient's tobacco (snus) is known from the assessment talk: only its harms page.
    # The smoker's treatment was started without it: until the tobacco profile is answered,
    # everything is shown, both harms pages.
    journey.visit(f"{base}/steps/good-to-know/")
    journey.check_both("step", heading_en="Good to know")
    known = track.account == PATIENT
    expect(page.locator(f"main .page-list a[href='{base}/pages/{track.harms}/']")).to_have_count(1)
    expect(
        page.locator(f"main .page-list a[href='{base}/pages/{track.other_harms}/']")
    ).to_have_count(0 if known else 1)

    # Step 1, my reasons: written and sent to the therapist.
    journey.visit(f"{base}/pages/my-reasons/")
    journey.check_both("exercise page", heading_en="My reasons to quit")
    page.locator("#exercise-reasons textarea").fill(track.reasons)
    with page.expect_navigation():
        page.locator("#exercise-reasons button[value='submit']").click()
    expect(page.locator("#exercise-reasons .exercise__sent")).to_be_visible()
    answer = ExerciseAnswer.objects.get(enrolment=enrolment, key="reasons")
    assert answer.status == ExerciseAnswer.Status.SUBMITTED
    assert answer.submitted_text == track.reasons
    read(journey)
    profile_page = f"{base}/pages/my-tobacco-use/"
    assert journey.path() == profile_page

    # The tobacco profile: what is used brings the questions about how much and what it costs.
    with page.expect_navigation():
        page.locator(fill_in_link("tobacco-profile")).click()
    assert journey.path() == f"{base}/questionnaires/tobacco-profile/"
    choose(page, "product", track.product)
    for link_id, value in track.numbers:
        type_number(page, f"q-{link_id}", value)
    if track.product != "snus":
        # The pack size appears with its initial answer filled in.
        expect(page.locator("#q-cigarettes-per-pack")).to_have_value("20")
    hidden = "cigarettes-per-day" if track.product == "snus" else "cans-per-week"
    expect(page.locator(f"#q-{hidden}")).to_have_count(0)
    # Filled in once: the form names no day (it is kept for the day of the start).
    expect(page.locator("main .lead")).to_have_count(0)
    journey.check_both("tobacco profile form", heading_en="My tobacco use")
    screenshot(page, f"tobacco-profile-{tag}")
    send(journey)
    # Filled in once, for the day of the start.
    assert journey.path() == f"{base}/questionnaires/tobacco-profile/{start.isoformat()}/"
    journey.check_both("tobacco profile result", heading_en="My tobacco use")
    sent = in_language(journey.lang, "You sent your answers on %(date)s.")
    expect(page.locator("main .lead")).to_have_text(sent % {"date": long_date(today, journey.lang)})

    # The list: the profile is sent, the dependence test that fits is to fill in (not the
    # other one), and the diary for today and the two days before.
    journey.follow(f"{base}/questionnaires/", within="main .programme-nav")
    journey.check_both("questionnaire list", heading_en="Questionnaires and diary")
    profile_result = f"{base}/questionnaires/tobacco-profile/{start.isoformat()}/"
    expect(page.locator(f"main a[href='{profile_result}']")).to_have_count(1)
    own_test = page.locator(f"main a[href^='{base}/questionnaires/{track.test}/?day=']")
    expect(own_test).to_have_text(in_language(journey.lang, "Fill in the questionnaire"))
    expect(page.locator(f"main a[href*='/questionnaires/{track.other_test}/']")).to_have_count(0)
    diary_url = f"{base}/questionnaires/diary/"
    diary_days = [f"{diary_url}?day={day.isoformat()}" for day in (start, yesterday, today)]
    assert journey.hrefs(f"main a[href^='{diary_url}?day=']") == sorted(diary_days)

    # The diary for the two days before today and for today.
    for number, day in enumerate((start, yesterday, today)):
        journey.visit(f"{diary_url}?day={day.isoformat()}")
        choose(page, "used", "true")
        type_number(page, f"q-{track.amount}", str(10 + number))
        # Typed and left before sending, so that its htmx save does not race the sending.
        type_number(page, "q-craving", str(7 - number))
        if number == 0:
            journey.check_both("diary form", heading_en="Diary")
        send(journey)
        assert journey.path() == f"{diary_url}{day.isoformat()}/"
    assert (
        Response.objects.filter(
            enrolment=enrolment, questionnaire_id="diary", status=Response.Status.SUBMITTED
        ).count()
        == 3
    )
    journey.visit(profile_page)
    journey.check_both("page with questionnaires", heading_en="My tobacco use")
    read(journey)
    test_page = f"{base}/pages/dependence-test/"
    assert journey.path() == test_page

    # The dependence test that fits: FTND-ST for snus, FTND for smoking, never the other.
    expect(page.locator(f"#questionnaire-{track.other_test}-heading")).to_have_count(0)
    expect(page.locator(f"#questionnaire-{track.test}-heading")).to_have_count(1)
    journey.check_both("dependence test page", heading_en="How dependent are you on nicotine?")
    with page.expect_navigation():
        page.locator(fill_in_link(track.test)).click()
    assert journey.path() == f"{base}/questionnaires/{track.test}/"
    answer_every_choice(journey)
    journey.check_both("dependence test form")
    send(journey)
    assert journey.path() == f"{base}/questionnaires/{track.test}/{start.isoformat()}/"
    result = page.locator("main section.result")
    expect(result.locator(".result__score")).to_be_visible()
    if track.test == "ftnd":
        # The first answer of each: 3 + 1 + 1 + 0 + 1 + 1 = 7, "high", with its feedback.
        score = in_language(journey.lang, "Your score: %(total)s") % {"total": 7}
        expect(result.locator(".result__score")).to_contain_text(score)
        expect(result.locator(".result__score strong")).not_to_be_empty()
        expect(result.locator(".callout")).to_be_visible()
        expect(result.locator(".callout")).not_to_be_empty()
    else:
        # FTND-ST has no bands: a score, no band and no feedback.
        expect(result.locator(".result__score strong")).to_have_count(0)
        expect(result.locator(".callout")).to_have_count(0)
    journey.check_both("dependence test result")
    screenshot(page, f"dependence-result-{tag}")
    journey.visit(test_page)
    read(journey)
    assert journey.path() == f"{base}/pages/motivation/"
    read(journey)
    assert journey.path() == f"{base}/pages/triggers/"
    read(journey)

    # Medication: the list of medicines.
    assert journey.path() == f"{base}/pages/medication-choice/"
    medication = page.locator("main section.aid:has(#aid-medication-list)")
    expect(medication).to_be_visible()
    expect(medication.locator("h3, h4").first).to_be_visible()
    journey.check_both("medication list page", heading_en="Medication – which one suits you?")
    screenshot(page, f"medication-{tag}")
    read(journey)

    # The quit date, set with the aid on the page: back on the page, with the date.
    quit_page = f"{base}/pages/quit-date/"
    assert journey.path() == quit_page
    if track.product == "snus":
        quit_date_form(journey, base)
        journey.visit(quit_page)
    journey.check_both("quit date page", heading_en="Choose your quit date")
    quit_date = today if track.product == "snus" else today + datetime.timedelta(days=1)
    page.locator("#quit-date-quit_date").fill(quit_date.isoformat())
    journey.submit("main form.quit-date__form")
    assert journey.path() == quit_page
    expect(page.locator(".messages[role='status']")).to_be_visible()
    current = page.locator("main .quit-date__current")
    when = "That is today." if quit_date == today else "That is tomorrow."
    expect(current).to_contain_text(in_language(journey.lang, when))
    enrolment.refresh_from_db()
    assert enrolment.quit_date == quit_date
    journey.check_both("quit date page with a date")
    screenshot(page, f"quit-date-{tag}")
    read(journey)
    assert journey.path() == f"{base}/pages/support-people/"
    read(journey)

    # My plan gathers the reasons; the last page of Step 1 read, Step 2 opens.
    assert journey.path() == f"{base}/pages/quit-day-plan/"
    plan = page.locator("main .my-plan")
    expect(plan.locator("section:has([id$='plan-reasons']) .answer")).to_contain_text(track.reasons)
    journey.check_both("my plan page", heading_en="My plan for quit day")
    screenshot(page, f"my-plan-{tag}")
    read(journey)
    assert journey.path() == f"{base}/pages/quit-day/", "Step 2 did not open"
    journey.check_both("step 2 page", heading_en="Quit day")
    expect(page.locator("main .my-plan")).to_contain_text(track.reasons)
    journey.visit(f"{base}/pages/handling-cravings/")
    expect(page.locator("main section.aid:has(#aid-craving-first-aid) li").first).to_be_visible()
    journey.check_both("craving first aid page", heading_en="When the craving comes")

    # The overview: Step 1 done, Step 2 open, Steps 3 and 4 wait for the quit date.
    journey.visit(f"{base}/")
    expect(steps.nth(2).locator(".step-card__status strong")).to_be_visible()
    expect(steps.nth(3)).to_have_class("step-card")
    expect(steps.nth(4)).to_have_class("step-card step-card--locked")

    # Good to know now shows only the harms page for what the patient uses.
    journey.visit(f"{base}/steps/good-to-know/")
    expect(page.locator(f"main .page-list a[href='{base}/pages/{track.harms}/']")).to_have_count(1)
    expect(page.locator(f"main a[href='{base}/pages/{track.other_harms}/']")).to_have_count(0)
    journey.follow(f"{base}/pages/{track.harms}/")
    journey.check_both("harms page")
    with journey.guard.allow_console(NOT_FOUND_CONSOLE):
        journey.visit(f"{base}/pages/{track.other_harms}/", status=404)

    # A block only for those who smoke, on the withdrawal page.
    journey.visit(f"{base}/pages/withdrawal/")
    cough = page.locator("main article").get_by_text(COUGH[journey.lang])
    expect(cough).to_have_count(1 if track.product == "smoking" else 0)
    journey.check_both("page with a when block", heading_en="Withdrawal")
    expect(page.locator("main article").get_by_text(COUGH[journey.lang])).to_have_count(
        1 if track.product == "smoking" else 0
    )

    # The savings counter: on the quit day its figures; before it, the days left.
    money_page = f"{base}/pages/money/"
    journey.visit(money_page)
    savings = page.locator("main .savings")
    figures = savings.locator(".savings__figure dd")
    if track.product == "snus":
        # Quit today: 0 days, 0 kr and 0 cans so far.
        expect(figures).to_have_text(["0", re.compile(r"^0\s*kr$"), "0"])
    else:
        left = "From that day you will see here what you gain, day by day."
        expect(savings).to_contain_text(in_language(journey.lang, left))
        expect(figures).to_have_count(0)
    journey.check_both("savings page", heading_en="Money")
    if track.product == "smoking":
        # The smoker in fact stopped two days ago and moves the date: 2 days, 2 × 20
        # cigarettes, 2 × 75 kr.
        journey.visit(quit_page)
        quit_date = today - datetime.timedelta(days=2)
        page.locator("#quit-date-quit_date").fill(quit_date.isoformat())
        journey.submit("main form.quit-date__form")
        assert journey.path() == quit_page
        enrolment.refresh_from_db()
        assert enrolment.quit_date == quit_date
        journey.visit(money_page)
        expect(figures).to_have_text(["2", re.compile(r"^150\s*kr$"), "40"])
        journey.check_both("savings page with figures", heading_en="Money")
    screenshot(page, f"savings-{tag}")

    # Search in each language finds the withdrawal page.
    search_url = f"{base}/search/"
    journey.follow(search_url, within="main .programme-nav")
    for _ in range(2):
        lang = journey.lang
        page.locator("main form[role='search'] input[name='q']").fill(SEARCH[lang])
        journey.submit("main form[role='search']")
        hit = page.locator(f"main .search-results a[href='{base}/pages/withdrawal/']")
        expect(hit).to_have_count(1)
        journey.check("search results")
        journey.visit(search_url)
        journey.switch_language()

    # My plan as a PDF: the quit-day plan page with the answers.
    journey.follow(f"{base}/pdf/", within="main .programme-nav")
    journey.check_both("PDF form")
    page.locator("main input[name='pages'][value='quit-day-plan']").check()
    page.locator("main input[name='answers']").check()
    with page.expect_download() as download_info:
        page.locator("main form button[name='make']").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == f"{PROGRAMME}.pdf"
    pdf = tmp_path / "plan.pdf"
    download.save_as(pdf)
    text = pdf_text(pdf)
    assert " ".join(track.reasons.split()) in text, text

    # The manual: from the footer, and on paper without the header.
    journey.follow("/help/", within="footer")
    journey.check_both("manual", heading_en="How to find and use the programme")
    print_button = page.locator("main [data-print]")
    expect(print_button).to_be_visible()
    page.emulate_media(media="print")
    try:
        expect(page.locator("header.site-header")).to_be_hidden()
        expect(page.locator("footer")).to_be_hidden()
        expect(print_button).to_be_hidden()
        expect(page.locator("main h1")).to_be_visible()
        screenshot(page, f"manual-print-{tag}")
    finally:
        page.emulate_media(media="screen")

    journey.log_out()
    by_track = {
        "snus": {"quit date form", "quit date form with an error"},
        "smoking": {"savings page with figures"},
    }
    journey.assert_accessible(
        by_track[track.product]
        | {
            "overview",
            "content page",
            "step",
            "exercise page",
            "tobacco profile form",
            "tobacco profile result",
            "questionnaire list",
            "diary form",
            "page with questionnaires",
            "dependence test page",
            "dependence test form",
            "dependence test result",
            "medication list page",
            "quit date page",
            "quit date page with a date",
            "my plan page",
            "step 2 page",
            "craving first aid page",
            "harms page",
            "page with a when block",
            "savings page",
            "search results",
            "PDF form",
            "manual",
        }
    )
