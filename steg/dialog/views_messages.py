"""The conversation between a patient and the care team, feedback, internal notes and the unit's
message templates. Thin views: forms check the input, `steg.dialog.messages` changes data.

Every page works without JavaScript; with htmx, drafts save as one writes and choosing a
template fills the message box.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from steg.accounts.models import User
from steg.audit.actions import record_event
from steg.care import access
from steg.care.models import Enrolment
from steg.programmes.models import ExerciseAnswer
from steg.programmes.outline import get_outline
from steg.questionnaires import logic, measurements
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.models import Response
from steg.questionnaires.render import text_in

from . import messages as dialog
from .forms_messages import (
    DraftForm,
    MessageForm,
    NoteForm,
    StaffMessageForm,
    TemplateForm,
    TemplatePickForm,
    programme_choices,
)
from .models import Message, MessageTemplate
from .placeholders import PLACEHOLDERS, render_template

logger = logging.getLogger(__name__)

# How many of the patient's latest submissions the staff conversation page lists.
SUBMISSIONS_SHOWN = 10


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - guarded by login_required
    return user


def _language() -> str:
    return get_language() or "sv"


def _token() -> str:
    return uuid.uuid4().hex


def _apply_error(form: Any, error: dialog.MessageError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.message))


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# The patient's side -------------------------------------------------------------------------------


@login_required
@require_GET
def patient_inbox(request: HttpRequest) -> HttpResponse:
    """The patient's conversations, one per treatment, with their unread messages; straight to
    the conversation when there is only one."""
    patient = access.get_own_patient(request)
    enrolments = (
        list(
            Enrolment.objects.filter(patient=patient)
            .exclude(status=Enrolment.Status.INVITED)
            .select_related("unit", "programme_version", "therapist")
            .annotate(
                unread=Count(
                    "messages",
                    filter=Q(messages__read_at__isnull=True)
                    & ~Q(messages__sender_role=Message.SenderRole.PATIENT),
                )
            )
            .order_by("-created_at", "-pk")
        )
        if patient
        else []
    )
    if len(enrolments) == 1:
        return redirect("dialog:patient_messages", enrolment_id=enrolments[0].pk)
    return render(request, "dialog/messages/patient_inbox.html", {"enrolments": enrolments})


def _patient_thread(
    request: HttpRequest,
    enrolment: Enrolment,
    *,
    form: MessageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    page = dialog.thread_page(enrolment, request.GET.get("page"))
    items = dialog.thread_items(enrolment, page, language=_language(), for_staff=False)
    dialog.mark_thread_read(
        enrolment=enrolment,
        reader=user,
        as_staff=False,
        request=request,
        shown=[item.message.pk for item in items],
    )
    writable = dialog.can_write(enrolment)
    if form is None and writable:
        form = MessageForm(
            initial={
                "body": dialog.get_draft(enrolment=enrolment, author=user),
                "token": _token(),
            }
        )
    return render(
        request,
        "dialog/messages/patient_thread.html",
        {
            "enrolment": enrolment,
            "page": page,
            "items": items,
            "form": form,
            "writable": writable,
            "max_length": Message.MAX_LENGTH,
        },
        status=status,
    )


@login_required
@require_GET
def patient_messages(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = access.get_enrolment_for_patient(request, enrolment_id)
    return _patient_thread(request, enrolment)


@login_required
@require_POST
def send(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """The patient sends a message (one per form token: a double click stores one)."""
    enrolment = access.get_enrolment_for_patient(request, enrolment_id)
    form = MessageForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            sent = dialog.send_message(
                enrolment=enrolment,
                sender=_user(request),
                role=Message.SenderRole.PATIENT,
                body=form.cleaned_data["body"],
                client_token=form.cleaned_data["token"],
                request=request,
            )
        except dialog.MessageError as error:
            _apply_error(form, error)
            status = 409 if error.code in ("closed", "not_started") else 422
        else:
            if sent.created:
                flash.success(request, _("Your message has been sent."))
            url = reverse("dialog:patient_messages", args=[enrolment.pk])
            return redirect(f"{url}#message-{sent.message.pk}")
    return _patient_thread(request, enrolment, form=form, status=status)


def _save_draft(request: HttpRequest, enrolment: Enrolment, *, as_staff: bool) -> HttpResponse:
    form = DraftForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=422)
    link_kind, link_key = form.cleaned_data["link"]
    if not as_staff and link_kind:
        return HttpResponse(status=422)
    try:
        dialog.save_draft(
            enrolment=enrolment,
            author=_user(request),
            body=form.cleaned_data["body"],
            link_kind=link_kind,
            link_key=link_key,
            client_token=form.cleaned_data["token"],
        )
    except dialog.MessageError as error:
        return HttpResponse(status=409 if error.code in ("closed", "not_started") else 422)
    return HttpResponse(status=204)


@login_required
@require_POST
def save_draft(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """htmx: keep what the patient is writing (204)."""
    enrolment = access.get_enrolment_for_patient(request, enrolment_id)
    return _save_draft(request, enrolment, as_staff=False)


# The care team's side -----------------------------------------------------------------------------


def _staff_enrolment(request: HttpRequest, enrolment_id: int) -> Enrolment:
    return access.get_enrolment_for_staff(request, enrolment_id, purpose="care")


def _staff_form(
    request: HttpRequest,
    enrolment: Enrolment,
    *,
    data: Any = None,
    initial: dict[str, Any] | None = None,
) -> StaffMessageForm:
    return StaffMessageForm(
        data,
        initial=initial,
        targets=dialog.feedback_targets(enrolment, language=_language()),
        enrolment=enrolment,
        language=_language(),
    )


def _staff_thread(
    request: HttpRequest,
    enrolment: Enrolment,
    *,
    form: StaffMessageForm | None = None,
    picker: TemplatePickForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    page = dialog.thread_page(enrolment, request.GET.get("page"))
    items = dialog.thread_items(enrolment, page, language=_language(), for_staff=True)
    dialog.mark_thread_read(
        enrolment=enrolment,
        reader=user,
        as_staff=True,
        request=request,
        shown=[item.message.pk for item in items],
    )
    writable = dialog.can_write(enrolment)
    templates = list(dialog.templates_for(enrolment)) if writable else []
    targets = dialog.feedback_targets(enrolment, language=_language())
    if writable and form is None:
        form = StaffMessageForm(
            initial={
                "body": dialog.get_draft(enrolment=enrolment, author=user),
                "token": _token(),
            },
            targets=targets,
            enrolment=enrolment,
            language=_language(),
        )
    given = dialog.feedback_given(enrolment)
    if picker is None:
        picker = TemplatePickForm(templates=dialog.templates_for(enrolment))
    return render(
        request,
        "dialog/messages/staff_thread.html",
        {
            "enrolment": enrolment,
            "patient": enrolment.patient,
            "page": page,
            "items": items,
            "form": form,
            "picker": picker,
            "templates": templates,
            "writable": writable,
            "max_length": Message.MAX_LENGTH,
            "marks_read": dialog.marks_read_as_staff(enrolment, user),
            "submissions": [(t, (t.kind, t.key) in given) for t in targets[:SUBMISSIONS_SHOWN]],
        },
        status=status,
    )


@login_required
@require_GET
def staff_messages(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = _staff_enrolment(request, enrolment_id)
    return _staff_thread(request, enrolment)


def _use_template(request: HttpRequest, enrolment: Enrolment) -> HttpResponse:
    """Without JavaScript: show the form again with the chosen template's text in it."""
    templates = dialog.templates_for(enrolment)
    picker = TemplatePickForm(request.POST, templates=templates)
    body = request.POST.get("body", "")
    if picker.is_valid() and picker.cleaned_data["template"] is not None:
        body = render_template(
            picker.cleaned_data["template"].body, enrolment, sender=_user(request)
        )
    form = _staff_form(
        request,
        enrolment,
        initial={
            "body": body,
            "token": request.POST.get("token") or _token(),
            "link": request.POST.get("link", ""),
        },
    )
    return _staff_thread(request, enrolment, form=form, picker=picker)


