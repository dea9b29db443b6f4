"""What the therapist's overview of a treatment shows (``views_overview``), read with a fixed
number of queries whatever the patient's history; each function says what it costs.

The page first reads, then builds. Reads that serve more than one section are made once:

* ``submitted_responses``: the latest questionnaire responses (for "Answers") and the latest of
  each scored questionnaire (for "Scores"), in one query;
* ``messages``: one page of the conversation (for the timeline) and the feedback on the answers
  shown, in one query;
* ``meetings``: the meetings booked and held (for the timeline) and the next one (for the
  header), in one query;
* ``people``: the patient's account and the treatment's therapist, in one query.

The first three read several limited, index-ordered lists of one table as ``pk IN (...)``
subqueries of one statement, restricted to the treatment (or patient), and split the rows again
in Python by the same conditions and order; the rows are never more than the lists' limits.

Then:

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from django.db.models import Q, QuerySet, Subquery
from django.utils import formats, timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from steg.accounts.models import User
from steg.audit.models import AuditEvent
from steg.automation.models import Firing, RuleFlag
from steg.care.models import Enrolment, EnrolmentEvent, Meeting, Patient
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


def local_iso(moment: datetime.datetime) -> str:
    """The time in the current time zone, ISO 8601: what ``|date:'c'`` gives, made cheaply
    (for ``<time datetime>``; the date filter costs a lot when used in a loop)."""
    return timezone.localtime(moment).isoformat()


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. ``kind`` names the source (for the template and tests)."""

    at: datetime.datetime
    kind: str
    label: str
    subject: str = ""
    excerpt: str = ""

    @property
    def at_iso(self) -> str:
        return local_iso(self.at)


@dataclass(frozen=True)
class ExerciseItem:
    answer: ExerciseAnswer
    title: str
    prompt: str
    feedback: list[Message]
    feedback_url: str

    @property
    def submitted_iso(self) -> str:
        submitted_at = self.answer.submitted_at
        return local_iso(submitted_at) if submitted_at else ""


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

    @property
    def heading_id(self) -> str:
        return f"response-{self.questionnaire_id}-{self.day.isoformat()}-heading"

    @property
    def submitted_iso(self) -> str:
        return local_iso(self.submitted_at) if self.submitted_at else ""


@dataclass(frozen=True)
class Answers:
    exercises: list[ExerciseItem]
    more_exercises: bool  # older ones are not shown
    responses: list[ResponseItem]
    more_responses: bool


@dataclass(frozen=True)
class ChartItem:
    """A chart with its table, the days in words (worked out once for all the charts)."""

    chart: measurements.ChartView
    rows: list[tuple[str, str]]  # (day, value)


@dataclass(frozen=True)
class QuestionnaireSection:
    """One questionnaire in "Scores and diary": its latest score and its charts."""

    questionnaire_id: str
    title: str
    latest_day: datetime.date | None
    latest: ScoreView | None
    charts: list[ChartItem]


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


ExercisePages = Mapping[str, tuple[PageInfo, str]]

K = TypeVar("K")
V = TypeVar("V")


class _PerObject(Generic[K, V]):
    """What ``compute`` makes of an object that never changes (a cached outline, a version's
    questionnaires), worked out once per object. By identity: those objects hold dicts and
    have no hash. The object is kept alongside, so that its id is not reused while cached."""

    def __init__(self, compute: Callable[[K], V], size: int = 64) -> None:
        self.compute = compute
        self.size = size
        self.cache: dict[int, tuple[K, V]] = {}

    def __call__(self, obj: K) -> V:
        cached = self.cache.get(id(obj))
        if cached is not None and cached[0] is obj:
            return cached[1]
        value = self.compute(obj)
        if len(self.cache) >= self.size:
            self.cache.clear()
        self.cache[id(obj)] = (obj, value)
        return value


def _exercise_pages(outline: Outline) -> ExercisePages:
    found: dict[str, tuple[PageInfo, str]] = {}
    for page in outline.pages:
        for block in page.blocks:
            if block["type"] == "exercise":
                found[block["key"]] = (page, plain_text(block.get("html", "")))
    return found


