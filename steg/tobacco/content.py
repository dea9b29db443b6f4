"""The tobacco aids' texts: medications, health milestones and craving first aid, as YAML data.

The files live in ``steg/tobacco/data/`` and hold their texts in every platform language. They
are read and checked in full here, with every problem listed with its file and line (the
reader of programme folders does the same, see ``steg.lib.yamldoc``). Nothing is read at
import time: the files are parsed on first use and cached, and the system check
``tobacco.E001`` (``steg/tobacco/checks.py``) reports a broken file at start-up
(``manage.py check``, ``runserver``, ``migrate``) without stopping the rest of Steg from loading.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from yaml.nodes import Node

from steg.lib.yamldoc import BAD, Problem, Problems, YamlDoc, describe

from .savings import DURATION_UNITS, PRODUCTS, Duration, Milestone

__all__ = [
    "DATA_DIR",
    "LANGUAGES",
    "CravingAid",
    "Medication",
    "MedicationList",
    "Milestones",
    "Source",
    "Strategy",
    "TobaccoDataError",
    "craving",
    "medications",
    "milestones",
    "parse_craving",
    "parse_medications",
    "parse_milestones",
    "problems_in_data",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
LANGUAGES = ("sv", "en")
MEDICATION_GROUPS = ("nrt", "varenicline", "cytisine", "bupropion")
SUITS = ("smoking", "snus", "both")
# The products milestones are kept for ("both" uses the two lists).
MILESTONE_PRODUCTS = tuple(p for p in PRODUCTS if p != "both")

Texts = Mapping[str, str]


class TobaccoDataError(Exception):
    """A data file of the tobacco aids is broken; ``problems`` lists everything found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            "The tobacco aids' data is not valid:\n" + "\n".join(f"  {p}" for p in problems)
        )


@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    year: int
    url: str = ""


@dataclass(frozen=True)
class Medication:
    key: str
    group: str
    name: Texts
    what: Texts
    helps: Texts
    use: Texts
    side_effects: Texts
    prescription: bool
    availability: Texts
    suits: str
    advice: Texts
    sources: tuple[str, ...]
    note: Texts | None = None


@dataclass(frozen=True)
class MedicationList:
    reviewed_on: datetime.date
    intro: Texts
    sources: tuple[Source, ...]
    medications: tuple[Medication, ...]


@dataclass(frozen=True)
class Milestones:
    reviewed_on: datetime.date
    intro: Texts
    sources: tuple[Source, ...]
    notes: Mapping[str, Texts]  # product -> note (may be missing)
    by_product: Mapping[str, tuple[Milestone, ...]]  # "smoking", "snus"


@dataclass(frozen=True)
class Strategy:
    key: str
    title: Texts
    text: Texts


@dataclass(frozen=True)
class CravingAid:
    reviewed_on: datetime.date
    title: Texts
    intro: Texts
    strategies: tuple[Strategy, ...]
    closing: Texts
    sources: tuple[Source, ...]


# --------------------------------------------------------------------------- reading


