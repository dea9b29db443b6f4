"""Tobacco-free days, money saved and health milestones: pure functions over plain data.

Nothing here reads the clock or the database: the caller passes ``now`` (an aware datetime),
the quit date and the patient's profile (from the questionnaire ``tobacco-profile``). Every
result is recomputed from those, so a changed quit date changes the counts and nothing is lost.

* Days tobacco-free are whole calendar days in Stockholm time since the quit date: 0 on the
  quit date itself, 1 from the next local midnight, and none before the quit date.
* Money saved is the daily cost (cigarettes per day × pack price ÷ cigarettes per pack, plus
  cans per week × can price ÷ 7) times the days tobacco-free, rounded to whole kronor; the
  cigarettes not smoked and cans not used are counted down to whole ones.
* Milestones count from the start of the quit date (local midnight). Minutes and hours are
  real elapsed time (a daylight-saving change moves them on the clock); days, weeks, months
  and years are calendar days, starting at local midnight.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from steg.programmes.unlock import local_midnight

__all__ = [
    "DURATION_UNITS",
    "PRODUCTS",
    "PROFILE_FIELDS",
    "Duration",
    "Milestone",
    "MilestoneProgress",
    "Profile",
    "Savings",
    "compute_savings",
    "milestone_moment",
    "profile_from_answers",
]

ZONE = "Europe/Stockholm"
PRODUCTS = ("smoking", "snus", "both")
DURATION_UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
# The linkIds of the questionnaire `tobacco-profile` that each product needs.
SMOKING_FIELDS = ("cigarettes-per-day", "cigarettes-per-pack", "pack-price")
SNUS_FIELDS = ("cans-per-week", "can-price")
PROFILE_FIELDS = ("product", *SMOKING_FIELDS, *SNUS_FIELDS)

_MINUTES_PER_UNIT = {
    "minutes": 1,
    "hours": 60,
    "days": 24 * 60,
    "weeks": 7 * 24 * 60,
    "months": 30 * 24 * 60,
    "years": 365 * 24 * 60,
}


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # one of DURATION_UNITS

    @property
    def approximate_minutes(self) -> int:
        """For ordering only (a month counts as 30 days, a year as 365)."""
        return self.amount * _MINUTES_PER_UNIT[self.unit]


@dataclass(frozen=True)
class Milestone:
    key: str
    after: Duration
    when: Mapping[str, str]  # label per language, such as "After 8 hours"
    text: Mapping[str, str]  # what has happened, per language
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class MilestoneProgress:
    product: str  # "smoking" or "snus"
    reached: tuple[Milestone, ...]
    next: Milestone | None
    next_at: datetime.datetime | None  # aware, UTC


@dataclass(frozen=True)
class Profile:
    """What the patient used, from the questionnaire ``tobacco-profile``."""

    product: str  # one of PRODUCTS
    cigarettes_per_day: Decimal | None = None
    cigarettes_per_pack: Decimal | None = None
    pack_price: Decimal | None = None
    cans_per_week: Decimal | None = None
    can_price: Decimal | None = None

    @property
    def smokes(self) -> bool:
        return self.product in ("smoking", "both")

    @property
    def uses_snus(self) -> bool:
        return self.product in ("snus", "both")

    @property
    def milestone_products(self) -> tuple[str, ...]:
        return tuple(p for p, used in (("smoking", self.smokes), ("snus", self.uses_snus)) if used)


@dataclass(frozen=True)
class Savings:
    quit_date: datetime.date | None
    today: datetime.date  # in Stockholm
    days: int | None  # whole days tobacco-free; None without a quit date or before it
    days_until: int | None  # days left until a quit date in the future
    profile: Profile | None
    money: int | None  # whole kronor; None when unknown
    cigarettes: int | None  # not smoked
    cans: int | None  # not used
    missing: tuple[str, ...]  # linkIds of tobacco-profile the money needs but lacks
    milestones: tuple[MilestoneProgress, ...]

    @property
    def has_quit_date(self) -> bool:
        return self.quit_date is not None

    @property
    def started(self) -> bool:
        return self.days is not None


def _number(values: Sequence[object] | None) -> Decimal | None:
    """The first answer as a Decimal when it is a number of 0 or more; else None."""
    if not values:
        return None
    value = values[0]
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        return None
    return number


def profile_from_answers(answers: Mapping[str, Sequence[object]]) -> Profile | None:
    """The profile in answers to ``tobacco-profile`` (by linkId); None without a known product."""
    product_answer = answers.get("product") or ()
    product = product_answer[0] if product_answer else None
    if product not in PRODUCTS:
        return None
    assert isinstance(product, str)  # noqa: S101 - narrowed by the membership test
    return Profile(
        product=product,
        cigarettes_per_day=_number(answers.get("cigarettes-per-day")),
        cigarettes_per_pack=_number(answers.get("cigarettes-per-pack")),
        pack_price=_number(answers.get("pack-price")),
        cans_per_week=_number(answers.get("cans-per-week")),
        can_price=_number(answers.get("can-price")),
    )


def _add_months(day: datetime.date, months: int) -> datetime.date | None:
    """The same day ``months`` later; the month's last day where it is shorter (31 Jan + 1
    month is 28 or 29 Feb). None beyond the calendar."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        return None
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def milestone_moment(
    quit_date: datetime.date, after: Duration, zone: ZoneInfo
) -> datetime.datetime | None:
    """When a milestone is reached (aware, UTC); None beyond the calendar."""
    start = local_midnight(quit_date, 0, zone)
    if start is None:
        return None
    try:
        if after.unit == "minutes":
            return start + datetime.timedelta(minutes=after.amount)
        if after.unit == "hours":
            return start + datetime.timedelta(hours=after.amount)
        if after.unit == "days":
            return local_midnight(quit_date, after.amount, zone)
        if after.unit == "weeks":
            return local_midnight(quit_date, 7 * after.amount, zone)
        months = after.amount * (12 if after.unit == "years" else 1)
        day = _add_months(quit_date, months)
        return None if day is None else local_midnight(day, 0, zone)
    except OverflowError:
        return None


