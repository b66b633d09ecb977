"""Line confinement of rendered text: no value may start a new line in a file dcn writes.

Readers split lines on more than ``\\n``: Python's universal newlines (oslo.config,
configparser) also break on ``\\r``, and ``str.splitlines`` on ``\\v \\f \\x1c-\\x1e
\\x85 \\u2028 \\u2029``. A value holding any of them, or another control character,
could inject a section, an option or a hosts entry into every node. Validation
refuses such values at the description (rule DCN109); this module is the last line
of defence in the renderers, so a bug or an unvalidated path still cannot inject.
"""

from __future__ import annotations

import re

#: control characters (C0 but tab, DEL, C1) and the Unicode line/paragraph separators
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
#: the same, with tab: names (sections, options, hosts, labels) never hold a tab
UNSAFE_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: UNSAFE less the line feed: for text already joined by line feeds
_UNSAFE_BUT_LF = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def describe(char: str) -> str:
    """A character as an operator reads it in a message: ``U+000D (carriage return)``."""
    names = {"\n": "line feed", "\r": "carriage return", "\t": "tab", "\x00": "NUL"}
    name = names.get(char, "line separator" if char in "\u2028\u2029\x85" else "control")
    return f"U+{ord(char):04X} ({name})"


def unsafe_char(text: str, *, tab: bool = True) -> str | None:
    """The first character of `text` that must not be in one line of a file, or None."""
    match = (UNSAFE if tab else UNSAFE_IN_NAME).search(text)
    return match.group() if match else None


def join_lines(lines: list[str], what: str) -> str:
    """`lines` joined by ``\\n`` and ending with one; ValueError if any of them is not one line.

    One pass over the joined text (a C loop) instead of a check per value: this
    runs for every file of every node.
    """
    if not lines:
        return ""
    text = "\n".join(lines)
    if text.count("\n") != len(lines) - 1 or _UNSAFE_BUT_LF.search(text):
        for line in lines:
            bad = unsafe_char(line)
            if bad is not None:
                raise ValueError(
                    f"{what}: {describe(bad)} in {line[:60]!r} would start a new line; "
                    "validation should have refused it (rule DCN109)"
                )
        raise ValueError(f"{what}: a line break inside a value")
    return text + "\n"


def comment_safe(text: str) -> str:
    """`text` with every unsafe character escaped (``\\r`` -> ``\\\\r``), for comments."""
    return UNSAFE_IN_NAME.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
