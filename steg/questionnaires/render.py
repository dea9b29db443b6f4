"""The questionnaire form as plain view data, so that the templates stay simple.

One renderer for every questionnaire: the view passes the raw values (what the patient
typed, or a stored draft turned back into form values), the errors by linkId and the
enabled items; every enabled item becomes a ``Field`` the templates render by type.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _

from .definition import Item, Questionnaire, Texts
from .logic import OTHER, OTHER_SUFFIX


def text_in(texts: Texts, language: str) -> str:
    """The text in ``language``, or in the first language there is."""
    if language in texts:
        return texts[language]
    return next(iter(texts.values()), "")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    checked: bool
    id: str


@dataclass
class Field:
    link_id: str
    type: str
    label: str
    id: str
    hint: str = ""
    error: str = ""
    required: bool = False
    repeats: bool = False
    value: str = ""
    values: list[str] = field(default_factory=list)  # a repeating text item's answers
    other_value: str = ""
    choices: list[Choice] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    input_mode: str = ""

    @property
    def anchor(self) -> str:
        """The id the error summary links to: the field, or the first of its choices."""
        return self.choices[0].id if self.choices else self.id

    @property
    def is_group_of_choices(self) -> bool:
        return self.type in ("boolean", "choice", "open-choice")


def field_id(link_id: str) -> str:
    return "q-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in link_id)


def _range_hint(item: Item) -> str:
    low, high = item.min_value, item.max_value
    if item.type not in ("integer", "decimal") or (low is None and high is None):
        return ""
    if low is not None and high is not None:
        return _("A number from %(low)s to %(high)s.") % {
            "low": _number(low),
            "high": _number(high),
        }
    if low is not None:
        return _("A number of at least %(low)s.") % {"low": _number(low)}
    return _("A number of at most %(high)s.") % {"high": _number(high)}


def _number(value: object) -> str:
    if isinstance(value, Decimal):
        if value == value.to_integral():
            value = value.quantize(Decimal(1))
        return str(formats.number_format(value))
    return str(value)


def build_fields(
    questionnaire: Questionnaire,
    language: str,
    values: Mapping[str, Sequence[str]],
    errors: Mapping[str, str],
    enabled: Collection[str],
) -> list[Field]:
    def build(items: Sequence[Item]) -> list[Field]:
        fields = []
        for item in items:
            if item.link_id not in enabled:
                continue
            fid = field_id(item.link_id)
            raw = list(values.get(item.link_id, ()))
            hint = text_in(item.hint, language) if item.hint else ""
            range_hint = _range_hint(item)
            f = Field(
                link_id=item.link_id,
                type=item.type,
                label=text_in(item.text, language),
                id=fid,
                hint=" ".join(h for h in (hint, range_hint) if h),
                error=errors.get(item.link_id, ""),
                required=item.required,
                repeats=item.repeats,
                value=raw[0] if raw and not item.repeats else "",
                values=[*raw, ""] if item.repeats and item.type == "string" else [],
                other_value=(values.get(item.link_id + OTHER_SUFFIX) or [""])[0],
                input_mode={"integer": "numeric", "decimal": "decimal"}.get(item.type, ""),
            )
            if item.type == "boolean":
                options = [("true", _("Yes")), ("false", _("No"))]
            else:
                options = [(o.code, text_in(o.text, language)) for o in item.options]
            if item.type == "open-choice":
                options.append((OTHER, _("Something else:")))
            if item.type in ("boolean", "choice", "open-choice"):
                f.choices = [
                    Choice(code, label, code in raw, f"{fid}-{index}")
                    for index, (code, label) in enumerate(options)
                ]
            f.children = build(item.items)
            fields.append(f)
        return fields

    return build(questionnaire.items)


def flatten(fields: Sequence[Field]) -> list[Field]:
    out: list[Field] = []
    for f in fields:
        out.append(f)
        out.extend(flatten(f.children))
    return out
