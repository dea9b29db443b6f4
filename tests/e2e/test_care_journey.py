"""The care journey across roles, in a real browser.

The referrer sends a referral; the therapist finds it in the unit's inbox, books the assessment
talk, records it choosing the digital programme and enrols the patient; the patient opens the
invitation link from the development outbox, activates the treatment with a quit date and lands
on Welcome; the therapist pauses and resumes; a therapist in another region gets 404 for all of
it, and each attempt is audited. axe-core checks every page in Swedish and English.
"""

from __future__ import annotations

import datetime
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from steg.accounts.demo import (
    DEMO_HEALTH_CENTRE,
    DEMO_UNIT,
    OTHER_THERAPIST,
    THERAPIST,
    DemoAccount,
)
from steg.accounts.models import Unit
from steg.audit.models import AuditEvent
from steg.care.models import Enrolment, EnrolmentEvent, Meeting, Patient, Referral
from steg.lib.personnummer import luhn_check_digit
from steg.programmes.models import Programme

from . import test_journeys
from .conftest import TIMEOUT_MS, PageGuard
from .test_journeys import NOT_FOUND_CONSOLE, Journey

pytestmark = pytest.mark.browser

# The journeys' fixture, used here too: the demo data loaded, a fast password hasher, axe-core.
journey = test_journeys.journey

REFERRER = DemoAccount("referrer", "referrer@steg.example", "Rakel", "Nord")
NEW_PATIENT = {
    "personnummer": f"19850315-987{luhn_check_digit('850315987')}",
    "first_name": "Nora",
    "last_name": "Nyberg",
    "email": "nora@steg.example",
    "phone": "070-555 12 34",
}
PASSWORD = "Nora-sin-egen-2026"
# Words that would tell a reader of the invitation something about the patient's health.
HEALTH_WORDS = re.compile(
    r"tobak|snus|rök|cigarett|nikotin|tobacco|smok|nicotine|avvänjning|cessation|behandling|"
    r"treatment|program",
    re.IGNORECASE,
)