@login_required
@require_POST
def staff_send(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """A member of staff sends a message, possibly feedback on something the patient sent; or,
    with "Use template", gets the form back filled in from a template."""
    enrolment = _staff_enrolment(request, enrolment_id)
    if request.POST.get("action") == "use_template":
        return _use_template(request, enrolment)
    form = _staff_form(request, enrolment, data=request.POST)
    status = 422
    if form.is_valid():
        target = form.target
        try:
            sent = dialog.send_message(
                enrolment=enrolment,
                sender=_user(request),
                role=Message.SenderRole.STAFF,
                body=form.cleaned_data["body"],
                client_token=form.cleaned_data["token"],
                link_kind=target.kind if target else "",
                link_key=target.key if target else "",
                request=request,
            )
        except dialog.MessageError as error:
            _apply_error(form, error)
            status = 409 if error.code in ("closed", "not_started") else 422
        else:
            if sent.created:
                flash.success(request, _("Your message has been sent."))
            url = reverse("dialog:staff_messages", args=[enrolment.pk])
            return redirect(f"{url}#message-{sent.message.pk}")
    return _staff_thread(request, enrolment, form=form, status=status)


@login_required
@require_POST
def staff_save_draft(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """htmx: keep what the member of staff is writing (204)."""
    enrolment = _staff_enrolment(request, enrolment_id)
    return _save_draft(request, enrolment, as_staff=True)


@login_required
@require_GET
def template_preview(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """htmx: the message box filled in from the chosen template for this patient (the text
    typed so far when no template is chosen)."""
    enrolment = _staff_enrolment(request, enrolment_id)
    picker = TemplatePickForm(request.GET, templates=dialog.templates_for(enrolment))
    body = request.GET.get("body", "")
    if picker.is_valid() and picker.cleaned_data["template"] is not None:
        body = render_template(
            picker.cleaned_data["template"].body, enrolment, sender=_user(request)
        )
    form = StaffMessageForm(initial={"body": body}, enrolment=enrolment)
    return render(
        request,
        "dialog/messages/_body_field.html#textarea",
        {
            "form": form,
            "enrolment": enrolment,
            "draft_url": reverse("dialog:staff_save_draft", args=[enrolment.pk]),
            "max_length": Message.MAX_LENGTH,
        },
    )


# Feedback -----------------------------------------------------------------------------------------


def _submission(enrolment: Enrolment, target: dialog.FeedbackTarget) -> dict[str, Any]:
    """What the patient sent, for the feedback page."""
    language = _language()
    if target.kind == dialog.EXERCISE:
        answer = ExerciseAnswer.objects.get(
            enrolment=enrolment, key=target.key, status=ExerciseAnswer.Status.SUBMITTED
        )
        outline = get_outline(enrolment.programme_version, language)
        page = outline.page_by_key.get(target.page_key)
        prompt = ""
        if page is not None:
            block = next(
                (b for b in page.blocks if b["type"] == "exercise" and b["key"] == target.key),
                None,
            )
            prompt = block.get("html", "") if block else ""
        return {"exercise": answer, "prompt": prompt}
    questionnaire_id, _sep, day = target.key.partition("/")
    response = Response.objects.get(
        enrolment=enrolment,
        questionnaire_id=questionnaire_id,
        day=day,
        status=Response.Status.SUBMITTED,
    )
    questionnaire = get_questionnaire(enrolment.programme_version, questionnaire_id)
    summary: list[tuple[str, str]] = []
    score = None
    band_title = ""
    if questionnaire is not None:
        try:
            answers = logic.answers_from_json(questionnaire, response.answers)
            summary = measurements.answer_summary(questionnaire, answers, language)
            if response.score is not None:
                score = logic.score_from_json(questionnaire, response.score)
                band_title = text_in(score.band.title, language) if score.band else ""
        except (ValueError, TypeError, AttributeError, KeyError):
            logger.warning("stored answers of response %s do not fit", response.pk)
    return {"response": response, "summary": summary, "score": score, "band_title": band_title}


@login_required
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, enrolment_id: int, kind: str, key: str) -> HttpResponse:
    """Give feedback on an exercise or a questionnaire the patient has sent: what they sent,
    the feedback so far, and the form. Refused (404) for anything that is not this enrolment's
    submitted exercise or questionnaire."""
    enrolment = _staff_enrolment(request, enrolment_id)
    user = _user(request)
    target = dialog.feedback_target(enrolment, kind, key, language=_language())
    if target is None:
        raise Http404("Nothing submitted by that name")
    actor = access.staff_actor(user, enrolment.unit_id)
    form: StaffMessageForm | None = None
    status = 200
    writable = dialog.can_write(enrolment)
    if request.method == "POST":
        form = StaffMessageForm(
            request.POST,
            targets=[target],
            enrolment=enrolment,
            language=_language(),
        )
        status = 422
        if form.is_valid():
            try:
                sent = dialog.send_message(
                    enrolment=enrolment,
                    sender=user,
                    role=Message.SenderRole.STAFF,
                    body=form.cleaned_data["body"],
                    client_token=form.cleaned_data["token"],
                    link_kind=target.kind,
                    link_key=target.key,
                    request=request,
                )
            except dialog.MessageError as error:
                _apply_error(form, error)
                status = 409 if error.code in ("closed", "not_started") else 422
            else:
                if sent.created:
                    flash.success(request, _("Your feedback has been sent to the patient."))
                url = reverse("dialog:staff_messages", args=[enrolment.pk])
                return redirect(f"{url}#message-{sent.message.pk}")
    elif writable:
        form = StaffMessageForm(
            initial={
                "body": dialog.get_draft(
                    enrolment=enrolment, author=user, link_kind=target.kind, link_key=target.key
                ),
                "token": _token(),
                "link": target.value,
            },
            targets=[target],
            enrolment=enrolment,
        )
    record_event(
        action="dialog.feedback.viewed",
        actor=actor,  # type: ignore[arg-type]
        request=request,
        patient=enrolment.patient,
        object_type="care.enrolment",
        object_id=enrolment.pk,
        purpose="care",
        detail={"feedback_on": target.value},
    )
    earlier = dialog.feedback_for(enrolment, target.kind, [target.key])[target.key]
    return render(
        request,
        "dialog/messages/feedback.html",
        {
            "enrolment": enrolment,
            "patient": enrolment.patient,
            "target": target,
            "earlier": earlier,
            "form": form,
            "writable": writable,
            "max_length": Message.MAX_LENGTH,
            **_submission(enrolment, target),
        },
        status=status,
    )


# Internal notes -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def notes(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """The enrolment's internal notes for the care team (never shown to the patient)."""
    enrolment = _staff_enrolment(request, enrolment_id)
    user = _user(request)
    status = 200
    if request.method == "POST":
        form = NoteForm(request.POST)
        status = 422
        if form.is_valid():
            try:
                added = dialog.add_internal_note(
                    enrolment=enrolment,
                    author=user,
                    body=form.cleaned_data["body"],
                    client_token=form.cleaned_data["token"],
                    request=request,
                )
            except dialog.MessageError as error:
                _apply_error(form, error)
            else:
                if added.created:
                    flash.success(request, _("The note has been saved."))
                return redirect("dialog:notes", enrolment_id=enrolment.pk)
    else:
        form = NoteForm(initial={"token": _token()})
    page = dialog.list_notes(
        enrolment=enrolment, reader=user, request=request, page_number=request.GET.get("page")
    )
    return render(
        request,
        "dialog/messages/notes.html",
        {
            "enrolment": enrolment,
            "patient": enrolment.patient,
            "page": page,
            "form": form,
            "max_length": form.max_length,
        },
        status=status,
    )


# Message templates --------------------------------------------------------------------------------


def _template_form(data: Any = None, **kwargs: Any) -> TemplateForm:
    return TemplateForm(data, programmes=programme_choices(), **kwargs)


def _save_template_form(
    request: HttpRequest, form: TemplateForm, unit: Any, template: MessageTemplate | None
) -> MessageTemplate | None:
    if not form.is_valid():
        return None
    try:
        return dialog.save_template(
            unit=unit,
            user=_user(request),
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            programme=form.cleaned_programme(),
            is_active=form.cleaned_data["is_active"],
            template=template,
            request=request,
        )
    except dialog.MessageError as error:
        _apply_error(form, error)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def templates(request: HttpRequest, unit_id: int) -> HttpResponse:
    """A unit's message templates: everyone in a care role sees them; unit admins add them."""
    unit, _membership = access.get_unit_for_staff(request, unit_id)
    can_manage = dialog.can_manage_templates(_user(request), unit)
    form = None
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise Http404("No such page")
        form = _template_form(request.POST)
        if _save_template_form(request, form, unit, None) is not None:
            flash.success(request, _("The template has been saved."))
            return redirect("dialog:templates", unit_id=unit.pk)
        status = 422
    elif can_manage:
        form = _template_form()
    listed = MessageTemplate.objects.filter(unit=unit).select_related("programme")
    if not can_manage:
        listed = listed.filter(is_active=True)
    titles = dict(programme_choices())
    rows = [(t, titles.get(t.programme_id, "") if t.programme_id else "") for t in listed]
    return render(
        request,
        "dialog/messages/templates.html",
        {
            "unit": unit,
            "rows": rows,
            "form": form,
            "can_manage": can_manage,
            "placeholders": PLACEHOLDERS,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    """Change or stop using one of the unit's templates (unit admins)."""
    user = _user(request)
    template = MessageTemplate.objects.select_related("unit").filter(pk=template_id).first()
    if template is None or not dialog.can_manage_templates(user, template.unit):
        raise Http404("No such template")
    status = 200
    if request.method == "POST":
        form = _template_form(request.POST)
        if _save_template_form(request, form, template.unit, template) is not None:
            flash.success(request, _("The template has been saved."))
            return redirect("dialog:templates", unit_id=template.unit_id)
        status = 422
    else:
        form = _template_form(
            initial={
                "title": template.title,
                "programme": template.programme_id or "",
                "body": template.body,
                "is_active": template.is_active,
            }
        )
    return render(
        request,
        "dialog/messages/template_edit.html",
        {"template": template, "form": form, "placeholders": PLACEHOLDERS},
        status=status,
    )
