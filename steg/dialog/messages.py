"""Messages between a patient and the care team (one conversation per enrolment), feedback on
what the patient submitted, drafts, message templates and internal notes.

The actions (`send_message`, `send_automatic_message`, `mark_thread_read`, `add_internal_note`,
`save_template`, ...) are each one transaction with their audit event; they refuse bad input
with a `MessageError` (a message for the user) and then store nothing. Sending is safe to
repeat: the form's one-time token (`client_token`) makes a retried or double-clicked send
return the message stored the first time. Notifications say only that there is something new
(never what), and are queued in the same transaction. See docs/messages.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from steg.accounts.models import Membership, Unit, User
from steg.audit.actions import Actor, record_event
from steg.care.access import staff_actor
from steg.care.models import Enrolment
from steg.dashboard.attention import attention_changed, attention_stale
from steg.programmes.models import ExerciseAnswer, Programme
from steg.programmes.outline import get_outline
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response
from steg.questionnaires.render import text_in

from .models import InternalNote, Message, MessageDraft, MessageTemplate
from .notifications import notify
from .placeholders import PLACEHOLDERS, validate_placeholders

# Who can write: while the treatment runs, paused included (the patient may need to ask when it
# goes on). A closed treatment's conversation stays readable; an invited one is not open yet.
WRITABLE_STATUSES = (Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED)
# Messages per page of a conversation (newest first; shown oldest at the top).
THREAD_PAGE_SIZE = 30
# How many submitted exercises and questionnaires the "feedback on" list offers.
FEEDBACK_CHOICES_SHOWN = 20
NOTES_PAGE_SIZE = 25
# A draft may grow past the message limit while being written (nothing typed is lost), up to
# this.
DRAFT_MAX_LENGTH = 4 * Message.MAX_LENGTH
TEMPLATE_MAX_LENGTH = Message.MAX_LENGTH

EXERCISE = Message.LinkKind.EXERCISE
QUESTIONNAIRE = Message.LinkKind.QUESTIONNAIRE

FEEDBACK_REFUSED = _(
    "Feedback can only be given on an exercise or a questionnaire that this patient has sent. "
    "Choose one from the list."
)


class MessageError(Exception):
    """A refused operation, with a message for the user (translated when shown)."""

    def __init__(self, message: str | Promise, *, code: str, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Sent:
    message: Message
    created: bool  # False: the same form (token) had been sent already; nothing new stored


@dataclass(frozen=True)
class NoteAdded:
    note: InternalNote
    created: bool


# Checks shared by the actions ---------------------------------------------------------------------


def can_write(enrolment: Enrolment) -> bool:
    """Whether new messages can be written in the enrolment's conversation."""
    return enrolment.status in WRITABLE_STATUSES


def _check_writable(enrolment: Enrolment) -> None:
    if enrolment.status == Enrolment.Status.INVITED:
        raise MessageError(
            _("The patient has not started the treatment yet, so no messages can be written."),
            code="not_started",
        )
    if not can_write(enrolment):
        raise MessageError(
            _(
                "This treatment has ended, so no new messages can be written. "
                "The conversation can still be read."
            ),
            code="closed",
        )


