"""What the therapist's overview of a treatment shows (``views_overview``), read with a fixed
number of queries whatever the patient's history; each function says what it costs.

* ``score_sections``: the latest score of each questionnaire and the charts, as the patient's
  measurements page has them;
* ``answers``: the latest exercises and questionnaire responses with the feedback on each;
* ``timeline``: one page of what happened, newest first, merged from six sources (pages read
  and answers sent, messages, meetings booked and held, changes to the treatment, logins), each
  read along an index on its time and limited to a page; ``?before=<time>`` asks for the next
  (a keyset on the time, never an offset);
* ``automation``: the automatic support: open rule flags, what the programme's rules did
  lately and what they will do next (steg.automation).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, Subquery
from django.db.models.functions import Lower
from django.utils import formats, timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from steg.audit.models import AuditEvent
from steg.automation.models import Firing, RuleFlag
from steg.care.models import Enrolment, EnrolmentEvent, Meeting
from steg.dialog.models import Message
from steg.programmes.format import plain_text
from steg.programmes.models import ExerciseAnswer, ProgressEvent
from steg.programmes.outline import Outline, PageInfo
from steg.programmes.progress import Progress
from steg.questionnaires import logic, measurements
from steg.questionnaires.definition import Questionnaire
from steg.questionnaires.models import Response
from steg.questionnaires.render import text_in

from .logins import LOGIN_ACTION

TIMELINE_PAGE = 50  # entries per page of the timeline
FLAGS_SHOWN = 20  # open rule flags, oldest first
FIRINGS_SHOWN = 10  # rule firings fired lately, and scheduled next
ANSWERS_SHOWN = 20  # latest exercises, and latest questionnaire responses, with feedback
EXCERPT_CHARS = 80  # of a message, in the timeline

# What the patient did, as the timeline shows it: page views, drafts and ticks would drown
# the rest (the progress table counts them).
TIMELINE_KINDS = (
    ProgressEvent.Kind.PAGE_READ,
    ProgressEvent.Kind.EXERCISE_SUBMITTED,
    ProgressEvent.Kind.QUESTIONNAIRE_SUBMITTED,
    ProgressEvent.Kind.STEP_OPENED,
)


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. ``kind`` names the source (for the template and tests)."""

    at: datetime.datetime
    kind: str
    label: str
    subject: str = ""
    excerpt: str = ""


@dataclass(frozen=True)
class ExerciseItem:
    answer: ExerciseAnswer
    title: str
    prompt: str
    feedback: list[Message]
    feedback_url: str


@dataclass(frozen=True)
class ScoreView:
    """A scored response as the therapist reads it: total, band and flags."""

    status: str
    total: Decimal | None
    band_title: str
    flags: list[str]


@dataclass(frozen=True)
class ResponseItem:
    questionnaire_id: str
    title: str
    day: datetime.date
    submitted_at: datetime.datetime | None
    score: ScoreView | None
    summary: list[tuple[str, str]]
    feedback: list[Message]
    feedback_url: str


@dataclass(frozen=True)
class Answers:
    exercises: list[ExerciseItem]
    more_exercises: bool  # older ones are not shown
    responses: list[ResponseItem]
    more_responses: bool


@dataclass(frozen=True)
class QuestionnaireSection:
    """One questionnaire in "Scores and diary": its latest score and its charts."""

    questionnaire_id: str
    title: str
    latest_day: datetime.date | None
    latest: ScoreView | None
    charts: list[measurements.ChartView]


def _score_view(questionnaire: Questionnaire, data: object, language: str) -> ScoreView | None:
    if not isinstance(data, dict) or questionnaire.scoring is None:
        return None
    try:
        result = logic.score_from_json(questionnaire, data)
    except ValueError:  # stored under an older definition
        return None
    return ScoreView(
        status=result.status,
        total=result.total,
        band_title=text_in(result.band.title, language) if result.band else "",
        flags=[text_in(flag.text, language) for flag in result.flags],
    )


def _answer_summary(
    questionnaire: Questionnaire, data: object, language: str
) -> list[tuple[str, str]]:
    if not isinstance(data, dict):
        return []
    try:
        answers = logic.answers_from_json(questionnaire, data)
    except (ValueError, TypeError, AttributeError):  # stored under an older definition
        return []
    return measurements.answer_summary(questionnaire, answers, language)


