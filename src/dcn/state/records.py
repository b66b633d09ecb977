"""What the state store hands out and takes in: plain frozen values, never ORM objects.

Callers get snapshots that outlive the session that read them, so no lazy load or
detached-instance error can surprise them, and none of these ever prints a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dcn.plan.types import ExportVersion


class GenerationStatus(StrEnum):
    """Where one recorded plan of a stack is in its life."""

    PLANNED = "planned"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    FAILED = "failed"
    REMOVING = "removing"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class NewGeneration:
    """One plan to record as the next generation of a stack."""

    stack: str
    kind: str
    az: str
    input_digest: str
    plan_digest: str
    #: the StackPlan as canonical JSON (stored compressed)
    plan_json: str = field(repr=False)
    node_count: int
    status: GenerationStatus = GenerationStatus.PLANNED
    #: control plane only: digest of the outputs edges consume
    outputs_digest: str | None = None
    #: edge only: the control-plane outputs this plan was computed from
    consumed_export: ExportVersion | tuple[str, int, str] | None = None

    def consumed(self) -> ExportVersion | None:
        c = self.consumed_export
        return c if c is None or isinstance(c, ExportVersion) else ExportVersion(*c)


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    """A recorded generation without its plan body; `plan_json()` reads it on demand."""

    stack: str
    kind: str
    az: str
    number: int
    status: GenerationStatus
    input_digest: str
    plan_digest: str
    node_count: int
    outputs_digest: str | None
    consumed_export: ExportVersion | None
    run_id: str | None
    created_at: datetime
    updated_at: datetime
    _plan_loader: Callable[[], str] = field(repr=False, compare=False)

    def plan_json(self) -> str:
        """The recorded StackPlan as JSON (read and decompressed only when asked)."""
        return self._plan_loader()


@dataclass(frozen=True, slots=True)
class PlanHead:
    """A stack's newest generation as planning compares it; `plan_json()` reads its plan."""

    number: int
    input_digest: str
    plan_digest: str
    _plan_loader: Callable[[], str] = field(repr=False, compare=False)

    def plan_json(self) -> str:
        return self._plan_loader()


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One line of `dcn status`: a stack and its latest generation."""

    site: str
    kind: str
    az: str
    nodes: int
    status: GenerationStatus
    generation: int
    consumed: ExportVersion | None
    #: the edge consumed other outputs than its control plane's latest generation has
    stale: bool
    updated_at: datetime
    last_event_at: datetime | None

    @property
    def consumed_export(self) -> str | None:
        return str(self.consumed) if self.consumed else None


@dataclass(frozen=True, slots=True)
class EventRecord:
    stack: str
    generation: int | None
    at: datetime
    kind: str
    host: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ExportRecord:
    stack: str
    generation: int
    digest: str
    path: str
    scope: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a deployment's write lock; printed when another process wants it."""

    deployment: str
    holder: str
    pid: int
    host: str
    since: datetime

    def __str__(self) -> str:
        when = self.since.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.holder} (pid {self.pid} on {self.host}, since {when})"