class _Reader:
    """Checked readers over one YAML document, on top of :class:`YamlDoc`."""

    def __init__(self, file: str, text: str) -> None:
        self.problems = Problems()
        self.doc = YamlDoc(file, text, self.problems, owner="platform")
        # Every source key given, also of sources with other problems, so that one broken
        # source is reported once and not again wherever it is named.
        self.source_keys_given: set[str] = set()

    def root(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Node]:
        if self.doc.root is None:
            if not self.problems.items:
                self.problems.add(self.doc.file, 1, "the file is empty")
            return {}
        entries = self.doc.mapping(self.doc.root, "the file")
        if entries is None:
            return {}
        self.doc.check_keys(self.doc.root, entries, "the file", required, optional)
        return entries

    def texts(self, entries: dict[str, Node], key: str, what: str) -> Texts | None:
        node = entries.get(key)
        if node is None:
            return None
        return self.doc.texts(node, what, LANGUAGES)

    def date(self, entries: dict[str, Node], key: str) -> datetime.date | None:
        node = entries.get(key)
        if node is None:
            return None
        value = self.doc.value(node)
        if value is BAD:
            return None
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            self.doc.problem(node, f"{key} must be a date (2026-01-31), not {describe(value)}")
            return None
        return value

    def choice(self, node: Node, what: str, allowed: tuple[str, ...]) -> str | None:
        value = self.doc.text(node, what)
        if value is not None and value not in allowed:
            self.doc.problem(node, f"{what} must be one of {', '.join(allowed)}, not '{value}'")
            return None
        return value

    def sources(self, entries: dict[str, Node]) -> tuple[Source, ...]:
        node = entries.get("sources")
        if node is None:
            return ()
        items = self.doc.sequence(node, "sources")
        result: list[Source] = []
        for item in items or []:
            fields = self.doc.mapping(item, "a source")
            if fields is None:
                continue
            self.doc.check_keys(item, fields, "a source", ("key", "citation", "year"), ("url",))
            key = self.doc.slug(fields["key"], "source key") if "key" in fields else None
            if key is not None:
                self.source_keys_given.add(key)
            citation = (
                self.doc.text(fields["citation"], f"source '{key}': citation")
                if "citation" in fields
                else None
            )
            year = (
                self.doc.integer(fields["year"], f"source '{key}': year")
                if "year" in fields
                else None
            )
            if year is not None and not 1900 <= year <= 2100:
                self.doc.problem(fields["year"], f"source '{key}': year {year} is not a year")
                year = None
            url = ""
            if "url" in fields:
                url = self.doc.text(fields["url"], f"source '{key}': url") or ""
                if url and not url.startswith("https://"):
                    self.doc.problem(fields["url"], f"source '{key}': url must start with https://")
                    url = ""
            if key is not None and any(s.key == key for s in result):
                self.doc.problem(fields["key"], f"source '{key}' is given twice")
            elif key is not None and citation is not None and year is not None:
                result.append(Source(key=key, citation=citation, year=year, url=url))
        return tuple(result)

    def source_keys(self, fields: dict[str, Node], what: str, *, required: bool) -> tuple[str, ...]:
        node = fields.get("sources")
        if node is None:
            return ()
        items = self.doc.sequence(node, f"{what}: sources")
        keys: list[str] = []
        for item in items or []:
            key = self.doc.text(item, f"{what}: source")
            if key is None:
                continue
            if key not in self.source_keys_given:
                self.doc.problem(item, f"{what}: unknown source '{key}'")
            else:
                keys.append(key)
        if required and items is not None and not items:
            self.doc.problem(node, f"{what}: name at least one source")
        return tuple(keys)

    def raise_if_problems(self) -> None:
        if self.problems.items:
            items = sorted(self.problems.items, key=lambda p: p.line or 0)
            raise TobaccoDataError(items)


_MEDICATION_TEXTS = ("name", "what", "helps", "use", "side_effects", "availability", "advice")


