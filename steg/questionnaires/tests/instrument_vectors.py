"""Test vectors for the library instruments: answers and the score they must give.

Each vector is a complete set of answers (``linkId -> (option code,)``), the total that the
published scoring gives for them, the band that total falls in (None for an instrument
without bands) and the flags it raises. The points come from the original papers:

- FTND: Heatherton TF, Kozlowski LT, Frecker RC, Fagerström KO. Br J Addict.
  1991;86(9):1119-27. Bands after Fagerström KO, Heatherton TF, Kozlowski LT. Ear Nose
  Throat J. 1990;69(11):763-5; the flag at a total of 7 or more.
- FTND-ST: Ebbert JO, Patten CA, Schroeder DR. Addict Behav. 2006;31(9):1716-21 (no bands).

``test_instruments`` checks every vector against the points in the files; the scoring tests
check that scoring a response gives ``total``, ``band`` and ``flags``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from steg.questionnaires.definition import Answers


class Vector(NamedTuple):
    answers: Answers
    total: Decimal
    band: str | None
    flags: tuple[str, ...] = ()


def _ftnd(
    first: str, forbidden: str, hate: str, per_day: str, first_hours: str, ill: str
) -> Answers:
    return {
        "first-cigarette": (first,),
        "forbidden-places": (forbidden,),
        "hate-most": (hate,),
        "per-day": (per_day,),
        "first-hours": (first_hours,),
        "when-ill": (ill,),
    }


def _ftnd_st(
    first: str, swallow: str, hate: str, per_week: str, first_hours: str, ill: str
) -> Answers:
    return {
        "first-dip": (first,),
        "swallow-juice": (swallow,),
        "hate-most": (hate,),
        "per-week": (per_week,),
        "first-hours": (first_hours,),
        "when-ill": (ill,),
    }


FTND_VECTORS: tuple[Vector, ...] = (
    # The lowest answer everywhere: 0 + 0 + 0 + 0 + 0 + 0.
    Vector(_ftnd("after-60", "no", "any-other", "10-or-less", "no", "no"), Decimal(0), "very-low"),
    # The highest answer everywhere: 3 + 1 + 1 + 3 + 1 + 1.
    Vector(
        _ftnd("within-5", "yes", "first-in-morning", "31-or-more", "yes", "yes"),
        Decimal(10),
        "very-high",
        ("medication",),
    ),
    # 0 + 0 + 0 + 1 + 1 + 0: the top of "very low".
    Vector(_ftnd("after-60", "no", "any-other", "11-20", "yes", "no"), Decimal(2), "very-low"),
    # 2 + 0 + 0 + 1 + 0 + 0
    Vector(_ftnd("6-30", "no", "any-other", "11-20", "no", "no"), Decimal(3), "low"),
    # 3 + 0 + 0 + 0 + 1 + 0
    Vector(_ftnd("within-5", "no", "any-other", "10-or-less", "yes", "no"), Decimal(4), "low"),
    # 1 + 1 + 1 + 1 + 0 + 1
    Vector(_ftnd("31-60", "yes", "first-in-morning", "11-20", "no", "yes"), Decimal(5), "medium"),
    # 3 + 0 + 1 + 2 + 0 + 0
    Vector(_ftnd("within-5", "no", "first-in-morning", "21-30", "no", "no"), Decimal(6), "high"),
    # 3 + 1 + 1 + 1 + 1 + 0: the flag starts at 7.
    Vector(
        _ftnd("within-5", "yes", "first-in-morning", "11-20", "yes", "no"),
        Decimal(7),
        "high",
        ("medication",),
    ),
    # 2 + 1 + 1 + 3 + 1 + 0
    Vector(
        _ftnd("6-30", "yes", "first-in-morning", "31-or-more", "yes", "no"),
        Decimal(8),
        "very-high",
        ("medication",),
    ),
)

FTND_ST_VECTORS: tuple[Vector, ...] = (
    # The lowest answer everywhere: 0 + 0 + 0 + 0 + 0 + 0.
    Vector(_ftnd_st("after-60", "never", "any-other", "1", "no", "no"), Decimal(0), None),
    # The highest answer everywhere: 3 + 2 + 1 + 2 + 1 + 1.
    Vector(
        _ftnd_st("within-5", "always", "first-in-morning", "more-than-3", "yes", "yes"),
        Decimal(10),
        None,
    ),
    # 0 + 2 + 0 + 0 + 0 + 1
    Vector(_ftnd_st("after-60", "always", "any-other", "1", "no", "yes"), Decimal(3), None),
    # 2 + 1 + 0 + 1 + 0 + 0
    Vector(_ftnd_st("6-30", "sometimes", "any-other", "2-3", "no", "no"), Decimal(4), None),
    # 1 + 0 + 1 + 2 + 1 + 0
    Vector(
        _ftnd_st("31-60", "never", "first-in-morning", "more-than-3", "yes", "no"),
        Decimal(5),
        None,
    ),
    # 3 + 1 + 1 + 1 + 1 + 0
    Vector(
        _ftnd_st("within-5", "sometimes", "first-in-morning", "2-3", "yes", "no"),
        Decimal(7),
        None,
    ),
    # 2 + 2 + 1 + 2 + 1 + 0
    Vector(
        _ftnd_st("6-30", "always", "first-in-morning", "more-than-3", "yes", "no"),
        Decimal(8),
        None,
    ),
)

VECTORS: dict[str, tuple[Vector, ...]] = {"ftnd": FTND_VECTORS, "ftnd-st": FTND_ST_VECTORS}
