"""Every URL of Steg, requested as every persona: who gets the page, who is sent away, who gets 404.

The table below has one row per URL pattern (Steg's and django-allauth's). A pattern without a
row fails `test_every_url_pattern_has_a_row_in_the_matrix`: when you add a URL, add its row here.
Missing rights answer 404 (never 403), so nobody learns whether a record exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from steg.automation.models import Firing, RuleFlag
from steg.programmes.models import StepOpening
from steg.testing.personas import EXAMPLE_PROGRAMME, World

PERSONAS = (
    "anonymous",
    "patient",
    "therapist",
    "other_therapist",
    "author",
    "admin",
    "region_admin",
    "referrer",
)

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    # The matrix builds a world per URL; Argon2 would make that take a minute.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass(frozen=True)
class Redirect:
    """A redirect to the page named `to`; `next=True` means it carries ?next=<requested path>."""

    to: str
    status: int = 302
    next: bool = False


Expected = int | Redirect

LOGIN = Redirect("account_login", next=True)
"""Anonymous visitors of a login-only page go to the login page and come back afterwards."""


def expect(default: Expected, **by_persona: Expected) -> dict[str, Expected]:
    """The same answer for every persona, except those named."""
    unknown = set(by_persona) - set(PERSONAS)
    assert not unknown, f"unknown personas {unknown}"
    return {persona: by_persona.get(persona, default) for persona in PERSONAS}


def no_kwargs(world: World) -> dict[str, object]:
    return {}


def own_unit(world: World) -> dict[str, object]:
    return {"unit_id": world.unit.pk}


def own_patient(world: World) -> dict[str, object]:
    return {"patient_id": world.patient.pk}


def oidc_provider(world: World) -> dict[str, object]:
    return {"provider_id": "eid"}


def own_enrolment(world: World) -> dict[str, object]:
    return {"enrolment_id": world.enrolment.pk}


def own_step(world: World) -> dict[str, object]:
    return {"enrolment_id": world.enrolment.pk, "step_key": "welcome"}


def own_page(world: World) -> dict[str, object]:
    return {"enrolment_id": world.enrolment.pk, "page_key": "welcome"}


def _exercise_step_open(world: World) -> None:
    # The exercise and the checklist are in a step that opens when the first one is read.
    StepOpening.objects.get_or_create(
        enrolment=world.enrolment,
        step_key="try-it",
        defaults={"opened_by": world.therapist, "opened_at": timezone.now()},
    )


def own_exercise(world: World) -> dict[str, object]:
    _exercise_step_open(world)
    return {"enrolment_id": world.enrolment.pk, "page_key": "first-exercise", "key": "why-try"}


def own_checklist(world: World) -> dict[str, object]:
    _exercise_step_open(world)
    return {
        "enrolment_id": world.enrolment.pk,
        "page_key": "first-exercise",
        "key": "getting-started",
    }


def example_media(world: World) -> dict[str, object]:
    data = (EXAMPLE_PROGRAMME / "media" / "steps.png").read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest()}


def locked_step_of_own_patient(world: World) -> dict[str, object]:
    return {"enrolment_id": world.enrolment.pk, "step_key": "looking-back"}


def own_questionnaire(world: World) -> dict[str, object]:
    return {"enrolment_id": world.enrolment.pk, "questionnaire_id": "mood"}


def own_response(world: World) -> dict[str, object]:
    from steg.questionnaires.models import Response

    now = timezone.now()
    response, _ = Response.objects.get_or_create(
        enrolment=world.enrolment,
        questionnaire_id="mood",
        day=timezone.localdate(),
        defaults={
            "status": Response.Status.SUBMITTED,
            "answers": {},
            "language": "sv",
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
        },
    )
    return {
        "enrolment_id": world.enrolment.pk,
        "questionnaire_id": "mood",
        "day": response.day.isoformat(),
    }


def bogus_invitation_token(world: World) -> dict[str, object]:
    return {"token": "not-a-real-invitation-token"}


def open_referral(world: World) -> dict[str, object]:
    """A new referral of the patient to the unit "Tobaksavvänjning Testby"."""
    from steg.care.models import Referral

    referral = (
        Referral.objects.filter(patient=world.patient, receiving_unit=world.unit)
        .exclude(status=Referral.Status.CLOSED)
        .first()
    ) or Referral.objects.create(
        patient=world.patient,
        referring_unit=world.referring_unit,
        receiving_unit=world.unit,
        referrer=world.referrer,
        tobacco_type="cigarettes",
        tobacco_amount="10 cigaretter",
        reason="Vill sluta röka",
        contact_consent=True,
    )
    return {"referral_id": referral.pk}


def own_meeting(world: World) -> dict[str, object]:
    """A booked meeting next week: the patient with the therapist at "Tobaksavvänjning Testby"."""
    import datetime

    from steg.care.models import Meeting

    meeting = Meeting.objects.filter(patient=world.patient, unit=world.unit).first()
    if meeting is None:
        starts_at = timezone.now() + datetime.timedelta(days=7)
        meeting = Meeting.objects.create(
            patient=world.patient,
            unit=world.unit,
            therapist=world.therapist,
            kind=Meeting.Kind.FOLLOW_UP,
            mode="phone",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(minutes=30),
            created_by=world.therapist,
        )
    return {"meeting_id": meeting.pk}


def fresh_digital_assessment(world: World) -> dict[str, object]:
    from steg.care.models import Patient
    from steg.testing.personas import make_assessment

    patient, _ = Patient.objects.get_or_create(
        personnummer="195001011237", defaults={"first_name": "Ny", "last_name": "Patient"}
    )
    assessment = make_assessment(
        patient, world.unit, world.enrolment.programme_version.programme, referrer=world.referrer
    )
    return {"assessment_id": assessment.pk}


def own_exercise_feedback(world: World) -> dict[str, object]:
    """The patient's submitted answer to the exercise "why-try": something to give feedback on."""
    from steg.programmes.models import ExerciseAnswer, Page

    now = timezone.now()
    page = Page.objects.get(version=world.enrolment.programme_version, key="first-exercise")
    ExerciseAnswer.objects.get_or_create(
        enrolment=world.enrolment,
        key="why-try",
        defaults={
            "page": page,
            "submitted_text": "För min hälsa.",
            "status": ExerciseAnswer.Status.SUBMITTED,
            "updated_at": now,
            "submitted_at": now,
        },
    )
    return {"enrolment_id": world.enrolment.pk, "kind": "exercise", "key": "why-try"}