# Each exercise's page and prompt (its text, plain), by key, once per (cached) outline.
exercise_pages = _PerObject(_exercise_pages)


def _chart_questionnaires(questionnaires: Mapping[str, Questionnaire]) -> dict[str, list[str]]:
    """Whose chart a chart key is: "<questionnaire>-total" or "<questionnaire>-<item>"."""
    whose: dict[str, list[str]] = defaultdict(list)
    for qid, questionnaire in questionnaires.items():
        keys = {f"{qid}-total"} | {f"{qid}-{item.link_id}" for item in questionnaire.all_items()}
        for key in keys:
            whose[key].append(qid)
    return dict(whose)


chart_questionnaires = _PerObject(_chart_questionnaires)


def _older(field: str, before: datetime.datetime | None) -> dict[str, datetime.datetime]:
    return {f"{field}__lt": before} if before is not None else {}


def _any_of(lists: Iterable[QuerySet[Any]]) -> Q:
    """Rows in any of these (limited, ordered) lists: ``pk IN (...) OR pk IN (...)``."""
    wanted = Q()
    for rows in lists:
        wanted |= Q(pk__in=rows.values("pk"))
    return wanted


# --- the reads shared by several sections -------------------------------------------------


ResponseRow = tuple[str, datetime.date, datetime.datetime | None, object, object]

LATEST_RESPONSE_FIRST = ("-day", "-submitted_at", "-pk")


@dataclass(frozen=True)
class SubmittedResponses:
    latest: list[ResponseRow]  # (questionnaire, day, submitted at, score, answers); one extra
    latest_scored: dict[str, tuple[datetime.date, object]]  # (day, score) by questionnaire


def submitted_responses(
    enrolment: Enrolment, questionnaires: Mapping[str, Questionnaire]
) -> SubmittedResponses:
    """The latest submitted responses (one more than shown), and the latest of each scored
    questionnaire. One query, each list along the index on (enrolment, status, day)."""
    submitted = Response.objects.filter(
        enrolment=enrolment, status=Response.Status.SUBMITTED
    ).order_by(*LATEST_RESPONSE_FIRST)
    scored = [qid for qid, q in questionnaires.items() if q.scoring is not None]
    wanted = Q(pk__in=submitted.values("pk")[: ANSWERS_SHOWN + 1])
    for qid in scored:
        wanted |= Q(pk=Subquery(submitted.filter(questionnaire_id=qid).values("pk")[:1]))
    # In the lists' own order: the first rows are the latest, and the first of each
    # questionnaire its latest.
    rows: list[ResponseRow] = list(
        submitted.filter(wanted).values_list(
            "questionnaire_id", "day", "submitted_at", "score", "answers"
        )
    )
    latest_scored: dict[str, tuple[datetime.date, object]] = {}
    for qid, day, _submitted_at, score, _answers in rows:
        if qid in scored and qid not in latest_scored:
            latest_scored[qid] = (day, score)
    return SubmittedResponses(rows[: ANSWERS_SHOWN + 1], latest_scored)


@dataclass(frozen=True)
class Messages:
    latest: list[Message]  # the timeline's page, newest first (one extra)
    feedback: dict[tuple[str, str], list[Message]]  # by (link kind, link key), oldest first


def messages(
    enrolment: Enrolment,
    *,
    exercise_keys: Sequence[str],
    response_keys: Sequence[str],
    before: datetime.datetime | None,
) -> Messages:
    """One page of the conversation older than ``before`` (for the timeline) and the staff's
    messages linked to these answers (feedback). One query, along the indexes on (enrolment,
    time) and (enrolment, link kind, link key); senders come along."""
    limit = TIMELINE_PAGE + 1
    latest = Message.objects.filter(enrolment=enrolment, **_older("created_at", before)).order_by(
        "-created_at", "-pk"
    )
    links = {(Message.LinkKind.EXERCISE.value, key) for key in exercise_keys} | {
        (Message.LinkKind.QUESTIONNAIRE.value, key) for key in response_keys
    }
    linked = Q(link_kind=Message.LinkKind.EXERCISE, link_key__in=list(exercise_keys)) | Q(
        link_kind=Message.LinkKind.QUESTIONNAIRE, link_key__in=list(response_keys)
    )
    rows = list(
        Message.objects.filter(
            _any_of([latest[:limit]]) | (Q(sender_role=Message.SenderRole.STAFF) & linked),
            enrolment=enrolment,
        )
        .select_related("sender")
        .order_by("-created_at", "-pk")
    )
    feedback: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for message in reversed(rows):
        link = (message.link_kind, message.link_key)
        if message.sender_role == Message.SenderRole.STAFF and link in links:
            feedback[link].append(message)
    page = [m for m in rows if before is None or m.created_at < before][:limit]
    return Messages(page, feedback)


