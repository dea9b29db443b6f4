"""Operations on programmes and on a patient's work in one.

Every write is one transaction, safe to repeat, and records its audit event in the same
transaction (patient work) or a progress event for the therapist's overview.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from steg.audit.actions import Actor, record_event
from steg.automation import engine as automation
from steg.automation.spec import to_json as automations_to_json
from steg.dashboard.attention import (
    activity_seen_on_commit,
    attention_stale,
)

from . import aids
from .format import Block, ProgrammeFormatError, ProgrammeSpec, load_programme
from .models import (
    ChecklistTick,
    ExerciseAnswer,
    Page,
    PageContent,
    PageProgress,
    Programme,
    ProgrammeMedia,
    ProgrammeVersion,
    ProgressEvent,
    Step,
    StepOpening,
)

if TYPE_CHECKING:
    from steg.accounts.models import User
    from steg.care.models import Enrolment


@dataclass(frozen=True)
class ImportResult:
    version: ProgrammeVersion
    created: bool


def import_programme(path: Path, *, imported_by: User | None = None) -> ImportResult:
    """Validate a programme folder and import it as a new version, unless unchanged.

    Raises ProgrammeFormatError (listing every problem) before anything is written.
    """
    from steg.questionnaires.library import library_ids

    spec = load_programme(path, known_aids=set(aids.REGISTRY), known_questionnaires=library_ids())
    return import_spec(with_library_questionnaires(spec), imported_by=imported_by)


def with_library_questionnaires(spec: ProgrammeSpec) -> ProgrammeSpec:
    """Copy the library questionnaires the pages embed into the version (which is immutable).

    Their text takes part in the content hash: a changed library instrument makes the next
    import a new version, while enrolments keep the one they are pinned to.
    """
    from steg.lib.yamldoc import Problems
    from steg.questionnaires.library import library_text
    from steg.questionnaires.parse import parse_questionnaire

    used = sorted(
        {
            block.key
            for step in spec.steps
            for page in step.pages
            for content in page.contents.values()
            for block in content.blocks
            if block.type == "questionnaire"
        }
        - set(spec.questionnaire_files)
    )
    if not used:
        return spec
    files = dict(spec.questionnaire_files)
    problems = Problems()
    digest = hashlib.sha256(spec.content_hash.encode())
    for qid in used:
        text = library_text(qid)
        parse_questionnaire(
            f"questionnaires/{qid}.yaml (library)",
            text,
            spec.languages,
            problems,
            expected_id=qid,
        )
        files[qid] = text.encode("utf-8")
        digest.update(f"\0{qid}\0{text}".encode())
    if problems.items:
        raise ProgrammeFormatError(problems.items)
    return dataclasses.replace(
        spec, questionnaire_files=dict(sorted(files.items())), content_hash=digest.hexdigest()
    )


@transaction.atomic
def import_spec(spec: ProgrammeSpec, *, imported_by: User | None = None) -> ImportResult:
    existing = ProgrammeVersion.objects.filter(content_hash=spec.content_hash).first()
    if existing is not None:
        return ImportResult(existing, created=False)
    programme, _ = Programme.objects.get_or_create(slug=spec.slug)
    # Lock the programme row so that two imports cannot take the same version number.
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    number = (programme.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ProgrammeVersion.objects.create(
        programme=programme,
        number=number,
        content_hash=spec.content_hash,
        languages=list(spec.languages),
        titles=spec.titles,
        descriptions=spec.descriptions,
        audiences=spec.audiences,
        guidance=spec.guidance,
        questionnaire_files={
            key: data.decode("utf-8") for key, data in spec.questionnaire_files.items()
        },
        attributes={attribute.name: attribute.to_json() for attribute in spec.attributes},
        automations=automations_to_json(spec.automations),
        imported_by=imported_by,
    )
    position = 0
    contents: list[PageContent] = []
    for step_position, step_spec in enumerate(spec.steps):
        step = Step.objects.create(
            version=version,
            key=step_spec.key,
            position=step_position,
            titles=step_spec.titles,
            summaries=step_spec.summaries,
            unlock_kind=step_spec.unlock.kind,
            unlock_days=step_spec.unlock.days,
        )
        for page_spec in step_spec.pages:
            page = Page.objects.create(
                version=version,
                step=step,
                key=page_spec.key,
                position=position,
                when=page_spec.when,
            )
            position += 1
            for language, content in page_spec.contents.items():
                contents.append(
                    PageContent(
                        page=page,
                        language=language,
                        title=content.title,
                        minutes=content.minutes,
                        blocks=[block_to_json(block) for block in content.blocks],
                        text=content.text,
                    )
                )
    PageContent.objects.bulk_create(contents)
    for media in spec.media:
        ProgrammeMedia.objects.get_or_create(
            sha256=media.sha256, defaults={"content_type": media.content_type, "data": media.data}
        )
    from .search import index_version

    index_version(version)
    return ImportResult(version, created=True)


def block_to_json(block: Block) -> dict[str, object]:
    """A block as JSON, without its empty fields (so ``when`` only on conditional blocks)."""
    return {
        key: value
        for key, value in dataclasses.asdict(block).items()
        if value not in ("", 0, (), None) or key == "type"
    }


# --- a patient's work ------------------------------------------------------------------------


def _patient_actor(enrolment: Enrolment) -> Actor:
    return Actor(enrolment.patient.user, "patient", enrolment.unit)


@transaction.atomic
def record_page_view(*, enrolment: Enrolment, page: Page, request: HttpRequest) -> None:
    now = timezone.now()
    updated = PageProgress.objects.filter(enrolment=enrolment, page=page).update(last_viewed_at=now)
    if not updated:
        try:
            with transaction.atomic():
                PageProgress.objects.create(
                    enrolment=enrolment, page=page, first_viewed_at=now, last_viewed_at=now
                )
        except IntegrityError:  # a parallel request created it first
            pass
    # Reading programme content is not a read of patient data; the progress event is enough.
    ProgressEvent.objects.create(
        enrolment=enrolment, kind=ProgressEvent.Kind.PAGE_VIEWED, subject=page.key, created_at=now
    )
    activity_seen_on_commit(enrolment.pk)


def _step_completed_by(enrolment: Enrolment, page: Page) -> str | None:
    """The step this page's reading completed (every page of it the patient is shown is read),
    if a rule of the programme waits for that; None otherwise (and then no query)."""
    if not automation.has_rules(enrolment, "step_completed"):
        return None
    from .outline import get_outline
    from .progress import load_attribute_values

    outline = get_outline(enrolment.programme_version, "sv")
    if outline.conditional:
        outline = outline.visible_to(load_attribute_values(enrolment, outline.attributes))
    info = outline.page_by_key.get(page.key)
    step = outline.step_by_key.get(info.step_key) if info is not None else None
    if step is None:
        return None
    keys = [p.key for p in step.pages]
    read = PageProgress.objects.filter(
        enrolment=enrolment, read_at__isnull=False, page__key__in=keys
    ).count()
    return step.key if read >= len(keys) else None


@transaction.atomic
def mark_page_read(*, enrolment: Enrolment, page: Page, request: HttpRequest) -> bool:
    """Mark a page as read; returns False when it already was (nothing changes)."""
    now = timezone.now()
    progress, _ = PageProgress.objects.select_for_update().get_or_create(
        enrolment=enrolment, page=page, defaults={"first_viewed_at": now, "last_viewed_at": now}
    )
    if progress.read_at is not None:
        return False
    progress.read_at = now
    progress.save(update_fields=["read_at"])
    ProgressEvent.objects.create(
        enrolment=enrolment, kind=ProgressEvent.Kind.PAGE_READ, subject=page.key, created_at=now
    )
    activity_seen_on_commit(enrolment.pk)
    automation.page_read(enrolment, page.key, _step_completed_by(enrolment, page))
    record_event(
        action="programmes.page.read",
        actor=_patient_actor(enrolment),
        request=request,
        patient=enrolment.patient,
        object_type="programmes.page",
        object_id=page.pk,
        purpose="self-service",
        detail={"enrolment": enrolment.pk, "page": page.key},
    )
    return True


@transaction.atomic
def save_exercise(
    *,
    enrolment: Enrolment,
    page: Page,
    key: str,
    text: str,
    submit: bool,
    token: str,
    request: HttpRequest,
) -> ExerciseAnswer:
    """Save a draft, or submit. A repeated submit with the same form token stores nothing."""
    now = timezone.now()
    answer, _ = ExerciseAnswer.objects.select_for_update().get_or_create(
        enrolment=enrolment, key=key, defaults={"page": page, "updated_at": now}
    )
    if submit and token and answer.last_submission_token == token:
        return answer
    answer.draft = text
    answer.updated_at = now
    fields = ["draft", "updated_at"]
    kind = ProgressEvent.Kind.EXERCISE_SAVED
    if submit:
        answer.submitted_text = text
        answer.status = ExerciseAnswer.Status.SUBMITTED
        answer.submitted_at = now
        answer.last_submission_token = token
        fields += ["submitted_text", "status", "submitted_at", "last_submission_token"]
        kind = ProgressEvent.Kind.EXERCISE_SUBMITTED
    answer.save(update_fields=fields)
    ProgressEvent.objects.create(enrolment=enrolment, kind=kind, subject=key, created_at=now)
    if submit:
        attention_stale(enrolment.pk, activity_at=now)
    else:
        activity_seen_on_commit(enrolment.pk)
    record_event(
        action="programmes.exercise.submitted" if submit else "programmes.exercise.saved",
        actor=_patient_actor(enrolment),
        request=request,
        patient=enrolment.patient,
        object_type="programmes.exerciseanswer",
        object_id=answer.pk,
        purpose="self-service",
        detail={"enrolment": enrolment.pk, "exercise": key, "length": len(text)},
    )
    return answer


@transaction.atomic
def set_checklist_item(
    *, enrolment: Enrolment, item_key: str, checked: bool, request: HttpRequest
) -> ChecklistTick:
    now = timezone.now()
    tick, created = ChecklistTick.objects.select_for_update().get_or_create(
        enrolment=enrolment, item_key=item_key, defaults={"checked": checked, "updated_at": now}
    )
    if not created and tick.checked == checked:
        return tick
    if not created:
        tick.checked = checked
        tick.updated_at = now
        tick.save(update_fields=["checked", "updated_at"])
    ProgressEvent.objects.create(
        enrolment=enrolment,
        kind=ProgressEvent.Kind.CHECKLIST_TICKED,
        subject=item_key,
        created_at=now,
    )
    activity_seen_on_commit(enrolment.pk)
    record_event(
        action="programmes.checklist.changed",
        actor=_patient_actor(enrolment),
        request=request,
        patient=enrolment.patient,
        object_type="programmes.checklisttick",
        object_id=tick.pk,
        purpose="self-service",
        detail={"enrolment": enrolment.pk, "item": item_key, "checked": checked},
    )
    return tick


@transaction.atomic
def open_step(
    *, enrolment: Enrolment, step_key: str, actor: Actor, request: HttpRequest
) -> StepOpening:
    """A therapist opens a step for this enrolment, whatever its unlock rule."""
    assert actor.user is not None  # noqa: S101
    now = timezone.now()
    opening, created = StepOpening.objects.get_or_create(
        enrolment=enrolment,
        step_key=step_key,
        defaults={"opened_by": actor.user, "opened_at": now},
    )
    if created:
        ProgressEvent.objects.create(
            enrolment=enrolment,
            kind=ProgressEvent.Kind.STEP_OPENED,
            subject=step_key,
            created_at=now,
        )
        record_event(
            action="programmes.step.opened",
            actor=actor,
            request=request,
            patient=enrolment.patient,
            object_type="care.enrolment",
            object_id=enrolment.pk,
            purpose="care",
            detail={"step": step_key},
        )
    return opening
