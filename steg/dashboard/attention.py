"""What needs a therapist's attention, per enrolment (issue #7: the dashboard).

`attention_changed(enrolment_id)` is called (after commit) by every action of staff (and of
the automation's workers) that changes something the dashboard's flags are made from:
feedback given, messages read, a meeting booked, moved or cancelled, the treatment's status,
therapist or quit date changed, a rule's flag raised or handled. It recomputes the
enrolment's `Attention` row from the sources in a fixed number of queries and adds the
difference to `FlagCounts`.

The patient's own changes (a message sent or read, an exercise, questionnaire or quit date
submitted) only mark the row stale, in their own transaction (`attention_stale`): the
dashboard recomputes the stale rows of the units it shows before reading (`refresh_stale`),
and the scheduled refresh recomputes the rest. The patient's request does not pay for the
therapist's view (half of a message send's time, measured in issue #9), and a patient who
writes five times between two looks at the dashboard costs one recomputation.

Three flags change with time alone (inactive, meeting today, follow-up due):
`refresh_time_based()` updates the rows whose state has changed with set-based UPDATEs; the
`refresh_attention` command and the `refresh_attention` task run it every few minutes.
`rebuild_all()` (`manage.py rebuild_attention`) recomputes every row and counts again.

Page views only move the patient's last activity (`activity_seen`): one UPDATE at most every
ten minutes per enrolment, no recomputation.

Programme-specific rules plug in here: an app registers a slip detector (see
`register_slip_detector`; the tobacco programme's is in steg/tobacco/attention.py).
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import COUNTERS, FLAGS, Attention, FlagCounts

if TYPE_CHECKING:
    from steg.care.models import Meeting

logger = logging.getLogger(__name__)

# Patient activity seen at most this often from page views (one UPDATE each time).
ACTIVITY_RESOLUTION = datetime.timedelta(minutes=10)
# Enrolments recomputed per batch by `rebuild_all` and `refresh_time_based`.
BATCH_SIZE = 1000


# --- the registry of programme-specific slip detectors ----------------------------------------


@dataclass(frozen=True)
class EnrolmentFacts:
    """What a slip detector may need to know about an enrolment."""

    id: int
    programme: str  # the programme's slug
    status: str
    quit_date: datetime.date | None


SlipDetector = Callable[[Sequence[EnrolmentFacts]], dict[int, datetime.datetime]]

#: Functions that, given enrolments, return for each one with a reported slip or relapse when
#: the patient last reported one. One query each at most; registered by apps in their
#: AppConfig.ready (steg/tobacco/apps.py).
slip_detectors: list[SlipDetector] = []


def register_slip_detector(detector: SlipDetector) -> SlipDetector:
    if detector not in slip_detectors:
        slip_detectors.append(detector)
    return detector


# --- hooks for actions ---------------------------------------------------------------------------


def attention_changed(enrolment_id: int) -> None:
    """Recompute the dashboard row of one enrolment now (call it after the change commits)."""
    _recompute([enrolment_id], now=timezone.now())


def attention_changed_on_commit(enrolment_id: int) -> None:
    """Recompute the enrolment's dashboard row once the current transaction has committed.

    A failure is logged, never raised: the row is derived data, and `rebuild_attention`
    puts it right; the action that called this has succeeded.
    """
    transaction.on_commit(partial(attention_changed, enrolment_id), robust=True)


def attention_stale(enrolment_id: int, *, activity_at: datetime.datetime | None = None) -> None:
    """The patient changed something the enrolment's row is made from (sent a message, read
    one, submitted an answer): mark the row stale, inside the caller's transaction, instead of
    recomputing it now. One UPDATE; with `activity_at`, the patient's activity moves with it,
    as the automation's inactivity rules read it.

    The patient does not wait for the therapist's dashboard: it recomputes the stale rows of
    the units it shows before it reads them (`refresh_stale`), and the scheduled refresh
    recomputes the rest, so several changes between two looks cost one recomputation. An
    enrolment without a row yet gets one after the commit, as with `attention_changed`.
    """
    fields: dict[str, Any] = {"stale": True}
    if activity_at is not None:
        fields.update(last_activity_at=activity_at, quiet_since=activity_at)
    if not Attention.objects.filter(pk=enrolment_id).update(**fields):
        attention_changed_on_commit(enrolment_id)


def refresh_stale(unit_ids: Iterable[int] | None = None) -> int:
    """Recompute the stale rows (of these units; all when None). Returns how many. One query
    when there are none."""
    rows = Attention.objects.filter(stale=True)
    if unit_ids is not None:
        rows = rows.filter(unit_id__in=list(unit_ids))
    ids = list(rows.values_list("pk", flat=True))
    return recompute_many(ids) if ids else 0


def activity_seen(enrolment_id: int, *, at: datetime.datetime | None = None) -> None:
    """The patient did something that changes no flag but their activity (read a page).

    One UPDATE, at most once per ACTIVITY_RESOLUTION per enrolment; a full recomputation
    only when the patient was flagged as inactive.
    """
    now = at or timezone.now()
    moved = (
        Attention.objects.filter(pk=enrolment_id)
        .filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=now - ACTIVITY_RESOLUTION)
        )
        .update(last_activity_at=now, quiet_since=now, updated_at=now)
    )
    if moved and Attention.objects.filter(pk=enrolment_id, inactive=True).exists():
        attention_changed(enrolment_id)


def activity_seen_on_commit(enrolment_id: int) -> None:
    transaction.on_commit(partial(activity_seen, enrolment_id), robust=True)


def meeting_changed_on_commit(meeting: Meeting) -> None:
    """A meeting was booked, moved or cancelled: recompute the treatment it belongs to (or,
    for a meeting booked without one, the patient's open treatments at the unit)."""
    transaction.on_commit(
        partial(_meeting_changed, meeting.enrolment_id, meeting.patient_id, meeting.unit_id),
        robust=True,
    )


def _meeting_changed(enrolment_id: int | None, patient_id: int, unit_id: int) -> None:
    from steg.care.models import Enrolment

    if enrolment_id is not None:
        ids = [enrolment_id]
    else:
        ids = list(
            Enrolment.objects.filter(
                patient_id=patient_id, unit_id=unit_id, status__in=OPEN_STATUSES
            ).values_list("pk", flat=True)
        )
    if ids:
        _recompute(ids, now=timezone.now())


# --- computing rows --------------------------------------------------------------------------

OPEN_STATUSES = ("invited", "active", "paused")


def _stockholm_day(
    now: datetime.datetime,
) -> tuple[datetime.date, datetime.datetime, datetime.datetime]:
    """Today in Swedish time, and when it starts and ends (as aware datetimes)."""
    zone = timezone.get_default_timezone()
    today = timezone.localdate(now, zone)
    start = datetime.datetime.combine(today, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        today + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return today, start, end


def inactive_cutoff(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(days=settings.STEG_INACTIVE_DAYS)


@dataclass(frozen=True)
class _VersionRules:
    """What the dashboard needs from a programme version's questionnaires."""

    feedback: frozenset[str]  # answered ones a therapist gives feedback on (not diaries)
    flaggable: frozenset[str]  # scored with flags for the therapist
    followups: tuple[Any, ...]  # follow-up questionnaires (Questionnaire)

    @property
    def wanted(self) -> frozenset[str]:
        return self.feedback | self.flaggable | {q.id for q in self.followups}


_rules_cache: dict[tuple[int, str], _VersionRules] = {}


def is_followup(questionnaire: Any) -> bool:
    """A follow-up questionnaire: its id starts with "follow-up", or the programme schedules it
    at fixed offsets from an anchor (`schedule: kind: offsets`, which is how programmes mark
    follow-ups; see docs/questionnaires.md)."""
    return bool(
        questionnaire.id.startswith("follow-up") or questionnaire.schedule.kind == "offsets"
    )


def _rules_for(versions: dict[int, str]) -> dict[int, _VersionRules]:
    """The rules of each version (by id, with its content hash); one query on a cold cache."""
    from steg.programmes.models import ProgrammeVersion
    from steg.questionnaires.loader import questionnaires_of

    missing = [pk for pk, digest in versions.items() if (pk, digest) not in _rules_cache]
    if missing:
        for version in ProgrammeVersion.objects.filter(pk__in=missing):
            questionnaires = questionnaires_of(version).values()
            _rules_cache[(version.pk, version.content_hash)] = _VersionRules(
                feedback=frozenset(q.id for q in questionnaires if not q.is_diary),
                flaggable=frozenset(
                    q.id for q in questionnaires if q.scoring is not None and q.scoring.flags
                ),
                followups=tuple(q for q in questionnaires if is_followup(q)),
            )
    empty = _VersionRules(frozenset(), frozenset(), ())
    return {pk: _rules_cache.get((pk, digest), empty) for pk, digest in versions.items()}


def followup_window(
    questionnaires: Iterable[Any],
    *,
    start: datetime.date,
    quit_date: datetime.date | None,
    today: datetime.date,
    done: dict[str, set[datetime.date]],
) -> tuple[datetime.date | None, datetime.date | None]:
    """When the next follow-up not yet answered opens and closes (None: stays open until
    answered); (None, None) when there is none to come."""
    from steg.questionnaires.schedule import occurrences

    best: tuple[datetime.date, datetime.date | None] | None = None
    for questionnaire in questionnaires:
        schedule = questionnaire.schedule
        lookahead = 8 if schedule.kind in ("daily", "weekly") else 36_600
        for occurrence in occurrences(
            schedule,
            start=start,
            quit_date=quit_date,
            today=today,
            done_days=done.get(questionnaire.id, set()),
            lookahead=lookahead,
        ):
            if occurrence.status in ("due", "late", "upcoming"):
                closes = (
                    None
                    if schedule.kind == "once"
                    else occurrence.day + datetime.timedelta(days=max(schedule.backfill_days, 0))
                )
                if best is None or occurrence.day < best[0]:
                    best = (occurrence.day, closes)
                break
    return best if best is not None else (None, None)


def _latest(*values: datetime.datetime | None) -> datetime.datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _enrolments_with_sources(ids: Sequence[int], day_start: datetime.datetime) -> list[Any]:
    """The enrolments with what one row per enrolment can say about them (one query)."""
    from steg.automation.models import RuleFlag
    from steg.care.models import Enrolment, Meeting
    from steg.dialog.models import Message
    from steg.programmes.models import ProgressEvent

    patient_kinds = [
        kind for kind in ProgressEvent.Kind.values if kind != ProgressEvent.Kind.STEP_OPENED
    ]
    last_event = (
        ProgressEvent.objects.filter(enrolment=OuterRef("pk"), kind__in=patient_kinds)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    unread = (
        Message.objects.filter(
            enrolment=OuterRef("pk"),
            sender_role=Message.SenderRole.PATIENT,
            read_at__isnull=True,
        )
        .order_by()
        .values("enrolment")
        .annotate(n=Count("pk"))
        .values("n")
    )

    def last_message(role: str) -> Subquery:
        return Subquery(
            Message.objects.filter(enrolment=OuterRef("pk"), sender_role=role)
            .order_by("-created_at")
            .values("created_at")[:1]
        )

    next_meeting = (
        Meeting.objects.filter(
            Q(enrolment=OuterRef("pk"))
            | Q(enrolment__isnull=True, patient=OuterRef("patient"), unit=OuterRef("unit")),
            status=Meeting.Status.BOOKED,
            starts_at__gte=day_start,
        )
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    open_rule_flags = (
        RuleFlag.objects.filter(enrolment=OuterRef("pk"), handled_at__isnull=True)
        .order_by()
        .values("enrolment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        Enrolment.objects.filter(pk__in=ids)
        .select_related("programme_version__programme")
        .only(
            "pk",
            "patient_id",
            "unit_id",
            "therapist_id",
            "status",
            "guided",
            "created_at",
            "started_at",
            "quit_date",
            "programme_version__content_hash",
            "programme_version__programme__slug",
        )
        .annotate(
            last_event=Subquery(last_event),
            unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
            last_patient_message=last_message(Message.SenderRole.PATIENT),
            last_staff_message=last_message(Message.SenderRole.STAFF),
            next_meeting=Subquery(next_meeting),
            open_rule_flags=Coalesce(
                Subquery(open_rule_flags, output_field=IntegerField()), Value(0)
            ),
        )
        .order_by("pk")
    )


def compute_rows(
    ids: Sequence[int], *, now: datetime.datetime
) -> tuple[list[Attention], list[int]]:
    """The rows the enrolments should have, and the ids of those that should have none (ended
    or gone). A fixed number of queries, whatever the number of enrolments and their history."""
    from steg.dialog.models import Message
    from steg.programmes.models import ExerciseAnswer
    from steg.questionnaires.due import enrolment_start
    from steg.questionnaires.models import Response

    today, day_start, day_end = _stockholm_day(now)
    enrolments = _enrolments_with_sources(ids, day_start)
    found = {e.pk for e in enrolments}
    gone = [pk for pk in ids if pk not in found]
    open_ = [e for e in enrolments if e.status in OPEN_STATUSES]
    gone += [e.pk for e in enrolments if e.status not in OPEN_STATUSES]
    if not open_:
        return [], gone
    open_ids = [e.pk for e in open_]

    rules = _rules_for({e.programme_version_id: e.programme_version.content_hash for e in open_})
    wanted = set().union(*(r.wanted for r in rules.values()))

    # Feedback from staff linked to what the patient submitted: the latest per link.
    feedback: dict[tuple[int, str, str], datetime.datetime] = {
        (row["enrolment_id"], row["link_kind"], row["link_key"]): row["last"]
        for row in Message.objects.filter(
            enrolment_id__in=open_ids, sender_role=Message.SenderRole.STAFF
        )
        .exclude(link_kind="")
        .order_by()
        .values("enrolment_id", "link_kind", "link_key")
        .annotate(last=Max("created_at"))
    }
    exercises: dict[int, list[tuple[str, datetime.datetime | None]]] = defaultdict(list)
    for enrolment_id, key, submitted_at in ExerciseAnswer.objects.filter(
        enrolment_id__in=open_ids,
        status=ExerciseAnswer.Status.SUBMITTED,
        submitted_at__isnull=False,
    ).values_list("enrolment_id", "key", "submitted_at"):
        exercises[enrolment_id].append((key, submitted_at))
    responses: dict[int, list[tuple[str, datetime.date, datetime.datetime | None, Any]]] = (
        defaultdict(list)
    )
    if wanted:
        for enrolment_id, qid, day, submitted_at, score in Response.objects.filter(
            enrolment_id__in=open_ids,
            status=Response.Status.SUBMITTED,
            questionnaire_id__in=sorted(wanted),
        ).values_list("enrolment_id", "questionnaire_id", "day", "submitted_at", "score"):
            responses[enrolment_id].append((qid, day, submitted_at, score))
    facts = [
        EnrolmentFacts(
            id=e.pk,
            programme=e.programme_version.programme.slug,
            status=e.status,
            quit_date=e.quit_date,
        )
        for e in open_
    ]
    slips: dict[int, datetime.datetime] = {}
    for detector in slip_detectors:
        for enrolment_id, reported_at in detector(facts).items():
            slips[enrolment_id] = _latest(slips.get(enrolment_id), reported_at) or reported_at

    cutoff = inactive_cutoff(now)
    rows = []
    for e in open_:
        rule = rules[e.programme_version_id]
        active = e.status == "active"

        awaiting = 0
        if e.guided:
            awaiting += sum(
                1
                for key, at in exercises.get(e.pk, [])
                if not _answered(feedback, (e.pk, "exercise", key), at)
            )
        score_flags = 0
        done: dict[str, set[datetime.date]] = defaultdict(set)
        for qid, day, submitted_at, score in responses.get(e.pk, []):
            done[qid].add(day)
            link = (e.pk, "questionnaire", f"{qid}/{day.isoformat()}")
            if _answered(feedback, link, submitted_at):
                continue
            if e.guided and qid in rule.feedback:
                awaiting += 1
            if qid in rule.flaggable and isinstance(score, dict) and score.get("flags"):
                score_flags += 1

        slip_at = slips.get(e.pk)
        if (
            slip_at is not None
            and e.last_staff_message is not None
            and e.last_staff_message >= slip_at
        ):
            slip_at = None  # staff have written since the patient reported it
        last_activity = _latest(e.last_event, e.last_patient_message)
        quiet_since = last_activity or e.started_at or e.created_at
        opens, closes = (None, None)
        if rule.followups:
            opens, closes = followup_window(
                rule.followups,
                start=enrolment_start(e),
                quit_date=e.quit_date,
                today=today,
                done=done,
            )
        row = Attention(
            enrolment_id=e.pk,
            patient_id=e.patient_id,
            unit_id=e.unit_id,
            therapist_id=e.therapist_id,
            status=e.status,
            guided=e.guided,
            unread_messages=e.unread,
            awaiting_feedback=awaiting,
            score_flags=score_flags,
            rule_flags=e.open_rule_flags,
            slip_reported_at=slip_at,
            last_activity_at=last_activity,
            quiet_since=quiet_since,
            inactive=active and quiet_since < cutoff,
            next_meeting_at=e.next_meeting,
            meeting_today=e.next_meeting is not None and day_start <= e.next_meeting < day_end,
            followup_opens_on=opens,
            followup_closes_on=closes,
            followup_due=bool(
                active
                and opens is not None
                and opens <= today
                and (closes is None or closes >= today)
            ),
            updated_at=now,
        )
        row.priority = priority_of(row)
        rows.append(row)
    return rows, gone


def _answered(
    feedback: dict[tuple[int, str, str], datetime.datetime],
    link: tuple[int, str, str],
    submitted_at: datetime.datetime | None,
) -> bool:
    """Whether staff linked feedback to it after it was (last) submitted."""
    given = feedback.get(link)
    return given is not None and (submitted_at is None or given >= submitted_at)


def has_flags(row: Attention) -> dict[str, bool]:
    """Which flags (FLAGS, by key) the row has, from its fields."""
    return {
        "slip": row.slip_reported_at is not None,
        "score": row.score_flags > 0,
        "rule": row.rule_flags > 0,
        "unread": row.unread_messages > 0,
        "feedback": row.awaiting_feedback > 0,
        "meeting": row.meeting_today,
        "follow-up": row.followup_due,
        "inactive": row.inactive,
    }


def priority_of(row: Attention) -> int:
    has = has_flags(row)
    return sum(flag.weight for flag in FLAGS if has[flag.key])


def _counts_of(row: Attention) -> dict[str, int]:
    has = has_flags(row)
    return {"patients": 1, **{flag.counter: int(has[flag.key]) for flag in FLAGS}}


_ROW_FIELDS = [f.name for f in Attention._meta.concrete_fields if not f.primary_key]


def _upsert(rows: list[Attention]) -> None:
    if rows:
        Attention.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["enrolment"],
            update_fields=_ROW_FIELDS,
        )


# --- keeping the counters -----------------------------------------------------------------------

Group = tuple[int, int | None]  # (unit id, therapist id)


def _add(
    deltas: dict[Group, dict[str, int]], group: Group, counts: dict[str, int], sign: int
) -> None:
    target = deltas[group]
    for name, value in counts.items():
        if value:
            target[name] = target.get(name, 0) + sign * value


def _apply_deltas(deltas: dict[Group, dict[str, int]]) -> None:
    """Add the differences to the counters (inside the caller's transaction), in a fixed order
    so that concurrent writers lock the counter rows in the same order."""
    for (unit_id, therapist_id), changes in sorted(
        deltas.items(), key=lambda item: (item[0][0], item[0][1] or 0)
    ):
        changes = {name: value for name, value in changes.items() if value}
        if not changes:
            continue
        counters = FlagCounts.objects.filter(unit_id=unit_id, therapist_id=therapist_id)
        update = {name: F(name) + value for name, value in changes.items()}
        if counters.update(**update):
            continue
        try:
            with transaction.atomic():
                FlagCounts.objects.create(unit_id=unit_id, therapist_id=therapist_id, **changes)
        except IntegrityError:  # created by a concurrent writer in the meantime
            counters.update(**update)


def _recompute(ids: Sequence[int], *, now: datetime.datetime) -> None:
    """Recompute rows with their counters, one transaction, the enrolments locked so that
    concurrent recomputations of the same enrolment take turns."""
    from steg.care.models import Enrolment

    ids = sorted(set(ids))
    with transaction.atomic():
        list(
            Enrolment.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        old = {a.pk: a for a in Attention.objects.select_for_update().filter(pk__in=ids)}
        rows, gone = compute_rows(ids, now=now)
        deltas: dict[Group, dict[str, int]] = defaultdict(dict)
        for row in old.values():
            _add(deltas, (row.unit_id, row.therapist_id), _counts_of(row), -1)
        for row in rows:
            _add(deltas, (row.unit_id, row.therapist_id), _counts_of(row), +1)
        _upsert(rows)
        removed = [pk for pk in gone if pk in old]
        if removed:
            Attention.objects.filter(pk__in=removed).delete()
        _apply_deltas(deltas)


def recompute_many(ids: Iterable[int], *, now: datetime.datetime | None = None) -> int:
    """Recompute these enrolments' rows (with their counters), in batches; returns how many."""
    now = now or timezone.now()
    ids = sorted(set(ids))
    for start in range(0, len(ids), BATCH_SIZE):
        _recompute(ids[start : start + BATCH_SIZE], now=now)
    return len(ids)


# --- time-based flags ----------------------------------------------------------------------------


def _flip(column: str, *, turn_on: bool, where: Q) -> int:
    """Set (or clear) one boolean flag on the rows matching `where`, which must select only
    rows where the flag is the opposite, and keep their priority and the counters in step.
    Returns how many rows changed: one UPDATE ... RETURNING (the ORM's UPDATE returns no
    rows), then one UPDATE per (unit, therapist) touched."""
    flag = next(f for f in FLAGS if f.counter == column)  # the same name for these flags
    query = Attention.objects.filter(where).query
    condition, params = query.get_compiler(connection=connection).compile(query.where)
    name = connection.ops.quote_name
    # Only identifiers from the model's metadata are put into the text; values are parameters.
    sql = (
        f"UPDATE {name(Attention._meta.db_table)} SET {name(column)} = %s, "  # noqa: S608
        f"{name('priority')} = {name('priority')} {'+' if turn_on else '-'} %s "
        f"WHERE {condition} RETURNING {name('unit_id')}, {name('therapist_id')}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [turn_on, flag.weight, *params])
        changed = cursor.fetchall()
        deltas: dict[Group, dict[str, int]] = defaultdict(dict)
        for unit_id, therapist_id in changed:
            _add(deltas, (unit_id, therapist_id), {flag.counter: 1}, 1 if turn_on else -1)
        _apply_deltas(deltas)
    return len(changed)


def refresh_time_based(now: datetime.datetime | None = None) -> int:
    """Bring the flags that change with time alone up to date: inactive, meeting today,
    follow-up due. Touches only rows whose state changes; returns how many changed.

    Rows whose next meeting is past (a meeting on an earlier day) or whose follow-up window
    has closed unanswered are recomputed (in batches), to find the next meeting and the next
    follow-up, and so are open treatments that have no row yet; the flags themselves are set
    and cleared with set-based UPDATEs.
    """
    from steg.care.models import Enrolment

    now = now or timezone.now()
    today, day_start, day_end = _stockholm_day(now)
    stale = list(
        Attention.objects.filter(
            Q(next_meeting_at__lt=day_start) | Q(followup_closes_on__lt=today)
        ).values_list("pk", flat=True)
    )
    # Open treatments without a row (enrolled before the dashboard existed, or a recomputation
    # that failed after its action had committed) get one.
    missing = list(
        Enrolment.objects.filter(status__in=OPEN_STATUSES, attention__isnull=True).values_list(
            "pk", flat=True
        )
    )
    # Rows the patient has changed since they were last recomputed (attention_stale).
    stale += Attention.objects.filter(stale=True).values_list("pk", flat=True)
    changed = recompute_many([*stale, *missing], now=now) if stale or missing else 0

    quiet = Q(status="active", quiet_since__lt=inactive_cutoff(now))
    meeting = Q(next_meeting_at__gte=day_start, next_meeting_at__lt=day_end)
    followup = Q(status="active", followup_opens_on__lte=today) & (
        Q(followup_closes_on__isnull=True) | Q(followup_closes_on__gte=today)
    )
    for column, now_true in (
        ("inactive", quiet),
        ("meeting_today", meeting),
        ("followup_due", followup),
    ):
        changed += _flip(column, turn_on=True, where=Q(**{column: False}) & now_true)
        changed += _flip(column, turn_on=False, where=Q(**{column: True}) & ~now_true)
    return changed


# --- rebuilding everything -----------------------------------------------------------------------


def rebuild_all(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Recompute the row of every open enrolment, remove those of ended ones, and count the
    flags again from the rows. Returns the number of rows. For after a deploy or a migration;
    safe to run while Steg is in use (a row changed meanwhile is recomputed by its action)."""
    from steg.care.models import Enrolment

    now = now or timezone.now()
    total = 0
    last = 0
    while True:
        ids = list(
            Enrolment.objects.filter(pk__gt=last, status__in=OPEN_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        rows, _gone = compute_rows(ids, now=now)
        with transaction.atomic():
            _upsert(rows)
        total += len(rows)
        last = ids[-1]
    with transaction.atomic():
        Attention.objects.exclude(enrolment__status__in=OPEN_STATUSES).delete()
        recount()
    return total


def recount() -> None:
    """Count the flags again from the rows (inside the caller's transaction)."""
    aggregates: dict[str, Any] = {"patients": Count("pk")}
    for flag in FLAGS:
        aggregates[flag.counter] = Count("pk", filter=flag.condition)
    groups = Attention.objects.order_by().values("unit_id", "therapist_id").annotate(**aggregates)
    FlagCounts.objects.all().delete()
    FlagCounts.objects.bulk_create(
        [
            FlagCounts(
                unit_id=group["unit_id"],
                therapist_id=group["therapist_id"],
                **{name: group[name] for name in COUNTERS},
            )
            for group in groups
        ],
        batch_size=1000,
    )
