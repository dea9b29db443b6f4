"""A programme version's structure and content in one language, cached in memory.

Versions never change after import, so their outline can be kept for the life of the
process: a patient page costs no queries for programme content at all. The cache key holds
the content hash, so a version id reused by a rolled-back test never returns stale content.
The version row itself is kept the same way (:func:`get_version`), so that a patient's
enrolment need not load its large JSON fields on every request.

Content may carry conditions on the patient's attributes (``when``, see
``steg/programmes/conditions.py``): :meth:`Outline.visible_to` gives the outline a patient with
given attribute values sees, without the pages and blocks whose condition does not hold, and
without steps left with no page. It is cached on the outline, per combination of values.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from .conditions import Attribute, is_shown
from .format import UnlockRule, plain_text
from .models import PageContent, ProgrammeVersion, Step


@dataclass(frozen=True)
class PageInfo:
    id: int
    key: str
    step_key: str
    position: int
    title: str
    minutes: int
    blocks: tuple[dict[str, Any], ...]
    text: str
    when: str = ""  # the page's condition; empty: always shown
    trimmed: bool = False  # some blocks are hidden (by their condition) in this outline

    @property
    def exercise_keys(self) -> tuple[str, ...]:
        return tuple(b["key"] for b in self.blocks if b["type"] == "exercise")

    @property
    def checklist_item_keys(self) -> tuple[str, ...]:
        return tuple(
            item[0] for b in self.blocks if b["type"] == "checklist" for item in b["items"]
        )


@dataclass(frozen=True)
class StepInfo:
    key: str
    position: int
    title: str
    summary: str
    rule: UnlockRule
    pages: tuple[PageInfo, ...]


@dataclass(frozen=True)
class Outline:
    version_id: int
    language: str
    title: str
    description: str
    steps: tuple[StepInfo, ...]
    pages: tuple[PageInfo, ...]
    page_by_key: dict[str, PageInfo] = field(repr=False)
    step_by_key: dict[str, StepInfo] = field(repr=False)
    attributes: tuple[Attribute, ...] = ()
    conditional: bool = False  # some page or block has a condition
    _visible: dict[tuple[tuple[str, str | None], ...], Outline] = field(
        default_factory=dict, repr=False, compare=False
    )
    # Blocks rendered to HTML, by (language of the page around them, page key, block index):
    # only blocks with nothing of the patient in them (see ``static_html``).
    _html: dict[tuple[str, str, int], str] = field(default_factory=dict, repr=False, compare=False)

    def page_index(self, key: str) -> int:
        return [p.key for p in self.pages].index(key)

    def static_html(
        self, language: str, page: PageInfo, index: int, render: Callable[[], str]
    ) -> str:
        """Block ``index`` of ``page`` as ``render`` makes it, rendered once per interface
        language for the life of the outline. Only for blocks that show the same to every
        patient (no progress, answers or CSRF token): the HTML is shared by all of them."""
        key = (language, page.key, index)
        html = self._html.get(key)
        if html is None:
            html = self._html[key] = render()
        return html

    @cached_property
    def questionnaire_keys(self) -> frozenset[str]:
        """The questionnaires embedded in the outline's blocks, worked out once per outline
        (the questionnaire lists ask for them on every page)."""
        return frozenset(
            block["key"]
            for page in self.pages
            for block in page.blocks
            if block["type"] == "questionnaire"
        )

    def visible_to(self, values: Mapping[str, str | None]) -> Outline:
        """The outline without the pages and blocks whose condition does not hold for
        these attribute values (unknown values hold), and without steps left empty."""
        if not self.conditional:
            return self
        key = tuple(sorted(values.items(), key=lambda item: item[0]))
        visible = self._visible.get(key)
        if visible is None:
            visible = self._visible[key] = _visible_outline(self, values)
        return visible


def _page_text(title: str, blocks: tuple[dict[str, Any], ...]) -> str:
    """A page's plain text for search, as the reader makes it (``PageContent.text``)."""
    texts = [title]
    for block in blocks:
        texts.append(plain_text(block.get("html", "")))
        texts.extend(plain_text(label) for _, label in block.get("items", ()))
    return " ".join(" ".join(texts).split())


