"""A system check: the tobacco aids' data files are valid (`manage.py check`, at start-up)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from .content import problems_in_data


@checks.register()
def data_files_are_valid(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"{problem}",
            hint="Fix the file; the medication list, savings and craving aids need it.",
            id="tobacco.E001",
        )
        for problem in problems_in_data()
    ]