def parse_medications(text: str, file: str = "medications.yaml") -> MedicationList:
    """The medication list in ``text``; TobaccoDataError listing every problem."""
    reader = _Reader(file, text)
    doc = reader.doc
    entries = reader.root(("reviewed_on", "intro", "sources", "medications"))
    reviewed_on = reader.date(entries, "reviewed_on")
    intro = reader.texts(entries, "intro", "intro")
    sources = reader.sources(entries)
    medications: list[Medication] = []
    items = doc.sequence(entries["medications"], "medications") if "medications" in entries else []
    for item in items or []:
        fields = doc.mapping(item, "a medication")
        if fields is None:
            continue
        doc.check_keys(
            item,
            fields,
            "a medication",
            ("key", "group", *_MEDICATION_TEXTS, "prescription", "suits", "sources"),
            ("note",),
        )
        key = doc.slug(fields["key"], "medication key") if "key" in fields else None
        what = f"medication '{key}'"
        group = (
            reader.choice(fields["group"], f"{what}: group", MEDICATION_GROUPS)
            if "group" in fields
            else None
        )
        texts = {name: reader.texts(fields, name, f"{what}: {name}") for name in _MEDICATION_TEXTS}
        note = reader.texts(fields, "note", f"{what}: note")
        prescription = None
        if "prescription" in fields:
            value = doc.value(fields["prescription"])
            if isinstance(value, bool):
                prescription = value
            elif value is not BAD:
                doc.problem(
                    fields["prescription"],
                    f"{what}: prescription must be true or false, not {describe(value)}",
                )
        suits = (
            reader.choice(fields["suits"], f"{what}: suits", SUITS) if "suits" in fields else None
        )
        source_keys = reader.source_keys(fields, what, required=True)
        if key is not None and any(m.key == key for m in medications):
            doc.problem(fields["key"], f"{what} is given twice")
            continue
        if (
            key is None
            or group is None
            or prescription is None
            or suits is None
            or any(v is None for v in texts.values())
            or ("note" in fields and note is None)
        ):
            continue
        medications.append(
            Medication(
                key=key,
                group=group,
                name=texts["name"],  # type: ignore[arg-type]
                what=texts["what"],  # type: ignore[arg-type]
                helps=texts["helps"],  # type: ignore[arg-type]
                use=texts["use"],  # type: ignore[arg-type]
                side_effects=texts["side_effects"],  # type: ignore[arg-type]
                prescription=prescription,
                availability=texts["availability"],  # type: ignore[arg-type]
                suits=suits,
                advice=texts["advice"],  # type: ignore[arg-type]
                sources=source_keys,
                note=note,
            )
        )
    if items is not None and not items and "medications" in entries:
        doc.problem(entries["medications"], "medications: list at least one")
    reader.raise_if_problems()
    assert reviewed_on is not None and intro is not None  # noqa: S101 - checked above
    return MedicationList(
        reviewed_on=reviewed_on, intro=intro, sources=sources, medications=tuple(medications)
    )


def _duration(reader: _Reader, node: Node, what: str) -> Duration | None:
    doc = reader.doc
    fields = doc.mapping(node, f"{what}: after")
    if fields is None:
        return None
    if len(fields) != 1 or next(iter(fields)) not in DURATION_UNITS:
        doc.problem(
            node,
            f"{what}: after must be one of {', '.join(DURATION_UNITS)} with a whole number, "
            "such as {hours: 8}",
        )
        return None
    unit, amount_node = next(iter(fields.items()))
    amount = doc.integer(amount_node, f"{what}: after")
    if amount is None:
        return None
    if amount < 1:
        doc.problem(amount_node, f"{what}: after must be 1 or more, not {amount}")
        return None
    return Duration(amount=amount, unit=unit)


def parse_milestones(text: str, file: str = "milestones.yaml") -> Milestones:
    """The health milestones in ``text``; TobaccoDataError listing every problem."""
    reader = _Reader(file, text)
    doc = reader.doc
    entries = reader.root(("reviewed_on", "intro", "sources", "products"))
    reviewed_on = reader.date(entries, "reviewed_on")
    intro = reader.texts(entries, "intro", "intro")
    sources = reader.sources(entries)
    notes: dict[str, Texts] = {}
    by_product: dict[str, tuple[Milestone, ...]] = {}
    products = doc.mapping(entries["products"], "products") if "products" in entries else None
    if products is not None:
        doc.check_keys(entries["products"], products, "products", MILESTONE_PRODUCTS)
    for product, product_node in (products or {}).items():
        if product not in MILESTONE_PRODUCTS:
            continue
        fields = doc.mapping(product_node, product)
        if fields is None:
            continue
        doc.check_keys(product_node, fields, product, ("milestones",), ("note",))
        note = reader.texts(fields, "note", f"{product}: note")
        if note is not None:
            notes[product] = note
        items = (
            doc.sequence(fields["milestones"], f"{product}: milestones")
            if "milestones" in fields
            else None
        )
        if items is not None and not items:
            doc.problem(fields["milestones"], f"{product}: list at least one milestone")
        milestones: list[Milestone] = []
        for item in items or []:
            parts = doc.mapping(item, f"{product}: a milestone")
            if parts is None:
                continue
            doc.check_keys(
                item, parts, f"{product}: a milestone", ("key", "after", "when", "text", "sources")
            )
            key = doc.slug(parts["key"], f"{product}: milestone key") if "key" in parts else None
            what = f"{product}: milestone '{key}'"
            after = _duration(reader, parts["after"], what) if "after" in parts else None
            when = reader.texts(parts, "when", f"{what}: when")
            label = reader.texts(parts, "text", f"{what}: text")
            source_keys = reader.source_keys(parts, what, required=True)
            if key is not None and any(m.key == key for m in milestones):
                doc.problem(parts["key"], f"{what} is given twice")
                continue
            if key is None or after is None or when is None or label is None:
                continue
            if milestones and after.approximate_minutes <= milestones[-1].after.approximate_minutes:
                doc.problem(
                    parts["after"],
                    f"{what}: milestones must be in time order, later than '{milestones[-1].key}'",
                )
                continue
            milestones.append(
                Milestone(key=key, after=after, when=when, text=label, sources=source_keys)
            )
        by_product[product] = tuple(milestones)
    reader.raise_if_problems()
    assert reviewed_on is not None and intro is not None  # noqa: S101 - checked above
    return Milestones(
        reviewed_on=reviewed_on,
        intro=intro,
        sources=sources,
        notes=notes,
        by_product=by_product,
    )


