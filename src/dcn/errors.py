"""Errors and findings that the command line turns into clear messages.

Every problem the operator can fix is a `DcnError` (one problem) or a list of
`Finding` (validation). Both carry where (file, line, field), what is wrong and how
to fix it, so the CLI never needs to show a traceback for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """Where in the description something is: file, 1-based line and column, field path."""

    file: str
    line: int | None = None
    column: int | None = None
    field: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation result with a stable rule id (for example ``DCN103``)."""

    rule: str
    name: str
    severity: Severity
    message: str
    fix: str
    location: Location

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": str(self.severity),
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "field": self.location.field,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass
class DcnError(Exception):
    """A problem the operator can act on: what is wrong, where, and what to do next."""

    message: str
    hint: str = ""
    location: Location | None = None
    findings: list[Finding] = field(default_factory=list)
    exit_code: int = 2

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}"


class DescriptionError(DcnError):
    """The deployment description cannot be read or is invalid."""


class StateError(DcnError):
    """The state store is missing, locked, or inconsistent with the request."""


class ExportError(DcnError):
    """An export file cannot be written or read."""
