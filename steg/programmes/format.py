"""Read and validate a programme folder (content as code), without Django.

A programme lives in ``programmes/<slug>/``: ``programme.yaml`` describes the
steps, ``pages/<language>/<page-key>.md`` holds one Markdown file per page and
language, and the optional ``media/`` and ``questionnaires/`` folders hold the
files the pages refer to. The optional ``automations.yaml`` holds the
programme's automation rules (read by ``steg.automation.rules``, format in
``docs/automation.md``). The format is documented in
``docs/programme-format.md``.

:func:`load_programme` validates the whole folder and collects *every* problem
it finds before it gives up, so that an author fixes a broken folder in one
round: it raises :class:`ProgrammeFormatError` listing them all, each with its
file (relative to the programme folder) and, where there is one, its line.

All HTML produced here is sanitised with nh3. Images and media links are
rendered as ``/programme-media/<sha256>`` (the web layer serves media by their
content hash); links to other pages (``page:<key>``) as ``../<key>/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import mimetypes
import posixpath
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from yaml.nodes import MappingNode, Node, ScalarNode

from steg.automation.spec import Automations
from steg.lib.yamldoc import (
    SLUG_RE,
    Problem,
    Problems,
    ProgrammeFormatError,
    YamlDoc,
    describe,
)
from steg.programmes.conditions import (
    Attribute,
    ConditionError,
    check_condition,
    parse_condition,
)

if TYPE_CHECKING:
    from steg.questionnaires.definition import Questionnaire

__all__ = [
    "CALLOUT_VARIANTS",
    "DEFAULT_MAX_LENGTH",
    "GUIDANCE_KINDS",
    "LANGUAGES",
    "MAX_MINUTES",
    "MEDIA_URL_PREFIX",
    "MIN_MINUTES",
    "PROGRAMME_FILE",
    "UNLOCK_KINDS",
    "Attribute",
    "Block",
    "MediaFile",
    "PageContent",
    "PageSpec",
    "Problem",
    "ProgrammeFormatError",
    "ProgrammeSpec",
    "StepSpec",
    "UnlockRule",
    "content_hash",
    "load_programme",
    "plain_text",
    "sanitise_html",
]

#: Languages a programme may be written in. The only place they are listed.
LANGUAGES: tuple[str, ...] = ("sv", "en")
GUIDANCE_KINDS: tuple[str, ...] = ("guided", "self-help")
CALLOUT_VARIANTS: tuple[str, ...] = ("info", "tip", "warning")
UNLOCK_KINDS: tuple[str, ...] = (
    "immediately",
    "after_previous",
    "days_after_start",
    "days_after_quit_date",
    "therapist",
)
_DAY_KINDS = ("days_after_start", "days_after_quit_date")
#: Where the web layer serves a media file, by its SHA-256: ``/programme-media/<sha256>``.
MEDIA_URL_PREFIX = "/programme-media/"
DEFAULT_MAX_LENGTH = 5000
MAX_MAX_LENGTH = 100_000
MIN_MINUTES = 1
MAX_MINUTES = 120

PROGRAMME_FILE = "programme.yaml"
AUTOMATIONS_FILE = "automations.yaml"
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_DIRECTIVE_RE = re.compile(r"^:{3,}(.*)$")
_OUTSIDE_LINK_RE = re.compile(r"^(https?:|mailto:|tel:|#)", re.IGNORECASE)

# Media files a programme may ship, by suffix. Anything else (SVG with its scripts,
# HTML, executables) is refused, since the web layer serves these from our origin.
_MEDIA_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".vtt": "text/vtt",
    ".pdf": "application/pdf",
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Block:
    """One block of a page.

    ``type`` is one of ``markdown``, ``callout`` (``variant``, ``html``), ``exercise``
    (``key``, prompt in ``html``, ``max_length``), ``checklist`` (``key``, ``items`` as
    ``(item key, label html)`` pairs), ``questionnaire`` (id in ``key``), ``aid`` (name
    in ``key``), ``video`` (``src``, ``captions``, transcript in ``html``) or ``audio``
    (``src``, transcript in ``html``). Images stay inside the ``html`` of the block
    that contains them. ``when`` is the block's condition (``tobacco:snus|both``, see
    :mod:`steg.programmes.conditions`), empty when it is always shown; a ``::: when``
    directive is a ``markdown`` block with a condition.
    """

    type: str
    key: str = ""
    html: str = ""
    variant: str = ""
    items: tuple[tuple[str, str], ...] = ()
    src: str = ""
    captions: str = ""
    max_length: int = 0
    when: str = ""


@dataclass(frozen=True)
class PageContent:
    """A page in one language. ``text`` is plain text for full-text search."""

    language: str
    title: str
    minutes: int
    blocks: tuple[Block, ...]
    text: str


@dataclass(frozen=True)
class PageSpec:
    """A page in every language; ``when`` is its condition, empty when always shown."""

    key: str
    contents: dict[str, PageContent]
    when: str = ""


@dataclass(frozen=True)
class UnlockRule:
    """When a step opens. ``days`` is used by the ``days_after_*`` kinds only."""

    kind: str
    days: int = 0


@dataclass(frozen=True)
class StepSpec:
    key: str
    titles: dict[str, str]
    summaries: dict[str, str]
    unlock: UnlockRule
    pages: tuple[PageSpec, ...]


@dataclass(frozen=True)
class MediaFile:
    """A file from ``media/``; ``path`` is relative to the programme folder."""

    path: str
    sha256: str
    content_type: str
    data: bytes

    @property
    def url(self) -> str:
        return f"{MEDIA_URL_PREFIX}{self.sha256}"


@dataclass(frozen=True)
class ProgrammeSpec:
    slug: str
    titles: dict[str, str]
    descriptions: dict[str, str]
    audiences: dict[str, str]
    languages: tuple[str, ...]
    guidance: str
    steps: tuple[StepSpec, ...]
    media: tuple[MediaFile, ...]
    questionnaire_files: dict[str, bytes]
    content_hash: str
    attributes: tuple[Attribute, ...] = ()
    automations: Automations = field(default_factory=Automations)


# --------------------------------------------------------------------------- HTML

_ALLOWED_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}


def sanitise_html(fragment: str) -> str:
    """Keep text markup, links, images and tables; drop scripts, styles and handlers."""
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )


_BLOCK_TAGS = {"p", "li", "h2", "h3", "h4", "blockquote", "pre", "td", "th", "br", "tr", "hr"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            alt = dict(attrs).get("alt") or ""
            self.parts.append(f" {alt} ")
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(fragment: str) -> str:
    """The readable text of an HTML fragment (image alt text included), one line."""
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


# --------------------------------------------------------------------------- hashing


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _folder_files(root: Path) -> list[str]:
    """Relative POSIX paths of every file in the folder, dotfiles left out, sorted."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if not _is_hidden(relative) and path.is_file():
            found.append(relative.as_posix())
    return sorted(found)


