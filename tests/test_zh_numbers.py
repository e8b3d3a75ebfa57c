"""Chinese and mixed numerals: the forms customers write budgets and positions in."""

from __future__ import annotations

import re

import pytest

from core.zh_numbers import NUMBER, find_numbers, parse_number, parse_value, trailing_scale


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("五百", 500), ("两千", 2000), ("一千五", 1500), ("一千五百", 1500), ("十", 10), ("二十五", 25),
        ("十五", 15), ("一百零五", 105), ("一千零五", 1005), ("两百五", 250), ("三千二", 3200),
        ("一万五", 15000), ("一万五千", 15000), ("十万", 100000), ("1.5万", 15000), ("3千", 3000),
        ("3千5", 3500), ("2k", 2000), ("2K", 2000), ("1.5k", 1500), ("1,500", 1500), ("500", 500),
        ("3.5", 3.5), ("两", 2), ("零", 0), ("千", 1000), ("万", 10000), ("二零二一", 2021),
        ("壹佰", 100), (" 五百 ", 500),
    ],
)
def test_exact_values(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("两三百", 200, 300), ("三四千", 3000, 4000), ("一两千", 1000, 2000), ("五六十", 50, 60),
        ("十五六", 15, 16), ("一千五六", 1500, 1600), ("两三", 2, 3),
    ],
)
def test_approximate_ranges(text: str, low: float, high: float) -> None:
    assert parse_number(text) == (low, high)
    assert parse_value(text) == (low + high) / 2


@pytest.mark.parametrize("text", ["", "abc", "五百块", "一二三四" * 20, "k", "第二", "1.2.3", "十十十"])
def test_not_numerals(text: str) -> None:
    assert parse_number(text) is None


def test_digit_strings_without_units() -> None:
    assert parse_number("三五") == 35  # not a range: the digits are not one apart
    assert parse_number("一二三") == 123


@pytest.mark.parametrize(("text", "scale"), [("五千", 1000), ("10k", 1000), ("500", 1), ("三万", 10000), ("", 1)])
def test_trailing_scale(text: str, scale: int) -> None:
    assert trailing_scale(text) == scale


def test_find_numbers_in_text() -> None:
    found = [token for _, _, token in find_numbers("我想买500元以内的，两三百块也行，1.5万的不要")]
    assert found == ["500", "两三百", "1.5万"]


def test_number_pattern_stays_fast_on_long_numeral_runs() -> None:
    # Bounded and atomic: scanning a long run is linear, never catastrophic.
    pattern = re.compile(NUMBER + r"元")
    assert pattern.search("一" * 20000) is None
    assert pattern.search("9" * 20000) is None