def normalise(text: str) -> str:
    """Line breaks as `\\n`, no blank start or end."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def clean_body(body: str, *, note: bool = False) -> str:
    """The text of a message (or an internal note) to store, or MessageError when it is empty or
    too long."""
    body = normalise(body)
    limit = InternalNote.MAX_LENGTH if note else Message.MAX_LENGTH
    if not body:
        raise MessageError(
            _("Write the note before you save it.")
            if note
            else _("Write your message before you send it."),
            code="empty",
            field="body",
        )
    if len(body) > limit:
        message = (
            _(
                "The note is %(length)s characters long. The limit is %(limit)s characters: "
                "shorten it a little."
            )
            if note
            else _(
                "Your message is %(length)s characters long. The limit is %(limit)s "
                "characters: shorten it a little. Nothing has been sent."
            )
        )
        raise MessageError(
            message % {"length": len(body), "limit": limit}, code="too_long", field="body"
        )
    return body


def _patient_actor(enrolment: Enrolment, user: User) -> Actor:
    if enrolment.patient.user_id != user.pk:
        raise MessageError(_("You cannot write in this conversation."), code="not_yours")
    return Actor(user, "patient", enrolment.unit)


def _staff_actor(enrolment: Enrolment, user: User) -> Actor:
    actor = staff_actor(user, enrolment.unit_id)
    if actor is None:
        raise MessageError(_("You do not work at this unit."), code="not_at_unit")
    return actor


def _attention_changed(
    enrolment_id: int, *, by_patient: bool = False, activity_at: datetime.datetime | None = None
) -> None:
    """Staff's changes recompute the dashboard row after the commit; the patient's mark it
    stale in the same transaction (steg.dashboard.attention.attention_stale)."""
    if by_patient:
        attention_stale(enrolment_id, activity_at=activity_at)
    else:
        transaction.on_commit(lambda: attention_changed(enrolment_id))


# What feedback can be on --------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackTarget:
    """Something the patient submitted that a message can be feedback on."""

    enrolment_id: int
    kind: str  # Message.LinkKind.EXERCISE or QUESTIONNAIRE
    key: str  # the exercise key, or "<questionnaire id>/<YYYY-MM-DD>"
    title: str
    submitted_at: datetime.datetime | None
    page_key: str = ""  # exercises: the page the exercise is on

    @property
    def value(self) -> str:
        """How a form names it: "exercise:<key>" or "questionnaire:<id>/<day>"."""
        return f"{self.kind}:{self.key}"

    @property
    def patient_url(self) -> str:
        return link_url(self.enrolment_id, self.kind, self.key, self.page_key, for_staff=False)

    @property
    def staff_url(self) -> str:
        return link_url(self.enrolment_id, self.kind, self.key, self.page_key, for_staff=True)


def parse_link(value: str) -> tuple[str, str] | None:
    """("exercise", key) or ("questionnaire", "<id>/<day>") from a form's "kind:key"; None for
    anything else."""
    kind, sep, key = value.partition(":")
    if not sep or not key or kind not in (EXERCISE, QUESTIONNAIRE):
        return None
    return kind, key


def _split_response_key(key: str) -> tuple[str, datetime.date] | None:
    questionnaire_id, sep, day = key.partition("/")
    if not sep or not questionnaire_id:
        return None
    try:
        return questionnaire_id, datetime.date.fromisoformat(day)
    except ValueError:
        return None


def response_key(response: Response) -> str:
    return f"{response.questionnaire_id}/{response.day.isoformat()}"


def link_url(enrolment_id: int, kind: str, key: str, page_key: str = "", *, for_staff: bool) -> str:
    """Where a feedback link leads: for staff, the feedback page; for the patient, the exercise
    on its page, or the questionnaire's result."""
    if for_staff:
        return reverse("dialog:feedback", args=[enrolment_id, kind, key])
    if kind == EXERCISE:
        if not page_key:
            return ""
        return reverse("programmes:page", args=[enrolment_id, page_key]) + f"#exercise-{key}"
    parts = _split_response_key(key)
    if parts is None:
        return ""
    return reverse("questionnaires:result", args=[enrolment_id, parts[0], parts[1].isoformat()])