def own_message_template(world: World) -> dict[str, object]:
    """A message template of the unit "Tobaksavvänjning Testby"."""
    from steg.dialog.models import MessageTemplate

    template, _ = MessageTemplate.objects.get_or_create(
        unit=world.unit, title="Välkommen", defaults={"body": "Hej {first_name}!"}
    )
    return {"template_id": template.pk}


def _firing(world: World, rule: str, **fields: object) -> Firing:
    now = timezone.now()
    firing, _ = Firing.objects.get_or_create(
        enrolment=world.enrolment,
        rule=rule,
        occasion="activated",
        defaults={
            "trigger": "activated",
            "scheduled_for": now,
            "next_attempt_at": now,
            "created_at": now,
            **fields,
        },
    )
    return firing


def own_rule_flag(world: World) -> dict[str, object]:
    """An open flag a rule raised for the patient's treatment at "Tobaksavvänjning Testby"."""
    firing = _firing(world, "slip", status="done", fired_at=timezone.now())
    flag, _ = RuleFlag.objects.get_or_create(
        firing=firing,
        defaults={
            "enrolment": world.enrolment,
            "rule": "slip",
            "reasons": {"sv": "Återfall", "en": "Relapse"},
            "step_up": "phone_video",
            "created_at": timezone.now(),
        },
    )
    return {"enrolment_id": world.enrolment.pk, "flag_id": flag.pk}


