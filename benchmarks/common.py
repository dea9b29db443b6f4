"""Pieces the benchmarks share: their own PostgreSQL database, and their section of
docs/performance.md. Not part of the test suite."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def postgres_database(
    server_url: str, name: str, *, reuse: bool, keep: bool, log: Callable[[str], None]
) -> Iterator[tuple[str, bool]]:
    """A database of the benchmark's own on the server: (its URL, whether it was there already,
    kept by an earlier run with `reuse`). Dropped at the end unless `keep`."""
    import psycopg

    parts = urllib.parse.urlsplit(server_url)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        exists = bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        )
        if exists and not reuse:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created PostgreSQL database {name}")
    try:
        yield parts._replace(path=f"/{name}").geturl(), exists
    finally:
        if keep:
            log(f"kept PostgreSQL database {name}")
        else:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped PostgreSQL database {name}")


def replace_section(path: Path, section: str, start: str, end: str) -> None:
    """Put the section (which begins with `start` and ends with `end`) in place of its earlier
    version in the page, or at the end of the page."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