def content_hash(root: Path) -> str:
    """SHA-256 over every file of the folder (dotfiles left out): path and bytes."""
    digest = hashlib.sha256()
    for relative in _folder_files(root):
        data = (root / relative).read_bytes()
        name = relative.encode()
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


# --------------------------------------------------------------------------- markdown

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")
_RENDERER = RendererHTML(_MD)

# Directive name -> (positional argument names, allowed options, required options).
# Every directive but `when` also takes the option when=<condition>.
_DIRECTIVES: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str]]] = {
    "callout": (("variant",), frozenset(), frozenset()),
    "exercise": (("key",), frozenset({"max_length"}), frozenset()),
    "checklist": (("key",), frozenset(), frozenset()),
    "questionnaire": (("id",), frozenset(), frozenset()),
    "aid": (("name",), frozenset(), frozenset()),
    "video": (("file",), frozenset({"captions"}), frozenset({"captions"})),
    "audio": (("file",), frozenset(), frozenset()),
    "when": (("condition",), frozenset(), frozenset()),
}


# The token sequence of a checklist: which token types may follow each one.
_CHECKLIST_NEXT: dict[str, list[str]] = {
    "bullet_list_open": ["list_item_open"],
    "list_item_open": ["paragraph_open"],
    "paragraph_open": ["inline"],
    "inline": ["paragraph_close"],
    "paragraph_close": ["list_item_close"],
    "list_item_close": ["list_item_open", "bullet_list_close"],
    "bullet_list_close": [],
}


@dataclass
class _Segment:
    """A stretch of a page body: plain Markdown, or one ``::: name args`` directive."""

    line: int  # file line of the first Markdown line, or of the opening ::: line
    name: str = ""  # empty for plain Markdown
    args: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def inner_line(self) -> int:
        return self.line + 1 if self.name else self.line


@dataclass
class _Marker:
    """What a page's directives look like, to compare language versions."""

    signature: tuple[object, ...]
    line: int
    when: str = ""

    def same_as(self, other: _Marker) -> bool:
        return self.signature == other.signature and self.when == other.when

    def describe(self) -> str:
        kind, *rest = self.signature
        if kind == "checklist":
            text = f"checklist '{rest[0]}' with {rest[1]} items"
        elif kind == "exercise":
            text = f"exercise '{rest[0]}' (max_length={rest[1]})"
        elif kind == "when":
            return f"'::: when {self.when}'"
        else:
            text = " ".join([str(kind), *(f"'{part}'" for part in rest)])
        return f"{text} when={self.when}" if self.when else text


@dataclass
class _ParsedPage:
    file: str
    key: str
    content: PageContent
    markers: list[_Marker]
    structure_reliable: bool