class LinkTitles:
    """Titles of exercises and questionnaires in one enrolment's programme version, in one
    language. No queries once the version's outline and questionnaires are cached."""

    def __init__(self, enrolment: Enrolment, language: str) -> None:
        self.enrolment = enrolment
        self.language = language
        self._exercise_pages: dict[str, tuple[str, str]] | None = None

    def exercise_page(self, key: str) -> tuple[str, str]:
        """(page key, page title) of the page the exercise is on; ("", key) if unknown."""
        if self._exercise_pages is None:
            outline = get_outline(self.enrolment.programme_version, self.language)
            self._exercise_pages = {
                exercise: (page.key, page.title)
                for page in outline.pages
                for exercise in page.exercise_keys
            }
        return self._exercise_pages.get(key, ("", key))

    def title(self, kind: str, key: str) -> str:
        if kind == EXERCISE:
            return self.exercise_page(key)[1]
        parts = _split_response_key(key)
        if parts is None:
            return key
        questionnaire = get_questionnaire(self.enrolment.programme_version, parts[0])
        name = text_in(questionnaire.title, self.language) if questionnaire else parts[0]
        return f"{name}, {date_format(parts[1], 'j F Y')}"

    def target(self, kind: str, key: str, submitted_at: datetime.datetime | None) -> FeedbackTarget:
        page_key = self.exercise_page(key)[0] if kind == EXERCISE else ""
        return FeedbackTarget(
            enrolment_id=self.enrolment.pk,
            kind=kind,
            key=key,
            title=self.title(kind, key),
            submitted_at=submitted_at,
            page_key=page_key,
        )


def _submitted(enrolment: Enrolment, kind: str, key: str) -> tuple[bool, datetime.datetime | None]:
    """Whether the enrolment has submitted the exercise or questionnaire response named by kind
    and key, and when. One query (none for a key that cannot be one)."""
    if kind == EXERCISE:
        answer = (
            ExerciseAnswer.objects.filter(
                enrolment=enrolment, key=key, status=ExerciseAnswer.Status.SUBMITTED
            )
            .only("submitted_at")
            .first()
        )
        return answer is not None, answer.submitted_at if answer else None
    if kind == QUESTIONNAIRE:
        parts = _split_response_key(key)
        if parts is None:
            return False, None
        response = (
            Response.objects.filter(
                enrolment=enrolment,
                questionnaire_id=parts[0],
                day=parts[1],
                status=Response.Status.SUBMITTED,
            )
            .only("submitted_at")
            .first()
        )
        return response is not None, response.submitted_at if response else None
    return False, None


def feedback_target(
    enrolment: Enrolment, kind: str, key: str, *, language: str
) -> FeedbackTarget | None:
    """The enrolment's submitted exercise or questionnaire response named by kind and key, or
    None (not this enrolment's, not submitted, or no such thing). One query."""
    found, submitted_at = _submitted(enrolment, kind, key)
    if not found:
        return None
    return LinkTitles(enrolment, language).target(kind, key, submitted_at)


def feedback_targets(
    enrolment: Enrolment, *, language: str, limit: int = FEEDBACK_CHOICES_SHOWN
) -> list[FeedbackTarget]:
    """What the patient has submitted, latest first, at most `limit` (two queries)."""
    titles = LinkTitles(enrolment, language)
    answers = ExerciseAnswer.objects.filter(
        enrolment=enrolment, status=ExerciseAnswer.Status.SUBMITTED
    ).order_by("-submitted_at", "-pk")[:limit]
    responses = Response.objects.filter(
        enrolment=enrolment, status=Response.Status.SUBMITTED
    ).order_by("-submitted_at", "-pk")[:limit]
    targets = [titles.target(EXERCISE, a.key, a.submitted_at) for a in answers]
    targets += [titles.target(QUESTIONNAIRE, response_key(r), r.submitted_at) for r in responses]
    oldest = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    targets.sort(key=lambda t: t.submitted_at or oldest, reverse=True)
    return targets[:limit]


def feedback_for(enrolment: Enrolment, kind: str, keys: Iterable[str]) -> dict[str, list[Message]]:
    """The messages that are feedback on each of `keys` (exercises or questionnaire responses of
    one kind), oldest first. One query; none when there are no keys."""
    keys = list(keys)
    found: dict[str, list[Message]] = {key: [] for key in keys}
    if not keys:
        return found
    for message in Message.objects.filter(
        enrolment=enrolment, link_kind=kind, link_key__in=keys
    ).select_related("sender"):
        found[message.link_key].append(message)
    return found


def feedback_given(enrolment: Enrolment) -> set[tuple[str, str]]:
    """(kind, key) of everything in the enrolment that has feedback. One query."""
    return set(
        Message.objects.filter(enrolment=enrolment)
        .exclude(link_kind="")
        .values_list("link_kind", "link_key")
        .distinct()
    )


