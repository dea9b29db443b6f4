"""The digital dialog and the therapist's dashboard, across roles, in a real browser.

The demo patient writes to the care team from the header's Messages link (a line break, text
that looks like HTML and a web address: shown escaped, the address a link) and sends the
quit-day plan exercise. The therapist finds the patient on the dashboard flagged with unread
messages and an exercise awaiting feedback, filters by each flag, opens the overview and the
conversation, answers from a message template (the first name filled in) and gives feedback on
the exercise; each flag clears. The development outbox holds the patient's notification, with
a link to Steg and no health information. The patient comes back to an unread badge in the
header, reads the answer and finds the feedback next to the exercise answer; the therapist then
sees the read receipt. axe-core checks every page in Swedish and English.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from steg.accounts.demo import DEMO_PATIENT_PERSONNUMMER, PATIENT, THERAPIST
from steg.care.models import Enrolment
from steg.dashboard.models import Attention
from steg.dialog.models import Message, Notification
from steg.programmes.models import ExerciseAnswer

from . import test_care_journey, test_journeys
from .test_care_journey import HEALTH_WORDS
from .test_journeys import Journey
from .test_programme import in_language

pytestmark = pytest.mark.browser

# The journeys' fixtures: the demo data loaded, a fast password hasher, axe-core; and a second
# browser for the therapist.
journey = test_journeys.journey
therapist_journey = test_care_journey.therapist_journey

PROGRAMME = "tobacco-cessation"
EXERCISE = "quit-day-plan"
LINK = "https://www.1177.se/"
# A line break, something that looks like HTML, and a web address.
PATIENT_MESSAGE = f"Hej!\nJag undrar över <b>hej</b> i planen.\nJag läste {LINK} i går."
PLAN = "Slutdag på måndag. Jag tar en promenad när suget kommer och ringer Eva."
FEEDBACK = "Bra plan, Alva! Promenaden är ett utmärkt knep."
MESSAGES_LINK = "header a[href='/patient/messages/']"


def flags_of(journey: Journey, enrolment: Enrolment) -> Any:
    """The "needs attention" cell of the enrolment's row on the dashboard."""
    row = journey.page.locator("main table.dashboard-table tbody tr").filter(
        has=journey.page.locator(f"a[href='/staff/enrolments/{enrolment.pk}/overview/']")
    )
    expect(row).to_have_count(1)
    return row.locator("td").first


def flag_count(journey: Journey, flag: str) -> int:
    """The number at the top of the dashboard for one flag."""
    link = journey.page.locator(f"main nav.dashboard-counts a[href*='flag={flag}']")
    return int(link.locator("strong").inner_text())


def filter_by(journey: Journey, flag: str) -> None:
    with journey.page.expect_navigation():
        journey.page.locator(f"main nav.dashboard-counts a[href*='flag={flag}']").click()
    expect(
        journey.page.locator(f"main nav.dashboard-counts a[href*='flag={flag}']")
    ).to_have_attribute("aria-current", "page")