def _exercise_pages(outline: Outline) -> dict[str, tuple[PageInfo, str]]:
    """Each exercise's page and prompt (its text, plain), by key."""
    found: dict[str, tuple[PageInfo, str]] = {}
    for page in outline.pages:
        for block in page.blocks:
            if block["type"] == "exercise":
                found[block["key"]] = (page, plain_text(block.get("html", "")))
    return found


# --- scores and diary ----------------------------------------------------------------------


def _latest_scored(
    enrolment: Enrolment, questionnaires: Mapping[str, Questionnaire]
) -> dict[str, tuple[datetime.date, object]]:
    """The latest submitted response of each scored questionnaire: (day, score JSON). One
    query (a subquery per questionnaire, along the index on (enrolment, status, day))."""
    scored = [qid for qid, q in questionnaires.items() if q.scoring is not None]
    if not scored:
        return {}
    submitted = Response.objects.filter(
        enrolment=enrolment, status=Response.Status.SUBMITTED
    ).order_by("-day", "-submitted_at", "-pk")
    latest = (
        Q(pk=Subquery(submitted.filter(questionnaire_id=qid).values("pk")[:1])) for qid in scored
    )
    rows = Response.objects.filter(reduce(or_, latest)).values_list(
        "questionnaire_id", "day", "score"
    )
    return {qid: (day, score) for qid, day, score in rows}


def score_sections(
    enrolment: Enrolment, questionnaires: Mapping[str, Questionnaire], language: str
) -> list[QuestionnaireSection]:
    """Each questionnaire with answers: its latest score (if scored) and its charts, the same
    as the patient's measurements page shows. Two queries."""
    charts = measurements.charts_for(enrolment, language)
    latest = _latest_scored(enrolment, questionnaires)
    sections = []
    for qid, questionnaire in questionnaires.items():
        keys = {f"{qid}-total"} | {f"{qid}-{item.link_id}" for item in questionnaire.all_items()}
        mine = [chart for chart in charts if chart.key in keys]
        day, score = latest.get(qid, (None, None))
        if not mine and day is None:
            continue
        sections.append(
            QuestionnaireSection(
                questionnaire_id=qid,
                title=text_in(questionnaire.title, language),
                latest_day=day,
                latest=_score_view(questionnaire, score, language),
                charts=mine,
            )
        )
    return sections


# --- answers with feedback -----------------------------------------------------------------


def _feedback(
    enrolment: Enrolment, exercise_keys: Iterable[str], response_keys: Iterable[str]
) -> dict[tuple[str, str], list[Message]]:
    """The staff's messages linked to these answers, by (link kind, link key): one query,
    along the index on (enrolment, link kind, link key)."""
    found: dict[tuple[str, str], list[Message]] = defaultdict(list)
    linked = Q(link_kind=Message.LinkKind.EXERCISE, link_key__in=list(exercise_keys)) | Q(
        link_kind=Message.LinkKind.QUESTIONNAIRE, link_key__in=list(response_keys)
    )
    messages = (
        Message.objects.filter(linked, enrolment=enrolment, sender_role=Message.SenderRole.STAFF)
        .select_related("sender")
        .order_by("created_at", "pk")
    )
    for message in messages:
        found[(message.link_kind, message.link_key)].append(message)
    return found