def own_failed_firing(world: World) -> dict[str, object]:
    """A rule that failed for the patient's treatment at "Tobaksavvänjning Testby"."""
    firing = _firing(
        world,
        "welcome",
        status="failed",
        attempts=5,
        fired_at=timezone.now(),
        last_error="RuntimeError: boom",
    )
    return {"firing_id": firing.pk}


@dataclass(frozen=True)
class Row:
    get: dict[str, Expected]
    kwargs: Callable[[World], dict[str, object]] = no_kwargs
    post: dict[str, Expected] | None = None
    post_data: dict[str, str] = field(default_factory=dict)


# Kinds of pages that many of allauth's URLs share.
PUBLIC = expect(200)
LOGIN_REQUIRED = expect(200, anonymous=LOGIN)
ANONYMOUS_ONLY = expect(Redirect("home"), anonymous=200)
STAFF_ONLY = expect(200, anonymous=LOGIN, patient=404)
ADMIN_ONLY = expect(404, anonymous=LOGIN, admin=200, region_admin=200)
# Data about patients at the unit "Tobaksavvänjning Testby": only its therapist and unit admin
# have a care relation. The other region's therapist, the author and the region admin do not.
CARE_OF_OWN_UNIT = expect(404, anonymous=LOGIN, therapist=200, admin=200)
REAUTHENTICATE_FIRST = expect(Redirect("account_reauthenticate", next=True), anonymous=LOGIN)
# The patient's own treatment: nobody else sees it, not even the therapist (who has the record).
OWN_TREATMENT = expect(404, anonymous=LOGIN, patient=200)
POST_ONLY = expect(405, anonymous=LOGIN)

