"""Text made safe to write where a secret must not go (crash reports).

The state store remembers every secret value it opens or generates in this process,
so a report can replace them even where they hide in an exception's message; URL
passwords and SQL parameters are masked whatever they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "<hidden>"
_known: set[str] = set()
#: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]*@")
#: SQLAlchemy's "[parameters: ...]" and PostgreSQL's "DETAIL: Key (...)=(...)" lines
_SQL_LINES = re.compile(r"^\s*(\[parameters:|DETAIL:).*$", re.MULTILINE)
_MIN_LENGTH = 4


def remember(values: Iterable[str]) -> None:
    """Values to replace in any report this process writes (short ones would mask noise)."""
    _known.update(v for v in values if len(v) >= _MIN_LENGTH)


def redact(text: str) -> str:
    for value in sorted(_known, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    return _SQL_LINES.sub(lambda m: f"{m.group(1)} {MASK}", text)
