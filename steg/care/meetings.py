"""Meetings between a therapist and a patient: by phone, by video or in person.

Staff book, move and cancel meetings (`book_meeting`, `reschedule_meeting`, `cancel_meeting`);
the patient sees them and may ask for another time (`request_reschedule`); reminders go out
before each meeting (`send_due_reminders`, run by the task `steg.care.tasks` or the command
`send_meeting_reminders`); every meeting has an iCalendar file (`meeting_ics`).

Each change is one transaction with its audit event and its notifications. Notifications and
calendar files say only that there is a meeting, and when: never what it is about (calendars
sync to third parties, and lock screens show SMS).

Video meetings happen in an external video service (Steg does not build video itself):
`STEG_VIDEO_URL_TEMPLATE` is a URL with `{room}`, filled with a random room name for each
meeting; without it, the therapist pastes a link.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from steg.accounts.models import Unit, User
from steg.audit.actions import Actor, record_event
from steg.automation import engine as automation
from steg.dashboard.attention import meeting_changed_on_commit
from steg.dialog.notifications import notify

from .access import care_unit_ids
from .actions import CareError, actor_at, therapists_of
from .models import CARE_ROLES, Enrolment, Meeting, MeetingMode, Patient, Referral

MIN_DURATION_MINUTES = 10
MAX_DURATION_MINUTES = 240
# How many past or cancelled meetings the patient's page lists.
PAST_MEETINGS_SHOWN = 10
# The most upcoming meetings one page lists (a patient has a handful at most).
UPCOMING_MEETINGS_SHOWN = 50
# How far ahead a meeting can be booked: up to the same day this many years on.
MAX_YEARS_AHEAD = 2

_url_validator = URLValidator(schemes=["https", "http"])


# Checks shared by booking and moving ---------------------------------------------------------


def _local(value: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(value, timezone.get_default_timezone())


def describe_time(value: datetime.datetime) -> str:
    """'Thursday 5 March 2026 at 14:00' in Stockholm time, in the active language."""
    local = _local(value)
    return _("%(date)s at %(time)s") % {
        "date": date_format(local, "l j F Y"),
        "time": time_format(local, "H:i"),
    }


def bookable_days(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The first and the last day (in Swedish time) a meeting can be booked for: today, and the
    same day MAX_YEARS_AHEAD years on."""
    if today is None:
        today = timezone.localdate(timezone=timezone.get_default_timezone())
    year = today.year + MAX_YEARS_AHEAD
    try:
        return today, today.replace(year=year)
    except ValueError:  # 29 February, and that year has none
        return today, today.replace(year=year, day=28)


def out_of_range_message(first: datetime.date, last: datetime.date) -> str:
    """The message for a day outside `bookable_days`, naming the range in the active language."""
    return _("Choose a date from %(first)s to %(last)s.") % {
        "first": date_format(first, "j F Y"),
        "last": date_format(last, "j F Y"),
    }


def _check_time(starts_at: datetime.datetime, duration_minutes: int) -> datetime.datetime:
    """The end of a meeting that starts in the future, no later than `bookable_days` allows, and
    lasts a sensible while; or CareError.

    Only compares `starts_at` (never converts it or adds to it) until it is known to be within
    the range, so that any date a caller passes gives CareError and never OverflowError.
    """
    if timezone.is_naive(starts_at):
        raise ValueError("starts_at must be an aware datetime")
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        raise CareError(
            _("A meeting lasts from %(min)s to %(max)s minutes.")
            % {"min": MIN_DURATION_MINUTES, "max": MAX_DURATION_MINUTES},
            code="duration",
            field="duration_minutes",
        )
    zone = timezone.get_default_timezone()
    first, last = bookable_days()
    first_moment = datetime.datetime.combine(first, datetime.time(), tzinfo=zone)
    after_last = datetime.datetime.combine(
        last + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
    )
    if starts_at < first_moment:
        raise CareError(out_of_range_message(first, last), code="past", field="starts_at")
    if starts_at <= timezone.now():
        raise CareError(
            _("%(time)s is in the past. Choose a time that has not yet come.")
            % {"time": describe_time(starts_at)},
            code="past",
            field="starts_at",
        )
    if starts_at >= after_last:
        raise CareError(out_of_range_message(first, last), code="too_far", field="starts_at")
    return starts_at + datetime.timedelta(minutes=duration_minutes)


