"""Invitations: a one-time link and a short code, stored hashed, single use, expiring, replaced
by a new one; and activation: account, terms, consent, quit date, then the welcome page.

Bad input (an expired, used, revoked or forged invitation, someone else logged in, missing
consent, a quit date in the past) is refused with a clear message and changes nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass

import pytest
import time_machine
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.models import User
from steg.audit.models import AuditEvent
from steg.care import actions, invitations
from steg.care.invitations import SESSION_KEY, IssuedInvitation
from steg.care.models import Enrolment, EnrolmentEvent, Invitation, Patient
from steg.dialog.models import Notification
from steg.lib.personnummer import luhn_check_digit
from steg.testing.personas import PASSWORD, World, make_assessment, make_user

ACTIVATE_URL = reverse("care:invitation_activate")
CODE_URL = reverse("care:invitation_code")
NEW_PASSWORD = "Rosa-cykel-som-rullar-7"  # noqa: S105

# What the patient reads (English source text; the clients below ask for English).
USED = "This invitation has already been used. Log in instead."
EXPIRED = "This invitation has expired. Ask your care unit for a new one."
REVOKED = "A newer invitation has been sent to you, so this one no longer works."
UNKNOWN = "We could not find this invitation."
WRONG_CODE = "We could not find an invitation with this code."
TOO_MANY_CODES = "Too many wrong codes have been entered from here."
SOMEONE_ELSES = "This invitation belongs to someone else&#x27;s account."
LOGGED_IN_AS_OTHER = "You are logged in as another person. Log out first"
NEED_TERMS = "To start, you need to accept the terms of use."
NEED_CONSENT = "To start, you need to consent to digital treatment."
PAST_QUIT_DATE = "The quit date cannot be in the past."


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def english_client(user: User | None = None) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    if user is not None:
        client.force_login(user)
    return client


NILS = f"19500101123{luhn_check_digit('500101123')}"
OTHER_NUMBER = f"19850315238{luhn_check_digit('850315238')}"


def new_patient(*, email: str = "nils@test.example", phone: str = "070-123 45 67") -> Patient:
    return Patient.objects.create(
        personnummer=NILS,
        first_name="Nils",
        last_name="Nykomling",
        email=email,
        phone=phone,
    )


def invite(world: World, patient: Patient, *, quit_date: datetime.date | None = None) -> Enrolment:
    version = world.enrolment.programme_version
    assessment = make_assessment(
        patient, world.unit, version.programme, therapist=world.therapist, referrer=world.referrer
    )
    return actions.enrol_patient(assessment=assessment, actor=world.therapist, quit_date=quit_date)


@dataclass
class Invited:
    patient: Patient
    enrolment: Enrolment
    issued: IssuedInvitation

    @property
    def link_path(self) -> str:
        return reverse("care:invitation_open", args=[self.issued.token])


@pytest.fixture
def invited(world: World) -> Invited:
    patient = new_patient()
    enrolment = invite(world, patient)
    issued = invitations.send_invitation(enrolment, actor=world.therapist)
    return Invited(patient, enrolment, issued)


def in_a_week() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=7)


def activation_data(**overrides: str) -> dict[str, str]:
    data = {
        "personnummer": f"{NILS[:8]}-{NILS[8:]}",
        "email": "nils@test.example",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "accept_terms": "on",
        "consent": "on",
        "quit_date": in_a_week().isoformat(),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def opened(client: Client, invited: Invited) -> Client:
    response = client.get(invited.link_path)
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE_URL
    return client


def assert_nothing_changed(invited: Invited) -> None:
    invited.enrolment.refresh_from_db()
    invited.patient.refresh_from_db()
    invited.issued.invitation.refresh_from_db()
    assert invited.enrolment.status == Enrolment.Status.INVITED
    assert invited.enrolment.consented_at is None
    assert invited.enrolment.terms_version == ""
    assert invited.patient.user is None
    assert invited.issued.invitation.used_at is None
    assert not User.objects.filter(email="nils@test.example").exists()
    assert not AuditEvent.objects.filter(action="care.invitation.used").exists()


# --- stored hashed ------------------------------------------------------------------------


def test_the_database_holds_neither_the_token_nor_the_code_in_clear(invited: Invited) -> None:
    token, code = invited.issued.token, invited.issued.code
    assert len(token) >= 43  # 32 random bytes
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", code)
    row = Invitation.objects.filter(pk=invited.issued.invitation.pk).values().get()
    stored = " ".join(str(value) for value in row.values())
    assert token not in stored
    assert code not in stored and code.replace("-", "") not in stored
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    # The short code is guessable by brute force, so it is a keyed hash, not a plain one.
    assert row["code_hash"] != hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    assert len(row["code_hash"]) == 64
    # The audit log names the channels, never the secrets.
    event = AuditEvent.objects.get(action="care.invitation.sent")
    assert event.detail["channels"] == ["email", "sms"]
    assert token not in str(event.detail) and code not in str(event.detail)


def test_the_link_and_the_code_find_the_invitation_by_their_hashes(invited: Invited) -> None:
    invitation = invited.issued.invitation
    assert invitations.invitation_for_token(invited.issued.token) == invitation
    assert invitations.invitation_for_code(invited.issued.code) == invitation
    spaced = " ".join(invited.issued.code.lower().replace("-", "  "))
    assert invitations.invitation_for_code(spaced) == invitation
    assert invitations.invitation_for_token(invited.issued.token + "x") is None
    assert invitations.invitation_for_code("AAAA-AAAA") is None


# --- the notification ---------------------------------------------------------------------


def test_the_invitation_goes_by_email_and_sms_with_link_and_code_and_no_health_information(
    world: World, invited: Invited
) -> None:
    sent = Notification.objects.filter(patient=invited.patient, kind="invitation")
    assert sorted(sent.values_list("channel", flat=True)) == ["email", "sms"]
    assert sent.get(channel="email").address == "nils@test.example"
    assert sent.get(channel="sms").address == "070-123 45 67"
    link = settings.SITE_URL + invited.link_path
    health_words = [
        world.unit.name,
        invited.enrolment.programme_version.title("sv"),
        invited.enrolment.programme_version.title("en"),
        "tobak",
        "tobacco",
        "snus",
        "rök",
        "smok",
        "nikotin",
        "nicotine",
        "sluta",
        "quit",
    ]
    for notification in sent:
        text = f"{notification.subject}\n{notification.body}"
        assert link in text
        assert invited.issued.code in text
        assert settings.SITE_URL + CODE_URL in text
        for word in health_words:
            assert word.lower() not in text.lower(), (notification.channel, word)
    assert invited.issued.invitation.channels == ["email", "sms"]


def test_an_invitation_for_a_treatment_that_is_not_waiting_is_refused(world: World) -> None:
    with pytest.raises(actions.CareError) as refused:
        invitations.send_invitation(world.enrolment, actor=world.therapist)
    assert refused.value.code == "not_invited"
    assert not Invitation.objects.exists()


def test_only_staff_at_the_unit_can_send_an_invitation(world: World) -> None:
    enrolment = invite(world, new_patient())
    with pytest.raises(actions.CareError):
        invitations.send_invitation(enrolment, actor=world.other_therapist)
    with pytest.raises(actions.CareError):
        invitations.send_invitation(enrolment, actor=world.author)
    assert not Invitation.objects.exists()


# --- opening the link or the code ---------------------------------------------------------


def test_opening_the_link_moves_the_token_out_of_the_address_and_shows_the_welcome(
    invited: Invited,
) -> None:
    client = opened(english_client(), invited)
    assert client.session[SESSION_KEY] == invited.issued.invitation.pk
    event = AuditEvent.objects.get(action="care.invitation.opened")
    assert (event.patient, event.actor, event.detail) == (invited.patient, None, {"via": "link"})
    response = client.get(ACTIVATE_URL)
    assertContains(response, "Welcome, Nils")
    assertContains(response, 'value="nils@test.example"')
    assertContains(response, 'autocomplete="new-password"')
    assertContains(response, 'autocomplete="email"')
    assertNotContains(response, invited.issued.token)
    assert "no-store" in response["Cache-Control"]


def test_entering_the_code_opens_the_invitation_in_any_case_and_spacing(invited: Invited) -> None:
    client = english_client()
    code = invited.issued.code.lower().replace("-", " ")
    response = client.post(CODE_URL, {"code": code})
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE_URL
    assert client.session[SESSION_KEY] == invited.issued.invitation.pk


def test_the_activation_page_without_an_invitation_sends_you_to_the_code_form(
    world: World,
) -> None:
    response = english_client().get(ACTIVATE_URL)
    assert response.status_code == 302
    assert response["Location"] == CODE_URL


def test_a_forged_token_gets_a_404_page_that_says_what_to_do(world: World) -> None:
    response = english_client().get(reverse("care:invitation_open", args=["forged-token-123"]))
    assertContains(response, UNKNOWN, status_code=404)
    assertContains(response, CODE_URL, status_code=404)


def test_a_wrong_code_is_refused_with_a_message(invited: Invited) -> None:
    response = english_client().post(CODE_URL, {"code": "AAAA-AAAA"})
    assertContains(response, WRONG_CODE, status_code=422)


def test_wrong_codes_are_rate_limited_per_address(invited: Invited) -> None:
    client = english_client()
    for _attempt in range(10):
        response = client.post(CODE_URL, {"code": "AAAA-AAAA"})
        assertContains(response, WRONG_CODE, status_code=422)
    response = client.post(CODE_URL, {"code": "AAAA-AAAA"})
    assertContains(response, TOO_MANY_CODES, status_code=429)
    # While the limit holds, even the right code is not tried.
    response = client.post(CODE_URL, {"code": invited.issued.code})
    assertContains(response, TOO_MANY_CODES, status_code=429)
    assert SESSION_KEY not in client.session
    # Another address is not affected.
    other = english_client()
    response = other.post(CODE_URL, {"code": invited.issued.code}, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 302


def test_refusals_are_in_swedish_by_default(world: World) -> None:
    response = Client().get(reverse("care:invitation_open", args=["forged-token-123"]))
    with translation.override("sv"):
        expected = translation.gettext(
            "We could not find this invitation. Check that you have the whole link or "
            "the right code, or ask your care unit for a new invitation."
        )
    assertContains(response, expected, status_code=404)
    assert response["Content-Language"] == "sv"


# --- expiry -------------------------------------------------------------------------------


def test_the_link_still_works_after_13_days(invited: Invited) -> None:
    with time_machine.travel(timezone.now() + datetime.timedelta(days=13)):
        opened(english_client(), invited)


def test_the_link_and_code_expire_after_14_days(invited: Invited) -> None:
    later = invited.issued.invitation.created_at + datetime.timedelta(days=14, minutes=1)
    with time_machine.travel(later):
        client = english_client()
        response = client.get(invited.link_path)
        assertContains(response, EXPIRED, status_code=410)
        response = client.post(CODE_URL, {"code": invited.issued.code})
        assertContains(response, EXPIRED, status_code=410)
        assert SESSION_KEY not in client.session


def test_an_invitation_that_expires_while_the_form_is_open_is_refused(invited: Invited) -> None:
    client = opened(english_client(), invited)
    soon = timezone.now() + datetime.timedelta(minutes=1)
    Invitation.objects.filter(pk=invited.issued.invitation.pk).update(expires_at=soon)
    with time_machine.travel(soon + datetime.timedelta(minutes=1)):
        response = client.post(ACTIVATE_URL, activation_data())
        assertContains(response, EXPIRED, status_code=410)
    assert_nothing_changed(invited)


def test_the_number_of_days_follows_the_setting(world: World, settings: Settings) -> None:
    settings.STEG_INVITATION_DAYS = 3
    issued = invitations.send_invitation(invite(world, new_patient()), actor=world.therapist)
    invitation = issued.invitation
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=3)


# --- activation ---------------------------------------------------------------------------


def test_activation_creates_the_account_and_starts_the_treatment_on_the_welcome_page(
    invited: Invited,
) -> None:
    client = opened(english_client(), invited)
    response = client.post(ACTIVATE_URL, activation_data())
    continue_url = reverse("programmes:continue", args=[invited.enrolment.pk])
    assert response.status_code == 302
    assert response["Location"] == continue_url

    user = User.objects.get(email="nils@test.example")
    assert user.check_password(NEW_PASSWORD)
    assert (user.first_name, user.last_name) == ("Nils", "Nykomling")
    invited.patient.refresh_from_db()
    assert invited.patient.user == user
    enrolment = Enrolment.objects.get(pk=invited.enrolment.pk)
    assert enrolment.status == Enrolment.Status.ACTIVE
    assert enrolment.started_at is not None
    assert enrolment.quit_date == in_a_week()
    assert enrolment.terms_version == settings.STEG_TERMS_VERSION
    assert enrolment.consented_at is not None
    event = EnrolmentEvent.objects.filter(enrolment=enrolment).order_by("pk").last()
    assert event is not None
    assert (event.old_value, event.new_value, event.actor) == ("invited", "active", user)
    used = AuditEvent.objects.get(action="care.invitation.used")
    assert (used.actor, used.actor_role, used.patient) == (user, "patient", invited.patient)
    assert AuditEvent.objects.filter(
        action="care.enrolment.status_changed", patient=invited.patient, actor=user
    ).exists()
    invitation = Invitation.objects.get(pk=invited.issued.invitation.pk)
    assert invitation.used_at is not None
    assert invitation.used_by == user

    # Logged in, the invitation gone from the session, on to the programme's welcome page.
    assert client.session["_auth_user_id"] == str(user.pk)
    assert SESSION_KEY not in client.session
    response = client.get(continue_url)
    assert response["Location"] == reverse(
        "programmes:page", kwargs={"enrolment_id": enrolment.pk, "page_key": "welcome"}
    )
    page = client.get(response["Location"])
    assertContains(page, "Welcome! Your treatment has started.")


def test_the_new_account_logs_in_with_its_password_afterwards(invited: Invited) -> None:
    client = opened(english_client(), invited)
    client.post(ACTIVATE_URL, activation_data())
    fresh = english_client()
    response = fresh.post(
        reverse("account_login"), {"login": "nils@test.example", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert fresh.session["_auth_user_id"] == str(User.objects.get(email="nils@test.example").pk)


def test_the_link_works_only_once(invited: Invited) -> None:
    opened_client = opened(english_client(), invited)
    opened_client.post(ACTIVATE_URL, activation_data())
    again = english_client()
    response = again.get(invited.link_path)
    assertContains(response, USED, status_code=410)
    assertContains(response, reverse("account_login"), status_code=410)
    response = again.post(CODE_URL, {"code": invited.issued.code})
    assertContains(response, USED, status_code=410)


def test_a_second_concurrent_activation_fails_and_activates_only_once(
    invited: Invited,
) -> None:
    pk = invited.issued.invitation.pk
    invitations.activate(
        pk,
        user=None,
        personnummer=NILS,
        email="nils@test.example",
        password=NEW_PASSWORD,
        accept_terms=True,
        consent=True,
        quit_date=in_a_week(),
    )
    with pytest.raises(actions.CareError) as refused:
        invitations.activate(
            pk,
            user=None,
            personnummer=NILS,
            email="nils.igen@test.example",
            password=NEW_PASSWORD,
            accept_terms=True,
            consent=True,
            quit_date=in_a_week(),
        )
    assert refused.value.code == "used"
    assert not User.objects.filter(email="nils.igen@test.example").exists()
    assert (
        EnrolmentEvent.objects.filter(enrolment=invited.enrolment, new_value="active").count() == 1
    )


def test_the_same_link_open_in_two_browsers_activates_only_once(invited: Invited) -> None:
    phone = opened(english_client(), invited)
    laptop = opened(english_client(), invited)
    assert phone.post(ACTIVATE_URL, activation_data()).status_code == 302
    second = laptop.post(ACTIVATE_URL, activation_data(email="nils2@test.example"))
    assertContains(second, USED, status_code=410)
    assert User.objects.filter(email__startswith="nils").count() == 1
    assert SESSION_KEY not in laptop.session


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"accept_terms": ""}, NEED_TERMS),
        ({"consent": ""}, NEED_CONSENT),
        ({"quit_date": "2000-01-01"}, PAST_QUIT_DATE),
        ({"quit_date": ""}, "Choose your quit date."),
        ({"password2": "Something-else-42"}, "The two passwords are not the same."),
        ({"password1": "1234567890", "password2": "1234567890"}, "This password is entirely"),
        ({"email": "not-an-address"}, "Enter your e-mail address"),
        ({"personnummer": ""}, "Enter your personal identity number."),
        ({"personnummer": "19500101"}, "Write the personal identity number as 12 digits"),
    ],
)
def test_missing_or_wrong_answers_are_refused_and_change_nothing(
    invited: Invited, overrides: dict[str, str], message: str
) -> None:
    client = opened(english_client(), invited)
    response = client.post(ACTIVATE_URL, activation_data(**overrides))
    assertContains(response, message, status_code=422)
    assertContains(response, "There is a problem", status_code=422)
    assert_nothing_changed(invited)
    # The invitation still works for a corrected form.
    response = client.post(ACTIVATE_URL, activation_data())
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"accept_terms": False}, "terms"),
        ({"consent": False}, "consent"),
        ({"quit_date": datetime.date(2000, 1, 1)}, "quit_date"),
        ({"quit_date": None}, "quit_date"),
        ({"password": "short"}, "password"),
        ({"personnummer": ""}, "personnummer"),
        ({"personnummer": OTHER_NUMBER}, "personnummer"),
        ({"personnummer": "not a number"}, "personnummer"),
    ],
)
def test_the_action_itself_refuses_missing_consent_and_bad_dates(
    invited: Invited, overrides: dict[str, object], code: str
) -> None:
    arguments: dict[str, object] = {
        "user": None,
        "personnummer": NILS,
        "email": "nils@test.example",
        "password": NEW_PASSWORD,
        "accept_terms": True,
        "consent": True,
        "quit_date": in_a_week(),
    }
    arguments.update(overrides)
    with pytest.raises(actions.CareError) as refused:
        invitations.activate(invited.issued.invitation.pk, **arguments)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert_nothing_changed(invited)


def test_an_email_address_that_has_an_account_is_refused_clearly(
    world: World, invited: Invited
) -> None:
    client = opened(english_client(), invited)
    response = client.post(ACTIVATE_URL, activation_data(email="THERAPIST@test.example"))
    assertContains(
        response, "There is already an account with this e-mail address", status_code=422
    )
    assert_nothing_changed(invited)


def test_the_quit_date_set_at_enrolment_is_offered_for_confirmation(world: World) -> None:
    patient = new_patient()
    enrolment = invite(world, patient, quit_date=in_a_week())
    issued = invitations.send_invitation(enrolment, actor=world.therapist)
    client = english_client()
    client.get(reverse("care:invitation_open", args=[issued.token]))
    response = client.get(ACTIVATE_URL)
    assertContains(response, f'value="{in_a_week().isoformat()}"')


# --- who activates ------------------------------------------------------------------------


@pytest.fixture
def invited_with_account(world: World) -> tuple[Invited, User]:
    account = make_user("nils@test.example", "Nils", "Nykomling")
    patient = new_patient()
    patient.user = account
    patient.save(update_fields=["user"])
    enrolment = invite(world, patient)
    issued = invitations.send_invitation(enrolment, actor=world.therapist)
    return Invited(patient, enrolment, issued), account


def test_a_patient_with_an_account_is_asked_to_log_in_first(
    invited_with_account: tuple[Invited, User],
) -> None:
    invited, _account = invited_with_account
    client = opened(english_client(), invited)
    response = client.get(ACTIVATE_URL)
    assertContains(response, "You already have an account in Steg.")
    assertContains(response, f"{reverse('account_login')}?next=%2Finvitation%2Factivate%2F")
    assertNotContains(response, "password1")


def test_a_patient_with_an_account_activates_after_logging_in_without_a_new_password(
    invited_with_account: tuple[Invited, User],
) -> None:
    invited, account = invited_with_account
    client = opened(english_client(), invited)
    response = client.post(
        reverse("account_login") + "?next=" + ACTIVATE_URL,
        {"login": "nils@test.example", "password": PASSWORD, "next": ACTIVATE_URL},
    )
    assert response["Location"] == ACTIVATE_URL
    page = client.get(ACTIVATE_URL)
    assertContains(page, "You are logged in as nils@test.example.")
    assertNotContains(page, "password1")
    assertNotContains(page, 'name="personnummer"')  # the account was bound to the patient before
    response = client.post(
        ACTIVATE_URL, {"accept_terms": "on", "consent": "on", "quit_date": in_a_week()}
    )
    assert response.status_code == 302
    invited.enrolment.refresh_from_db()
    assert invited.enrolment.status == Enrolment.Status.ACTIVE
    assert User.objects.filter(email__startswith="nils").count() == 1
    assert Invitation.objects.get(pk=invited.issued.invitation.pk).used_by == account


def test_a_second_person_logged_in_cannot_activate_someone_elses_invitation(
    world: World, invited_with_account: tuple[Invited, User]
) -> None:
    invited, _account = invited_with_account
    client = opened(english_client(world.patient_user), invited)
    page = client.get(ACTIVATE_URL)
    assertContains(page, SOMEONE_ELSES, status_code=403)
    assertNotContains(page, "accept_terms", status_code=403)
    # The wrong person is not greeted with the patient's name.
    assertNotContains(page, "Nils", status_code=403)
    assertContains(page, "Start your treatment", status_code=403)
    response = client.post(
        ACTIVATE_URL, {"accept_terms": "on", "consent": "on", "quit_date": in_a_week()}
    )
    assertContains(response, SOMEONE_ELSES, status_code=403)
    invited.enrolment.refresh_from_db()
    assert invited.enrolment.status == Enrolment.Status.INVITED
    with pytest.raises(actions.CareError) as refused:
        invitations.activate(
            invited.issued.invitation.pk,
            user=world.patient_user,
            accept_terms=True,
            consent=True,
            quit_date=in_a_week(),
        )
    assert refused.value.code == "other_account"


def test_someone_logged_in_cannot_take_a_new_patients_invitation(
    world: World, invited: Invited
) -> None:
    client = opened(english_client(world.therapist), invited)
    response = client.post(ACTIVATE_URL, activation_data())
    assertContains(response, LOGGED_IN_AS_OTHER, status_code=403)
    assertNotContains(response, "Nils", status_code=403)
    assert_nothing_changed(invited)
    world.therapist.refresh_from_db()
    assert not Patient.objects.filter(user=world.therapist).exists()


def eid_user(personnummer: str, email: str = "eid@test.example") -> User:
    user = User.objects.create_user(email, None, first_name="Nils", last_name="Nykomling")
    SocialAccount.objects.create(
        user=user,
        provider="eid",
        uid=f"sub-{personnummer}",
        extra_data={"userinfo": {"sub": "x", settings.STEG_OIDC_PERSONNUMMER_CLAIM: personnummer}},
    )
    return user


def test_an_account_made_from_the_patients_e_id_is_linked_without_a_password(
    invited: Invited,
) -> None:
    account = eid_user(invited.patient.personnummer)
    client = opened(english_client(account), invited)
    page = client.get(ACTIVATE_URL)
    assertContains(page, "You have logged in with your e-ID.")
    assertNotContains(page, "password1")
    assertNotContains(page, 'name="personnummer"')  # the e-ID has proved who it is
    response = client.post(
        ACTIVATE_URL, {"accept_terms": "on", "consent": "on", "quit_date": in_a_week()}
    )
    assert response.status_code == 302
    invited.patient.refresh_from_db()
    assert invited.patient.user == account
    assert AuditEvent.objects.get(action="care.invitation.used").detail["account"] == "eid"


def test_an_e_id_of_another_person_cannot_activate(invited: Invited) -> None:
    account = eid_user(OTHER_NUMBER)
    client = opened(english_client(account), invited)
    response = client.post(
        ACTIVATE_URL, {"accept_terms": "on", "consent": "on", "quit_date": in_a_week()}
    )
    assertContains(response, LOGGED_IN_AS_OTHER, status_code=403)
    invited.patient.refresh_from_db()
    assert invited.patient.user is None


def test_the_e_id_button_is_shown_when_oidc_is_configured(
    invited: Invited, settings: Settings
) -> None:
    client = opened(english_client(), invited)
    assertNotContains(client.get(ACTIVATE_URL), "Log in with e-legitimation")
    settings.OIDC_ENABLED = True
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"APPS": [{"provider_id": "eid", "name": "e-legitimation"}]}
    }
    page = client.get(ACTIVATE_URL)
    assertContains(page, "Log in with e-legitimation")
    assertContains(page, reverse("openid_connect_login", kwargs={"provider_id": "eid"}))
    assertContains(page, f'name="next" value="{ACTIVATE_URL}"')


# --- a new invitation ---------------------------------------------------------------------


def resend_url(enrolment: Enrolment) -> str:
    return reverse("care:invitation_resend", args=[enrolment.pk])


def sent_minutes_ago(invitation: Invitation, minutes: int = 2) -> None:
    """As if the invitation had been sent a while ago (a new one is refused for 60 seconds)."""
    earlier = timezone.now() - datetime.timedelta(minutes=minutes)
    Invitation.objects.filter(pk=invitation.pk).update(created_at=earlier)


def test_a_new_invitation_stops_the_old_link_and_code(world: World, invited: Invited) -> None:
    sent_minutes_ago(invited.issued.invitation)
    therapist = english_client(world.therapist)
    response = therapist.post(resend_url(invited.enrolment), follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "care:enrolment_manage", args=[invited.enrolment.pk]
    )
    assertContains(response, "A new invitation has been sent (e-mail, SMS).")
    old = Invitation.objects.get(pk=invited.issued.invitation.pk)
    assert old.revoked_at is not None
    new = Invitation.objects.filter(enrolment=invited.enrolment).exclude(pk=old.pk).get()
    assert new.is_usable()

    client = english_client()
    assertContains(client.get(invited.link_path), REVOKED, status_code=410)
    assertContains(client.post(CODE_URL, {"code": invited.issued.code}), REVOKED, status_code=410)
    # The new one is in the new notifications.
    latest = Notification.objects.filter(kind="invitation", channel="sms").order_by("-pk")[0]
    new_link = re.search(r"/invitation/([A-Za-z0-9_-]{40,})/", latest.body)
    assert new_link is not None
    assert invitations.invitation_for_token(new_link.group(1)) == new
    assert AuditEvent.objects.filter(action="care.invitation.sent").count() == 2


def test_an_open_activation_form_stops_working_when_a_new_invitation_is_sent(
    world: World, invited: Invited
) -> None:
    client = opened(english_client(), invited)
    sent_minutes_ago(invited.issued.invitation)
    invitations.send_invitation(invited.enrolment, actor=world.therapist)
    response = client.post(ACTIVATE_URL, activation_data())
    assertContains(response, REVOKED, status_code=410)
    assert_nothing_changed(invited)


def test_without_email_or_phone_the_therapist_is_shown_the_code_once(world: World) -> None:
    patient = new_patient(email="", phone="")
    enrolment = invite(world, patient)
    response = english_client(world.therapist).post(resend_url(enrolment))
    assertContains(response, "has no e-mail address or mobile number")
    assert "no-store" in response["Cache-Control"]
    invitation = Invitation.objects.get(enrolment=enrolment)
    assert invitation.channels == []
    assert not Notification.objects.filter(patient=patient).exists()
    code = re.search(r"<strong>([A-Z2-9]{4}-[A-Z2-9]{4})</strong>", response.content.decode())
    assert code is not None
    client = english_client()
    assert client.post(CODE_URL, {"code": code.group(1)})["Location"] == ACTIVATE_URL


def test_a_new_invitation_for_an_active_treatment_is_refused_with_a_message(
    world: World,
) -> None:
    response = english_client(world.therapist).post(resend_url(world.enrolment), follow=True)
    assertContains(
        response,
        "An invitation can only be sent while the treatment is waiting to be started.",
    )
    assert not Invitation.objects.exists()


def test_staff_of_another_unit_cannot_send_an_invitation(world: World, invited: Invited) -> None:
    for user in (world.other_therapist, world.author, world.patient_user):
        response = english_client(user).post(resend_url(invited.enrolment))
        assert response.status_code == 404
    assert Invitation.objects.filter(enrolment=invited.enrolment).count() == 1


# --- the terms ----------------------------------------------------------------------------


def test_the_terms_are_public_and_explain_the_consent(world: World) -> None:
    response = english_client().get(reverse("care:terms"))
    assertContains(response, "What consenting to digital treatment means")
    assertContains(response, settings.STEG_TERMS_VERSION)


# --- the identity number on password activation -------------------------------------------

WRONG_NUMBER = "This is not the personal identity number the invitation was sent for."
LOCKED = "A wrong personal identity number has been entered too many times"


def test_a_password_activation_asks_for_the_patients_identity_number(invited: Invited) -> None:
    page = opened(english_client(), invited).get(ACTIVATE_URL)
    assertContains(page, "Your personal identity number")
    assertContains(page, "So that we know the invitation has reached the right person")
    assertContains(page, 'id="activate-personnummer"')
    assertNotContains(page, NILS)  # the page never gives the number away


def test_a_wrong_identity_number_is_refused_counted_and_changes_nothing_else(
    invited: Invited,
) -> None:
    client = opened(english_client(), invited)
    response = client.post(ACTIVATE_URL, activation_data(personnummer=OTHER_NUMBER))
    assertContains(response, WRONG_NUMBER, status_code=422)
    assertContains(response, "You can try 4 more times.", status_code=422)
    assertNotContains(response, NILS, status_code=422)
    assertNotContains(response, f"{NILS[:8]}-{NILS[8:]}", status_code=422)
    assert_nothing_changed(invited)
    # Counted although the activation was refused (its transaction rolled back).
    invitation = Invitation.objects.get(pk=invited.issued.invitation.pk)
    assert (invitation.failed_attempts, invitation.revoked_at) == (1, None)
    event = AuditEvent.objects.get(action="care.invitation.personnummer_refused")
    assert (event.patient, event.actor) == (invited.patient, None)
    assert event.detail == {"failed_attempts": 1, "revoked": False}
    assert NILS not in str(event.detail) and OTHER_NUMBER not in str(event.detail)
    # The right number (in the ten-digit form too) still works.
    ten_digits = f"{NILS[2:8]}-{NILS[8:]}"
    response = client.post(ACTIVATE_URL, activation_data(personnummer=ten_digits))
    assert response.status_code == 302
    invited.patient.refresh_from_db()
    assert invited.patient.user is not None


def test_the_action_counts_a_wrong_number_outside_its_rolled_back_transaction(
    invited: Invited,
) -> None:
    with pytest.raises(actions.CareError) as refused:
        invitations.activate(
            invited.issued.invitation.pk,
            user=None,
            personnummer=OTHER_NUMBER,
            email="nils@test.example",
            password=NEW_PASSWORD,
            accept_terms=True,
            consent=True,
            quit_date=in_a_week(),
        )
    assert (refused.value.code, refused.value.field) == ("personnummer", "personnummer")
    assert NILS not in str(refused.value.message)
    assert Invitation.objects.get(pk=invited.issued.invitation.pk).failed_attempts == 1
    assert_nothing_changed(invited)


def test_five_wrong_identity_numbers_revoke_the_invitation(invited: Invited) -> None:
    client = opened(english_client(), invited)
    for attempt in range(1, invitations.MAX_FAILED_ATTEMPTS):
        response = client.post(ACTIVATE_URL, activation_data(personnummer=OTHER_NUMBER))
        left = invitations.MAX_FAILED_ATTEMPTS - attempt
        expected = "1 more time." if left == 1 else f"{left} more times."
        assertContains(response, expected, status_code=422)
    response = client.post(ACTIVATE_URL, activation_data(personnummer=OTHER_NUMBER))
    assertContains(response, LOCKED, status_code=410)
    assertContains(response, "Contact your care unit and ask for a new invitation", status_code=410)
    invitation = Invitation.objects.get(pk=invited.issued.invitation.pk)
    assert invitation.failed_attempts == invitations.MAX_FAILED_ATTEMPTS
    assert invitation.revoked_at is not None
    events = AuditEvent.objects.filter(action="care.invitation.personnummer_refused")
    assert events.count() == invitations.MAX_FAILED_ATTEMPTS
    assert events.order_by("-pk")[0].detail == {"failed_attempts": 5, "revoked": True}
    assert_nothing_changed(invited)

    # Now not even the right number works, by the link, the code or the open form.
    fresh = english_client()
    assertContains(fresh.get(invited.link_path), LOCKED, status_code=410)
    assertContains(fresh.post(CODE_URL, {"code": invited.issued.code}), LOCKED, status_code=410)
    with pytest.raises(actions.CareError) as refused:
        invitations.activate(
            invitation.pk,
            user=None,
            personnummer=NILS,
            email="nils@test.example",
            password=NEW_PASSWORD,
            accept_terms=True,
            consent=True,
            quit_date=in_a_week(),
        )
    assert refused.value.code == "locked"
    assert_nothing_changed(invited)


def test_a_new_invitation_after_the_lock_works(world: World, invited: Invited) -> None:
    Invitation.objects.filter(pk=invited.issued.invitation.pk).update(
        failed_attempts=invitations.MAX_FAILED_ATTEMPTS, revoked_at=timezone.now()
    )
    sent_minutes_ago(invited.issued.invitation)
    issued = invitations.send_invitation(invited.enrolment, actor=world.therapist)
    client = english_client()
    client.get(reverse("care:invitation_open", args=[issued.token]))
    assert client.post(ACTIVATE_URL, activation_data()).status_code == 302


# --- a long e-mail address ----------------------------------------------------------------

# 64 + 1 + 63 + 1 + 63 + 1 + 63 + 3 = 259 characters, a valid address, too long for User.email.
LONG_EMAIL = "n" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + ".se"


def test_an_email_address_longer_than_the_column_is_a_form_error(invited: Invited) -> None:
    assert len(LONG_EMAIL) == 259
    client = opened(english_client(), invited)
    response = client.post(ACTIVATE_URL, activation_data(email=LONG_EMAIL))
    assertContains(response, "The e-mail address is too long", status_code=422)
    assertContains(response, 'maxlength="254"', status_code=422)
    assert_nothing_changed(invited)
    with pytest.raises(actions.CareError) as refused:
        invitations.activate(
            invited.issued.invitation.pk,
            user=None,
            personnummer=NILS,
            email=LONG_EMAIL,
            password=NEW_PASSWORD,
            accept_terms=True,
            consent=True,
            quit_date=in_a_week(),
        )
    assert (refused.value.code, refused.value.field) == ("email", "email")
    assert_nothing_changed(invited)


# --- a double click on "Send a new invitation" --------------------------------------------

RECENTLY_SENT = "An invitation was sent a moment ago"


def test_a_second_invitation_within_a_minute_is_not_sent(world: World, invited: Invited) -> None:
    with pytest.raises(actions.CareError) as refused:
        invitations.send_invitation(invited.enrolment, actor=world.therapist)
    assert refused.value.code == "recently_sent"
    assert Invitation.objects.get(enrolment=invited.enrolment).is_usable()
    assert Notification.objects.filter(kind="invitation").count() == 2  # e-mail and SMS, once
    # A minute later a new one may be sent.
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61)):
        invitations.send_invitation(invited.enrolment, actor=world.therapist)
    assert Invitation.objects.filter(enrolment=invited.enrolment).count() == 2


def test_a_double_click_on_send_a_new_invitation_sends_one(world: World, invited: Invited) -> None:
    sent_minutes_ago(invited.issued.invitation)
    therapist = english_client(world.therapist)
    manage = reverse("care:enrolment_manage", args=[invited.enrolment.pk])
    first = therapist.post(resend_url(invited.enrolment))
    second = therapist.post(resend_url(invited.enrolment), follow=True)
    assert first["Location"] == manage
    assert second.redirect_chain[-1][0] == manage
    assertContains(second, RECENTLY_SENT)
    new = Invitation.objects.filter(enrolment=invited.enrolment).exclude(
        pk=invited.issued.invitation.pk
    )
    assert new.count() == 1 and new[0].is_usable()  # the message the patient got works
    assert AuditEvent.objects.filter(action="care.invitation.sent").count() == 2
    assert Notification.objects.filter(kind="invitation").count() == 4  # twice e-mail and SMS


def test_without_email_or_phone_a_second_click_shows_a_working_code(world: World) -> None:
    # Nothing was sent anywhere: the first page with the code is replaced by the second, so
    # the second click must show a code that works.
    enrolment = invite(world, new_patient(email="", phone=""))
    therapist = english_client(world.therapist)
    therapist.post(resend_url(enrolment))
    second = therapist.post(resend_url(enrolment))
    code = re.search(r"<strong>([A-Z2-9]{4}-[A-Z2-9]{4})</strong>", second.content.decode())
    assert code is not None
    assert english_client().post(CODE_URL, {"code": code.group(1)})["Location"] == ACTIVATE_URL


# --- link checkers and the logs -----------------------------------------------------------


def test_a_head_request_answers_like_get_but_records_and_keeps_nothing(invited: Invited) -> None:
    client = english_client()
    response = client.head(invited.link_path)
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE_URL
    assert "no-store" in response["Cache-Control"]
    assert SESSION_KEY not in client.session
    assert not AuditEvent.objects.filter(action="care.invitation.opened").exists()
    forged = reverse("care:invitation_open", args=["forged-token-123"])
    assert client.head(forged).status_code == 404
    # The patient's own GET afterwards works as ever.
    opened(english_client(), invited)
    assert AuditEvent.objects.filter(action="care.invitation.opened").count() == 1


def test_a_head_request_for_a_used_invitation_keeps_the_session(invited: Invited) -> None:
    client = opened(english_client(), invited)
    Invitation.objects.filter(pk=invited.issued.invitation.pk).update(used_at=timezone.now())
    assert client.head(invited.link_path).status_code == 410
    assert client.session[SESSION_KEY] == invited.issued.invitation.pk


def test_the_log_filter_redacts_tokens_in_a_record_like_djangos() -> None:
    import logging

    from django.test import RequestFactory

    from steg.care.logging import RedactInvitationTokens

    token = "Zq3_secret-TOKEN-value-0123456789abcdefghijk"
    request = RequestFactory().get(f"/invitation/{token}/", HTTP_REFERER=f"/invitation/{token}/")
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Method Not Allowed (%s): %s",
        ("HEAD", request.path),
        None,
    )
    record.request = request
    record.status_code = 405
    assert RedactInvitationTokens().filter(record)
    assert record.getMessage() == "Method Not Allowed (HEAD): /invitation/[redacted]/"
    logged = record.__dict__["request"]  # what a handler (e.g. the mail to ADMINS) reads
    assert logged.path == "/invitation/[redacted]/"
    assert token not in logged.get_full_path() and token not in str(logged.META)
    assert request.path == f"/invitation/{token}/"  # the request itself goes on unchanged

    # The development server's request line, and a message with the path in it.
    server = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET /invitation/{token}/?x=1 HTTP/1.1", "302", "0"),
        None,
    )
    RedactInvitationTokens().filter(server)
    assert server.getMessage() == '"GET /invitation/[redacted]/?x=1 HTTP/1.1" 302 0'
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, f"at /invitation/{token}", None, None)
    RedactInvitationTokens().filter(plain)
    assert plain.getMessage() == "at /invitation/[redacted]"
    # The pages that hold no token are left as they are.
    for path in ("/invitation/", "/invitation/activate/", "/staff/enrolments/3/invitation/"):
        other = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (path,), None)
        RedactInvitationTokens().filter(other)
        assert other.getMessage() == path


def test_refused_links_log_no_token(invited: Invited, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    client = english_client()
    used_token = invited.issued.token
    opened(english_client(), invited).post(ACTIVATE_URL, activation_data())
    forged = "forged-token-0123456789abcdefghijklmnopqrstuvw"
    with caplog.at_level(logging.INFO):
        assert client.get(reverse("care:invitation_open", args=[forged])).status_code == 404
        assert client.get(invited.link_path).status_code == 410
        assert client.post(invited.link_path).status_code == 405
        assert client.put(invited.link_path).status_code == 405
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert len(logged) == 4
    for record in logged:
        text = f"{record.getMessage()} {record.request.path} {record.request.META}"  # type: ignore[attr-defined]
        assert used_token not in text and forged not in text
        assert "/invitation/[redacted]/" in record.getMessage()
    assert used_token not in caplog.text and forged not in caplog.text