# The conversation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadItem:
    """A message as one side of the conversation sees it."""

    message: Message
    mine: bool  # written by the viewer's side (the patient; or the care team)
    new: bool  # from the other side and not read before this view
    link_title: str = ""
    link_url: str = ""


def thread_page(enrolment: Enrolment, page_number: str | int | None) -> Page[Message]:
    """One page of the conversation, newest first (page 1 is the latest). Two queries."""
    messages = (
        Message.objects.filter(enrolment=enrolment)
        .select_related("sender", "read_by")
        .order_by("-created_at", "-pk")
    )
    return Paginator(messages, THREAD_PAGE_SIZE).get_page(page_number)


def thread_items(
    enrolment: Enrolment, page: Page[Message], *, language: str, for_staff: bool
) -> list[ThreadItem]:
    """The page's messages oldest first, as the patient (for_staff=False) or staff see them."""
    titles = LinkTitles(enrolment, language)
    items = []
    for message in reversed(list(page.object_list)):
        from_patient = message.sender_role == Message.SenderRole.PATIENT
        mine = not from_patient if for_staff else from_patient
        link_title = link_target_url = ""
        if message.link_kind:
            target = titles.target(message.link_kind, message.link_key, None)
            link_title = target.title
            link_target_url = target.staff_url if for_staff else target.patient_url
        items.append(
            ThreadItem(
                message=message,
                mine=mine,
                new=not mine and message.read_at is None,
                link_title=link_title,
                link_url=link_target_url,
            )
        )
    return items


def _mark_read(
    enrolment: Enrolment, *, reader: User, as_staff: bool, up_to: int | None = None
) -> int:
    messages = Message.objects.filter(enrolment=enrolment)
    messages = messages.unread_by_staff() if as_staff else messages.unread_by_patient()
    if up_to is not None:
        messages = messages.filter(pk__lte=up_to)
    return messages.update(read_at=timezone.now(), read_by=reader)


def marks_read_as_staff(enrolment: Enrolment, user: User) -> bool:
    """Whether this member of staff opening the conversation marks the patient's messages read:
    the enrolment's therapist does (anyone, when it has none). A colleague who only looks (a
    unit admin's check, a stand-in) leaves them unread for the therapist; answering marks them
    read whoever answers."""
    return enrolment.therapist_id is None or enrolment.therapist_id == user.pk


@transaction.atomic
def mark_thread_read(
    *,
    enrolment: Enrolment,
    reader: User,
    as_staff: bool,
    request: HttpRequest | None,
    shown: Sequence[int] | None = None,
) -> int:
    """Record that `reader` opened the conversation, and mark the other side's messages read
    (with `read_by`, the read receipt): those up to the newest of `shown` (the ids of the
    messages on the page), or all when `shown` is None. Returns how many were marked.

    As staff, only the enrolment's therapist marks messages read (see `marks_read_as_staff`);
    the read is recorded whoever reads. One audit event per call (one per page view).
    """
    if as_staff:
        actor = _staff_actor(enrolment, reader)
        marks = marks_read_as_staff(enrolment, reader)
    else:
        actor = _patient_actor(enrolment, reader)
        marks = True
    shown_ids = list(shown) if shown is not None else None
    marked = 0
    if marks and shown_ids != []:
        up_to = max(shown_ids) if shown_ids else None
        marked = _mark_read(enrolment, reader=reader, as_staff=as_staff, up_to=up_to)
    record_event(
        action="dialog.thread.viewed",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care" if as_staff else "self-service",
        detail={"messages": shown_ids or [], "marked_read": marked},
    )
    if marked:
        _attention_changed(enrolment.pk, by_patient=not as_staff)
    return marked


def _existing(enrolment: Enrolment, sender: User | None, client_token: str) -> Message | None:
    if not client_token:
        return None
    messages = Message.objects.filter(enrolment=enrolment, client_token=client_token)
    if sender is None:
        return messages.filter(sender_role=Message.SenderRole.SYSTEM).first()
    return messages.filter(sender=sender).first()