@dataclass(frozen=True)
class _Where:
    place: str
    video_url: str


def _check_place(mode: str, place: str, video_url: str) -> _Where:
    """Where the meeting happens: a place for a physical one, a link for a video one."""
    place = place.strip()
    video_url = video_url.strip()
    if mode not in MeetingMode.values:
        raise CareError(_("Choose how the meeting is held."), code="mode", field="mode")
    if mode == MeetingMode.PHYSICAL:
        if not place:
            raise CareError(
                _("Write where the meeting is held: the address and, if needed, the room."),
                code="place",
                field="place",
            )
        return _Where(place=place, video_url="")
    if mode == MeetingMode.VIDEO:
        if not video_url:
            template = settings.STEG_VIDEO_URL_TEMPLATE
            if not template:
                raise CareError(
                    _("Paste the link to the video meeting."), code="video_url", field="video_url"
                )
            video_url = template.replace("{room}", secrets.token_urlsafe(16))
        try:
            _url_validator(video_url)
        except ValidationError as exc:
            raise CareError(
                _("The video link must be a full web address beginning with https://."),
                code="video_url",
                field="video_url",
            ) from exc
        return _Where(place="", video_url=video_url)
    return _Where(place="", video_url="")


def _lock_therapist(therapist: User) -> None:
    """Serialise bookings for one therapist, so that two overlapping ones cannot both pass."""
    list(User.objects.select_for_update().filter(pk=therapist.pk).values_list("pk", flat=True))


def _check_overlap(
    therapist: User,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    *,
    exclude: int | None = None,
) -> None:
    others = Meeting.objects.filter(
        therapist=therapist,
        status=Meeting.Status.BOOKED,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )
    if exclude is not None:
        others = others.exclude(pk=exclude)
    clash = others.order_by("starts_at").first()
    if clash is not None:
        raise CareError(
            _(
                "%(name)s already has a meeting from %(start)s to %(end)s. "
                "Choose a time that does not overlap it."
            )
            % {
                "name": therapist.get_full_name() or therapist.email,
                "start": describe_time(clash.starts_at),
                "end": time_format(_local(clash.ends_at), "H:i"),
            },
            code="overlap",
            field="starts_at",
        )


def _patient_link() -> str:
    return settings.SITE_URL + reverse("care:my_meetings")


def _notify_patient(kind: str, meeting: Meeting) -> None:
    patient = meeting.patient
    if not (patient.email or patient.phone):
        return
    notify(
        kind=kind,
        email=patient.email,
        phone=patient.phone,
        user=patient.user,
        patient=patient,
        context={"link": _patient_link(), "starts_at": meeting.starts_at},
    )


def _audit(
    action: str,
    meeting: Meeting,
    actor: Actor,
    request: HttpRequest | None,
    *,
    purpose: str = "care",
    detail: dict[str, object] | None = None,
) -> None:
    record_event(
        action=action,
        actor=actor,
        request=request,
        patient=meeting.patient,
        object_type="care.meeting",
        object_id=meeting.pk,
        purpose=purpose,
        detail=detail,
    )


def _times(meeting: Meeting) -> dict[str, object]:
    return {
        "starts_at": meeting.starts_at.isoformat(),
        "ends_at": meeting.ends_at.isoformat(),
        "mode": meeting.mode,
    }


# Staff: book, move, cancel ---------------------------------------------------------------------