class _PageParser:
    """Parses one page file; every problem goes to the shared list."""

    def __init__(self, loader: _Loader, file: str, key: str, language: str) -> None:
        self.loader = loader
        self.file = file
        self.key = key
        self.language = language
        self.markers: list[_Marker] = []
        self.structure_reliable = True

    def problem(self, line: int | None, message: str) -> None:
        self.loader.problems.add(self.file, line, message)

    def structure_problem(self, line: int | None, message: str) -> None:
        self.structure_reliable = False
        self.problem(line, message)

    # -- whole page

    def parse(self, text: str) -> _ParsedPage | None:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if lines[0].strip() != "---":
            self.problem(
                1,
                "a page starts with front matter: a line '---', then 'title:' and "
                "'minutes:', then '---'",
            )
            return None
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
        if end is None:
            self.problem(1, "front matter is not closed: add a line '---' after it")
            return None
        front = self._front_matter("\n".join(lines[1:end]))
        blocks = self._blocks(lines[end + 1 :], first_line=end + 2)
        if front is None:
            return None
        title, minutes = front
        texts = [title]
        for block in blocks:
            texts.append(plain_text(block.html))
            texts.extend(plain_text(label) for _, label in block.items)
        content = PageContent(
            language=self.language,
            title=title,
            minutes=minutes,
            blocks=tuple(blocks),
            text=" ".join(" ".join(texts).split()),
        )
        return _ParsedPage(self.file, self.key, content, self.markers, self.structure_reliable)

    def _front_matter(self, source: str) -> tuple[str, int] | None:
        doc = YamlDoc(self.file, source, self.loader.problems, first_line=2)
        if doc.root is None:
            if not any(p.file == self.file for p in self.loader.problems.items):
                self.problem(2, "front matter is empty: it needs 'title:' and 'minutes:'")
            return None
        entries = doc.mapping(doc.root, "front matter")
        if entries is None:
            return None
        doc.check_keys(doc.root, entries, "front matter", required=("title", "minutes"))
        title = doc.text(entries["title"], "title") if "title" in entries else None
        minutes = doc.integer(entries["minutes"], "minutes") if "minutes" in entries else None
        if minutes is not None and not MIN_MINUTES <= minutes <= MAX_MINUTES:
            doc.problem(
                entries["minutes"],
                f"minutes must be between {MIN_MINUTES} and {MAX_MINUTES}, not {minutes}",
            )
            minutes = None
        if title is None or minutes is None:
            return None
        return title, minutes

    # -- splitting the body into Markdown and directives

    def _segments(self, lines: list[str], first_line: int) -> list[_Segment]:
        segments: list[_Segment] = []
        current = _Segment(line=first_line)
        directive: _Segment | None = None
        nested = 0
        fence: tuple[str, int] | None = None
        for index, text in enumerate(lines):
            number = first_line + index
            target = directive or current
            if fence is not None:
                stripped = text.strip()
                char, length = fence
                if stripped and set(stripped) == {char} and len(stripped) >= length:
                    fence = None
                target.lines.append(text)
                continue
            fence_match = _FENCE_RE.match(text)
            if fence_match and not (fence_match.group(1)[0] == "`" and "`" in fence_match.group(2)):
                fence = (fence_match.group(1)[0], len(fence_match.group(1)))
                target.lines.append(text)
                continue
            match = _DIRECTIVE_RE.match(text)
            if match is None:
                target.lines.append(text)
                continue
            rest = match.group(1).strip()
            if not rest:  # a closing :::
                if directive is None:
                    self.structure_problem(number, "':::' closes nothing: no directive is open")
                elif nested:
                    nested -= 1
                    directive.lines.append(text)
                else:
                    segments.append(directive)
                    directive = None
                    current = _Segment(line=number + 1)
                continue
            if directive is not None:
                hint = (
                    ": '::: when' holds Markdown only; give the block its own "
                    "when=<condition> instead"
                    if directive.name == "when"
                    else ""
                )
                self.structure_problem(
                    number,
                    f"directives cannot be nested: '::: {directive.name}' from line "
                    f"{directive.line} is still open{hint}",
                )
                nested += 1
                directive.lines.append(text)
                continue
            segments.append(current)
            name, *args = rest.split(None, 1)
            directive = _Segment(line=number, name=name, args=" ".join(args))
        if directive is not None:
            hint = " (a ``` code block inside it is not closed)" if fence else ""
            self.structure_problem(
                directive.line,
                f"'::: {directive.name}' is never closed: add a line with only ':::'{hint}",
            )
        else:
            segments.append(current)
        return [s for s in segments if s.name or any(line.strip() for line in s.lines)]

    def _blocks(self, lines: list[str], first_line: int) -> list[Block]:
        blocks: list[Block] = []
        for segment in self._segments(lines, first_line):
            if not segment.name:
                html_ = self.markdown("\n".join(segment.lines), segment.line)
                if html_.strip():
                    blocks.append(Block(type="markdown", html=html_))
                continue
            block = self._directive(segment)
            if block is not None:
                blocks.append(block)
        return blocks

    # -- directives

    def _arguments(self, segment: _Segment) -> tuple[dict[str, str], dict[str, str]] | None:
        spec = _DIRECTIVES.get(segment.name)
        if spec is None:
            self.structure_problem(
                segment.line,
                f"unknown block directive '{segment.name}' "
                f"(known: {', '.join(sorted(_DIRECTIVES))})",
            )
            return None
        positional_names, allowed, required = spec
        if segment.name != "when":
            allowed = allowed | {"when"}
        positional: list[str] = []
        options: dict[str, str] = {}
        ok = True
        for word in segment.args.split():
            name, equals, value = word.partition("=")
            if not equals:
                positional.append(word)
            elif name not in allowed:
                self.structure_problem(segment.line, f"'::: {segment.name}' has no option '{name}'")
                ok = False
            elif name in options:
                self.structure_problem(segment.line, f"option '{name}' is given twice")
                ok = False
            else:
                options[name] = value
        wanted = " ".join(f"<{n}>" for n in positional_names)
        if len(positional) != len(positional_names):
            self.structure_problem(
                segment.line, f"write '::: {segment.name} {wanted}' (got '{segment.args}')"
            )
            ok = False
        for name in sorted(required - options.keys()):
            self.structure_problem(segment.line, f"'::: {segment.name}' needs {name}=<...>")
            ok = False
        if not ok:
            return None
        return dict(zip(positional_names, positional, strict=True)), options

    def _condition(self, text: str, line: int) -> str:
        """A block's condition, checked against the declared attributes; "" when broken."""
        problem = self.loader.condition_problem(text)
        if problem is not None:
            self.structure_problem(line, problem)
            return ""
        return text

    def _directive(self, segment: _Segment) -> Block | None:
        arguments = self._arguments(segment)
        if arguments is None:
            return None
        args, options = arguments
        block = self._directive_block(segment, args, options)
        if "when" not in options:
            return block
        when = self._condition(options["when"], segment.line)
        # Every directive block has just added its marker: the languages must agree on it.
        self.markers[-1].when = when
        return dataclasses.replace(block, when=when)

    def _directive_block(
        self, segment: _Segment, args: dict[str, str], options: dict[str, str]
    ) -> Block:
        inner = "\n".join(segment.lines)
        name, line = segment.name, segment.line
        if name == "when":
            when = self._condition(args["condition"], line)
            body = self.markdown(inner, segment.inner_line)
            if not plain_text(body) and "<img" not in body:
                self.problem(line, "'::: when' needs content before its closing ':::'")
            self.markers.append(_Marker(("when",), line, when))
            return Block(type="markdown", html=body, when=when)
        if name in ("questionnaire", "aid"):
            if inner.strip():
                self.problem(line, f"'::: {name}' takes no content: put ':::' on the next line")
            ident = args["id" if name == "questionnaire" else "name"]
            known = self.loader.questionnaires if name == "questionnaire" else self.loader.aids
            if ident not in known:
                listed = ", ".join(sorted(known)) or "none"
                self.problem(line, f"unknown {name} '{ident}' (known: {listed})")
            self.markers.append(_Marker((name, ident), line))
            return Block(type=name, key=ident)
        body = self.markdown(inner, segment.inner_line) if name != "checklist" else ""
        if name != "checklist" and not plain_text(body) and "<img" not in body:
            what = "a transcript" if name in ("video", "audio") else "content"
            self.problem(line, f"'::: {name}' needs {what} before its closing ':::'")
        if name == "callout":
            variant = args["variant"]
            if variant not in CALLOUT_VARIANTS:
                self.structure_problem(
                    line, f"callout must be one of {', '.join(CALLOUT_VARIANTS)}, not '{variant}'"
                )
            self.markers.append(_Marker(("callout", variant), line))
            return Block(type="callout", variant=variant, html=body)
        if name == "exercise":
            key = self._answer_key(args["key"], line)
            max_length = self._max_length(options.get("max_length"), line)
            self.markers.append(_Marker(("exercise", key, max_length), line))
            return Block(type="exercise", key=key, html=body, max_length=max_length)
        if name == "checklist":
            key = self._answer_key(args["key"], line)
            items = self._checklist_items(key, inner, segment.inner_line)
            self.markers.append(_Marker(("checklist", key, len(items)), line))
            return Block(type="checklist", key=key, items=items)
        # video and audio
        src = self._media(args["file"], line, f"{name}/", name)
        captions = ""
        if name == "video":
            captions = self._media(options["captions"], line, "text/vtt", "captions")
        self.markers.append(_Marker((name,), line))
        return Block(type=name, src=src, captions=captions, html=body)

    def _answer_key(self, key: str, line: int) -> str:
        if not SLUG_RE.match(key):
            self.structure_problem(
                line, f"key '{key}' must be lower-case letters, digits and single hyphens"
            )
        return key

    def _max_length(self, raw: str | None, line: int) -> int:
        if raw is None:
            return DEFAULT_MAX_LENGTH
        if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= MAX_MAX_LENGTH:
            self.structure_problem(
                line, f"max_length must be a whole number from 1 to {MAX_MAX_LENGTH}, not '{raw}'"
            )
            return DEFAULT_MAX_LENGTH
        return int(raw)

    def _media(self, raw: str, line: int, content_type: str, what: str) -> str:
        """The URL of a file named relative to ``media/`` by a directive; reports problems."""
        media = self.loader.media_file(posixpath.join("media", raw))
        if media is None:
            self.problem(line, f"{what} file 'media/{raw}' does not exist")
            return ""
        if not media.content_type.startswith(content_type):
            self.problem(line, f"{what} file 'media/{raw}' is {media.content_type}")
        return media.url

    def _checklist_items(
        self, key: str, source: str, first_line: int
    ) -> tuple[tuple[str, str], ...]:
        """One item per entry of a single bullet list; each entry one paragraph of text."""
        env: dict[str, Any] = {}
        tokens = _MD.parse(source, env)
        self._check_tokens(tokens, first_line)
        expected = ["bullet_list_open"]
        labels: list[str] = []
        for token in tokens:
            if token.type not in expected:
                labels = []
                break
            if token.type == "inline":
                labels.append(_RENDERER.renderInline(token.children or [], _MD.options, env))
            expected = _CHECKLIST_NEXT[token.type]
        if not labels or expected != []:
            self.structure_problem(
                first_line - 1,
                "a checklist holds one bullet list ('- item' lines, one paragraph each) "
                "and nothing else",
            )
            return ()
        return tuple(
            (f"{key}-{number}", sanitise_html(label).strip())
            for number, label in enumerate(labels, start=1)
        )

    # -- Markdown

    def markdown(self, source: str, first_line: int) -> str:
        env: dict[str, Any] = {}
        tokens = _MD.parse(source, env)
        self._check_tokens(tokens, first_line)
        return sanitise_html(_RENDERER.render(tokens, _MD.options, env))

    def _check_tokens(self, tokens: list[Token], first_line: int) -> None:
        """Refuse what a page may not contain; point links and images at their targets."""
        line = first_line
        for token in tokens:
            if token.map:
                line = first_line + token.map[0]
            if token.type == "heading_open" and token.tag in ("h1", "h5", "h6"):
                self.problem(
                    line,
                    "use '##' to '####' for headings: the page title is the only top heading"
                    if token.tag == "h1"
                    else "headings go down to '####'; use bold text below that",
                )
            for child in token.children or ():
                if child.type == "image":
                    self._image(child, line)
                elif child.type == "link_open":
                    self._link(child, line)

    def _image(self, token: Token, line: int) -> None:
        src = unquote(str(token.attrGet("src") or ""))
        alt = _RENDERER.renderInlineAsText(token.children or [], _MD.options, {})
        if not alt.strip():
            self.problem(line, f"image '{src}' needs alt text: ![what the image shows]({src})")
        if not src.startswith("media/"):
            self.problem(line, f"image '{src}' must be a file in media/ (write media/<file>)")
            return
        media = self.loader.media_file(src)
        if media is None:
            self.problem(line, f"image file '{src}' does not exist")
        elif not media.content_type.startswith("image/"):
            self.problem(line, f"'{src}' is not an image but {media.content_type}")
        else:
            token.attrSet("src", media.url)

    def _link(self, token: Token, line: int) -> None:
        href = str(token.attrGet("href") or "")
        if href.startswith("page:"):
            target = href.removeprefix("page:")
            if target not in self.loader.page_keys:
                self.problem(line, f"link to unknown page '{target}'")
            else:
                token.attrSet("href", f"../{target}/")
        elif href.startswith("media/"):
            media = self.loader.media_file(unquote(href))
            if media is None:
                self.problem(line, f"linked file '{unquote(href)}' does not exist")
            else:
                token.attrSet("href", media.url)
        elif not _OUTSIDE_LINK_RE.match(href):
            self.problem(
                line,
                f"link '{href}' must be page:<page-key>, media/<file>, "
                "or an https:, mailto: or tel: address",
            )