def answers(
    enrolment: Enrolment,
    outline: Outline,
    progress: Progress | None,
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    *,
    feedback_url: Callable[[str, str], str],
) -> Answers:
    """The latest submitted exercises and questionnaire responses, each with its feedback and
    the address to give more (``feedback_url(link kind, link key)``; "" for none). Two queries:
    the responses and the feedback (exercise answers come with ``progress``)."""
    submitted = sorted(
        (
            a
            for a in (progress.answers.values() if progress else ())
            if a.status == ExerciseAnswer.Status.SUBMITTED and a.submitted_at is not None
        ),
        key=lambda a: (a.submitted_at, a.pk),
        reverse=True,
    )
    more_exercises = len(submitted) > ANSWERS_SHOWN
    exercises = submitted[:ANSWERS_SHOWN]
    rows = list(
        Response.objects.filter(enrolment=enrolment, status=Response.Status.SUBMITTED)
        .order_by("-day", "-submitted_at", "-pk")
        .values_list("questionnaire_id", "day", "submitted_at", "score", "answers")[
            : ANSWERS_SHOWN + 1
        ]
    )
    more_responses = len(rows) > ANSWERS_SHOWN
    rows = rows[:ANSWERS_SHOWN]
    feedback = _feedback(
        enrolment,
        [a.key for a in exercises],
        [f"{qid}/{day.isoformat()}" for qid, day, *_rest in rows],
    )
    pages = _exercise_pages(outline)
    exercise_items = []
    for answer in exercises:
        page, prompt = pages.get(answer.key, (None, ""))
        exercise_items.append(
            ExerciseItem(
                answer=answer,
                title=page.title if page else answer.key,
                prompt=prompt,
                feedback=feedback.get((Message.LinkKind.EXERCISE, answer.key), []),
                feedback_url=feedback_url(Message.LinkKind.EXERCISE, answer.key),
            )
        )
    response_items = []
    for qid, day, submitted_at, score, data in rows:
        questionnaire = questionnaires.get(qid)
        key = f"{qid}/{day.isoformat()}"
        response_items.append(
            ResponseItem(
                questionnaire_id=qid,
                title=text_in(questionnaire.title, language) if questionnaire else qid,
                day=day,
                submitted_at=submitted_at,
                score=_score_view(questionnaire, score, language) if questionnaire else None,
                summary=_answer_summary(questionnaire, data, language) if questionnaire else [],
                feedback=feedback.get((Message.LinkKind.QUESTIONNAIRE, key), []),
                feedback_url=feedback_url(Message.LinkKind.QUESTIONNAIRE, key),
            )
        )
    return Answers(exercise_items, more_exercises, response_items, more_responses)


# --- timeline ------------------------------------------------------------------------------


def _name(user: Any) -> str:
    if user is None:
        return "–"
    return str(user.get_full_name() or user.email)


def _when(moment: datetime.datetime) -> str:
    return str(formats.date_format(timezone.localtime(moment), "j F Y H:i"))


def _progress_entry(
    event: ProgressEvent,
    outline: Outline,
    exercise_pages: Mapping[str, tuple[PageInfo, str]],
    questionnaires: Mapping[str, Questionnaire],
    language: str,
) -> Entry:
    subject = event.subject
    kind = event.kind
    if kind == ProgressEvent.Kind.PAGE_READ:
        page = outline.page_by_key.get(subject)
        return Entry(event.created_at, kind, _("Read a page"), page.title if page else subject)
    if kind == ProgressEvent.Kind.EXERCISE_SUBMITTED:
        page = exercise_pages[subject][0] if subject in exercise_pages else None
        return Entry(event.created_at, kind, _("Sent an exercise"), page.title if page else subject)
    if kind == ProgressEvent.Kind.QUESTIONNAIRE_SUBMITTED:
        qid, _sep, day = subject.partition(":")
        questionnaire = questionnaires.get(qid)
        title = text_in(questionnaire.title, language) if questionnaire else qid
        try:
            day_text = str(formats.date_format(datetime.date.fromisoformat(day), "j F Y"))
        except ValueError:
            day_text = day
        return Entry(
            event.created_at,
            kind,
            _("Sent a questionnaire"),
            _("%(title)s for %(day)s") % {"title": title, "day": day_text} if day_text else title,
        )
    step = outline.step_by_key.get(subject)
    return Entry(
        event.created_at, kind, _("Step opened by the therapist"), step.title if step else subject
    )


def _message_entry(message: Message) -> Entry:
    if message.sender_role == Message.SenderRole.PATIENT:
        label = _("Message from the patient")
    elif message.sender_role == Message.SenderRole.SYSTEM:
        label = _("Automatic message")
    elif message.link_kind:
        label = _("Feedback from %(name)s") % {"name": _name(message.sender)}
    else:
        label = _("Message from %(name)s") % {"name": _name(message.sender)}
    excerpt = Truncator(" ".join(message.body.split())).chars(EXCERPT_CHARS)
    return Entry(message.created_at, "message", label, excerpt=excerpt)


