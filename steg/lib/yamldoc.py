"""A YAML document that keeps line numbers, and the problems found reading it.

Content files (programme folders, questionnaires) are validated in full before anything is
stored: every problem is collected, with its file and line, so that an author fixes a broken
file in one round. :class:`YamlDoc` composes a document into nodes (so every value keeps its
line) and offers checked readers (``mapping``, ``texts``, ``integer`` ...) that report what is
wrong to a shared :class:`Problems` and return None. :class:`ProgrammeFormatError` carries the
problems out to the caller.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "BAD",
    "SLUG_RE",
    "Problem",
    "ProgrammeFormatError",
    "Problems",
    "YamlDoc",
    "describe",
]

#: Identifiers of content: lower-case letters, digits and single hyphens.
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a content file. ``file`` is relative to the content folder."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class ProgrammeFormatError(Exception):
    """The content is not valid; ``problems`` lists everything found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class Problems:
    """Every problem found so far, in the order found."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str, line: int | None, message: str) -> None:
        self.items.append(Problem(file, line, message))


def describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false (put text in quotes)"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, datetime.datetime):
        return "a date and time"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


BAD = object()


class YamlDoc:
    """A YAML document composed into nodes, so that every value keeps its line number."""

    def __init__(
        self,
        file: str,
        text: str,
        problems: Problems,
        first_line: int = 1,
        *,
        owner: str = "programme",
    ) -> None:
        self.file = file
        self.problems = problems
        # Whose languages the texts are checked against, for messages ("the programme's").
        self.owner = owner
        self.offset = first_line - 1
        self.root: Node | None = None
        try:
            # The reader refuses control characters already here.
            self._loader = yaml.SafeLoader(text)
            self.root = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = None if mark is None else mark.line + 1 + self.offset
            message = " ".join(part for part in (exc.context, exc.problem) if part)
            if "flow" in message:
                message += "; inside { } or [ ], put text that holds ?, :, # or a comma in quotes"
            problems.add(file, line, f"YAML syntax error: {message or exc}")
        except yaml.YAMLError as exc:
            problems.add(file, first_line, f"YAML syntax error: {exc}")
        except RecursionError:
            problems.add(file, first_line, "YAML syntax error: nested too deeply")

    def line(self, node: Node) -> int:
        return int(node.start_mark.line) + 1 + self.offset

    def problem(self, node: Node | None, message: str) -> None:
        self.problems.add(self.file, None if node is None else self.line(node), message)

    def value(self, node: Node) -> object:
        try:
            return self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            self.problem(node, f"invalid value: {exc}")
            return BAD

    def mapping(self, node: Node | None, what: str) -> dict[str, Node] | None:
        """The entries of a mapping node by key; reports duplicate and non-text keys."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping of keys to values")
            return None
        entries: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                self.problem(key_node, f"{what}: keys must be text, not {describe(key)}")
            elif key in entries:
                self.problem(key_node, f"{what}: '{key}' is given twice")
            else:
                entries[key] = value_node
        return entries

    def key_line(self, node: Node, key: str) -> int:
        if isinstance(node, MappingNode):
            for key_node, _ in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == key:
                    return self.line(key_node)
        return self.line(node)

    def check_keys(
        self,
        node: Node,
        entries: dict[str, Node],
        what: str,
        required: Iterable[str],
        optional: Iterable[str] = (),
    ) -> None:
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in entries:
            if key not in allowed:
                self.problems.add(
                    self.file,
                    self.key_line(node, key),
                    f"{what}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})",
                )
        for key in required:
            if key not in entries:
                self.problem(node, f"{what}: missing required key '{key}'")

    def text(self, node: Node, what: str) -> str | None:
        value = self.value(node)
        if value is BAD:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(node, f"{what} must be non-empty text, not {describe(value)}")
            return None
        return value.strip()

    def integer(self, node: Node, what: str) -> int | None:
        value = self.value(node)
        if value is BAD:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(node, f"{what} must be a whole number, not {describe(value)}")
            return None
        return value

    def slug(self, node: Node, what: str) -> str | None:
        value = self.text(node, what)
        if value is not None and not SLUG_RE.match(value):
            self.problem(
                node, f"{what} '{value}' must be lower-case letters, digits and single hyphens"
            )
            return None
        return value

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list")
            return None
        return list(node.value)

    def texts(
        self, node: Node, what: str, languages: Sequence[str] | None
    ) -> dict[str, str] | None:
        """Text per language: a mapping with exactly one entry for every language.

        With ``languages`` None (the list itself is broken) only the texts are checked.
        """
        entries = self.mapping(node, f"{what} (text per language)")
        if entries is None:
            return None
        result: dict[str, str] = {}
        ok = True
        for language, value_node in entries.items():
            if languages is not None and language not in languages:
                self.problems.add(
                    self.file,
                    self.key_line(node, language),
                    f"{what}: '{language}' is not one of the {self.owner}'s languages "
                    f"({', '.join(languages)})",
                )
                ok = False
                continue
            text = self.text(value_node, f"{what} ({language})")
            if text is None:
                ok = False
            else:
                result[language] = text
        for language in languages or ():
            if language not in entries:
                self.problem(node, f"{what}: missing translation for '{language}'")
                ok = False
        return result if ok else None
