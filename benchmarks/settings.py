"""Steg's own settings plus the benchmark's minimal baseline page.

Only ROOT_URLCONF and the template folders differ from `steg.settings`, so the baseline
page runs through exactly the same middleware stack, session engine and database as Steg.
"""

from __future__ import annotations

import os
from typing import Any

from steg.settings import *  # noqa: F403
from steg.settings import BASE_DIR, DATABASES
from steg.settings import TEMPLATES as STEG_TEMPLATES

ROOT_URLCONF = "benchmarks.urls"

_engine: dict[str, Any] = dict(STEG_TEMPLATES[0])
_engine["DIRS"] = [*_engine["DIRS"], BASE_DIR / "benchmarks" / "templates"]
TEMPLATES = [_engine]

# `programme_pages.py --conn-max-age N` tries persistent database connections (Steg's own
# settings keep them for PostgreSQL only; SQLite connects anew for every request).
if os.environ.get("BENCH_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