def _meeting_subject(meeting: Meeting) -> str:
    return _("%(mode)s with %(therapist)s, %(when)s") % {
        "mode": meeting.get_mode_display(),
        "therapist": _name(meeting.therapist),
        "when": _when(meeting.starts_at),
    }


def _event_entry(event: EnrolmentEvent) -> Entry:
    labels = {
        EnrolmentEvent.Kind.STATUS: _("Status changed"),
        EnrolmentEvent.Kind.THERAPIST: _("Therapist changed"),
        EnrolmentEvent.Kind.GUIDANCE: _("Form of treatment changed"),
    }
    return Entry(
        event.created_at,
        "treatment",
        labels.get(event.kind, event.kind),  # type: ignore[call-overload]
        f"{event.old_label or '–'} → {event.new_label or '–'} ({_name(event.actor)})",
    )


def meetings_of(enrolment: Enrolment) -> Q:
    """The treatment's meetings, and the patient's meetings at its unit that belong to no
    treatment (the assessment talk). The patient comes first, for the index on (patient,
    status, starts_at): a patient has a handful of meetings, the system very many."""
    return Q(patient_id=enrolment.patient_id) & (
        Q(enrolment=enrolment) | Q(enrolment__isnull=True, unit_id=enrolment.unit_id)
    )


def timeline(
    enrolment: Enrolment,
    outline: Outline,
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    *,
    before: datetime.datetime | None,
    now: datetime.datetime,
) -> tuple[list[Entry], datetime.datetime | None]:
    """One page of the timeline, newest first, older than ``before``; and the time to ask the
    next page with (None: no more). Six queries, each at most one page long."""
    limit = TIMELINE_PAGE + 1

    def older(field: str) -> dict[str, datetime.datetime]:
        return {f"{field}__lt": before} if before is not None else {}

    entries: list[Entry] = []
    events = ProgressEvent.objects.filter(
        enrolment=enrolment, kind__in=TIMELINE_KINDS, **older("created_at")
    ).order_by("-created_at", "-pk")[:limit]
    exercise_pages = _exercise_pages(outline)
    entries.extend(
        _progress_entry(event, outline, exercise_pages, questionnaires, language)
        for event in events
    )
    messages = (
        Message.objects.filter(enrolment=enrolment, **older("created_at"))
        .select_related("sender")
        .order_by("-created_at", "-pk")[:limit]
    )
    entries.extend(_message_entry(message) for message in messages)
    booked = (
        Meeting.objects.filter(meetings_of(enrolment), **older("created_at"))
        .select_related("therapist")
        .order_by("-created_at", "-pk")[:limit]
    )
    for meeting in booked:
        cancelled = meeting.status == Meeting.Status.CANCELLED
        entries.append(
            Entry(
                meeting.created_at,
                "meeting",
                _("Meeting booked (since cancelled)") if cancelled else _("Meeting booked"),
                _meeting_subject(meeting),
            )
        )
    held = (
        Meeting.objects.filter(
            meetings_of(enrolment),
            status=Meeting.Status.BOOKED,
            starts_at__lt=min(before, now) if before is not None else now,
        )
        .select_related("therapist")
        .order_by("-starts_at", "-pk")[:limit]
    )
    entries.extend(
        Entry(meeting.starts_at, "meeting", _("Meeting"), _meeting_subject(meeting))
        for meeting in held
    )
    changes = (
        EnrolmentEvent.objects.filter(enrolment=enrolment, **older("created_at"))
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )
    entries.extend(_event_entry(event) for event in changes)
    # Along the index on (patient, time): the action is compared through an expression so
    # that no planner walks the index on (action, time) through everyone's logins instead.
    logins = (
        AuditEvent.objects.alias(code=Lower("action"))
        .filter(
            patient_id=enrolment.patient_id,
            code=LOGIN_ACTION,
            created_at__gte=enrolment.created_at,
            **older("created_at"),
        )
        .order_by("-created_at")[:limit]
    )
    entries.extend(
        Entry(at, "login", _("Logged in")) for at in logins.values_list("created_at", flat=True)
    )
    started = enrolment.started_at
    if started is not None and (before is None or started < before):
        entries.append(Entry(started, "started", _("Started the treatment")))
    return page_of(entries)