def _patient_link(enrolment: Enrolment) -> str:
    # The patient's messages (straight on to the conversation when they have one treatment):
    # the conversation's own address names the treatment, which a notification must not.
    return settings.SITE_URL + reverse("dialog:patient_inbox")


def _staff_link(enrolment: Enrolment) -> str:
    return settings.SITE_URL + reverse("dialog:staff_messages", args=[enrolment.pk])


def _notify_patient(enrolment: Enrolment, message: Message) -> None:
    """Tell the patient there is something new, once per batch: not while an earlier message to
    them is still unread (they have been told already)."""
    patient = enrolment.patient
    if not (patient.email or patient.phone):
        return
    if (
        Message.objects.filter(enrolment=enrolment)
        .unread_by_patient()
        .exclude(pk=message.pk)
        .exists()
    ):
        return
    notify(
        kind="new_feedback" if message.link_kind else "new_message",
        email=patient.email,
        phone=patient.phone,
        user=patient.user,
        patient=patient,
        context={"link": _patient_link(enrolment)},
    )


def _notify_therapist(enrolment: Enrolment, message: Message) -> None:
    """Tell the enrolment's therapist that the patient wrote, once per batch (not while an
    earlier message from the patient is still unread)."""
    therapist = enrolment.therapist
    if therapist is None or not therapist.is_active or not therapist.email:
        return
    if (
        Message.objects.filter(enrolment=enrolment)
        .unread_by_staff()
        .exclude(pk=message.pk)
        .exists()
    ):
        return
    notify(
        kind="patient_wrote",
        email=therapist.email,
        user=therapist,
        context={"link": _staff_link(enrolment)},
    )


def _store(message: Message) -> Message | None:
    """Insert the message; None when its token is taken (a send that raced this one)."""
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        if not message.client_token:
            raise
        return None
    return message


@transaction.atomic
def send_message(
    *,
    enrolment: Enrolment,
    sender: User,
    role: str,
    body: str,
    client_token: str,
    link_kind: str = "",
    link_key: str = "",
    request: HttpRequest | None,
) -> Sent:
    """Send a message from the patient (role "patient") or a member of staff at the enrolment's
    unit (role "staff"); staff may link it to something the patient submitted (feedback).

    A second call with the same `client_token` from the same sender returns the message stored
    the first time (created=False) and does nothing else. Staff answering marks the patient's
    earlier messages read. The other side is notified (once per unread batch).
    """
    if role == Message.SenderRole.PATIENT:
        actor = _patient_actor(enrolment, sender)
        if link_kind or link_key:
            raise MessageError(
                _("Only the care team can give feedback."), code="link", field="link"
            )
    elif role == Message.SenderRole.STAFF:
        actor = _staff_actor(enrolment, sender)
    else:
        raise ValueError(f"Unknown sender role {role!r}")
    existing = _existing(enrolment, sender, client_token)
    if existing is not None:
        return Sent(existing, created=False)
    _check_writable(enrolment)
    body = clean_body(body)
    if (link_kind or link_key) and not _submitted(enrolment, link_kind, link_key)[0]:
        raise MessageError(FEEDBACK_REFUSED, code="link", field="link")
    stored = _store(
        Message(
            enrolment=enrolment,
            sender=sender,
            sender_role=role,
            body=body,
            created_at=timezone.now(),
            client_token=client_token,
            link_kind=link_kind,
            link_key=link_key,
        )
    )
    if stored is None:
        raced = _existing(enrolment, sender, client_token)
        assert raced is not None  # noqa: S101 - the unique token was taken by it
        return Sent(raced, created=False)
    if role == Message.SenderRole.STAFF:
        _mark_read(enrolment, reader=sender, as_staff=True, up_to=stored.pk)
        _notify_patient(enrolment, stored)
    else:
        _notify_therapist(enrolment, stored)
    MessageDraft.objects.filter(
        enrolment=enrolment, author=sender, link_kind=link_kind, link_key=link_key
    ).delete()
    detail: dict[str, object] = {"enrolment": enrolment.pk, "length": len(body)}
    if link_kind:
        detail["feedback_on"] = f"{link_kind}:{link_key}"
    record_event(
        action="dialog.message.sent",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="dialog.message",
        object_id=stored.pk,
        purpose="care" if role == Message.SenderRole.STAFF else "self-service",
        detail=detail,
    )
    patient = role == Message.SenderRole.PATIENT
    _attention_changed(
        enrolment.pk, by_patient=patient, activity_at=stored.created_at if patient else None
    )
    return Sent(stored, created=True)