@dataclass(frozen=True)
class Meetings:
    booked: list[Meeting]  # newest booking first (one extra)
    held: list[Meeting]  # latest start first (one extra)
    next: Meeting | None  # the next booked meeting not yet over


def meetings_of(enrolment: Enrolment) -> Q:
    """The treatment's meetings, and the patient's meetings at its unit that belong to no
    treatment (the assessment talk). The patient comes first, for the index on (patient,
    status, starts_at): a patient has a handful of meetings, the system very many."""
    return Q(patient_id=enrolment.patient_id) & (
        Q(enrolment=enrolment) | Q(enrolment__isnull=True, unit_id=enrolment.unit_id)
    )


def meetings(
    enrolment: Enrolment, *, before: datetime.datetime | None, now: datetime.datetime
) -> Meetings:
    """The meetings booked before ``before`` and those held before it (for the timeline), and
    the next booked meeting not yet over. One query, along the index on (patient, status,
    starts_at); therapists come along."""
    limit = TIMELINE_PAGE + 1
    held_before = min(before, now) if before is not None else now
    theirs = Meeting.objects.filter(meetings_of(enrolment))
    booked = theirs.filter(**_older("created_at", before)).order_by("-created_at", "-pk")
    held = theirs.filter(status=Meeting.Status.BOOKED, starts_at__lt=held_before).order_by(
        "-starts_at", "-pk"
    )
    coming = theirs.filter(status=Meeting.Status.BOOKED, ends_at__gte=now).order_by(
        "starts_at", "pk"
    )
    rows = list(
        theirs.filter(_any_of([booked[:limit], held[:limit], coming[:1]]))
        .select_related("therapist")
        .order_by("-created_at", "-pk")
    )
    is_booked = [m for m in rows if m.status == Meeting.Status.BOOKED]
    return Meetings(
        booked=[m for m in rows if before is None or m.created_at < before][:limit],
        held=sorted(
            (m for m in is_booked if m.starts_at < held_before),
            key=lambda m: (m.starts_at, m.pk),
            reverse=True,
        )[:limit],
        next=min(
            (m for m in is_booked if m.ends_at >= now),
            key=lambda m: (m.starts_at, m.pk),
            default=None,
        ),
    )


def people(enrolment: Enrolment, patient: Patient) -> User | None:
    """Fetch the patient's account and the treatment's therapist (for the header) in one query
    (none when there is neither); returns the account."""
    wanted = {pk for pk in (patient.user_id, enrolment.therapist_id) if pk is not None}
    users = {user.pk: user for user in User.objects.filter(pk__in=wanted)} if wanted else {}
    if enrolment.therapist_id in users:
        enrolment.therapist = users[enrolment.therapist_id]
    if patient.user_id is None:
        return None
    if patient.user_id in users:
        patient.user = users[patient.user_id]
    return patient.user


# --- scores and diary ----------------------------------------------------------------------


