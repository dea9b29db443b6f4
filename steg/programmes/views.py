"""The patient's programme: overview, steps, pages, exercises, checklists, search and PDF."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from steg.audit.actions import Actor, record_event
from steg.care.access import get_enrolment_for_patient, get_enrolment_for_staff
from steg.care.models import CARE_ROLES, Enrolment
from steg.dialog.messages import feedback_for

from . import actions, aids, search
from .forms import ChecklistForm, ExerciseForm, PdfForm, SearchForm
from .models import Page, ProgrammeMedia
from .outline import Outline, PageInfo, get_outline
from .progress import Progress, load_progress


def _load(request: HttpRequest, enrolment_id: int) -> tuple[Enrolment, Outline, Progress]:
    """The enrolment, the outline the patient is shown (without the pages and blocks whose
    condition does not hold for them), and their progress through it."""
    enrolment = get_enrolment_for_patient(request, enrolment_id)
    progress = load_progress(
        enrolment, get_outline(enrolment.programme_version, get_language() or "sv")
    )
    return enrolment, progress.outline, progress


def _refuse(
    request: HttpRequest,
    enrolment: Enrolment,
    what: str,
    key: str,
    reason: str = "",
) -> Http404:
    """Record an attempt to reach a locked, hidden or unknown part of the programme; 404."""
    record_event(
        action="programmes.access_denied",
        actor=Actor(request.user, "patient", enrolment.unit),  # type: ignore[arg-type]
        request=request,
        patient=enrolment.patient,
        object_type=f"programmes.{what}",
        object_id=key[:64],
        purpose="self-service",
        detail={
            "enrolment": enrolment.pk,
            "reason": reason or f"{what} locked or not in this version",
        },
    )
    return Http404(f"No such {what}")


def _open_page(
    request: HttpRequest, enrolment: Enrolment, outline: Outline, progress: Progress, key: str
) -> PageInfo:
    page = outline.page_by_key.get(key)
    if page is None or not progress.is_page_open(page):
        hidden = page is None and key in (progress.full_outline or outline).page_by_key
        reason = "page not shown: its condition does not hold for the patient" if hidden else ""
        raise _refuse(request, enrolment, "page", key, reason)
    return page


def _base_context(enrolment: Enrolment, outline: Outline, progress: Progress) -> dict[str, Any]:
    return {
        "enrolment": enrolment,
        "outline": outline,
        "progress": progress,
        "writable": enrolment.status == Enrolment.Status.ACTIVE,
    }


@login_required
@require_GET
def overview(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    context = _base_context(enrolment, outline, progress)
    context["continue_page"] = progress.continue_page()
    return render(request, "programmes/overview.html", context)


@login_required
@require_GET
def continue_where_left(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    page = progress.continue_page()
    if page is None:
        return redirect("programmes:overview", enrolment_id=enrolment.pk)
    return redirect("programmes:page", enrolment_id=enrolment.pk, page_key=page.key)


@login_required
@require_GET
def step(request: HttpRequest, enrolment_id: int, step_key: str) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    info = outline.step_by_key.get(step_key)
    if info is None or not progress.step(step_key).unlocked:
        raise _refuse(request, enrolment, "step", step_key)  # also a step with no page shown
    context = _base_context(enrolment, outline, progress)
    context["step"] = progress.step(step_key)
    context["answers"] = progress.answers
    return render(request, "programmes/step.html", context)


# Blocks that show every patient the same: rendered once per language and kept with the
# outline (``Outline.static_html``). Their templates use nothing but the block, the outline
# and the interface language; the other blocks show the patient's answers, ticks and forms.
STATIC_BLOCKS = frozenset({"markdown", "callout", "image", "audio", "video"})


def _page_context(
    request: HttpRequest,
    enrolment: Enrolment,
    outline: Outline,
    progress: Progress,
    page: PageInfo,
    *,
    bound_forms: dict[str, ExerciseForm] | None = None,
) -> dict[str, Any]:
    index = outline.page_index(page.key)
    previous_page = outline.pages[index - 1] if index > 0 else None
    next_page = outline.pages[index + 1] if index + 1 < len(outline.pages) else None
    blocks = []
    aid_context = aids.AidContext(
        enrolment=enrolment, outline=outline, language=outline.language, progress=progress
    )
    due_by_id: dict[str, Any] | None = None
    language = get_language() or ""
    for index, block in enumerate(page.blocks):
        template = f"programmes/blocks/{block['type']}.html"
        item: dict[str, Any] = {"block": block, "template": template}
        if block["type"] in STATIC_BLOCKS:
            item["html"] = outline.static_html(
                language,
                page,
                index,
                partial(render_to_string, template, {"item": {"block": block}, "outline": outline}),
            )
        elif block["type"] == "exercise":
            answer = progress.answers.get(block["key"])
            form = (bound_forms or {}).get(block["key"]) or ExerciseForm(
                initial={"text": answer.draft if answer else "", "token": uuid.uuid4().hex},
                max_length=block.get("max_length", 5000),
                prefix=block["key"],
            )
            item.update(form=form, answer=answer)
        elif block["type"] == "checklist":
            item["ticked"] = {k for k, _label in block["items"] if progress.ticks.get(k)}
        elif block["type"] == "questionnaire":
            if due_by_id is None:
                from steg.questionnaires.due import due_for_enrolment

                due_by_id = {
                    due.questionnaire.id: due
                    for due in due_for_enrolment(
                        enrolment, timezone.localdate(), outline.language, include_done=True
                    )
                }
            due = due_by_id.get(block["key"])
            if due is not None:
                item.update(title=due.title, days=due.days, done=due.done)
        elif block["type"] == "aid":
            aid = aids.REGISTRY.get(block["key"] or block.get("variant", ""))
            if aid is not None:
                item.update(aid=aid, aid_context=aid.context(aid_context))
        blocks.append(item)
    exercises = [item for item in blocks if item["block"]["type"] == "exercise"]
    if exercises:  # the care team's feedback on each, shown under the answer
        feedback = feedback_for(enrolment, "exercise", [i["block"]["key"] for i in exercises])
        for item in exercises:
            item["feedback"] = feedback[item["block"]["key"]]
    context = _base_context(enrolment, outline, progress)
    context.update(
        page=page,
        step=progress.step(page.step_key),
        blocks=blocks,
        previous_page=previous_page,
        next_page=next_page,
        next_page_open=bool(next_page and progress.is_page_open(next_page)),
        next_step=progress.step(next_page.step_key) if next_page else None,
        is_read=page.id in progress.read_page_ids,
    )
    return context


@login_required
@require_GET
def page(request: HttpRequest, enrolment_id: int, page_key: str) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    info = _open_page(request, enrolment, outline, progress, page_key)
    if enrolment.is_open:
        actions.record_page_view(
            enrolment=enrolment, page=Page(pk=info.id, key=info.key), request=request
        )
    return render(
        request,
        "programmes/page.html",
        _page_context(request, enrolment, outline, progress, info),
    )


CHECKLIST_INVALID = gettext_lazy("The checklist could not be saved. Try again.")
NOT_WRITABLE = gettext_lazy(
    "This treatment is not active, so nothing can be changed. You can still read and print."
)


def _writable_or_message(request: HttpRequest, enrolment: Enrolment) -> bool:
    if enrolment.status == Enrolment.Status.ACTIVE:
        return True
    messages.error(request, NOT_WRITABLE)
    return False


def _htmx_status(request: HttpRequest, text: str, status: int) -> HttpResponse:
    """The short status line an htmx save swaps in next to the form, for a refusal."""
    return render(request, "programmes/_status_error.html", {"text": text}, status=status)


@login_required
@require_POST
def mark_read(request: HttpRequest, enrolment_id: int, page_key: str) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    info = _open_page(request, enrolment, outline, progress, page_key)
    page_url = reverse("programmes:page", args=[enrolment.pk, info.key])
    if not _writable_or_message(request, enrolment):
        return redirect(page_url)
    actions.mark_page_read(
        enrolment=enrolment, page=Page(pk=info.id, key=info.key), request=request
    )
    index = outline.page_index(info.key)
    next_page = outline.pages[index + 1] if index + 1 < len(outline.pages) else None
    if next_page is not None:
        # Reload progress: marking this page read may have opened the next step.
        progress = load_progress(
            enrolment, progress.full_outline or outline, attributes=progress.attributes
        )
        if progress.is_page_open(next_page):
            return redirect("programmes:page", enrolment_id=enrolment.pk, page_key=next_page.key)
    messages.success(request, _("The page is marked as read."))
    return redirect("programmes:step", enrolment_id=enrolment.pk, step_key=info.step_key)


def _exercise_block(page: PageInfo, key: str) -> dict[str, Any] | None:
    return next((b for b in page.blocks if b["type"] == "exercise" and b["key"] == key), None)


@login_required
@require_POST
def exercise(request: HttpRequest, enrolment_id: int, page_key: str, key: str) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    info = _open_page(request, enrolment, outline, progress, page_key)
    block = _exercise_block(info, key)
    if block is None:
        raise _refuse(request, enrolment, "exercise", key)
    page_url = reverse("programmes:page", args=[enrolment.pk, info.key])
    form = ExerciseForm(request.POST, max_length=block.get("max_length", 5000), prefix=key)
    is_htmx = bool(getattr(request, "htmx", False))
    if is_htmx and enrolment.status != Enrolment.Status.ACTIVE:
        return _htmx_status(request, str(NOT_WRITABLE), 409)
    if not _writable_or_message(request, enrolment):
        return redirect(page_url)
    if not form.is_valid():
        if is_htmx:
            return render(
                request,
                "programmes/blocks/exercise.html#status",
                {"item": {"block": block, "form": form}, "error": True},
                status=422,
            )
        messages.error(request, _("Your answer was not saved. See the message by the answer."))
        context = _page_context(
            request, enrolment, outline, progress, info, bound_forms={key: form}
        )
        return render(request, "programmes/page.html", context, status=422)
    submit = form.submitting
    answer = actions.save_exercise(
        enrolment=enrolment,
        page=Page(pk=info.id, key=info.key),
        key=key,
        text=form.cleaned_data["text"],
        submit=submit,
        token=form.cleaned_data["token"],
        request=request,
    )
    if is_htmx:
        return render(
            request,
            "programmes/blocks/exercise.html#status",
            {"item": {"block": block, "answer": answer}, "saved_at": timezone.now()},
        )
    if submit:
        messages.success(request, _("Your answer has been sent. Your therapist can now read it."))
    else:
        messages.success(request, _("Your draft has been saved."))
    return redirect(f"{page_url}#exercise-{key}")


@login_required
@require_POST
def checklist(request: HttpRequest, enrolment_id: int, page_key: str, key: str) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    info = _open_page(request, enrolment, outline, progress, page_key)
    block = next((b for b in info.blocks if b["type"] == "checklist" and b["key"] == key), None)
    if block is None:
        raise _refuse(request, enrolment, "checklist", key)
    page_url = reverse("programmes:page", args=[enrolment.pk, info.key])
    form = ChecklistForm(request.POST, choices=[tuple(item) for item in block["items"]])
    is_htmx = bool(getattr(request, "htmx", False))
    if is_htmx and enrolment.status != Enrolment.Status.ACTIVE:
        return _htmx_status(request, str(NOT_WRITABLE), 409)
    if not _writable_or_message(request, enrolment):
        return redirect(page_url)
    if not form.is_valid():
        if is_htmx:
            return _htmx_status(request, str(CHECKLIST_INVALID), 422)
        messages.error(request, CHECKLIST_INVALID)
        return redirect(f"{page_url}#checklist-{key}")
    chosen = set(form.cleaned_data["items"])
    for item_key, _label in block["items"]:
        actions.set_checklist_item(
            enrolment=enrolment,
            item_key=item_key,
            checked=item_key in chosen,
            request=request,
        )
    if is_htmx:
        return render(
            request,
            "programmes/blocks/checklist.html#status",
            {"saved_at": timezone.now()},
        )
    messages.success(request, _("Your checklist has been saved."))
    return redirect(f"{page_url}#checklist-{key}")


@login_required
@require_GET
def search_view(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment, outline, progress = _load(request, enrolment_id)
    form = SearchForm(request.GET)
    hits: list[tuple[PageInfo, search.Hit]] = []
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        pages_by_id = {p.id: p for p in outline.pages}  # the pages the patient is shown
        for hit in search.search(enrolment.programme_version, outline.language, query):
            info = pages_by_id.get(hit.page_id)
            if info is None or not progress.is_page_open(info):
                continue
            if info.trimmed:  # blocks hidden from the patient: match what they are shown
                refined = search.within(hit, info.title, info.text, query)
                if refined is None:
                    continue
                hit = refined
            hits.append((info, hit))
    context = _base_context(enrolment, outline, progress)
    context.update(search_form=form, query=query, hits=hits, searched=bool(query))
    return render(request, "programmes/search.html", context)


@login_required
@require_GET
def pdf(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    from .pdf import render_programme_pdf

    enrolment, outline, progress = _load(request, enrolment_id)
    open_steps = [s for s in progress.steps if s.unlocked]
    form = PdfForm(
        request.GET or None,
        step_choices=[(s.step.key, s.step.title) for s in open_steps],
        page_choices=[(p.key, p.title) for s in open_steps for p in s.step.pages],
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["everything"]:
            chosen = [p for s in open_steps for p in s.step.pages]
        else:
            keys = set(data["pages"])
            steps = set(data["steps"])
            chosen = [
                p for s in open_steps for p in s.step.pages if p.key in keys or s.step.key in steps
            ]
        answers = bool(data["answers"])
        pdf_bytes = render_programme_pdf(
            enrolment=enrolment, outline=outline, progress=progress, pages=chosen, answers=answers
        )
        record_event(
            action="programmes.pdf.downloaded",
            actor=Actor(request.user, "patient", enrolment.unit),  # type: ignore[arg-type]
            request=request,
            patient=enrolment.patient,
            object_type="care.enrolment",
            object_id=enrolment.pk,
            purpose="self-service",
            detail={"pages": [p.key for p in chosen], "answers": answers},
        )
        response = HttpResponse(pdf_bytes, content_type="application/pdf")
        filename = f"{enrolment.programme_version.programme.slug}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    context = _base_context(enrolment, outline, progress)
    context["form"] = form
    return render(
        request, "programmes/pdf_form.html", context, status=422 if form.is_bound else 200
    )


@login_required
@require_GET
@cache_control(private=True, max_age=31536000, immutable=True)
def media(request: HttpRequest, sha256: str) -> HttpResponse:
    item = ProgrammeMedia.objects.filter(sha256=sha256).first()
    if item is None:
        raise Http404("No such file")
    response = HttpResponse(bytes(item.data), content_type=item.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def open_step(request: HttpRequest, enrolment_id: int, step_key: str) -> HttpResponse:
    """A therapist opens a step for the patient, whatever its unlock rule."""
    enrolment = get_enrolment_for_staff(request, enrolment_id, purpose="care")
    outline = get_outline(enrolment.programme_version, get_language() or "sv")
    if step_key not in outline.step_by_key:
        raise Http404("No such step")
    user = request.user
    membership = next(
        m
        for m in user.staff_memberships  # type: ignore[union-attr]
        if m.unit_id == enrolment.unit_id and m.role in CARE_ROLES
    )
    actions.open_step(
        enrolment=enrolment,
        step_key=step_key,
        actor=Actor(user, membership.role, enrolment.unit),  # type: ignore[arg-type]
        request=request,
    )
    messages.success(
        request,
        _("The step “%(step)s” is now open for the patient.")
        % {"step": outline.step_by_key[step_key].title},
    )
    return redirect("care:patient_record", patient_id=enrolment.patient_id)
