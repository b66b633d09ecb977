"""The state store: what each stack has planned and deployed, its secrets, exports, log.

Every public method is one transaction: it happens entirely or not at all, so a
failure (or Ctrl-C) half-way leaves the store as it was. Reads hand back frozen
snapshots (`dcn.state.records`), never ORM objects. Secret values are only ever
returned by `get_secrets`/`ensure_secrets`; they are not logged nor put in errors.
The SQL itself lives in the topic modules (generations, stored_secrets, journal, lock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from dcn import redact
from dcn.errors import StateError
from dcn.plan.types import ExportVersion
from dcn.state import generations, journal, observations, redeploy, rollouts, stored_secrets
from dcn.state import lock as locks
from dcn.state.backup import backup_sqlite
from dcn.state.connect import WRITE_OPTION, create, db_error
from dcn.state.keyfile import KeyFile, default_key_path
from dcn.state.lookup import ensure_deployment, sync_stacks
from dcn.state.records import (
    EventRecord,
    ExportRecord,
    GenerationRecord,
    GenerationStatus,
    LockInfo,
    NewGeneration,
    PlanHead,
    StatusRow,
)
from dcn.state.rollouts import RolloutRecord, RolloutStatus, RolloutSummary, SiteResult
from dcn.state.sealing import SecretBox


class ConflictError(StateError):
    """Another process wrote the same rows at the same time; nothing was recorded."""


class Store:
    """A deployment state store on SQLite (default) or any SQLAlchemy database."""

    def __init__(self, engine: Engine, location: str, box: SecretBox) -> None:
        self._engine = engine
        self._box = box
        #: the key file that seals the secrets (shown in backup guidance)
        self.key_path: Path | None = None
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        #: where the store is, printable (a URL never shows its password)
        self.location = location

    @classmethod
    def open(
        cls,
        state_dir: Path | None = None,
        url: str | None = None,
        key_file: Path | None = None,
    ) -> Store:
        """Open (creating if new) the store at `url` if given, else `state_dir`/state.db.

        Secrets are sealed with `key_file` (default: ``DCN_KEY_FILE``, else
        ``<state_dir>.key``); it is checked against the store here.
        """
        path = key_file or default_key_path(Path(state_dir) if state_dir else None)
        keys = KeyFile(Path(path)) if path else None
        engine, location, box = create(Path(state_dir) if state_dir else None, url, keys)
        store = cls(engine, location, box)
        store.key_path = keys.path if keys else None
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with Session(self._engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise db_error(exc, self.location, "reading") from exc

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction: committed if the block ends, rolled back if it raises."""
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
        except IntegrityError as exc:
            detail = db_error(exc, self.location, "writing to").message
            raise ConflictError(
                f"{detail} (another dcn process wrote the same rows)",
                hint="nothing was recorded; re-run the command",
            ) from exc
        except SQLAlchemyError as exc:
            raise db_error(exc, self.location, "writing to") from exc

    # -- deployments and stacks ---------------------------------------------------

    def ensure_deployment(self, name: str) -> None:
        with self._write() as s:
            ensure_deployment(s, name)

    def ensure_stack(self, deployment: str, name: str, kind: str, az: str) -> None:
        """Create the stack (or follow a change of its kind or AZ)."""
        with self._write() as s:
            sync_stacks(s, ensure_deployment(s, deployment), [(name, kind, az)])

    # -- generations --------------------------------------------------------------

    def record_generation(
        self,
        deployment: str,
        stack: str,
        kind: str,
        az: str,
        *,
        input_digest: str,
        plan_digest: str,
        plan_json: str,
        node_count: int,
        status: GenerationStatus = GenerationStatus.PLANNED,
        outputs_digest: str | None = None,
        consumed_export: ExportVersion | tuple[str, int, str] | None = None,
    ) -> int:
        """Record one plan as the stack's next generation; return its number."""
        new = NewGeneration(
            stack=stack,
            kind=kind,
            az=az,
            input_digest=input_digest,
            plan_digest=plan_digest,
            plan_json=plan_json,
            node_count=node_count,
            status=status,
            outputs_digest=outputs_digest,
            consumed_export=consumed_export,
        )
        return self.record_generations(deployment, [new])[stack]

    def record_generations(
        self, deployment: str, items: Iterable[NewGeneration | Mapping[str, Any]]
    ) -> dict[str, int]:
        """Record many plans in one transaction; return stack -> its new generation number.

        Items are `NewGeneration`s or mappings of its fields.
        """
        batch = [g if isinstance(g, NewGeneration) else NewGeneration(**g) for g in items]
        generations.check_batch(batch)
        if not batch:
            return {}
        blobs = [generations.compress(g.plan_json) for g in batch]  # before taking the lock
        with self._write() as s:
            return generations.record(s, ensure_deployment(s, deployment), batch, blobs)

    def refresh_input_digests(
        self, deployment: str, digests: Mapping[str, tuple[int, str]]
    ) -> None:
        """stack -> (generation, input digest) that re-planned it to the same content."""
        if not digests:
            return
        with self._write() as s:
            generations.refresh_input_digests(s, ensure_deployment(s, deployment), digests)

    def _plan_text(self, generation_id: int) -> str:
        with self._read() as s:
            return generations.plan_text(s, generation_id)

    def latest_generations(self, deployment: str) -> dict[str, GenerationRecord]:
        """The newest generation of every stack, in one query, without plan bodies."""
        with self._read() as s:
            rows = s.execute(generations.latest_query(deployment))
            return {r.name: generations.to_record(r, self._plan_text) for r in rows}

    def latest_heads(self, deployment: str) -> dict[str, PlanHead]:
        """Number and digests of every stack's newest generation (what planning compares)."""
        with self._read() as s:
            rows = s.execute(generations.heads_query(deployment)).tuples().all()
        load = self._plan_text
        return {
            name: PlanHead(number, inputs, plan, partial(load, gid))
            for gid, name, number, inputs, plan in rows
        }

    def latest_generation(self, deployment: str, stack: str) -> GenerationRecord | None:
        return self.generation(deployment, stack, None)

    def generation(
        self, deployment: str, stack: str, number: int | None
    ) -> GenerationRecord | None:
        """Generation `number` of a stack (None: its newest), without its plan body."""
        with self._read() as s:
            row = s.execute(generations.stack_query(deployment, stack, number)).first()
        return generations.to_record(row, self._plan_text) if row else None

    def deployed_generations(self, deployment: str) -> dict[str, GenerationRecord]:
        """The newest deployed generation of every stack that has one (one query)."""
        with self._read() as s:
            rows = s.execute(generations.deployed_query(deployment))
            return {r.name: generations.to_record(r, self._plan_text) for r in rows}

    def set_status(
        self,
        deployment: str,
        stack: str,
        number: int,
        status: GenerationStatus,
        message: str = "",
        *,
        host: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Move one generation to `status` and log it (with `message`), in one transaction."""
        status = GenerationStatus(status)
        with self._write() as s:
            generations.set_status(s, deployment, stack, number, status, message, host, run_id)
            if status is GenerationStatus.DEPLOYED:
                redeploy.clear(s, deployment, stack)

    def status_rows(self, deployment: str) -> list[StatusRow]:
        """One row per recorded stack: newest generation, staleness, last event time."""
        with self._read() as s:
            return generations.status_rows(s, deployment)

    # -- events and exports -------------------------------------------------------

    def add_event(
        self,
        deployment: str,
        stack: str,
        kind: str,
        message: str,
        *,
        generation: int | None = None,
        host: str | None = None,
    ) -> None:
        """Append to a stack's log (a delivery step, a failure and what to do next)."""
        with self._write() as s:
            journal.add_event(s, deployment, stack, kind, message, generation, host)

    def events(
        self, deployment: str, stack: str | None = None, limit: int = 100
    ) -> list[EventRecord]:
        """The last `limit` events (of one stack, or of all), oldest first."""
        with self._read() as s:
            return journal.events(s, deployment, stack, limit)

    def record_export(
        self, deployment: str, stack: str, generation: int, digest: str, path: str, scope: str
    ) -> None:
        """Remember that an export of `stack`'s outputs was written to `path`."""
        with self._write() as s:
            journal.record_export(s, deployment, stack, generation, digest, path, scope)

    def latest_export(self, deployment: str, stack: str) -> ExportRecord | None:
        with self._read() as s:
            return journal.latest_export(s, deployment, stack)

    def exports(self, deployment: str, stack: str) -> list[ExportRecord]:
        """The last export written to each path, newest first."""
        with self._read() as s:
            return journal.exports(s, deployment, stack)

    # -- secrets ------------------------------------------------------------------

    def _generator(self, generate: Callable[[str], str]) -> Callable[[str], str]:
        def remembered(name: str) -> str:
            value = generate(name)
            redact.remember([value])
            return value

        return remembered

    def get_secrets(self, deployment: str) -> dict[str, str]:
        """Every secret of the deployment, name -> value. Never print the result."""
        with self._read() as s:
            found = stored_secrets.values(s, deployment, self._box)
        redact.remember(found.values())
        return found

    def secret_names(self, deployment: str) -> list[str]:
        with self._read() as s:
            return stored_secrets.names(s, deployment)

    def ensure_secrets(
        self, deployment: str, names: Iterable[str], generate: Callable[[str], str]
    ) -> dict[str, str]:
        """Values of `names`, generating (once, ever) those not stored yet; one transaction.

        If another process stores the same secret meanwhile, its value wins and this
        one is discarded, so every consumer sees one value.
        """
        wanted = list(dict.fromkeys(names))
        for attempt in (1, 2):
            try:
                with self._write() as s:
                    found = stored_secrets.ensure(
                        s, deployment, wanted, self._generator(generate), self._box
                    )
                redact.remember(found.values())
                return found
            except ConflictError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def import_secrets(self, deployment: str, values: Mapping[str, str]) -> list[str]:
        """Store secrets another tool generated (its control plane is the truth for them).

        Returns the names whose stored value was added or replaced.
        """
        redact.remember(values.values())
        with self._write() as s:
            return stored_secrets.import_values(s, deployment, values, self._box)

    def imported_secret_names(self, deployment: str) -> list[str]:
        with self._read() as s:
            return stored_secrets.imported_names(s, deployment)

    def rotate_secrets(
        self,
        deployment: str,
        names: Iterable[str],
        generate: Callable[[str], str],
        stacks: Iterable[str],
    ) -> list[str]:
        """New values for stored secrets `names`, and `stacks` marked for redeploy, in one
        transaction. Imported secrets are refused (their own tool rotates them)."""
        wanted = list(dict.fromkeys(names))
        with self._write() as s:
            rotated = stored_secrets.rotate(
                s, deployment, wanted, self._generator(generate), self._box
            )
            redeploy.mark(s, deployment, stacks, rotated)
        return rotated

    def redeploy_marks(self, deployment: str) -> dict[str, str]:
        """Stack -> why its nodes need a redeploy (for example rotated secrets)."""
        with self._read() as s:
            return redeploy.marks(s, deployment)

    def backup(self, target: Path, force: bool = False) -> None:
        """A consistent copy of a SQLite store (0600); its secrets stay sealed."""
        backup_sqlite(self._engine, self.location, target, force, self.key_path)

    # -- lock ---------------------------------------------------------------------

    @contextmanager
    def lock(self, deployment: str, holder: str) -> Iterator[LockInfo]:
        """Hold the deployment's write lock for the block; StateError names any holder."""
        try:
            with self._write() as s:
                token, info = locks.acquire(s, deployment, holder)
        except ConflictError:  # another process inserted it between our read and insert
            other = self.lock_info(deployment)
            if other is None:
                raise
            raise locks.held_error(other) from None
        locks.held(token)
        try:
            yield info
        finally:
            with self._write() as s:
                locks.release(s, deployment, token)

    # -- observations ---------------------------------------------------------------

    def mark_seen(self, deployment: str, stack: str, at: datetime) -> None:
        """A health check reached the site's nodes at `at`."""
        with self._write() as s:
            observations.mark_seen(s, deployment, stack, at)

    def last_seen(self, deployment: str, stack: str) -> datetime | None:
        with self._read() as s:
            return observations.last_seen(s, deployment, stack)

    def last_seen_all(self, deployment: str) -> dict[str, datetime]:
        """Every seen stack's last sighting, in one query (status of thousands of sites)."""
        with self._read() as s:
            return observations.last_seen_all(s, deployment)

    def add_drill(self, deployment: str, scenario: str, ok: bool, report: dict[str, Any]) -> int:
        """Store a drill's report; return its id."""
        with self._write() as s:
            return observations.add_drill(s, deployment, scenario, ok, report)

    def drills(self, deployment: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest drills first, each with its report."""
        with self._read() as s:
            return observations.drills(s, deployment, limit)

    def drill(self, deployment: str, drill_id: int) -> dict[str, Any] | None:
        """One drill with its report (None: no such drill of this deployment)."""
        with self._read() as s:
            return observations.drill(s, deployment, drill_id)

    def lock_info(self, deployment: str) -> LockInfo | None:
        with self._read() as s:
            return locks.current(s, deployment)

    def unlock(self, deployment: str) -> LockInfo | None:
        """Break the deployment's lock whoever holds it (`dcn state unlock`)."""
        with self._write() as s:
            return locks.force_release(s, deployment)

    # -- rollouts -------------------------------------------------------------------

    def start_rollout(
        self, deployment: str, options: Mapping[str, Any], waves: Sequence[Sequence[str]]
    ) -> int:
        """Record a new rollout run by this process, every site in its wave; return its
        id. Refused while another rollout of the deployment runs."""
        with self._write() as s:
            return rollouts.start(s, deployment, options, waves)

    def resume_rollout(self, deployment: str) -> RolloutRecord:
        """Take over the latest rollout to continue its remaining sites (refused when it
        runs, is done, or there is none)."""
        with self._write() as s:
            rollout_id = rollouts.claim(s, deployment)
        found = self.rollout(deployment, rollout_id)
        assert found is not None
        return found

    def rollout_wave_started(
        self,
        rollout_id: int,
        wave: int,
        sites: Sequence[str],
        before: Mapping[str, int | None],
        at: datetime,
    ) -> None:
        """A wave's sites start (their deployed generations `before`)."""
        with self._write() as s:
            rollouts.wave_started(s, rollout_id, wave, sites, before, at)

    def rollout_site(
        self,
        rollout_id: int,
        site: str,
        result: SiteResult | None,
        message: str,
        *,
        generation_after: int | None = None,
        seconds: float | None = None,
    ) -> None:
        """A site's deploy outcome (result None: deployed, its wave's gate to come) or
        its final result."""
        with self._write() as s:
            rollouts.site_update(
                s,
                rollout_id,
                site,
                result=result,
                message=message,
                generation_after=generation_after,
                seconds=seconds,
            )

    def finish_rollout(self, rollout_id: int, status: RolloutStatus, not_started: str = "") -> None:
        """The rollout ends as `status`; stopped, its unreached sites are "not started"
        with `not_started` as their message."""
        with self._write() as s:
            rollouts.finish(s, rollout_id, status, not_started)

    def rollout(self, deployment: str, rollout_id: int | None = None) -> RolloutRecord | None:
        """One rollout with its sites (None: the latest); a running one whose process is
        gone reads as interrupted."""
        with self._read() as s:
            return rollouts.get(s, deployment, rollout_id)

    def rollouts(self, deployment: str, limit: int = 50) -> list[RolloutSummary]:
        """The newest rollouts first, each with its sites counted by result (no site rows:
        a rollout of 5,000 sites is one line)."""
        with self._read() as s:
            return rollouts.summaries(s, deployment, limit)
