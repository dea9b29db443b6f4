"""The questionnaires of a programme version, parsed once per process.

A version's questionnaire files were validated when the version was imported and never
change (versions are immutable), so the parsed definitions are cached by version id and
content hash.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from .definition import Questionnaire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from steg.programmes.models import ProgrammeVersion


def questionnaires_of(version: ProgrammeVersion) -> Mapping[str, Questionnaire]:
    """Every questionnaire of the version, by id, in file-name order."""
    return _parse_all(version.pk, version.content_hash, version)


def get_questionnaire(version: ProgrammeVersion, questionnaire_id: str) -> Questionnaire | None:
    return questionnaires_of(version).get(questionnaire_id)


@lru_cache(maxsize=64)
def _parse_all(
    version_id: int, content_hash: str, version: ProgrammeVersion
) -> Mapping[str, Questionnaire]:
    from steg.lib.yamldoc import Problems

    from .parse import parse_questionnaire

    result: dict[str, Questionnaire] = {}
    for qid, text in sorted(version.questionnaire_files.items()):
        problems = Problems()
        parsed = parse_questionnaire(
            f"questionnaires/{qid}.yaml",
            text,
            tuple(version.languages),
            problems,
            expected_id=qid,
        )
        if parsed is None or problems.items:  # pragma: no cover - refused at import
            raise ValueError(f"questionnaire {qid} of version {version_id} does not parse")
        result[qid] = parsed
    return MappingProxyType(result)


def clear_cache() -> None:
    _parse_all.cache_clear()
