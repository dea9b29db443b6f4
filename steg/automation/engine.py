"""The automation engine: record occasions, schedule time rules, fire rules exactly once.

How a rule comes to fire (docs/automation.md has the whole picture):

* **Events** (`record_event`): the code that handles an event (an enrolment activated, a page
  read, a questionnaire submitted ...) calls it inside its own transaction. It writes one
  pending `Firing` per matching rule, due now, in that transaction (so the occasion is kept
  exactly when the event is), and enqueues `fire_due_for_enrolment` once it commits.
* **Times** (`reschedule`): for an active enrolment, each time rule has its next occasion as a
  pending `Firing` whose `scheduled_for` is computed in the patient's time zone. Whatever
  changes the times (activation, a new quit date, a pause, a booked meeting) calls
  `reschedule`, which cancels the pending firings that no longer apply and writes the new ones.
* **The scheduler** (`tick`, every minute): takes the pending firings whose time has come, by
  the partial index on `next_attempt_at`, moves each one's `next_attempt_at` on by a lease and
  enqueues them to the workers in batches. It never looks at enrolments with nothing due.
* **Firing** (`fire`): one transaction claims the firing with a conditional UPDATE (only a
  pending one is taken: a second worker waits for the first and then finds it done), checks
  that the occasion still holds and the conditions are met, runs the actions and marks it
  done. The actions write in the same transaction, so a worker that dies half-way leaves
  nothing behind and the firing is handed out again when its lease runs out. A failure rolls
  back and is retried with back-off; after `STEG_AUTOMATION_MAX_ATTEMPTS` it stays failed, for
  the admins to see and retry.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from steg.audit.actions import Actor
from steg.audit.actions import record_event as audit

from .models import Firing, RuleFlag
from .spec import TIME_TRIGGERS, Action, Automations, Condition, Rule, from_json

if TYPE_CHECKING:
    from steg.care.models import Enrolment

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Stockholm"
# How many occasions of a repeating schedule (a daily diary) are looked at ahead at a time.
LOOKAHEAD = 4
# Firings handed to one worker task.
BATCH = 100

_rules: dict[int, Automations] = {}


def rules_of(version_id: int) -> Automations:
    """The automation rules of a programme version (immutable, so kept per process)."""
    found = _rules.get(version_id)
    if found is None:
        from steg.programmes.models import ProgrammeVersion

        data = (
            ProgrammeVersion.objects.filter(pk=version_id)
            .values_list("automations", flat=True)
            .first()
        )
        found = from_json(data)
        _rules[version_id] = found
    return found


def clear_rules_cache() -> None:
    _rules.clear()


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.STEG_AUTOMATION_LEASE_SECONDS)


def zone_of(enrolment: Enrolment) -> ZoneInfo:
    name = getattr(enrolment.patient, "time_zone", "") or DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_time(day: datetime.date, at: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """`at` o'clock on `day` in `zone`, as an aware UTC datetime.

    Across a daylight-saving change the wall-clock time is kept (09:00 stays 09:00). A time
    that does not exist that day (02:30 when the clocks go forward) is taken an hour later, a
    time that exists twice (02:30 when they go back) the first time.
    """
    local = datetime.datetime.combine(day, at, tzinfo=zone)
    # Round trip through UTC: a non-existent local time comes back moved forward.
    return local.astimezone(datetime.UTC)


def _local_date(moment: datetime.datetime, zone: ZoneInfo) -> datetime.date:
    return moment.astimezone(zone).date()


# --- events ----------------------------------------------------------------------------------


def record_event(
    enrolment: Enrolment,
    kind: str,
    subject: str = "",
    *,
    occasion: str,
    context: dict[str, Any] | None = None,
) -> int:
    """An event happened to the enrolment (call inside the event's transaction): keep a pending
    firing for every rule it triggers and have a worker fire them after the commit.

    `occasion` names the event so that the same event recorded twice fires nothing twice
    (e.g. "response:812"). Returns how many rules it triggered (already recorded ones count).
    """
    rules = [
        rule
        for rule in rules_of(enrolment.programme_version_id).for_trigger(kind)
        if not rule.trigger.subject or rule.trigger.subject == subject
    ]
    if not rules:
        return 0
    now = timezone.now()
    Firing.objects.bulk_create(
        [
            Firing(
                enrolment_id=enrolment.pk,
                rule=rule.key,
                occasion=occasion[:120],
                trigger=kind,
                scheduled_for=now,
                next_attempt_at=now,
                context=context or {},
                created_at=now,
            )
            for rule in rules
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(partial(_enqueue_for_enrolment, enrolment.pk))
    return len(rules)


def _enqueue_for_enrolment(enrolment_id: int) -> None:
    """Enqueue the task that fires the enrolment's due firings. Never raises: if the enqueue
    fails, the scheduler's next tick finds the firings due."""
    from .tasks import fire_due_for_enrolment

    try:
        fire_due_for_enrolment.enqueue(enrolment_id)
    except Exception:
        logger.exception("Could not enqueue the firings of enrolment %s", enrolment_id)


def activated(enrolment: Enrolment) -> None:
    """The enrolment became active: the `activated` rules, and the time rules scheduled."""
    record_event(enrolment, "activated", occasion="activated")
    reschedule(enrolment)


def page_read(enrolment: Enrolment, page_key: str, completed_step: str | None) -> None:
    record_event(enrolment, "page_read", page_key, occasion=f"page:{page_key}")
    if completed_step:
        record_event(enrolment, "step_completed", completed_step, occasion=f"step:{completed_step}")


def has_rules(enrolment: Enrolment, kind: str) -> bool:
    return bool(rules_of(enrolment.programme_version_id).for_trigger(kind))


def status_changed(enrolment: Enrolment, old: str) -> None:
    """Activated: the `activated` rules and the time rules; resumed: the time rules again
    (what fell due during the pause is not sent late); paused or ended: pending firings
    cancelled."""
    if old == enrolment.Status.INVITED and enrolment.status == enrolment.Status.ACTIVE:
        activated(enrolment)
    else:
        reschedule(enrolment)


def quit_date_changed(enrolment: Enrolment) -> None:
    """Occasions counted from the quit date move with it (those already fired stay fired)."""
    reschedule(enrolment)


def meeting_changed(meeting: Any) -> None:
    """A meeting was booked, moved or cancelled: its reminders follow."""
    enrolment = meeting.enrolment if meeting.enrolment_id else None
    if enrolment is not None and has_rules(enrolment, "meeting"):
        reschedule(enrolment)


# --- scheduling the time rules ---------------------------------------------------------------


@dataclass(frozen=True)
class Occasion:
    rule: Rule
    key: str
    at: datetime.datetime
    context: dict[str, Any]


def reschedule(enrolment: Enrolment, *, now: datetime.datetime | None = None) -> int:
    """Bring the enrolment's pending time firings in line with its state (inside the caller's
    transaction): cancel those that no longer apply, write the next occasion of each time
    rule. Not active (invited, paused, ended): every pending firing is cancelled. Returns the
    number of pending time firings afterwards."""
    automations = rules_of(enrolment.programme_version_id)
    time_rules = [rule for rule in automations.rules if rule.trigger.kind in TIME_TRIGGERS]
    if not automations.rules:
        return 0
    now = now or timezone.now()
    pending = Firing.objects.filter(enrolment_id=enrolment.pk, status=Firing.Status.PENDING)
    if enrolment.status != enrolment.Status.ACTIVE:
        pending.update(
            status=Firing.Status.CANCELLED,
            result={"reason": f"treatment {enrolment.status}"},
            fired_at=now,
        )
        return 0
    wanted: list[Occasion] = []
    for rule in time_rules:
        wanted.extend(_next_occasions(enrolment, rule, now))
    keys = {(o.rule.key, o.key) for o in wanted}
    # Firings whose time has come are left to their worker, which checks that the occasion
    # still holds; only those still to come are replaced.
    time_pending = pending.filter(trigger__in=TIME_TRIGGERS, scheduled_for__gt=now)
    stale = [
        pk
        for pk, rule, occasion in time_pending.values_list("pk", "rule", "occasion")
        if (rule, occasion) not in keys
    ]
    if stale:
        Firing.objects.filter(pk__in=stale).update(
            status=Firing.Status.CANCELLED, result={"reason": "rescheduled"}, fired_at=now
        )
    if not wanted:
        return 0
    existing = {
        (row.rule, row.occasion): row
        for row in Firing.objects.filter(enrolment_id=enrolment.pk).filter(
            _keys_q([(o.rule.key, o.key) for o in wanted])
        )
    }
    create = []
    for occasion in wanted:
        row = existing.get((occasion.rule.key, occasion.key))
        if row is None:
            create.append(
                Firing(
                    enrolment_id=enrolment.pk,
                    rule=occasion.rule.key,
                    occasion=occasion.key,
                    trigger=occasion.rule.trigger.kind,
                    scheduled_for=occasion.at,
                    next_attempt_at=occasion.at,
                    context=occasion.context,
                    created_at=now,
                )
            )
        elif row.status == Firing.Status.PENDING and row.scheduled_for != occasion.at:
            Firing.objects.filter(pk=row.pk, status=Firing.Status.PENDING).update(
                scheduled_for=occasion.at, next_attempt_at=occasion.at
            )
        elif row.status == Firing.Status.CANCELLED and occasion.at > now:
            # Cancelled by a pause or an earlier change, and it applies again.
            Firing.objects.filter(pk=row.pk).update(
                status=Firing.Status.PENDING,
                scheduled_for=occasion.at,
                next_attempt_at=occasion.at,
                attempts=0,
                fired_at=None,
                result={},
            )
    Firing.objects.bulk_create(create, ignore_conflicts=True)
    return len(wanted)


def _keys_q(keys: Sequence[tuple[str, str]]) -> Q:
    q = Q(pk__in=[])
    for rule, occasion in keys:
        q |= Q(rule=rule, occasion=occasion)
    return q


def _start_day(enrolment: Enrolment) -> datetime.date:
    from steg.questionnaires.due import enrolment_start

    return enrolment_start(enrolment)


def _anchor(enrolment: Enrolment, anchor: str) -> datetime.date | None:
    if anchor == "quit_date":
        return enrolment.quit_date
    return _start_day(enrolment)


def _next_occasions(enrolment: Enrolment, rule: Rule, now: datetime.datetime) -> list[Occasion]:
    """The occasions of a time rule to keep pending now (at most one, but one per meeting)."""
    trigger = rule.trigger
    zone = zone_of(enrolment)
    if trigger.kind == "after":
        anchor = _anchor(enrolment, trigger.anchor)
        if anchor is None:
            return []
        day = anchor + datetime.timedelta(days=trigger.days)
        at = local_time(day, trigger.at, zone)
        if at <= now:
            return []
        return [Occasion(rule, f"{trigger.anchor}:{day.isoformat()}", at, {"day": day.isoformat()})]
    if trigger.kind == "questionnaire_due":
        return _next_questionnaire_occasion(enrolment, rule, now, zone)
    if trigger.kind == "inactive":
        return [_inactivity_occasion(enrolment, rule, now, zone)]
    if trigger.kind == "meeting":
        return _meeting_occasions(enrolment, rule, now)
    return []


def _occurrences(enrolment: Enrolment, questionnaire_id: str, until: datetime.date) -> list[Any]:
    from steg.questionnaires.loader import get_questionnaire
    from steg.questionnaires.schedule import occurrence_days

    questionnaire = get_questionnaire(enrolment.programme_version, questionnaire_id)
    if questionnaire is None:
        return []
    return occurrence_days(
        questionnaire.schedule,
        start=_start_day(enrolment),
        quit_date=enrolment.quit_date,
        until=until,
    )


def _next_questionnaire_occasion(
    enrolment: Enrolment, rule: Rule, now: datetime.datetime, zone: ZoneInfo
) -> list[Occasion]:
    trigger = rule.trigger
    today = _local_date(now, zone)
    shift = datetime.timedelta(days=trigger.days)
    # Occurrence days whose occasion (day + days, at) may still come: from yesterday's on.
    horizon = today + datetime.timedelta(days=800)
    days = [
        day
        for day in _occurrences(enrolment, trigger.subject, horizon)
        if day + shift >= today - datetime.timedelta(days=1)
    ]
    candidates = []
    for day in days:
        at = local_time(day + shift, trigger.at, zone)
        if at > now:
            candidates.append((day, at))
        if len(candidates) >= LOOKAHEAD:
            break
    if not candidates:
        return []
    finished = set(
        Firing.objects.filter(
            enrolment_id=enrolment.pk,
            rule=rule.key,
            occasion__in=[f"due:{day.isoformat()}" for day, _ in candidates],
        )
        .exclude(status__in=[Firing.Status.PENDING, Firing.Status.CANCELLED])
        .values_list("occasion", flat=True)
    )
    for day, at in candidates:
        key = f"due:{day.isoformat()}"
        if key not in finished:
            return [Occasion(rule, key, at, {"day": day.isoformat()})]
    return []


def quiet_since(enrolment: Enrolment) -> datetime.datetime:
    """When the patient was last heard from (the dashboard keeps it), or the start."""
    from steg.dashboard.models import Attention

    value = Attention.objects.filter(pk=enrolment.pk).values_list("quiet_since", flat=True).first()
    return value or enrolment.started_at or enrolment.created_at


def _inactivity_occasion(
    enrolment: Enrolment, rule: Rule, now: datetime.datetime, zone: ZoneInfo
) -> Occasion:
    """Inactivity is checked when its time comes (there is no write on every page view): the
    pending firing is due `days` after the last activity; when it comes due the worker looks
    again and, if the patient has been active since, moves it on instead of firing."""
    since = _local_date(quiet_since(enrolment), zone)
    key = f"since:{since.isoformat()}"
    done = Firing.objects.filter(
        enrolment_id=enrolment.pk, rule=rule.key, occasion=key, status=Firing.Status.DONE
    ).exists()
    if done:
        # This stretch of inactivity has had its reminder: look again in `days` days.
        at = max(now, local_time(_local_date(now, zone), rule.trigger.at, zone))
        at += datetime.timedelta(days=rule.trigger.days)
        return Occasion(rule, f"after:{since.isoformat()}", at, {"since": since.isoformat()})
    at = local_time(since + datetime.timedelta(days=rule.trigger.days), rule.trigger.at, zone)
    return Occasion(rule, key, max(at, now), {"since": since.isoformat()})


def _meeting_occasions(enrolment: Enrolment, rule: Rule, now: datetime.datetime) -> list[Occasion]:
    from steg.care.models import Meeting

    meetings = Meeting.objects.filter(
        enrolment_id=enrolment.pk, status=Meeting.Status.BOOKED, starts_at__gt=now
    ).values_list("pk", "starts_at")
    hours = datetime.timedelta(hours=rule.trigger.hours)
    return [
        Occasion(
            rule,
            f"meeting:{pk}:{starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M}",
            max(starts_at - hours, now),
            {"meeting": pk},
        )
        for pk, starts_at in meetings
    ]


# --- the scheduler ---------------------------------------------------------------------------


def tick(*, now: datetime.datetime | None = None, limit: int = 1000) -> int:
    """Hand the firings whose time has come to the workers; returns how many.

    Reads only pending firings that are due (the `firing_due` partial index). Each one's
    `next_attempt_at` moves on by the lease, so that the next tick does not hand it out again
    unless its worker never fired it. With two schedulers at once on PostgreSQL each takes
    rows the other has not locked (SKIP LOCKED); on SQLite ticks run one at a time.
    """
    now = now or timezone.now()
    handed = 0
    while True:
        with transaction.atomic():
            due = (
                Firing.objects.filter(status=Firing.Status.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at")
                .values_list("pk", flat=True)
            )
            if connection.features.has_select_for_update_skip_locked:
                due = due.select_for_update(skip_locked=True)
            ids = list(due[:limit])
            if ids:
                Firing.objects.filter(pk__in=ids).update(next_attempt_at=now + lease())
                for start in range(0, len(ids), BATCH):
                    transaction.on_commit(partial(_enqueue_batch, ids[start : start + BATCH]))
        handed += len(ids)
        if len(ids) < limit:
            return handed


def _enqueue_batch(ids: list[int]) -> None:
    from .tasks import fire_firings

    try:
        fire_firings.enqueue(ids)
    except Exception:  # the lease runs out and the next tick hands them out again
        logger.exception("Could not enqueue %s firings", len(ids))


# --- firing ----------------------------------------------------------------------------------


class Skip(Exception):
    """The occasion no longer applies, or a condition does not hold: nothing to do."""


def fire_due(enrolment_id: int, *, now: datetime.datetime | None = None) -> dict[str, int]:
    """Fire the enrolment's pending firings that are due (right after an event)."""
    now = now or timezone.now()
    ids = list(
        Firing.objects.filter(
            enrolment_id=enrolment_id,
            status=Firing.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .order_by("scheduled_for", "pk")
        .values_list("pk", flat=True)
    )
    return fire_many(ids, now=now)


def fire_many(ids: Iterable[int], *, now: datetime.datetime | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pk in ids:
        outcome = fire(pk, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def fire(firing_id: int, *, now: datetime.datetime | None = None) -> str:
    """Fire one firing if it is still pending and its time has come; returns the outcome:
    "done", "skipped", "retry", "failed", or "not-pending" / "not-due" (nothing happened)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            claimed = Firing.objects.filter(
                pk=firing_id, status=Firing.Status.PENDING, scheduled_for__lte=now
            ).update(attempts=F("attempts") + 1)
            if not claimed:
                exists = Firing.objects.filter(pk=firing_id, status=Firing.Status.PENDING)
                return "not-due" if exists.exists() else "not-pending"
            firing = Firing.objects.select_related(
                "enrolment__patient__user",
                "enrolment__programme_version",
                "enrolment__unit",
                "enrolment__therapist",
            ).get(pk=firing_id)
            return _run(firing, now)
    except Exception as exc:
        return _record_failure(firing_id, exc, now)


def _finish(firing: Firing, status: str, result: dict[str, Any], now: datetime.datetime) -> None:
    firing.status = status
    firing.result = result
    firing.fired_at = now
    firing.last_error = ""
    firing.save(update_fields=["status", "result", "fired_at", "last_error"])


def _run(firing: Firing, now: datetime.datetime) -> str:
    enrolment = firing.enrolment
    automations = rules_of(enrolment.programme_version_id)
    rule = automations.rule(firing.rule)
    try:
        if rule is None:
            raise Skip("the rule is no longer in the programme version")
        if enrolment.status != enrolment.Status.ACTIVE:
            raise Skip(f"treatment {enrolment.status}")
        if rule.trigger.kind in TIME_TRIGGERS:
            late = now - firing.scheduled_for
            if late > datetime.timedelta(hours=settings.STEG_AUTOMATION_STALE_HOURS):
                raise Skip("too late: the scheduler did not run in time")
            if _still_quiet_moved(firing, rule, enrolment, now):
                return "moved"
            _check_occasion(firing, rule, enrolment, now)
        for condition in rule.conditions:
            if not _holds(condition, firing, enrolment):
                raise Skip(f"condition {condition.kind} does not hold")
        done = [_act(action, firing, rule, automations, enrolment, now) for action in rule.actions]
    except Skip as reason:
        _finish(firing, Firing.Status.SKIPPED, {"reason": str(reason)}, now)
        outcome = "skipped"
    else:
        _finish(firing, Firing.Status.DONE, {"actions": done}, now)
        audit(
            action="automation.rule.fired",
            actor=Actor(None, "system", enrolment.unit),
            patient=enrolment.patient,
            object_type="automation.firing",
            object_id=firing.pk,
            purpose="automation",
            detail={"enrolment": enrolment.pk, "rule": rule.key, "occasion": firing.occasion},
        )
        outcome = "done"
    if firing.trigger in ("questionnaire_due", "inactive"):
        reschedule(enrolment, now=now)  # the next occasion of a repeating rule
    return outcome


def _still_quiet_moved(
    firing: Firing, rule: Rule, enrolment: Enrolment, now: datetime.datetime
) -> bool:
    """For an inactivity rule: if the patient has been active since the firing was planned,
    move it on to the new stretch instead of firing (True: moved, nothing fired)."""
    if rule.trigger.kind != "inactive":
        return False
    zone = zone_of(enrolment)
    since = _local_date(quiet_since(enrolment), zone)
    if firing.occasion == f"since:{since.isoformat()}":
        return False
    key = f"since:{since.isoformat()}"
    at = local_time(since + datetime.timedelta(days=rule.trigger.days), rule.trigger.at, zone)
    if Firing.objects.filter(enrolment_id=enrolment.pk, rule=rule.key, occasion=key).exists():
        # This stretch has had its reminder (or is planned): look again later.
        firing.next_attempt_at = now + datetime.timedelta(days=rule.trigger.days)
        firing.attempts = 0
        firing.save(update_fields=["next_attempt_at", "attempts"])
        return True
    firing.occasion = key
    firing.context = {"since": since.isoformat()}
    firing.scheduled_for = firing.next_attempt_at = max(at, now)
    firing.attempts = 0
    firing.save(
        update_fields=["occasion", "context", "scheduled_for", "next_attempt_at", "attempts"]
    )
    if at > now:
        return True
    # Due already: fire it now under its new name.
    firing.attempts = 1
    firing.save(update_fields=["attempts"])
    return False


def _check_occasion(
    firing: Firing, rule: Rule, enrolment: Enrolment, now: datetime.datetime
) -> None:
    """The occasion still holds (the quit date may have changed, a meeting moved)."""
    trigger = rule.trigger
    if trigger.kind == "after":
        anchor = _anchor(enrolment, trigger.anchor)
        if anchor is None:
            raise Skip("no quit date")
        day = anchor + datetime.timedelta(days=trigger.days)
        if firing.occasion != f"{trigger.anchor}:{day.isoformat()}":
            raise Skip("the date it was planned from has changed")
    elif trigger.kind == "questionnaire_due":
        day = datetime.date.fromisoformat(firing.context.get("day", "1970-01-01"))
        if day not in _occurrences(enrolment, trigger.subject, day):
            raise Skip("no longer a day the questionnaire is due")
    elif trigger.kind == "meeting":
        from steg.care.models import Meeting

        meeting = Meeting.objects.filter(
            pk=firing.context.get("meeting"), status=Meeting.Status.BOOKED
        ).first()
        expected = firing.occasion.rsplit(":", 1)[-1]
        if (
            meeting is None
            or meeting.starts_at <= now
            or f"{meeting.starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M}" != expected
        ):
            raise Skip("the meeting was cancelled or moved")
    elif trigger.kind == "inactive" and not firing.occasion.startswith("since:"):
        raise Skip("no new inactivity")


def _response(firing: Firing, enrolment: Enrolment) -> Any:
    from steg.questionnaires.models import Response

    response = Response.objects.filter(
        pk=firing.context.get("response"), enrolment=enrolment
    ).first()
    if response is None:
        raise Skip("the response is gone")
    return response


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _holds(condition: Condition, firing: Firing, enrolment: Enrolment) -> bool:
    if condition.kind == "quit_date":
        if (enrolment.quit_date is not None) != condition.is_set:
            return False
        if condition.reached and enrolment.quit_date is not None:
            # The day it is about: a submitted response's own day, else today (local).
            if firing.trigger == "questionnaire_submitted":
                day = _response(firing, enrolment).day
            else:
                day = _local_date(timezone.now(), zone_of(enrolment))
            return bool(day >= enrolment.quit_date)
        return True
    if condition.kind == "days_since":
        anchor = _anchor(enrolment, condition.anchor)
        if anchor is None:  # no quit date yet: before it
            return condition.at_least is None
        days = (_local_date(timezone.now(), zone_of(enrolment)) - anchor).days
        if condition.at_least is not None and days < condition.at_least:
            return False
        return not (condition.at_most is not None and days > condition.at_most)
    if condition.kind == "when":
        from steg.programmes.conditions import is_shown
        from steg.programmes.outline import get_outline
        from steg.programmes.progress import load_attribute_values

        version = enrolment.programme_version
        outline = get_outline(version, version.languages[0] if version.languages else "sv")
        return is_shown(condition.when, load_attribute_values(enrolment, outline.attributes))
    if condition.kind == "unanswered":
        from steg.questionnaires.models import Response

        rule = rules_of(enrolment.programme_version_id).rule(firing.rule)
        subject = rule.trigger.subject if rule else ""
        return not Response.objects.filter(
            enrolment=enrolment,
            questionnaire_id=subject,
            day=firing.context.get("day"),
            status=Response.Status.SUBMITTED,
        ).exists()
    if condition.kind == "score":
        score = _response(firing, enrolment).score or {}
        total = _number(score.get("total"))
        if condition.at_least is not None and (total is None or total < condition.at_least):
            return False
        if condition.at_most is not None and (total is None or total > condition.at_most):
            return False
        if condition.band and _band_key(score.get("band")) != condition.band:
            return False
        return not (condition.flag and condition.flag not in (score.get("flags") or []))
    if condition.kind == "answer":
        answers = _response(firing, enrolment).answers or {}
        given = answers.get(condition.item)
        values = given if isinstance(given, list) else [given]
        return any(_same(value, condition.equals) for value in values)
    return False


def _band_key(band: Any) -> str:
    if isinstance(band, dict):
        return str(band.get("key") or band.get("id") or band.get("code") or "")
    return str(band or "")


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, int | float) and not isinstance(value, str):
        return _number(value) == float(expected)
    return str(value) == str(expected)


# --- actions ---------------------------------------------------------------------------------


def _language(enrolment: Enrolment) -> str:
    user = enrolment.patient.user
    languages = enrolment.programme_version.languages or ["sv"]
    wanted = getattr(user, "language", "") or languages[0]
    return wanted if wanted in languages else languages[0]


def _text_in(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or next(iter(texts.values()), "")


def _act(
    action: Action,
    firing: Firing,
    rule: Rule,
    automations: Automations,
    enrolment: Enrolment,
    now: datetime.datetime,
) -> dict[str, Any]:
    if action.kind == "message":
        from steg.dialog.messages import MessageError, send_automatic_message
        from steg.dialog.placeholders import render_template

        text = _text_in(automations.messages.get(action.key, {}), _language(enrolment))
        try:
            sent = send_automatic_message(
                enrolment=enrolment,
                body=render_template(text, enrolment),
                rule=rule.key,
                client_token=f"rule:{firing.pk}",
            )
        except MessageError as exc:
            raise Skip(f"message not sent: {exc}") from exc
        return {"kind": "message", "message": sent.message.pk, "created": sent.created}
    if action.kind == "remind":
        return {"kind": "remind", "notifications": _remind(enrolment, action.link)}
    if action.kind == "unlock":
        return {
            "kind": "unlock",
            "step": action.key,
            "opened": _unlock(enrolment, action, rule, now),
        }
    if action.kind == "request_questionnaire":
        from steg.questionnaires.actions import request_questionnaire

        try:
            created = request_questionnaire(
                enrolment=enrolment,
                questionnaire_id=action.key,
                day=_local_date(now, zone_of(enrolment)),
                rule=rule.key,
            )
        except ValueError as exc:  # not in this version (the import refuses such rules)
            raise Skip(str(exc)) from exc
        return {"kind": "request_questionnaire", "questionnaire": action.key, "created": created}
    if action.kind in ("flag", "suggest_step_up"):
        from steg.dashboard.attention import attention_changed_on_commit

        flag, created = RuleFlag.objects.get_or_create(
            firing=firing,
            defaults={
                "enrolment": enrolment,
                "rule": rule.key,
                "reasons": action.texts,
                "step_up": action.level if action.kind == "suggest_step_up" else "",
                "created_at": now,
            },
        )
        attention_changed_on_commit(enrolment.pk)
        return {"kind": action.kind, "flag": flag.pk, "level": flag.step_up}
    raise ValueError(f"unknown action {action.kind!r}")


def _remind(enrolment: Enrolment, link: str) -> int:
    from steg.dialog.notifications import notify

    patient = enrolment.patient
    if not (patient.email or patient.phone):
        return 0
    # Addresses that name no treatment: the patient's start page lists what is due.
    path = reverse("dialog:patient_inbox") if link == "messages" else reverse("home")
    rows = notify(
        kind="reminder",
        email=patient.email,
        phone=patient.phone,
        user=patient.user,
        patient=patient,
        context={"link": settings.SITE_URL + path},
    )
    return len(rows)


def _unlock(enrolment: Enrolment, action: Action, rule: Rule, now: datetime.datetime) -> bool:
    from steg.programmes.models import ProgressEvent, StepOpening

    try:
        with transaction.atomic():
            _, created = StepOpening.objects.get_or_create(
                enrolment=enrolment,
                step_key=action.key,
                defaults={"opened_by": None, "rule": rule.key, "opened_at": now},
            )
    except IntegrityError:
        created = False
    if created:
        ProgressEvent.objects.create(
            enrolment=enrolment,
            kind=ProgressEvent.Kind.STEP_OPENED,
            subject=action.key,
            created_at=now,
        )
    return created


def _record_failure(firing_id: int, exc: Exception, now: datetime.datetime) -> str:
    logger.warning("Automation firing %s failed: %r", firing_id, exc, exc_info=exc)
    with transaction.atomic():
        firing = Firing.objects.select_for_update().filter(pk=firing_id).first()
        if firing is None or firing.status != Firing.Status.PENDING:
            return "not-pending"
        firing.attempts += 1  # the claim was rolled back with the rest
        firing.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if firing.attempts >= settings.STEG_AUTOMATION_MAX_ATTEMPTS:
            firing.status = Firing.Status.FAILED
            firing.fired_at = now
            outcome = "failed"
        else:
            base = datetime.timedelta(seconds=settings.STEG_AUTOMATION_RETRY_SECONDS)
            firing.next_attempt_at = now + min(
                base * 2 ** (firing.attempts - 1), datetime.timedelta(hours=6)
            )
            outcome = "retry"
        firing.save(
            update_fields=["attempts", "last_error", "status", "fired_at", "next_attempt_at"]
        )
    return outcome


@transaction.atomic
def retry(firing: Firing, *, actor: Any, now: datetime.datetime | None = None) -> bool:
    """An admin sends a failed firing round again (True when it was failed)."""
    now = now or timezone.now()
    updated = Firing.objects.filter(pk=firing.pk, status=Firing.Status.FAILED).update(
        status=Firing.Status.PENDING, attempts=0, next_attempt_at=now, fired_at=None
    )
    if updated:
        audit(
            action="automation.firing.retried",
            actor=actor,
            patient=firing.enrolment.patient,
            object_type="automation.firing",
            object_id=firing.pk,
            purpose="administration",
            detail={"enrolment": firing.enrolment_id, "rule": firing.rule},
        )
        transaction.on_commit(partial(_enqueue_for_enrolment, firing.enrolment_id))
    return bool(updated)