@transaction.atomic
def book_meeting(
    *,
    patient: Patient,
    unit: Unit,
    therapist: User,
    starts_at: datetime.datetime,
    duration_minutes: int,
    mode: str,
    place: str = "",
    video_url: str = "",
    kind: str,
    referral: Referral | None = None,
    enrolment: Enrolment | None = None,
    actor: User,
    request: HttpRequest | None = None,
) -> Meeting:
    """Book a meeting for a patient with a therapist at a unit, and tell the patient.

    Refuses (changing nothing) unless the actor works in a care role at the unit, the patient
    has a care relation with it, the therapist works there, the referral or treatment (if any)
    is the patient's at this unit and still open, the time is in the future, and the therapist
    has no other booked meeting that overlaps it.
    """
    who = actor_at(actor, unit)
    if unit.pk not in care_unit_ids(patient):
        raise CareError(
            _("The patient has no referral or treatment at this unit."), code="no_care_relation"
        )
    if not therapists_of(unit).filter(pk=therapist.pk).exists():
        raise CareError(
            _("Choose a therapist who works at this unit."), code="therapist", field="therapist"
        )
    if kind not in Meeting.Kind.values:
        raise CareError(_("Choose what kind of meeting this is."), code="kind", field="kind")
    if referral is not None:
        if referral.patient_id != patient.pk or referral.receiving_unit_id != unit.pk:
            raise CareError(_("The referral is not this patient's at this unit."), code="referral")
        if not referral.is_open:
            raise CareError(_("This referral is closed."), code="closed")
    if enrolment is None and referral is None and kind == Meeting.Kind.FOLLOW_UP:
        # A treatment meeting belongs to the patient's treatment at the unit when there is just
        # one, so that it is cancelled if that treatment ends.
        open_here = list(
            Enrolment.objects.filter(
                patient=patient,
                unit=unit,
                status__in=[
                    Enrolment.Status.INVITED,
                    Enrolment.Status.ACTIVE,
                    Enrolment.Status.PAUSED,
                ],
            )[:2]
        )
        if len(open_here) == 1:
            enrolment = open_here[0]
    if enrolment is not None:
        # Locked, so that a treatment ended at the same moment either refuses this meeting or
        # finds it and cancels it (`cancel_meetings_of_ended_treatment`).
        enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.patient_id != patient.pk or enrolment.unit_id != unit.pk:
            raise CareError(
                _("The treatment is not this patient's at this unit."), code="enrolment"
            )
        if not enrolment.is_open:
            raise CareError(_("This treatment has ended."), code="closed")
    ends_at = _check_time(starts_at, duration_minutes)
    where = _check_place(mode, place, video_url)
    _lock_therapist(therapist)
    _check_overlap(therapist, starts_at, ends_at)
    meeting = Meeting.objects.create(
        patient=patient,
        unit=unit,
        therapist=therapist,
        referral=referral,
        enrolment=enrolment,
        kind=kind,
        mode=mode,
        starts_at=starts_at,
        ends_at=ends_at,
        place=where.place,
        video_url=where.video_url,
        created_by=actor,
    )
    meeting_changed_on_commit(meeting)
    automation.meeting_changed(meeting)
    _notify_patient("meeting_booked", meeting)
    _audit(
        "care.meeting.booked",
        meeting,
        who,
        request,
        detail={
            **_times(meeting),
            "kind": kind,
            "therapist": therapist.pk,
            "referral": referral.pk if referral else None,
            "enrolment": enrolment.pk if enrolment else None,
        },
    )
    return meeting


def _locked_meeting(meeting: Meeting) -> Meeting:
    return (
        Meeting.objects.select_for_update()
        .select_related("patient", "unit", "therapist")
        .get(pk=meeting.pk)
    )