@transaction.atomic
def send_automatic_message(
    *,
    enrolment: Enrolment,
    body: str,
    rule: str,
    client_token: str,
    link_kind: str = "",
    link_key: str = "",
) -> Sent:
    """An automatic message from a rule (shown to the patient as automatic), with the patient
    notified. The same `client_token` for the enrolment stores one message, however often the
    rule's task runs: use one token per rule and occasion (e.g. "quit-day:2026-03-05").

    Refused (MessageError) when the treatment is not running or the text is empty or too long.
    The body is final text: fill in placeholders first (`placeholders.render_template`).
    """
    # Serialise automatic sends for the enrolment: the token check below then holds (the
    # database's unique constraint does not cover messages without a sender).
    locked = Enrolment.objects.select_for_update().filter(pk=enrolment.pk)
    list(locked.values_list("pk", flat=True))
    existing = _existing(enrolment, None, client_token)
    if existing is not None:
        return Sent(existing, created=False)
    _check_writable(enrolment)
    body = clean_body(body)
    if (link_kind or link_key) and not _submitted(enrolment, link_kind, link_key)[0]:
        raise MessageError(FEEDBACK_REFUSED, code="link", field="link")
    message = Message.objects.create(
        enrolment=enrolment,
        sender=None,
        sender_role=Message.SenderRole.SYSTEM,
        body=body,
        created_at=timezone.now(),
        client_token=client_token,
        link_kind=link_kind,
        link_key=link_key,
        rule=rule[:100],
    )
    _notify_patient(enrolment, message)
    record_event(
        action="dialog.message.sent",
        actor=Actor(None, "system", enrolment.unit),
        patient=enrolment.patient,
        object_type="dialog.message",
        object_id=message.pk,
        purpose="automation",
        detail={"enrolment": enrolment.pk, "length": len(body), "rule": rule[:100]},
    )
    # No dashboard flag depends on automatic messages (unread counts the patient's, slips and
    # feedback look at staff's), so the dashboard row is not recomputed: it was half the cost
    # of a firing (benchmarks/automation.py).
    return Sent(message, created=True)


# Drafts -------------------------------------------------------------------------------------------


def get_draft(
    *, enrolment: Enrolment, author: User, link_kind: str = "", link_key: str = ""
) -> str:
    draft = MessageDraft.objects.filter(
        enrolment=enrolment, author=author, link_kind=link_kind, link_key=link_key
    ).first()
    return draft.body if draft else ""


@transaction.atomic
def save_draft(
    *,
    enrolment: Enrolment,
    author: User,
    body: str,
    link_kind: str = "",
    link_key: str = "",
    client_token: str = "",
) -> MessageDraft | None:
    """Keep what `author` is writing (one draft per conversation and feedback target); an
    empty text removes the draft. Callers reach the enrolment through an access helper.

    `client_token` is the sending form's token: once that form has been sent, a late autosave
    from it keeps nothing (the message is sent; its draft must not come back).
    Not audited: a draft is the writer's own unsent text, removed when the message is sent."""
    _check_writable(enrolment)
    if _existing(enrolment, author, client_token) is not None:
        return None
    body = body.replace("\r\n", "\n")
    if len(body) > DRAFT_MAX_LENGTH:
        raise MessageError(_("The draft is too long to keep."), code="too_long", field="body")
    drafts = MessageDraft.objects.filter(
        enrolment=enrolment, author=author, link_kind=link_kind, link_key=link_key
    )
    if not body.strip():
        drafts.delete()
        return None
    draft, _created = MessageDraft.objects.update_or_create(
        enrolment=enrolment,
        author=author,
        link_kind=link_kind,
        link_key=link_key,
        defaults={"body": body, "updated_at": timezone.now()},
    )
    return draft


