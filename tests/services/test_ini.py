"""INI rendering and override merging: order, value spelling, purity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dcn.services import ini
from tests.services.conftest import parse_ini


def test_default_first_then_given_order_and_oslo_value_spelling() -> None:
    text = ini.render(
        {
            "zeta": {"enabled": True, "off": False},
            "DEFAULT": {"host": "n1", "workers": 2},
            "alpha": {"drivers": ["flat", "vlan"], "empty": "", "none": []},
        }
    )
    assert text == (
        "[DEFAULT]\nhost = n1\nworkers = 2\n\n"
        "[zeta]\nenabled = True\noff = False\n\n"
        "[alpha]\ndrivers = flat,vlan\nempty =\nnone =\n"
    )
    parsed = parse_ini(text)
    assert parsed.sections() == ["DEFAULT", "zeta", "alpha"]
    assert dict(parsed["DEFAULT"]) == {"host": "n1", "workers": "2"}
    assert parsed["alpha"]["drivers"] == "flat,vlan"
    assert parsed["alpha"]["empty"] == ""


def test_flag_options_read_back() -> None:
    text = ini.render({"mysqld": {"skip-name-resolve": ini.FLAG, "port": 3306}})
    assert "\nskip-name-resolve\n" in text
    parsed = parse_ini(text)
    assert parsed["mysqld"]["skip-name-resolve"] is None
    assert parsed["mysqld"]["port"] == "3306"


def test_merge_adds_replaces_removes_in_order_without_touching_inputs() -> None:
    base = {"DEFAULT": {"a": 1, "b": 2}, "x": {"k": "v"}}
    first = {"DEFAULT": {"b": 3, "c": 4}, "new": {"n": True}}
    second = {"DEFAULT": {"c": 5, "a": None}}
    merged = ini.merge(base, first, second)
    assert merged == {"DEFAULT": {"b": 3, "c": 5}, "x": {"k": "v"}, "new": {"n": True}}
    assert list(merged) == ["DEFAULT", "x", "new"]
    assert base == {"DEFAULT": {"a": 1, "b": 2}, "x": {"k": "v"}}
    assert first == {"DEFAULT": {"b": 3, "c": 4}, "new": {"n": True}}


def test_merge_without_overrides_is_the_base() -> None:
    base = {"DEFAULT": {"a": 1}}
    assert ini.merge(base) is base
    assert ini.merge(base, {}, {"s": {}}) is base


def test_flat_files_take_options_from_any_override_section() -> None:
    base = {"heartbeat": 60, "loopback_users": "none"}
    merged = ini.merge_flat(base, {"rabbit": {"heartbeat": 30}, "x": {"loopback_users": None}})
    assert merged == {"heartbeat": 30}
    assert ini.render_flat(merged) == "heartbeat = 30\n"
    assert base == {"heartbeat": 60, "loopback_users": "none"}


def test_rendering_is_deterministic() -> None:
    sections = {"DEFAULT": {"a": [1, 2]}, "b": {"c": "d"}}
    assert ini.render(sections) == ini.render({k: dict(v) for k, v in sections.items()})


_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_values = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.from_regex(r"[A-Za-z0-9:/@.,*_-]{0,20}", fullmatch=True),
)


@given(st.dictionaries(_names, st.dictionaries(_names, _values, max_size=5), max_size=5))
def test_round_trip_through_a_parser(sections: dict[str, dict[str, object]]) -> None:
    parsed = parse_ini(ini.render(sections))
    assert parsed.sections() == sorted(sections, key=lambda s: s != "DEFAULT")
    for name, options in sections.items():
        assert dict(parsed[name]) == {k: ini.value_text(v) for k, v in options.items()}
