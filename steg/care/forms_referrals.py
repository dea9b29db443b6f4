"""Forms of the referral journey: sending a referral, the unit's inbox, assigning and closing a
referral, and the assessment talk with its dependence test.

The dependence test is a library instrument (``questionnaires/ftnd.yaml`` or
``questionnaires/ftnd-st.yaml``), validated and scored by ``steg.questionnaires.logic`` exactly
as the patient's questionnaires are: nothing is scored here.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from steg.accounts.models import Unit, User
from steg.programmes.models import Programme
from steg.questionnaires import logic
from steg.questionnaires.definition import Questionnaire
from steg.questionnaires.library import library_questionnaire
from steg.questionnaires.render import Field, build_fields, flatten, text_in

from .actions import CareError
from .forms import PersonnummerField
from .models import Assessment, MeetingMode, Referral, TobaccoType

# --------------------------------------------------------------------------- helpers


def add_care_error(form: forms.Form, error: CareError) -> None:
    """Show an action's refusal on the form: on its field when the form has one."""
    name = error.field if error.field in form.fields else None
    form.add_error(name, ValidationError(str(error.message), code=error.code))


class UnitChoiceField(forms.ModelChoiceField):
    """A unit, shown by its name."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class PersonChoiceField(forms.ModelChoiceField):
    """A member of staff, shown by full name (or e-mail when the name is empty)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.email)


# --------------------------------------------------------------------------- referral

_PHONE_RE = re.compile(r"\+?[0-9][0-9 ()-]{4,30}")


class ReferralForm(forms.Form):
    """A referral from a referrer's unit to a unit that takes referrals."""

    referring_unit = UnitChoiceField(
        queryset=Unit.objects.none(),
        label=gettext_lazy("Referring unit"),
        empty_label=None,
        error_messages={
            "required": gettext_lazy("Choose the unit you send the referral from."),
            "invalid_choice": gettext_lazy(
                "You cannot send referrals from this unit. Choose one of the units in the list."
            ),
        },
    )
    receiving_unit = UnitChoiceField(
        queryset=Unit.objects.none(),
        label=gettext_lazy("Receiving unit"),
        empty_label=gettext_lazy("Choose a unit"),
        error_messages={
            "required": gettext_lazy("Choose the unit that is to receive the referral."),
            "invalid_choice": gettext_lazy(
                "You cannot send referrals to this unit. Choose one of the units in the list."
            ),
        },
    )
    personnummer = PersonnummerField(
        error_messages={"required": gettext_lazy("Write the patient's personal identity number.")}
    )
    first_name = forms.CharField(
        label=gettext_lazy("First name"),
        max_length=150,
        error_messages={"required": gettext_lazy("Write the patient's first name.")},
    )
    last_name = forms.CharField(
        label=gettext_lazy("Last name"),
        max_length=150,
        error_messages={"required": gettext_lazy("Write the patient's last name.")},
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        error_messages={
            "invalid": gettext_lazy("Write the e-mail address like this: name@example.com.")
        },
    )
    tobacco_type = forms.ChoiceField(
        label=gettext_lazy("Tobacco"),
        choices=TobaccoType.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose what the patient uses."),
            "invalid_choice": gettext_lazy("Choose one of the kinds of tobacco in the list."),
        },
    )
    tobacco_amount = forms.CharField(
        label=gettext_lazy("Amount per day"),
        max_length=200,
        help_text=gettext_lazy("For example 15 cigarettes or 1 can of snus a day."),
        error_messages={"required": gettext_lazy("Write how much the patient uses.")},
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for referral"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": gettext_lazy("Write the reason for the referral.")},
    )
    contact_consent = forms.BooleanField(
        label=gettext_lazy("The patient agrees to be contacted by the receiving unit"),
        error_messages={
            "required": gettext_lazy(
                "The patient must agree to be contacted by the unit before you send the referral."
            )
        },
    )

    def __init__(
        self,
        *args: Any,
        referring: Sequence[Unit],
        receiving: QuerySet[Unit],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        referring_field = self.fields["referring_unit"]
        assert isinstance(referring_field, forms.ModelChoiceField)  # noqa: S101
        referring_field.queryset = Unit.objects.filter(pk__in=[u.pk for u in referring]).order_by(
            "name"
        )
        # A referrer at one unit sends from it: shown as a fact, and whatever is posted for it
        # is ignored (a disabled field takes its initial value).
        self.fixed_referring_unit = referring[0] if len(referring) == 1 else None
        if self.fixed_referring_unit is not None:
            referring_field.disabled = True
            referring_field.initial = self.fixed_referring_unit.pk
        receiving_field = self.fields["receiving_unit"]
        assert isinstance(receiving_field, forms.ModelChoiceField)  # noqa: S101
        receiving_field.queryset = receiving

    def clean_first_name(self) -> str:
        return str(self.cleaned_data["first_name"]).strip()

    def clean_last_name(self) -> str:
        return str(self.cleaned_data["last_name"]).strip()

    def clean_phone(self) -> str:
        phone = str(self.cleaned_data.get("phone") or "").strip()
        if phone and not _PHONE_RE.fullmatch(phone):
            raise ValidationError(
                _("Write the phone number with digits, for example 070-123 45 67."),
                code="phone",
            )
        return phone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        phone_ok = "phone" not in self.errors and not cleaned.get("phone")
        email_ok = "email" not in self.errors and not cleaned.get("email")
        if phone_ok and email_ok:
            self.add_error(
                "phone",
                ValidationError(
                    _(
                        "Give a phone number or an e-mail address, so that the unit can "
                        "contact the patient."
                    ),
                    code="no_contact",
                ),
            )
        return cleaned


# --------------------------------------------------------------------------- inbox

OPEN = "open"
ALL = "all"
MINE = "mine"
UNASSIGNED = "unassigned"
OPEN_STATUSES = (Referral.Status.NEW, Referral.Status.IN_PROGRESS, Referral.Status.ASSESSED)


class InboxFilterForm(forms.Form):
    """Which referrals the inbox shows. Anything unknown falls back to the defaults."""

    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[
            (OPEN, gettext_lazy("Open (new, in progress, assessed)")),
            *((value, capfirst(label)) for value, label in Referral.Status.choices),
            (ALL, gettext_lazy("All")),
        ],
    )
    assignee = forms.ChoiceField(
        label=gettext_lazy("Assigned to"),
        required=False,
        choices=[
            (ALL, gettext_lazy("Anyone or nobody")),
            (MINE, gettext_lazy("Me")),
            (UNASSIGNED, gettext_lazy("Nobody yet")),
        ],
    )

    def values(self) -> tuple[str, str]:
        """(status, assignee), the defaults for what is missing or not understood."""
        self.is_valid()  # cleaned_data then holds the fields that are understood
        return self.cleaned_data.get("status") or OPEN, self.cleaned_data.get("assignee") or ALL