# Unread counts ------------------------------------------------------------------------------------


def unread_count_for_patient(user: User) -> int:
    """Messages to this patient (in all their treatments) that they have not read. One query."""
    return (
        Message.objects.unread_by_patient()
        .filter(enrolment__patient__user=user)
        .exclude(enrolment__status=Enrolment.Status.INVITED)
        .count()
    )


def unread_counts_for_staff(enrolment_ids: Iterable[int]) -> dict[int, int]:
    """For each enrolment, how many of the patient's messages no member of staff has marked
    read (0 for none). One query."""
    ids = list(enrolment_ids)
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    rows = (
        Message.objects.filter(enrolment_id__in=ids)
        .unread_by_staff()
        .values("enrolment_id")
        .annotate(unread=Count("pk"))
        .values_list("enrolment_id", "unread")
    )
    counts.update(dict(rows))
    return counts


@dataclass(frozen=True)
class Inbox:
    treatments: int  # the patient's treatments with a conversation (not invited ones)
    unread: int


def patient_inbox(user: User) -> Inbox:
    """How many treatments (with a conversation) the user has as a patient, and how many
    messages in them are unread. One query; zeros for someone who is not a patient.

    Every patient page's header asks this, so it is one hand-written statement (the same as
    the ORM's aggregate over the enrolments and their messages, which cost more to build than
    to run: a third of an empty page's time, issue #9); the names come from the models."""
    from steg.care.models import Patient

    name = connection.ops.quote_name
    enrolments, messages, patients = (
        name(Enrolment._meta.db_table),
        name(Message._meta.db_table),
        name(Patient._meta.db_table),
    )
    sql = (
        f"SELECT COUNT(DISTINCT e.{name('id')}), COUNT(m.{name('id')}) "  # noqa: S608
        f"FROM {enrolments} e INNER JOIN {patients} p ON p.{name('id')} = e.{name('patient_id')} "
        f"LEFT OUTER JOIN {messages} m ON m.{name('enrolment_id')} = e.{name('id')} "
        f"AND m.{name('read_at')} IS NULL AND m.{name('sender_role')} <> %s "
        f"WHERE p.{name('user_id')} = %s AND e.{name('status')} <> %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [Message.SenderRole.PATIENT.value, user.pk, Enrolment.Status.INVITED.value]
        )
        treatments, unread = cursor.fetchone()
    return Inbox(treatments=treatments or 0, unread=unread or 0)


# Internal notes -----------------------------------------------------------------------------------


@transaction.atomic
def add_internal_note(
    *,
    enrolment: Enrolment,
    author: User,
    body: str,
    client_token: str,
    request: HttpRequest | None,
) -> NoteAdded:
    """A note on the enrolment for the care team, never shown to the patient. Notes are kept as
    written (no editing or removal). The same token stores one note."""
    actor = _staff_actor(enrolment, author)
    if client_token:
        existing = InternalNote.objects.filter(
            enrolment=enrolment, author=author, client_token=client_token
        ).first()
        if existing is not None:
            return NoteAdded(existing, created=False)
    body = clean_body(body, note=True)
    note = InternalNote(
        enrolment=enrolment,
        author=author,
        body=body,
        created_at=timezone.now(),
        client_token=client_token,
    )
    try:
        with transaction.atomic():
            note.save(force_insert=True)
    except IntegrityError:
        raced = InternalNote.objects.filter(
            enrolment=enrolment, author=author, client_token=client_token
        ).first()
        if raced is None or not client_token:
            raise
        return NoteAdded(raced, created=False)
    record_event(
        action="dialog.note.added",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="dialog.internalnote",
        object_id=note.pk,
        purpose="care",
        detail={"enrolment": enrolment.pk, "length": len(body)},
    )
    _attention_changed(enrolment.pk)
    return NoteAdded(note, created=True)