MATRIX: dict[str, Row] = {
    # Steg's own pages.
    "home": Row(
        get=expect(
            Redirect("accounts:staff_start"),
            anonymous=Redirect("account_login"),
            patient=Redirect("care:patient_start"),
            admin=Redirect("accounts:admin_start"),
            region_admin=Redirect("accounts:admin_start"),
        )
    ),
    "accessibility": Row(get=PUBLIC),
    "set_language": Row(
        get=expect(405),
        post=expect(Redirect("accessibility")),
        post_data={"language": "en", "next": "/accessibility/"},
    ),
    "accounts:staff_start": Row(get=STAFF_ONLY),
    "accounts:admin_start": Row(get=ADMIN_ONLY),
    "accounts:overview": Row(get=LOGIN_REQUIRED),
    # Staff without a patient record of their own see an empty "My treatments" page.
    "care:patient_start": Row(get=LOGIN_REQUIRED),
    "care:unit_patients": Row(get=CARE_OF_OWN_UNIT, kwargs=own_unit),
    "care:patient_record": Row(get=CARE_OF_OWN_UNIT, kwargs=own_patient),
    "audit:log": Row(get=ADMIN_ONLY),
    # The patient's programme (302: on to a page of the programme).
    "programmes:overview": Row(get=OWN_TREATMENT, kwargs=own_enrolment),
    "programmes:continue": Row(get=expect(404, anonymous=LOGIN, patient=302), kwargs=own_enrolment),
    "programmes:step": Row(get=OWN_TREATMENT, kwargs=own_step),
    "programmes:page": Row(get=OWN_TREATMENT, kwargs=own_page),
    "programmes:mark_read": Row(
        get=POST_ONLY, post=expect(404, anonymous=LOGIN, patient=302), kwargs=own_page
    ),
    "programmes:exercise": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, patient=302),
        kwargs=own_exercise,
        post_data={"why-try-text": "Ett svar", "why-try-token": "t", "why-try-action": "save"},
    ),
    "programmes:checklist": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, patient=302),
        kwargs=own_checklist,
        post_data={"items": "getting-started-1"},
    ),
    "programmes:search": Row(get=OWN_TREATMENT, kwargs=own_enrolment),
    "programmes:pdf": Row(get=OWN_TREATMENT, kwargs=own_enrolment),
    # Programme media are not patient data: anyone logged in may load them.
    "programmes:media": Row(get=LOGIN_REQUIRED, kwargs=example_media),
    # Only staff with a care relation open a step (302: back to the patient record).
    "programmes:open_step": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=locked_step_of_own_patient,
    ),
    # The patient's questionnaires (302 after a POST: saved, back to the form).
    "questionnaires:list": Row(get=OWN_TREATMENT, kwargs=own_enrolment),
    "questionnaires:fill": Row(
        get=OWN_TREATMENT,
        post=expect(404, anonymous=LOGIN, patient=302),
        kwargs=own_questionnaire,
        post_data={"action": "save", "token": "t"},
    ),
    "questionnaires:result": Row(get=OWN_TREATMENT, kwargs=own_response),
    "questionnaires:measurements": Row(get=OWN_TREATMENT, kwargs=own_enrolment),
    # The tobacco programme: the patient's quit date (302: saved, back), the manual (public).
    "tobacco:quit_date": Row(
        get=OWN_TREATMENT,
        post=expect(404, anonymous=LOGIN, patient=302),
        kwargs=own_enrolment,
        post_data={"quit_date": timezone.localdate().isoformat()},
    ),
    "tobacco:manual": Row(get=PUBLIC),
    # --- Care journey: referrals and assessment talks (steg/care/urls_referrals.py).
    # Only referrers send referrals and see the ones they sent (422: the empty form refused).
    "care:referral_new": Row(
        get=expect(404, anonymous=LOGIN, referrer=200),
        post=expect(404, anonymous=LOGIN, referrer=422),
    ),
    "care:referrals_sent": Row(get=expect(404, anonymous=LOGIN, referrer=200)),
    # A unit's referrals: for its therapists and unit admin (302: done, back to the referral;
    # the second close finds it closed already and goes back too).
    "care:referral_inbox": Row(get=CARE_OF_OWN_UNIT, kwargs=own_unit),
    "care:referral_detail": Row(get=CARE_OF_OWN_UNIT, kwargs=open_referral),
    "care:referral_assign": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=open_referral,
        post_data={"therapist": ""},
    ),
    "care:referral_close": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=open_referral,
        post_data={"reason": "no_contact"},
    ),
    "care:assessment_new": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, therapist=422, admin=422),
        kwargs=open_referral,
    ),
    # --- Care journey: invitations and activation (steg/care/urls_invitations.py).
    # Public: the code form, the terms. A link with an unknown token is 404 for everyone; the
    # activation page without an invitation opened in the session sends everyone to the code
    # form. A new invitation (POST) is for staff with a care relation; the world's enrolment
    # is active, not invited, so they are sent back to the patient record with an error.
    "care:invitation_code": Row(get=PUBLIC),
    "care:invitation_open": Row(get=expect(404), kwargs=bogus_invitation_token),
    "care:invitation_activate": Row(get=expect(Redirect("care:invitation_code"))),
    "care:terms": Row(get=PUBLIC),
    "care:invitation_resend": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_enrolment,
    ),
    # --- Care journey: meetings (steg/care/urls_meetings.py).
    # Staff with a care relation book, move and cancel (422: the empty form is refused; 302:
    # cancelled, back to the patient record); the patient sees their own and asks to move one.
    "care:meeting_new": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, therapist=422, admin=422),
        kwargs=own_patient,
    ),
    "care:meeting_edit": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, therapist=422, admin=422),
        kwargs=own_meeting,
    ),
    "care:meeting_cancel": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_meeting,
    ),
    # Staff without a patient record of their own see an empty "My meetings" page.
    "care:my_meetings": Row(get=LOGIN_REQUIRED),
    "care:meeting_reschedule": Row(
        get=OWN_TREATMENT,
        post=expect(404, anonymous=LOGIN, patient=302),
        kwargs=own_meeting,
        post_data={"message": "Tisdagar efter klockan 15 passar bättre."},
    ),
    # The calendar file: the patient's own meeting, or staff with a care relation.
    "care:meeting_ics": Row(
        get=expect(404, anonymous=LOGIN, patient=200, therapist=200, admin=200),
        kwargs=own_meeting,
    ),
    # --- Care journey: enrolment and lifecycle (steg/care/urls_enrolments.py).
    # Staff with a care relation enrol after a digital assessment (422: the empty form is
    # refused) and run the treatment (302: done, back to the treatment page).
    "care:enrol": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, therapist=422, admin=422),
        kwargs=fresh_digital_assessment,
    ),
    "care:enrolment_manage": Row(get=CARE_OF_OWN_UNIT, kwargs=own_enrolment),
    "care:enrolment_status": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_enrolment,
        post_data={"status": "paused", "reason": "Semester"},
    ),
    "care:enrolment_therapist": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=422, admin=422),
        kwargs=own_enrolment,
    ),
    "care:enrolment_guidance": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_enrolment,
        post_data={"guidance": "self_help"},
    ),
    # --- Dialog: messages, feedback, templates and internal notes (steg/dialog/urls_messages.py).
    # The patient: their conversations (302: on to the only one), a conversation, sending (302:
    # sent, back to it) and keeping a draft (204).
    "dialog:patient_inbox": Row(get=expect(200, anonymous=LOGIN, patient=302)),
    "dialog:patient_messages": Row(get=OWN_TREATMENT, kwargs=own_enrolment),
    "dialog:send": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, patient=302),
        kwargs=own_enrolment,
        post_data={"body": "Hej! Jag har en fråga.", "token": "matrix"},
    ),
    "dialog:save_draft": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, patient=204),
        kwargs=own_enrolment,
        post_data={"body": "Hej! Jag"},
    ),
    # Staff with a care relation: the conversation, sending (302), drafts (204), a template
    # filled in for the patient, feedback on a submitted exercise (302: sent) and internal
    # notes (302: saved). The patient never reaches the staff side, notes least of all.
    "dialog:staff_messages": Row(get=CARE_OF_OWN_UNIT, kwargs=own_enrolment),
    "dialog:staff_send": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_enrolment,
        post_data={"body": "Hej! Hur går det?", "token": "matrix", "action": "send"},
    ),
    "dialog:staff_save_draft": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=204, admin=204),
        kwargs=own_enrolment,
        post_data={"body": "Hej! Hur"},
    ),
    "dialog:template_preview": Row(get=CARE_OF_OWN_UNIT, kwargs=own_enrolment),
    "dialog:feedback": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_exercise_feedback,
        post_data={"body": "Bra skrivet!", "token": "matrix", "link": "exercise:why-try"},
    ),
    "dialog:notes": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_enrolment,
        post_data={"body": "Ringde, inget svar.", "token": "matrix"},
    ),
    # Message templates: the unit's therapists read them, its admins write them (302: saved).
    "dialog:templates": Row(
        get=CARE_OF_OWN_UNIT,
        post=expect(404, anonymous=LOGIN, admin=302),
        kwargs=own_unit,
        post_data={"title": "Hej", "body": "Hej {first_name}!", "is_active": "on"},
    ),
    "dialog:template_edit": Row(
        get=expect(404, anonymous=LOGIN, admin=200),
        post=expect(404, anonymous=LOGIN, admin=302),
        kwargs=own_message_template,
        post_data={"title": "Välkommen", "body": "Hej {first_name}!", "is_active": "on"},
    ),
    # --- Dialog: notification settings and failed sends (steg/dialog/urls_notifications.py).
    # Anyone logged in sets their own channels and quiet hours (302: saved, back to the page).
    "dialog:preferences": Row(
        get=LOGIN_REQUIRED,
        post=expect(Redirect("dialog:preferences"), anonymous=LOGIN),
        post_data={"by_email": "on", "quiet_from": "22:00", "quiet_until": "07:00"},
    ),
    # Failed sends at the units one administers; "try again" (302: back to the list).
    "dialog:failed": Row(get=ADMIN_ONLY),
    "dialog:retry": Row(
        get=POST_ONLY,
        post=expect(
            404,
            anonymous=LOGIN,
            admin=Redirect("dialog:failed"),
            region_admin=Redirect("dialog:failed"),
        ),
        # A failed SMS to the patient at "Tobaksavvänjning Testby".
        kwargs=lambda world: {
            "notification_id": world.patient.notifications.create(
                kind="meeting_booked",
                channel="sms",
                address="+46701234567",
                body="Steg: something new.",
                status="failed",
                attempts=5,
            ).pk
        },
    ),
    # --- Dashboard and patient overview (steg/dashboard/urls.py).
    # The dashboard: for staff in a care role at some unit (each sees their own unit's).
    "dashboard:home": Row(
        get=expect(404, anonymous=LOGIN, therapist=200, other_therapist=200, admin=200)
    ),
    # The therapist's overview of one treatment: only staff with a care relation.
    "dashboard:overview": Row(get=CARE_OF_OWN_UNIT, kwargs=own_enrolment),
    # --- Automation: rule flags and the admins' queue (steg/automation/urls.py).
    # A rule's flag is marked handled by staff with a care relation (302: back to the
    # overview; the second time it is handled already and changes nothing).
    "automation:flag_handled": Row(
        get=POST_ONLY,
        post=expect(404, anonymous=LOGIN, therapist=302, admin=302),
        kwargs=own_rule_flag,
    ),
    # The queue, failures and retries at the units one administers; "try again" (302: back).
    "automation:queue": Row(get=ADMIN_ONLY),
    "automation:retry": Row(
        get=POST_ONLY,
        post=expect(
            404,
            anonymous=LOGIN,
            admin=Redirect("automation:queue"),
            region_admin=Redirect("automation:queue"),
        ),
        kwargs=own_failed_firing,
    ),
    # The development outbox: open to anyone while STEG_DEV_OUTBOX is on (never in production).
    "dialog:outbox": Row(get=PUBLIC),
    # django-allauth: accounts.
    "account_login": Row(get=ANONYMOUS_ONLY),
    "account_logout": Row(
        get=expect(200, anonymous=Redirect("home")),
        post=expect(Redirect("home")),
    ),
    "account_inactive": Row(get=PUBLIC),
    # Nobody signs up on their own: the page only says so (see test_login.py).
    "account_signup": Row(get=ANONYMOUS_ONLY),
    "account_reauthenticate": Row(get=LOGIN_REQUIRED),
    "account_email": Row(get=LOGIN_REQUIRED),
    "account_email_verification_sent": Row(get=PUBLIC),
    "account_change_password": Row(get=LOGIN_REQUIRED),
    "account_set_password": Row(get=expect(Redirect("account_change_password"), anonymous=LOGIN)),
    "account_reset_password": Row(get=PUBLIC),
    "account_reset_password_done": Row(get=PUBLIC),
    "account_reset_password_from_key": Row(
        get=PUBLIC, kwargs=lambda world: {"uidb36": "1", "key": "not-a-real-key"}
    ),
    "account_reset_password_from_key_done": Row(get=PUBLIC),
    "account_confirm_email": Row(get=PUBLIC, kwargs=lambda world: {"key": "not-a-real-key"}),
    "account_confirm_login_code": Row(
        get=expect(Redirect("home"), anonymous=Redirect("account_login"))
    ),
    # django-allauth: second factor.
    "mfa_index": Row(get=LOGIN_REQUIRED),
    "mfa_authenticate": Row(get=expect(Redirect("home"), anonymous=Redirect("account_login"))),
    "mfa_reauthenticate": Row(
        get=expect(200, anonymous=LOGIN, patient=Redirect("account_reauthenticate"))
    ),
    "mfa_activate_totp": Row(get=REAUTHENTICATE_FIRST),
    # Staff may not remove their authenticator (after reauthenticating they are refused, see
    # test_login.py); the patient has none to remove.
    "mfa_deactivate_totp": Row(
        get=expect(Redirect("account_reauthenticate", next=True), anonymous=LOGIN, patient=404)
    ),
    "mfa_view_recovery_codes": Row(get=expect(404, anonymous=LOGIN)),
    "mfa_generate_recovery_codes": Row(get=REAUTHENTICATE_FIRST),
    "mfa_download_recovery_codes": Row(get=expect(404, anonymous=LOGIN)),
    # django-allauth: e-ID through OpenID Connect (not configured in tests).
    "socialaccount_login_cancelled": Row(get=PUBLIC),
    "socialaccount_login_error": Row(get=expect(401)),
    "socialaccount_signup": Row(get=expect(Redirect("account_login"))),
    "socialaccount_connections": Row(get=LOGIN_REQUIRED),
    "account/social/login/cancelled/": Row(
        get=expect(Redirect("socialaccount_login_cancelled", status=301))
    ),
    "account/social/login/error/": Row(
        get=expect(Redirect("socialaccount_login_error", status=301))
    ),
    "account/social/signup/": Row(get=expect(Redirect("socialaccount_signup", status=301))),
    "account/social/connections/": Row(
        get=expect(Redirect("socialaccount_connections", status=301))
    ),
    "openid_connect_login": Row(get=expect(404), kwargs=oidc_provider),
    "openid_connect_callback": Row(get=expect(404), kwargs=oidc_provider),
    # django-allauth: the user's own sessions.
    "usersessions_list": Row(get=LOGIN_REQUIRED),
}


