"""Fail when a Swedish translation is missing, fuzzy, or not compiled into the .mo file, or
when the code has a message that `make messages` has not extracted into the .po file yet
(which a Swedish user would see in English)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polib  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent


# As `make messages` runs it.
MAKEMESSAGES = ("makemessages", "-l", "sv", "--ignore", ".venv*", "--ignore", "staticfiles")


def not_extracted(po_path: Path) -> list[str]:
    """Messages in the code that the .po file lacks: extracts them as `make messages` does,
    compares, and puts the file back as it was."""
    before = po_path.read_bytes()
    known = {(e.msgctxt, e.msgid) for e in polib.pofile(before.decode()) if not e.obsolete}
    try:
        subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
            [sys.executable, str(ROOT / "manage.py"), *MAKEMESSAGES],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        extracted = polib.pofile(str(po_path))
    finally:
        po_path.write_bytes(before)
    return [
        f"{po_path}: not extracted: {entry.msgid!r} ({entry.occurrences[0][0]}); "
        "run `make messages` and translate it"
        for entry in extracted
        if not entry.obsolete and (entry.msgctxt, entry.msgid) not in known
    ]


def main() -> int:
    problems: list[str] = []
    problems += not_extracted(ROOT / "locale" / "sv" / "LC_MESSAGES" / "django.po")
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        if po_path.parent.parent.name == "en":
            continue
        po = polib.pofile(str(po_path))
        mo_path = po_path.with_suffix(".mo")
        for entry in po:
            if entry.obsolete:
                continue
            if "fuzzy" in entry.flags:
                problems.append(f"{po_path}:{entry.linenum}: fuzzy: {entry.msgid!r}")
            elif not (entry.msgstr or all(entry.msgstr_plural.values()) and entry.msgstr_plural):
                problems.append(f"{po_path}:{entry.linenum}: untranslated: {entry.msgid!r}")
        if not mo_path.exists():
            problems.append(f"{mo_path}: missing; run `make messages`")
            continue
        compiled = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(mo_path))}
        for entry in po.translated_entries():
            mo_entry = compiled.get((entry.msgctxt, entry.msgid))
            if mo_entry is None or (mo_entry.msgstr or "") != (entry.msgstr or ""):
                problems.append(f"{mo_path}: out of date for {entry.msgid!r}; run `make messages`")
                break
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} translation problem(s)", file=sys.stderr)
        return 1
    print("Translations complete and compiled.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
