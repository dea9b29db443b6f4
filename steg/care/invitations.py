"""Invitations to a treatment, and their activation by the patient.

Enrolling a patient (`actions.enrol_patient`) goes with `send_invitation`: a one-time link and a
short code, sent by e-mail and/or SMS without health information. Only hashes are stored: the
link's token as SHA-256 (it has 256 bits of entropy), the short code as a keyed HMAC (it has
about 40 bits, so a plain hash of it could be reversed by trying every code). An invitation is
usable once, until it expires (`STEG_INVITATION_DAYS`) or a newer one replaces it.

The patient activates it (`activate`): sets a password and gives their personal identity number
(or logs in with the region's e-ID), accepts the terms of use and the consent to digital
treatment, and sets or confirms the quit date. All of it is one transaction; any refusal is a
`CareError` and changes nothing, except that a wrong identity number is counted on the
invitation, and `MAX_FAILED_ATTEMPTS` of them revoke it. See docs/care-journey.md,
"Invitations and activation".
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from steg.accounts.models import User
from steg.audit.actions import Actor, record_event
from steg.lib import personnummer

from .actions import CareError, activate_enrolment, actor_at
from .models import Enrolment, Invitation, Patient

# The session key that holds the id of the invitation being activated (never the token).
SESSION_KEY = "steg_invitation"

# Short codes: no 0/O, 1/I/L, which are easy to mix up when read aloud or typed.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_CODE_SALT = "steg.care.invitations.code"

# How far ahead a quit date may be set at activation (the tobacco programme's limit too).
QUIT_DATE_DAYS_AHEAD = 90

# The longest e-mail address an account can have (`User.email`, varchar(254) in the database).
EMAIL_MAX_LENGTH = 254

# Wrong personal identity numbers given on password activation before the invitation is revoked.
MAX_FAILED_ATTEMPTS = 5

# A new invitation is not sent while one sent this recently is still usable (a double click on
# "Send a new invitation" would otherwise make the first message, already on its way, useless).
RESEND_INTERVAL = datetime.timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation with its secrets in clear: shown or sent once, never stored."""

    invitation: Invitation
    token: str
    code: str  # as shown: XXXX-XXXX

    @property
    def link(self) -> str:
        return invitation_link(self.token)

    @property
    def code_url(self) -> str:
        return invitation_code_url()


def invitation_link(token: str) -> str:
    return settings.SITE_URL + reverse("care:invitation_open", args=[token])


def invitation_code_url() -> str:
    return settings.SITE_URL + reverse("care:invitation_code")


# Secrets and their hashes -------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """Upper case without spaces or dashes: "k7pm q2xr" and "K7PM-Q2XR" are the same code."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def hash_code(code: str) -> str:
    return salted_hmac(_CODE_SALT, normalise_code(code), algorithm="sha256").hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


# Sending -------------------------------------------------------------------------------------