def test_dialog_and_dashboard_across_roles(journey: Journey, therapist_journey: Journey) -> None:
    enrolment = Enrolment.objects.get(
        patient__personnummer=DEMO_PATIENT_PERSONNUMMER,
        programme_version__programme__slug=PROGRAMME,
    )
    base = f"/patient/treatments/{enrolment.pk}"
    thread = f"{base}/messages/"
    staff_thread = f"/staff/enrolments/{enrolment.pk}/messages/"
    overview = f"/staff/enrolments/{enrolment.pk}/overview/"
    feedback_page = f"/staff/enrolments/{enrolment.pk}/feedback/exercise/{EXERCISE}/"

    # --- The patient writes to the care team and sends the quit-day plan. -----------------
    patient = journey
    page = patient.page
    patient.log_in(PATIENT, staff=False)
    assert patient.path() == "/patient/"
    expect(page.locator(f"{MESSAGES_LINK} .badge")).to_have_count(0)
    patient.follow("/patient/messages/", within="header")
    # Two treatments (the example programme and tobacco): one conversation each.
    patient.check_both("message inbox", heading_en="Messages")
    patient.follow(thread)
    patient.check_both("patient conversation", heading_en="Messages")
    page.locator("main form[action$='/messages/send/'] textarea").fill(PATIENT_MESSAGE)
    patient.submit(f"main form[action='{thread}send/']")
    assert patient.path() == thread
    sent = Message.objects.get(enrolment=enrolment, sender_role="patient")
    assert sent.body == PATIENT_MESSAGE
    body = page.locator(f"#message-{sent.pk} .thread__body")
    # Escaped: the tags are text, not bold; the line breaks kept; the address a link.
    expect(body).to_contain_text("<b>hej</b>")
    expect(body.locator("b")).to_have_count(0)
    expect(body.locator("br")).to_have_count(2)
    link = body.locator(f"a[href='{LINK}']")
    expect(link).to_have_text(LINK)
    expect(link).to_have_attribute("rel", re.compile("nofollow"))
    link.click(trial=True)  # visible, enabled and not covered: it can be clicked
    patient.check_both("patient conversation, sent", heading_en="Messages")

    patient.visit(f"{base}/pages/{EXERCISE}/")
    patient.check_both("quit-day plan page", heading_en="My plan for quit day")
    page.locator(f"#exercise-{EXERCISE} textarea").fill(PLAN)
    with page.expect_navigation():
        page.locator(f"#exercise-{EXERCISE} button[value='submit']").click()
    expect(page.locator(f"#exercise-{EXERCISE} .exercise__sent")).to_be_visible()
    answer = ExerciseAnswer.objects.get(enrolment=enrolment, key=EXERCISE)
    assert answer.status == ExerciseAnswer.Status.SUBMITTED
    patient.log_out()

    # --- The therapist sees both flags on the dashboard. ----------------------------------
    therapist = therapist_journey
    tpage = therapist.page
    therapist.log_in(THERAPIST, staff=True)
    assert therapist.path() == "/staff/"
    therapist.follow("/staff/dashboard/")
    therapist.check_both("dashboard", heading_en="My patients")
    flags = flags_of(therapist, enrolment)
    expect(flags.locator("li.flag--unread")).to_have_count(1)
    expect(flags.locator("li.flag--feedback")).to_have_count(1)
    unread_before = flag_count(therapist, "unread")
    feedback_before = flag_count(therapist, "feedback")
    assert unread_before >= 1 and feedback_before >= 1
    filter_by(therapist, "unread")
    expect(flags_of(therapist, enrolment).locator("li.flag--unread")).to_have_count(1)
    therapist.check_both("dashboard, unread messages", heading_en="My patients")

    # --- The overview, and the conversation: an answer from a template. -------------------
    with tpage.expect_navigation():
        tpage.locator(f"main a[href='{overview}']").click()
    assert therapist.path() == overview
    therapist.follow(staff_thread)
    therapist.check_both(
        "staff conversation",
        heading_en=f"Messages with {PATIENT.first_name} {PATIENT.last_name}",
    )
    body = tpage.locator(f"#message-{sent.pk} .thread__body")
    expect(body).to_contain_text("<b>hej</b>")
    expect(body.locator("b")).to_have_count(0)
    expect(body.locator(f"a[href='{LINK}']")).to_have_count(1)
    # Opening the conversation marked the patient's message read by the therapist.
    expect(tpage.locator(f"#message-{sent.pk} .thread__receipt")).to_contain_text(
        THERAPIST.first_name
    )

    textarea = tpage.locator("main form[action$='/messages/send/'] textarea")
    expect(textarea).to_have_value("")
    with tpage.expect_response(lambda r: "/messages/template/" in r.url):
        tpage.locator("main select[name='template']").select_option(label="Välkommen")
    textarea = tpage.locator("main form[action$='/messages/send/'] textarea")
    expect(textarea).to_have_value(re.compile(rf"^Hej {PATIENT.first_name}!"))
    reply = textarea.input_value()
    assert "{" not in reply and THERAPIST.first_name in reply, reply
    therapist.check("staff conversation with a template")
    with tpage.expect_navigation():
        tpage.locator("main button[name='action'][value='send']").click()
    assert therapist.path() == staff_thread
    answered = Message.objects.get(enrolment=enrolment, sender_role="staff")
    assert answered.body == reply.replace("\r\n", "\n").strip() and not answered.link_kind
    expect(tpage.locator(f"#message-{answered.pk} .thread__receipt")).to_have_text(
        in_language(therapist.lang, "Not yet read by the patient")
    )
    therapist.check_both("staff conversation, answered")

    therapist.visit("/staff/dashboard/")
    flags = flags_of(therapist, enrolment)
    expect(flags.locator("li.flag--unread")).to_have_count(0)
    expect(flags.locator("li.flag--feedback")).to_have_count(1)
    assert flag_count(therapist, "unread") == unread_before - 1
    assert Attention.objects.get(pk=enrolment.pk).unread_messages == 0

    # --- Feedback on the exercise. -----------------------------------------------------
    filter_by(therapist, "feedback")
    expect(flags_of(therapist, enrolment).locator("li.flag--feedback")).to_have_count(1)
    therapist.check_both("dashboard, awaiting feedback", heading_en="My patients")
    therapist.visit(staff_thread)
    therapist.follow(feedback_page)
    therapist.check_both("feedback page")
    expect(tpage.locator("main .answer")).to_contain_text(PLAN)
    tpage.locator(f"main form[action='{feedback_page}'] textarea").fill(FEEDBACK)
    therapist.submit(f"main form[action='{feedback_page}']")
    assert therapist.path() == staff_thread
    given = Message.objects.get(enrolment=enrolment, link_kind="exercise")
    assert given.link_key == EXERCISE and given.body == FEEDBACK
    # In the conversation too, as feedback on the exercise, linked to the feedback page.
    expect(tpage.locator(f"#message-{given.pk} .thread__link a")).to_have_attribute(
        "href", feedback_page
    )
    therapist.visit("/staff/dashboard/")
    flags = flags_of(therapist, enrolment)
    expect(flags.locator("li.flag--feedback")).to_have_count(0)
    expect(flags.locator("li.flag--unread")).to_have_count(0)
    assert flag_count(therapist, "feedback") == feedback_before - 1
    assert Attention.objects.get(pk=enrolment.pk).awaiting_feedback == 0
    # The unit's patients: the same row, with the therapist named.
    with tpage.expect_navigation():
        tpage.locator("main nav.dashboard-scope a[href*='scope=unit']").click()
    expect(tpage.locator("main nav.dashboard-scope a[href*='scope=unit']")).to_have_attribute(
        "aria-current", "page"
    )
    row = flags_of(therapist, enrolment).locator("xpath=..")
    expect(row.locator("td").last).to_have_text(f"{THERAPIST.first_name} {THERAPIST.last_name}")
    therapist.check_both("dashboard, the unit's patients")

    # --- The outbox: the patient is told, without a word about their health. -------------
    patient.visit("/dev/outbox/")
    patient.check_both("development outbox", heading_en="Development outbox")
    to_patient = Notification.objects.filter(patient__personnummer=DEMO_PATIENT_PERSONNUMMER)
    assert to_patient.filter(kind="new_message").exists()
    addresses = {n.address for n in to_patient}
    assert PATIENT.email in addresses
    items = page.locator("main article.outbox-item")
    shown = 0
    for i in range(items.count()):
        item = items.nth(i)
        if not any(address in item.locator("h2").inner_text() for address in addresses):
            continue
        shown += 1
        text = item.inner_text()  # the subject and the body
        assert not HEALTH_WORDS.search(text), text
        href = item.locator(".outbox-body a").first.get_attribute("href")
        assert href and href.startswith(settings.SITE_URL), href
        assert urlsplit(href).path == "/patient/messages/", href
    assert shown == to_patient.count() >= 1

    # --- The patient comes back: the badge, the answer, the feedback by the exercise. -----
    patient.log_in(PATIENT, staff=False)
    badge = page.locator(f"{MESSAGES_LINK} .badge")
    expect(badge).to_contain_text("2")
    patient.check_both("patient start with unread messages", heading_en="My treatments")
    patient.follow("/patient/messages/", within="header")
    patient.check_both("message inbox with unread messages", heading_en="Messages")
    card = page.locator("main .card").filter(has=page.locator(f"a[href='{thread}']"))
    expect(card.locator("strong")).to_contain_text("2")
    patient.follow(thread)
    # Read now: the badge is gone from the header of the conversation itself.
    expect(page.locator(f"{MESSAGES_LINK} .badge")).to_have_count(0)
    expect(page.locator(f"#message-{answered.pk} .thread__body")).to_contain_text(
        f"Hej {PATIENT.first_name}!"
    )
    expect(page.locator(f"#message-{answered.pk} .badge")).to_have_count(1)  # "New"
    patient.check_both("patient conversation with the answer", heading_en="Messages")
    exercise_link = page.locator(f"#message-{given.pk} .thread__link a")
    expect(exercise_link).to_have_attribute("href", f"{base}/pages/{EXERCISE}/#exercise-{EXERCISE}")
    with page.expect_navigation():
        exercise_link.click()
    assert patient.path() == f"{base}/pages/{EXERCISE}/"
    callout = page.locator(f"#exercise-{EXERCISE} .callout")
    expect(callout).to_contain_text(FEEDBACK)
    expect(callout).to_contain_text(f"{THERAPIST.first_name} {THERAPIST.last_name}")
    patient.check_both("quit-day plan page with feedback", heading_en="My plan for quit day")
    patient.log_out()

    # --- The therapist sees that the patient has read the answer. ------------------------
    answered.refresh_from_db()
    assert answered.read_at is not None and answered.read_by_id == enrolment.patient.user_id
    therapist.visit(staff_thread)
    read = in_language(therapist.lang, "Read by the patient, %(when)s").split("%(when)s")[0]
    expect(tpage.locator(f"#message-{answered.pk} .thread__receipt")).to_contain_text(read)
    therapist.check_both("staff conversation, read")

    # The overview: the feedback by the exercise, and every message in the timeline.
    therapist.visit(overview)
    therapist.check_both("patient overview", heading_en=f"{PATIENT.first_name} {PATIENT.last_name}")
    exercise = tpage.locator(f"main article[aria-labelledby='exercise-{EXERCISE}-heading']")
    expect(exercise).to_contain_text(PLAN)
    expect(exercise).to_contain_text(FEEDBACK)
    timeline = tpage.locator("main section[aria-labelledby='timeline-heading'] tbody")
    expect(timeline).to_contain_text("<b>hej</b>")  # the patient's message, as text
    expect(timeline.locator("b")).to_have_count(0)
    expect(timeline).to_contain_text(f"Hej {PATIENT.first_name}!")
    expect(timeline).to_contain_text(FEEDBACK)
    therapist.log_out()

    journey.assert_accessible(
        {
            "message inbox",
            "patient conversation",
            "patient conversation, sent",
            "quit-day plan page",
            "development outbox",
            "patient start with unread messages",
            "message inbox with unread messages",
            "patient conversation with the answer",
            "quit-day plan page with feedback",
        }
    )
    therapist.assert_accessible(
        {
            "two-factor authentication",
            "dashboard",
            "dashboard, unread messages",
            "patient overview",
            "staff conversation",
            "staff conversation, answered",
            "dashboard, awaiting feedback",
            "feedback page",
            "dashboard, the unit's patients",
            "staff conversation, read",
        }
    )