def next_meeting(enrolment: Enrolment, now: datetime.datetime) -> Meeting | None:
    """The next booked meeting not yet over (one query)."""
    return (
        Meeting.objects.filter(
            meetings_of(enrolment), status=Meeting.Status.BOOKED, ends_at__gte=now
        )
        .select_related("therapist")
        .order_by("starts_at", "pk")
        .first()
    )


def page_of(entries: list[Entry]) -> tuple[list[Entry], datetime.datetime | None]:
    """The newest page of ``entries`` (each source's newest page, merged) and the cursor for
    the next one. A page never ends in the middle of entries with the same time, so that
    "older than the last one shown" misses none of them."""
    entries = sorted(entries, key=lambda entry: entry.at, reverse=True)
    if len(entries) <= TIMELINE_PAGE:
        return entries, None
    page = entries[:TIMELINE_PAGE]
    first_left_out = entries[TIMELINE_PAGE].at
    page = [entry for entry in page if entry.at > first_left_out] or page
    return page, page[-1].at


# --- automatic support ---------------------------------------------------------------------


@dataclass(frozen=True)
class FlagItem:
    """An open flag raised by a rule: the reason in the viewer's language, the step up."""

    flag: RuleFlag
    reason: str
    step_up: str  # in words; "" for none


@dataclass(frozen=True)
class FiringItem:
    firing: Firing
    # What was done, in words (done); why not (skipped); the first line of the last error.
    reason: str


@dataclass(frozen=True)
class AutomationView:
    flags: list[FlagItem]
    more_flags: bool  # more open flags than are shown
    fired: list[FiringItem]  # newest first
    scheduled: list[FiringItem]  # soonest first


FIRED = (Firing.Status.DONE, Firing.Status.SKIPPED, Firing.Status.FAILED)


def _action_labels() -> dict[str, str]:
    return {
        "message": _("a message sent"),
        "remind": _("a reminder sent"),
        "unlock": _("a step opened"),
        "request_questionnaire": _("a questionnaire requested"),
        "flag": _("flagged"),
        "suggest_step_up": _("a step up suggested"),
    }


def _why(firing: Firing) -> str:
    result = firing.result if isinstance(firing.result, dict) else {}
    if firing.status == Firing.Status.DONE:
        labels = _action_labels()
        kinds = [a.get("kind", "") for a in result.get("actions", []) if isinstance(a, dict)]
        return ", ".join(labels.get(kind, kind) for kind in kinds)
    if firing.status == Firing.Status.SKIPPED:
        return str(result.get("reason", ""))
    error = firing.last_error.strip()
    return error.splitlines()[0] if error else ""


def automation(enrolment: Enrolment, language: str) -> AutomationView:
    """The open rule flags (oldest first), the rule firings fired lately (done, skipped or
    failed; newest first) and the next ones scheduled (soonest first). Three queries, each
    limited, the firings along the index on (enrolment, status, scheduled_for)."""
    language = language.split("-")[0]
    flags = list(
        RuleFlag.objects.filter(enrolment=enrolment, handled_at__isnull=True).order_by(
            "created_at", "pk"
        )[: FLAGS_SHOWN + 1]
    )
    fired = Firing.objects.filter(enrolment=enrolment, status__in=FIRED).order_by(
        "-fired_at", "-pk"
    )[:FIRINGS_SHOWN]
    scheduled = Firing.objects.filter(enrolment=enrolment, status=Firing.Status.PENDING).order_by(
        "scheduled_for", "pk"
    )[:FIRINGS_SHOWN]
    return AutomationView(
        flags=[
            FlagItem(
                flag=flag,
                reason=flag.reason(language),
                step_up=str(flag.get_step_up_display()) if flag.step_up else "",
            )
            for flag in flags[:FLAGS_SHOWN]
        ],
        more_flags=len(flags) > FLAGS_SHOWN,
        fired=[FiringItem(firing, _why(firing)) for firing in fired],
        scheduled=[FiringItem(firing, _why(firing)) for firing in scheduled],
    )