@transaction.atomic
def send_invitation(
    enrolment: Enrolment, *, actor: User, request: HttpRequest | None = None
) -> IssuedInvitation:
    """Issue a new invitation for an invited enrolment and send it to the patient.

    Earlier invitations of the enrolment stop working. The notification goes to the patient's
    e-mail address and mobile number, whichever the record has; with neither, the invitation
    is still created (`channels` is empty) and the caller shows the code to the therapist once.

    Refused (code "recently_sent") while an invitation that was sent somewhere less than
    `RESEND_INTERVAL` ago is still usable: of two clicks at once, the second waits for the
    enrolment's lock, then finds the first one's invitation and sends nothing.
    """
    enrolment = (
        Enrolment.objects.select_for_update().select_related("patient", "unit").get(pk=enrolment.pk)
    )
    who = actor_at(actor, enrolment.unit)
    if enrolment.status != Enrolment.Status.INVITED:
        raise CareError(
            _("An invitation can only be sent while the treatment is waiting to be started."),
            code="not_invited",
        )
    now = timezone.now()
    # Under the enrolment's lock, so a concurrent send has committed its invitation by now.
    # One that went nowhere (no e-mail or mobile number) does not count: its code was only shown
    # on the page, which a second click replaces, so a new one must be shown instead.
    recent = (
        Invitation.objects.filter(
            enrolment=enrolment,
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
            created_at__gt=now - RESEND_INTERVAL,
        )
        .exclude(channels=[])
        .exists()
    )
    if recent:
        raise CareError(
            _(
                "An invitation was sent a moment ago, so no new one has been sent. The patient "
                "can use the one that was just sent."
            ),
            code="recently_sent",
        )
    revoked = Invitation.objects.filter(
        enrolment=enrolment, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    code = _new_code()
    invitation = Invitation.objects.create(
        enrolment=enrolment,
        token_hash=hash_token(token),
        code_hash=hash_code(code),
        created_at=now,
        created_by=actor,
        expires_at=now + datetime.timedelta(days=settings.STEG_INVITATION_DAYS),
    )
    patient = enrolment.patient
    # Imported here: the notification module depends on the care models, not the other way.
    from steg.dialog.notifications import notify

    sent = notify(
        kind="invitation",
        email=patient.email,
        phone=patient.phone,
        user=patient.user,
        patient=patient,
        context={
            "link": invitation_link(token),
            "code": code,
            "code_url": invitation_code_url(),
            "expires": timezone.localtime(invitation.expires_at).date(),
        },
    )
    invitation.channels = [notification.channel for notification in sent]
    invitation.save(update_fields=["channels"])
    record_event(
        action="care.invitation.sent",
        actor=who,
        request=request,
        patient=patient,
        object_type="care.invitation",
        object_id=invitation.pk,
        purpose="care",
        detail={
            "enrolment": enrolment.pk,
            "channels": invitation.channels,
            "revoked": revoked,
            "expires_at": invitation.expires_at.isoformat(),
        },
    )
    return IssuedInvitation(invitation=invitation, token=token, code=code)


# Finding and checking ------------------------------------------------------------------------


def invitation_for_token(token: str) -> Invitation | None:
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("enrolment__patient")
        .filter(token_hash=hash_token(token))
        .first()
    )


def invitation_for_code(code: str) -> Invitation | None:
    normalised = normalise_code(code)
    if len(normalised) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in normalised):
        return None
    return (
        Invitation.objects.select_related("enrolment__patient")
        .filter(code_hash=hash_code(normalised))
        .order_by("-created_at", "-pk")
        .first()
    )


def invitation_by_id(invitation_id: Any) -> Invitation | None:
    """The invitation whose id the session holds (see `SESSION_KEY`), or None."""
    if not isinstance(invitation_id, int):
        return None
    return (
        Invitation.objects.select_related("enrolment__patient__user")
        .filter(pk=invitation_id)
        .first()
    )


def _unknown() -> CareError:
    return CareError(
        _(
            "We could not find this invitation. Check that you have the whole link or "
            "the right code, or ask your care unit for a new invitation."
        ),
        code="unknown",
    )


def _locked() -> CareError:
    return CareError(
        _(
            "A wrong personal identity number has been entered too many times, so this "
            "invitation no longer works. Contact your care unit and ask for a new invitation."
        ),
        code="locked",
    )


def check_usable(invitation: Invitation | None, *, now: datetime.datetime | None = None) -> None:
    """Refuse an invitation that cannot be activated, saying why and what to do instead.

    Codes: unknown (no such link or code: mistyped or forged), used, locked (revoked after
    too many wrong identity numbers), revoked (a newer one was sent), expired, closed (the
    treatment was ended before it was started).
    """
    if invitation is None:
        raise _unknown()
    if invitation.used_at is not None:
        raise CareError(
            _("This invitation has already been used. Log in instead."),
            code="used",
        )
    if invitation.revoked_at is not None and invitation.failed_attempts >= MAX_FAILED_ATTEMPTS:
        raise _locked()
    if invitation.revoked_at is not None:
        raise CareError(
            _(
                "A newer invitation has been sent to you, so this one no longer works. Use the "
                "link or code in the latest invitation."
            ),
            code="revoked",
        )
    if invitation.expires_at <= (now or timezone.now()):
        raise CareError(
            _("This invitation has expired. Ask your care unit for a new one."),
            code="expired",
        )
    if invitation.enrolment.status != Enrolment.Status.INVITED:
        raise CareError(
            _(
                "This invitation is no longer valid because the treatment has been ended. "
                "Contact your care unit if you have questions."
            ),
            code="closed",
        )