def score_sections(
    enrolment: Enrolment,
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    *,
    responses: SubmittedResponses,
) -> list[QuestionnaireSection]:
    """Each questionnaire with answers: its latest score (if scored) and its charts, the same
    as the patient's measurements page shows. One query (the charts)."""
    charts = measurements.charts_for(enrolment, language)
    by_questionnaire: dict[str, list[ChartItem]] = defaultdict(list)
    if charts:
        whose = chart_questionnaires(questionnaires)
        days: dict[datetime.date, str] = {}  # the charts of a diary share their days

        def day_text(day: datetime.date) -> str:
            text = days.get(day)
            if text is None:
                text = days[day] = str(formats.date_format(day, "j F Y"))
            return text

        for chart in charts:
            qids = whose.get(chart.key, ())
            if qids:
                item = ChartItem(chart, [(day_text(day), value) for day, value in chart.rows])
                for qid in qids:
                    by_questionnaire[qid].append(item)
    sections = []
    for qid, questionnaire in questionnaires.items():
        mine = by_questionnaire.get(qid, [])
        day, score = responses.latest_scored.get(qid, (None, None))
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


@dataclass(frozen=True)
class ShownAnswers:
    """The answers the page shows (before their feedback is read)."""

    exercises: list[ExerciseAnswer]  # newest first
    more_exercises: bool
    responses: list[ResponseRow]  # newest first
    more_responses: bool

    @property
    def exercise_keys(self) -> list[str]:
        return [answer.key for answer in self.exercises]

    @property
    def response_keys(self) -> list[str]:
        return [response_key(qid, day) for qid, day, *_rest in self.responses]


def response_key(questionnaire_id: str, day: datetime.date) -> str:
    """How feedback links to a response (``Message.link_key``)."""
    return f"{questionnaire_id}/{day.isoformat()}"


def shown_answers(progress: Progress | None, responses: SubmittedResponses) -> ShownAnswers:
    """The latest submitted exercises (they come with ``progress``) and questionnaire
    responses. No query."""
    submitted = sorted(
        (
            a
            for a in (progress.answers.values() if progress else ())
            if a.status == ExerciseAnswer.Status.SUBMITTED and a.submitted_at is not None
        ),
        key=lambda a: (a.submitted_at, a.pk),
        reverse=True,
    )
    return ShownAnswers(
        exercises=submitted[:ANSWERS_SHOWN],
        more_exercises=len(submitted) > ANSWERS_SHOWN,
        responses=responses.latest[:ANSWERS_SHOWN],
        more_responses=len(responses.latest) > ANSWERS_SHOWN,
    )


def answers(
    shown: ShownAnswers,
    feedback: Mapping[tuple[str, str], list[Message]],
    pages: ExercisePages,
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    *,
    feedback_url: Callable[[str, str], str],
) -> Answers:
    """The answers shown, each with its feedback and the address to give more
    (``feedback_url(link kind, link key)``; "" for none). No query."""
    exercise_kind = Message.LinkKind.EXERCISE.value
    questionnaire_kind = Message.LinkKind.QUESTIONNAIRE.value
    exercise_items = []
    for answer in shown.exercises:
        page, prompt = pages.get(answer.key, (None, ""))
        exercise_items.append(
            ExerciseItem(
                answer=answer,
                title=page.title if page else answer.key,
                prompt=prompt,
                feedback=feedback.get((exercise_kind, answer.key), []),
                feedback_url=feedback_url(exercise_kind, answer.key),
            )
        )
    response_items = []
    for qid, day, submitted_at, score, data in shown.responses:
        questionnaire = questionnaires.get(qid)
        key = response_key(qid, day)
        response_items.append(
            ResponseItem(
                questionnaire_id=qid,
                title=text_in(questionnaire.title, language) if questionnaire else qid,
                day=day,
                submitted_at=submitted_at,
                score=_score_view(questionnaire, score, language) if questionnaire else None,
                summary=_answer_summary(questionnaire, data, language) if questionnaire else [],
                feedback=feedback.get((questionnaire_kind, key), []),
                feedback_url=feedback_url(questionnaire_kind, key),
            )
        )
    return Answers(exercise_items, shown.more_exercises, response_items, shown.more_responses)


# --- timeline ------------------------------------------------------------------------------


def _name(user: Any) -> str:
    if user is None:
        return "–"
    return str(user.get_full_name() or user.email)


def _when(moment: datetime.datetime) -> str:
    return str(formats.date_format(timezone.localtime(moment), "j F Y H:i"))