@dataclass(frozen=True)
class Pattern:
    key: str  # the namespaced name, or the route for the few patterns without a name
    route: str
    name: str | None


def walk(
    patterns: list[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[Pattern]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            name = None
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Pattern(key=name or route, route=route, name=name)


ALL_PATTERNS = list(walk(get_resolver().url_patterns))


def url_for(pattern: Pattern, world: World) -> str:
    if pattern.name is None:
        assert "<" not in pattern.route and "(" not in pattern.route, pattern.route
        return "/" + pattern.route
    return reverse(pattern.name, kwargs=MATRIX[pattern.key].kwargs(world))


def check(response: Response, expected: Expected, *, persona: str, url: str) -> str | None:
    """Nothing when the answer is as expected, else a line describing the difference."""
    status = response.status_code
    if status >= 500:
        return f"{persona}: {url} answered {status}"
    if isinstance(expected, int):
        if status != expected:
            where = f" to {response['Location']}" if response.has_header("Location") else ""
            return f"{persona}: {url} answered {status}{where}, expected {expected}"
        return None
    location = response.get("Location", "")
    target = reverse(expected.to)
    parts = urlsplit(location)
    if status != expected.status or parts.path != target:
        return (
            f"{persona}: {url} answered {status} {location!r}, "
            f"expected {expected.status} to {target}"
        )
    if parts.netloc:
        return f"{persona}: {url} redirected off-site to {location!r}"
    if expected.next and parse_qs(parts.query).get("next") != [url.removeprefix("POST ")]:
        return f"{persona}: {url} redirected to {location!r} without next={url}"
    return None


def test_every_url_pattern_has_a_row_in_the_matrix() -> None:
    missing = [p.key for p in ALL_PATTERNS if p.key not in MATRIX]
    assert not missing, (
        "These URL patterns have no row in the permission matrix "
        f"(steg/core/tests/test_permission_matrix.py): {', '.join(missing)}"
    )


def test_every_row_of_the_matrix_is_a_url_pattern() -> None:
    known = {p.key for p in ALL_PATTERNS}
    stale = [key for key in MATRIX if key not in known]
    assert not stale, f"Rows for URL patterns that no longer exist: {', '.join(stale)}"


def test_the_matrix_covers_allauth_and_steg_urls() -> None:
    # Guards the walk itself: it must reach into included URL confs and their namespaces.
    keys = {p.key for p in ALL_PATTERNS}
    assert {"care:patient_record", "audit:log", "account_login", "mfa_activate_totp"} <= keys
    assert len(ALL_PATTERNS) >= 40


@pytest.mark.parametrize("pattern", ALL_PATTERNS, ids=[p.key for p in ALL_PATTERNS])
def test_each_persona_gets_the_expected_answer(
    pattern: Pattern, world: World, client_as: Callable[[str], Client]
) -> None:
    row = MATRIX.get(pattern.key)
    if row is None:
        pytest.fail(f"URL pattern {pattern.key!r} ({pattern.route}) has no row in the matrix")
    url = url_for(pattern, world)
    problems = []
    for persona in PERSONAS:
        response = client_as(persona).get(url)
        problems.append(check(response, row.get[persona], persona=persona, url=url))
        if row.post is not None:
            response = client_as(persona).post(url, row.post_data)
            problems.append(check(response, row.post[persona], persona=persona, url=f"POST {url}"))
    found = [p for p in problems if p]
    assert not found, "\n".join(found)


def test_unknown_patient_and_unit_ids_answer_404_like_forbidden_ones(
    client_as: Callable[[str], Client],
) -> None:
    # Nobody can tell a record that does not exist from one they may not see.
    therapist = client_as("therapist")
    assert therapist.get(reverse("care:patient_record", args=[999_999])).status_code == 404
    assert therapist.get(reverse("care:unit_patients", args=[999_999])).status_code == 404


def test_other_region_patient_is_404_for_this_units_therapist(
    world: World, client_as: Callable[[str], Client]
) -> None:
    url = reverse("care:patient_record", args=[world.other_patient.pk])
    assert client_as("therapist").get(url).status_code == 404
    assert client_as("admin").get(url).status_code == 404
    assert client_as("other_therapist").get(url).status_code == 200


def test_other_region_unit_is_404_for_this_units_staff(
    world: World, client_as: Callable[[str], Client]
) -> None:
    url = reverse("care:unit_patients", args=[world.other_unit.pk])
    assert client_as("therapist").get(url).status_code == 404
    assert client_as("admin").get(url).status_code == 404
    assert client_as("other_therapist").get(url).status_code == 200


def test_a_denied_page_looks_like_a_missing_one(
    world: World, client_as: Callable[[str], Client]
) -> None:
    denied = client_as("other_therapist").get(
        reverse("care:patient_record", args=[world.patient.pk])
    )
    missing = client_as("other_therapist").get(reverse("care:patient_record", args=[999_999]))
    assert denied.status_code == missing.status_code == 404
    assert b"Pia" not in denied.content
    assert b"191212" not in denied.content
    # Both show Steg's own error page, word for word the same.
    assert denied.content == missing.content


def test_logout_by_post_ends_the_session(client_as: Callable[[str], Client]) -> None:
    client = client_as("patient")
    assert client.get(reverse("care:patient_start")).status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    after = client.get(reverse("care:patient_start"))
    assert after.status_code == 302
    assert urlsplit(after["Location"]).path == reverse("account_login")


def test_logout_by_get_only_asks_for_confirmation(client_as: Callable[[str], Client]) -> None:
    client = client_as("patient")
    response = client.get(reverse("account_logout"))
    assert response.status_code == 200
    assert b'method="post"' in response.content
    # Still logged in.
    assert client.get(reverse("care:patient_start")).status_code == 200