def record_opened(request: HttpRequest, invitation: Invitation, *, via: str) -> None:
    """Opening an invitation shows the patient's first name: recorded like any other read."""
    user = request.user if isinstance(request.user, User) else None
    record_event(
        action="care.invitation.opened",
        actor=Actor(user),  # whoever holds the link or code, logged in or not
        request=request,
        patient=invitation.enrolment.patient,
        object_type="care.invitation",
        object_id=invitation.pk,
        purpose="self-service",
        detail={"via": via},
    )


# The e-ID (OpenID Connect) ----------------------------------------------------------------------


def personnummer_from_claims(extra_data: Mapping[str, Any] | None) -> str | None:
    """The personal identity number in an e-ID login's claims, normalised, or None.

    The claim's name is `settings.STEG_OIDC_PERSONNUMMER_CLAIM`; it is looked up in the
    userinfo answer, then in the ID token (allauth keeps both in `SocialAccount.extra_data`).
    """
    claim = settings.STEG_OIDC_PERSONNUMMER_CLAIM
    data = extra_data or {}
    for source in (data.get("userinfo"), data.get("id_token"), data):
        if isinstance(source, Mapping) and source.get(claim):
            try:
                return personnummer.normalise(str(source[claim]))
            except personnummer.PersonnummerError:
                return None
    return None


def eid_personnummer(user: User) -> str | None:
    """The personal identity number of the e-ID identity connected to this account, if any."""
    from allauth.socialaccount.models import SocialAccount

    for account in SocialAccount.objects.filter(user=user):
        found = personnummer_from_claims(account.extra_data)
        if found:
            return found
    return None


def invitation_for_eid_signup(
    request: HttpRequest, extra_data: Mapping[str, Any] | None
) -> Invitation | None:
    """The invitation an e-ID login may create an account for, or None.

    That is the usable invitation being activated in this session, whose patient has no
    account yet and whose personal identity number is the one the e-ID vouches for.
    """
    invitation = invitation_by_id(request.session.get(SESSION_KEY))
    if invitation is None:
        return None
    try:
        check_usable(invitation)
    except CareError:
        return None
    patient = invitation.enrolment.patient
    if patient.user_id is not None:
        return None
    if personnummer_from_claims(extra_data) != patient.personnummer:
        return None
    return invitation


# Activation ----------------------------------------------------------------------------------


def _check_quit_date(quit_date: datetime.date | None) -> None:
    today = timezone.localdate()
    if quit_date is None:
        raise CareError(_("Choose your quit date."), code="quit_date", field="quit_date")
    if quit_date < today:
        raise CareError(
            _("The quit date cannot be in the past. Choose today or a later day."),
            code="quit_date",
            field="quit_date",
        )
    if quit_date > today + datetime.timedelta(days=QUIT_DATE_DAYS_AHEAD):
        raise CareError(
            _("The quit date can be at most %(days)s days ahead.") % {"days": QUIT_DATE_DAYS_AHEAD},
            code="quit_date",
            field="quit_date",
        )


