"""The one-call scan that lets string_findings skip its walk never skips a flagged string."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dcn.plan.types import SECRET_PREFIX
from dcn.validate.names import _all_plain, _strings

#: characters that JSON escapes, that are not printable, and plain ones
_CHARS = ['"', "\\", "\t", "\n", "\x00", "\x1f", "\x7f", "\x85", "\u2028", "\ud800", "é", "a", " "]


def _flagged(data: Any) -> bool:
    """What the walk reports on: a string (or key) not printable or with the placeholder."""
    return any(not t.isprintable() or SECRET_PREFIX in t for _, t in _strings(data, ()))


def _text(rng: random.Random) -> str:
    text = "".join(rng.choice("abc-_.:/ 0123") for _ in range(rng.randrange(8)))
    if rng.random() < 0.3:
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice([*_CHARS, SECRET_PREFIX, SECRET_PREFIX[:-1]]) + text[at:]
    return text


def _data(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 3 or kind < 0.4:
        return rng.choice([_text(rng), 3, 2.5, True, None])
    if kind < 0.7:
        return [_data(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_text(rng): _data(rng, depth + 1) for _ in range(rng.randrange(4))}


@pytest.mark.parametrize("seed", range(5))
def test_scan_never_passes_a_flagged_string(seed: int) -> None:
    rng = random.Random(seed)
    passed = 0
    for _ in range(2000):
        data = {"sites": [_data(rng)]}
        if _all_plain(data):
            passed += 1
            assert not _flagged(data), data
    assert passed > 100  # plain data does take the quick path


def test_scan_answers_no_for_data_json_cannot_write() -> None:
    assert not _all_plain({"a": {1, 2}})
    assert not _all_plain({("x",): "y"})
    assert _all_plain({"sites": [{"name": "dcn1", "count": 3, "ok": True}]})
