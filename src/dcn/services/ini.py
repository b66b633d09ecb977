"""INI rendering and operator overrides, without templates: it runs for every node.

A file is ``dict[section, dict[option, value]]``. Rendering keeps the given order
(``DEFAULT`` first) so equal inputs give byte-equal files, and writes values the
way oslo.config reads them: ``True``/``False`` for booleans, lists joined by commas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from dcn.lines import describe, join_lines, unsafe_char

Sections = dict[str, dict[str, Any]]
#: an option name oslo.config, configparser, my.cnf and cuttlefish all read as one name:
#: no ``=``/``:`` (they end the name), no space, not a comment (``#``, ``;``)
OPTION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class _Flag:
    """An option written as a bare name (``skip-name-resolve`` in my.cnf)."""

    def __repr__(self) -> str:
        return "FLAG"


#: value of an option that is written without ``= value``
FLAG: Final = _Flag()


def value_text(value: Any) -> str:
    """One option value as text, the way oslo.config parses it back."""
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, str):
        # no continuation lines: nothing dcn renders needs one, and an operator's line
        # break could start an option or a section (checked once per file in `_text`)
        return value
    if isinstance(value, list | tuple):
        return ",".join(value_text(v) for v in value)
    return str(value)


@lru_cache(maxsize=4096)
def check_section(name: str) -> str:
    """`name` if it reads back as one section header; ValueError otherwise."""
    bad = unsafe_char(name, tab=False)
    if bad is not None or not name or "]" in name or "[" in name or name != name.strip():
        what = describe(bad) if bad else "a bracket, or no name, or surrounding spaces"
        raise ValueError(
            f"INI section name {name[:60]!r} has {what}: it would end the header or start a "
            "new section; validation should have refused it (rule DCN602)"
        )
    return name


@lru_cache(maxsize=16384)
def check_option(name: str) -> str:
    """`name` if it reads back as one option name; ValueError otherwise."""
    if OPTION.fullmatch(name) is None:
        raise ValueError(
            f"INI option name {name[:60]!r} is not letters, digits, '_', '.' and '-': "
            "it could end the name early ('=', ':') or start another line; validation "
            "should have refused it (rule DCN602)"
        )
    return name


def _lines(out: list[str], options: Mapping[str, Any]) -> None:
    for option, value in options.items():
        check_option(option)
        if value is FLAG:
            out.append(option)
            continue
        text = value_text(value)
        out.append(f"{option} = {text}" if text else f"{option} =")


def render(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """The file's text: sections in the given order, ``DEFAULT`` first, one blank line apart."""
    out: list[str] = []
    default = sections.get("DEFAULT")
    if default is not None:
        out.append("[DEFAULT]")
        _lines(out, default)
    for name, options in sections.items():
        if name == "DEFAULT":
            continue
        if out:
            out.append("")
        out.append(f"[{check_section(name)}]")
        _lines(out, options)
    return join_lines(out, "INI file")


def render_flat(options: Mapping[str, Any]) -> str:
    """A section-less ``key = value`` file (rabbitmq.conf's sysctl-like format)."""
    out: list[str] = []
    _lines(out, options)
    return join_lines(out, "flat config file")


def merge(base: Sections, *overrides: Mapping[str, Mapping[str, Any]]) -> Sections:
    """`base` with each override applied in order; inputs are not modified.

    An override may add sections and options or replace values; a value of ``None``
    removes the option, so an operator can drop a setting dcn writes. Untouched
    sections are shared with `base`, not copied (this runs for every node).
    """
    result = base
    copied = False
    for override in overrides:
        for section, options in override.items():
            if not options:
                continue
            if not copied:
                result = dict(base)
                copied = True
            merged = dict(result.get(section, {}))
            for option, value in options.items():
                if value is None:
                    merged.pop(option, None)
                else:
                    merged[option] = value
            result[section] = merged
    return result


def merge_flat(base: dict[str, Any], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`merge` for a section-less file: the overrides' section names only group options."""
    flat = {k: v for options in overrides.values() for k, v in options.items()}
    return merge({"": base}, {"": flat})[""]