# --------------------------------------------------------------------------- the folder


@dataclass
class _StepDraft:
    key: str | None
    titles: dict[str, str] | None
    summaries: dict[str, str] | None
    unlock: UnlockRule | None
    pages: list[tuple[str, int]]  # page key and its programme.yaml line
    pages_ok: bool = True  # False when the step's page list could not be read in full
    page_when: dict[str, str] = field(default_factory=dict)  # page key -> its condition


@dataclass
class _AttributeDraft:
    name: str
    values: tuple[str, ...] | None  # None when the list is broken
    questionnaire: str | None = None
    item: str | None = None
    questionnaire_line: int | None = None
    item_line: int | None = None


class _Loader:
    def __init__(
        self, root: Path, questionnaires: AbstractSet[str], aids: AbstractSet[str]
    ) -> None:
        self.root = root
        self.problems = Problems()
        self.questionnaires: set[str] = set(questionnaires)
        self.aids: set[str] = set(aids)
        self.page_keys: set[str] = set()
        self.pages_complete = False
        self.media: dict[str, MediaFile] = {}
        self.questionnaire_files: dict[str, bytes] = {}
        self.parsed_questionnaires: dict[str, Questionnaire | None] = {}
        # Declared attributes (programme.yaml `attributes`); False while that key is broken,
        # so that conditions are checked for their syntax only.
        self.attributes: dict[str, _AttributeDraft] = {}
        self.attributes_known = True

    def condition_problem(self, text: str) -> str | None:
        """What is wrong with a condition (``tobacco:snus|both``), or None."""
        try:
            condition = parse_condition(text)
        except ConditionError as exc:
            return str(exc)
        draft = self.attributes.get(condition.attribute)
        if not self.attributes_known or (draft is not None and draft.values is None):
            return None  # the declaration is broken and reported: the syntax is all we check
        declared = {name: draft.values for name, draft in self.attributes.items() if draft.values}
        try:
            check_condition(text, declared)
        except ConditionError as exc:
            return str(exc)
        return None

    def media_file(self, path: str) -> MediaFile | None:
        normal = posixpath.normpath(path)
        return self.media.get(normal) if normal.startswith("media/") else None

    def read_text(self, relative: str) -> str | None:
        try:
            return (self.root / relative).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problems.add(relative, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        except OSError as exc:
            self.problems.add(relative, None, f"cannot be read: {exc.strerror}")
        return None

    # -- media and questionnaires

    def load_media(self, files: list[str]) -> None:
        for relative in files:
            if not relative.startswith("media/"):
                continue
            suffix = posixpath.splitext(relative)[1].lower()
            content_type = _MEDIA_TYPES.get(suffix)
            if content_type is None:
                guessed = mimetypes.guess_type(relative)[0] or "unknown type"
                self.problems.add(
                    relative,
                    None,
                    f"media files must be one of {', '.join(sorted(_MEDIA_TYPES))}, not {guessed}",
                )
                continue
            data = (self.root / relative).read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            self.media[relative] = MediaFile(relative, sha, content_type, data)

    def load_questionnaires(self, files: list[str], languages: tuple[str, ...] | None) -> None:
        """Validate every ``questionnaires/<id>.yaml`` in the programme's ``languages``.

        With ``languages`` None (programme.yaml is broken) only the YAML syntax is checked.
        """
        # Imported here: the questionnaire parser takes LANGUAGES from this module.
        from steg.questionnaires.parse import parse_questionnaire

        for relative in files:
            if not relative.startswith("questionnaires/"):
                continue
            name = relative.removeprefix("questionnaires/")
            ident, suffix = posixpath.splitext(name)
            if suffix != ".yaml" or "/" in name or not SLUG_RE.match(ident):
                self.problems.add(
                    relative, None, "questionnaires are files questionnaires/<id>.yaml"
                )
                continue
            text = self.read_text(relative)
            if text is None:
                continue
            parsed: Questionnaire | None = None
            if languages is None:
                YamlDoc(relative, text, self.problems)  # reports syntax errors only
            else:
                parsed = parse_questionnaire(
                    relative, text, languages, self.problems, expected_id=ident
                )
            self.parsed_questionnaires[ident] = parsed
            self.questionnaires.add(ident)
            self.questionnaire_files[ident] = (self.root / relative).read_bytes()

    # -- automations.yaml

    def load_automations(
        self,
        files: list[str],
        steps: list[_StepDraft],
        languages: tuple[str, ...] | None,
        parsed: dict[tuple[str, str], _ParsedPage],
    ) -> Automations:
        """Validate the optional ``automations.yaml`` against the rest of the folder.

        Rules may name the programme's own questionnaires and the library instruments its
        pages embed (those are copied into the version). With ``languages`` None
        (programme.yaml is broken) only the YAML syntax is checked.
        """
        if AUTOMATIONS_FILE not in files:
            return Automations()
        text = self.read_text(AUTOMATIONS_FILE)
        if text is None:
            return Automations()
        if languages is None:
            YamlDoc(AUTOMATIONS_FILE, text, self.problems)  # reports syntax errors only
            return Automations()
        # Imported here: the rules reader imports the questionnaire parser, which imports
        # LANGUAGES from this module.
        from steg.automation.rules import load_automations

        questionnaires: dict[str, Questionnaire | None] = dict(self.parsed_questionnaires)
        embedded = {
            block.key
            for page in parsed.values()
            for block in page.content.blocks
            if block.type == "questionnaire"
        }
        for qid in sorted(embedded & self.questionnaires - set(questionnaires)):
            questionnaires[qid] = _library_questionnaire(qid, languages)
        automations = load_automations(
            AUTOMATIONS_FILE,
            text,
            languages=languages,
            steps={step.key: [key for key, _ in step.pages] for step in steps if step.key},
            pages=self.page_keys,
            questionnaires=questionnaires,
            attributes=(
                {name: draft.values for name, draft in self.attributes.items()}
                if self.attributes_known
                else None
            ),
            problems=self.problems,
        )
        return automations or Automations()

    # -- programme.yaml

    def load_manifest(self) -> tuple[dict[str, Any], list[_StepDraft]] | None:
        if not (self.root / PROGRAMME_FILE).is_file():
            self.problems.add(PROGRAMME_FILE, None, "missing: every programme needs one")
            return None
        text = self.read_text(PROGRAMME_FILE)
        if text is None:
            return None
        doc = YamlDoc(PROGRAMME_FILE, text, self.problems)
        if doc.root is None:
            if not self.problems.items:
                self.problems.add(PROGRAMME_FILE, 1, "is empty")
            return None
        entries = doc.mapping(doc.root, "programme")
        if entries is None:
            return None
        doc.check_keys(
            doc.root,
            entries,
            "programme",
            required=(
                "slug",
                "title",
                "description",
                "languages",
                "audience",
                "guidance",
                "steps",
            ),
            optional=("attributes",),
        )
        found: dict[str, Any] = {}
        if "attributes" in entries:
            self._attributes(doc, entries["attributes"])
        languages = self._languages(doc, entries.get("languages"))
        found["languages"] = languages
        if "slug" in entries:
            found["slug"] = doc.slug(entries["slug"], "slug")
        for key, what in (("title", "titles"), ("description", "descriptions")):
            if key in entries:
                found[what] = doc.texts(entries[key], key, languages)
        if "audience" in entries:
            found["audiences"] = doc.texts(entries["audience"], "audience", languages)
        if "guidance" in entries:
            guidance = doc.text(entries["guidance"], "guidance")
            if guidance is not None and guidance not in GUIDANCE_KINDS:
                doc.problem(
                    entries["guidance"],
                    f"guidance must be one of {', '.join(GUIDANCE_KINDS)}, not '{guidance}'",
                )
                guidance = None
            found["guidance"] = guidance
        steps: list[_StepDraft] = []
        if "steps" in entries:
            nodes = doc.sequence(entries["steps"], "steps")
            if nodes is not None and not nodes:
                doc.problem(entries["steps"], "steps: a programme needs at least one step")
            for index, node in enumerate(nodes or []):
                steps.append(self._step(doc, node, index, languages))
        self._check_unique_steps_and_pages(doc, steps)
        return found, steps

    def _languages(self, doc: YamlDoc, node: Node | None) -> tuple[str, ...] | None:
        """The valid languages listed; None when there is no usable list at all."""
        if node is None:
            return None
        nodes = doc.sequence(node, "languages")
        if nodes is None:
            return None
        if not nodes:
            doc.problem(node, "languages: list at least one language")
            return None
        result: list[str] = []
        for item in nodes:
            language = doc.text(item, "language")
            if language is None:
                continue
            if language not in LANGUAGES:
                doc.problem(
                    item, f"language '{language}' is not supported ({', '.join(LANGUAGES)})"
                )
            elif language in result:
                doc.problem(item, f"language '{language}' is listed twice")
            else:
                result.append(language)
        return tuple(result) or None

    def _step(
        self, doc: YamlDoc, node: Node, index: int, languages: tuple[str, ...] | None
    ) -> _StepDraft:
        draft = _StepDraft(None, None, {}, None, [], pages_ok=False)
        what = f"step {index + 1}"
        entries = doc.mapping(node, what)
        if entries is None:
            return draft
        draft.pages_ok = "pages" in entries
        if "key" in entries:
            draft.key = doc.slug(entries["key"], f"{what}: key")
            if draft.key:
                what = f"step '{draft.key}'"
        doc.check_keys(
            node,
            entries,
            what,
            required=("key", "title", "unlock", "pages"),
            optional=("summary",),
        )
        if "title" in entries:
            draft.titles = doc.texts(entries["title"], f"{what}: title", languages)
        if "summary" in entries:
            draft.summaries = doc.texts(entries["summary"], f"{what}: summary", languages)
        if "unlock" in entries:
            draft.unlock = _unlock_rule(doc, entries["unlock"], what)
            if draft.unlock is not None and draft.unlock.kind == "after_previous" and index == 0:
                doc.problem(
                    entries["unlock"], f"{what}: the first step cannot unlock after_previous"
                )
                draft.unlock = None
        if "pages" in entries:
            pages = doc.sequence(entries["pages"], f"{what}: pages")
            if pages is not None and not pages:
                doc.problem(entries["pages"], f"{what}: list at least one page")
            draft.pages_ok = pages is not None
            for page_node in pages or []:
                page_key, when = self._page_entry(doc, page_node, what)
                if page_key is None:
                    draft.pages_ok = False
                else:
                    draft.pages.append((page_key, doc.line(page_node)))
                    if when:
                        draft.page_when[page_key] = when
        return draft

    def _page_entry(self, doc: YamlDoc, node: Node, what: str) -> tuple[str | None, str]:
        """A step's page: its key, or ``{key: <key>, when: <condition>}``."""
        if not isinstance(node, MappingNode):
            return doc.slug(node, f"{what}: page key"), ""
        entries = doc.mapping(node, f"{what}: page")
        if entries is None:
            return None, ""
        doc.check_keys(node, entries, f"{what}: page", required=("key",), optional=("when",))
        if "key" not in entries:
            return None, ""
        page_key = doc.slug(entries["key"], f"{what}: page key")
        when = ""
        if "when" in entries:
            where = f"{what}: page '{page_key}'" if page_key else f"{what}: page"
            text = doc.text(entries["when"], f"{where}: when")
            problem = None if text is None else self.condition_problem(text)
            if problem is not None:
                doc.problem(entries["when"], f"{where}: {problem}")
            elif text is not None:
                when = text
        return page_key, when

    # -- attributes

    def _attributes(self, doc: YamlDoc, node: Node) -> None:
        """``attributes``: name -> ``{values: [...], from: {questionnaire: q, item: i}}``."""
        entries = doc.mapping(node, "attributes")
        if entries is None:
            self.attributes_known = False
            return
        for name, value_node in entries.items():
            what = f"attribute '{name}'"
            if not SLUG_RE.match(name):
                doc.problem(
                    value_node,
                    f"attribute name '{name}' must be lower-case letters, digits and "
                    "single hyphens",
                )
            draft = _AttributeDraft(name, None)
            self.attributes[name] = draft
            fields = doc.mapping(value_node, what)
            if fields is None:
                continue
            doc.check_keys(value_node, fields, what, required=("values",), optional=("from",))
            if "values" in fields:
                draft.values = self._attribute_values(doc, fields["values"], what)
            if "from" in fields:
                self._attribute_source(doc, fields["from"], what, draft)

    def _attribute_values(self, doc: YamlDoc, node: Node, what: str) -> tuple[str, ...] | None:
        nodes = doc.sequence(node, f"{what}: values")
        if nodes is None:
            return None
        if not nodes:
            doc.problem(node, f"{what}: list at least one value")
            return None
        values: list[str] = []
        ok = True
        for item in nodes:
            value = doc.slug(item, f"{what}: value")
            if value is None:
                ok = False
            elif value in values:
                doc.problem(item, f"{what}: value '{value}' is listed twice")
                ok = False
            else:
                values.append(value)
        return tuple(values) if ok else None

    def _attribute_source(
        self, doc: YamlDoc, node: Node, what: str, draft: _AttributeDraft
    ) -> None:
        fields = doc.mapping(node, f"{what}: from")
        if fields is None:
            return
        doc.check_keys(node, fields, f"{what}: from", required=("questionnaire", "item"))
        if "questionnaire" in fields and "item" in fields:
            draft.questionnaire = doc.slug(fields["questionnaire"], f"{what}: from: questionnaire")
            draft.item = doc.text(fields["item"], f"{what}: from: item")
            draft.questionnaire_line = doc.line(fields["questionnaire"])
            draft.item_line = doc.line(fields["item"])

    def check_attribute_sources(self) -> None:
        """Every ``from`` names a choice item of the programme's own questionnaire whose
        option codes include each of the attribute's values."""
        for name, draft in self.attributes.items():
            if draft.questionnaire is None or draft.item is None:
                continue
            what = f"attribute '{name}': from"
            qid = draft.questionnaire
            file = f"questionnaires/{qid}.yaml"
            if qid not in self.parsed_questionnaires:
                self.problems.add(
                    PROGRAMME_FILE,
                    draft.questionnaire_line,
                    f"{what}: questionnaire '{qid}' is not one of the programme's "
                    f"questionnaires ({file} does not exist)",
                )
                continue
            questionnaire = self.parsed_questionnaires[qid]
            if questionnaire is None:
                continue  # its own problems are reported
            item = questionnaire.item(draft.item)
            if item is None:
                self.problems.add(
                    PROGRAMME_FILE,
                    draft.item_line,
                    f"{what}: {file} has no item '{draft.item}'",
                )
            elif item.type != "choice":
                self.problems.add(
                    PROGRAMME_FILE,
                    draft.item_line,
                    f"{what}: item '{draft.item}' of {file} is of type {item.type}; "
                    "an attribute needs a choice item",
                )
            elif item.repeats:
                self.problems.add(
                    PROGRAMME_FILE,
                    draft.item_line,
                    f"{what}: item '{draft.item}' of {file} takes several answers "
                    "(repeats): an attribute has one value",
                )
            else:
                codes = [option.code for option in item.options]
                missing = [value for value in draft.values or () if value not in codes]
                if missing:
                    self.problems.add(
                        PROGRAMME_FILE,
                        draft.item_line,
                        f"{what}: item '{draft.item}' of {file} has no option for "
                        f"{', '.join(repr(v) for v in missing)} (its codes: {', '.join(codes)})",
                    )

    def attribute_specs(self) -> tuple[Attribute, ...]:
        return tuple(
            Attribute(name, draft.values or (), draft.questionnaire or "", draft.item or "")
            for name, draft in self.attributes.items()
        )

    def _check_unique_steps_and_pages(self, doc: YamlDoc, steps: list[_StepDraft]) -> None:
        step_keys: set[str] = set()
        page_lines: dict[str, int] = {}
        for step in steps:
            if step.key is not None:
                if step.key in step_keys:
                    self.problems.add(PROGRAMME_FILE, None, f"step key '{step.key}' is used twice")
                step_keys.add(step.key)
            for page_key, line in step.pages:
                if page_key in page_lines:
                    self.problems.add(
                        PROGRAMME_FILE,
                        line,
                        f"page '{page_key}' is already listed on line {page_lines[page_key]}",
                    )
                else:
                    page_lines[page_key] = line
        self.page_keys = set(page_lines)
        self.pages_complete = bool(steps) and all(step.pages_ok for step in steps)

    # -- pages

    def load_pages(
        self, steps: list[_StepDraft], languages: tuple[str, ...], files: list[str]
    ) -> dict[tuple[str, str], _ParsedPage]:
        parsed: dict[tuple[str, str], _ParsedPage] = {}
        listed: set[str] = set()
        if not self.pages_complete:
            # Some page list is broken: links may name any page file there is, and a
            # file no step lists may well be listed once programme.yaml is fixed.
            self.page_keys |= {
                posixpath.splitext(posixpath.basename(f))[0]
                for f in files
                if f.startswith("pages/")
            }
        for step in steps:
            for page_key, line in step.pages:
                for language in languages:
                    relative = f"pages/{language}/{page_key}.md"
                    listed.add(relative)
                    if relative not in files:
                        self.problems.add(
                            PROGRAMME_FILE,
                            line,
                            f"page '{page_key}' has no '{language}' version: {relative} is missing",
                        )
                        continue
                    text = self.read_text(relative)
                    if text is None:
                        continue
                    page = _PageParser(self, relative, page_key, language).parse(text)
                    if page is not None:
                        parsed[(page_key, language)] = page
        for relative in files if self.pages_complete else ():
            if not relative.startswith("pages/") or relative in listed:
                continue
            parts = relative.split("/")
            if len(parts) != 3 or not relative.endswith(".md"):
                self.problems.add(relative, None, "pages are files pages/<language>/<key>.md")
            elif parts[1] not in languages:
                self.problems.add(
                    relative,
                    None,
                    f"'{parts[1]}' is not one of the programme's languages "
                    f"({', '.join(languages)})",
                )
            else:
                self.problems.add(relative, None, "no step lists this page (add it or remove it)")
        return parsed

    def check_pages_agree(
        self,
        steps: list[_StepDraft],
        languages: tuple[str, ...],
        parsed: dict[tuple[str, str], _ParsedPage],
    ) -> None:
        """Same directive structure in every language; answer keys unique per language."""
        for step in steps:
            for page_key, _ in step.pages:
                versions = [
                    parsed[(page_key, lang)] for lang in languages if (page_key, lang) in parsed
                ]
                reliable = [page for page in versions if page.structure_reliable]
                for other in reliable[1:]:
                    _compare_structure(reliable[0], other, self.problems)
        for language in languages:
            seen: dict[str, tuple[str, int]] = {}
            for step in steps:
                for page_key, _ in step.pages:
                    page = parsed.get((page_key, language))
                    for marker in page.markers if page else ():
                        if marker.signature[0] not in ("exercise", "checklist"):
                            continue
                        answer_key = str(marker.signature[1])
                        if answer_key in seen:
                            first_file, first_line = seen[answer_key]
                            self.problems.add(
                                page.file if page else "",
                                marker.line,
                                f"key '{answer_key}' is already used in "
                                f"{first_file}:{first_line}: exercise and checklist keys "
                                "are unique in a programme",
                            )
                        else:
                            seen[answer_key] = (page.file if page else "", marker.line)


def _compare_structure(first: _ParsedPage, other: _ParsedPage, problems: Problems) -> None:
    for index in range(max(len(first.markers), len(other.markers))):
        mine = first.markers[index] if index < len(first.markers) else None
        theirs = other.markers[index] if index < len(other.markers) else None
        if mine is not None and theirs is not None and mine.same_as(theirs):
            continue
        if theirs is None and mine is not None:
            message = f"{mine.describe()} is missing (it is in {first.file}:{mine.line})"
            line = other.markers[-1].line if other.markers else None
        elif mine is None and theirs is not None:
            message = f"{theirs.describe()} is not in {first.file}"
            line = theirs.line
        elif mine is not None and theirs is not None:
            message = (
                f"block structure differs from {first.file}: expected {mine.describe()} "
                f"(line {mine.line}), found {theirs.describe()}"
            )
            line = theirs.line
        else:  # pragma: no cover - one of the two exists by the loop bound
            return
        problems.add(
            other.file, line, f"{message}; every language needs the same blocks in the same order"
        )
        return


def _library_questionnaire(qid: str, languages: tuple[str, ...]) -> Questionnaire | None:
    """A library instrument a page embeds, in the programme's languages; None when it is not
    in the library or does not parse (the import reports that when it copies it)."""
    from steg.questionnaires.library import library_text
    from steg.questionnaires.parse import parse_questionnaire

    try:
        text = library_text(qid)
    except (KeyError, OSError):
        return None
    return parse_questionnaire(
        f"questionnaires/{qid}.yaml (library)", text, languages, Problems(), expected_id=qid
    )


def _unlock_rule(doc: YamlDoc, node: Node, what: str) -> UnlockRule | None:
    simple = [k for k in UNLOCK_KINDS if k not in _DAY_KINDS]
    forms = f"{', '.join(simple)}, {{days_after_start: N}} or {{days_after_quit_date: N}}"
    if isinstance(node, ScalarNode):
        kind = doc.value(node)
        if kind in simple:
            return UnlockRule(str(kind))
        if kind in _DAY_KINDS:
            doc.problem(node, f"{what}: unlock {kind} needs a number of days: {{{kind}: 7}}")
        else:
            doc.problem(node, f"{what}: unknown unlock rule '{kind}' (use {forms})")
        return None
    if isinstance(node, MappingNode) and len(node.value) == 1:
        entries = doc.mapping(node, f"{what}: unlock")
        if not entries:
            return None
        (kind, days_node) = next(iter(entries.items()))
        if kind not in _DAY_KINDS:
            doc.problem(node, f"{what}: unknown unlock rule '{kind}' (use {forms})")
            return None
        days = doc.value(days_node)
        if days is None:
            doc.problem(days_node, f"{what}: unlock {kind} needs a number of days")
            return None
        if isinstance(days, bool) or not isinstance(days, int):
            doc.problem(days_node, f"{what}: days must be a whole number, not {describe(days)}")
            return None
        if days < 0:
            doc.problem(days_node, f"{what}: days must be 0 or more, not {days}")
            return None
        return UnlockRule(kind, days)
    doc.problem(node, f"{what}: unlock must be one of {forms}")
    return None


def load_programme(
    path: Path,
    *,
    known_questionnaires: AbstractSet[str] = frozenset(),
    known_aids: AbstractSet[str] = frozenset(),
) -> ProgrammeSpec:
    """Read and validate the programme folder at ``path``.

    ``known_questionnaires`` and ``known_aids`` are the ids a page may embed, besides
    the programme's own ``questionnaires/<id>.yaml``; the rules of ``automations.yaml`` may
    name those of the library's that a page embeds. Raises :class:`ProgrammeFormatError`
    with every problem found.
    """
    root = Path(path)
    if not root.is_dir():
        raise ProgrammeFormatError([Problem(str(path), None, "is not a folder")])
    loader = _Loader(root, known_questionnaires, known_aids)
    files = _folder_files(root)
    loader.load_media(files)
    manifest = loader.load_manifest()
    found: dict[str, Any] = {}
    drafts: list[_StepDraft] = []
    parsed: dict[tuple[str, str], _ParsedPage] = {}
    if manifest is not None:
        found, drafts = manifest
    loader.load_questionnaires(files, found.get("languages"))
    loader.check_attribute_sources()
    if manifest is not None and found["languages"] is not None:
        parsed = loader.load_pages(drafts, found["languages"], files)
        loader.check_pages_agree(drafts, found["languages"], parsed)
    automations = loader.load_automations(files, drafts, found.get("languages"), parsed)
    if loader.problems.items or manifest is None:
        problems = sorted(loader.problems.items, key=lambda p: (p.file, p.line or 0))
        raise ProgrammeFormatError(problems)
    languages = found["languages"]
    steps = []
    for draft in drafts:
        if not draft.key or draft.titles is None or draft.unlock is None:  # pragma: no cover
            raise ProgrammeFormatError([Problem(PROGRAMME_FILE, None, "incomplete step")])
        pages = tuple(
            PageSpec(
                key,
                {lang: parsed[(key, lang)].content for lang in languages},
                when=draft.page_when.get(key, ""),
            )
            for key, _ in draft.pages
        )
        steps.append(StepSpec(draft.key, draft.titles, draft.summaries or {}, draft.unlock, pages))
    return ProgrammeSpec(
        slug=found["slug"],
        titles=found["titles"],
        descriptions=found["descriptions"],
        audiences=found["audiences"],
        languages=languages,
        guidance=found["guidance"],
        steps=tuple(steps),
        media=tuple(loader.media[key] for key in sorted(loader.media)),
        questionnaire_files=dict(sorted(loader.questionnaire_files.items())),
        content_hash=content_hash(root),
        attributes=loader.attribute_specs(),
        automations=automations,
    )
