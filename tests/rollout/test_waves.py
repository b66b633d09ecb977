"""Waves: the canary alone first, then waves of up to max_parallel, sorted by name."""

from __future__ import annotations

import pytest

from dcn.errors import DcnError
from dcn.rollout.waves import Options, plan_waves

SITES = [f"dcn{i:02d}" for i in range(12, 0, -1)]  # given out of order


def test_waves_of_max_parallel_sorted_by_name() -> None:
    waves = plan_waves(SITES, Options(max_parallel=5))
    assert [len(w) for w in waves] == [5, 5, 2]
    assert [s for w in waves for s in w] == sorted(SITES)


def test_the_canary_is_alone_first() -> None:
    waves = plan_waves(SITES, Options(max_parallel=4, canary=1))
    assert waves[0] == ("dcn01",)
    assert [len(w) for w in waves] == [1, 4, 4, 3]
    assert [s for w in waves for s in w] == sorted(SITES)


def test_a_canary_larger_than_the_rollout_is_all_of_it() -> None:
    assert plan_waves(["b", "a"], Options(canary=3)) == [("a", "b")]


def test_each_site_once_and_nothing_for_nothing() -> None:
    assert plan_waves(["b", "a", "b"], Options(max_parallel=1)) == [("a",), ("b",)]
    assert plan_waves([], Options(canary=2)) == []


def test_the_default_is_five_at_once_without_canary() -> None:
    options = Options()
    assert (options.max_parallel, options.canary, options.max_failures) == (5, 0, 0)
    assert not options.smoke


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"max_parallel": 0}, "--max-parallel"),
        ({"canary": -1}, "--canary"),
        ({"max_failures": -2}, "--max-failures"),
    ],
)
def test_impossible_options_are_clear_errors(kwargs: dict, named: str) -> None:
    with pytest.raises(DcnError, match=named):
        Options(**kwargs)


def test_options_survive_the_store_and_ignore_unknown_keys() -> None:
    options = Options(max_parallel=3, canary=1, max_failures=2, smoke=True)
    assert Options.from_dict({**options.as_dict(), "later": 1}) == options