@transaction.atomic
def reschedule_meeting(
    meeting: Meeting,
    *,
    starts_at: datetime.datetime,
    duration_minutes: int,
    mode: str,
    place: str = "",
    video_url: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> Meeting:
    """Move a booked meeting or change how it is held, and tell the patient.

    The same checks as booking. A change re-arms the reminder, clears the patient's request to
    move the meeting and bumps the calendar sequence; submitting the same values again changes
    nothing.
    """
    meeting = _locked_meeting(meeting)
    who = actor_at(actor, meeting.unit)
    if meeting.status != Meeting.Status.BOOKED:
        raise CareError(_("This meeting is cancelled. Book a new one instead."), code="cancelled")
    if meeting.starts_at <= timezone.now():
        raise CareError(
            _("This meeting has already started, so it cannot be changed."), code="started"
        )
    ends_at = _check_time(starts_at, duration_minutes)
    if mode == MeetingMode.VIDEO and not video_url.strip() and meeting.mode == MeetingMode.VIDEO:
        video_url = meeting.video_url  # keep the room the patient already has
    where = _check_place(mode, place, video_url)
    unchanged = (
        meeting.starts_at == starts_at
        and meeting.ends_at == ends_at
        and meeting.mode == mode
        and meeting.place == where.place
        and meeting.video_url == where.video_url
    )
    if unchanged:
        return meeting
    _lock_therapist(meeting.therapist)
    _check_overlap(meeting.therapist, starts_at, ends_at, exclude=meeting.pk)
    before = _times(meeting)
    meeting.starts_at = starts_at
    meeting.ends_at = ends_at
    meeting.mode = mode
    meeting.place = where.place
    meeting.video_url = where.video_url
    meeting.sequence += 1
    meeting.reminder_sent_at = None
    meeting.reschedule_requested_at = None
    meeting.reschedule_message = ""
    meeting.save(
        update_fields=[
            "starts_at",
            "ends_at",
            "mode",
            "place",
            "video_url",
            "sequence",
            "reminder_sent_at",
            "reschedule_requested_at",
            "reschedule_message",
        ]
    )
    meeting_changed_on_commit(meeting)
    automation.meeting_changed(meeting)
    _notify_patient("meeting_changed", meeting)
    _audit(
        "care.meeting.rescheduled",
        meeting,
        who,
        request,
        detail={"from": before, "to": _times(meeting)},
    )
    return meeting


@transaction.atomic
def cancel_meeting(
    meeting: Meeting,
    *,
    actor: User,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Meeting:
    """Cancel a meeting that has not yet ended, and tell the patient. Cancelling again is
    harmless: nothing changes and nobody is told twice."""
    meeting = _locked_meeting(meeting)
    who = actor_at(actor, meeting.unit)
    if meeting.status == Meeting.Status.CANCELLED:
        return meeting
    if meeting.ends_at <= timezone.now():
        raise CareError(
            _("This meeting has already taken place, so it cannot be cancelled."), code="past"
        )
    meeting.status = Meeting.Status.CANCELLED
    meeting.sequence += 1
    meeting.save(update_fields=["status", "sequence"])
    meeting_changed_on_commit(meeting)
    automation.meeting_changed(meeting)
    if meeting.starts_at > timezone.now():
        _notify_patient("meeting_cancelled", meeting)
    _audit(
        "care.meeting.cancelled",
        meeting,
        who,
        request,
        detail={**_times(meeting), "reason": reason.strip()},
    )
    return meeting


def cancel_meetings_of_ended_treatment(
    enrolment: Enrolment, *, actor: Actor, request: HttpRequest | None = None
) -> int:
    """Cancel the treatment's booked meetings that have not yet started, telling the patient of
    each and auditing each; returns how many.

    For whoever ends the treatment, inside its transaction (and after locking the enrolment,
    which `book_meeting` locks too). Calling it again cancels nothing more. Meetings already
    under way or over are left as they are.
    """
    with transaction.atomic():
        due = list(
            Meeting.objects.select_for_update(of=("self",))
            .select_related("patient__user", "unit")
            .filter(
                enrolment_id=enrolment.pk,
                status=Meeting.Status.BOOKED,
                starts_at__gt=timezone.now(),
            )
            .order_by("starts_at", "pk")
        )
        for meeting in due:
            meeting.status = Meeting.Status.CANCELLED
            meeting.sequence += 1
            meeting.save(update_fields=["status", "sequence"])
            _notify_patient("meeting_cancelled", meeting)
            _audit(
                "care.meeting.cancelled",
                meeting,
                actor,
                request,
                detail={**_times(meeting), "reason": "treatment ended"},
            )
    return len(due)


# The patient: ask to move a meeting ------------------------------------------------------------

RESCHEDULE_MESSAGE_MAX_LENGTH = 2000


@transaction.atomic
def request_reschedule(
    meeting: Meeting,
    *,
    user: User,
    message: str,
    request: HttpRequest | None = None,
) -> Meeting:
    """The patient asks to move one of their own future meetings; the therapist is told.

    Asking again replaces the message (and tells the therapist again).
    """
    meeting = _locked_meeting(meeting)
    if meeting.patient.user_id != user.pk:
        raise CareError(_("This is not your meeting."), code="not_own")
    if meeting.status != Meeting.Status.BOOKED:
        raise CareError(_("This meeting is cancelled."), code="cancelled")
    if meeting.starts_at <= timezone.now():
        raise CareError(
            _("This meeting has already started. Contact your care unit if you need to."),
            code="started",
        )
    message = message.strip()
    if not message:
        raise CareError(
            _("Write which days and times would suit you better."),
            code="message",
            field="message",
        )
    if len(message) > RESCHEDULE_MESSAGE_MAX_LENGTH:
        raise CareError(
            _("Write at most %(max)s characters.") % {"max": RESCHEDULE_MESSAGE_MAX_LENGTH},
            code="message",
            field="message",
        )
    repeated = meeting.reschedule_requested_at is not None
    meeting.reschedule_requested_at = timezone.now()
    meeting.reschedule_message = message
    meeting.save(update_fields=["reschedule_requested_at", "reschedule_message"])
    therapist = meeting.therapist
    if therapist.email:
        notify(
            kind="reschedule_requested",
            email=therapist.email,
            user=therapist,
            context={"link": settings.SITE_URL + reverse("care:meeting_edit", args=[meeting.pk])},
        )
    _audit(
        "care.meeting.reschedule_requested",
        meeting,
        Actor(user, "patient", meeting.unit),
        request,
        purpose="self-service",
        detail={"repeated": repeated},
    )
    return meeting


# Reminders -------------------------------------------------------------------------------------


def send_due_reminders(*, now: datetime.datetime | None = None) -> int:
    """Remind patients of booked meetings that start within STEG_MEETING_REMINDER_HOURS.

    Each meeting is claimed with a conditional UPDATE before its reminder is queued, in one
    transaction: a second run, a retried task or another worker finds nothing to claim, so a
    reminder goes out once. Returns how many meetings were claimed.
    """
    now = now or timezone.now()
    horizon = now + datetime.timedelta(hours=settings.STEG_MEETING_REMINDER_HOURS)
    due = list(
        Meeting.objects.filter(
            status=Meeting.Status.BOOKED,
            reminder_sent_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=horizon,
        )
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)
    )
    sent = 0
    for meeting_id in due:
        with transaction.atomic():
            claimed = Meeting.objects.filter(
                pk=meeting_id,
                status=Meeting.Status.BOOKED,
                reminder_sent_at__isnull=True,
                starts_at__gt=now,
            ).update(reminder_sent_at=now)
            if claimed != 1:
                continue
            meeting = Meeting.objects.select_related("patient__user").get(pk=meeting_id)
            _notify_patient("meeting_reminder", meeting)
            _audit(
                "care.meeting.reminder_sent",
                meeting,
                Actor(None, "system"),
                None,
                purpose="reminder",
            )
            sent += 1
    return sent


# Reading ---------------------------------------------------------------------------------------


def therapists_at(unit_ids: set[int]) -> QuerySet[User]:
    """Staff who can hold meetings at any of the units (therapists and unit admins)."""
    return (
        User.objects.filter(
            memberships__unit_id__in=unit_ids, memberships__role__in=CARE_ROLES, is_active=True
        )
        .distinct()
        .order_by("first_name", "last_name", "pk")
    )


def is_own_meeting(user: User, meeting_id: int) -> bool:
    """Whether the meeting is the user's own, as a patient (decides which access helper applies)."""
    return Meeting.objects.filter(pk=meeting_id, patient__user=user).exists()


def _upcoming_and_earlier(meetings: QuerySet[Meeting]) -> tuple[list[Meeting], list[Meeting]]:
    """Booked meetings that have not ended, soonest first (at most UPCOMING_MEETINGS_SHOWN), and
    the latest PAST_MEETINGS_SHOWN past or cancelled ones, newest first: two queries."""
    now = timezone.now()
    meetings = meetings.select_related("therapist", "unit")
    upcoming = list(
        meetings.filter(status=Meeting.Status.BOOKED, ends_at__gt=now).order_by("starts_at", "pk")[
            :UPCOMING_MEETINGS_SHOWN
        ]
    )
    earlier = list(
        meetings.filter(Q(status=Meeting.Status.CANCELLED) | Q(ends_at__lte=now)).order_by(
            "-starts_at", "-pk"
        )[:PAST_MEETINGS_SHOWN]
    )
    return upcoming, earlier


@dataclass(frozen=True)
class OwnMeetings:
    patient: Patient | None
    upcoming: list[Meeting]
    earlier: list[Meeting]  # past or cancelled, newest first


def list_own_meetings(request: HttpRequest, *, user: User) -> OwnMeetings:
    """The logged-in patient's meetings, recorded as one read; nothing for staff-only users."""
    patient = Patient.objects.filter(user=user).first()
    if patient is None:
        return OwnMeetings(None, [], [])
    upcoming, earlier = _upcoming_and_earlier(patient.meetings.all())
    record_event(
        action="care.meeting.listed_own",
        actor=Actor(user, "patient"),
        request=request,
        patient=patient,
        object_type="care.patient",
        object_id=patient.pk,
        purpose="self-service",
        detail={"meetings": [m.pk for m in upcoming + earlier]},
    )
    return OwnMeetings(patient, upcoming, earlier)


def meetings_for_record(patient: Patient, unit_ids: set[int]) -> list[Meeting]:
    """The patient's meetings at the given units (the staff member's), for the patient record
    (whose read is already recorded): the upcoming ones, soonest first, then the latest
    PAST_MEETINGS_SHOWN past or cancelled ones, newest first. Two queries, with the therapist
    and the unit."""
    upcoming, earlier = _upcoming_and_earlier(patient.meetings.filter(unit_id__in=unit_ids))
    return upcoming + earlier


# The calendar file -----------------------------------------------------------------------------


def _uid(meeting: Meeting) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "steg"
    return f"meeting-{meeting.pk}@{host}"


def meeting_ics(meeting: Meeting, *, language: str, for_staff: bool = False) -> bytes:
    """An iCalendar file with the meeting as one event (METHOD:PUBLISH).

    The UID stays the same for a meeting and SEQUENCE grows with each change, so a calendar
    program replaces its copy; a cancelled meeting has STATUS:CANCELLED. Times are in UTC. The
    text says only that there is a meeting: nothing about what it is for.
    """
    with translation.override(language):
        if for_staff:
            summary = _("Meeting with a patient")
            link = settings.SITE_URL + reverse("care:meeting_edit", args=[meeting.pk])
        else:
            summary = _("Meeting with your care unit")
            link = _patient_link()
        if meeting.mode == MeetingMode.PHONE:
            how = _("By phone: you will be called at the time of the meeting.")
            if for_staff:
                how = _("By phone: call the patient at the time of the meeting.")
            location = ""
        elif meeting.mode == MeetingMode.VIDEO:
            how = _("By video: open the link at the time of the meeting: %(link)s") % {
                "link": meeting.video_url
            }
            location = meeting.video_url
        else:
            how = _("In person: %(place)s") % {"place": meeting.place}
            location = meeting.place
        details = _("Details in Steg:")
        description = f"{how}\n\n{details} {link}"

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Steg//Meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", _uid(meeting))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", timezone.now().astimezone(datetime.UTC).replace(microsecond=0))
    event.add("dtstart", meeting.starts_at.astimezone(datetime.UTC))
    event.add("dtend", meeting.ends_at.astimezone(datetime.UTC))
    event.add("summary", summary)
    event.add("description", description)
    if location:
        event.add("location", location)
    event.add("url", link)
    cancelled = meeting.status == Meeting.Status.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())