@pytest.fixture
def therapist_journey(browser: Any, live_server: Any, axe: Any) -> Any:
    """A second browser, for the therapist who stays logged in while the patient acts."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    guard = PageGuard()
    page = context.new_page()
    guard.attach(page)
    yield Journey(page=page, axe=axe, guard=guard)
    context.close()
    guard.assert_clean()


def choose_radio(page: Any, name: str, value: str) -> None:
    page.locator(f"main input[type='radio'][name='{name}'][value='{value}']").check()


def test_referral_to_treatment_across_roles(journey: Journey, therapist_journey: Journey) -> None:
    unit = Unit.objects.get(name=DEMO_UNIT)

    # --- The referrer sends a referral. ---------------------------------------------------
    referrer = journey
    page = referrer.page
    referrer.log_in(REFERRER, staff=True)
    assert referrer.path() == "/staff/"
    referrer.check_both("staff start (referrer)", heading_en="My units")
    health_centre = Unit.objects.get(name=DEMO_HEALTH_CENTRE)
    referrer.follow(f"/staff/referrals/new/?from={health_centre.pk}")
    referrer.check_both("referral form", heading_en="Send a referral")
    page.select_option("#id_receiving_unit", str(unit.pk))
    for field in ("personnummer", "first_name", "last_name", "phone", "email"):
        page.fill(f"#id_{field}", NEW_PATIENT[field])
    choose_radio(page, "tobacco_type", "snus")
    page.fill("#id_tobacco_amount", "En dosa om dagen")
    page.fill("#id_reason", "Vill sluta med snus, har provat själv.")
    page.check("#id_contact_consent")
    referrer.submit("main form[action='/staff/referrals/new/']")
    assert referrer.path() == "/staff/referrals/sent/"
    referrer.check_both("sent referrals")
    expect(page.locator("main")).to_contain_text("Nyberg")
    referral = Referral.objects.get(patient__email=NEW_PATIENT["email"])
    patient = referral.patient
    assert patient.user is None  # a record from the identity number, no account yet
    referrer.log_out()

    # --- The therapist finds it, books and records the talk, and enrols. -----------------
    therapist = therapist_journey
    tpage = therapist.page
    therapist.log_in(THERAPIST, staff=True)
    inbox = f"/staff/units/{unit.pk}/referrals/"
    therapist.follow(inbox)
    therapist.check_both("referral inbox")
    therapist.follow(f"/staff/referrals/{referral.pk}/")
    therapist.check_both("referral", heading_en=f"Referral for {patient}")

    # Book the talk by phone, tomorrow at ten.
    therapist.follow(f"/staff/patients/{patient.pk}/meetings/new/?referral={referral.pk}")
    therapist.check_both("book a meeting")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    tpage.fill("#meeting-date", tomorrow.isoformat())
    tpage.fill("#meeting-time", "10:00")
    choose_radio(tpage, "mode", "phone")
    therapist.submit("main form:has(#meeting-date)")
    meeting = Meeting.objects.get(patient=patient)
    assert meeting.kind == "assessment" and meeting.referral == referral
    assert timezone.localtime(meeting.starts_at).hour == 10

    # Record the talk: FTND-ST for snus, the digital programme, guided.
    therapist.visit(f"/staff/referrals/{referral.pk}/")
    therapist.follow(f"/staff/referrals/{referral.pk}/assessment/")
    therapist.check_both("assessment talk", heading_en="Assessment talk")
    choose_radio(tpage, "mode", "phone")
    tpage.fill("#assessment-tobacco_use", "En dosa om dagen sedan tio år.")
    names = tpage.eval_on_selector_all(
        "main input[type='radio'][name^='dep-']", "els => [...new Set(els.map(e => e.name))]"
    )
    assert len(names) >= 5, names
    for name in names:
        tpage.locator(f"main input[type='radio'][name='{name}']").first.check()
    tpage.fill("#assessment-motivation", "8")
    tpage.fill("#assessment-confidence", "6")
    choose_radio(tpage, "choice", "digital_guided")
    tpage.fill("#assessment-choice_reason", "Vill arbeta på egen tid, med stöd.")
    tobacco_programme = Programme.objects.get(slug="tobacco-cessation")
    tpage.select_option("#assessment-programme", str(tobacco_programme.pk))
    therapist.submit("main form:has(#assessment-choice_reason)")
    assert therapist.path() == f"/staff/referrals/{referral.pk}/"
    therapist.check_both("referral, assessed")
    referral.refresh_from_db()
    assert referral.status == "assessed"
    assessment = patient.assessments.get()
    assert assessment.dependence_score is not None

    therapist.follow(f"/staff/assessments/{assessment.pk}/enrol/")
    therapist.check_both("enrol", heading_en="Enrol in the digital programme")
    therapist.submit("main form:has(#id_version)")
    enrolment = Enrolment.objects.get(patient=patient)
    assert therapist.path() == f"/staff/enrolments/{enrolment.pk}/"
    therapist.check_both("manage treatment")
    assert enrolment.status == "invited"

    # --- The patient opens the invitation from the outbox and starts. ---------------------
    patient_journey = journey
    ppage = patient_journey.page
    patient_journey.visit("/dev/outbox/")
    patient_journey.check_both("development outbox", heading_en="Development outbox")
    item = ppage.locator("main article.outbox-item").filter(has_text=NEW_PATIENT["email"]).first
    text = item.locator(".outbox-body").inner_text()
    assert not HEALTH_WORDS.search(text), text
    link = item.locator(".outbox-body a[href*='/invitation/']").first.get_attribute("href")
    assert link and re.search(r"/invitation/[\w-]{20,}/$", link), link
    # The link is made from SITE_URL; the test server listens elsewhere.
    invitation_path = urlsplit(link).path
    ppage.goto(invitation_path)
    assert patient_journey.path() == "/invitation/activate/"
    patient_journey.check_both("activation", heading_en=f"Welcome, {patient.first_name}")
    expect(ppage.locator("#activate-email")).to_have_value(NEW_PATIENT["email"])
    # Whoever holds the link must also know whose it is (a mistyped address reaches a stranger).
    ppage.fill("#activate-personnummer", NEW_PATIENT["personnummer"])
    ppage.fill("#activate-password1", PASSWORD)
    ppage.fill("#activate-password2", PASSWORD)
    ppage.check("#activate-accept_terms")
    ppage.check("#activate-consent")
    quit_date = timezone.localdate() + datetime.timedelta(days=7)
    ppage.fill("#activate-quit_date", quit_date.isoformat())
    patient_journey.submit("main form:has(#activate-consent)")
    base = f"/patient/treatments/{enrolment.pk}"
    assert patient_journey.path() == f"{base}/pages/welcome/"
    patient_journey.check_both("welcome", heading_en="Welcome")
    enrolment.refresh_from_db()
    patient.refresh_from_db()
    assert enrolment.status == "active" and enrolment.quit_date == quit_date
    assert enrolment.consented_at is not None and patient.user is not None
    # The link works once only.
    with patient_journey.guard.allow_console(r"status of 410"):
        patient_journey.visit(invitation_path, status=410)
        patient_journey.check_both("invitation used")
    patient_journey.visit("/patient/")
    patient_journey.check_both("patient start", heading_en="My treatments")
    patient_journey.follow("/patient/meetings/")
    patient_journey.check_both("my meetings")
    patient_journey.log_out()

    # --- The therapist pauses and resumes. -------------------------------------------------
    therapist.visit(f"/staff/enrolments/{enrolment.pk}/")
    tpage.fill("#status-reason", "Sjukhusvistelse, återkommer om två veckor.")
    with tpage.expect_navigation():
        tpage.locator("main button[name='status'][value='paused']").click()
    enrolment.refresh_from_db()
    assert enrolment.status == "paused"
    therapist.check_both("manage treatment, paused")
    expect(tpage.locator("main")).to_contain_text("Sjukhusvistelse")
    with tpage.expect_navigation():
        tpage.locator("main button[name='status'][value='active']").click()
    enrolment.refresh_from_db()
    assert enrolment.status == "active"
    assert [e.new_value for e in EnrolmentEvent.objects.filter(enrolment=enrolment)] == [
        "invited",
        "active",
        "paused",
        "active",
    ]
    therapist.follow(f"/staff/patients/{patient.pk}/")
    therapist.check_both("patient record")
    therapist.log_out()

    # --- A therapist in another region sees none of it. ------------------------------------
    other = journey
    other.log_in(OTHER_THERAPIST, staff=True)
    before = AuditEvent.objects.filter(action__endswith="access_denied").count()
    private = [
        f"/staff/referrals/{referral.pk}/",
        f"/staff/referrals/{referral.pk}/assessment/",
        f"/staff/patients/{patient.pk}/",
        f"/staff/assessments/{assessment.pk}/enrol/",
        f"/staff/enrolments/{enrolment.pk}/",
        f"/staff/meetings/{meeting.pk}/",
        inbox,
    ]
    with other.guard.allow_console(NOT_FOUND_CONSOLE):
        for path in private:
            other.visit(path, status=404)
            expect(other.page.locator("main")).not_to_contain_text("Nyberg")
        other.check("not found")  # the error page has no language switch
    denied = AuditEvent.objects.filter(action__endswith="access_denied").order_by("id")[before:]
    assert len(denied) >= len(private)
    assert {e.actor.email for e in denied if e.actor} == {OTHER_THERAPIST.email}
    other.visit("/staff/")
    other.log_out()

    expected = {
        "staff start (referrer)",
        "referral form",
        "sent referrals",
        "development outbox",
        "activation",
        "welcome",
        "invitation used",
        "patient start",
        "my meetings",
    }
    journey.assert_accessible(expected)
    therapist.assert_accessible(
        {
            "referral inbox",
            "referral",
            "book a meeting",
            "assessment talk",
            "referral, assessed",
            "enrol",
            "manage treatment",
            "manage treatment, paused",
            "patient record",
        }
    )
    assert Patient.objects.filter(email=NEW_PATIENT["email"]).count() == 1
