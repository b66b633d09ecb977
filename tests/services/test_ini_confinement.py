"""The renderer refuses what could start a new line or section, whatever validation let by."""

from __future__ import annotations

import pytest

from dcn.lines import comment_safe, join_lines
from dcn.services import ini

#: every character str.splitlines or universal newlines break a line at, and NUL
BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\0"]


@pytest.mark.parametrize("brk", BREAKS, ids=[repr(b) for b in BREAKS])
def test_value_with_a_line_break_is_refused(brk: str) -> None:
    value = f"true{brk}[database]{brk}connection = mysql://evil"
    with pytest.raises(ValueError, match="would start a new line"):
        ini.render({"DEFAULT": {"debug": value}})
    with pytest.raises(ValueError, match="would start a new line"):
        ini.render_flat({"heartbeat": value})


def test_a_tab_in_a_value_is_kept() -> None:
    assert ini.render({"DEFAULT": {"x": "a\tb"}}) == "[DEFAULT]\nx = a\tb\n"


@pytest.mark.parametrize("section", ["DEFAULT]\n[database", "a]b", "", " s", "a\rb", "[x"])
def test_section_that_would_end_the_header_is_refused(section: str) -> None:
    with pytest.raises(ValueError, match="section name"):
        ini.render({section: {"x": 1}})


@pytest.mark.parametrize("option", ["a=b", "a:b", "a b", "#x", ";x", "a\nb", "", "transport_url ="])
def test_option_outside_the_syntax_is_refused(option: str) -> None:
    with pytest.raises(ValueError, match="option name"):
        ini.render({"DEFAULT": {option: 1}})


def test_values_in_lists_are_checked_too() -> None:
    with pytest.raises(ValueError, match="new line"):
        ini.render({"DEFAULT": {"drivers": ["a", "b\nc = d"]}})


def test_hosts_lines_and_comments_cannot_be_injected() -> None:
    with pytest.raises(ValueError, match="/etc/hosts"):
        join_lines(["10.0.0.1 a.localdomain\r10.9.9.9 keystone", "10.0.0.2 b"], "/etc/hosts")
    assert join_lines(["a", "b"], "x") == "a\nb\n" and join_lines([], "x") == ""
    assert comment_safe("x.yaml\n[evil]: 1") == "x.yaml\\n[evil]: 1"
