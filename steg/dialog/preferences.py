"""How a person wants to be told that there is something new: channels and quiet hours.

`quiet_hours_end()` is the rule (pure: times in, time out); `held_until()` applies a person's
preferences to one notification; `get_preferences()` and `save_preferences()` read and change
them. Without a saved row a person gets e-mail and SMS wherever there is an address, at any
hour. See docs/notifications.md.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from steg.audit.actions import Actor, record_event

from .models import NotificationPreference

if TYPE_CHECKING:
    from steg.accounts.models import User
    from steg.care.models import Patient

# Kinds that go out whatever the recipient's preferences say: an invitation reaches someone
# who has no account yet (or is being let into a new treatment), so there are none to ask.
WITHOUT_PREFERENCES: frozenset[str] = frozenset({"invitation"})


def quiet_hours_end(
    moment: datetime.datetime,
    start: datetime.time | None,
    end: datetime.time | None,
    *,
    zone: ZoneInfo | None = None,
) -> datetime.datetime | None:
    """When the quiet period that `moment` falls in ends (aware, UTC); None when it falls
    outside quiet hours, or there are none (either time missing, or both the same).

    `start` and `end` are times of day in `zone` (default settings.TIME_ZONE, Europe/Stockholm);
    `start` is inside the period and `end` is not. The period may wrap midnight (22:00–07:00).
    The end is that time of day by the local clock, so on the nights the clocks change the
    period is an hour shorter or longer. An end that does not exist that night (in the hour
    skipped when the clocks go forward) is taken an hour later by the clock, never earlier; an
    end that happens twice (when they go back) is its first occurrence.
    """
    if start is None or end is None or start == end:
        return None
    zone = zone or ZoneInfo(settings.TIME_ZONE)
    local = moment.astimezone(zone)
    now = local.time()
    day = local.date()
    if start < end:
        if not start <= now < end:
            return None
    else:
        if end <= now < start:
            return None
        if now >= start:
            day += datetime.timedelta(days=1)
    # fold=0: the first of two, and for a time that does not exist the offset before the jump.
    return datetime.datetime.combine(day, end, tzinfo=zone).astimezone(datetime.UTC)


def held_until(
    preference: NotificationPreference | None,
    *,
    kind: str,
    now: datetime.datetime,
    starts_at: datetime.datetime | None = None,
) -> datetime.datetime | None:
    """When a notification of `kind` created at `now` may go out, if it must wait for the end of
    the recipient's quiet hours; None when it may go at once.

    It goes at once for a kind in WITHOUT_PREFERENCES, and for news of a meeting that starts
    before the quiet hours end (held, it would arrive too late to be of use).
    """
    if preference is None or kind in WITHOUT_PREFERENCES:
        return None
    end = quiet_hours_end(now, preference.quiet_from, preference.quiet_until)
    if end is None or (starts_at is not None and starts_at < end):
        return None
    return end


def preference_for(user_id: int | None, kind: str) -> NotificationPreference | None:
    """The saved preferences that apply to a notification of `kind` to this user, if any."""
    if user_id is None or kind in WITHOUT_PREFERENCES:
        return None
    return NotificationPreference.objects.filter(user_id=user_id).first()


def get_preferences(user: User) -> NotificationPreference:
    """The user's preferences; the defaults (an unsaved row) when they have never set any."""
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(
        user=user
    )


@transaction.atomic
def save_preferences(
    *,
    user: User,
    patient: Patient | None,
    by_email: bool,
    by_sms: bool,
    quiet_from: datetime.time | None,
    quiet_until: datetime.time | None,
    request: HttpRequest | None = None,
) -> NotificationPreference:
    """Save a user's own notification preferences, with an audit event when anything changed.

    `patient` is the user's own patient record, if they have one (the event is then on it).
    Quiet hours are both times or neither, and not the same time (the form checks this first).
    Preferences are not health information, but who changed how a patient is reached is worth
    a record.
    """
    if (quiet_from is None) != (quiet_until is None) or (
        quiet_from is not None and quiet_from == quiet_until
    ):
        raise ValueError("Quiet hours need two different times, or none")
    preference = NotificationPreference.objects.select_for_update().filter(
        user=user
    ).first() or NotificationPreference(user=user)
    values = {
        "by_email": by_email,
        "by_sms": by_sms,
        "quiet_from": _minutes(quiet_from),
        "quiet_until": _minutes(quiet_until),
    }
    changed = {
        name: value
        for name, value in values.items()
        if preference.pk is None or getattr(preference, name) != value
    }
    if not changed:
        return preference
    for name, value in values.items():
        setattr(preference, name, value)
    preference.updated_at = timezone.now()
    if preference.pk is None:
        preference.save(force_insert=True)
    else:
        preference.save(update_fields=[*changed, "updated_at"])
    record_event(
        action="dialog.preferences.changed",
        actor=Actor(user, "patient" if patient is not None else ""),
        request=request,
        patient=patient,
        object_type="dialog.notificationpreference",
        object_id=preference.pk,
        purpose="self-service",
        detail={
            name: value.strftime("%H:%M") if isinstance(value, datetime.time) else value
            for name, value in changed.items()
        },
    )
    return preference


def _minutes(value: datetime.time | None) -> datetime.time | None:
    return value.replace(second=0, microsecond=0) if value is not None else None
