"""The tobacco cessation programme's aids, registered with steg.programmes.aids.

Each context function runs a fixed number of queries, whatever the patient's history:

* ``medication-list``, ``craving-first-aid``, ``quit-date``: none (texts from the data files);
* ``savings``: at most one (the latest submitted ``tobacco-profile``);
* ``my-plan``: at most five (the patient's progress, four, unless the page passes it in;
  and the latest ``motivation``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from steg.care.models import Enrolment
from steg.programmes.aids import Aid, AidContext, register
from steg.programmes.outline import Outline, PageInfo
from steg.programmes.progress import Progress, load_progress
from steg.questionnaires.definition import Item, Questionnaire, Value
from steg.questionnaires.loader import get_questionnaire
from steg.questionnaires.logic import answers_from_json
from steg.questionnaires.models import Response

from . import content, savings
from .forms import QuitDateForm

PROFILE = "tobacco-profile"
MOTIVATION = "motivation"
MOTIVATION_ITEMS = ("importance", "confidence")
# The exercises my plan is made of, in the order shown, with the heading of each part.
PLAN_PARTS = (
    ("reasons", _("My reasons for quitting")),
    ("triggers", _("My triggers and what I will do instead")),
    ("medication-choice", _("Medicines I will use")),
    ("support-people", _("People who support me")),
    ("quit-day-plan", _("My plan for the quit day")),
)
PRODUCT_TITLES = {
    "smoking": _("After smoking"),
    "snus": _("After snus"),
}
SUITS_LABELS = {
    "smoking": _("People who smoke"),
    "snus": _("People who use snus"),
    "both": _("People who smoke and people who use snus"),
}


def text_in(texts: Mapping[str, str], language: str) -> str:
    """The text in ``language``, else Swedish, else any (the data files have both)."""
    return texts.get(language) or texts.get("sv") or next(iter(texts.values()), "")


def latest_answers(
    enrolment: Enrolment, questionnaire_id: str
) -> tuple[Questionnaire | None, dict[str, tuple[Value, ...]] | None]:
    """The questionnaire in the enrolment's version and the answers of its latest submitted
    response (one query; none when the version has no such questionnaire)."""
    questionnaire = get_questionnaire(enrolment.programme_version, questionnaire_id)
    if questionnaire is None:
        return None, None
    response = (
        Response.objects.filter(
            enrolment=enrolment,
            questionnaire_id=questionnaire_id,
            status=Response.Status.SUBMITTED,
        )
        .order_by("-day", "-submitted_at", "-pk")
        .only("answers")
        .first()
    )
    if response is None:
        return questionnaire, None
    try:
        return questionnaire, answers_from_json(questionnaire, response.answers)
    except ValueError:  # stored answers that no longer fit: as if there were none
        return questionnaire, None


def _sources(
    sources: Sequence[content.Source],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The sources numbered from 1 for the template, each citation with its year (added
    unless the citation has it), and the number of each source key."""
    numbered = [
        {
            "number": number,
            "key": source.key,
            "text": source.citation
            if str(source.year) in source.citation
            else f"{source.citation.rstrip('.')}, {source.year}.",
            "url": source.url,
        }
        for number, source in enumerate(sources, start=1)
    ]
    numbers = {source.key: number for number, source in enumerate(sources, start=1)}
    return numbered, numbers


# --------------------------------------------------------------------------- medication-list


def medication_list_context(ctx: AidContext) -> dict[str, Any]:
    data = content.medications()
    language = ctx.language
    sources, numbers = _sources(data.sources)
    medications = [
        {
            "key": m.key,
            "group": m.group,
            "name": text_in(m.name, language),
            "what": text_in(m.what, language),
            "helps": text_in(m.helps, language),
            "use": text_in(m.use, language),
            "side_effects": text_in(m.side_effects, language),
            "prescription": m.prescription,
            "availability": text_in(m.availability, language),
            "suits": SUITS_LABELS[m.suits],
            "note": text_in(m.note, language) if m.note else "",
            "advice": text_in(m.advice, language),
            "sources": [numbers[key] for key in m.sources],
        }
        for m in data.medications
    ]
    return {
        "intro": text_in(data.intro, language),
        "reviewed_on": data.reviewed_on,
        "sections": [
            {
                "key": "otc",
                "title": _("Without a prescription"),
                "medications": [m for m in medications if not m["prescription"]],
            },
            {
                "key": "prescription",
                "title": _("On prescription"),
                "medications": [m for m in medications if m["prescription"]],
            },
        ],
        "sources": sources,
    }


# --------------------------------------------------------------------------- savings


def _milestone(milestone: savings.Milestone, language: str) -> dict[str, Any]:
    return {
        "key": milestone.key,
        "when": text_in(milestone.when, language),
        "text": text_in(milestone.text, language),
        "with_time": milestone.after.unit in ("minutes", "hours"),
    }


def _question_text(questionnaire: Questionnaire | None, link_id: str, language: str) -> str:
    if questionnaire is not None:
        for item in questionnaire.all_items():
            if item.link_id == link_id:
                return text_in(item.text, language)
    return link_id


