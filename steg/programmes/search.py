"""Full-text search over a programme version's pages in one language.

SQLite (the embedded default) uses an FTS5 table; PostgreSQL uses its text search with the
Swedish or English configuration over an expression index (migration 0002).

The index holds each page's whole text. The caller keeps only the pages the patient is shown;
on a page where blocks are hidden from the patient (by their condition), :func:`within`
checks the hit against the text they are shown and makes its snippet from that text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import PageContent, ProgrammeVersion

PG_CONFIG = {"sv": "swedish", "en": "english"}
MAX_RESULTS = 20
SNIPPET_WORDS = 24
_WORD = re.compile(r"\w+", re.UNICODE)
_START, _END = "\x02", "\x03"


@dataclass(frozen=True)
class Hit:
    page_id: int
    title: str
    snippet: SafeString


def index_version(version: ProgrammeVersion) -> None:
    """Add a newly imported version's pages to the search index (SQLite only)."""
    if connection.vendor != "sqlite":
        return
    rows = PageContent.objects.filter(page__version=version).values_list(
        "pk", "page__version_id", "language", "title", "text"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO programmes_pagecontent_fts(rowid, version_id, language, title, text) "
            "VALUES (%s, %s, %s, %s, %s)",
            list(rows),
        )


def _terms(query: str) -> list[str]:
    return _WORD.findall(query.lower())[:10]


def _safe_snippet(raw: str) -> SafeString:
    """Escape everything, then turn our private markers into <mark>."""
    text = escape(html.unescape(raw))
    return mark_safe(text.replace(_START, "<mark>").replace(_END, "</mark>"))  # noqa: S308


def within(hit: Hit, title: str, text: str, query: str) -> Hit | None:
    """The hit, if every term of ``query`` begins a word of ``title`` or ``text`` (the part
    of a page a patient is shown), with a snippet from ``text``; otherwise None.

    Prefix matching, like the SQLite index; it can be stricter than PostgreSQL's stemming,
    so a hit may be dropped there, never one made up.
    """
    terms = _terms(query)
    words = _WORD.findall(f"{title} {text}".lower())
    if not terms or not all(any(w.startswith(t) for w in words) for t in terms):
        return None

    def matches(word: str) -> bool:
        return any(word.lower().startswith(term) for term in terms)

    tokens = text.split()
    first = next(
        (i for i, token in enumerate(tokens) if any(map(matches, _WORD.findall(token)))), 0
    )
    start = max(0, first - SNIPPET_WORDS // 3)
    window = " ".join(tokens[start : start + SNIPPET_WORDS])
    marked = _WORD.sub(
        lambda m: f"{_START}{m.group()}{_END}" if matches(m.group()) else m.group(), window
    )
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + SNIPPET_WORDS < len(tokens) else ""
    return Hit(hit.page_id, hit.title, _safe_snippet(prefix + marked + suffix))


def search(version: ProgrammeVersion, language: str, query: str) -> list[Hit]:
    terms = _terms(query)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _search_postgresql(version, language, terms)
    return _search_sqlite(version, language, terms)


def _search_sqlite(version: ProgrammeVersion, language: str, terms: list[str]) -> list[Hit]:
    # Each term quoted (no FTS syntax from users) and matched as a prefix: "abstinens*".
    match = " ".join('"' + term.replace('"', "") + '"*' for term in terms)
    sql = (
        "SELECT c.page_id, f.title, snippet(programmes_pagecontent_fts, 3, %s, %s, '…', 24) "
        "FROM programmes_pagecontent_fts f "
        "JOIN programmes_pagecontent c ON c.id = f.rowid "
        "WHERE programmes_pagecontent_fts MATCH %s AND f.version_id = %s AND f.language = %s "
        "ORDER BY bm25(programmes_pagecontent_fts, 0, 0, 5.0, 1.0) LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_START, _END, match, version.pk, language, MAX_RESULTS])
        rows = cursor.fetchall()
    return [Hit(page_id, title, _safe_snippet(snippet)) for page_id, title, snippet in rows]


def _search_postgresql(version: ProgrammeVersion, language: str, terms: list[str]) -> list[Hit]:
    # The configuration is spelled out (from our own table, never from input) so that the
    # per-language expression index of migration 0002 applies.
    config = PG_CONFIG.get(language, "simple")
    document = f"to_tsvector('{config}', c.title || ' ' || c.text)"
    sql = (
        f"SELECT c.page_id, c.title, ts_headline('{config}', c.text, q, %s) "  # noqa: S608
        "FROM programmes_pagecontent c "
        "JOIN programmes_page p ON p.id = c.page_id, "
        f"to_tsquery('{config}', %s) q "
        f"WHERE p.version_id = %s AND c.language = %s AND {document} @@ q "
        f"ORDER BY ts_rank({document}, q) DESC LIMIT %s"
    )
    options = f"StartSel={_START}, StopSel={_END}, MaxWords=30, MinWords=12, MaxFragments=1"
    tsquery = " & ".join(term + ":*" for term in terms)
    with connection.cursor() as cursor:
        cursor.execute(sql, [options, tsquery, version.pk, language, MAX_RESULTS])
        rows = cursor.fetchall()
    return [Hit(page_id, title, _safe_snippet(snippet)) for page_id, title, snippet in rows]