def filter_inbox(
    referrals: QuerySet[Referral], *, status: str, assignee: str, user: User
) -> QuerySet[Referral]:
    if status == OPEN:
        referrals = referrals.filter(status__in=OPEN_STATUSES)
    elif status != ALL:
        referrals = referrals.filter(status=status)
    return filter_assignee(referrals, assignee=assignee, user=user)


def filter_assignee(
    referrals: QuerySet[Referral], *, assignee: str, user: User
) -> QuerySet[Referral]:
    if assignee == MINE:
        return referrals.filter(assigned_to=user)
    if assignee == UNASSIGNED:
        return referrals.filter(assigned_to__isnull=True)
    return referrals


# --------------------------------------------------------------------------- assign, close


class AssignForm(forms.Form):
    therapist = PersonChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=gettext_lazy("Therapist"),
        empty_label=gettext_lazy("Nobody (not assigned)"),
        error_messages={
            "invalid_choice": gettext_lazy("Choose a therapist who works at this unit.")
        },
    )

    def __init__(self, *args: Any, therapists: QuerySet[User], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign-%s")
        super().__init__(*args, **kwargs)
        field = self.fields["therapist"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = therapists


CLOSE_REASONS = [
    (value, label)
    for value, label in Referral.CloseReason.choices
    if value != Referral.CloseReason.ENROLLED
]


class CloseForm(forms.Form):
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason for closing"),
        choices=CLOSE_REASONS,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose a reason for closing."),
            "invalid_choice": gettext_lazy("Choose one of the reasons in the list."),
        },
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Required when the reason is “other reason”."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "close-%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["note"] = str(cleaned.get("note") or "").strip()
        if cleaned.get("reason") == Referral.CloseReason.OTHER and not cleaned["note"]:
            self.add_error(
                "note",
                ValidationError(_("Write the reason for closing in the note."), code="note"),
            )
        return cleaned


# --------------------------------------------------------------------------- assessment

# The dependence test for each kind of tobacco (none for other tobacco or nicotine).
DEPENDENCE_TESTS: dict[str, str] = {
    TobaccoType.CIGARETTES: "ftnd",
    TobaccoType.BOTH: "ftnd",
    TobaccoType.SNUS: "ftnd-st",
}
# The test's answers are posted as dep-<linkId>, apart from the assessment's own fields.
DEPENDENCE_PREFIX = "dep-"


def dependence_test_for(tobacco_type: str | None) -> str:
    return DEPENDENCE_TESTS.get(tobacco_type or "", "")


@functools.cache
def dependence_questionnaire(ident: str) -> Questionnaire:
    """A library instrument, parsed once per process (the files change only with a deploy)."""
    return library_questionnaire(ident)


@dataclass
class DependenceSection:
    """The dependence test part of the assessment form: the questions and what was answered.

    ``questionnaire`` is None when the tobacco type has no test. ``answered`` holds the
    posted values by linkId, ``errors`` a message per linkId (or under "" for the whole test).
    """

    questionnaire: Questionnaire | None
    language: str
    answered: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    answers_json: dict[str, Any] = field(default_factory=dict)
    score: int | None = None

    @property
    def test_id(self) -> str:
        return self.questionnaire.id if self.questionnaire else ""

    @property
    def title(self) -> str:
        return text_in(self.questionnaire.title, self.language) if self.questionnaire else ""

    @property
    def fields(self) -> list[Field]:
        if self.questionnaire is None:
            return []
        q = self.questionnaire
        enabled = logic.enabled_items(q, logic.validate(q, self.answered, self.language).answers)
        return build_fields(q, self.language, self.answered, self.errors, enabled)

    @property
    def error_fields(self) -> list[Field]:
        return [f for f in flatten(self.fields) if f.error]

    @property
    def general_error(self) -> str:
        return self.errors.get("", "")

    def is_valid(self) -> bool:
        return not self.errors


def read_dependence(
    questionnaire: Questionnaire | None,
    data: Mapping[str, Sequence[str]] | None,
    language: str,
) -> DependenceSection:
    """The posted answers to the test (``data`` None: nothing posted yet), validated and scored
    by the questionnaire's own rules; every scored question must be answered."""
    section = DependenceSection(questionnaire, language)
    if questionnaire is None or data is None:
        return section
    answered = {
        key[len(DEPENDENCE_PREFIX) :]: [str(v) for v in values]
        for key, values in _lists(data)
        if key.startswith(DEPENDENCE_PREFIX)
    }
    section.answered = answered
    validation = logic.validate(questionnaire, answered, language, for_submit=True)
    errors = dict(validation.errors)
    for link_id in errors:
        if not any(v.strip() for v in answered.get(link_id, [])):
            errors[link_id] = _("Choose an answer: the test is scored from all its questions.")
    section.errors = errors
    if errors:
        return section
    result = logic.score(questionnaire, validation.answers)
    if result is None or result.total is None:
        section.errors[""] = _("The test could not be scored. Answer all its questions.")
        return section
    section.answers_json = logic.answers_to_json(questionnaire, validation.answers)
    section.score = int(result.total)
    return section


def _lists(data: Mapping[str, Sequence[str]]) -> Iterable[tuple[str, Sequence[str]]]:
    getlist = getattr(data, "getlist", None)
    for key in data:
        yield key, (getlist(key) if getlist else data[key])


@dataclass(frozen=True)
class DependenceSummary:
    title: str
    score: int
    band: str
    flags: tuple[str, ...]


def describe_dependence(assessment: Assessment, language: str) -> DependenceSummary | None:
    """The recorded test's title, score, interpretation band and flags, for the therapist."""
    if not assessment.dependence_test or assessment.dependence_score is None:
        return None
    try:
        q = dependence_questionnaire(assessment.dependence_test)
    except (KeyError, ValueError):
        return DependenceSummary(assessment.dependence_test, assessment.dependence_score, "", ())
    band = ""
    flags: tuple[str, ...] = ()
    try:
        result = logic.score(q, logic.answers_from_json(q, assessment.dependence_answers))
    except (ValueError, TypeError, AttributeError):
        result = None
    if result is not None:
        band = text_in(result.band.title, language) if result.band else ""
        flags = tuple(text_in(f.text, language) for f in result.flags if f.text)
    return DependenceSummary(text_in(q.title, language), assessment.dependence_score, band, flags)


class ProgrammeChoiceField(forms.ModelChoiceField):
    """A programme with at least one version, shown by its latest version's title."""

    def __init__(self, *args: Any, language: str = "sv", **kwargs: Any) -> None:
        self.language = language
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        versions = sorted(obj.versions.all(), key=lambda v: v.number)
        return versions[-1].title(self.language) if versions else str(obj.slug)


def programmes_with_versions() -> QuerySet[Programme]:
    return (
        Programme.objects.filter(versions__isnull=False)
        .distinct()
        .prefetch_related("versions")
        .order_by("slug")
    )


class AssessmentForm(forms.Form):
    held_on = forms.DateField(
        label=gettext_lazy("Date of the talk"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": gettext_lazy("Write the date of the talk."),
            "invalid": gettext_lazy("Write a real date, for example 2026-03-14."),
        },
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("How the talk was held"),
        choices=MeetingMode.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose how the talk was held."),
            "invalid_choice": gettext_lazy("Choose one of the ways in the list."),
        },
    )
    tobacco_type = forms.ChoiceField(
        label=gettext_lazy("Tobacco"),
        choices=TobaccoType.choices,
        help_text=gettext_lazy(
            "The dependence test below follows the tobacco: FTND for smoking, FTND-ST for snus."
        ),
        error_messages={
            "required": gettext_lazy("Choose what the patient uses."),
            "invalid_choice": gettext_lazy("Choose one of the kinds of tobacco in the list."),
        },
    )
    tobacco_use = forms.CharField(
        label=gettext_lazy("Tobacco use"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("How much, how often and for how long."),
        error_messages={"required": gettext_lazy("Describe the patient's tobacco use.")},
    )
    motivation = forms.IntegerField(
        label=gettext_lazy("Motivation (0–10)"),
        min_value=0,
        max_value=10,
        help_text=gettext_lazy(
            "How important it is for the patient to quit: 0 not at all, 10 very."
        ),
        widget=forms.NumberInput(attrs={"class": "input--short", "inputmode": "numeric"}),
        error_messages={
            "required": gettext_lazy("Write the patient's motivation, 0 to 10."),
            "invalid": gettext_lazy("Write a whole number from 0 to 10."),
            "min_value": gettext_lazy("Write a whole number from 0 to 10."),
            "max_value": gettext_lazy("Write a whole number from 0 to 10."),
        },
    )
    confidence = forms.IntegerField(
        label=gettext_lazy("Confidence (0–10)"),
        min_value=0,
        max_value=10,
        help_text=gettext_lazy("How sure the patient is of succeeding: 0 not at all, 10 very."),
        widget=forms.NumberInput(attrs={"class": "input--short", "inputmode": "numeric"}),
        error_messages={
            "required": gettext_lazy("Write the patient's confidence, 0 to 10."),
            "invalid": gettext_lazy("Write a whole number from 0 to 10."),
            "min_value": gettext_lazy("Write a whole number from 0 to 10."),
            "max_value": gettext_lazy("Write a whole number from 0 to 10."),
        },
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    choice = forms.ChoiceField(
        label=gettext_lazy("Treatment choice"),
        choices=Assessment.Choice.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose the treatment the patient chose."),
            "invalid_choice": gettext_lazy("Choose one of the treatments in the list."),
        },
    )
    choice_reason = forms.CharField(
        label=gettext_lazy("Reason for the choice"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("Write the reason for the choice.")},
    )
    programme = ProgrammeChoiceField(
        queryset=Programme.objects.none(),
        required=False,
        label=gettext_lazy("Programme"),
        empty_label=gettext_lazy("Choose a programme"),
        help_text=gettext_lazy("Only for the digital programme, guided or as self-help."),
        error_messages={
            "invalid_choice": gettext_lazy("Choose one of the programmes in the list."),
        },
    )

    def __init__(
        self,
        *args: Any,
        today: datetime.date,
        received_on: datetime.date,
        language: str,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "assessment-%s")
        super().__init__(*args, **kwargs)
        self.today = today
        self.received_on = received_on
        held_on = self.fields["held_on"]
        held_on.widget.attrs.update(max=today.isoformat(), min=received_on.isoformat())
        programme = self.fields["programme"]
        assert isinstance(programme, ProgrammeChoiceField)  # noqa: S101
        programme.language = language
        programme.queryset = programmes_with_versions()

    def clean_held_on(self) -> datetime.date:
        held_on: datetime.date = self.cleaned_data["held_on"]
        if held_on > self.today:
            raise ValidationError(
                _("The talk cannot be recorded before it has taken place. Check the date."),
                code="future",
            )
        if held_on < self.received_on:
            raise ValidationError(
                _("The talk cannot have been held before the referral was received, %(date)s.")
                % {"date": date_format(self.received_on, "j F Y")},
                code="before_referral",
            )
        return held_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("tobacco_use", "choice_reason", "notes"):
            if name in cleaned:
                cleaned[name] = str(cleaned[name] or "").strip()
        choice = cleaned.get("choice")
        if choice in Assessment.DIGITAL_CHOICES:
            if cleaned.get("programme") is None and "programme" not in self.errors:
                self.add_error(
                    "programme",
                    ValidationError(
                        _("Choose the digital programme the patient will follow."),
                        code="programme",
                    ),
                )
        elif choice:
            cleaned["programme"] = None
        return cleaned
