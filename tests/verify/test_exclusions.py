"""The exclusion list: valid regexes with reasons, written as stestr reads it."""

from __future__ import annotations

import re

import pytest

from dcn.verify.exclusions import EXCLUSIONS, Exclusion, exclude_list, excluded


def test_each_exclusion_is_a_regex_with_a_reason() -> None:
    assert EXCLUSIONS
    for item in EXCLUSIONS:
        re.compile(item.pattern)
        assert item.pattern.startswith(r"^tempest\.")
        assert "#" not in item.pattern
        assert len(item.reason) > 20
    assert len({e.pattern for e in EXCLUSIONS}) == len(EXCLUSIONS)


def test_exclude_list_reads_back_as_stestr_reads_it() -> None:
    """stestr's exclusion_reader: per line, the regex before the first '#'."""
    text = exclude_list()
    patterns = [line.split("#")[0].strip() for line in text.splitlines()]
    assert patterns == [e.pattern for e in EXCLUSIONS]
    assert text.endswith("\n")


def test_excluded_finds_the_reason() -> None:
    test_id = (
        "tempest.api.compute.admin.test_hypervisor.HypervisorAdminTestJSON"
        ".test_get_hypervisor_uptime[id-91a50d7d-1c2b-4f24-b55a-a1fe20efca70]"
    )
    item = excluded(test_id)
    assert item is not None and "uptime" in item.reason
    assert excluded(test_id.replace("uptime", "stats")) is None


@pytest.mark.parametrize("pattern", ["^tempest\\.a # b", "^tempest\\.a\n"])
def test_a_pattern_stestr_would_cut_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        exclude_list((Exclusion(pattern, "a reason long enough"),))
