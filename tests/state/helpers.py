"""Recording plans tersely in state store tests."""

from __future__ import annotations

from dcn.state import GenerationStatus, Store


def record(
    store: Store,
    stack: str,
    *,
    deployment: str = "lab",
    outputs: str | None = None,
    consumed: tuple[str, int, str] | None = None,
    plan: str = "{}",
    nodes: int = 1,
    status: GenerationStatus = GenerationStatus.PLANNED,
) -> int:
    kind = "control-plane" if outputs else "edge"
    return store.record_generation(
        deployment,
        stack,
        kind,
        f"az-{stack}",
        input_digest=f"in-{stack}-{plan}",
        plan_digest=f"sha256:{stack}{plan}",
        plan_json=plan,
        node_count=nodes,
        status=status,
        outputs_digest=outputs,
        consumed_export=consumed,
    )