def account_for_activation(patient: Patient, user: User | None) -> tuple[User | None, str]:
    """Who activates: (the account, how) or (None, "password") when one is to be created."""
    if patient.user_id is not None:
        if user is None:
            raise CareError(
                _("You already have an account. Log in first, then continue with the invitation."),
                code="login_required",
            )
        if user.pk != patient.user_id:
            raise CareError(
                _(
                    "This invitation belongs to someone else's account. Log out, and ask the "
                    "person it was sent to to open it themselves."
                ),
                code="other_account",
            )
        return user, "existing"
    if user is None:
        return None, "password"
    # Logged in, and the patient has no account: only an account just made from this patient's
    # e-ID (see steg.accounts.adapter) may be linked, and only if it belongs to no one else.
    if (
        eid_personnummer(user) == patient.personnummer
        and not Patient.objects.filter(user=user).exists()
    ):
        return user, "eid"
    raise CareError(
        _(
            "You are logged in as another person. Log out first, then open the link in the "
            "invitation again."
        ),
        code="logged_in_as_other",
    )


def _new_account(patient: Patient, email: str, password: str) -> User:
    email = User.objects.normalize_email(email.strip()).lower()
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise CareError(
            _("Enter your e-mail address, for example name@example.com."),
            code="email",
            field="email",
        ) from None
    taken = CareError(
        _(
            "There is already an account with this e-mail address. Use another address, or "
            "ask your care unit for help."
        ),
        code="email_taken",
        field="email",
    )
    if User.objects.filter(email__iexact=email).exists():
        raise taken
    candidate = User(email=email, first_name=patient.first_name, last_name=patient.last_name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise CareError(" ".join(error.messages), code="password", field="password1") from None
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email,
                password,
                first_name=patient.first_name,
                last_name=patient.last_name,
                language=translation.get_language() or "",
            )
    except IntegrityError:
        raise taken from None  # the same address was taken a moment ago


class _WrongPersonnummer(Exception):  # noqa: N818 - internal signal, never leaves this module
    """Raised inside the activation's transaction so that it rolls back; counted after it."""


def _check_personnummer(patient: Patient, given: str) -> None:
    """A new account by password: whoever holds the link or code must know whose it is."""
    if not given.strip():
        raise CareError(
            _("Enter your personal identity number."), code="personnummer", field="personnummer"
        )
    try:
        normalised = personnummer.normalise(given)
    except personnummer.PersonnummerError:
        raise _WrongPersonnummer from None
    if not hmac.compare_digest(normalised, patient.personnummer):
        raise _WrongPersonnummer


def _count_wrong_personnummer(invitation_id: int, request: HttpRequest | None) -> CareError:
    """Count a wrong identity number on the invitation (committed although the activation was
    refused) and revoke the invitation at `MAX_FAILED_ATTEMPTS`. Returns the refusal to raise."""
    with transaction.atomic():
        # The lock order of send_invitation and activate: the enrolment, then the invitation.
        enrolment_id = Invitation.objects.values_list("enrolment_id", flat=True).get(
            pk=invitation_id
        )
        list(Enrolment.objects.select_for_update().filter(pk=enrolment_id).values_list("pk"))
        Invitation.objects.filter(pk=invitation_id).update(failed_attempts=F("failed_attempts") + 1)
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("enrolment__patient")
            .get(pk=invitation_id)
        )
        attempts = invitation.failed_attempts
        revoke = (
            attempts >= MAX_FAILED_ATTEMPTS
            and invitation.revoked_at is None
            and invitation.used_at is None
        )
        if revoke:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
        record_event(
            action="care.invitation.personnummer_refused",
            actor=Actor(None),  # whoever holds the link or code
            request=request,
            patient=invitation.enrolment.patient,
            object_type="care.invitation",
            object_id=invitation.pk,
            purpose="self-service",
            detail={"failed_attempts": attempts, "revoked": revoke},
        )
    if attempts >= MAX_FAILED_ATTEMPTS:
        return _locked()
    left = MAX_FAILED_ATTEMPTS - attempts
    return CareError(
        _(
            "This is not the personal identity number the invitation was sent for. Check "
            "that you have typed your own number correctly."
        )
        + " "
        + ngettext("You can try %(count)s more time.", "You can try %(count)s more times.", left)
        % {"count": left},
        code="personnummer",
        field="personnummer",
    )