def _visible_outline(outline: Outline, values: Mapping[str, str | None]) -> Outline:
    steps: list[StepInfo] = []
    pages: list[PageInfo] = []
    for step in outline.steps:
        step_pages: list[PageInfo] = []
        for page in step.pages:
            if not is_shown(page.when, values):
                continue
            blocks = tuple(b for b in page.blocks if is_shown(b.get("when"), values))
            if len(blocks) != len(page.blocks):
                page = dataclasses.replace(
                    page, blocks=blocks, text=_page_text(page.title, blocks), trimmed=True
                )
            step_pages.append(page)
        if step_pages:
            steps.append(dataclasses.replace(step, pages=tuple(step_pages)))
            pages.extend(step_pages)
    return dataclasses.replace(
        outline,
        steps=tuple(steps),
        pages=tuple(pages),
        page_by_key={p.key: p for p in pages},
        step_by_key={s.key: s for s in steps},
        _visible={},
        _html={},
    )


def get_version(version_id: int, content_hash: str) -> ProgrammeVersion:
    """The version with its programme, loaded once per process (versions never change).

    Each caller gets its own copy of the cached instance, so nothing one request sets on it
    reaches another; the JSON fields (the questionnaire files, the automations) are parsed once.
    """
    return copy.copy(_load_version(version_id, content_hash))


@lru_cache(maxsize=64)
def _load_version(version_id: int, content_hash: str) -> ProgrammeVersion:
    return ProgrammeVersion.objects.select_related("programme").get(
        pk=version_id, content_hash=content_hash
    )


def outline_language(version: ProgrammeVersion, language: str) -> str:
    return language if language in version.languages else version.languages[0]


def get_outline(version: ProgrammeVersion, language: str) -> Outline:
    language = outline_language(version, language)
    return _load_outline(version.pk, version.content_hash, language)


@lru_cache(maxsize=64)
def _load_outline(version_id: int, content_hash: str, language: str) -> Outline:
    version = _load_version(version_id, content_hash)
    steps = list(Step.objects.filter(version_id=version_id).order_by("position"))
    contents = (
        PageContent.objects.filter(page__version_id=version_id, language=language)
        .select_related("page")
        .order_by("page__position")
    )
    pages_by_step: dict[int, list[PageInfo]] = {step.pk: [] for step in steps}
    step_keys = {step.pk: step.key for step in steps}
    all_pages: list[PageInfo] = []
    for content in contents:
        info = PageInfo(
            id=content.page_id,
            key=content.page.key,
            step_key=step_keys[content.page.step_id],
            position=content.page.position,
            title=content.title,
            minutes=content.minutes,
            blocks=tuple(content.blocks),
            text=content.text,
            when=content.page.when,
        )
        pages_by_step[content.page.step_id].append(info)
        all_pages.append(info)
    step_infos = tuple(
        StepInfo(
            key=step.key,
            position=step.position,
            title=str(step.titles.get(language, "")),
            summary=str(step.summaries.get(language, "")),
            rule=UnlockRule(kind=step.unlock_kind, days=step.unlock_days),
            pages=tuple(pages_by_step[step.pk]),
        )
        for step in steps
    )
    return Outline(
        version_id=version_id,
        language=language,
        title=str(version.titles.get(language, "")),
        description=str(version.descriptions.get(language, "")),
        steps=step_infos,
        pages=tuple(all_pages),
        page_by_key={p.key: p for p in all_pages},
        step_by_key={s.key: s for s in step_infos},
        attributes=tuple(
            Attribute.from_json(name, data) for name, data in version.attributes.items()
        ),
        conditional=any(
            page.when or any(block.get("when") for block in page.blocks) for page in all_pages
        ),
    )