def parse_craving(text: str, file: str = "craving.yaml") -> CravingAid:
    """The craving first aid in ``text``; TobaccoDataError listing every problem."""
    reader = _Reader(file, text)
    doc = reader.doc
    entries = reader.root(("reviewed_on", "title", "intro", "strategies", "closing"), ("sources",))
    reviewed_on = reader.date(entries, "reviewed_on")
    title = reader.texts(entries, "title", "title")
    intro = reader.texts(entries, "intro", "intro")
    closing = reader.texts(entries, "closing", "closing")
    sources = reader.sources(entries)
    strategies: list[Strategy] = []
    items = doc.sequence(entries["strategies"], "strategies") if "strategies" in entries else None
    if items is not None and not items:
        doc.problem(entries["strategies"], "strategies: list at least one")
    for item in items or []:
        fields = doc.mapping(item, "a strategy")
        if fields is None:
            continue
        doc.check_keys(item, fields, "a strategy", ("key", "title", "text"))
        key = doc.slug(fields["key"], "strategy key") if "key" in fields else None
        strategy_title = reader.texts(fields, "title", f"strategy '{key}': title")
        strategy_text = reader.texts(fields, "text", f"strategy '{key}': text")
        if key is not None and any(s.key == key for s in strategies):
            doc.problem(fields["key"], f"strategy '{key}' is given twice")
            continue
        if key is not None and strategy_title is not None and strategy_text is not None:
            strategies.append(Strategy(key=key, title=strategy_title, text=strategy_text))
    reader.raise_if_problems()
    assert reviewed_on and title and intro and closing  # noqa: S101 - checked above
    return CravingAid(
        reviewed_on=reviewed_on,
        title=title,
        intro=intro,
        strategies=tuple(strategies),
        closing=closing,
        sources=sources,
    )


# --------------------------------------------------------------------------- the shipped files


def _read(name: str) -> tuple[str, str]:
    path = DATA_DIR / name
    file = f"steg/tobacco/data/{name}"
    try:
        return path.read_text(encoding="utf-8"), file
    except (OSError, UnicodeDecodeError) as exc:
        raise TobaccoDataError([Problem(file, None, f"cannot be read: {exc}")]) from exc


@lru_cache(maxsize=1)
def medications() -> MedicationList:
    text, file = _read("medications.yaml")
    return parse_medications(text, file)


@lru_cache(maxsize=1)
def milestones() -> Milestones:
    text, file = _read("milestones.yaml")
    return parse_milestones(text, file)


@lru_cache(maxsize=1)
def craving() -> CravingAid:
    text, file = _read("craving.yaml")
    return parse_craving(text, file)


def problems_in_data() -> list[Problem]:
    """Every problem in the shipped data files (empty when all is well); reads them afresh."""
    found: list[Problem] = []
    for load in (medications, milestones, craving):
        load.cache_clear()
        try:
            load()
        except TobaccoDataError as error:
            found.extend(error.problems)
    return found
