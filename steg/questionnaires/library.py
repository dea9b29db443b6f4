"""The platform's instrument library: validated questionnaires any programme may embed.

The library is the folder ``questionnaires/`` at the root of the repository, one file
``<id>.yaml`` per instrument, in the format of ``docs/questionnaires.md``. A programme's page
embeds one with ``::: questionnaire <id>``, exactly as it embeds its own; on import the text is
copied into the programme version, so a later change to the library never changes what an
enrolment already answers.
"""

from __future__ import annotations

from pathlib import Path

from steg.lib.yamldoc import SLUG_RE
from steg.questionnaires.definition import Questionnaire
from steg.questionnaires.parse import load_questionnaire_text

__all__ = ["LIBRARY_DIR", "library_ids", "library_questionnaire", "library_text"]

LIBRARY_DIR = Path(__file__).resolve().parents[2] / "questionnaires"


def library_ids() -> frozenset[str]:
    """The ids of the instruments in the library (the names of its ``<id>.yaml`` files)."""
    if not LIBRARY_DIR.is_dir():
        return frozenset()
    return frozenset(
        path.stem
        for path in LIBRARY_DIR.glob("*.yaml")
        if path.is_file() and SLUG_RE.match(path.stem)
    )


def library_text(ident: str) -> str:
    """The YAML text of the library instrument ``ident``; KeyError when there is none."""
    if ident not in library_ids():
        raise KeyError(ident)
    return (LIBRARY_DIR / f"{ident}.yaml").read_text(encoding="utf-8-sig")


def library_questionnaire(ident: str) -> Questionnaire:
    """The library instrument ``ident``, parsed in its own languages.

    Raises KeyError when there is no such instrument and ProgrammeFormatError when its file
    is broken.
    """
    return load_questionnaire_text(
        library_text(ident), f"questionnaires/{ident}.yaml", expected_id=ident
    )