def list_notes(
    *, enrolment: Enrolment, reader: User, request: HttpRequest | None, page_number: str | None
) -> Page[InternalNote]:
    """One page of the enrolment's internal notes, newest first, recorded as one read."""
    actor = _staff_actor(enrolment, reader)
    notes = InternalNote.objects.filter(enrolment=enrolment).select_related("author")
    page = Paginator(notes.order_by("-created_at", "-pk"), NOTES_PAGE_SIZE).get_page(page_number)
    record_event(
        action="dialog.notes.viewed",
        actor=actor,
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={"notes": [n.pk for n in page.object_list], "page": page.number},
    )
    return page


# Message templates --------------------------------------------------------------------------------


def templates_for(enrolment: Enrolment) -> QuerySet[MessageTemplate]:
    """The unit's templates in use for this enrolment: for its programme, or for any."""
    return MessageTemplate.objects.filter(
        Q(programme__isnull=True) | Q(programme_id=enrolment.programme_version.programme_id),
        unit_id=enrolment.unit_id,
        is_active=True,
    ).order_by("title", "pk")


def can_manage_templates(user: User, unit: Unit) -> bool:
    """Unit admins write and change their unit's templates; therapists use them."""
    return any(
        m.unit_id == unit.pk and m.role == Membership.Role.UNIT_ADMIN
        for m in user.staff_memberships
    )


def check_template_body(body: str) -> str:
    """The template text to store, or MessageError: empty, too long, or with placeholders that
    do not exist."""
    body = normalise(body)
    if not body:
        raise MessageError(_("Write the text of the template."), code="empty", field="body")
    if len(body) > TEMPLATE_MAX_LENGTH:
        raise MessageError(
            _(
                "The text is %(length)s characters long. The limit is %(limit)s characters: "
                "shorten it a little."
            )
            % {"length": len(body), "limit": TEMPLATE_MAX_LENGTH},
            code="too_long",
            field="body",
        )
    unknown = validate_placeholders(body)
    if unknown:
        raise MessageError(
            _(
                "There is no placeholder %(unknown)s. You can use %(known)s. To write a brace "
                "itself, write it twice: {{ or }}."
            )
            % {
                "unknown": ", ".join(unknown),
                "known": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
            },
            code="placeholder",
            field="body",
        )
    return body


@transaction.atomic
def save_template(
    *,
    unit: Unit,
    user: User,
    title: str,
    body: str,
    programme: Programme | None,
    is_active: bool = True,
    template: MessageTemplate | None = None,
    request: HttpRequest | None,
) -> MessageTemplate:
    """Create a unit's message template (`template` None) or change one of the unit's."""
    membership = next(
        (
            m
            for m in user.staff_memberships
            if m.unit_id == unit.pk and m.role == Membership.Role.UNIT_ADMIN
        ),
        None,
    )
    if membership is None:
        raise MessageError(
            _("Only the unit's administrators can change its templates."), code="role"
        )
    if template is not None and template.unit_id != unit.pk:
        raise ValueError("The template belongs to another unit")
    title = " ".join(title.split())
    if not title:
        raise MessageError(_("Give the template a title."), code="empty", field="title")
    body = check_template_body(body)
    now = timezone.now()
    created = template is None
    if template is None:
        template = MessageTemplate.objects.create(
            unit=unit,
            programme=programme,
            title=title,
            body=body,
            is_active=is_active,
            created_by=user,
            created_at=now,
            updated_at=now,
        )
    else:
        template.title = title
        template.body = body
        template.programme = programme
        template.is_active = is_active
        template.updated_at = now
        template.save(update_fields=["title", "body", "programme", "is_active", "updated_at"])
    record_event(
        action="dialog.template.created" if created else "dialog.template.changed",
        actor=Actor(user, membership.role, unit),
        request=request,
        object_type="dialog.messagetemplate",
        object_id=template.pk,
        purpose="administration",
        detail={"title": title, "active": is_active},
    )
    return template