class _Labels:
    """The timeline's labels, each translated once per page, when first shown."""

    @cached_property
    def page_read(self) -> str:
        return _("Read a page")

    @cached_property
    def exercise_sent(self) -> str:
        return _("Sent an exercise")

    @cached_property
    def questionnaire_sent(self) -> str:
        return _("Sent a questionnaire")

    @cached_property
    def questionnaire_day(self) -> str:
        return _("%(title)s for %(day)s")

    @cached_property
    def step_opened(self) -> str:
        return _("Step opened by the therapist")

    @cached_property
    def from_patient(self) -> str:
        return _("Message from the patient")

    @cached_property
    def automatic(self) -> str:
        return _("Automatic message")

    @cached_property
    def feedback_from(self) -> str:
        return _("Feedback from %(name)s")

    @cached_property
    def message_from(self) -> str:
        return _("Message from %(name)s")

    @cached_property
    def meeting_subject(self) -> str:
        return _("%(mode)s with %(therapist)s, %(when)s")

    @cached_property
    def meeting_booked(self) -> str:
        return _("Meeting booked")

    @cached_property
    def meeting_booked_cancelled(self) -> str:
        return _("Meeting booked (since cancelled)")

    @cached_property
    def meeting(self) -> str:
        return _("Meeting")

    @cached_property
    def changes(self) -> dict[str, str]:
        return {
            EnrolmentEvent.Kind.STATUS: _("Status changed"),
            EnrolmentEvent.Kind.THERAPIST: _("Therapist changed"),
            EnrolmentEvent.Kind.GUIDANCE: _("Form of treatment changed"),
        }

    @cached_property
    def logged_in(self) -> str:
        return _("Logged in")

    @cached_property
    def started(self) -> str:
        return _("Started the treatment")


def _progress_entry(
    event: ProgressEvent,
    outline: Outline,
    pages: ExercisePages,
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    labels: _Labels,
) -> Entry:
    subject = event.subject
    kind = event.kind
    if kind == ProgressEvent.Kind.PAGE_READ:
        page = outline.page_by_key.get(subject)
        return Entry(event.created_at, kind, labels.page_read, page.title if page else subject)
    if kind == ProgressEvent.Kind.EXERCISE_SUBMITTED:
        page = pages[subject][0] if subject in pages else None
        return Entry(event.created_at, kind, labels.exercise_sent, page.title if page else subject)
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
            labels.questionnaire_sent,
            labels.questionnaire_day % {"title": title, "day": day_text} if day_text else title,
        )
    step = outline.step_by_key.get(subject)
    return Entry(event.created_at, kind, labels.step_opened, step.title if step else subject)


def _message_entry(message: Message, labels: _Labels) -> Entry:
    if message.sender_role == Message.SenderRole.PATIENT:
        label = labels.from_patient
    elif message.sender_role == Message.SenderRole.SYSTEM:
        label = labels.automatic
    elif message.link_kind:
        label = labels.feedback_from % {"name": _name(message.sender)}
    else:
        label = labels.message_from % {"name": _name(message.sender)}
    excerpt = Truncator(" ".join(message.body.split())).chars(EXCERPT_CHARS)
    return Entry(message.created_at, "message", label, excerpt=excerpt)


def _meeting_subject(meeting: Meeting, labels: _Labels) -> str:
    return labels.meeting_subject % {
        "mode": meeting.get_mode_display(),
        "therapist": _name(meeting.therapist),
        "when": _when(meeting.starts_at),
    }


def _booked_entry(meeting: Meeting, labels: _Labels) -> Entry:
    cancelled = meeting.status == Meeting.Status.CANCELLED
    return Entry(
        meeting.created_at,
        "meeting",
        labels.meeting_booked_cancelled if cancelled else labels.meeting_booked,
        _meeting_subject(meeting, labels),
    )


def _held_entry(meeting: Meeting, labels: _Labels) -> Entry:
    return Entry(meeting.starts_at, "meeting", labels.meeting, _meeting_subject(meeting, labels))


def _event_entry(event: EnrolmentEvent, labels: _Labels) -> Entry:
    return Entry(
        event.created_at,
        "treatment",
        labels.changes.get(event.kind, event.kind),
        f"{event.old_label or '–'} → {event.new_label or '–'} ({_name(event.actor)})",
    )


