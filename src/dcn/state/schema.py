"""Tables of the state store (SQLAlchemy 2.0 typed ORM).

Kept portable between SQLite and PostgreSQL: plain types, statuses stored as strings
(no native enum to migrate), times stored as naive UTC and handed back aware.
Bump `SCHEMA_VERSION` with every change and add a migration step in `connect.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dcn.state.records import GenerationStatus

#: 2: site_seen and drill (new tables only: created by create_all)
#: 3: secret values sealed (AES-GCM, key file), secret.imported, redeploy marks
#: 4: rollout and rollout_site (new tables only: created by create_all)
SCHEMA_VERSION = 4

_NAME = 255
_DIGEST = 80


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("state store times must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the store itself, such as its schema version."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(_NAME))


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Stack(Base):
    """One site's stack; its history is in `generation`."""

    __tablename__ = "stack"
    __table_args__ = (UniqueConstraint("deployment_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(_NAME))
    kind: Mapped[str] = mapped_column(String(32))
    az: Mapped[str] = mapped_column(String(_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Generation(Base):
    """One recorded plan of a stack (numbered 1, 2, 3... per stack) and its fate."""

    __tablename__ = "generation"
    __table_args__ = (UniqueConstraint("stack_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stack_id: Mapped[int] = mapped_column(ForeignKey("stack.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[GenerationStatus] = mapped_column(
        Enum(
            GenerationStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        )
    )
    input_digest: Mapped[str] = mapped_column(String(_DIGEST))
    plan_digest: Mapped[str] = mapped_column(String(_DIGEST))
    node_count: Mapped[int] = mapped_column(Integer)
    #: canonical JSON of the StackPlan, zlib-compressed
    plan: Mapped[bytes] = mapped_column(LargeBinary)
    outputs_digest: Mapped[str | None] = mapped_column(String(_DIGEST))
    consumed_export_stack: Mapped[str | None] = mapped_column(String(_NAME))
    consumed_export_generation: Mapped[int | None] = mapped_column(Integer)
    consumed_export_digest: Mapped[str | None] = mapped_column(String(_DIGEST))
    #: the delivery run (for example an ansible-runner ident) that last acted on it
    run_id: Mapped[str | None] = mapped_column(String(_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Generation(stack_id={self.stack_id}, number={self.number}, status={self.status})"


class Event(Base):
    """Something that happened to a stack; the log `dcn status` and failures point to."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    stack_id: Mapped[int] = mapped_column(ForeignKey("stack.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(_NAME))
    message: Mapped[str] = mapped_column(Text, default="")


class Secret(Base):
    """A generated or imported password; the value never appears in any repr.

    `value` is sealed (`dcn.state.sealing`): ciphertext, never the password itself.
    """

    __tablename__ = "secret"
    __table_args__ = (UniqueConstraint("deployment_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(_NAME))
    value: Mapped[str] = mapped_column(Text)
    #: taken from an external control plane's export: that tool rotates it, not dcn
    imported: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, value=<hidden>)"


class Export(Base):
    """An export file written for edge stacks: which outputs, where, with which secrets."""

    __tablename__ = "export"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    stack: Mapped[str] = mapped_column(String(_NAME))
    generation: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(_DIGEST))
    path: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lock(Base):
    """At most one writer per deployment; the row names who holds it."""

    __tablename__ = "lock"
    deployment: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    holder: Mapped[str] = mapped_column(String(_NAME))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(_NAME))
    #: random per acquisition, so a reused pid is not mistaken for the holder
    token: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RedeployMark(Base):
    """A stack whose delivered files are out of date (secrets rotated) until deployed."""

    __tablename__ = "redeploy_mark"
    stack_id: Mapped[int] = mapped_column(
        ForeignKey("stack.id", ondelete="CASCADE"), primary_key=True
    )
    #: why, for `dcn status` (names only, never values)
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteSeen(Base):
    """When a site's nodes last answered a health check (shown when they don't)."""

    __tablename__ = "site_seen"
    stack_id: Mapped[int] = mapped_column(
        ForeignKey("stack.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Drill(Base):
    """One failure drill's report (JSON: timeline, attempts, figures, claims)."""

    __tablename__ = "drill"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    scenario: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(default=False)
    report: Mapped[str] = mapped_column(Text)


class Rollout(Base):
    """One `dcn rollout`: its options and how it ended; its sites are in `rollout_site`."""

    __tablename__ = "rollout"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: JSON: max_parallel, canary, max_failures, smoke (what --resume runs with again)
    options: Mapped[str] = mapped_column(Text)
    #: running | done | stopped | interrupted
    status: Mapped[str] = mapped_column(String(16))
    #: the process running it (a running rollout whose process is gone was interrupted);
    #: the token tells this process's own rollouts from a dead one's with a reused pid
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(_NAME))
    token: Mapped[str] = mapped_column(String(64))


class RolloutSite(Base):
    """One site of a rollout: its wave, the generations before and after, its result
    (None while it has none yet: not reached, or its wave is under way)."""

    __tablename__ = "rollout_site"
    __table_args__ = (UniqueConstraint("rollout_id", "site"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(
        ForeignKey("rollout.id", ondelete="CASCADE"), index=True
    )
    site: Mapped[str] = mapped_column(String(_NAME))
    wave: Mapped[int] = mapped_column(Integer)
    generation_before: Mapped[int | None] = mapped_column(Integer)
    generation_after: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the site's deploy (Ansible), as the deployer measured it
    seconds: Mapped[float | None] = mapped_column(Float)
    #: ok | failed | gate-failed | not-started
    result: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