def activate(
    invitation_id: int,
    *,
    user: User | None,
    personnummer: str = "",
    email: str = "",
    password: str = "",
    accept_terms: bool,
    consent: bool,
    quit_date: datetime.date | None,
    request: HttpRequest | None = None,
) -> tuple[Enrolment, User]:
    """Activate an invitation: the patient's account, terms, consent and quit date; go active.

    `user` is the logged-in user or None. A patient who has an account must be logged in to
    it; a patient who has none gets one here from `email` and `password`, and must then give
    their `personnummer` (the patient record's), since the link or code may have reached
    someone else through a mistyped address or number. Logged in with an account just made
    from their e-ID, the patient has that one linked, without the number (the e-ID proved it).

    Refuses with a `CareError` and changes nothing when the invitation is not usable (also when
    a second, concurrent activation got there first), when someone else is logged in, when the
    identity number is not the patient's, when terms or consent are missing, or when the quit
    date is missing, in the past or too far ahead. The one change a refusal makes: a wrong
    identity number is counted (`Invitation.failed_attempts`, committed on its own), and the
    `MAX_FAILED_ATTEMPTS`-th revokes the invitation (code "locked").
    """
    try:
        return _activate(
            invitation_id,
            user=user,
            personnummer=personnummer,
            email=email,
            password=password,
            accept_terms=accept_terms,
            consent=consent,
            quit_date=quit_date,
            request=request,
        )
    except _WrongPersonnummer:
        pass  # the activation's transaction has been rolled back: count it in a new one
    raise _count_wrong_personnummer(invitation_id, request)


@transaction.atomic
def _activate(
    invitation_id: int,
    *,
    user: User | None,
    personnummer: str,
    email: str,
    password: str,
    accept_terms: bool,
    consent: bool,
    quit_date: datetime.date | None,
    request: HttpRequest | None,
) -> tuple[Enrolment, User]:
    # Locks in the order send_invitation takes them: the enrolment, then its invitations.
    enrolment_id = (
        Invitation.objects.filter(pk=invitation_id).values_list("enrolment_id", flat=True).first()
    )
    if enrolment_id is None:
        raise _unknown()
    enrolment = Enrolment.objects.select_for_update().select_related("unit").get(pk=enrolment_id)
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    invitation.enrolment = enrolment
    # Checked again under the lock: of two concurrent activations only the first gets past.
    check_usable(invitation)
    patient = Patient.objects.select_for_update().get(pk=enrolment.patient_id)
    account, how = account_for_activation(patient, user)
    if how == "password":
        _check_personnummer(patient, personnummer)
    if not accept_terms:
        raise CareError(
            _("To start, you need to accept the terms of use."),
            code="terms",
            field="accept_terms",
        )
    if not consent:
        raise CareError(
            _("To start, you need to consent to digital treatment."),
            code="consent",
            field="consent",
        )
    _check_quit_date(quit_date)
    now = timezone.now()
    if account is None:
        account = _new_account(patient, email, password)
    if patient.user_id is None:
        patient.user = account
        fields = ["user"]
        if not patient.email:
            patient.email = account.email
            fields.append("email")
        patient.save(update_fields=fields)
    actor = Actor(account, "patient")
    enrolment.quit_date = quit_date
    enrolment.terms_version = settings.STEG_TERMS_VERSION
    enrolment.consented_at = now
    enrolment.save(update_fields=["quit_date", "terms_version", "consented_at"])
    activate_enrolment(enrolment, actor=actor, request=request)
    invitation.used_at = now
    invitation.used_by = account
    invitation.save(update_fields=["used_at", "used_by"])
    record_event(
        action="care.invitation.used",
        actor=actor,
        request=request,
        patient=patient,
        object_type="care.invitation",
        object_id=invitation.pk,
        purpose="self-service",
        detail={
            "enrolment": enrolment.pk,
            "account": how,
            "terms_version": enrolment.terms_version,
            "quit_date": quit_date.isoformat() if quit_date else None,
        },
    )
    return enrolment, account