class _Later(NamedTuple):
    """A timeline entry not built yet: its time, and how to build it (only if shown)."""

    at: datetime.datetime
    build: Callable[[Any, _Labels], Entry]
    item: Any


def timeline(
    enrolment: Enrolment,
    outline: Outline,
    pages: ExercisePages,
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    *,
    messages: Messages,
    meetings: Meetings,
    before: datetime.datetime | None,
) -> tuple[list[Entry], datetime.datetime | None]:
    """One page of the timeline, newest first, older than ``before``; and the time to ask the
    next page with (None: no more). Three queries (progress events, changes to the treatment,
    logins), each at most one page long; the messages and meetings are read already. Only the
    entries on the page are built (labels, names, excerpts)."""
    limit = TIMELINE_PAGE + 1

    def progress_entry(event: ProgressEvent, labels: _Labels) -> Entry:
        return _progress_entry(event, outline, pages, questionnaires, language, labels)

    events = ProgressEvent.objects.filter(
        enrolment=enrolment, kind__in=TIMELINE_KINDS, **_older("created_at", before)
    ).order_by("-created_at", "-pk")[:limit]
    changes = (
        EnrolmentEvent.objects.filter(enrolment=enrolment, **_older("created_at", before))
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )
    # Along the audit log's index on (patient, action, time): only this patient's logins.
    logins = AuditEvent.objects.filter(
        patient_id=enrolment.patient_id,
        action=LOGIN_ACTION,
        created_at__gte=enrolment.created_at,
        **_older("created_at", before),
    ).order_by("-created_at")[:limit]
    later = [_Later(event.created_at, progress_entry, event) for event in events]
    later += [_Later(message.created_at, _message_entry, message) for message in messages.latest]
    later += [_Later(meeting.created_at, _booked_entry, meeting) for meeting in meetings.booked]
    later += [_Later(meeting.starts_at, _held_entry, meeting) for meeting in meetings.held]
    later += [_Later(event.created_at, _event_entry, event) for event in changes]
    later += [_Later(at, _login_entry, at) for at in logins.values_list("created_at", flat=True)]
    started = enrolment.started_at
    if started is not None and (before is None or started < before):
        later.append(_Later(started, _started_entry, started))
    page, cursor = page_of(later)
    labels = _Labels()
    return [entry.build(entry.item, labels) for entry in page], cursor


def _login_entry(at: datetime.datetime, labels: _Labels) -> Entry:
    return Entry(at, "login", labels.logged_in)


def _started_entry(at: datetime.datetime, labels: _Labels) -> Entry:
    return Entry(at, "started", labels.started)


class _Timed(Protocol):
    @property
    def at(self) -> datetime.datetime: ...


T = TypeVar("T", bound=_Timed)


def page_of(entries: list[T]) -> tuple[list[T], datetime.datetime | None]:
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


def _why(firing: Firing, labels: Callable[[], Mapping[str, str]]) -> str:
    result = firing.result if isinstance(firing.result, dict) else {}
    if firing.status == Firing.Status.DONE:
        kinds = [a.get("kind", "") for a in result.get("actions", []) if isinstance(a, dict)]
        if not kinds:
            return ""
        known = labels()
        return ", ".join(known.get(kind, kind) for kind in kinds)
    if firing.status == Firing.Status.SKIPPED:
        return str(result.get("reason", ""))
    error = firing.last_error.strip()
    return error.splitlines()[0] if error else ""


def automation(enrolment: Enrolment, language: str) -> AutomationView:
    """The open rule flags (oldest first), the rule firings fired lately (done, skipped or
    failed; newest first) and the next ones scheduled (soonest first). Three queries, each
    limited, the firings along the index on (enrolment, status, scheduled_for). (One query
    for both lists of firings, as for the meetings, costs more to build than it saves.)"""
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
    translated: dict[str, str] = {}

    def labels() -> Mapping[str, str]:
        if not translated:
            translated.update(_action_labels())
        return translated

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
        fired=[FiringItem(firing, _why(firing, labels)) for firing in fired],
        scheduled=[FiringItem(firing, _why(firing, labels)) for firing in scheduled],
    )
