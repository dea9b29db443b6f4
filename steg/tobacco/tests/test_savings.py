"""Days tobacco-free, money saved and milestones: the pure function, with time passed in."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steg.tobacco import content
from steg.tobacco.savings import (
    Duration,
    Milestone,
    Profile,
    Savings,
    compute_savings,
    milestone_moment,
    profile_from_answers,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = datetime.UTC


def at(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    *,
    zone: datetime.tzinfo = STOCKHOLM,
) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=zone)


def milestone(key: str, amount: int, unit: str) -> Milestone:
    return Milestone(
        key=key,
        after=Duration(amount, unit),
        when={"sv": key, "en": key},
        text={"sv": key, "en": key},
    )


SMOKING = (
    milestone("20-minutes", 20, "minutes"),
    milestone("8-hours", 8, "hours"),
    milestone("2-days", 2, "days"),
    milestone("2-weeks", 2, "weeks"),
    milestone("1-month", 1, "months"),
    milestone("1-year", 1, "years"),
)
SNUS = (milestone("24-hours", 24, "hours"), milestone("3-months", 3, "months"))
MILESTONES = {"smoking": SMOKING, "snus": SNUS}

SMOKER = Profile(
    product="smoking",
    cigarettes_per_day=Decimal(20),
    cigarettes_per_pack=Decimal(20),
    pack_price=Decimal(70),
)
SNUS_USER = Profile(product="snus", cans_per_week=Decimal(7), can_price=Decimal(55))
BOTH = Profile(
    product="both",
    cigarettes_per_day=Decimal(10),
    cigarettes_per_pack=Decimal(20),
    pack_price=Decimal(70),
    cans_per_week=Decimal("3.5"),
    can_price=Decimal(60),
)


def savings(
    quit_date: datetime.date | None, profile: Profile | None, now: datetime.datetime
) -> Savings:
    return compute_savings(quit_date=quit_date, profile=profile, now=now, milestones=MILESTONES)


# --------------------------------------------------------------------------- days


def test_no_quit_date_yet_gives_no_days_no_money_and_no_milestones() -> None:
    result = savings(None, SMOKER, at(2026, 6, 10, 12))
    assert result.days is None and result.days_until is None
    assert result.money is None and result.cigarettes is None
    assert result.milestones == ()
    assert not result.has_quit_date and not result.started


def test_before_the_quit_date_there_are_no_days_yet_only_days_left() -> None:
    result = savings(datetime.date(2026, 6, 20), SMOKER, at(2026, 6, 10, 12))
    assert result.days is None
    assert result.days_until == 10
    assert result.money is None
    (smoking,) = result.milestones
    assert smoking.reached == ()
    assert smoking.next == SMOKING[0]
    assert smoking.next_at == at(2026, 6, 20, 0, 20).astimezone(UTC)


def test_the_quit_day_itself_is_day_zero() -> None:
    result = savings(datetime.date(2026, 6, 10), SMOKER, at(2026, 6, 10, 0, 0))
    assert result.days == 0
    assert result.money == 0
    assert result.cigarettes == 0


def test_a_day_counts_from_midnight_in_stockholm_not_in_utc() -> None:
    # 22:30 UTC on 10 June is 00:30 on 11 June in Stockholm (summer time, UTC+2).
    now = at(2026, 6, 10, 22, 30, zone=UTC)
    result = savings(datetime.date(2026, 6, 1), SMOKER, now)
    assert result.today == datetime.date(2026, 6, 11)
    assert result.days == 10
    # One minute before midnight in Stockholm it is still the 10th.
    assert savings(datetime.date(2026, 6, 1), SMOKER, at(2026, 6, 10, 21, 59, zone=UTC)).days == 9


def test_midnight_in_winter_is_one_hour_off_utc() -> None:
    quit_date = datetime.date(2026, 1, 1)
    assert savings(quit_date, SMOKER, at(2026, 1, 10, 22, 59, zone=UTC)).days == 9
    assert savings(quit_date, SMOKER, at(2026, 1, 10, 23, 0, zone=UTC)).days == 10


def test_a_quit_date_starting_just_after_utc_midnight_in_stockholm_counts_at_once() -> None:
    # 23:30 UTC on 28 March is already the quit date (29 March, 00:30) in Stockholm.
    result = savings(datetime.date(2026, 3, 29), SMOKER, at(2026, 3, 28, 23, 30, zone=UTC))
    assert result.days == 0
    assert result.milestones[0].reached == (SMOKING[0],)


def test_days_across_the_spring_daylight_saving_change() -> None:
    # Summer time starts at 02:00 on 29 March 2026: that day has 23 hours.
    quit_date = datetime.date(2026, 3, 28)
    assert savings(quit_date, SMOKER, at(2026, 3, 29, 23, 59)).days == 1
    assert savings(quit_date, SMOKER, at(2026, 3, 30, 0, 0)).days == 2
    assert savings(quit_date, SMOKER, at(2026, 3, 29, 22, 0, zone=UTC)).days == 2


def test_days_across_the_autumn_daylight_saving_change() -> None:
    # Summer time ends at 03:00 on 25 October 2026: that day has 25 hours.
    quit_date = datetime.date(2026, 10, 24)
    assert savings(quit_date, SMOKER, at(2026, 10, 25, 23, 30)).days == 1
    assert savings(quit_date, SMOKER, at(2026, 10, 25, 22, 59, zone=UTC)).days == 1
    assert savings(quit_date, SMOKER, at(2026, 10, 25, 23, 0, zone=UTC)).days == 2


def test_hours_are_real_time_on_the_day_the_clocks_go_forward() -> None:
    # Quit date 29 March 2026 starts at 00:00 CET (23:00 UTC the day before). Eight real
    # hours later it is 07:00 UTC, which is 09:00 on the clock after the change at 02:00.
    quit_date = datetime.date(2026, 3, 29)
    assert milestone_moment(quit_date, Duration(8, "hours"), STOCKHOLM) == at(2026, 3, 29, 9)
    before = savings(quit_date, SMOKER, at(2026, 3, 29, 8, 59)).milestones[0]
    assert [m.key for m in before.reached] == ["20-minutes"]
    after = savings(quit_date, SMOKER, at(2026, 3, 29, 9, 0)).milestones[0]
    assert [m.key for m in after.reached] == ["20-minutes", "8-hours"]


def test_hours_are_real_time_on_the_day_the_clocks_go_back() -> None:
    quit_date = datetime.date(2026, 10, 25)
    # 00:00 CEST is 22:00 UTC; eight hours later is 06:00 UTC, 07:00 CET on the clock.
    assert milestone_moment(quit_date, Duration(8, "hours"), STOCKHOLM) == at(2026, 10, 25, 7)


def test_day_milestones_open_at_local_midnight_whatever_the_daylight_saving() -> None:
    quit_date = datetime.date(2026, 3, 28)
    moment = milestone_moment(quit_date, Duration(2, "days"), STOCKHOLM)
    assert moment == at(2026, 3, 30, 0, 0)
    assert moment is not None and moment.utcoffset() == datetime.timedelta(0)


def test_months_and_years_keep_the_day_of_the_month_or_take_the_last_one() -> None:
    assert milestone_moment(datetime.date(2026, 1, 31), Duration(1, "months"), STOCKHOLM) == at(
        2026, 2, 28
    )
    assert milestone_moment(datetime.date(2028, 2, 29), Duration(1, "years"), STOCKHOLM) == at(
        2029, 2, 28
    )
    assert milestone_moment(datetime.date(2026, 5, 15), Duration(3, "months"), STOCKHOLM) == at(
        2026, 8, 15
    )


def test_a_milestone_beyond_the_calendar_is_never_reached() -> None:
    assert milestone_moment(datetime.date(9999, 12, 1), Duration(1, "years"), STOCKHOLM) is None
    result = savings(datetime.date(9999, 12, 1), SMOKER, at(2026, 1, 1))
    assert result.days_until is not None and result.days is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        savings(datetime.date(2026, 1, 1), SMOKER, datetime.datetime(2026, 1, 2))  # noqa: DTZ001


# --------------------------------------------------------------------------- money


def test_money_and_cigarettes_for_a_smoker() -> None:
    result = savings(datetime.date(2026, 6, 1), SMOKER, at(2026, 6, 11, 8))
    assert result.days == 10
    assert result.money == 700  # 20 a day, 20 a pack at 70 kr
    assert result.cigarettes == 200
    assert result.cans is None
    assert result.missing == ()


def test_money_is_rounded_to_whole_kronor_half_up() -> None:
    profile = Profile(
        product="smoking",
        cigarettes_per_day=Decimal(15),
        cigarettes_per_pack=Decimal(19),
        pack_price=Decimal("72.50"),
    )
    # 15 × 72.50 / 19 = 57.236… kr a day; 3 days = 171.71 kr.
    assert savings(datetime.date(2026, 6, 1), profile, at(2026, 6, 4, 8)).money == 172
    half = Profile(
        product="snus", cans_per_week=Decimal(1), can_price=Decimal("3.5")
    )  # 0.5 kr a day
    assert savings(datetime.date(2026, 6, 1), half, at(2026, 6, 2, 8)).money == 1


def test_money_and_cans_for_snus() -> None:
    result = savings(datetime.date(2026, 6, 1), SNUS_USER, at(2026, 6, 11, 8))
    assert result.money == 550  # a can a day at 55 kr
    assert result.cans == 10
    assert result.cigarettes is None
    assert [p.product for p in result.milestones] == ["snus"]


def test_cans_not_used_count_only_whole_cans() -> None:
    profile = Profile(product="snus", cans_per_week=Decimal(2), can_price=Decimal(50))
    result = savings(datetime.date(2026, 6, 1), profile, at(2026, 6, 4, 8))
    assert result.cans == 0  # 3 days × 2/7 = 0.86 cans
    assert result.money == 43  # 2 × 50 / 7 × 3 = 42.86


def test_both_products_add_up_and_show_both_milestone_lists() -> None:
    result = savings(datetime.date(2026, 6, 1), BOTH, at(2026, 6, 15, 8))
    # 10 cigarettes at 3.50 = 35 kr, 3.5 cans a week at 60 kr = 30 kr: 65 kr a day, 14 days.
    assert result.money == 910
    assert result.cigarettes == 140
    assert result.cans == 7
    assert [p.product for p in result.milestones] == ["smoking", "snus"]
    smoking, snus = result.milestones
    assert [m.key for m in smoking.reached] == ["20-minutes", "8-hours", "2-days", "2-weeks"]
    assert smoking.next is not None and smoking.next.key == "1-month"
    assert [m.key for m in snus.reached] == ["24-hours"]
    assert snus.next_at == at(2026, 9, 1).astimezone(UTC)


def test_missing_answers_leave_the_money_unknown_and_say_which() -> None:
    profile = Profile(product="both", cigarettes_per_day=Decimal(10), cans_per_week=Decimal(2))
    result = savings(datetime.date(2026, 6, 1), profile, at(2026, 6, 5, 8))
    assert result.money is None
    assert result.missing == ("cigarettes-per-pack", "pack-price", "can-price")
    assert result.cigarettes == 40  # what is known is still counted
    assert result.cans == 1


def test_zero_cigarettes_per_pack_is_missing_not_a_division_by_zero() -> None:
    profile = Profile(
        product="smoking",
        cigarettes_per_day=Decimal(10),
        cigarettes_per_pack=Decimal(0),
        pack_price=Decimal(70),
    )
    result = savings(datetime.date(2026, 6, 1), profile, at(2026, 6, 5, 8))
    assert result.money is None and result.missing == ("cigarettes-per-pack",)


def test_no_profile_yet_still_counts_days_but_not_money_or_milestones() -> None:
    result = savings(datetime.date(2026, 6, 1), None, at(2026, 6, 5, 8))
    assert result.days == 4
    assert result.money is None and result.missing == ()
    assert result.milestones == ()


def test_a_changed_quit_date_is_simply_recomputed() -> None:
    now = at(2026, 6, 20, 8)
    first = savings(datetime.date(2026, 6, 10), SMOKER, now)
    later = savings(datetime.date(2026, 6, 15), SMOKER, now)
    earlier = savings(datetime.date(2026, 6, 1), SMOKER, now)
    assert (first.days, later.days, earlier.days) == (10, 5, 19)
    assert (first.money, later.money, earlier.money) == (700, 350, 1330)
    moved = savings(datetime.date(2026, 6, 25), SMOKER, now)
    assert moved.days is None and moved.days_until == 5
    # Back to the first date: the same result as before, nothing was lost.
    assert savings(datetime.date(2026, 6, 10), SMOKER, now) == first


@given(
    quit_date=st.dates(datetime.date(2000, 1, 1), datetime.date(2040, 12, 31)),
    now=st.datetimes(
        datetime.datetime(2000, 1, 1),  # noqa: DTZ001
        datetime.datetime(2041, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_properties_of_days_and_money(quit_date: datetime.date, now: datetime.datetime) -> None:
    result = savings(quit_date, SMOKER, now)
    local_today = now.astimezone(STOCKHOLM).date()
    if local_today < quit_date:
        assert result.days is None and result.days_until == (quit_date - local_today).days
        assert all(p.reached == () for p in result.milestones)
    else:
        assert result.days == (local_today - quit_date).days
        assert result.money == 70 * result.days
        reached = result.milestones[0].reached
        assert reached == SMOKING[: len(reached)]  # reached in order, none skipped


# --------------------------------------------------------------------------- the profile


def test_profile_from_stored_answers() -> None:
    profile = profile_from_answers(
        {
            "product": ("both",),
            "cigarettes-per-day": (12,),
            "cigarettes-per-pack": (20,),
            "pack-price": (Decimal("69.90"),),
            "cans-per-week": (Decimal("2.5"),),
            "can-price": (Decimal(58),),
        }
    )
    assert profile == Profile(
        product="both",
        cigarettes_per_day=Decimal(12),
        cigarettes_per_pack=Decimal(20),
        pack_price=Decimal("69.90"),
        cans_per_week=Decimal("2.5"),
        can_price=Decimal(58),
    )


@pytest.mark.parametrize("product", [(), ("pipe",), (True,)])
def test_no_profile_without_a_known_product(product: tuple[object, ...]) -> None:
    assert profile_from_answers({"product": product, "cigarettes-per-day": (10,)}) is None


def test_answers_that_are_not_numbers_or_negative_are_left_out() -> None:
    profile = profile_from_answers(
        {"product": ("smoking",), "cigarettes-per-day": ("ten",), "pack-price": (Decimal(-5),)}
    )
    assert profile == Profile(product="smoking")


# --------------------------------------------------------------------------- the shipped data


def test_the_shipped_milestones_work_with_the_calculation() -> None:
    data = content.milestones()
    assert [m.key for m in data.by_product["smoking"]][:2] == ["20-minutes", "8-hours"]
    result = compute_savings(
        quit_date=datetime.date(2026, 1, 1),
        profile=BOTH,
        now=at(2041, 1, 1),
        milestones=data.by_product,
    )
    smoking, snus = result.milestones
    assert smoking.next is None and len(smoking.reached) == len(data.by_product["smoking"])
    assert snus.next is None
