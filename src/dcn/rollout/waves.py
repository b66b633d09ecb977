"""Which sites go together: a rollout's options and its waves. Pure and fast.

Order is deterministic (site names sorted), so a dry run shows exactly the waves a
real run deploys, and a resumed rollout keeps them: the canary wave first (the first
K sites alone), then waves of up to `max_parallel` sites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dcn.errors import DcnError

DEFAULT_MAX_PARALLEL = 5


@dataclass(frozen=True, slots=True)
class Options:
    """How a rollout goes (stored with it: --resume runs with the same)."""

    #: sites of one wave, deployed in parallel
    max_parallel: int = DEFAULT_MAX_PARALLEL
    #: the first K sites form the first wave alone (0: no canary)
    canary: int = 0
    #: more failed sites than this: no new wave starts
    max_failures: int = 0
    #: the health gate also boots a server in each AZ of the wave
    smoke: bool = False

    def __post_init__(self) -> None:
        if self.max_parallel < 1:
            raise DcnError(
                f"--max-parallel must be 1 or more, not {self.max_parallel}",
                hint="for example --max-parallel 5 (the default)",
            )
        for name, value in (("canary", self.canary), ("max-failures", self.max_failures)):
            if value < 0:
                raise DcnError(f"--{name} must be 0 or more, not {value}", hint="leave it out: 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Options:
        """From a stored rollout (keys this dcn does not know are ignored)."""
        known = {
            k: data[k] for k in ("max_parallel", "canary", "max_failures", "smoke") if k in data
        }
        return cls(**known)


def plan_waves(sites: Iterable[str], options: Options) -> list[tuple[str, ...]]:
    """Sites (each once, sorted by name) in waves: the canary's first, then by
    `max_parallel`."""
    ordered = sorted(set(sites))
    waves: list[tuple[str, ...]] = []
    if options.canary and ordered:
        waves.append(tuple(ordered[: options.canary]))
        ordered = ordered[options.canary :]
    step = options.max_parallel
    waves += [tuple(ordered[i : i + step]) for i in range(0, len(ordered), step)]
    return waves