def _progress(
    product: str,
    milestones: Sequence[Milestone],
    quit_date: datetime.date,
    now: datetime.datetime,
    zone: ZoneInfo,
) -> MilestoneProgress:
    reached: list[Milestone] = []
    for milestone in milestones:
        moment = milestone_moment(quit_date, milestone.after, zone)
        if moment is not None and now >= moment:
            reached.append(milestone)
            continue
        return MilestoneProgress(product, tuple(reached), milestone, moment)
    return MilestoneProgress(product, tuple(reached), None, None)


def _daily_cost(profile: Profile) -> tuple[Decimal | None, tuple[str, ...]]:
    """Kronor per day, and the linkIds missing to know it."""
    missing: list[str] = []
    cost = Decimal(0)
    if profile.smokes:
        per_day, per_pack, price = (
            profile.cigarettes_per_day,
            profile.cigarettes_per_pack,
            profile.pack_price,
        )
        missing += [
            link_id
            for link_id, value in zip(SMOKING_FIELDS, (per_day, per_pack, price), strict=True)
            if value is None or (link_id == "cigarettes-per-pack" and value == 0)
        ]
        if per_day is not None and per_pack and price is not None:
            cost += per_day * price / per_pack
    if profile.uses_snus:
        per_week, can_price = profile.cans_per_week, profile.can_price
        missing += [
            link_id
            for link_id, value in zip(SNUS_FIELDS, (per_week, can_price), strict=True)
            if value is None
        ]
        if per_week is not None and can_price is not None:
            cost += per_week * can_price / 7
    return (None if missing else cost), tuple(missing)


def _whole(value: Decimal, rounding: str) -> int:
    return int(value.quantize(Decimal(1), rounding=rounding))


def compute_savings(
    *,
    quit_date: datetime.date | None,
    profile: Profile | None,
    now: datetime.datetime,
    milestones: Mapping[str, Sequence[Milestone]],
    zone: str = ZONE,
) -> Savings:
    """What the patient has gained by ``now``. ``milestones`` maps "smoking" and "snus" to
    their milestones in time order. ValueError when ``now`` is naive."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    tz = ZoneInfo(zone)
    now = now.astimezone(datetime.UTC)
    today = now.astimezone(tz).date()
    days: int | None = None
    days_until: int | None = None
    if quit_date is not None:
        if today >= quit_date:
            days = (today - quit_date).days
        else:
            days_until = (quit_date - today).days
    money = cigarettes = cans = None
    missing: tuple[str, ...] = ()
    progress: tuple[MilestoneProgress, ...] = ()
    if profile is not None:
        daily, missing = _daily_cost(profile)
        if days is not None:
            if daily is not None:
                money = _whole(daily * days, ROUND_HALF_UP)
            if profile.smokes and profile.cigarettes_per_day is not None:
                cigarettes = _whole(profile.cigarettes_per_day * days, ROUND_FLOOR)
            if profile.uses_snus and profile.cans_per_week is not None:
                cans = _whole(profile.cans_per_week * days / 7, ROUND_FLOOR)
        if quit_date is not None:
            progress = tuple(
                _progress(product, milestones.get(product, ()), quit_date, now, tz)
                for product in profile.milestone_products
            )
    return Savings(
        quit_date=quit_date,
        today=today,
        days=days,
        days_until=days_until,
        profile=profile,
        money=money,
        cigarettes=cigarettes,
        cans=cans,
        missing=missing,
        milestones=progress,
    )
