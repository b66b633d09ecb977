"""Path confinement: nothing dcn writes under a directory lands outside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.paths import confined, write_confined


def test_node_paths_stay_under_the_root(tmp_path: Path) -> None:
    assert confined(tmp_path, "host-0", "/etc/nova/nova.conf") == (
        tmp_path.resolve() / "host-0" / "etc" / "nova" / "nova.conf"
    )


@pytest.mark.parametrize(
    "parts", [("..", "x"), ("../../etc", "passwd"), ("h", "/etc/../../x"), ("a\0b",), ()]
)
def test_escapes_are_refused(tmp_path: Path, parts: tuple[str, ...]) -> None:
    with pytest.raises(DcnError, match="outside"):
        confined(tmp_path / "out", *parts)


def test_a_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / "host").symlink_to(outside)
    with pytest.raises(DcnError, match="outside"):
        write_confined(root, ("host", "/etc/hosts"), "x", 0o644)
    assert not any(outside.iterdir())


def test_a_symlinked_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    root = tmp_path / "out"
    (root / "host" / "etc").mkdir(parents=True)
    os.symlink(root / "host" / "etc" / "elsewhere", root / "host" / "etc" / "hosts")
    # a link inside the root that dangles stays inside, but is never written through
    with pytest.raises(DcnError, match="symbolic link"):
        write_confined(root, ("host", "/etc/hosts"), "x", 0o644)
    assert victim.read_text() == "keep"


def test_written_file_has_the_mode(tmp_path: Path) -> None:
    path = write_confined(tmp_path, ("h", "/etc/x.conf"), "a\n", 0o640)
    assert path.read_text() == "a\n" and (path.stat().st_mode & 0o777) == 0o640