def savings_context(ctx: AidContext) -> dict[str, Any]:
    enrolment = ctx.enrolment
    language = ctx.language
    questionnaire, answers = latest_answers(enrolment, PROFILE)
    profile = savings.profile_from_answers(answers) if answers else None
    data = content.milestones()
    result = savings.compute_savings(
        quit_date=enrolment.quit_date,
        profile=profile,
        now=timezone.now(),
        milestones=data.by_product,
    )
    products = [
        {
            "product": progress.product,
            "title": PRODUCT_TITLES[progress.product],
            "note": text_in(data.notes[progress.product], language)
            if progress.product in data.notes
            else "",
            "reached": [_milestone(m, language) for m in progress.reached],
            "next": _milestone(progress.next, language) if progress.next else None,
            "next_at": progress.next_at,
        }
        for progress in result.milestones
    ]
    sources, _numbers = _sources(data.sources)
    return {
        "savings": result,
        "intro": text_in(data.intro, language),
        "products": products,
        "missing": [_question_text(questionnaire, link_id, language) for link_id in result.missing],
        "profile_url": reverse("questionnaires:fill", args=[enrolment.pk, PROFILE])
        if questionnaire is not None
        else "",
        "quit_date_url": reverse("tobacco:quit_date", args=[enrolment.pk]),
        "reviewed_on": data.reviewed_on,
        "sources": sources,
    }


# --------------------------------------------------------------------------- craving-first-aid


def craving_context(ctx: AidContext) -> dict[str, Any]:
    data = content.craving()
    language = ctx.language
    return {
        "title": text_in(data.title, language),
        "intro": text_in(data.intro, language),
        "strategies": [
            {
                "key": s.key,
                "title": text_in(s.title, language),
                "text": text_in(s.text, language),
            }
            for s in data.strategies
        ],
        "closing": text_in(data.closing, language),
        "sources": _sources(data.sources)[0],
    }


# --------------------------------------------------------------------------- my-plan


def _page_with(outline: Outline, test: Any) -> PageInfo | None:
    return next((page for page in outline.pages if any(test(b) for b in page.blocks)), None)


def _where(
    outline: Outline, progress: Progress, enrolment: Enrolment, test: Any, anchor: str = ""
) -> dict[str, Any]:
    """Where in the programme a missing part can be filled in: an open page, a later one, or
    none (and then no link, so that no link leads nowhere)."""
    page = _page_with(outline, test)
    if page is None:
        return {"state": "absent", "url": "", "title": ""}
    if not progress.is_page_open(page):
        return {"state": "later", "url": "", "title": page.title}
    return {
        "state": "open",
        "url": reverse("programmes:page", args=[enrolment.pk, page.key]) + anchor,
        "title": page.title,
    }


def _number_text(value: Decimal | int) -> str:
    return format(Decimal(value).normalize(), "f")


def _answer_text(item: Item, values: tuple[Value, ...], language: str) -> str:
    shown = []
    for value in values:
        if isinstance(value, str) and item.options:
            option = item.option(value)
            shown.append(text_in(option.text, language) if option else value)
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            shown.append(_number_text(value))
        else:
            shown.append(str(value))
    return ", ".join(shown)


def my_plan_context(ctx: AidContext) -> dict[str, Any]:
    enrolment, outline, language = ctx.enrolment, ctx.outline, ctx.language
    progress = ctx.progress if ctx.progress is not None else load_progress(enrolment, outline)
    parts = []
    for key, title in PLAN_PARTS:
        answer = progress.answers.get(key)
        text = (answer.submitted_text or answer.draft) if answer is not None else ""
        parts.append(
            {
                "key": key,
                "title": title,
                "text": text.strip(),
                "draft": bool(text.strip()) and not (answer and answer.submitted_text),
                "where": None
                if text.strip()
                else _where(
                    outline,
                    progress,
                    enrolment,
                    lambda b, key=key: b["type"] == "exercise" and b["key"] == key,
                    f"#exercise-{key}",
                ),
            }
        )
    questionnaire, answers = latest_answers(enrolment, MOTIVATION)
    motivation = []
    if questionnaire is not None and answers:
        items = {i.link_id: i for i in questionnaire.all_items()}
        for link_id in MOTIVATION_ITEMS:
            item = items.get(link_id)
            if item is None or not answers.get(link_id):
                continue
            top = item.max_value if isinstance(item.max_value, Decimal) else None
            motivation.append(
                {
                    "key": link_id,
                    "question": text_in(item.text, language),
                    "answer": _answer_text(item, answers[link_id], language),
                    "of": _number_text(top) if top is not None and not item.options else "",
                }
            )
    return {
        "parts": parts,
        "quit_date": enrolment.quit_date,
        "quit_date_url": reverse("tobacco:quit_date", args=[enrolment.pk]),
        "motivation": motivation,
        "motivation_url": reverse("questionnaires:fill", args=[enrolment.pk, MOTIVATION])
        if questionnaire is not None
        else "",
    }


# --------------------------------------------------------------------------- quit-date


def quit_date_context(ctx: AidContext) -> dict[str, Any]:
    enrolment = ctx.enrolment
    today = timezone.localdate()
    quit_date = enrolment.quit_date
    return {
        "enrolment_id": enrolment.pk,
        "quit_date": quit_date,
        "days_until": (quit_date - today).days if quit_date and quit_date > today else None,
        "days_since": (today - quit_date).days if quit_date and quit_date <= today else None,
        "active": enrolment.status == Enrolment.Status.ACTIVE,
        "form": QuitDateForm(initial={"quit_date": quit_date}, today=today),
    }


register(
    Aid(
        name="medication-list",
        title=_("Medicines that can help"),
        template="tobacco/aids/medication_list.html",
        context=medication_list_context,
    )
)
register(
    Aid(
        name="savings",
        title=_("What you have gained"),
        template="tobacco/aids/savings.html",
        context=savings_context,
    )
)
register(
    Aid(
        name="craving-first-aid",
        title=_("Craving first aid"),
        template="tobacco/aids/craving_first_aid.html",
        context=craving_context,
    )
)
register(
    Aid(
        name="my-plan",
        title=_("My plan"),
        template="tobacco/aids/my_plan.html",
        context=my_plan_context,
    )
)
register(
    Aid(
        name="quit-date",
        title=_("My quit date"),
        template="tobacco/aids/quit_date.html",
        context=quit_date_context,
    )
)
