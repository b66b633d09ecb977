"""Edge registration survives a parallel edge's discover_hosts colliding with its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dcn.node import edge_register


def fake_nova_manage(tmp_path: Path, collisions: int) -> Path:
    """A nova-manage that exits 2 (a concurrent run mapped a host first) `collisions` times."""
    script = tmp_path / "nova-manage"
    count = tmp_path / "count"
    count.write_text("0")
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(($(cat {count}) + 1)); echo $n > {count}\n"
        f'if [ $n -le {collisions} ]; then echo "ERROR: Duplicate host mapping"; exit 2; fi\n'
        'echo "Creating host mapping for service dcn1-distributedcompute-0"\n'
    )
    script.chmod(0o755)
    return script


def test_a_collision_with_a_parallel_registration_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge_register.time, "sleep", lambda _s: None)
    assert edge_register.discover(str(fake_nova_manage(tmp_path, collisions=2))) is True
    assert (tmp_path / "count").read_text().strip() == "3"


def test_collisions_that_do_not_end_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_register.time, "sleep", lambda _s: None)
    with pytest.raises(subprocess.CalledProcessError):
        edge_register.discover(str(fake_nova_manage(tmp_path, collisions=99)))
    assert (tmp_path / "count").read_text().strip() == str(edge_register._ATTEMPTS)
